//! The content-addressed quarantine area: `STORE/quarantine/sha256/HEX/`.
//!
//! An artifact is never hashed, scanned or loaded where it was submitted. [`Quarantine::stage`]
//! copies it into a fresh directory under `STORE/quarantine/tmp/` (no symbolic link followed,
//! special files skipped, sizes capped), [`Staged::manifest`] hashes *the copy*, and
//! [`Staged::commit`] renames the copy into place under its digest. The registry row and ledger
//! entries are written by the caller only after that rename, so a crash at any point leaves at
//! worst a temporary directory (removed by the next [`Quarantine::open`]) or a complete copy
//! under its digest that no row refers to (replaced by the next intake of that digest) — never
//! a registered artifact whose copy is incomplete.
//!
//! A staging directory is held with an advisory lock (`flock`) on the directory for as long as
//! its [`Staged`] lives; [`Quarantine::open`] removes only temporary directories whose lock it
//! can take, so concurrent intakes never remove each other's work, and a killed process's lock
//! goes away with it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use modelgate_attest::{GIT_PATHS, HashError, HashOptions, Manifest, hash_model};

use super::ContentKind;

/// Caps on what one intake copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    /// Total bytes copied.
    pub max_bytes: u64,
    /// Files copied.
    pub max_files: u64,
    /// Directory nesting below the artifact root.
    pub max_depth: u32,
}

impl Default for CopyLimits {
    fn default() -> Self {
        CopyLimits {
            max_bytes: 64 << 30,
            max_files: 100_000,
            max_depth: 64,
        }
    }
}

/// Taking an artifact into quarantine failed at `path`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct QuarantineError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: QuarantineErrorKind,
}

/// What went wrong while taking an artifact into quarantine.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineErrorKind {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(io::Error),
    /// The artifact does not exist.
    #[error("no such file or directory")]
    NotFound,
    /// The artifact itself is a symbolic link or a special file.
    #[error("is a {0}, not a regular file or directory (links are never followed)")]
    Unsupported(&'static str),
    /// Over the byte cap.
    #[error("artifact larger than {0} bytes (the intake size cap)")]
    TooLarge(u64),
    /// Over the file-count cap.
    #[error("more than {0} files (the intake file cap)")]
    TooManyFiles(u64),
    /// Nested too deeply.
    #[error("directories nested deeper than {0}")]
    TooDeep(u32),
    /// The file changed into something else between listing and opening it.
    #[error("replaced while being copied (a link or special file now); intake refused")]
    Changed,
    /// Hashing the copy failed.
    #[error("hashing the quarantined copy: {0}")]
    Hash(HashError),
}

fn err(path: &Path, kind: QuarantineErrorKind) -> QuarantineError {
    QuarantineError {
        path: path.to_owned(),
        kind,
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> QuarantineError + '_ {
    move |e| err(path, QuarantineErrorKind::Io(e))
}

/// Something in the artifact that was not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Path relative to the artifact root (lossy UTF-8).
    pub path: String,
    /// Why it was not copied.
    pub reason: &'static str,
}

/// The quarantine area of one store.
#[derive(Debug)]
pub struct Quarantine {
    root: PathBuf,
}

impl Quarantine {
    /// The directory under the store.
    pub const DIR: &'static str = "quarantine";

