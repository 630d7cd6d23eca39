//! The native Linux backend: one [`Sandbox`] per sample, several [`Sandbox::exec`] calls
//! sharing its `/workspace`.
//!
//! # How it is built
//! [`Sandbox::create`] clones a setup child into new user, mount, PID, network, IPC, UTS and
//! cgroup namespaces. The parent writes its uid/gid maps (`0 → host_uid`, `65534 →
//! host_uid + 1`: never host root), the child assembles the read-only root and enters it with
//! `pivot_root`, brings loopback up, and reports ready. The supervisor then keeps the
//! namespaces alive by holding their descriptors (plus an `O_PATH` handle on the sandbox's
//! root for workspace file I/O) and lets the child exit: between execs, no process runs.
//!
//! Each [`Sandbox::exec`] clones an intermediate that joins the sandbox's cgroups and
//! namespaces and creates a fresh mount and PID namespace; the command is cloned into those as
//! PID 1 with `CLONE_PARENT` (so the supervisor waits for it directly), mounts its own `/proc`
//! (other users' processes hidden, `/proc/sys` read-only), drops to uid 65534 with no
//! capabilities in any set, `no_new_privs`, landlock and seccomp, closes every inherited
//! descriptor, and `execve`s with the scrubbed environment. When PID 1 exits or is killed —
//! at the wall-clock limit — the kernel kills everything else in its PID namespace.

mod notify;
mod plan;
mod spawner;
mod supervise;
mod workspace;

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::cgroup::{self, CgroupLimits, SandboxCgroups};
use crate::error::SandboxError;
use crate::host::HostFeatures;
use crate::outcome::{Event, ExecResult, ExitStatus, Stream, millis};
use crate::policy::{NetworkMode, Policy, Requirement};
use crate::proxy::EgressProxy;
use crate::sys::{self, child};

pub use workspace::WorkspaceEntry;

/// Options for [`Sandbox::create`].
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Run even when the host lacks features the policy marks `required`, recording a
    /// `degraded` event on every exec. Namespaces are never optional.
    pub allow_degraded: bool,
}

/// Options for one [`Sandbox::exec`].
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Working directory inside the sandbox (default `/workspace`).
    pub cwd: Option<String>,
    /// Extra environment variables for this exec (added after the policy's).
    pub env: Vec<(String, String)>,
    /// Bytes fed to the command's standard input (default: `/dev/null`).
    pub stdin: Option<Vec<u8>>,
    /// A shorter wall-clock limit than the policy's, for this exec.
    pub timeout: Option<Duration>,
}

/// A live sandbox. Dropping it tears it down; [`Sandbox::teardown`] does the same and reports
/// errors.
#[derive(Debug)]
pub struct Sandbox {
    policy: Policy,
    /// The setup child, exiting or exited, until reaped (first exec or teardown).
    setup_child: Option<i32>,
    namespaces: Vec<(OwnedFd, libc::c_int)>,
    workspace: OwnedFd,
    landlock: Option<OwnedFd>,
    seccomp: Option<Vec<libc::sock_filter>>,
    seccomp_notify: bool,
    cgroups: Option<SandboxCgroups>,
    cgroup_procs: Vec<File>,
    spawner: Option<spawner::Spawner>,
    /// Set when a failure left the sandbox unable to enforce its policy; every exec refuses.
    defunct: Option<String>,
    proxy: Option<EgressProxy>,
    degraded: Vec<String>,
    last_cap: u32,
    env: Vec<CString>,
    path_dirs: Vec<Vec<u8>>,
    ns_inodes: Vec<u64>,
    exec_ops: Vec<child::MountOp>,
    exec_descriptions: Vec<String>,
}

/// Namespace files to join, user namespace first (joining it grants the rights to join the rest).
const NS: [(&str, libc::c_int); 6] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
];

