//! One function per hostile behaviour. Each asserts the exact contained outcome.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use modelgate_sandbox::{Event, ExecOptions, Stream};

use crate::{SECRET, SECRET_VALUE, sandbox};

pub(crate) const ALL: &[(&str, fn())] = &[
    (
        "runs_as_mapped_nobody_with_no_privilege",
        runs_as_mapped_nobody_with_no_privilege,
    ),
    (
        "host_files_outside_the_workspace_are_not_there",
        host_files_outside_the_workspace_are_not_there,
    ),
    (
        "parent_environment_never_reaches_the_sandbox",
        parent_environment_never_reaches_the_sandbox,
    ),
    (
        "host_loopback_and_other_addresses_are_unreachable",
        host_loopback_and_other_addresses_are_unreachable,
    ),
    (
        "writes_outside_the_workspace_fail",
        writes_outside_the_workspace_fail,
    ),
    (
        "proc_sys_and_kernel_knobs_are_read_only",
        proc_sys_and_kernel_knobs_are_read_only,
    ),
    (
        "proc_exe_root_and_fd_tricks_find_nothing",
        proc_exe_root_and_fd_tricks_find_nothing,
    ),
    (
        "dangerous_system_calls_are_refused",
        dangerous_system_calls_are_refused,
    ),
    ("no_terminal_to_inject_into", no_terminal_to_inject_into),
    (
        "setuid_binaries_do_not_elevate",
        setuid_binaries_do_not_elevate,
    ),
    (
        "fork_bomb_stops_at_the_process_limit",
        fork_bomb_stops_at_the_process_limit,
    ),
    (
        "memory_bomb_is_killed_at_the_limit",
        memory_bomb_is_killed_at_the_limit,
    ),
    (
        "disk_fill_stops_at_the_tmpfs_caps",
        disk_fill_stops_at_the_tmpfs_caps,
    ),
    (
        "sleeping_past_the_limit_is_killed_with_its_children",
        sleeping_past_the_limit_is_killed_with_its_children,
    ),
    (
        "cpu_time_limit_kills_a_spinner",
        cpu_time_limit_kills_a_spinner,
    ),
    (
        "stdout_flood_is_capped_with_a_marker",
        stdout_flood_is_capped_with_a_marker,
    ),
    (
        "symlinks_out_of_the_workspace_are_never_followed",
        symlinks_out_of_the_workspace_are_never_followed,
    ),
    ("host_sockets_are_unreachable", host_sockets_are_unreachable),
    (
        "workspace_is_shared_and_teardown_leaves_nothing",
        workspace_is_shared_and_teardown_leaves_nothing,
    ),
    (
        "egress_proxy_admits_the_allowlist_and_refuses_the_rest",
        egress_proxy_admits_the_allowlist_and_refuses_the_rest,
    ),
    (
        "minimal_dev_and_private_hostname",
        minimal_dev_and_private_hostname,
    ),
    (
        "a_rootfs_directory_becomes_the_read_only_root",
        a_rootfs_directory_becomes_the_read_only_root,
    ),
    (
        "binds_are_read_only_unless_marked_writable",
        binds_are_read_only_unless_marked_writable,
    ),
];

fn has_event(events: &[Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(f)
}

fn runs_as_mapped_nobody_with_no_privilege() {
    let mut p = sandbox("");
    let o = p.run(&["status"]);
    o.expect("Uid", "65534 65534 65534 65534");
    o.expect("Gid", "65534 65534 65534 65534");
    o.expect("Groups", "");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        o.expect(cap, "0000000000000000");
    }
    o.expect("NoNewPrivs", "1");
    o.expect("Seccomp", "2");
    // Inside 0 and 65534 map to two dedicated unprivileged host ids — never host root.
    let host_uid = p.sandbox.policy().isolation.host_uid;
    o.expect(
        "uid_map",
        &format!("0 {host_uid} 1 65534 {} 1", host_uid + 1),
    );
    assert_ne!(host_uid, 0);
}