    /// Opens (creating) `STORE_DIR/quarantine/` and removes temporary directories left by
    /// intakes that died. Returns the area and how many leftovers were removed.
    pub fn open(store_dir: &Path) -> Result<(Quarantine, usize), QuarantineError> {
        let root = store_dir.join(Self::DIR);
        for d in [root.join("sha256"), root.join("tmp")] {
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        let q = Quarantine { root };
        let cleaned = q.clean()?;
        Ok((q, cleaned))
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes every temporary directory whose lock is free (its intake is gone).
    fn clean(&self) -> Result<usize, QuarantineError> {
        let tmp = self.tmp();
        let mut cleaned = 0;
        for entry in fs::read_dir(&tmp).map_err(io_err(&tmp))? {
            let entry = entry.map_err(io_err(&tmp))?;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            if meta.is_dir() {
                let Ok(dir) = File::open(&path) else { continue };
                // A live intake holds the lock; a dead one's lock died with it.
                if dir.try_lock().is_err() {
                    continue;
                }
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
            cleaned += 1;
        }
        Ok(cleaned)
    }

    /// The final directory of a digest's copy (`HEX` is the 64 lowercase hex digits).
    pub fn digest_dir(&self, hex: &str) -> PathBuf {
        self.root.join("sha256").join(hex)
    }

    /// Copies `src` (a file or directory) into a new locked temporary directory.
    pub fn stage(&self, src: &Path, limits: &CopyLimits) -> Result<Staged, QuarantineError> {
        let meta = match fs::symlink_metadata(src) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(err(src, QuarantineErrorKind::NotFound));
            }
            Err(e) => return Err(err(src, QuarantineErrorKind::Io(e))),
        };
        let ft = meta.file_type();
        let content_kind = if ft.is_dir() {
            ContentKind::Directory
        } else if ft.is_file() {
            ContentKind::File
        } else {
            let what = if ft.is_symlink() {
                "symbolic link"
            } else {
                "special file"
            };
            return Err(err(src, QuarantineErrorKind::Unsupported(what)));
        };
        let (dir, lock) = self.new_tmp_dir()?;
        let mut staged = Staged {
            dir,
            _lock: lock,
            committed: false,
            content_kind,
            file_name: None,
            files: 0,
            bytes: 0,
            skipped: Vec::new(),
            claims: Vec::new(),
        };
        let mut copier = Copier {
            limits,
            staged: &mut staged,
        };
        match content_kind {
            ContentKind::Directory => {
                let dst = copier.staged.dir.clone();
                copier.copy_dir(src, &dst, "", 0)?;
            }
            ContentKind::File => {
                let name = src.file_name().map_or_else(
                    || "artifact".to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let dst = copier.staged.dir.join(&name);
                copier.copy_file(src, &meta, &dst, &name)?;
                staged.file_name = Some(name);
            }
        }
        Ok(staged)
    }

    /// A fresh temporary directory, locked.
    fn new_tmp_dir(&self) -> Result<(PathBuf, File), QuarantineError> {
        let tmp = self.tmp();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let dir = tmp.join(format!("{}-{nanos:09}-{attempt}", std::process::id()));
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(err(&dir, QuarantineErrorKind::Io(e))),
            }
            let lock = File::open(&dir).map_err(io_err(&dir))?;
            lock.lock().map_err(io_err(&dir))?;
            // A concurrent clean may have taken the lock between create and lock and removed
            // the directory: make sure the one locked is the one at the path.
            let (held, now) = (lock.metadata(), fs::symlink_metadata(&dir));
            if let (Ok(held), Ok(now)) = (held, now)
                && held.ino() == now.ino()
                && held.dev() == now.dev()
            {
                return Ok((dir, lock));
            }
        }
        Err(err(
            &tmp,
            QuarantineErrorKind::Io(io::Error::other("cannot create a staging directory")),
        ))
    }
}

/// An artifact copied into a temporary directory of the quarantine, not yet committed. Dropping
/// it without [`Staged::commit`] removes the copy.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    _lock: File,
    committed: bool,
    content_kind: ContentKind,
    file_name: Option<String>,
    files: u64,
    bytes: u64,
    skipped: Vec<Skipped>,
    claims: Vec<String>,
}

/// Where a committed copy lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Absolute (store-joined) path of the artifact copy: the directory, or the file in it.
    pub path: PathBuf,
    /// The same, relative to the store directory.
    pub relative: String,
}

impl Staged {
    /// File or directory.
    pub fn content_kind(&self) -> ContentKind {
        self.content_kind
    }

    /// Files copied.
    pub fn files(&self) -> u64 {
        self.files
    }

    /// Bytes copied.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What was not copied (links, special files, git metadata, undecodable names).
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Copied files named `evaluation_results.json` (relative paths, in walk order): results the
    /// submitter claims, never trusted.
    pub fn claim_files(&self) -> &[String] {
        &self.claims
    }

    /// The copy as the artifact: the directory, or the one file in it.
    pub fn content_path(&self) -> PathBuf {
        match &self.file_name {
            Some(name) => self.dir.join(name),
            None => self.dir.clone(),
        }
    }

    /// Hashes the copy (model-signing manifest, SHA-256 per file; links refused).
    pub fn manifest(&self) -> Result<Manifest, QuarantineError> {
        let path = self.content_path();
        hash_model(&path, &HashOptions::default())
            .map_err(|e| err(&path, QuarantineErrorKind::Hash(e)))
    }

