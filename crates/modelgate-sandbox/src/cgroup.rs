//! cgroup limits for one sandbox: memory, processes and CPU, on cgroup v1 hierarchies, the v2
//! unified hierarchy, or a hybrid of both (each controller is taken from wherever the host
//! has it attached).
//!
//! The sandbox's cgroup is created *below the supervisor's own cgroup* in each hierarchy, so
//! it stays inside whatever limits the supervisor itself runs under.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::SandboxError;

/// A cgroup controller the sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// Memory limit and peak usage.
    Memory,
    /// Process count limit.
    Pids,
    /// CPU bandwidth limit.
    Cpu,
    /// CPU usage accounting (v1 `cpuacct`; part of `cpu` on v2).
    Cpuacct,
}

impl Controller {
    /// All controllers, in setup order.
    pub const ALL: [Self; 4] = [Self::Memory, Self::Pids, Self::Cpu, Self::Cpuacct];

    /// The controller with this kernel name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Pids => "pids",
            Self::Cpu => "cpu",
            Self::Cpuacct => "cpuacct",
        }
    }
}

/// Where a controller lives on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerHome {
    /// The controller.
    pub controller: Controller,
    /// `1` or `2`.
    pub version: u8,
    /// The supervisor's own cgroup directory in that hierarchy.
    pub parent: PathBuf,
}

/// Finds each controller's hierarchy and the supervisor's cgroup in it;
/// `mountinfo` is `/proc/self/mountinfo`, read by the caller (it is costly to generate, and the
/// host probe needs it too).
pub(crate) fn discover_in(mountinfo: &str) -> Vec<ControllerHome> {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    discover_from(mountinfo, &own, |p| fs::read_to_string(p).ok())
}

fn discover_from(
    mountinfo: &str,
    own: &str,
    read: impl Fn(&Path) -> Option<String>,
) -> Vec<ControllerHome> {
    // (mount point, fs type, super options)
    let mounts: Vec<(String, String, String)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = pre.split(' ').nth(4)?.to_owned();
            let mut post = post.split(' ');
            let fstype = post.next()?.to_owned();
            let opts = post.nth(1).unwrap_or_default().to_owned();
            Some((mount_point, fstype, opts))
        })
        .collect();
    let mut homes = Vec::new();
    for c in Controller::ALL {
        // v1: a hierarchy mounted with this controller among its options.
        let v1 = mounts
            .iter()
            .find(|(_, t, o)| t == "cgroup" && o.split(',').any(|x| x == c.name()));
        if let Some((mp, _, _)) = v1 {
            let rel = own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls
                    .split(',')
                    .any(|x| x == c.name())
                    .then(|| path.to_owned())
            });
            if let Some(rel) = rel {
                homes.push(ControllerHome {
                    controller: c,
                    version: 1,
                    parent: join(mp, &rel),
                });
                continue;
            }
        }
        // v2: the unified hierarchy, if our cgroup delegates the controller to children.
        let Some((mp, _, _)) = mounts.iter().find(|(_, t, _)| t == "cgroup2") else {
            continue;
        };
        let Some(rel) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
            continue;
        };
        let parent = join(mp, rel);
        let v2name = if c == Controller::Cpuacct {
            "cpu"
        } else {
            c.name()
        };
        let delegated = read(&parent.join("cgroup.subtree_control"))
            .is_some_and(|s| s.split_whitespace().any(|x| x == v2name));
        if delegated {
            homes.push(ControllerHome {
                controller: c,
                version: 2,
                parent,
            });
        }
    }
    homes
}

fn join(mount_point: &str, rel: &str) -> PathBuf {
    Path::new(mount_point).join(rel.trim_start_matches('/'))
}

/// Limits to apply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CgroupLimits {
    pub(crate) memory: u64,
    pub(crate) pids: u64,
    pub(crate) cpus: f64,
}