fn host_files_outside_the_workspace_are_not_there() {
    let dir = tempfile::Builder::new()
        .prefix("modelgate-escape-")
        .tempdir_in("/tmp")
        .unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let secret = secret.to_str().unwrap();
    let mut p = sandbox("");
    let o = p.run(&[
        "read",
        secret,
        "/root/.bashrc",
        "/etc/shadow",
        "/home",
        "/var/log/syslog",
        "/sys/kernel/notes",
    ]);
    o.expect(secret, "ENOENT"); // the sandbox's /tmp is its own tmpfs
    o.expect("/root/.bashrc", "ENOENT"); // not bound at all
    o.expect("/etc/shadow", "EACCES"); // bound read-only, but root:shadow 0640 and we are nobody
    o.expect("/var/log/syslog", "ENOENT");
    o.expect("/sys/kernel/notes", "ENOENT"); // no /sys
}

fn parent_environment_never_reaches_the_sandbox() {
    assert_eq!(std::env::var(SECRET).as_deref(), Ok(SECRET_VALUE));
    let mut p = sandbox("");
    // sh as PID 1, so the probe also reads another process's /proc/<pid>/environ
    let o = p.exec(&["/bin/sh", "-c", "/probe/escape --probe environ; true"]);
    let text = o.result.stdout_text();
    assert!(
        !text.contains(SECRET_VALUE) && !text.contains(SECRET),
        "{text}"
    );
    let env: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("env:"))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    let mut env = env;
    env.retain(|k| *k != "PWD" && *k != "SHLVL" && *k != "_"); // set by sh itself
    env.sort_unstable();
    assert_eq!(env, ["HOME", "LANG", "PATH", "TMPDIR", "USER"], "{text}");
    // PID 1 is the command itself: the supervisor is outside the PID namespace.
    assert!(
        o.lines.get("proc:1").is_some_and(|v| v.starts_with("ok:")),
        "{text}"
    );
}

fn host_primary_ip() -> Option<std::net::IpAddr> {
    // A UDP "connect" only selects a route and source address; no packet is sent.
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

fn host_loopback_and_other_addresses_are_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let loopback = format!("127.0.0.1:{port}");
    let v6 = format!("[::1]:{port}");
    let mut args = vec!["connect".to_owned(), loopback.clone(), v6.clone()];
    let host_ip = host_primary_ip().map(|ip| format!("{ip}:{port}"));
    if let Some(h) = &host_ip {
        args.push(h.clone());
    }
    let mut p = sandbox("");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = p.run(&argv);
    o.expect(&loopback, "ECONNREFUSED"); // the sandbox's own loopback: nothing listens there
    let v6r = o.get(&v6);
    assert!(
        v6r == "ECONNREFUSED" || v6r == "EADDRNOTAVAIL" || v6r == "ENETUNREACH",
        "{v6r}"
    );
    if let Some(h) = &host_ip {
        o.expect(h, "ENETUNREACH"); // no route out of the namespace at all
    }
    assert!(
        listener.accept().is_err(),
        "the host listener must never see a connection"
    );
}

fn writes_outside_the_workspace_fail() {
    let mut p = sandbox("");
    let o = p.run(&[
        "write",
        "/etc/modelgate",
        "/usr/bin/modelgate",
        "/modelgate",
        "/proc/modelgate",
        "/dev/modelgate",
        "/workspace/ok",
        "/tmp/ok",
    ]);
    o.expect("/etc/modelgate", "EROFS");
    o.expect("/usr/bin/modelgate", "EROFS");
    o.expect("/modelgate", "EROFS");
    o.expect("/proc/modelgate", "ENOENT");
    o.expect("/dev/modelgate", "EACCES");
    o.expect("/workspace/ok", "ok");
    o.expect("/tmp/ok", "ok");
    let o = p.run(&["open-write", "/usr/bin/sh", "/etc/passwd"]);
    o.expect("/usr/bin/sh", "EACCES");
    o.expect("/etc/passwd", "EACCES");
}

