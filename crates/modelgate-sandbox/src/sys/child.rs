//! Code that runs in the children between `clone` and `execve`.
//!
//! Everything here is straight-line raw system calls over data the parent prepared before
//! cloning ([`SetupPlan`], [`ExecPlan`]): no allocation, no locks, no glibc wrappers that talk to
//! other threads. A failing step writes an 8-byte [`Report`] (step number, errno) to the report
//! pipe and exits with status 127; the parent turns it into a typed error naming the step.
//!
//! The exec intermediate and the command are cloned `posix_spawn`-style: `CLONE_VM |
//! CLONE_VFORK` on a stack of their own, so no copy of the supervisor's address space is made
//! (two fewer page-table copies and no copy-on-write faults per exec) and the cloning thread
//! sleeps until the child has called `execve` or exited. Sharing memory is safe because only
//! one of them runs at a time, each writes nothing but its own stack, and `execve` gives the
//! command a fresh address space before any of its own code runs. The one shared word they
//! write is the cloning thread's `errno` (same TLS block), which it does not read afterwards.

use std::ffi::CString;
use std::os::fd::RawFd;

use libc::{c_int, c_long, c_ulong};

/// A record written by a child on its report pipe: `(step, value)`, native endian.
pub(crate) const REPORT_LEN: usize = 8;
/// `step` of the record a setup child writes once the sandbox's mount tree is ready.
pub(crate) const STEP_READY: u32 = u32::MAX;
/// `step` of the record the exec intermediate writes with the command's host pid as `value`.
pub(crate) const STEP_PID: u32 = u32::MAX - 1;

/// Step numbers of the fixed (non-mount) steps, reported on failure. Mount operations are
/// numbered by their index in the plan's operation list.
pub(crate) mod step {
    pub(crate) const SYNC: u32 = 10_000;
    pub(crate) const SETGID: u32 = 10_001;
    pub(crate) const SETGROUPS: u32 = 10_002;
    pub(crate) const SETUID: u32 = 10_003;
    pub(crate) const HOSTNAME: u32 = 10_004;
    pub(crate) const LOOPBACK: u32 = 10_005;
    pub(crate) const CGROUP: u32 = 10_006;
    pub(crate) const SETNS: u32 = 10_007;
    pub(crate) const UNSHARE: u32 = 10_008;
    pub(crate) const CLONE: u32 = 10_009;
    pub(crate) const SETSID: u32 = 10_010;
    pub(crate) const STDIO: u32 = 10_011;
    pub(crate) const CHDIR: u32 = 10_012;
    pub(crate) const RLIMIT: u32 = 10_013;
    pub(crate) const CAPS: u32 = 10_014;
    pub(crate) const NO_NEW_PRIVS: u32 = 10_015;
    pub(crate) const LANDLOCK: u32 = 10_016;
    pub(crate) const SECCOMP: u32 = 10_017;
    pub(crate) const CLOSE_FDS: u32 = 10_018;
    pub(crate) const EXEC: u32 = 10_019;
    pub(crate) const PDEATHSIG: u32 = 10_020;
}

/// One step of assembling a mount tree. Paths are absolute in the child's view at that moment.
#[derive(Debug)]
pub(crate) enum MountOp {
    /// `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)`: nothing we do propagates to the host.
    MakePrivate,
    /// `mkdir`, tolerating `EEXIST`.
    Mkdir { path: CString, mode: u32 },
    /// Create an empty regular file (a bind-mount target for a file).
    Touch { path: CString },
    /// `symlink(target, link)`.
    Symlink { target: CString, link: CString },
    /// Recursive bind mount, then `mount_setattr` of `attrs` (`MOUNT_ATTR_*`) on the whole tree.
    Bind {
        src: CString,
        dst: CString,
        attrs: u64,
        optional: bool,
    },
    /// A fresh filesystem (`tmpfs`, `proc`).
    Mount {
        src: CString,
        dst: CString,
        fstype: CString,
        flags: c_ulong,
        data: CString,
    },
    /// Remount `dst` read-only (the new root's own tmpfs, once every mount point exists).
    RemountReadOnly { dst: CString },
    /// `pivot_root(base, base/put_old)` then `chdir("/")`.
    PivotRoot { new_root: CString, put_old: CString },
    /// `chdir(new_root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")`.
    EnterRoot { new_root: CString },
}

