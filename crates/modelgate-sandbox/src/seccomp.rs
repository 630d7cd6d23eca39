//! The seccomp-bpf filter every contained command runs under.
//!
//! **Denylist, with unknown system calls refused.** A tool-using agent runs arbitrary
//! toolchains (shells, Python, compilers, package managers, test runners), so an allowlist
//! either breaks them or grows into docker's ~350-entry list, which is a denylist of ~40 in
//! disguise. The other layers (a user namespace with a non-root host uid, no capabilities,
//! `no_new_privs`, read-only mounts, landlock) already decide *what* a call may touch; this
//! filter removes the kernel interfaces that are the usual way *through* those layers:
//! mounting, namespaces, tracing, BPF, perf, keyrings, modules, kexec, `io_uring`,
//! userfaultfd, handle-based opens, terminal injection. Two rules keep it from decaying like a
//! plain denylist: any system call numbered above the newest one this build knows
//! (`MAX_KNOWN_SYSCALL`) fails with `ENOSYS`, so a future kernel interface is off until it has
//! been reviewed; and any architecture other than the native one kills the process (no
//! 32-bit or x32 entry points around the table).

use libc::sock_filter;

/// Highest system call number reviewed for this filter (Linux 6.18 numbering).
pub const MAX_KNOWN_SYSCALL: u32 = 470;

const RET_ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i // little-endian: the low word comes first
}

/// `CLONE_NEW*` flags refused in `clone` (clone3 is refused whole, so libc falls back to clone).
const CLONE_NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Ioctl requests refused: terminal input injection (TIOCSTI) and the Linux console's
/// selection paste (TIOCLINUX), which can inject too.
const DENIED_IOCTLS: [u32; 2] = [0x5412, 0x541C];

/// System calls that fail with `EPERM`, with the reason each is here.
pub fn denied_syscalls() -> Vec<(&'static str, i64)> {
    let mut v: Vec<(&'static str, i64)> = vec![
        // mounting and changing root: the mount tree is fixed by the supervisor
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("chroot", libc::SYS_chroot),
        ("open_tree", libc::SYS_open_tree),
        ("move_mount", libc::SYS_move_mount),
        ("fsopen", libc::SYS_fsopen),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fspick", libc::SYS_fspick),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("open_tree_attr", 467),
        // namespaces: no nested user namespace regains capabilities
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        // tracing and reading other processes
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("kcmp", libc::SYS_kcmp),
        ("pidfd_getfd", libc::SYS_pidfd_getfd),
        // large kernel attack surfaces
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("fanotify_init", libc::SYS_fanotify_init),
        // the kernel itself and the machine
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("kexec_load", libc::SYS_kexec_load),
        ("kexec_file_load", libc::SYS_kexec_file_load),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("acct", libc::SYS_acct),
        ("syslog", libc::SYS_syslog),
        ("vhangup", libc::SYS_vhangup),
        ("quotactl", libc::SYS_quotactl),
        ("quotactl_fd", 443),
        ("settimeofday", libc::SYS_settimeofday),
        ("clock_settime", libc::SYS_clock_settime),
        ("clock_adjtime", libc::SYS_clock_adjtime),
        ("adjtimex", libc::SYS_adjtimex),
        // file handles bypass path-based checks (the "shocker" container escape)
        ("name_to_handle_at", libc::SYS_name_to_handle_at),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        ("iopl", libc::SYS_iopl),
        ("ioperm", libc::SYS_ioperm),
        ("uselib", libc::SYS_uselib),
        ("_sysctl", libc::SYS__sysctl),
        ("lookup_dcookie", libc::SYS_lookup_dcookie),
        ("create_module", 174),
        ("nfsservctl", libc::SYS_nfsservctl),
    ]);
    v
}