    /// Renames the copy to `quarantine/sha256/HEX/` (`hex`: the manifest root digest) and syncs
    /// it to disk. An existing directory there (a copy left by an intake that died before
    /// registering it) is replaced.
    pub fn commit(
        mut self,
        quarantine: &Quarantine,
        hex: &str,
    ) -> Result<Committed, QuarantineError> {
        let target = quarantine.digest_dir(hex);
        sync_tree(&self.dir)?;
        if fs::symlink_metadata(&target).is_ok() {
            let aside = self.dir.with_extension("old");
            fs::rename(&target, &aside).map_err(io_err(&target))?;
            fs::rename(&self.dir, &target).map_err(io_err(&target))?;
            fs::remove_dir_all(&aside).map_err(io_err(&aside))?;
        } else {
            fs::rename(&self.dir, &target).map_err(io_err(&target))?;
        }
        self.committed = true;
        let parent = quarantine.root.join("sha256");
        File::open(&parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&parent))?;
        let mut relative = format!("{}/sha256/{hex}", Quarantine::DIR);
        let mut path = target;
        if let Some(name) = &self.file_name {
            relative = format!("{relative}/{name}");
            path = path.join(name);
        }
        Ok(Committed { path, relative })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the next Quarantine::open removes what this leaves.
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Syncs every file and directory of a freshly written tree, so a committed registry row never
/// outlives its copy's data on power loss.
fn sync_tree(dir: &Path) -> Result<(), QuarantineError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            sync_tree(&path)?;
        }
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

struct Copier<'a> {
    limits: &'a CopyLimits,
    staged: &'a mut Staged,
}

impl Copier<'_> {
    fn skip(&mut self, rel: String, reason: &'static str) {
        self.staged.skipped.push(Skipped { path: rel, reason });
    }

    fn copy_dir(
        &mut self,
        src: &Path,
        dst: &Path,
        rel: &str,
        depth: u32,
    ) -> Result<(), QuarantineError> {
        if depth > self.limits.max_depth {
            return Err(err(
                src,
                QuarantineErrorKind::TooDeep(self.limits.max_depth),
            ));
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(src).map_err(io_err(src))? {
            names.push(entry.map_err(io_err(src))?.file_name());
            if names.len() as u64 > self.limits.max_files.saturating_mul(2) {
                return Err(err(
                    src,
                    QuarantineErrorKind::TooManyFiles(self.limits.max_files),
                ));
            }
        }
        names.sort();
        for name in names {
            let path = src.join(&name);
            let lossy = name.to_string_lossy();
            let child_rel = if rel.is_empty() {
                lossy.clone().into_owned()
            } else {
                format!("{rel}/{lossy}")
            };
            let Some(utf8) = name.to_str() else {
                self.skip(child_rel, "name is not UTF-8");
                continue;
            };
            // Model signing leaves git metadata out of the manifest; so does the copy, so the
            // digest covers exactly what is quarantined.
            if depth == 0 && GIT_PATHS.contains(&utf8) {
                self.skip(child_rel, "git metadata (not part of the manifest)");
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let ft = meta.file_type();
            let target = dst.join(&name);
            if ft.is_symlink() {
                self.skip(child_rel, "symbolic link (never followed)");
            } else if ft.is_dir() {
                fs::create_dir(&target).map_err(io_err(&target))?;
                self.copy_dir(&path, &target, &child_rel, depth + 1)?;
            } else if ft.is_file() {
                self.copy_file(&path, &meta, &target, &child_rel)?;
            } else {
                self.skip(child_rel, "special file (device, FIFO or socket)");
            }
        }
        Ok(())
    }

    fn copy_file(
        &mut self,
        src: &Path,
        listed: &fs::Metadata,
        dst: &Path,
        rel: &str,
    ) -> Result<(), QuarantineError> {
        self.staged.files += 1;
        if self.staged.files > self.limits.max_files {
            return Err(err(
                src,
                QuarantineErrorKind::TooManyFiles(self.limits.max_files),
            ));
        }
        // O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO after listing is
        // neither followed nor waited on; the inode check below refuses it.
        let mut input = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(src)
            .map_err(io_err(src))?;
        let opened = input.metadata().map_err(io_err(src))?;
        if !opened.is_file() || opened.ino() != listed.ino() || opened.dev() != listed.dev() {
            return Err(err(src, QuarantineErrorKind::Changed));
        }
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dst)
            .map_err(io_err(dst))?;
        let room = self.limits.max_bytes - self.staged.bytes.min(self.limits.max_bytes);
        let copied = io::copy(&mut (&mut input).take(room.saturating_add(1)), &mut output)
            .map_err(io_err(src))?;
        if copied > room {
            return Err(err(
                src,
                QuarantineErrorKind::TooLarge(self.limits.max_bytes),
            ));
        }
        output.flush().map_err(io_err(dst))?;
        output.sync_data().map_err(io_err(dst))?;
        self.staged.bytes += copied;
        if Path::new(rel).file_name().and_then(|n| n.to_str()) == Some("evaluation_results.json") {
            self.staged.claims.push(rel.to_owned());
        }
        Ok(())
    }
}