fn proc_sys_and_kernel_knobs_are_read_only() {
    let mut p = sandbox("");
    let knobs = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv4/ping_group_range",
        "/proc/sysrq-trigger",
    ];
    let mut args = vec!["open-write"];
    args.extend(knobs);
    let o = p.run(&args);
    // Owned by host root (unmapped here): the sandbox user may not open them for writing;
    // /proc/sys is also a read-only mount, and landlock grants no write beneath /proc.
    for k in [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv4/ping_group_range",
    ] {
        o.expect(k, "EACCES");
    }
    // Not shown at all outside the initial user namespace.
    o.expect("/proc/sys/kernel/modprobe", "ENOENT");
    o.expect("/proc/sysrq-trigger", "ENOENT");
}

fn proc_exe_root_and_fd_tricks_find_nothing() {
    let mut p = sandbox("");
    let supervisor = std::process::id().to_string();
    let o = p.exec(&[
        "/bin/sh",
        "-c",
        &format!("/probe/escape --probe procs {supervisor}; true"),
    ]);
    let text = o.result.stdout_text();
    // Only the command's own processes are visible, all as the sandbox user.
    let pids: Vec<(&String, &String)> = o
        .lines
        .iter()
        .filter(|(k, _)| k.starts_with("pid:"))
        .collect();
    assert!(!pids.is_empty() && pids.len() <= 3, "{text}");
    assert!(
        pids.iter().all(|(_, v)| v.as_str() == "uid:65534"),
        "{text}"
    );
    // Descriptors lead only to pipes, /dev/null and the sandbox's own files.
    for (k, v) in o.lines.iter().filter(|(k, _)| k.starts_with("fd:")) {
        let ok =
            v.starts_with("pipe:") || v == "/dev/null" || v.starts_with("/proc") || v == "ENOENT";
        assert!(ok, "{k} -> {v}\n{text}");
    }
    o.expect("write:/proc/self/exe", "EACCES"); // the binary is host root's, on a read-only bind
    o.expect("write:/proc/1/exe", "EACCES");
    o.expect("root:/proc/1/root", "/");
    o.expect("read:/proc/1/root/etc/shadow", "EACCES");
    o.expect("supervisor", &format!("/proc/{supervisor}/environ:ENOENT"));
}

fn dangerous_system_calls_are_refused() {
    let mut p = sandbox("");
    let o = p.run(&["syscalls"]);
    for call in [
        "ptrace_attach",
        "ptrace_traceme",
        "process_vm_readv",
        "mount_tmpfs",
        "mount_bind",
        "umount_proc",
        "unshare_user",
        "unshare_mount",
        "unshare_net",
        "setns",
        "clone_newuser",
        "chroot",
        "pivot_root",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "io_uring_setup",
        "userfaultfd",
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "open_by_handle_at",
        "tiocsti_stdin",
        "reboot",
        "syslog",
        "swapon",
        "setuid0",
        "sethostname",
    ] {
        o.expect(call, "EPERM");
    }
    o.expect("clone3", "ENOSYS"); // so libc falls back to clone, whose flags the filter sees
    o.expect("future_syscall_471", "ENOSYS");
    o.expect("socket_raw", "EPERM"); // no CAP_NET_RAW
    o.expect("socket_packet", "EPERM");
    // Each refusal by the filter is also an event with a count and the first time.
    let denied: std::collections::BTreeMap<&str, u64> = o
        .result
        .events
        .iter()
        .filter_map(|e| match e {
            Event::SyscallDenied {
                syscall,
                count,
                first_at,
            } => {
                assert!(first_at.ends_with('Z'));
                Some((syscall.as_str(), *count))
            }
            _ => None,
        })
        .collect();
    for call in [
        "ptrace",
        "process_vm_readv",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "clone(namespace flags)",
        "chroot",
        "pivot_root",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "io_uring_setup",
        "userfaultfd",
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "open_by_handle_at",
        "ioctl(TIOCSTI)",
        "reboot",
        "syslog",
        "swapon",
    ] {
        assert!(
            denied.contains_key(call),
            "no syscall_denied event for {call}: {denied:?}"
        );
    }
    assert_eq!(denied["ptrace"], 2); // attach + traceme
    assert_eq!(denied["mount"], 2);
    assert_eq!(denied["unshare"], 3);
    // Refusals by missing capabilities (raw sockets, setuid) are the kernel's, not events.
    assert!(!denied.contains_key("socket"));
}

