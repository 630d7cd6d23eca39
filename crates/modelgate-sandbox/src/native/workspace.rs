//! Reading and writing the sandbox's `/workspace` from the supervisor.
//!
//! The workspace is written by hostile code, so every path is resolved with `openat2`
//! confined beneath the workspace (`RESOLVE_BENEATH`), refusing every symbolic link and magic
//! link, and never leaving the workspace's filesystem (`RESOLVE_NO_XDEV`). A link planted by
//! the command (`/workspace/out -> /proc/1/root/etc`) is therefore an error here, never a way
//! for the supervisor to read or write a host file on the command's behalf.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::Sandbox;
use crate::error::SandboxError;
use crate::sys;

const RESOLVE: u64 = libc::RESOLVE_BENEATH
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_XDEV;
const MAX_DEPTH: usize = 64;
const MAX_ENTRIES: usize = 100_000;

/// One entry of the workspace, from [`Sandbox::list_workspace`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceEntry {
    /// Path relative to `/workspace`.
    pub path: PathBuf,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: &'static str,
    /// Size in bytes (files only).
    pub size: u64,
}

fn ws_err(path: &Path, message: impl Into<String>) -> SandboxError {
    SandboxError::Workspace {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Splits a workspace path (`a/b`, `/workspace/a/b` or `/a/b`) into checked components.
fn components(path: &Path) -> Result<Vec<CString>, SandboxError> {
    let rel = path
        .strip_prefix("/workspace")
        .or_else(|_| path.strip_prefix("/"))
        .unwrap_or(path);
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => {
                out.push(
                    CString::new(s.as_bytes())
                        .map_err(|_| ws_err(path, "the path contains a NUL byte"))?,
                );
            }
            Component::CurDir => {}
            _ => {
                return Err(ws_err(
                    path,
                    "only plain relative paths inside the workspace are accepted (no `..`)",
                ));
            }
        }
    }
    if out.is_empty() || out.len() > MAX_DEPTH || path.as_os_str().len() > 4096 {
        return Err(ws_err(path, "empty, too deep or too long"));
    }
    Ok(out)
}

fn describe(path: &Path, e: &std::io::Error) -> SandboxError {
    let msg = match e.raw_os_error() {
        Some(libc::ELOOP) => "refused: the path goes through a symbolic link".to_owned(),
        Some(libc::EXDEV) => "refused: the path leaves the workspace".to_owned(),
        Some(libc::ENOSPC) => "the workspace is full (filesystem.workspace_size)".to_owned(),
        _ => e.to_string(),
    };
    ws_err(path, msg)
}

impl Sandbox {
    fn host_ids(&self) -> (u32, u32) {
        (
            self.policy.isolation.host_uid + 1,
            self.policy.isolation.host_gid + 1,
        )
    }

    /// Runs `f` on a thread whose filesystem uid/gid are the sandbox user's host ids: the
    /// workspace belongs to the sandbox's user namespace, where host root is not even mapped,
    /// and the supervisor should never do there what the sandbox user could not.
    fn as_sandbox_user<T: Send>(
        &self,
        f: impl FnOnce() -> Result<T, SandboxError> + Send,
    ) -> Result<T, SandboxError> {
        let (uid, gid) = self.host_ids();
        std::thread::scope(|s| {
            s.spawn(|| {
                sys::set_thread_fsids(uid, gid)
                    .map_err(SandboxError::io("switch to the sandbox user's file ids"))?;
                f()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(SandboxError::Defunct(
                    "workspace I/O thread panicked".to_owned(),
                ))
            })
        })
    }

    /// Opens (creating as needed) the directory that holds `comps`' last element.
    fn parent_dir(
        &self,
        path: &Path,
        comps: &[CString],
        create: bool,
    ) -> Result<OwnedFd, SandboxError> {
        let mut dir = sys::openat2(
            self.workspace.as_fd(),
            c".",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
            RESOLVE,
        )
        .map_err(|e| describe(path, &e))?;
        for c in &comps[..comps.len() - 1] {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
            let next = match sys::openat2(dir.as_fd(), c, flags, 0, RESOLVE) {
                Err(e) if create && e.raw_os_error() == Some(libc::ENOENT) => {
                    sys::mkdirat(dir.as_fd(), c, 0o755).map_err(|e| describe(path, &e))?;
                    sys::openat2(dir.as_fd(), c, flags, 0, RESOLVE)
                        .map_err(|e| describe(path, &e))?
                }
                other => other.map_err(|e| describe(path, &e))?,
            };
            dir = next;
        }
        Ok(dir)
    }

