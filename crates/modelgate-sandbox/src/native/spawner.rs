//! Where exec processes are cloned from.
//!
//! On cgroup v1, moving a process into a cgroup takes the kernel's thread-group rwsem for
//! writing, which waits for an RCU grace period — milliseconds, on every exec, for every
//! hierarchy. v1 lets a single *thread* be moved instead, and a process inherits the cgroups of
//! the thread that cloned it. So each sandbox gets one spawner thread that joins its cgroups
//! once — by writing `0` (itself) to `tasks`, the one kind of move the kernel makes without that
//! rwsem — and every exec is cloned from that thread and starts inside the limits with no
//! migration.
//! (cgroup v2 forbids threads in different domain cgroups; there the exec joins by
//! `cgroup.procs`.)

use std::ffi::CString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::SandboxError;
use crate::sys::{self, child};

/// Everything one exec needs, owned, so that it can be handed to the spawner thread.
#[derive(Debug)]
pub(super) struct ExecSpec {
    pub(super) cgroup_procs: Vec<RawFd>,
    pub(super) namespaces: Vec<(RawFd, libc::c_int)>,
    pub(super) ops: Vec<child::MountOp>,
    pub(super) stdin: RawFd,
    pub(super) stdout: RawFd,
    pub(super) stderr: RawFd,
    pub(super) cwd: CString,
    pub(super) rlimits: Vec<(u32, u64)>,
    pub(super) last_cap: u32,
    pub(super) landlock: Option<RawFd>,
    pub(super) seccomp: Option<Vec<libc::sock_filter>>,
    pub(super) seccomp_sock: Option<RawFd>,
    pub(super) programs: Vec<CString>,
    pub(super) args: Vec<CString>,
    pub(super) env: Vec<CString>,
    pub(super) report_write: RawFd,
    pub(super) parent_only: Vec<RawFd>,
}

/// Clones the exec intermediate for `spec` from the calling thread; returns once it has exited
/// (the command has called `execve` or failed by then).
pub(super) fn spawn(spec: &ExecSpec) -> std::io::Result<i32> {
    let command_stack = sys::ChildStack::new(sys::CHILD_STACK_BYTES)?;
    let mut argv: Vec<*const libc::c_char> = spec.args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let plan = child::ExecPlan {
        cgroup_procs: spec.cgroup_procs.clone(),
        namespaces: spec.namespaces.clone(),
        ops: &spec.ops,
        stdin: spec.stdin,
        stdout: spec.stdout,
        stderr: spec.stderr,
        cwd: spec.cwd.clone(),
        uid: super::plan::SANDBOX_ID,
        gid: super::plan::SANDBOX_ID,
        rlimits: spec.rlimits.clone(),
        last_cap: spec.last_cap,
        landlock: spec.landlock,
        seccomp: spec.seccomp.as_deref(),
        seccomp_sock: spec.seccomp_sock,
        command_stack: command_stack.top(),
        programs: spec.programs.clone(),
        argv,
        envp,
        report_write: spec.report_write,
        parent_only: spec.parent_only.clone(),
    };
    sys::spawn_exec(&plan, &command_stack)
}

type Job = Box<dyn FnOnce() + Send>;

/// A thread living in the sandbox's cgroups, cloning execs on request.
#[derive(Debug)]
pub(super) struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl Spawner {
    /// Starts the thread and moves it into the cgroups whose `tasks` files are given (opened
    /// for writing, with their paths for error messages).
    pub(super) fn start(tasks_files: Vec<(PathBuf, File)>) -> Result<Self, SandboxError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), SandboxError>>();
        let handle = std::thread::Builder::new()
            .name("modelgate-spawner".to_owned())
            .spawn(move || {
                // "0" names the writing thread itself. The kernel then skips the
                // thread-group rwsem (and the RCU grace period its write side waits for):
                // 0.2 ms instead of 5-16 ms per hierarchy on a loaded machine. Writing our own
                // tid would move the same thread the slow way.
                for (path, mut file) in tasks_files {
                    if let Err(e) = file.write_all(b"0") {
                        let _ = ready_tx
                            .send(Err(
                                SandboxError::setup(format!("join {}", path.display()))(e),
                            ));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(()));
                for job in rx {
                    job();
                }
            })
            .map_err(SandboxError::setup("start the spawner thread"))?;
        let mut spawner = Self {
            jobs: Some(jobs),
            handle: Some(handle),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(spawner),
            Ok(Err(e)) => {
                spawner.stop();
                Err(e)
            }
            Err(_) => {
                spawner.stop();
                Err(SandboxError::Defunct(
                    "the spawner thread exited".to_owned(),
                ))
            }
        }
    }

    /// Clones the exec intermediate from the spawner thread; gives the spec back.
    pub(super) fn spawn(&self, spec: ExecSpec) -> (std::io::Result<i32>, Option<ExecSpec>) {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let r = spawn(&spec);
            let _ = tx.send((r, spec));
        });
        let Some(jobs) = &self.jobs else {
            return (Err(std::io::Error::other("the spawner is stopped")), None);
        };
        if jobs.send(job).is_err() {
            return (
                Err(std::io::Error::other("the spawner thread is gone")),
                None,
            );
        }
        match rx.recv() {
            Ok((r, spec)) => (r, Some(spec)),
            Err(_) => (
                Err(std::io::Error::other("the spawner thread is gone")),
                None,
            ),
        }
    }

    /// Ends the thread (it leaves the cgroups by exiting) and waits for it.
    pub(super) fn stop(&mut self) {
        self.jobs = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.stop();
    }
}