fn no_terminal_to_inject_into() {
    let mut p = sandbox("");
    let o = p.run(&[
        "read",
        "/dev/tty",
        "/dev/console",
        "/dev/ptmx",
        "/dev/pts/0",
    ]);
    for d in ["/dev/tty", "/dev/console", "/dev/ptmx", "/dev/pts/0"] {
        o.expect(d, "ENOENT");
    }
    let o = p.run(&["status"]);
    for fd in 0..3 {
        o.expect(&format!("isatty{fd}"), "0");
    }
    // TIOCSTI itself is refused by seccomp even on a descriptor that is a terminal.
    let o = p.run(&["syscalls"]);
    o.expect("tiocsti_stdin", "EPERM");
}

fn setuid_binaries_do_not_elevate() {
    let mut p = sandbox("");
    // mount(8) is setuid root on the host; nosuid mounts and no_new_privs keep it uid 65534.
    let o = p.exec(&["/usr/bin/mount", "-t", "tmpfs", "none", "/workspace"]);
    assert_eq!(o.result.exit_code, Some(32), "{}", o.result.stderr_text());
    assert!(
        o.result.stderr_text().contains("must be superuser"),
        "{}",
        o.result.stderr_text()
    );
    let o = p.exec(&[
        "/bin/sh",
        "-c",
        "/usr/bin/su -c id root </dev/null; echo status=$?",
    ]);
    assert_ne!(o.get("status"), "0", "{}", o.result.stdout_text());
}

fn fork_bomb_stops_at_the_process_limit() {
    let mut p = sandbox("limits:\n  processes: 24\n");
    let o = p.run(&["forkbomb", "5000"]);
    let forks: usize = o.get("forks").parse().unwrap();
    o.expect("error", "EAGAIN");
    assert!(forks < 24, "{forks} forks");
    assert!(
        has_event(
            &o.result.events,
            |e| matches!(e, Event::ProcessLimit { limit: 24, refused } if *refused >= 1)
        ),
        "{:?}",
        o.result
    );
    // The forked children died with the command (its PID namespace went with it).
    assert!(o.result.wall_time_ms < 10_000.0);
    let o = p.exec(&["/bin/true"]);
    assert_eq!(o.result.exit_code, Some(0));
}

fn memory_bomb_is_killed_at_the_limit() {
    // The supervisor is far bigger than the bomb: the memory-limit kill must still pick the
    // bomb (the spawner thread sits in the sandbox's memory cgroup, but the OOM killer only
    // weighs thread-group leaders there, and the supervisor's leader is not in it).
    let ballast: Vec<u8> = vec![1u8; 256 << 20];
    let mut p = sandbox("limits:\n  memory: 64MiB\n");
    let o = p.run(&["membomb", "1024"]);
    assert_eq!(
        o.result.signal.as_deref(),
        Some("SIGKILL"),
        "{:?}",
        o.result
    );
    assert!(!o.lines.contains_key("survived"));
    assert!(
        has_event(
            &o.result.events,
            |e| matches!(e, Event::MemoryLimit { limit_bytes, kills } if *limit_bytes == 64 << 20 && *kills >= 1)
        ),
        "{:?}",
        o.result.events
    );
    assert!(
        o.result.peak_memory_bytes <= 66 << 20,
        "{}",
        o.result.peak_memory_bytes
    );
    let touched: usize = ballast.iter().step_by(4096).map(|b| usize::from(*b)).sum();
    assert_eq!(touched, (256 << 20) / 4096);
}