/// What the sandbox-creating child does; prepared by the parent before `clone`.
#[derive(Debug)]
pub(crate) struct SetupPlan {
    pub(crate) ops: Vec<MountOp>,
    pub(crate) hostname: CString,
    /// Read end: one byte once the parent has written the id maps; EOF tells the child to exit.
    pub(crate) sync_read: RawFd,
    pub(crate) report_write: RawFd,
}

/// What one `exec` does; prepared by the parent before `clone`.
#[derive(Debug)]
pub(crate) struct ExecPlan<'a> {
    /// Open `cgroup.procs` files to write `0` to (joins the sandbox's cgroups).
    pub(crate) cgroup_procs: Vec<RawFd>,
    /// Namespace files with their `CLONE_NEW*` type, user namespace first.
    pub(crate) namespaces: Vec<(RawFd, c_int)>,
    /// Per-exec mounts in the command's private mount namespace (its own `/proc`).
    pub(crate) ops: &'a [MountOp],
    pub(crate) stdin: RawFd,
    pub(crate) stdout: RawFd,
    pub(crate) stderr: RawFd,
    pub(crate) cwd: CString,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) rlimits: Vec<(u32, u64)>,
    pub(crate) last_cap: u32,
    pub(crate) landlock: Option<RawFd>,
    pub(crate) seccomp: Option<&'a [libc::sock_filter]>,
    /// With a user-notification filter: the command's end of a socket pair on which it sends
    /// the listener to the supervisor (`SCM_RIGHTS`). The descriptor in flight keeps the
    /// listener open across the command's `execve` without the command holding it, so the
    /// command never waits for the supervisor to take it.
    pub(crate) seccomp_sock: Option<RawFd>,
    /// Top of the stack the command runs on until `execve` (the intermediate's is given to
    /// `clone` by the caller).
    pub(crate) command_stack: usize,
    /// Candidate absolute paths for the program, tried in order (a `PATH` search done ahead).
    pub(crate) programs: Vec<CString>,
    /// NULL-terminated.
    pub(crate) argv: Vec<*const libc::c_char>,
    /// NULL-terminated.
    pub(crate) envp: Vec<*const libc::c_char>,
    pub(crate) report_write: RawFd,
    /// Descriptors the parent keeps; closed in the child straight away.
    pub(crate) parent_only: Vec<RawFd>,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `syscall(2)` returning `Err(errno)` on failure.
