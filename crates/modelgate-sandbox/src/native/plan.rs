//! The mount plan: how the sandbox's root is assembled, as a list of [`MountOp`]s the setup
//! child executes. Host paths are inspected here, in the parent, so the child only replays.
//!
//! Layout after setup: a read-only tmpfs root holding read-only binds of the host's system
//! directories (or of a given rootfs directory's entries), extra binds, `/proc`, a minimal
//! `/dev`, and size-capped tmpfs `/tmp`, `/dev/shm` and `/workspace`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::SandboxError;
use crate::policy::Policy;
use crate::sys::child::MountOp;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Where the setup child builds things (a private tmpfs over this directory, in its own mount
/// namespace; the host's view never changes).
const BASE: &str = "/tmp";
const OLD: &str = "/oldroot";
const NEW: &str = "/newroot";

/// Device nodes bound from the host. No `tty`, `console` or `pts`: a contained command gets no
/// terminal at all, so terminal injection has nothing to inject into.
pub(crate) const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

pub(crate) fn cstr(s: impl AsRef<[u8]>) -> Result<CString, SandboxError> {
    CString::new(s.as_ref()).map_err(|_| SandboxError::Setup {
        step: "build the mount plan".to_owned(),
        source: std::io::Error::other("a path contains a NUL byte"),
    })
}

fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

fn under(prefix: &str, p: &Path) -> Result<CString, SandboxError> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(path_bytes(p));
    cstr(v)
}

/// A step with a human description for error messages.
pub(crate) struct Plan {
    pub(crate) ops: Vec<MountOp>,
    pub(crate) descriptions: Vec<String>,
}

impl Plan {
    fn push(&mut self, op: MountOp, what: String) {
        self.ops.push(op);
        self.descriptions.push(what);
    }

    /// `mkdir -p` of `path`'s ancestors and itself under the new root.
    fn mkdirs(&mut self, path: &Path) -> Result<(), SandboxError> {
        let mut acc = PathBuf::from("/");
        for c in path.components().skip(1) {
            acc.push(c);
            self.push(
                MountOp::Mkdir {
                    path: under(NEW, &acc)?,
                    mode: 0o755,
                },
                format!("mkdir {}", acc.display()),
            );
        }
        Ok(())
    }

    fn tmpfs(
        &mut self,
        target: &str,
        data: &str,
        flags: libc::c_ulong,
    ) -> Result<(), SandboxError> {
        self.push(
            MountOp::Mount {
                src: cstr("tmpfs")?,
                dst: cstr(format!("{NEW}{target}"))?,
                fstype: cstr("tmpfs")?,
                flags,
                data: cstr(data)?,
            },
            format!("tmpfs on {target} ({data})"),
        );
        Ok(())
    }

    /// A host entry (`host`, seen at `sandbox` inside): a symlink is recreated, a directory or
    /// file is bound with `attrs`, a missing one is skipped.
    fn host_entry(
        &mut self,
        host: &Path,
        sandbox: &Path,
        attrs: u64,
        must_exist: bool,
    ) -> Result<(), SandboxError> {
        let meta = match std::fs::symlink_metadata(host) {
            Ok(m) => m,
            Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(SandboxError::setup(format!("inspect {}", host.display()))(
                    e,
                ));
            }
        };
        if let Some(parent) = sandbox.parent() {
            self.mkdirs(parent)?;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(host)
                .map_err(SandboxError::setup(format!("readlink {}", host.display())))?;
            self.push(
                MountOp::Symlink {
                    target: cstr(path_bytes(&target))?,
                    link: under(NEW, sandbox)?,
                },
                format!("symlink {} -> {}", sandbox.display(), target.display()),
            );
            return Ok(());
        }
        if meta.is_dir() {
            self.push(
                MountOp::Mkdir {
                    path: under(NEW, sandbox)?,
                    mode: 0o755,
                },
                format!("mkdir {}", sandbox.display()),
            );
        } else {
            self.push(
                MountOp::Touch {
                    path: under(NEW, sandbox)?,
                },
                format!("create {}", sandbox.display()),
            );
        }
        self.push(
            MountOp::Bind {
                src: under(OLD, host)?,
                dst: under(NEW, sandbox)?,
                attrs,
                optional: false,
            },
            format!("bind {} -> {}", host.display(), sandbox.display()),
        );
        Ok(())
    }
}