/// A readable name for a refused call, for events.
#[allow(clippy::cast_sign_loss)] // the kernel's `nr` is the raw 32-bit register word
pub fn syscall_name(nr: i32, args: [u64; 6]) -> String {
    let nr64 = i64::from(nr);
    if nr64 == libc::SYS_ioctl {
        return match args[1] as u32 {
            0x5412 => "ioctl(TIOCSTI)".to_owned(),
            0x541C => "ioctl(TIOCLINUX)".to_owned(),
            other => format!("ioctl({other:#x})"),
        };
    }
    if nr64 == libc::SYS_clone {
        return "clone(namespace flags)".to_owned();
    }
    if nr as u32 & X32_SYSCALL_BIT != 0 {
        return format!("x32 system call {}", nr as u32 & !X32_SYSCALL_BIT);
    }
    denied_syscalls()
        .into_iter()
        .find(|(_, n)| *n == nr64)
        .map_or_else(|| format!("system call {nr}"), |(name, _)| name.to_owned())
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Builds the filter program. `None` on architectures this build has no table for.
pub fn filter() -> Option<Vec<sock_filter>> {
    filter_with(false)
}

/// The filter, with refused calls sent to the supervisor (`SECCOMP_RET_USER_NOTIF`) when
/// `notify` is set, so that each attempt becomes an event before it fails with `EPERM`.
/// (`ENOSYS` answers — `clone3`, unknown numbers — stay in the kernel: libc probes them.)
pub fn filter_with(notify: bool) -> Option<Vec<sock_filter>> {
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        return None;
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        Some(build(AUDIT_ARCH, notify))
    }
}

/// Targets of forward jumps, resolved once the program's length is known.
#[derive(Clone, Copy)]
enum Target {
    Eperm,
    Enosys,
    Clone,
    Ioctl,
}

#[allow(clippy::cast_sign_loss)]
fn build(arch: u32, notify: bool) -> Vec<sock_filter> {
    let denied = denied_syscalls();
    // Main chain: (instruction, optional jump-if-true target).
    let mut chain: Vec<(sock_filter, Option<Target>)> = vec![
        (stmt(LD_W_ABS, OFF_ARCH), None),
        (jump(JEQ_K, arch, 1, 0), None),
        (stmt(RET_K, RET_KILL_PROCESS), None),
        (stmt(LD_W_ABS, OFF_NR), None),
        (jump(JGE_K, X32_SYSCALL_BIT, 0, 0), Some(Target::Eperm)),
        (
            jump(JGE_K, MAX_KNOWN_SYSCALL + 1, 0, 0),
            Some(Target::Enosys),
        ),
        (
            jump(JEQ_K, libc::SYS_clone3 as u32, 0, 0),
            Some(Target::Enosys),
        ),
        (
            jump(JEQ_K, libc::SYS_clone as u32, 0, 0),
            Some(Target::Clone),
        ),
        (
            jump(JEQ_K, libc::SYS_ioctl as u32, 0, 0),
            Some(Target::Ioctl),
        ),
    ];
    for (_, nr) in &denied {
        chain.push((jump(JEQ_K, *nr as u32, 0, 0), Some(Target::Eperm)));
    }
    chain.push((stmt(RET_K, RET_ALLOW), None));
    let allow_at = chain.len() - 1;
    // Tail blocks.
    let clone_at = chain.len();
    let mut tail = vec![
        stmt(LD_W_ABS, off_arg_lo(0)),
        jump(JSET_K, CLONE_NS_FLAGS, 0, 0), // patched below: true → EPERM, false → ALLOW
    ];
    let ioctl_at = clone_at + tail.len();
    tail.push(stmt(LD_W_ABS, off_arg_lo(1)));
    for req in DENIED_IOCTLS {
        tail.push(jump(JEQ_K, req, 0, 0)); // patched below: true → EPERM
    }
    tail.push(stmt(RET_K, RET_ALLOW));
    let eperm_at = clone_at + tail.len();
    tail.push(stmt(
        RET_K,
        if notify {
            RET_USER_NOTIF
        } else {
            RET_ERRNO | libc::EPERM as u32
        },
    ));
    let enosys_at = eperm_at + 1;
    tail.push(stmt(RET_K, RET_ERRNO | libc::ENOSYS as u32));

    let rel = |from: usize, to: usize| -> u8 {
        let d = to - from - 1;
        u8::try_from(d).unwrap_or(u8::MAX) // the program is far shorter than 255 jumps
    };
    let mut prog: Vec<sock_filter> = Vec::with_capacity(chain.len() + tail.len());
    for (i, (mut ins, target)) in chain.into_iter().enumerate() {
        if let Some(t) = target {
            let to = match t {
                Target::Eperm => eperm_at,
                Target::Enosys => enosys_at,
                Target::Clone => clone_at,
                Target::Ioctl => ioctl_at,
            };
            ins.jt = rel(i, to);
        }
        prog.push(ins);
    }
    let _ = allow_at;
    for (j, mut ins) in tail.into_iter().enumerate() {
        let i = clone_at + j;
        if ins.code == JSET_K {
            ins.jt = rel(i, eperm_at);
            ins.jf = rel(i, ioctl_at - 1 + 1 + DENIED_IOCTLS.len() + 1); // the ioctl block's ALLOW
        } else if ins.code == JEQ_K {
            ins.jt = rel(i, eperm_at);
        }
        prog.push(ins);
    }
    prog
}