fn disk_fill_stops_at_the_tmpfs_caps() {
    let mut p = sandbox(
        "filesystem:\n  workspace_size: 8MiB\n  tmp_size: 4MiB\nlimits:\n  memory: 256MiB\n",
    );
    let o = p.run(&["fill", "/workspace/big", "/tmp/big"]);
    let ws = o.get("/workspace/big");
    assert!(ws.starts_with("ENOSPC bytes="), "{ws}");
    let bytes: u64 = ws.trim_start_matches("ENOSPC bytes=").parse().unwrap();
    assert!(bytes <= 8 << 20, "{bytes}");
    let tmp = o.get("/tmp/big");
    assert!(tmp.starts_with("ENOSPC bytes="), "{tmp}");
    let bytes: u64 = tmp.trim_start_matches("ENOSPC bytes=").parse().unwrap();
    assert!(bytes <= 4 << 20, "{bytes}");
}

fn sleeping_past_the_limit_is_killed_with_its_children() {
    let mut p = sandbox("limits:\n  wall_time: 1s\n");
    let o = p.exec(&["/bin/sh", "-c", "sleep 60 & sleep 60 & echo started; wait"]);
    assert!(o.result.timed_out);
    assert_eq!(o.result.signal.as_deref(), Some("SIGKILL"));
    assert!(
        o.result.wall_time_ms >= 1000.0 && o.result.wall_time_ms < 4000.0,
        "{}",
        o.result.wall_time_ms
    );
    assert!(has_event(&o.result.events, |e| matches!(
        e,
        Event::Timeout { limit_ms: 1000 }
    )));
    assert_eq!(o.result.stdout_text(), "started\n");
    // Nothing of that exec survives: the next one sees only itself.
    let o = p.run(&["procs"]);
    let pids: Vec<&String> = o.lines.keys().filter(|k| k.starts_with("pid:")).collect();
    assert_eq!(pids, ["pid:1"], "{}", o.result.stdout_text());
}

fn cpu_time_limit_kills_a_spinner() {
    let mut p = sandbox("limits:\n  cpu_time: 1s\n  wall_time: 20s\n");
    let o = p.run(&["spin"]);
    assert_eq!(
        o.result.signal.as_deref(),
        Some("SIGKILL"),
        "{:?}",
        o.result
    );
    assert!(!o.result.timed_out);
    assert!(
        has_event(&o.result.events, |e| matches!(
            e,
            Event::CpuLimit { limit_ms: 1000 }
        )),
        "{:?}",
        o.result
    );
    assert!(o.result.cpu_time_ms >= 500.0, "{}", o.result.cpu_time_ms);
}

fn stdout_flood_is_capped_with_a_marker() {
    let mut p = sandbox("limits:\n  output: 64KiB\n  wall_time: 2s\n");
    let o = p.run(&["flood", &(8 << 20).to_string()]);
    let r = &o.result;
    assert_eq!(r.exit_code, Some(0));
    assert!(r.stdout_truncated);
    assert_eq!(r.stdout_bytes, 8 << 20);
    assert!(r.stdout[..65536].iter().all(|b| *b == b'A'));
    let tail = String::from_utf8_lossy(&r.stdout[65536..]).into_owned();
    assert_eq!(
        tail,
        format!(
            "\n[modelgate: output truncated: kept 65536 of {} bytes]\n",
            8 << 20
        )
    );
    assert!(has_event(
        &r.events,
        |e| matches!(e, Event::OutputTruncated { stream: Stream::Stdout, limit_bytes: 65536, total_bytes } if *total_bytes == 8 << 20)
    ));
    // An endless writer is stopped by the wall clock, with the same cap.
    let o = p.exec(&["/usr/bin/yes"]);
    assert!(o.result.timed_out && o.result.stdout_truncated);
    assert!(o.result.stdout.len() < 65536 + 200);
}