///
/// # Safety
/// The arguments must be valid for the system call `nr`.
unsafe fn sys(nr: c_long, a: [usize; 5]) -> Result<c_long, i32> {
    // SAFETY: forwarded contract; `syscall` itself has no other requirement.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// Writes one report record. Errors are ignored: there is nobody left to tell.
fn report(fd: RawFd, step: u32, value: i32) {
    let mut buf = [0u8; REPORT_LEN];
    buf[..4].copy_from_slice(&step.to_ne_bytes());
    buf[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: `buf` is a live 8-byte buffer; a bad fd only yields EBADF.
    let _ = unsafe {
        sys(
            libc::SYS_write,
            [fd as usize, buf.as_ptr() as usize, REPORT_LEN, 0, 0],
        )
    };
}

/// Terminates the calling process immediately (no atexit handlers, no unwinding).
fn exit(code: i32) -> ! {
    // SAFETY: exit_group never returns and touches no user memory.
    unsafe {
        libc::syscall(libc::SYS_exit_group, code);
    }
    #[allow(clippy::empty_loop)]
    loop {}
}

fn fail(fd: RawFd, step: u32, err: i32) -> ! {
    report(fd, step, err);
    exit(127)
}

fn check(fd: RawFd, step: u32, r: Result<c_long, i32>) -> c_long {
    match r {
        Ok(v) => v,
        Err(e) => fail(fd, step, e),
    }
}

const MOUNT_ATTR_SIZE: usize = 32;

/// Runs the mount operations; returns `(index, errno)` of the first failure.
///
/// # Safety
/// Must only run in a child process created by `clone` (it changes the process's mounts).
unsafe fn run_ops(ops: &[MountOp]) -> Result<(), (u32, i32)> {
    for (i, op) in ops.iter().enumerate() {
        let i = i as u32;
        // SAFETY: every pointer passed below comes from a live `CString` or a stack buffer.
        let r = unsafe { run_op(op) };
        if let Err(e) = r {
            return Err((i, e));
        }
    }
    Ok(())
}

/// # Safety
/// See [`run_ops`].
unsafe fn run_op(op: &MountOp) -> Result<(), i32> {
    const NULL: usize = 0;
    // SAFETY (whole function): each system call receives pointers to NUL-terminated strings
    // owned by `op` or to properly sized stack values, all alive for the duration of the call.
    unsafe {
        match op {
            MountOp::MakePrivate => {
                let root = c"/";
                sys(
                    libc::SYS_mount,
                    [
                        NULL,
                        root.as_ptr() as usize,
                        NULL,
                        (libc::MS_REC | libc::MS_PRIVATE) as usize,
                        NULL,
                    ],
                )?;
            }
            MountOp::Mkdir { path, mode } => {
                match sys(
                    libc::SYS_mkdirat,
                    [
                        libc::AT_FDCWD as usize,
                        path.as_ptr() as usize,
                        *mode as usize,
                        0,
                        0,
                    ],
                ) {
                    Ok(_) | Err(libc::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            }
            MountOp::Touch { path } => {
                let fd = sys(
                    libc::SYS_openat,
                    [
                        libc::AT_FDCWD as usize,
                        path.as_ptr() as usize,
                        (libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC) as usize,
                        0o644,
                        0,
                    ],
                )?;
                let _ = sys(libc::SYS_close, [fd as usize, 0, 0, 0, 0]);
            }
            MountOp::Symlink { target, link } => {
                match sys(
                    libc::SYS_symlinkat,
                    [
                        target.as_ptr() as usize,
                        libc::AT_FDCWD as usize,
                        link.as_ptr() as usize,
                        0,
                        0,
                    ],
                ) {
                    Ok(_) | Err(libc::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            }
            MountOp::Bind {
                src,
                dst,
                attrs,
                optional,
            } => {
                let r = sys(
                    libc::SYS_mount,
                    [
                        src.as_ptr() as usize,
                        dst.as_ptr() as usize,
                        NULL,
                        (libc::MS_BIND | libc::MS_REC) as usize,
                        NULL,
                    ],
                );
                match r {
                    Ok(_) => {}
                    Err(libc::ENOENT) if *optional => return Ok(()),
                    Err(e) => return Err(e),
                }
                if *attrs != 0 {
                    let mut attr = [0u64; 4];
                    attr[0] = *attrs;
                    sys(
                        libc::SYS_mount_setattr,
                        [
                            libc::AT_FDCWD as usize,
                            dst.as_ptr() as usize,
                            libc::AT_RECURSIVE as usize,
                            attr.as_ptr() as usize,
                            MOUNT_ATTR_SIZE,
                        ],
                    )?;
                }
            }
            MountOp::Mount {
                src,
                dst,
                fstype,
                flags,
                data,
            } => {
                sys(
                    libc::SYS_mount,
                    [
                        src.as_ptr() as usize,
                        dst.as_ptr() as usize,
                        fstype.as_ptr() as usize,
                        *flags as usize,
                        data.as_ptr() as usize,
                    ],
                )?;
            }
            MountOp::RemountReadOnly { dst } => {
                let flags = libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV;
                sys(
                    libc::SYS_mount,
                    [NULL, dst.as_ptr() as usize, NULL, flags as usize, NULL],
                )?;
            }
            MountOp::PivotRoot { new_root, put_old } => {
                sys(
                    libc::SYS_pivot_root,
                    [
                        new_root.as_ptr() as usize,
                        put_old.as_ptr() as usize,
                        0,
                        0,
                        0,
                    ],
                )?;
                sys(libc::SYS_chdir, [c"/".as_ptr() as usize, 0, 0, 0, 0])?;
            }
            MountOp::EnterRoot { new_root } => {
                let dot = c".";
                sys(libc::SYS_chdir, [new_root.as_ptr() as usize, 0, 0, 0, 0])?;
                sys(
                    libc::SYS_pivot_root,
                    [dot.as_ptr() as usize, dot.as_ptr() as usize, 0, 0, 0],
                )?;
                sys(
                    libc::SYS_umount2,
                    [dot.as_ptr() as usize, libc::MNT_DETACH as usize, 0, 0, 0],
                )?;
                sys(libc::SYS_chdir, [c"/".as_ptr() as usize, 0, 0, 0, 0])?;
            }
        }
    }
    Ok(())
}

/// Sends `payload` as one `SCM_RIGHTS` message (with a one-byte body) on the socket `sock`.
///
/// # Safety
/// Child process only; `sock` is a connected socket.
unsafe fn send_fd(sock: RawFd, payload: RawFd) -> Result<(), i32> {
    const INT: libc::c_uint = std::mem::size_of::<c_int>() as libc::c_uint;
    // 8-byte aligned and ≥ CMSG_SPACE(sizeof(int)) (24 bytes on 64-bit Linux).
    let mut control = [0u64; 4];
    let body = [0u8; 1];
    // SAFETY (block): all-zero is a valid `cmsghdr`, `iovec` and `msghdr`; the header and the
    // descriptor are written inside `control`, which CMSG_SPACE(sizeof(int)) fits; every
    // pointer handed to sendmsg refers to a live stack value.
    unsafe {
        let mut hdr: libc::cmsghdr = std::mem::zeroed();
        hdr.cmsg_len = libc::CMSG_LEN(INT) as _;
        hdr.cmsg_level = libc::SOL_SOCKET;
        hdr.cmsg_type = libc::SCM_RIGHTS;
        let hdr_ptr = control.as_mut_ptr().cast::<libc::cmsghdr>();
        hdr_ptr.write(hdr);
        libc::CMSG_DATA(hdr_ptr)
            .copy_from_nonoverlapping(payload.to_ne_bytes().as_ptr(), INT as usize);
        let mut iov = libc::iovec {
            iov_base: body.as_ptr().cast_mut().cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(INT) as _;
        sys(
            libc::SYS_sendmsg,
            [
                sock as usize,
                (&raw const msg) as usize,
                libc::MSG_NOSIGNAL as usize,
                0,
                0,
            ],
        )
        .map(|_| ())
    }
}

/// Becomes uid/gid 0 *inside* the new user namespace (an unprivileged host id) with no
/// supplementary groups: the supervisor's host groups must never reach the sandbox.
///
/// # Safety
/// Child process only.
unsafe fn become_ns_root(report_fd: RawFd) {
    // SAFETY: plain integer arguments.
    unsafe {
        check(
            report_fd,
            step::SETGROUPS,
            sys(libc::SYS_setgroups, [0, 0, 0, 0, 0]),
        );
        check(
            report_fd,
            step::SETGID,
            sys(libc::SYS_setresgid, [0, 0, 0, 0, 0]),
        );
        check(
            report_fd,
            step::SETUID,
            sys(libc::SYS_setresuid, [0, 0, 0, 0, 0]),
        );
    }
}

/// Brings the loopback interface of the new network namespace up.
///
/// # Safety
/// Child process only.
unsafe fn loopback_up() -> Result<(), i32> {
    // SAFETY: `ifr` is a zeroed `ifreq` on the stack, valid for both ioctls; the socket fd is ours.
    unsafe {
        let fd = sys(
            libc::SYS_socket,
            [
                libc::AF_INET as usize,
                (libc::SOCK_DGRAM | libc::SOCK_CLOEXEC) as usize,
                0,
                0,
                0,
            ],
        )?;
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as libc::c_char;
        ifr.ifr_name[1] = b'o' as libc::c_char;
        let r = sys(
            libc::SYS_ioctl,
            [
                fd as usize,
                libc::SIOCGIFFLAGS as usize,
                &raw mut ifr as usize,
                0,
                0,
            ],
        );
        if let Err(e) = r {
            let _ = sys(libc::SYS_close, [fd as usize, 0, 0, 0, 0]);
            return Err(e);
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let r = sys(
            libc::SYS_ioctl,
            [
                fd as usize,
                libc::SIOCSIFFLAGS as usize,
                &raw mut ifr as usize,
                0,
                0,
            ],
        );
        let _ = sys(libc::SYS_close, [fd as usize, 0, 0, 0, 0]);
        r.map(|_| ())
    }
}

/// Body of the sandbox-creating child. Never returns.
///
/// # Safety
/// Must be called only in the child right after `clone` with new namespaces.
pub(crate) unsafe fn setup_main(plan: &SetupPlan) -> ! {
    let fd = plan.report_write;
    // Keep only our two pipe ends. Everything else is the parent's: in a multi-threaded
    // supervisor that includes other sandboxes' pipes, and holding a copy of another setup
    // child's sync pipe would keep that child (and this one, in turn) waiting forever.
    let (lo, hi) = if plan.sync_read < fd {
        (plan.sync_read, fd)
    } else {
        (fd, plan.sync_read)
    };
    for (first, last) in [(3, lo - 1), (lo + 1, hi - 1), (hi + 1, i32::MAX)] {
        if first <= last {
            // SAFETY: integer arguments; closing descriptors this process does not use.
            let _ = unsafe {
                sys(
                    libc::SYS_close_range,
                    [first as usize, last as usize, 0, 0, 0],
                )
            };
        }
    }
    // Wait until the parent has written uid_map/gid_map.
    let mut byte = 0u8;
    // SAFETY: one-byte stack buffer.
    let n = check(fd, step::SYNC, unsafe {
        sys(
            libc::SYS_read,
            [plan.sync_read as usize, (&raw mut byte) as usize, 1, 0, 0],
        )
    });
    if n != 1 {
        exit(0);
    }
    // SAFETY: child process right after clone.
    unsafe { become_ns_root(fd) };
    // SAFETY: integer arguments; the death signal is re-armed after the credential change.
    check(fd, step::PDEATHSIG, unsafe {
        sys(
            libc::SYS_prctl,
            [
                libc::PR_SET_PDEATHSIG as usize,
                libc::SIGKILL as usize,
                0,
                0,
                0,
            ],
        )
    });
    let host = plan.hostname.as_bytes();
    // SAFETY: pointer and length of a live CString.
    check(fd, step::HOSTNAME, unsafe {
        sys(
            libc::SYS_sethostname,
            [host.as_ptr() as usize, host.len(), 0, 0, 0],
        )
    });
    // SAFETY: child process with its own mount namespace.
    if let Err((i, e)) = unsafe { run_ops(&plan.ops) } {
        fail(fd, i, e);
    }
    // SAFETY: child process with its own network namespace.
    if let Err(e) = unsafe { loopback_up() } {
        fail(fd, step::LOOPBACK, e);
    }
    report(fd, STEP_READY, 0);
    // Stay alive (holding the namespaces) until the parent closes the sync pipe.
    loop {
        // SAFETY: one-byte stack buffer.
        match unsafe {
            sys(
                libc::SYS_read,
                [plan.sync_read as usize, (&raw mut byte) as usize, 1, 0, 0],
            )
        } {
            Err(libc::EINTR) | Ok(1..) => {}
            _ => exit(0),
        }
    }
}

/// Body of the exec intermediate: joins the cgroups and namespaces, creates the command's own
/// mount and PID namespaces, and clones the command as a sibling (`CLONE_PARENT`) so the
/// supervisor waits for it directly. Never returns.
///
/// # Safety
/// Must be called only in a child right after `clone`.
unsafe fn exec_intermediate(plan: &ExecPlan<'_>) -> ! {
    let fd = plan.report_write;
    // SAFETY (block): descriptors and integer arguments prepared by the parent; "0" is a live
    // static byte string.
    unsafe {
        for &p in &plan.parent_only {
            let _ = sys(libc::SYS_close, [p as usize, 0, 0, 0, 0]);
        }
        for &cg in &plan.cgroup_procs {
            check(
                fd,
                step::CGROUP,
                sys(
                    libc::SYS_write,
                    [cg as usize, b"0".as_ptr() as usize, 1, 0, 0],
                ),
            );
        }
        for &(ns, kind) in &plan.namespaces {
            check(
                fd,
                step::SETNS,
                sys(libc::SYS_setns, [ns as usize, kind as usize, 0, 0, 0]),
            );
        }
        check(
            fd,
            step::UNSHARE,
            sys(
                libc::SYS_unshare,
                [
                    (libc::CLONE_NEWNS | libc::CLONE_NEWPID) as usize,
                    0,
                    0,
                    0,
                    0,
                ],
            ),
        );
        // The command shares this process's memory until its execve (this process sleeps
        // meanwhile, CLONE_VFORK); CLONE_PARENT makes the supervisor its parent.
        let pid = libc::clone(
            command_entry,
            plan.command_stack as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PARENT,
            std::ptr::from_ref(plan).cast_mut().cast(),
        );
        if pid < 0 {
            fail(fd, step::CLONE, errno());
        }
        report(fd, STEP_PID, pid);
    }
    exit(0)
}

/// Entry point of the exec intermediate on its own stack (`arg` is the `ExecPlan`).
///
/// # Safety
/// `arg` must point to an `ExecPlan` that outlives the child (the caller sleeps in
/// `CLONE_VFORK` until the child exits).
pub(crate) extern "C" fn intermediate_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: per the contract above; the plan is only read.
    unsafe { exec_intermediate(&*arg.cast::<ExecPlan<'_>>()) }
}

/// Entry point of the command on its own stack (`arg` is the `ExecPlan`).
extern "C" fn command_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: the intermediate passes its plan and sleeps (CLONE_VFORK) until this child has
    // called execve or exited, so the plan outlives every read.
    unsafe { exec_command(&*arg.cast::<ExecPlan<'_>>()) }
}

/// `clone` without a new stack: returns twice, like `fork`.
///
/// # Safety
/// The child must restrict itself to async-signal-safe operations.
pub(crate) unsafe fn raw_clone(flags: u64) -> Result<c_long, i32> {
    // SAFETY: a NULL stack makes the child continue on a copy of the parent's stack.
    unsafe { sys(libc::SYS_clone, [flags as usize, 0, 0, 0, 0]) }
}

/// The command itself: PID 1 of its own namespace. Never returns.
///
/// # Safety
/// Child process only (it drops every privilege and replaces the process image).
unsafe fn exec_command(plan: &ExecPlan<'_>) -> ! {
    let fd = plan.report_write;
    // SAFETY: child process with a private mount namespace.
    if let Err((i, e)) = unsafe { run_ops(plan.ops) } {
        fail(fd, i, e);
    }
    // SAFETY (block): every system call below takes integers, descriptors prepared by the
    // parent, or pointers to live stack values / CStrings owned by `plan`.
    unsafe {
        check(fd, step::SETSID, sys(libc::SYS_setsid, [0; 5]));
        for (src, dst) in [(plan.stdin, 0), (plan.stdout, 1), (plan.stderr, 2)] {
            if src != dst {
                check(
                    fd,
                    step::STDIO,
                    sys(libc::SYS_dup3, [src as usize, dst as usize, 0, 0, 0]),
                );
            }
        }
        check(
            fd,
            step::CHDIR,
            sys(libc::SYS_chdir, [plan.cwd.as_ptr() as usize, 0, 0, 0, 0]),
        );
        for &(resource, value) in &plan.rlimits {
            let lim = libc::rlimit64 {
                rlim_cur: value,
                rlim_max: value,
            };
            check(
                fd,
                step::RLIMIT,
                sys(
                    libc::SYS_prlimit64,
                    [0, resource as usize, (&raw const lim) as usize, 0, 0],
                ),
            );
        }
        check(
            fd,
            step::SETGROUPS,
            sys(libc::SYS_setgroups, [0, 0, 0, 0, 0]),
        );
        let (u, g) = (plan.uid as usize, plan.gid as usize);
        check(fd, step::SETGID, sys(libc::SYS_setresgid, [g, g, g, 0, 0]));
        for cap in 0..=plan.last_cap {
            check(
                fd,
                step::CAPS,
                sys(
                    libc::SYS_prctl,
                    [libc::PR_CAPBSET_DROP as usize, cap as usize, 0, 0, 0],
                ),
            );
        }
        check(
            fd,
            step::CAPS,
            sys(
                libc::SYS_prctl,
                [
                    libc::PR_CAP_AMBIENT as usize,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as usize,
                    0,
                    0,
                    0,
                ],
            ),
        );
        // SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE and their locks: no
        // later execve can hand capabilities back, whatever the file says.
        check(
            fd,
            step::CAPS,
            sys(
                libc::SYS_prctl,
                [libc::PR_SET_SECUREBITS as usize, 0xEF, 0, 0, 0],
            ),
        );
        check(fd, step::SETUID, sys(libc::SYS_setresuid, [u, u, u, 0, 0]));
        let header: [u32; 2] = [0x2008_0522, 0]; // _LINUX_CAPABILITY_VERSION_3, this process
        let data = [0u32; 6]; // effective, permitted, inheritable × 2 words: all empty
        check(
            fd,
            step::CAPS,
            sys(
                libc::SYS_capset,
                [header.as_ptr() as usize, data.as_ptr() as usize, 0, 0, 0],
            ),
        );
        check(
            fd,
            step::PDEATHSIG,
            sys(
                libc::SYS_prctl,
                [
                    libc::PR_SET_PDEATHSIG as usize,
                    libc::SIGKILL as usize,
                    0,
                    0,
                    0,
                ],
            ),
        );
        check(
            fd,
            step::NO_NEW_PRIVS,
            sys(
                libc::SYS_prctl,
                [libc::PR_SET_NO_NEW_PRIVS as usize, 1, 0, 0, 0],
            ),
        );
        // Signal dispositions: the supervisor ignores SIGPIPE (as every Rust program does), and
        // ignored signals survive execve. Reset all to default and unblock everything.
        let act = [0u64; 4];
        for sig in 1..=64usize {
            if sig != libc::SIGKILL as usize && sig != libc::SIGSTOP as usize {
                let _ = sys(
                    libc::SYS_rt_sigaction,
                    [sig, act.as_ptr() as usize, 0, 8, 0],
                );
            }
        }
        let empty = 0u64;
        let _ = sys(
            libc::SYS_rt_sigprocmask,
            [
                libc::SIG_SETMASK as usize,
                (&raw const empty) as usize,
                0,
                8,
                0,
            ],
        );
        if let Some(ruleset) = plan.landlock {
            check(
                fd,
                step::LANDLOCK,
                sys(
                    libc::SYS_landlock_restrict_self,
                    [ruleset as usize, 0, 0, 0, 0],
                ),
            );
        }
        if let Some(filter) = plan.seccomp {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr().cast_mut(),
            };
            let flags = if plan.seccomp_sock.is_some() {
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as usize
            } else {
                0
            };
            let listener = check(
                fd,
                step::SECCOMP,
                sys(
                    libc::SYS_seccomp,
                    [
                        libc::SECCOMP_SET_MODE_FILTER as usize,
                        flags,
                        (&raw const prog) as usize,
                        0,
                        0,
                    ],
                ),
            );
            if let Some(sock) = plan.seccomp_sock {
                // Hand the listener to the supervisor. Once sent, the descriptor in flight
                // keeps it open past our execve (a listener closed with nobody holding it
                // would turn refusals into ENOSYS); failing to send is fatal.
                if let Err(e) = send_fd(sock, listener as RawFd) {
                    fail(fd, step::SECCOMP, e);
                }
            }
        }
        // Every descriptor above 2 closes at execve (the report pipe stays usable until then).
        check(
            fd,
            step::CLOSE_FDS,
            sys(
                libc::SYS_close_range,
                [
                    3,
                    u32::MAX as usize,
                    libc::CLOSE_RANGE_CLOEXEC as usize,
                    0,
                    0,
                ],
            ),
        );
        let mut last = libc::ENOENT;
        for program in &plan.programs {
            let r = sys(
                libc::SYS_execve,
                [
                    program.as_ptr() as usize,
                    plan.argv.as_ptr() as usize,
                    plan.envp.as_ptr() as usize,
                    0,
                    0,
                ],
            );
            if let Err(e) = r {
                last = e;
                if e != libc::ENOENT && e != libc::ENOTDIR {
                    break;
                }
            }
        }
        fail(fd, step::EXEC, last)
    }
}

/// Child of [`super::calls::probe_unshare`]: exits 0 when `unshare(flags)` succeeds.
///
/// # Safety
/// Child process only.
pub(crate) unsafe fn probe_unshare_main(flags: c_int) -> ! {
    // SAFETY: integer argument.
    let ok = unsafe { sys(libc::SYS_unshare, [flags as usize, 0, 0, 0, 0]) }.is_ok();
    exit(i32::from(!ok))
}