    /// Writes `data` to `path` in the workspace (mode 0644, owned by the sandbox user),
    /// creating parent directories.
    pub fn write_file(&self, path: impl AsRef<Path>, data: &[u8]) -> Result<(), SandboxError> {
        self.write_file_mode(path, data, 0o644)
    }

    /// [`Self::write_file`] with an explicit mode (set-id bits are cleared).
    pub fn write_file_mode(
        &self,
        path: impl AsRef<Path>,
        data: &[u8],
        mode: u32,
    ) -> Result<(), SandboxError> {
        let path = path.as_ref();
        let comps = components(path)?;
        self.as_sandbox_user(|| {
            let dir = self.parent_dir(path, &comps, true)?;
            let name = &comps[comps.len() - 1];
            let flags =
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC | libc::O_NOFOLLOW;
            let fd = sys::openat2(dir.as_fd(), name, flags, mode & 0o777, RESOLVE)
                .map_err(|e| describe(path, &e))?;
            let mut f = File::from(fd);
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode & 0o777))
                .map_err(|e| describe(path, &e))?;
            f.write_all(data).map_err(|e| describe(path, &e))
        })
    }

    /// Reads a regular file from the workspace, refusing files larger than `max_bytes`.
    pub fn read_file(
        &self,
        path: impl AsRef<Path>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, SandboxError> {
        let path = path.as_ref();
        let comps = components(path)?;
        self.as_sandbox_user(|| self.read_file_inner(path, &comps, max_bytes))
    }

    fn read_file_inner(
        &self,
        path: &Path,
        comps: &[CString],
        max_bytes: u64,
    ) -> Result<Vec<u8>, SandboxError> {
        let dir = self.parent_dir(path, comps, false)?;
        let name = &comps[comps.len() - 1];
        // O_NONBLOCK: a FIFO planted in the workspace must not hang the supervisor.
        let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let fd =
            sys::openat2(dir.as_fd(), name, flags, 0, RESOLVE).map_err(|e| describe(path, &e))?;
        let f = File::from(fd);
        let meta = f.metadata().map_err(|e| describe(path, &e))?;
        if !meta.is_file() {
            return Err(ws_err(path, "not a regular file"));
        }
        if meta.len() > max_bytes {
            return Err(ws_err(
                path,
                format!("{} bytes is more than the {max_bytes} allowed", meta.len()),
            ));
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        f.take(max_bytes + 1)
            .read_to_end(&mut data)
            .map_err(|e| describe(path, &e))?;
        if data.len() as u64 > max_bytes {
            return Err(ws_err(
                path,
                format!("grew past the {max_bytes} bytes allowed while being read"),
            ));
        }
        Ok(data)
    }

    /// Every entry of the workspace, depth first (at most `max_entries`).
    pub fn list_workspace(&self, max_entries: usize) -> Result<Vec<WorkspaceEntry>, SandboxError> {
        self.as_sandbox_user(|| self.list_inner(max_entries))
    }

    fn list_inner(&self, max_entries: usize) -> Result<Vec<WorkspaceEntry>, SandboxError> {
        let root = sys::openat2(
            self.workspace.as_fd(),
            c".",
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
            RESOLVE,
        )
        .map_err(|e| describe(Path::new("."), &e))?;
        let mut out = Vec::new();
        walk(
            root.as_fd(),
            Path::new(""),
            0,
            max_entries.min(MAX_ENTRIES),
            &mut out,
        )?;
        Ok(out)
    }

    /// Copies a host directory's regular files and directories into the workspace (symbolic
    /// links and special files are skipped). Returns the number of files copied.
    pub fn copy_in(&self, host_dir: &Path) -> Result<u64, SandboxError> {
        let budget = self.policy.filesystem.workspace_size.0;
        let mut copied = 0u64;
        let mut bytes = 0u64;
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let dir = host_dir.join(&rel);
            let entries =
                std::fs::read_dir(&dir).map_err(|e| ws_err(&dir, format!("cannot read: {e}")))?;
            for entry in entries {
                let entry = entry.map_err(|e| ws_err(&dir, e.to_string()))?;
                let ft = entry.file_type().map_err(|e| ws_err(&dir, e.to_string()))?;
                let r = rel.join(entry.file_name());
                if ft.is_dir() {
                    if r.components().count() < MAX_DEPTH {
                        stack.push(r);
                    }
                } else if ft.is_file() {
                    let meta = entry.metadata().map_err(|e| ws_err(&r, e.to_string()))?;
                    bytes += meta.len();
                    if bytes > budget {
                        return Err(ws_err(
                            &r,
                            format!("the directory holds more than the workspace's {budget} bytes"),
                        ));
                    }
                    let data =
                        std::fs::read(entry.path()).map_err(|e| ws_err(&r, e.to_string()))?;
                    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
                    self.write_file_mode(&r, &data, mode & 0o755)?;
                    copied += 1;
                }
            }
        }
        Ok(copied)
    }

    /// Copies the workspace's regular files back to a host directory, never following a link
    /// on either side and never writing outside `host_dir`. Returns the number of files.
    pub fn copy_out(&self, host_dir: &Path) -> Result<u64, SandboxError> {
        let entries = self.list_workspace(MAX_ENTRIES)?;
        let host =
            File::open(host_dir).map_err(|e| ws_err(host_dir, format!("cannot open: {e}")))?;
        let cap = self.policy.filesystem.workspace_size.0;
        let mut copied = 0;
        for e in entries {
            let comps = components(&e.path)?;
            match e.kind {
                "dir" => {
                    let mut dir = OwnedFd::from(
                        host.try_clone()
                            .map_err(|x| ws_err(host_dir, x.to_string()))?,
                    );
                    for c in &comps {
                        if let Err(x) = sys::mkdirat(dir.as_fd(), c, 0o755)
                            && x.raw_os_error() != Some(libc::EEXIST)
                        {
                            return Err(ws_err(&e.path, format!("cannot create on the host: {x}")));
                        }
                        dir = sys::openat2(
                            dir.as_fd(),
                            c,
                            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                            0,
                            RESOLVE,
                        )
                        .map_err(|x| ws_err(&e.path, format!("host side: {x}")))?;
                    }
                }
                "file" => {
                    let data = self.read_file(&e.path, cap)?;
                    let mut dir = OwnedFd::from(
                        host.try_clone()
                            .map_err(|x| ws_err(host_dir, x.to_string()))?,
                    );
                    for c in &comps[..comps.len() - 1] {
                        dir = sys::openat2(
                            dir.as_fd(),
                            c,
                            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                            0,
                            RESOLVE,
                        )
                        .map_err(|x| ws_err(&e.path, format!("host side: {x}")))?;
                    }
                    let flags = libc::O_WRONLY
                        | libc::O_CREAT
                        | libc::O_TRUNC
                        | libc::O_CLOEXEC
                        | libc::O_NOFOLLOW;
                    let fd =
                        sys::openat2(dir.as_fd(), &comps[comps.len() - 1], flags, 0o644, RESOLVE)
                            .map_err(|x| ws_err(&e.path, format!("host side: {x}")))?;
                    File::from(fd)
                        .write_all(&data)
                        .map_err(|x| ws_err(&e.path, format!("host side: {x}")))?;
                    copied += 1;
                }
                _ => {}
            }
        }
        Ok(copied)
    }
}