/// One of the sandbox's cgroup directories, with a descriptor on it: its files are opened
/// relative to that, not by walking the whole (long) path again each time.
#[derive(Debug)]
struct CgroupDir {
    controller: Controller,
    version: u8,
    path: PathBuf,
    fd: OwnedFd,
}

impl CgroupDir {
    fn open(&self, file: &str, flags: libc::c_int) -> std::io::Result<File> {
        let name = CString::new(file).map_err(std::io::Error::other)?;
        let fd = crate::sys::openat2(self.fd.as_fd(), &name, flags | libc::O_CLOEXEC, 0, 0)?;
        Ok(File::from(fd))
    }

    fn write(&self, file: &str, value: &str) -> Result<(), SandboxError> {
        self.open(file, libc::O_WRONLY | libc::O_TRUNC)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(SandboxError::setup(format!(
                "write {value} to {}",
                self.path.join(file).display()
            )))
    }

    fn read(&self, file: &str) -> Option<String> {
        let mut s = String::new();
        self.open(file, libc::O_RDONLY)
            .ok()?
            .take(64 * 1024)
            .read_to_string(&mut s)
            .ok()?;
        Some(s)
    }

    fn read_u64(&self, file: &str) -> Option<u64> {
        self.read(file)?.trim().parse().ok()
    }

    fn has(&self, file: &str) -> bool {
        let Ok(name) = CString::new(file) else {
            return false;
        };
        crate::sys::openat2(self.fd.as_fd(), &name, libc::O_PATH | libc::O_CLOEXEC, 0, 0).is_ok()
    }
}

/// The sandbox's cgroups (one directory per hierarchy); removed on drop.
#[derive(Debug)]
pub(crate) struct SandboxCgroups {
    dirs: Vec<CgroupDir>,
    /// Baselines for per-exec deltas.
    oom_kills: u64,
    pids_refused: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl SandboxCgroups {
    /// Creates the cgroups and writes the limits. Controllers the host lacks are skipped;
    /// the caller decides whether that is acceptable.
    pub(crate) fn create(
        homes: &[ControllerHome],
        limits: CgroupLimits,
    ) -> Result<Self, SandboxError> {
        for home in homes {
            remove_stale(&home.parent);
        }
        let name = format!(
            "modelgate-sandbox-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut cg = Self {
            dirs: Vec::new(),
            oom_kills: 0,
            pids_refused: 0,
        };
        for home in homes {
            // Hybrid hosts can mount several controllers in one hierarchy (cpu,cpuacct).
            let path = home.parent.join(&name);
            if !cg.dirs.iter().any(|d| d.path == path) {
                fs::create_dir(&path).map_err(SandboxError::setup(format!(
                    "create cgroup {}",
                    path.display()
                )))?;
            }
            let fd = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&path)
                .map_err(SandboxError::setup(format!(
                    "open cgroup {}",
                    path.display()
                )))?;
            cg.dirs.push(CgroupDir {
                controller: home.controller,
                version: home.version,
                path,
                fd: fd.into(),
            });
            let Some(dir) = cg.dirs.last() else { continue };
            let w = |file: &str, value: String| dir.write(file, &value);
            match (home.controller, home.version) {
                (Controller::Memory, 1) => {
                    w("memory.limit_in_bytes", limits.memory.to_string())?;
                    if dir.has("memory.memsw.limit_in_bytes") {
                        w("memory.memsw.limit_in_bytes", limits.memory.to_string())?;
                    }
                    let _ = w("memory.swappiness", "0".to_owned());
                }
                (Controller::Memory, _) => {
                    w("memory.max", limits.memory.to_string())?;
                    if dir.has("memory.swap.max") {
                        w("memory.swap.max", "0".to_owned())?;
                    }
                    let _ = w("memory.oom.group", "1".to_owned());
                }
                (Controller::Pids, _) => w("pids.max", limits.pids.to_string())?,
                (Controller::Cpu, 1) => {
                    let period = 100_000u64;
                    #[allow(clippy::cast_sign_loss, clippy::cast_precision_loss)]
                    let quota = ((limits.cpus * period as f64) as u64).max(1000);
                    w("cpu.cfs_period_us", period.to_string())?;
                    w("cpu.cfs_quota_us", quota.to_string())?;
                }
                (Controller::Cpu, _) => {
                    let period = 100_000u64;
                    #[allow(clippy::cast_sign_loss, clippy::cast_precision_loss)]
                    let quota = ((limits.cpus * period as f64) as u64).max(1000);
                    w("cpu.max", format!("{quota} {period}"))?;
                }
                (Controller::Cpuacct, _) => {}
            }
        }
        cg.oom_kills = cg.oom_kill_count();
        cg.pids_refused = cg.pids_refused_count();
        Ok(cg)
    }