impl Sandbox {
    /// Creates a sandbox for `policy`, or refuses, naming what the host lacks.
    pub fn create(policy: &Policy, options: &SandboxOptions) -> Result<Self, SandboxError> {
        let host = HostFeatures::cached_light();
        let verdict = host.assess(policy);
        let ns_missing = verdict
            .missing
            .iter()
            .any(|m| m.starts_with("namespaces") || m.contains("runs as root"));
        if !verdict.missing.is_empty() && (!options.allow_degraded || ns_missing) {
            return Err(SandboxError::Unsupported {
                missing: verdict.missing,
            });
        }
        let mut degraded = verdict.degraded;
        degraded.extend(verdict.missing);

        let use_seccomp = policy.isolation.seccomp != Requirement::Off && host.seccomp;
        // Refusals go through the supervisor (and become events) where the kernel allows it.
        let seccomp_notify = use_seccomp && host.seccomp_actions.iter().any(|a| a == "user_notif");
        let seccomp = if use_seccomp {
            crate::seccomp::filter_with(seccomp_notify)
        } else {
            None
        };
        let landlock_abi = if policy.isolation.landlock == Requirement::Off {
            0
        } else {
            host.landlock_abi.unwrap_or(0)
        };

        let cgroups = if policy.isolation.cgroups == Requirement::Off {
            None
        } else {
            // Found by the (cached) host probe: /proc/self/mountinfo is read once per process.
            let homes = host.cgroup_homes();
            Some(SandboxCgroups::create(
                &homes,
                CgroupLimits {
                    memory: policy.limits.memory.0,
                    pids: u64::from(policy.limits.processes),
                    cpus: policy.limits.cpus,
                },
            )?)
        };
        // On cgroup v1, one spawner thread joins the cgroups once and every exec is cloned
        // from it; otherwise each exec joins through cgroup.procs.
        let spawner = match cgroups.as_ref().and_then(SandboxCgroups::v1_tasks_files) {
            Some(tasks) => Some(spawner::Spawner::start(tasks?)?),
            None => None,
        };
        let cgroup_procs = match (&cgroups, &spawner) {
            (Some(c), None) => c.procs_files()?,
            _ => Vec::new(),
        };

        let setup = plan::setup_plan(policy)?;
        let (sync_read, sync_write) = sys::pipe().map_err(SandboxError::setup("pipe"))?;
        let (report_read, report_write) = sys::pipe().map_err(SandboxError::setup("pipe"))?;
        let child_plan = child::SetupPlan {
            ops: setup.ops,
            hostname: plan::cstr(&policy.filesystem.hostname)?,
            sync_read: sync_read.as_raw_fd(),
            report_write: report_write.as_raw_fd(),
        };
        let flags = libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP;
        let pid = match sys::spawn_setup(flags, &child_plan) {
            Ok(pid) => pid,
            Err(e) => {
                // Name the namespace type the host refuses, when that is the reason.
                let missing = HostFeatures::cached().assess(policy).missing;
                if missing.iter().any(|m| m.starts_with("namespaces")) {
                    return Err(SandboxError::Unsupported { missing });
                }
                return Err(SandboxError::setup("clone the sandbox namespaces")(e));
            }
        };
        drop(sync_read);
        drop(report_write);
        let mut guard = ChildGuard {
            pid,
            sync: Some(sync_write),
        };

        let (h_uid, h_gid) = (policy.isolation.host_uid, policy.isolation.host_gid);
        let id = plan::SANDBOX_ID;
        let maps = [
            ("uid_map", format!("0 {h_uid} 1\n{id} {} 1\n", h_uid + 1)),
            ("gid_map", format!("0 {h_gid} 1\n{id} {} 1\n", h_gid + 1)),
        ];
        for (file, content) in maps {
            let p = format!("/proc/{pid}/{file}");
            std::fs::write(&p, content).map_err(SandboxError::setup(format!("write {p}")))?;
        }
        guard.go()?;
        match sys::read_report(report_read.as_fd())
            .map_err(SandboxError::setup("read the setup report"))?
        {
            Some((child::STEP_READY, _)) => {}
            Some((step, errno)) => {
                let what = setup
                    .descriptions
                    .get(step as usize)
                    .cloned()
                    .unwrap_or_else(|| fixed_step_name(step));
                return Err(SandboxError::Setup {
                    step: what,
                    source: std::io::Error::from_raw_os_error(errno),
                });
            }
            None => {
                return Err(SandboxError::Setup {
                    step: "sandbox setup".to_owned(),
                    source: std::io::Error::other("the setup process exited without reporting"),
                });
            }
        }

        let mut namespaces = Vec::new();
        let mut ns_inodes = Vec::new();
        for (name, kind) in NS {
            let p = format!("/proc/{pid}/ns/{name}");
            let f = File::open(&p).map_err(SandboxError::setup(format!("open {p}")))?;
            if let Ok(m) = f.metadata() {
                ns_inodes.push(std::os::unix::fs::MetadataExt::ino(&m));
            }
            namespaces.push((OwnedFd::from(f), kind));
        }
        let root = File::open(format!("/proc/{pid}/root"))
            .map_err(SandboxError::setup("open the sandbox root"))?;
        let root = OwnedFd::from(root);
        let workspace = sys::openat2(
            root.as_fd(),
            c"workspace",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
        )
        .map_err(SandboxError::setup("open /workspace"))?;
        let writable: Vec<&std::path::Path> = policy
            .filesystem
            .binds
            .iter()
            .filter(|b| b.writable)
            .map(|b| b.target.as_path())
            .collect();
        let landlock = crate::landlock::ruleset(landlock_abi, &root, &writable)?;
        let proxy = if policy.network.mode == NetworkMode::Allowlist {
            let netns = namespaces
                .iter()
                .find(|(_, k)| *k == libc::CLONE_NEWNET)
                .map(|(f, _)| f.as_fd());
            let netns =
                netns.ok_or_else(|| SandboxError::Defunct("no network namespace".to_owned()))?;
            Some(EgressProxy::start(
                netns,
                policy.network.proxy_port,
                policy.host_rules(),
                policy.network.allow_private_addresses,
            )?)
        } else {
            None
        };
        let exec = plan::exec_plan()?;
        let env = build_env(policy)?;
        let path_dirs = env
            .iter()
            .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
            .map(|p| {
                p.split(|b| *b == b':')
                    .filter(|d| d.starts_with(b"/"))
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .unwrap_or_default();
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let setup_child = Some(guard.finish());
        Ok(Self {
            policy: policy.clone(),
            setup_child,
            namespaces,
            workspace,
            landlock,
            seccomp,
            seccomp_notify,
            cgroups,
            cgroup_procs,
            spawner,
            defunct: None,
            proxy,
            degraded,
            last_cap,
            env,
            path_dirs,
            ns_inodes,
            exec_ops: exec.ops,
            exec_descriptions: exec.descriptions,
        })
    }

    /// The policy this sandbox enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Features the policy asked for that the host lacks (non-empty only when degraded running
    /// was allowed).
    pub fn degraded(&self) -> &[String] {
        &self.degraded
    }

    /// Inode numbers of the sandbox's namespaces (user, mnt, net, ipc, uts, cgroup), for
    /// checking that teardown left nothing behind.
    pub fn namespace_inodes(&self) -> &[u64] {
        &self.ns_inodes
    }

    /// Runs `argv` in the sandbox and waits for it (at most the wall-clock limit).
    pub fn exec<S: AsRef<OsStr>>(
        &mut self,
        argv: &[S],
        options: &ExecOptions,
    ) -> Result<ExecResult, SandboxError> {
        if let Some(why) = &self.defunct {
            return Err(SandboxError::Defunct(why.clone()));
        }
        let program = argv.first().ok_or_else(|| SandboxError::Spawn {
            program: String::new(),
            step: "argv".to_owned(),
            source: std::io::Error::other("empty command line"),
        })?;
        let program_name = program.as_ref().to_string_lossy().into_owned();
        let spawn_err = |step: &str, source: std::io::Error| SandboxError::Spawn {
            program: program_name.clone(),
            step: step.to_owned(),
            source,
        };
        let args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_ref().as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                spawn_err(
                    "argv",
                    std::io::Error::other("an argument contains a NUL byte"),
                )
            })?;
        let mut env = self.env.clone();
        for (k, v) in &options.env {
            let var = CString::new(format!("{k}={v}")).map_err(|_| {
                spawn_err(
                    "environment",
                    std::io::Error::other("a variable contains a NUL byte"),
                )
            })?;
            env.retain(|e| !e.as_bytes().starts_with(format!("{k}=").as_bytes()));
            env.push(var);
        }
        let prog = program.as_ref().as_bytes();
        let programs: Vec<CString> = if prog.contains(&b'/') {
            vec![args[0].clone()]
        } else {
            self.path_dirs
                .iter()
                .filter_map(|d| {
                    let mut p = d.clone();
                    p.push(b'/');
                    p.extend_from_slice(prog);
                    CString::new(p).ok()
                })
                .collect()
        };
        let cwd = CString::new(
            options
                .cwd
                .clone()
                .unwrap_or_else(|| "/workspace".to_owned()),
        )
        .map_err(|_| spawn_err("cwd", std::io::Error::other("NUL in the working directory")))?;

        let (out_r, out_w) = sys::pipe().map_err(|e| spawn_err("pipe", e))?;
        let (err_r, err_w) = sys::pipe().map_err(|e| spawn_err("pipe", e))?;
        let (rep_r, rep_w) = sys::pipe().map_err(|e| spawn_err("pipe", e))?;
        // (supervisor's end, command's end) of the socket the seccomp listener comes over.
        let (sock_parent, sock_child) = if self.seccomp_notify {
            let (p, c) = sys::seqpacket_pair().map_err(|e| spawn_err("socketpair", e))?;
            (Some(p), Some(c))
        } else {
            (None, None)
        };
        let (in_r, in_w): (OwnedFd, Option<OwnedFd>) = if options.stdin.is_some() {
            let (r, w) = sys::pipe().map_err(|e| spawn_err("pipe", e))?;
            (r, Some(w))
        } else {
            (
                OwnedFd::from(File::open("/dev/null").map_err(|e| spawn_err("open /dev/null", e))?),
                None,
            )
        };

        let limits = &self.policy.limits;
        let cpu_secs = limits.cpu_time.0.as_secs_f64().ceil().max(1.0);
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let mut rlimits: Vec<(u32, u64)> = vec![
            (libc::RLIMIT_CPU, cpu_secs as u64),
            (libc::RLIMIT_NOFILE, u64::from(limits.open_files)),
            (libc::RLIMIT_FSIZE, limits.file_size.0),
            (libc::RLIMIT_CORE, 0),
        ];
        // RLIMIT_NPROC counts every process of the host uid, across sandboxes: only a fallback
        // for hosts without the pids controller.
        if !self.cgroup_controllers().contains(&"pids") {
            rlimits.push((libc::RLIMIT_NPROC, u64::from(limits.processes)));
        }
        let mut parent_only: Vec<RawFd> =
            vec![out_r.as_raw_fd(), err_r.as_raw_fd(), rep_r.as_raw_fd()];
        if let Some(w) = &in_w {
            parent_only.push(w.as_raw_fd());
        }
        if let Some(p) = &sock_parent {
            parent_only.push(p.as_raw_fd());
        }
        let spec = spawner::ExecSpec {
            cgroup_procs: self.cgroup_procs.iter().map(AsRawFd::as_raw_fd).collect(),
            namespaces: self
                .namespaces
                .iter()
                .map(|(f, k)| (f.as_raw_fd(), *k))
                .collect(),
            ops: std::mem::take(&mut self.exec_ops),
            stdin: in_r.as_raw_fd(),
            stdout: out_w.as_raw_fd(),
            stderr: err_w.as_raw_fd(),
            cwd,
            rlimits,
            last_cap: self.last_cap,
            landlock: self.landlock.as_ref().map(AsRawFd::as_raw_fd),
            seccomp: self.seccomp.take(),
            seccomp_sock: sock_child.as_ref().map(AsRawFd::as_raw_fd),
            programs,
            args,
            env,
            report_write: rep_w.as_raw_fd(),
            parent_only,
        };

        if let Some(cg) = &mut self.cgroups {
            cg.take_counters();
            cg.reset_peak();
        }
        let cpu_before = self.cgroups.as_ref().and_then(SandboxCgroups::cpu_usage_ns);
        if let Some(p) = &self.proxy {
            p.take_events();
        }
        let timeout = options
            .timeout
            .map_or(limits.wall_time.0, |t| t.min(limits.wall_time.0));
        let start = Instant::now();
        let (spawned, spec) = match &self.spawner {
            Some(sp) => sp.spawn(spec),
            None => (spawner::spawn(&spec), Some(spec)),
        };
        if let Some(spec) = spec {
            self.exec_ops = spec.ops;
            self.seccomp = spec.seccomp;
        } else {
            // The plan (and the seccomp program with it) is gone: never run without it.
            let why = "the spawner thread is gone".to_owned();
            self.defunct = Some(why.clone());
            return Err(SandboxError::Defunct(why));
        }
        let intermediate = spawned.map_err(|e| spawn_err("clone", e))?;
        drop((out_w, err_w, rep_w, in_r, sock_child));
        // The intermediate has exited (spawn returns only then), after the command called
        // execve or failed: every write end of the report pipe is closed, so this reads to the
        // end without waiting. Records: a failure of the command before execve, if any, then
        // the command's pid from the intermediate.
        let (mut pid, mut failure) = (None, None);
        while let Some(record) =
            sys::read_report(rep_r.as_fd()).map_err(|e| spawn_err("read report", e))?
        {
            match record {
                (child::STEP_PID, p) => pid = Some(p),
                (step, errno) => failure = failure.or(Some((step, errno))),
            }
        }
        let (istatus, _) = sys::wait4(intermediate).map_err(|e| spawn_err("wait", e))?;
        let Some(pid) = pid else {
            return Err(match failure {
                Some((step, errno)) => spawn_err(
                    &self.step_name(step),
                    std::io::Error::from_raw_os_error(errno),
                ),
                None => spawn_err(
                    "enter the sandbox",
                    std::io::Error::other(format!(
                        "intermediate exited with status {istatus:#x} without reporting"
                    )),
                ),
            });
        };
        let pidfd = match sys::pidfd_open(pid) {
            Ok(fd) if failure.is_none() => fd,
            other => {
                let _ = sys::kill(pid, libc::SIGKILL);
                let _ = sys::wait4(pid);
                return Err(match failure {
                    Some((step, errno)) => spawn_err(
                        &self.step_name(step),
                        std::io::Error::from_raw_os_error(errno),
                    ),
                    None => spawn_err(
                        "pidfd_open",
                        other
                            .err()
                            .unwrap_or_else(|| std::io::Error::other("pidfd_open")),
                    ),
                });
            }
        };
        let deadline = start + timeout;
        let cap = usize::try_from(limits.output.0).unwrap_or(usize::MAX);
        let kill = || {
            let _ = sys::pidfd_kill(pidfd.as_fd(), libc::SIGKILL);
        };
        let stdin = in_w.map(|w| (w, options.stdin.clone().unwrap_or_default()));
        let sup = supervise::supervise(
            &pidfd,
            out_r,
            err_r,
            stdin,
            sock_parent,
            deadline,
            cap,
            &kill,
        );
        let (status, usage) = sys::wait4(pid).map_err(|e| spawn_err("wait", e))?;
        if let Some(setup) = self.setup_child.take() {
            let _ = sys::wait4(setup); // long exited: it was told to at creation
        }
        let wall = start.elapsed();

        let status = ExitStatus::from_wait(status);
        let mut result = ExecResult::new(status, "native");
        result.timed_out = sup.timed_out;
        result.wall_time_ms = millis(wall);
        let tv = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
        };
        let rusage_cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
        let cpu_after = self.cgroups.as_ref().and_then(SandboxCgroups::cpu_usage_ns);
        result.cpu_time_ms = match (cpu_before, cpu_after) {
            (Some(a), Some(b)) if b >= a => millis(Duration::from_nanos(b - a)),
            _ => millis(rusage_cpu),
        };
        result.peak_memory_bytes = self
            .cgroups
            .as_ref()
            .and_then(SandboxCgroups::peak_memory)
            .unwrap_or_else(|| u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024);
        for d in &self.degraded {
            result.events.push(Event::Degraded { missing: d.clone() });
        }
        if sup.timed_out {
            result.events.push(Event::Timeout {
                limit_ms: timeout.as_millis() as u64,
            });
        }
        let (oom, refused) = self
            .cgroups
            .as_mut()
            .map_or((0, 0), SandboxCgroups::take_counters);
        if oom > 0 {
            result.events.push(Event::MemoryLimit {
                limit_bytes: limits.memory.0,
                kills: oom,
            });
        }
        if refused > 0 {
            result.events.push(Event::ProcessLimit {
                limit: u64::from(limits.processes),
                refused,
            });
        }
        // PID 1 of a namespace cannot be SIGKILLed from inside it: a SIGKILL that is neither the
        // wall clock's nor the OOM killer's is the CPU-time limit (checked against usage).
        if !sup.timed_out
            && oom == 0
            && matches!(status, ExitStatus::Signal(libc::SIGKILL | libc::SIGXCPU))
            && rusage_cpu.as_secs_f64() >= cpu_secs * 0.5
        {
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)] // whole seconds
            result.events.push(Event::CpuLimit {
                limit_ms: (cpu_secs * 1000.0) as u64,
            });
        }
        for (stream, cap_) in [(Stream::Stdout, &sup.stdout), (Stream::Stderr, &sup.stderr)] {
            if cap_.truncated() {
                result.events.push(Event::OutputTruncated {
                    stream,
                    limit_bytes: limits.output.0,
                    total_bytes: cap_.total,
                });
            }
        }
        result.events.extend(sup.denied);
        if let Some(p) = &self.proxy {
            result.events.extend(p.take_events());
        }
        (result.stdout, result.stdout_truncated, result.stdout_bytes) = sup.stdout.finish();
        (result.stderr, result.stderr_truncated, result.stderr_bytes) = sup.stderr.finish();
        Ok(result)
    }

    fn step_name(&self, step: u32) -> String {
        self.exec_descriptions
            .get(step as usize)
            .cloned()
            .unwrap_or_else(|| fixed_step_name(step))
    }

    /// Tears the sandbox down: stops the proxy, releases the namespaces (which frees the
    /// workspace and every mount) and removes the cgroups. No process is left: each exec's PID
    /// namespace died with its command.
    pub fn teardown(mut self) -> Result<(), SandboxError> {
        self.release()
    }

    fn release(&mut self) -> Result<(), SandboxError> {
        if let Some(setup) = self.setup_child.take() {
            let _ = sys::wait4(setup); // told to exit at creation
        }
        if let Some(mut p) = self.proxy.take() {
            p.stop();
        }
        if let Some(mut sp) = self.spawner.take() {
            sp.stop();
        }
        self.landlock = None;
        self.namespaces.clear();
        self.cgroup_procs.clear();
        match self.cgroups.take() {
            Some(mut cg) => cg.remove(),
            None => Ok(()),
        }
    }

    /// The sandbox's cgroup directories, one per hierarchy (removed at teardown).
    pub fn cgroup_paths(&self) -> Vec<std::path::PathBuf> {
        self.cgroups
            .as_ref()
            .map(SandboxCgroups::paths)
            .unwrap_or_default()
    }

    /// The controllers limiting this sandbox.
    pub fn cgroup_controllers(&self) -> Vec<&'static str> {
        self.cgroups
            .as_ref()
            .map(|c| {
                c.controllers()
                    .into_iter()
                    .map(cgroup::Controller::name)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn fixed_step_name(step: u32) -> String {
    use child::step as s;
    let name = match step {
        s::SYNC => "wait for the id maps",
        s::SETGID => "setresgid",
        s::SETGROUPS => "setgroups",
        s::SETUID => "setresuid",
        s::HOSTNAME => "sethostname",
        s::LOOPBACK => "bring loopback up",
        s::CGROUP => "join the cgroups",
        s::SETNS => "join the sandbox namespaces",
        s::UNSHARE => "create the exec's mount and PID namespaces",
        s::CLONE => "clone the command",
        s::SETSID => "setsid",
        s::STDIO => "set up stdin/stdout/stderr",
        s::CHDIR => "chdir to the working directory",
        s::RLIMIT => "set resource limits",
        s::CAPS => "drop capabilities",
        s::NO_NEW_PRIVS => "set no_new_privs",
        s::LANDLOCK => "apply landlock",
        s::SECCOMP => "install the seccomp filter",
        s::CLOSE_FDS => "close inherited descriptors",
        s::EXEC => "execve (program not found or not executable)",
        s::PDEATHSIG => "set the parent-death signal",
        _ => return format!("step {step}"),
    };
    name.to_owned()
}

/// Kills and reaps the setup child unless [`ChildGuard::finish`] ran.
struct ChildGuard {
    pid: i32,
    sync: Option<OwnedFd>,
}

impl ChildGuard {
    fn go(&mut self) -> Result<(), SandboxError> {
        let Some(sync) = &self.sync else {
            return Ok(());
        };
        let mut file = File::from(sync.try_clone().map_err(SandboxError::setup("dup"))?);
        std::io::Write::write_all(&mut file, b"g")
            .map_err(SandboxError::setup("signal the setup child"))
    }

    /// Lets the child exit (EOF on its sync pipe) and hands over its pid for reaping later:
    /// waiting for it here would put its exit on the latency path.
    fn finish(&mut self) -> i32 {
        self.sync = None;
        std::mem::take(&mut self.pid)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.pid > 0 {
            let _ = sys::kill(self.pid, libc::SIGKILL);
            self.sync = None;
            let _ = sys::wait4(self.pid);
        }
    }
}

fn build_env(policy: &Policy) -> Result<Vec<CString>, SandboxError> {
    let mut vars: std::collections::BTreeMap<String, Vec<u8>> = std::collections::BTreeMap::new();
    for name in &policy.environment.pass {
        if let Some(v) = std::env::var_os(name) {
            vars.insert(name.clone(), v.as_bytes().to_vec());
        }
    }
    for (k, v) in &policy.environment.set {
        vars.insert(k.clone(), v.as_bytes().to_vec());
    }
    if policy.network.mode == NetworkMode::Allowlist {
        let url = format!("http://127.0.0.1:{}", policy.network.proxy_port);
        for k in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            vars.entry(k.to_owned())
                .or_insert_with(|| url.clone().into_bytes());
        }
    }
    vars.into_iter()
        .map(|(k, v)| {
            let mut s = k.into_bytes();
            s.push(b'=');
            s.extend_from_slice(&v);
            plan::cstr(s)
        })
        .collect()
}

/// Supervises a process given by `pidfd` whose output arrives on two pipes (used by the OCI
/// backend for the engine CLI).
pub(crate) fn supervise_fds(
    pidfd: &OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
    deadline: Instant,
    cap: usize,
    kill: &dyn Fn(),
) -> supervise::Supervised {
    supervise::supervise(pidfd, stdout, stderr, None, None, deadline, cap, kill)
}