fn walk(
    dir: BorrowedFd<'_>,
    rel: &Path,
    depth: usize,
    max: usize,
    out: &mut Vec<WorkspaceEntry>,
) -> Result<(), SandboxError> {
    let listing = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .map_err(|e| describe(rel, &e))?;
    let mut names: Vec<_> = listing.filter_map(Result::ok).collect();
    names.sort_by_key(std::fs::DirEntry::file_name);
    for entry in names {
        if out.len() >= max {
            return Err(ws_err(rel, format!("more than {max} entries")));
        }
        let name = entry.file_name();
        let path = rel.join(&name);
        let cname = CString::new(name.as_bytes()).map_err(|_| ws_err(&path, "NUL in a name"))?;
        let ft = entry.file_type().map_err(|e| describe(&path, &e))?;
        if ft.is_dir() {
            out.push(WorkspaceEntry {
                path: path.clone(),
                kind: "dir",
                size: 0,
            });
            if depth + 1 < MAX_DEPTH {
                let sub = sys::openat2(
                    dir,
                    &cname,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    0,
                    RESOLVE,
                )
                .map_err(|e| describe(&path, &e))?;
                walk(sub.as_fd(), &path, depth + 1, max, out)?;
            }
        } else if ft.is_file() {
            let fd = sys::openat2(
                dir,
                &cname,
                libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0,
                RESOLVE,
            )
            .map_err(|e| describe(&path, &e))?;
            let size = File::from(fd).metadata().map_or(0, |m| m.len());
            out.push(WorkspaceEntry {
                path,
                kind: "file",
                size,
            });
        } else if ft.is_symlink() {
            out.push(WorkspaceEntry {
                path,
                kind: "symlink",
                size: 0,
            });
        } else {
            out.push(WorkspaceEntry {
                path,
                kind: "other",
                size: 0,
            });
        }
    }
    Ok(())
}
