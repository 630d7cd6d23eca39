//! Safe wrappers over the system calls the supervisor itself makes.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use libc::{c_int, c_long};

use super::child::{self, ExecPlan, SetupPlan};

fn cvt(r: c_long) -> io::Result<c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// # Safety
/// The arguments must be valid for the system call `nr`.
unsafe fn syscall(nr: c_long, a: [usize; 5]) -> io::Result<c_long> {
    // SAFETY: forwarded contract.
    cvt(unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) })
}

/// Takes ownership of a descriptor a system call just returned.
fn owned(fd: c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// A pipe whose both ends close on exec: `(read, write)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a valid two-element array.
    unsafe {
        syscall(
            libc::SYS_pipe2,
            [fds.as_mut_ptr() as usize, libc::O_CLOEXEC as usize, 0, 0, 0],
        )?
    };
    Ok((owned(fds[0].into()), owned(fds[1].into())))
}

/// Switches a descriptor to non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd() as usize;
    // SAFETY: fcntl on a descriptor we borrow, integer arguments.
    unsafe {
        let flags = syscall(libc::SYS_fcntl, [raw, libc::F_GETFL as usize, 0, 0, 0])?;
        syscall(
            libc::SYS_fcntl,
            [
                raw,
                libc::F_SETFL as usize,
                (flags as usize) | libc::O_NONBLOCK as usize,
                0,
                0,
            ],
        )?;
    }
    Ok(())
}