fn symlinks_out_of_the_workspace_are_never_followed() {
    let mut p = sandbox("");
    let o = p.run(&["symlinks"]);
    for l in ["passwd", "root", "up", "dotdot"] {
        o.expect(l, "ok");
    }
    let s = &p.sandbox;
    for path in [
        "passwd",
        "root/etc/passwd",
        "up/etc/passwd",
        "dotdot/etc/passwd",
    ] {
        let e = s.read_file(path, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{path}: {e}");
    }
    for path in ["root/x", "up/tmp/x", "passwd"] {
        let e = s.write_file(path, b"pwned").unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{path}: {e}");
    }
    assert!(s.read_file("../../etc/passwd", 100).is_err());
    assert_eq!(s.read_file("plain.txt", 100).unwrap(), b"kept");
    // Copying the workspace out keeps regular files only: no link lands on the host.
    let out = tempfile::tempdir().unwrap();
    assert_eq!(s.copy_out(out.path()).unwrap(), 1);
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["plain.txt"]);
}

fn host_sockets_are_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let abstract_name = format!("modelgate-escape-{}", std::process::id());
    let _abs = {
        use std::os::linux::net::SocketAddrExt;
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
        std::os::unix::net::UnixListener::bind_addr(&addr).unwrap()
    };
    let path = path.to_str().unwrap().to_owned();
    let at = format!("@{abstract_name}");
    let mut p = sandbox("");
    let o = p.run(&[
        "unix",
        &path,
        &at,
        "/run/systemd/journal/socket",
        "/var/run/docker.sock",
        "/run/dbus/system_bus_socket",
    ]);
    o.expect(&path, "ENOENT");
    o.expect(&at, "ECONNREFUSED"); // abstract names are per network namespace
    o.expect("/run/systemd/journal/socket", "ENOENT");
    o.expect("/var/run/docker.sock", "ENOENT");
    o.expect("/run/dbus/system_bus_socket", "ENOENT");
}

fn processes_in_namespace(inode: u64) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        for ns in ["user", "mnt", "net"] {
            if std::fs::metadata(e.path().join("ns").join(ns))
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == inode)
            {
                n += 1;
            }
        }
    }
    n
}

fn workspace_is_shared_and_teardown_leaves_nothing() {
    let mut p = sandbox("");
    let s = &mut p.sandbox;
    s.write_file("task/input.txt", b"21\n").unwrap();
    let r = s.exec(&["/bin/sh", "-c", "echo $(( $(cat task/input.txt) * 2 )) > task/answer.txt; mkdir -p out; echo done > out/log"], &ExecOptions::default()).unwrap();
    assert_eq!(r.exit_code, Some(0), "{}", r.stderr_text());
    let r = s
        .exec(&["/bin/cat", "task/answer.txt"], &ExecOptions::default())
        .unwrap();
    assert_eq!(r.stdout_text(), "42\n");
    assert_eq!(
        s.read_file("/workspace/task/answer.txt", 100).unwrap(),
        b"42\n"
    );
    let r = s
        .exec(
            &["/bin/sh", "-c", "cat; echo; stat -c %u:%g task/input.txt"],
            &ExecOptions {
                stdin: Some(b"fed".to_vec()),
                ..ExecOptions::default()
            },
        )
        .unwrap();
    assert_eq!(r.stdout_text(), "fed\n65534:65534\n");
    let listing: Vec<String> = s
        .list_workspace(100)
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.path.display(), e.kind))
        .collect();
    assert_eq!(
        listing,
        [
            "out:dir",
            "out/log:file",
            "task:dir",
            "task/answer.txt:file",
            "task/input.txt:file"
        ]
    );
    let inodes = s.namespace_inodes().to_vec();
    assert_eq!(inodes.len(), 6);
    let cgroups = s.cgroup_paths();
    assert!(cgroups.len() >= 3, "memory, pids, cpu(acct): {cgroups:?}");
    assert!(cgroups.iter().all(|c| c.is_dir()), "{cgroups:?}");
    // Between execs, no process runs in the sandbox.
    for ino in &inodes {
        assert_eq!(processes_in_namespace(*ino), 0);
    }
    p.sandbox.teardown().unwrap();
    for c in &cgroups {
        assert!(!c.exists(), "{} left behind", c.display());
    }
    // The namespaces are gone: nothing holds them (the kernel frees the mounts and tmpfs).
    for ino in &inodes {
        assert_eq!(processes_in_namespace(*ino), 0);
    }
    let fds_holding: usize = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::metadata(e.path()).is_ok_and(|m| {
                inodes.contains(&std::os::unix::fs::MetadataExt::ino(&m)) && m.dev() == 4
            })
        })
        .count();
    assert_eq!(fds_holding, 0);
}

