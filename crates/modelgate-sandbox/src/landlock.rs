//! Landlock rules for contained commands: read and execute everywhere in the sandbox's root,
//! write only beneath `/workspace`, `/tmp` and `/dev/shm`, device nodes usable in `/dev`; and,
//! from ABI 6, no signals or abstract-unix-socket connections leaving the sandbox's domain.
//!
//! The mounts already make the root read-only; landlock is the second lock on the same door,
//! and the only one that also covers writable *kernel* files the mounts cannot (`/proc` knobs
//! that the sandbox user happens to own, for example).

use std::os::fd::{AsFd, OwnedFd};

use crate::error::SandboxError;
use crate::sys;

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_BLOCK: u64 = 1 << 11;
const MAKE_SYM: u64 = 1 << 12;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;

const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// Filesystem rights the kernel's ABI `abi` knows about.
fn handled_fs(abi: u32) -> u64 {
    let mut all = (1 << 13) - 1; // ABI 1: EXECUTE..MAKE_SYM
    if abi >= 2 {
        all |= REFER;
    }
    if abi >= 3 {
        all |= TRUNCATE;
    }
    if abi >= 5 {
        all |= IOCTL_DEV;
    }
    all
}

/// Builds the ruleset for a sandbox whose root directory is `root` (an `O_PATH` descriptor
/// of the sandbox's `/`). Returns `None` when `abi` is 0.
pub(crate) fn ruleset(
    abi: u32,
    root: &OwnedFd,
    writable_binds: &[&std::path::Path],
) -> Result<Option<OwnedFd>, SandboxError> {
    if abi == 0 {
        return Ok(None);
    }
    let handled = handled_fs(abi);
    let scoped = if abi >= 6 {
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    } else {
        0
    };
    let rs = sys::landlock_create(handled, scoped, abi)
        .map_err(SandboxError::setup("landlock_create_ruleset"))?;
    let read = (EXECUTE | READ_FILE | READ_DIR) & handled;
    let write = (WRITE_FILE
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_SYM
        | REFER
        | TRUNCATE)
        & handled;
    let _ = (MAKE_CHAR, MAKE_BLOCK); // never granted
    let open = |rel: &std::ffi::CStr| {
        sys::openat2(
            root.as_fd(),
            rel,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
        )
    };
    sys::landlock_allow_path(rs.as_fd(), root.as_fd(), read)
        .map_err(SandboxError::setup("landlock rule for /"))?;
    for dir in [c"workspace", c"tmp", c"dev/shm"] {
        let fd = open(dir).map_err(SandboxError::setup(format!(
            "open /{} for landlock",
            dir.to_string_lossy()
        )))?;
        sys::landlock_allow_path(rs.as_fd(), fd.as_fd(), read | write).map_err(
            SandboxError::setup(format!("landlock rule for /{}", dir.to_string_lossy())),
        )?;
    }
    let dev = open(c"dev").map_err(SandboxError::setup("open /dev for landlock"))?;
    sys::landlock_allow_path(
        rs.as_fd(),
        dev.as_fd(),
        read | ((WRITE_FILE | TRUNCATE | IOCTL_DEV) & handled),
    )
    .map_err(SandboxError::setup("landlock rule for /dev"))?;
    // Binds the policy marks writable: files get the file rights, directories everything.
    for target in writable_binds {
        let rel = target.strip_prefix("/").unwrap_or(target);
        let rel = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(rel.as_os_str()))
            .map_err(|_| {
            SandboxError::setup("landlock rule for a bind")(std::io::Error::other("NUL in path"))
        })?;
        let fd = sys::openat2(
            root.as_fd(),
            &rel,
            libc::O_PATH | libc::O_CLOEXEC,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
        )
        .map_err(SandboxError::setup(format!(
            "open {} for landlock",
            target.display()
        )))?;
        let is_dir = std::fs::File::from(fd.try_clone().map_err(SandboxError::setup("dup"))?)
            .metadata()
            .is_ok_and(|m| m.is_dir());
        let file_rights = (EXECUTE | READ_FILE | WRITE_FILE | TRUNCATE) & handled;
        let rights = if is_dir { read | write } else { file_rights };
        sys::landlock_allow_path(rs.as_fd(), fd.as_fd(), rights).map_err(SandboxError::setup(
            format!("landlock rule for {}", target.display()),
        ))?;
    }
    Ok(Some(rs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handled_rights_grow_with_the_abi() {
        assert_eq!(handled_fs(1), 0x1fff);
        assert_eq!(handled_fs(2), 0x3fff);
        assert_eq!(handled_fs(4), 0x7fff);
        assert_eq!(handled_fs(7), 0xffff);
    }
}