    /// The cgroup directories (one per hierarchy).
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.dirs.iter().map(|d| d.path.clone()).collect();
        v.dedup();
        v
    }

    /// Which controllers are in force.
    pub(crate) fn controllers(&self) -> Vec<Controller> {
        self.dirs.iter().map(|d| d.controller).collect()
    }

    /// One directory per hierarchy (several controllers can share one).
    fn unique_dirs(&self) -> Vec<&CgroupDir> {
        let mut out: Vec<&CgroupDir> = Vec::new();
        for d in &self.dirs {
            if !out.iter().any(|o| o.path == d.path) {
                out.push(d);
            }
        }
        out
    }

    /// The v1 `tasks` files (one per hierarchy, opened for writing, with their paths for error
    /// messages), when every controller is on cgroup v1: a single *thread* can then be moved
    /// in, and the processes it clones start inside.
    pub(crate) fn v1_tasks_files(&self) -> Option<Result<Vec<(PathBuf, File)>, SandboxError>> {
        if self.dirs.is_empty() || self.dirs.iter().any(|d| d.version != 1) {
            return None;
        }
        Some(self.open_each("tasks"))
    }

    /// `cgroup.procs` files, opened for the exec intermediate to join (one per hierarchy).
    pub(crate) fn procs_files(&self) -> Result<Vec<File>, SandboxError> {
        Ok(self
            .open_each("cgroup.procs")?
            .into_iter()
            .map(|(_, f)| f)
            .collect())
    }

    fn open_each(&self, file: &str) -> Result<Vec<(PathBuf, File)>, SandboxError> {
        self.unique_dirs()
            .into_iter()
            .map(|d| {
                let p = d.path.join(file);
                d.open(file, libc::O_WRONLY)
                    .map(|f| (p.clone(), f))
                    .map_err(SandboxError::setup(format!("open {}", p.display())))
            })
            .collect()
    }

    fn dir(&self, c: Controller) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.controller == c)
    }

    /// Resets the peak-memory counter before an exec.
    pub(crate) fn reset_peak(&self) {
        if let Some(d) = self.dir(Controller::Memory) {
            let file = if d.version == 1 {
                "memory.max_usage_in_bytes"
            } else {
                "memory.peak"
            };
            let _ = d.write(file, "0");
        }
    }

    /// Peak memory since the last reset, in bytes.
    pub(crate) fn peak_memory(&self) -> Option<u64> {
        let d = self.dir(Controller::Memory)?;
        let file = if d.version == 1 {
            "memory.max_usage_in_bytes"
        } else {
            "memory.peak"
        };
        d.read_u64(file)
    }

    /// CPU time consumed so far, in nanoseconds.
    pub(crate) fn cpu_usage_ns(&self) -> Option<u64> {
        if let Some(d) = self.dir(Controller::Cpuacct).filter(|d| d.version == 1) {
            return d.read_u64("cpuacct.usage");
        }
        let d = self
            .dir(Controller::Cpuacct)
            .or_else(|| self.dir(Controller::Cpu))
            .filter(|d| d.version == 2)?;
        let stat = d.read("cpu.stat")?;
        stat_field(&stat, "usage_usec").map(|us| us.saturating_mul(1000))
    }

    fn oom_kill_count(&self) -> u64 {
        let Some(d) = self.dir(Controller::Memory) else {
            return 0;
        };
        let file = if d.version == 1 {
            "memory.oom_control"
        } else {
            "memory.events"
        };
        d.read(file)
            .and_then(|s| stat_field(&s, "oom_kill"))
            .unwrap_or(0)
    }

    fn pids_refused_count(&self) -> u64 {
        self.dir(Controller::Pids)
            .and_then(|d| d.read("pids.events"))
            .and_then(|s| stat_field(&s, "max"))
            .unwrap_or(0)
    }

    /// OOM kills and refused forks since the previous call.
    pub(crate) fn take_counters(&mut self) -> (u64, u64) {
        let (oom, pids) = (self.oom_kill_count(), self.pids_refused_count());
        let delta = (
            oom.saturating_sub(self.oom_kills),
            pids.saturating_sub(self.pids_refused),
        );
        self.oom_kills = oom;
        self.pids_refused = pids;
        delta
    }

    /// Removes the directories (the sandbox's processes must all have exited).
    pub(crate) fn remove(&mut self) -> Result<(), SandboxError> {
        let mut first_err = None;
        let mut dirs: Vec<PathBuf> = self.dirs.drain(..).map(|d| d.path).collect();
        dirs.dedup();
        for d in dirs {
            let mut result = Ok(());
            // A v1 memory cgroup can report busy for a moment after its last task exits.
            for attempt in 0..50 {
                result = fs::remove_dir(&d);
                match &result {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 49 => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    _ => break,
                }
            }
            if let Err(e) = result
                && e.kind() != std::io::ErrorKind::NotFound
                && first_err.is_none()
            {
                first_err = Some(SandboxError::Io {
                    context: format!("remove cgroup {}", d.display()),
                    source: e,
                });
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for SandboxCgroups {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// Removes empty sandbox cgroups left by a supervisor that died without tearing down (their
/// owning process no longer exists). Busy or foreign directories are left alone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten().take(10_000) {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("modelgate-sandbox-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:10 - cgroup cgroup rw,pids
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
33 25 0:29 / /sys/fs/cgroup/unified rw,relatime shared:12 - cgroup2 cgroup2 rw
";
    const OWN: &str = "4:memory:/a/b\n8:pids:/\n2:cpu,cpuacct:/c\n0::/u\n";

    #[test]
    fn hybrid_hosts_take_each_controller_from_its_hierarchy() {
        let homes = discover_from(MOUNTINFO, OWN, |_| None);
        assert_eq!(homes.len(), 4);
        assert_eq!(homes[0].parent, Path::new("/sys/fs/cgroup/memory/a/b"));
        assert_eq!(homes[1].parent, Path::new("/sys/fs/cgroup/pids"));
        assert_eq!(homes[2].parent, Path::new("/sys/fs/cgroup/cpu,cpuacct/c"));
        assert_eq!(homes[3].controller, Controller::Cpuacct);
        assert!(homes.iter().all(|h| h.version == 1));
    }

    #[test]
    fn unified_hosts_need_delegation() {
        let mi = "33 25 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let homes = discover_from(mi, "0::/user.slice\n", |p| {
            (p == Path::new("/sys/fs/cgroup/user.slice/cgroup.subtree_control"))
                .then(|| "memory pids".to_owned())
        });
        let names: Vec<_> = homes.iter().map(|h| (h.controller, h.version)).collect();
        assert_eq!(names, vec![(Controller::Memory, 2), (Controller::Pids, 2)]);
        assert!(discover_from(mi, "0::/x\n", |_| None).is_empty());
    }

    #[test]
    fn stat_fields() {
        assert_eq!(
            stat_field("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(stat_field("max 12\n", "max"), Some(12));
    }
}