use std::os::unix::fs::MetadataExt as _;

fn http_server() -> (u16, std::thread::JoinHandle<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        l.set_nonblocking(false).unwrap();
        let mut served = 0;
        // Serve exactly the two allowed requests the test makes (plain HTTP, then a tunnel).
        for _ in 0..2 {
            let Ok((mut c, _)) = l.accept() else { break };
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = if req.starts_with("GET /hello ") {
                "hello from the host"
            } else {
                "bad request line"
            };
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            served += 1;
        }
        served
    });
    (port, h)
}

fn egress_proxy_admits_the_allowlist_and_refuses_the_rest() {
    let (port, server) = http_server();
    let yaml = format!(
        "network:\n  mode: allowlist\n  allow: ['127.0.0.1:{port}', 'localhost:{port}', '*.example.org:443']\n"
    );
    let mut p = sandbox(&yaml);
    let proxy = "127.0.0.1:3128";
    let o = p.run(&["http", proxy, &format!("GET http://127.0.0.1:{port}/hello")]);
    o.expect("status", "HTTP/1.1 200 OK");
    o.expect("body", "hello from the host");
    assert!(
        has_event(
            &o.result.events,
            |e| matches!(e, Event::EgressAllowed { host, port: p2, .. } if host == "127.0.0.1" && *p2 == port)
        ),
        "{:?}",
        o.result.events
    );
    // HTTPS clients use CONNECT: the tunnel carries bytes both ways once admitted.
    let o = p.run(&["tunnel", proxy, &format!("127.0.0.1:{port}")]);
    o.expect("status", "HTTP/1.1 200 Connection established");
    o.expect("tunnel", "HTTP/1.1 200 OK");
    o.expect("body", "hello from the host");
    assert_eq!(server.join().unwrap(), 2);

    let o = p.run(&["http", proxy, "CONNECT evil.example.com:443"]);
    o.expect("status", "HTTP/1.1 403 Forbidden");
    let denied = o.result.events.iter().find_map(|e| match e {
        Event::EgressDenied {
            host,
            port,
            at,
            reason,
        } => Some((host.clone(), *port, at.clone(), reason.clone())),
        _ => None,
    });
    let (host, dport, at, reason) = denied.expect("an egress_denied event");
    assert_eq!(
        (host.as_str(), dport, reason.as_str()),
        ("evil.example.com", 443, "not in the allowlist")
    );
    assert!(at.ends_with('Z') && at.len() == 24, "{at}");
    // A listed *name* that resolves to the host's loopback is refused (no DNS pivot).
    let o = p.run(&["http", proxy, &format!("CONNECT localhost:{port}")]);
    o.expect("status", "HTTP/1.1 403 Forbidden");
    assert!(has_event(
        &o.result.events,
        |e| matches!(e, Event::EgressDenied { reason, .. } if reason.contains("loopback"))
    ));
    // Listed wildcard, wrong port: refused.
    let o = p.run(&["http", proxy, "CONNECT a.example.org:80"]);
    o.expect("status", "HTTP/1.1 403 Forbidden");
    // The proxy is the only way out: direct connections still go nowhere.
    let o = p.run(&["connect", &format!("127.0.0.1:{port}")]);
    o.expect(&format!("127.0.0.1:{port}"), "ECONNREFUSED");
    let o = p.exec(&["/bin/sh", "-c", "echo $HTTPS_PROXY"]);
    assert_eq!(o.result.stdout_text(), "http://127.0.0.1:3128\n");
}

