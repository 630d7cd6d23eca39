//! The hostile side: run *inside* the sandbox as `/probe/escape --probe <op> [args]`. Each
//! operation prints `name=outcome` lines, where the outcome is `ok` or the errno's name, so the
//! tests can assert the exact contained result of every attempt.
//!
//! This file issues raw system calls on purpose (ptrace, bpf, mount, …): that is what an
//! untrusted model would do, and what the suite checks the sandbox refuses.

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub(crate) fn errno_name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        _ => return format!("E{e}"),
    };
    n.to_owned()
}

fn last() -> String {
    errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn io(e: &std::io::Error) -> String {
    e.raw_os_error().map_or_else(|| e.to_string(), errno_name)
}

fn res<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => io(&e),
    }
}

/// Result of a raw syscall: "ok" or the errno name.
fn sys(r: libc::c_long) -> String {
    if r < 0 { last() } else { "ok".to_owned() }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn open_write(path: &str) -> String {
    res(std::fs::OpenOptions::new().write(true).open(path))
}

pub(crate) fn run(args: &[String]) -> i32 {
    let op = args.first().map_or("", String::as_str);
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match op {
        "read" => {
            for p in &args[1..] {
                let r = std::fs::read(p)
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(64)]).into_owned());
                let _ = writeln!(
                    out,
                    "{p}={}",
                    match r {
                        Ok(s) => format!("ok:{}", s.replace('\n', "\\n")),
                        Err(e) => io(&e),
                    }
                );
            }
        }
        "write" => {
            for p in &args[1..] {
                let r = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(p)
                    .and_then(|mut f| f.write_all(b"x"));
                let _ = writeln!(out, "{p}={}", res(r));
            }
        }
        "open-write" => {
            for p in &args[1..] {
                let _ = writeln!(out, "{p}={}", open_write(p));
            }
        }
        "mkdir" => {
            for p in &args[1..] {
                let _ = writeln!(out, "{p}={}", res(std::fs::create_dir(p)));
            }
        }
        "environ" => {
            // Our own environment, then every readable /proc/*/environ.
            for (k, v) in std::env::vars() {
                let _ = writeln!(out, "env:{k}={v}");
            }
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.parse::<u32>().is_ok() || name == "self" {
                    let r = std::fs::read(format!("/proc/{name}/environ"));
                    let _ = writeln!(
                        out,
                        "proc:{name}={}",
                        match r {
                            Ok(b) =>
                                format!("ok:{}", String::from_utf8_lossy(&b).replace('\0', ";")),
                            Err(e) => io(&e),
                        }
                    );
                }
            }
        }
        "connect" => {
            for a in &args[1..] {
                let addr: SocketAddr = a.parse().unwrap();
                let _ = writeln!(
                    out,
                    "{a}={}",
                    res(TcpStream::connect_timeout(&addr, Duration::from_secs(2)))
                );
            }
        }
        "unix" => {
            for p in &args[1..] {
                let r = if let Some(name) = p.strip_prefix('@') {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                        .and_then(|a| std::os::unix::net::UnixStream::connect_addr(&a))
                } else {
                    std::os::unix::net::UnixStream::connect(p)
                };
                let _ = writeln!(out, "{p}={}", res(r));
            }
        }
        "status" => {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            for l in s.lines() {
                if ["Uid", "Gid", "Groups", "Cap", "NoNewPrivs", "Seccomp"]
                    .iter()
                    .any(|k| l.starts_with(k))
                {
                    let _ = writeln!(out, "{}", l.replace(":\t", "=").replace('\t', " "));
                }
            }
            for f in ["uid_map", "gid_map", "setgroups"] {
                let m = std::fs::read_to_string(format!("/proc/self/{f}")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{f}={}",
                    m.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            let _ = writeln!(
                out,
                "hostname={}",
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .unwrap_or_default()
                    .trim()
            );
            let _ = writeln!(out, "pid={}", std::process::id());
            for fd in 0..3 {
                // SAFETY: isatty on a small integer is always safe.
                let _ = writeln!(out, "isatty{fd}={}", unsafe { libc::isatty(fd) });
            }
        }
        "procs" => {
            // Every visible process and every descriptor link in /proc.
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.parse::<u32>().is_err() {
                    continue;
                }
                let uid = std::fs::read_to_string(format!("/proc/{name}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("Uid:"))
                            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
                    })
                    .unwrap_or_default();
                let _ = writeln!(out, "pid:{name}=uid:{uid}");
                if let Ok(fds) = std::fs::read_dir(format!("/proc/{name}/fd")) {
                    for fd in fds.flatten() {
                        let target = std::fs::read_link(fd.path())
                            .map_or_else(|e| io(&e), |p| p.display().to_string());
                        let _ = writeln!(
                            out,
                            "fd:{name}/{}={target}",
                            fd.file_name().to_string_lossy()
                        );
                    }
                }
            }
            for p in ["/proc/self/exe", "/proc/1/exe"] {
                let _ = writeln!(out, "write:{p}={}", open_write(p));
            }
            let _ = writeln!(
                out,
                "root:/proc/1/root={}",
                std::fs::read_link("/proc/1/root")
                    .map_or_else(|e| io(&e), |p| p.display().to_string())
            );
            let _ = writeln!(
                out,
                "read:/proc/1/root/etc/shadow={}",
                res(std::fs::read("/proc/1/root/etc/shadow"))
            );
            let sup = arg(1);
            if !sup.is_empty() {
                let _ = writeln!(
                    out,
                    "supervisor=/proc/{sup}/environ:{}",
                    res(std::fs::read(format!("/proc/{sup}/environ")))
                );
            }
        }
        "syscalls" => syscalls(&mut out),
        "forkbomb" => {
            let max: usize = arg(1).parse().unwrap_or(1000);
            let mut n = 0;
            let mut err = "none".to_owned();
            for _ in 0..max {
                // SAFETY: the child only sleeps and exits; no locks are touched.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: plain libc calls in the child.
                    unsafe {
                        libc::sleep(30);
                        libc::_exit(0);
                    }
                }
                if pid < 0 {
                    err = last();
                    break;
                }
                n += 1;
            }
            let _ = writeln!(out, "forks={n}\nerror={err}");
        }
        "membomb" => {
            let mb: usize = arg(1).parse().unwrap_or(1024);
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            for i in 0..mb {
                chunks.push(vec![(i % 251) as u8 + 1; 1 << 20]);
                if i % 16 == 0 {
                    let _ = writeln!(out, "allocated={i}");
                    let _ = out.flush();
                }
            }
            let _ = writeln!(out, "survived={}", chunks.len());
        }
        "fill" => {
            for p in &args[1..] {
                let mut f = std::fs::File::create(p).unwrap();
                let block = vec![7u8; 1 << 20];
                let mut total = 0u64;
                let outcome = loop {
                    match f.write(&block) {
                        Ok(0) => break "zero".to_owned(),
                        Ok(n) => total += n as u64,
                        Err(e) => break io(&e),
                    }
                    if total > 4 << 30 {
                        break "unbounded".to_owned();
                    }
                };
                let _ = writeln!(out, "{p}={outcome} bytes={total}");
            }
        }
        "flood" => {
            let n: usize = arg(1).parse().unwrap_or(1 << 20);
            let block = vec![b'A'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(block.len());
                if out.write_all(&block[..k]).is_err() {
                    break;
                }
                left -= k;
            }
        }
        "spin" => loop {
            std::hint::spin_loop();
        },
        "symlinks" => {
            for (link, target) in [
                ("passwd", "/etc/passwd"),
                ("root", "/"),
                ("up", "/proc/1/root"),
                ("dotdot", "../../.."),
            ] {
                let _ = writeln!(
                    out,
                    "{link}={}",
                    res(std::os::unix::fs::symlink(
                        target,
                        format!("/workspace/{link}")
                    ))
                );
            }
            std::fs::write("/workspace/plain.txt", b"kept").unwrap();
        }
        "http" => {
            // arg1: proxy address, arg2: raw request line target, e.g. "CONNECT a.b:443" or "GET http://h:p/"
            let mut s =
                TcpStream::connect_timeout(&arg(1).parse().unwrap(), Duration::from_secs(3))
                    .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(s, "{} HTTP/1.1\r\nHost: x\r\n\r\n", arg(2)).unwrap();
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp);
            let text = String::from_utf8_lossy(&resp);
            let _ = writeln!(out, "status={}", text.lines().next().unwrap_or("").trim());
            let _ = writeln!(
                out,
                "body={}",
                text.split("\r\n\r\n").nth(1).unwrap_or("").trim()
            );
        }
        "tunnel" => {
            // arg1: proxy address, arg2: host:port to CONNECT to; then HTTP through the tunnel.
            let mut s =
                TcpStream::connect_timeout(&arg(1).parse().unwrap(), Duration::from_secs(3))
                    .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(s, "CONNECT {} HTTP/1.1\r\nHost: {}\r\n\r\n", arg(2), arg(2)).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let _ = writeln!(out, "status={}", head.lines().next().unwrap_or("").trim());
            write!(s, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp);
            let text = String::from_utf8_lossy(&resp);
            let _ = writeln!(out, "tunnel={}", text.lines().next().unwrap_or("").trim());
            let _ = writeln!(
                out,
                "body={}",
                text.split("\r\n\r\n").nth(1).unwrap_or("").trim()
            );
        }
        other => {
            let _ = writeln!(out, "unknown probe {other}");
            return 2;
        }
    }
    0
}