/// `pidfd_open(pid, 0)`.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments.
    let fd = unsafe { syscall(libc::SYS_pidfd_open, [pid as usize, 0, 0, 0, 0])? };
    Ok(owned(fd))
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`.
pub(crate) fn pidfd_kill(fd: BorrowedFd<'_>, sig: c_int) -> io::Result<()> {
    // SAFETY: integer arguments and a NULL siginfo.
    unsafe {
        syscall(
            libc::SYS_pidfd_send_signal,
            [fd.as_raw_fd() as usize, sig as usize, 0, 0, 0],
        )?
    };
    Ok(())
}

/// `kill(pid, sig)`.
pub(crate) fn kill(pid: i32, sig: c_int) -> io::Result<()> {
    // SAFETY: integer arguments.
    unsafe { syscall(libc::SYS_kill, [pid as usize, sig as usize, 0, 0, 0])? };
    Ok(())
}

/// Blocking `wait4(pid)`, retried on `EINTR`: `(wait status, resource usage)`.
pub(crate) fn wait4(pid: i32) -> io::Result<(c_int, libc::rusage)> {
    let mut status: c_int = 0;
    // SAFETY: rusage is plain old data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to stack values.
        let r = unsafe {
            syscall(
                libc::SYS_wait4,
                [
                    pid as usize,
                    (&raw mut status) as usize,
                    libc::__WALL as usize,
                    (&raw mut usage) as usize,
                    0,
                ],
            )
        };
        match r {
            Ok(_) => return Ok((status, usage)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `poll(2)`, retried on `EINTR` (with the same timeout; callers loop on a deadline anyway).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> io::Result<usize> {
    loop {
        // SAFETY: `fds` is a valid slice of pollfd.
        let r = unsafe {
            syscall(
                libc::SYS_poll,
                [
                    fds.as_mut_ptr() as usize,
                    fds.len(),
                    timeout_ms as usize,
                    0,
                    0,
                ],
            )
        };
        match r {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `openat2(dir, path, how)`; `resolve` is a set of `RESOLVE_*` flags.
pub(crate) fn openat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let how: [u64; 3] = [flags as u64, u64::from(mode), resolve];
    loop {
        // SAFETY: valid C string and open_how struct with its exact size.
        let r = unsafe {
            syscall(
                libc::SYS_openat2,
                [
                    dir.as_raw_fd() as usize,
                    path.as_ptr() as usize,
                    (&raw const how) as usize,
                    std::mem::size_of::<[u64; 3]>(),
                    0,
                ],
            )
        };
        match r {
            Ok(fd) => return Ok(owned(fd)),
            Err(e)
                if e.raw_os_error() == Some(libc::EAGAIN)
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid C string.
    unsafe {
        syscall(
            libc::SYS_mkdirat,
            [
                dir.as_raw_fd() as usize,
                name.as_ptr() as usize,
                mode as usize,
                0,
                0,
            ],
        )?
    };
    Ok(())
}

/// `setns(fd, nstype)` for the calling *thread*.
pub(crate) fn setns(fd: BorrowedFd<'_>, nstype: c_int) -> io::Result<()> {
    // SAFETY: integer arguments.
    unsafe {
        syscall(
            libc::SYS_setns,
            [fd.as_raw_fd() as usize, nstype as usize, 0, 0, 0],
        )?
    };
    Ok(())
}

/// `shutdown(fd, SHUT_RDWR)`: wakes a thread blocked in `accept` on a listening socket.
pub(crate) fn shutdown(fd: BorrowedFd<'_>) {
    // SAFETY: integer arguments.
    let _ = unsafe {
        syscall(
            libc::SYS_shutdown,
            [fd.as_raw_fd() as usize, libc::SHUT_RDWR as usize, 0, 0, 0],
        )
    };
}

/// Landlock: the ABI version the kernel supports, or `None` when landlock is unavailable.
pub(crate) fn landlock_abi() -> Option<u32> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a NULL attribute and size 0 only queries.
    let r = unsafe { syscall(libc::SYS_landlock_create_ruleset, [0, 0, 1, 0, 0]) };
    r.ok().map(|v| v as u32)
}

/// Landlock: a new ruleset handling the given rights. `abi` selects the attribute size.
pub(crate) fn landlock_create(handled_fs: u64, scoped: u64, abi: u32) -> io::Result<OwnedFd> {
    let attr: [u64; 3] = [handled_fs, 0, scoped];
    let size = if abi >= 6 {
        24
    } else if abi >= 4 {
        16
    } else {
        8
    };
    // SAFETY: the attribute buffer is at least `size` bytes long.
    let fd = unsafe {
        syscall(
            libc::SYS_landlock_create_ruleset,
            [attr.as_ptr() as usize, size, 0, 0, 0],
        )?
    };
    Ok(owned(fd))
}

/// Landlock: allows `access` beneath the directory `parent`.
pub(crate) fn landlock_allow_path(
    ruleset: BorrowedFd<'_>,
    parent: BorrowedFd<'_>,
    access: u64,
) -> io::Result<()> {
    // struct landlock_path_beneath_attr is packed: u64 allowed_access, s32 parent_fd.
    let mut attr = [0u8; 12];
    attr[..8].copy_from_slice(&access.to_ne_bytes());
    attr[8..].copy_from_slice(&parent.as_raw_fd().to_ne_bytes());
    // SAFETY: `attr` has the exact layout of the packed kernel struct.
    unsafe {
        syscall(
            libc::SYS_landlock_add_rule,
            [
                ruleset.as_raw_fd() as usize,
                1,
                attr.as_ptr() as usize,
                0,
                0,
            ],
        )?;
    }
    Ok(())
}

/// Reads one report record from a child's report pipe: `None` at end of file.
pub(crate) fn read_report(fd: BorrowedFd<'_>) -> io::Result<Option<(u32, i32)>> {
    let mut buf = [0u8; child::REPORT_LEN];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: writes into the unfilled tail of a stack buffer.
        let r = unsafe {
            syscall(
                libc::SYS_read,
                [
                    fd.as_raw_fd() as usize,
                    buf[got..].as_mut_ptr() as usize,
                    buf.len() - got,
                    0,
                    0,
                ],
            )
        };
        match r {
            Ok(0) => return Ok(None),
            Ok(n) => got += n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let step = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let value = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(Some((step, value)))
}

/// Clones the sandbox-creating child with `flags` (a set of `CLONE_NEW*`). Returns its pid.
pub(crate) fn spawn_setup(flags: c_int, plan: &SetupPlan) -> io::Result<i32> {
    // SAFETY: the child only runs `setup_main`, which is allocation-free and never returns.
    match unsafe { child::raw_clone(flags as u64 | libc::SIGCHLD as u64) } {
        Ok(0) => unsafe { child::setup_main(plan) },
        Ok(pid) => Ok(pid as i32),
        Err(e) => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A stack for a `CLONE_VM` child: anonymous memory with a `PROT_NONE` guard page below it,
/// so an overflow faults instead of writing over the supervisor's memory.
pub(crate) struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const GUARD: usize = 4096;

    /// Maps `size` bytes of stack (plus the guard page).
    pub(crate) fn new(size: usize) -> io::Result<Self> {
        let len = size + Self::GUARD;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Self { base, len };
        // SAFETY: the lowest page of the mapping we own.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error()); // `stack` unmaps on drop
        }
        Ok(stack)
    }

    /// The initial stack pointer (stacks grow down on every architecture Linux runs this on).
    pub(crate) fn top(&self) -> usize {
        self.base as usize + self.len
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no child runs on it any more (see `spawn_exec`).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Stack for the exec intermediate and for the command before `execve`: straight-line system
/// calls with small stack buffers need a few KiB; this leaves a wide margin.
pub(crate) const CHILD_STACK_BYTES: usize = 256 * 1024;

/// Clones the exec intermediate (which clones the command) and returns once both are done
/// with the supervisor's memory: the intermediate has exited, after the command called
/// `execve` or exited. Returns the intermediate's pid (to reap); the command's pid is on the
/// report pipe. `plan.command_stack` must be the top of `command_stack`.
pub(crate) fn spawn_exec(plan: &ExecPlan<'_>, command_stack: &ChildStack) -> io::Result<i32> {
    debug_assert_eq!(plan.command_stack, command_stack.top());
    let stack = ChildStack::new(CHILD_STACK_BYTES)?;
    // As posix_spawn does: no signal handler of the supervisor may run in a child that shares
    // its memory. The command resets every disposition and unblocks them before execve.
    // SAFETY: sigset_t is plain data; `all`/`old` are live stack values.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old);
    }
    // SAFETY: the child runs `exec_intermediate` on its own stack and shares our memory only
    // while this thread sleeps (CLONE_VFORK); it is allocation-free and never returns. `plan`
    // and both stacks outlive it: clone returns only after the intermediate has exited, and
    // the intermediate exits only after its own CLONE_VFORK child (the command) has called
    // execve or exited.
    let pid = unsafe {
        libc::clone(
            child::intermediate_entry,
            stack.top() as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::from_ref(plan).cast_mut().cast(),
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut()) };
    if pid < 0 {
        return Err(err);
    }
    Ok(pid)
}

/// A connected `SOCK_SEQPACKET` Unix socket pair whose ends close on exec.
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a valid two-element array.
    unsafe {
        syscall(
            libc::SYS_socketpair,
            [
                libc::AF_UNIX as usize,
                (libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC) as usize,
                0,
                fds.as_mut_ptr() as usize,
                0,
            ],
        )?
    };
    Ok((owned(fds[0].into()), owned(fds[1].into())))
}

/// Receives one descriptor sent with `SCM_RIGHTS` on `sock`, without blocking. `Ok(None)`: the
/// peer closed without sending one. The descriptor arrives close-on-exec.
pub(crate) fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    const INT: libc::c_uint = std::mem::size_of::<c_int>() as libc::c_uint;
    let mut control = [0u64; 8];
    let mut body = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: body.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: all-zero is a valid msghdr; every pointer refers to a live stack buffer whose
    // length is given alongside.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: as above.
    let n = unsafe {
        syscall(
            libc::SYS_recvmsg,
            [
                sock.as_raw_fd() as usize,
                (&raw mut msg) as usize,
                (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as usize,
                0,
                0,
            ],
        )?
    };
    // SAFETY: the kernel filled `msg`/`control`; CMSG_FIRSTHDR/CMSG_NXTHDR stay within
    // `msg_controllen`, and a header's data is read only when its length covers one int.
    unsafe {
        let mut found = None;
        let mut hdr = libc::CMSG_FIRSTHDR(&raw const msg);
        while !hdr.is_null() {
            let h = hdr.read_unaligned();
            if h.cmsg_level == libc::SOL_SOCKET
                && h.cmsg_type == libc::SCM_RIGHTS
                && h.cmsg_len as usize >= libc::CMSG_LEN(INT) as usize
            {
                let count = (h.cmsg_len as usize - libc::CMSG_LEN(0) as usize) / INT as usize;
                #[allow(clippy::cast_ptr_alignment)] // read with read_unaligned
                let data = libc::CMSG_DATA(hdr).cast::<c_int>();
                for i in 0..count {
                    let fd = owned(data.add(i).read_unaligned().into());
                    if found.is_none() {
                        found = Some(fd); // any further one (never sent) is closed here
                    }
                }
            }
            hdr = libc::CMSG_NXTHDR(&raw const msg, hdr);
        }
        if found.is_none() && n > 0 {
            return Err(io::Error::other("a message without a descriptor"));
        }
        Ok(found)
    }
}

/// Whether a child can `unshare(flags)` on this host.
pub(crate) fn probe_unshare(flags: c_int) -> io::Result<bool> {
    // SAFETY: the child only calls unshare and exits.
    let pid = match unsafe { child::raw_clone(libc::SIGCHLD as u64) } {
        Ok(0) => unsafe { child::probe_unshare_main(flags) },
        Ok(pid) => pid as i32,
        Err(e) => return Err(io::Error::from_raw_os_error(e)),
    };
    let (status, _) = wait4(pid)?;
    Ok(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

/// The calling process's effective uid.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

/// Sets the calling *thread's* filesystem uid and gid (`setfsuid`/`setfsgid` are per-thread
/// system calls; glibc does not broadcast them). Checks that the change took.
pub(crate) fn set_thread_fsids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments; the calls return the previous id and cannot fault.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, gid as usize);
        libc::syscall(libc::SYS_setfsuid, uid as usize);
        // Calling with -1 (invalid) changes nothing and returns the current value.
        let now_gid = libc::syscall(libc::SYS_setfsgid, u32::MAX as usize) as u32;
        let now_uid = libc::syscall(libc::SYS_setfsuid, u32::MAX as usize) as u32;
        if now_uid != uid || now_gid != gid {
            return Err(io::Error::other(format!(
                "setfsuid/setfsgid did not take (uid {now_uid}, gid {now_gid})"
            )));
        }
    }
    Ok(())
}

/// One seccomp user notification: `(id, pid, syscall number, arguments)`.
pub(crate) struct SeccompNotif {
    pub(crate) id: u64,
    pub(crate) nr: i32,
    pub(crate) args: [u64; 6],
}

const SECCOMP_IOCTL_NOTIF_RECV: usize = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const SECCOMP_IOCTL_NOTIF_SEND: usize = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)

/// Receives one notification from a seccomp listener (blocks; poll first).
pub(crate) fn seccomp_notif_recv(listener: BorrowedFd<'_>) -> io::Result<SeccompNotif> {
    // struct seccomp_notif { u64 id; u32 pid; u32 flags; struct seccomp_data data; } — 80
    // bytes; data = { s32 nr; u32 arch; u64 ip; u64 args[6]; }. Must be zeroed on entry.
    let mut buf = [0u64; 10];
    // SAFETY: `buf` is 80 bytes, the size the ioctl number encodes.
    unsafe {
        syscall(
            libc::SYS_ioctl,
            [
                listener.as_raw_fd() as usize,
                SECCOMP_IOCTL_NOTIF_RECV,
                buf.as_mut_ptr() as usize,
                0,
                0,
            ],
        )?;
    }
    let nr = (buf[2] & 0xffff_ffff) as u32 as i32;
    Ok(SeccompNotif {
        id: buf[0],
        nr,
        args: [buf[4], buf[5], buf[6], buf[7], buf[8], buf[9]],
    })
}

/// Answers a notification: the system call fails with `errno`.
pub(crate) fn seccomp_notif_deny(listener: BorrowedFd<'_>, id: u64, errno: i32) -> io::Result<()> {
    // struct seccomp_notif_resp { u64 id; s64 val; s32 error; u32 flags; } — 24 bytes.
    let mut buf = [0u64; 3];
    buf[0] = id;
    buf[2] = u64::from((-errno) as u32);
    // SAFETY: `buf` is 24 bytes, the size the ioctl number encodes.
    unsafe {
        syscall(
            libc::SYS_ioctl,
            [
                listener.as_raw_fd() as usize,
                SECCOMP_IOCTL_NOTIF_SEND,
                buf.as_mut_ptr() as usize,
                0,
                0,
            ],
        )?;
    }
    Ok(())
}