fn minimal_dev_and_private_hostname() {
    let mut p = sandbox("");
    let o = p.exec(&["/bin/ls", "-A", "/dev"]);
    assert_eq!(
        o.result
            .stdout_text()
            .split_whitespace()
            .collect::<Vec<_>>(),
        [
            "fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"
        ]
    );
    let o = p.exec(&["/bin/hostname"]);
    assert_eq!(o.result.stdout_text(), "sandbox\n");
    let o = p.exec(&["/bin/ls", "-A", "/"]);
    let top: Vec<String> = o
        .result
        .stdout_text()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for must in ["bin", "dev", "etc", "proc", "tmp", "usr", "workspace"] {
        assert!(top.iter().any(|t| t == must), "{top:?}");
    }
    for never in ["root", "home", "sys", "run", "var", "boot", "work"] {
        assert!(!top.iter().any(|t| t == never), "{never} in {top:?}");
    }
}

/// An unpacked image: here a directory with dash and the libraries `ldd /bin/dash` names.
fn a_rootfs_directory_becomes_the_read_only_root() {
    let root = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let dst = root.path().join(to.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from, &dst).unwrap();
    };
    copy("/bin/dash", "/bin/sh");
    let ldd = std::process::Command::new("ldd")
        .arg("/bin/dash")
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let path = line
            .split("=>")
            .last()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap_or("");
        if path.starts_with('/') {
            let real = std::fs::canonicalize(path).unwrap();
            copy(real.to_str().unwrap(), path);
        }
    }
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/os-release"), "NAME=tiny\n").unwrap();
    let yaml = format!("filesystem:\n  rootfs: {}\n", root.path().display());
    let mut p = sandbox(&yaml);
    let o = p.exec(&[
        "/bin/sh",
        "-c",
        "cd / && echo *; read l < /etc/os-release; echo $l; (echo x > /etc/x) 2>/dev/null || echo ro; echo ok > /workspace/w && echo ws",
    ]);
    assert_eq!(o.result.exit_code, Some(0), "{}", o.result.stderr_text());
    let out = o.result.stdout_text();
    let mut lines = out.lines();
    let top: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(
        top,
        [
            "bin",
            "dev",
            "etc",
            "lib",
            "lib64",
            "probe",
            "proc",
            "tmp",
            "workspace"
        ]
    );
    assert_eq!(lines.collect::<Vec<_>>(), ["NAME=tiny", "ro", "ws"]);
}

fn binds_are_read_only_unless_marked_writable() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let rw = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    for d in [rw.path(), ro.path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let yaml = format!(
        "filesystem:\n  binds:\n    - {{source: {}, target: /data/out, writable: true}}\n    - {{source: {}, target: /data/in}}\n",
        rw.path().display(),
        ro.path().display()
    );
    let mut p = sandbox(&yaml);
    let o = p.run(&["write", "/data/out/result.txt", "/data/in/x", "/data/y"]);
    o.expect("/data/out/result.txt", "ok"); // landlock has a rule for the writable bind
    o.expect("/data/in/x", "EROFS");
    o.expect("/data/y", "EROFS");
    // On the host the file belongs to the sandbox user's dedicated uid, never root.
    let meta = std::fs::metadata(rw.path().join("result.txt")).unwrap();
    assert_eq!(meta.uid(), p.sandbox.policy().isolation.host_uid + 1);
}