fn syscalls(out: &mut impl Write) {
    let null = std::ptr::null::<libc::c_void>();
    let mut r = |name: &str, v: String| {
        let _ = writeln!(out, "{name}={v}");
    };
    // SAFETY (whole block): each call passes NULL, small integers or pointers to live stack
    // values; the kernel (or the sandbox) refuses them, which is what is being tested.
    unsafe {
        // ptrace a child of our own
        let child = libc::fork();
        if child == 0 {
            libc::sleep(5);
            libc::_exit(0);
        }
        r(
            "ptrace_attach",
            sys(libc::ptrace(libc::PTRACE_ATTACH, child, null, null)),
        );
        r(
            "ptrace_traceme",
            sys(libc::ptrace(libc::PTRACE_TRACEME, 0, null, null)),
        );
        let mut buf = [0u8; 8];
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: 8,
        };
        let remote = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: 8,
        };
        r(
            "process_vm_readv",
            sys(
                libc::process_vm_readv(child, &raw const local, 1, &raw const remote, 1, 0)
                    as libc::c_long,
            ),
        );
        libc::kill(child, libc::SIGKILL);
        libc::waitpid(child, std::ptr::null_mut(), 0);

        r(
            "mount_tmpfs",
            sys(libc::mount(
                c("none").as_ptr(),
                c("/tmp").as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                null,
            )
            .into()),
        );
        r(
            "mount_bind",
            sys(libc::mount(
                c("/").as_ptr(),
                c("/workspace").as_ptr(),
                null.cast(),
                libc::MS_BIND,
                null,
            )
            .into()),
        );
        r(
            "umount_proc",
            sys(libc::umount2(c("/proc").as_ptr(), libc::MNT_DETACH).into()),
        );
        r(
            "unshare_user",
            sys(libc::unshare(libc::CLONE_NEWUSER).into()),
        );
        r(
            "unshare_mount",
            sys(libc::unshare(libc::CLONE_NEWNS).into()),
        );
        r("unshare_net", sys(libc::unshare(libc::CLONE_NEWNET).into()));
        let fd = libc::open(c("/proc/self/ns/net").as_ptr(), libc::O_RDONLY);
        r("setns", sys(libc::setns(fd, libc::CLONE_NEWNET).into()));
        r(
            "clone_newuser",
            sys(libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_NEWUSER | libc::SIGCHLD) as usize,
                0,
                0,
                0,
                0,
            )),
        );
        r("clone3", sys(libc::syscall(libc::SYS_clone3, null, 0)));
        r("chroot", sys(libc::chroot(c("/tmp").as_ptr()).into()));
        r(
            "pivot_root",
            sys(libc::syscall(
                libc::SYS_pivot_root,
                c("/tmp").as_ptr(),
                c("/tmp").as_ptr(),
            )),
        );
        r("bpf", sys(libc::syscall(libc::SYS_bpf, 0, null, 0)));
        let mut attr = [0u8; 128];
        attr[4..8].copy_from_slice(&128u32.to_ne_bytes());
        r(
            "perf_event_open",
            sys(libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                0,
                -1,
                -1,
                0,
            )),
        );
        r(
            "keyctl",
            sys(libc::syscall(
                libc::SYS_keyctl,
                0,  /* GET_KEYRING_ID */
                -3, /* session */
                0,
            )),
        );
        r(
            "add_key",
            sys(libc::syscall(
                libc::SYS_add_key,
                c("user").as_ptr(),
                c("k").as_ptr(),
                c("v").as_ptr(),
                1,
                -3,
            )),
        );
        let mut params = [0u8; 120];
        r(
            "io_uring_setup",
            sys(libc::syscall(
                libc::SYS_io_uring_setup,
                1,
                params.as_mut_ptr(),
            )),
        );
        r("userfaultfd", sys(libc::syscall(libc::SYS_userfaultfd, 0)));
        r(
            "init_module",
            sys(libc::syscall(
                libc::SYS_init_module,
                null,
                0,
                c("").as_ptr(),
            )),
        );
        r(
            "finit_module",
            sys(libc::syscall(libc::SYS_finit_module, 0, c("").as_ptr(), 0)),
        );
        r(
            "delete_module",
            sys(libc::syscall(
                libc::SYS_delete_module,
                c("loop").as_ptr(),
                0,
            )),
        );
        r(
            "kexec_load",
            sys(libc::syscall(libc::SYS_kexec_load, 0, 0, null, 0)),
        );
        r(
            "open_by_handle_at",
            sys(libc::syscall(
                libc::SYS_open_by_handle_at,
                libc::AT_FDCWD,
                null,
                0,
            )),
        );
        let ch = b'x';
        r(
            "tiocsti_stdin",
            sys(libc::ioctl(0, libc::TIOCSTI, &ch).into()),
        );
        r(
            "socket_raw",
            sys(libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP).into()),
        );
        r(
            "socket_packet",
            sys(libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0).into()),
        );
        r(
            "reboot",
            sys(libc::syscall(
                libc::SYS_reboot,
                0xfee1_deadu32,
                0x2812_1969,
                0x4321_FEDC,
                0,
            )),
        );
        r(
            "syslog",
            sys(libc::syscall(libc::SYS_syslog, 3, buf.as_mut_ptr(), 8)),
        );
        r(
            "swapon",
            sys(libc::syscall(libc::SYS_swapon, c("/tmp/swap").as_ptr(), 0)),
        );
        r("setuid0", sys(libc::syscall(libc::SYS_setuid, 0)));
        r("future_syscall_471", sys(libc::syscall(471)));
        r(
            "sethostname",
            sys(libc::sethostname(c("x").as_ptr(), 1).into()),
        );
    }
}