#[cfg(test)]
#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// A tiny classic-BPF interpreter for the subset we emit, to check the program's meaning.
    fn run(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            match ins.code {
                LD_W_ABS => {
                    let k = ins.k as usize;
                    acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                JEQ_K | JGE_K | JSET_K => {
                    let t = match ins.code {
                        JEQ_K => acc == ins.k,
                        JGE_K => acc >= ins.k,
                        _ => acc & ins.k != 0,
                    };
                    pc += 1 + usize::from(if t { ins.jt } else { ins.jf });
                }
                RET_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn program_means_what_the_docs_say() {
        let prog = build(AUDIT_ARCH, false);
        assert!(prog.len() < 200);
        let eperm = RET_ERRNO | libc::EPERM as u32;
        let enosys = RET_ERRNO | libc::ENOSYS as u32;
        let call = |nr: i64, args: [u64; 6]| run(&prog, AUDIT_ARCH, nr as u32, args);
        assert_eq!(call(libc::SYS_read, [0; 6]), RET_ALLOW);
        assert_eq!(call(libc::SYS_execve, [0; 6]), RET_ALLOW);
        for (name, nr) in denied_syscalls() {
            assert_eq!(call(nr, [0; 6]), eperm, "{name}");
        }
        assert_eq!(call(libc::SYS_clone3, [0; 6]), enosys);
        assert_eq!(call(471, [0; 6]), enosys);
        assert_eq!(run(&prog, AUDIT_ARCH, X32_SYSCALL_BIT | 1, [0; 6]), eperm);
        // clone: plain fork/thread allowed, any namespace flag refused
        assert_eq!(
            call(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            call(libc::SYS_clone, [0x003d_0f00, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            call(
                libc::SYS_clone,
                [libc::CLONE_NEWUSER as u64 | 0x11, 0, 0, 0, 0, 0]
            ),
            eperm
        );
        assert_eq!(
            call(libc::SYS_clone, [libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]),
            eperm
        );
        // ioctl: TIOCSTI refused even with high bits set in the request word
        assert_eq!(call(libc::SYS_ioctl, [0, 0x5412, 0, 0, 0, 0]), eperm);
        assert_eq!(
            call(libc::SYS_ioctl, [0, 0xffff_ffff_0000_5412, 0, 0, 0, 0]),
            eperm
        );
        assert_eq!(call(libc::SYS_ioctl, [0, 0x541C, 0, 0, 0, 0]), eperm);
        assert_eq!(call(libc::SYS_ioctl, [0, 0x5401, 0, 0, 0, 0]), RET_ALLOW); // TCGETS
        // another architecture: killed
        assert_eq!(
            run(&prog, 0x4000_0003, libc::SYS_read as u32, [0; 6]),
            RET_KILL_PROCESS
        );
    }

    #[test]
    fn notification_variant_routes_refusals_to_the_supervisor() {
        let prog = build(AUDIT_ARCH, true);
        let enosys = RET_ERRNO | libc::ENOSYS as u32;
        let call = |nr: i64, args: [u64; 6]| run(&prog, AUDIT_ARCH, nr as u32, args);
        assert_eq!(call(libc::SYS_ptrace, [0; 6]), RET_USER_NOTIF);
        assert_eq!(
            call(libc::SYS_ioctl, [0, 0x5412, 0, 0, 0, 0]),
            RET_USER_NOTIF
        );
        assert_eq!(
            call(libc::SYS_clone, [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]),
            RET_USER_NOTIF
        );
        assert_eq!(call(libc::SYS_clone3, [0; 6]), enosys);
        assert_eq!(call(libc::SYS_read, [0; 6]), RET_ALLOW);
    }

    #[test]
    fn names_for_events() {
        assert_eq!(syscall_name(libc::SYS_ptrace as i32, [0; 6]), "ptrace");
        assert_eq!(
            syscall_name(libc::SYS_ioctl as i32, [0, 0x5412, 0, 0, 0, 0]),
            "ioctl(TIOCSTI)"
        );
        assert_eq!(
            syscall_name(libc::SYS_clone as i32, [0; 6]),
            "clone(namespace flags)"
        );
        assert_eq!(syscall_name(0x4000_0001, [0; 6]), "x32 system call 1");
    }
}