/// The sandbox-creation plan for `policy`.
pub(crate) fn setup_plan(policy: &Policy) -> Result<Plan, SandboxError> {
    let fs = &policy.filesystem;
    let mut p = Plan {
        ops: Vec::new(),
        descriptions: Vec::new(),
    };
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    p.push(MountOp::MakePrivate, "make every mount private".to_owned());
    p.push(
        MountOp::Mount {
            src: cstr("tmpfs")?,
            dst: cstr(BASE)?,
            fstype: cstr("tmpfs")?,
            flags: nosuid_nodev,
            data: cstr("mode=0700,size=1m")?,
        },
        format!("staging tmpfs on {BASE}"),
    );
    for d in [OLD, NEW] {
        p.push(
            MountOp::Mkdir {
                path: cstr(format!("{BASE}{d}"))?,
                mode: 0o755,
            },
            format!("mkdir {d}"),
        );
    }
    p.push(
        MountOp::Mount {
            src: cstr("tmpfs")?,
            dst: cstr(format!("{BASE}{NEW}"))?,
            fstype: cstr("tmpfs")?,
            flags: nosuid_nodev,
            data: cstr("mode=0755,size=1m")?,
        },
        "root tmpfs".to_owned(),
    );
    p.push(
        MountOp::PivotRoot {
            new_root: cstr(BASE)?,
            put_old: cstr(format!("{BASE}{OLD}"))?,
        },
        "pivot_root into the staging tmpfs".to_owned(),
    );
    let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if let Some(rootfs) = &fs.rootfs {
        // Each top-level entry of the given root, read-only (the managed ones excepted).
        let entries = std::fs::read_dir(rootfs).map_err(SandboxError::setup(format!(
            "read rootfs {}",
            rootfs.display()
        )))?;
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names.into_iter().take(1024) {
            let inside = Path::new("/").join(&name);
            if ["/proc", "/dev", "/tmp", "/workspace", "/sys"]
                .iter()
                .any(|r| inside == Path::new(r))
            {
                continue;
            }
            p.host_entry(&rootfs.join(&name), &inside, ro, true)?;
        }
    } else {
        for d in &fs.system_dirs {
            p.host_entry(d, d, ro, false)?;
        }
    }
    for b in &fs.binds {
        let attrs = if b.writable {
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
        } else {
            ro
        };
        p.host_entry(&b.source, &b.target, attrs, true)?;
    }
    // /proc of the setup child's PID namespace. Every exec mounts its own on top; this one must
    // exist (and stay fully visible) for the kernel to allow those later proc mounts.
    p.mkdirs(Path::new("/proc"))?;
    p.push(
        MountOp::Mount {
            src: cstr("proc")?,
            dst: cstr(format!("{NEW}/proc"))?,
            fstype: cstr("proc")?,
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            data: cstr("")?,
        },
        "proc on /proc".to_owned(),
    );
    // Minimal /dev.
    p.mkdirs(Path::new("/dev"))?;
    p.tmpfs(
        "/dev",
        "mode=0755,size=64k",
        libc::MS_NOSUID | libc::MS_NOEXEC,
    )?;
    for dev in DEVICES {
        let inside = format!("/dev/{dev}");
        p.push(
            MountOp::Touch {
                path: cstr(format!("{NEW}{inside}"))?,
            },
            format!("create {inside}"),
        );
        p.push(
            MountOp::Bind {
                src: cstr(format!("{OLD}/dev/{dev}"))?,
                dst: cstr(format!("{NEW}{inside}"))?,
                attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                optional: false,
            },
            format!("bind host {inside}"),
        );
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        p.push(
            MountOp::Symlink {
                target: cstr(target)?,
                link: cstr(format!("{NEW}/dev/{link}"))?,
            },
            format!("symlink /dev/{link}"),
        );
    }
    p.mkdirs(Path::new("/dev/shm"))?;
    p.tmpfs(
        "/dev/shm",
        &format!("mode=1777,size={}", fs.tmp_size.0),
        nosuid_nodev,
    )?;
    p.mkdirs(Path::new("/tmp"))?;
    p.tmpfs(
        "/tmp",
        &format!("mode=1777,size={}", fs.tmp_size.0),
        nosuid_nodev,
    )?;
    p.mkdirs(Path::new("/workspace"))?;
    p.tmpfs(
        "/workspace",
        &format!(
            "mode=0755,size={},uid={SANDBOX_ID},gid={SANDBOX_ID}",
            fs.workspace_size.0
        ),
        nosuid_nodev,
    )?;
    p.push(
        MountOp::RemountReadOnly { dst: cstr(NEW)? },
        "remount / read-only".to_owned(),
    );
    p.push(
        MountOp::EnterRoot {
            new_root: cstr(NEW)?,
        },
        "pivot_root into the sandbox root".to_owned(),
    );
    Ok(p)
}

/// uid and gid of the sandbox user inside.
pub(crate) const SANDBOX_ID: u32 = 65534;

/// Per-exec mounts, run by the command's own process in its private copy of the mount tree:
/// a `/proc` for its PID namespace with other users' processes hidden, and the kernel's
/// writable knobs made read-only.
pub(crate) fn exec_plan() -> Result<Plan, SandboxError> {
    let mut p = Plan {
        ops: Vec::new(),
        descriptions: Vec::new(),
    };
    p.push(
        MountOp::Mount {
            src: cstr("proc")?,
            dst: cstr("/proc")?,
            fstype: cstr("proc")?,
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            data: cstr("hidepid=invisible")?,
        },
        "mount /proc".to_owned(),
    );
    for knob in [
        "sys",
        "sysrq-trigger",
        "irq",
        "bus",
        "fs",
        "kcore",
        "timer_list",
    ] {
        let path = cstr(format!("/proc/{knob}"))?;
        p.push(
            MountOp::Bind {
                src: path.clone(),
                dst: path,
                attrs: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                optional: true,
            },
            format!("read-only /proc/{knob}"),
        );
    }
    Ok(p)
}
