//! What isolation this host offers, probed rather than assumed (`modelgate sandbox doctor`),
//! and the check that refuses a policy the host cannot honour.

use std::sync::OnceLock;

use serde::Serialize;

use crate::cgroup::{self, Controller};
use crate::oci::{self, OciEngine};
use crate::policy::{NetworkMode, Policy, Requirement};
use crate::sys;

/// A namespace type and whether an unprivileged child could create it (inside a new user
/// namespace, as the sandbox does).
#[derive(Debug, Clone, Serialize)]
pub struct NamespaceSupport {
    /// `user`, `mount`, `pid`, `network`, `ipc`, `uts`, `cgroup`.
    pub name: &'static str,
    /// Whether `unshare` succeeded.
    pub available: bool,
}

/// A cgroup controller as found on this host.
#[derive(Debug, Clone, Serialize)]
pub struct CgroupSupport {
    /// Controller name.
    pub controller: &'static str,
    /// `1` or `2`.
    pub version: u8,
    /// The directory under which sandboxes get their cgroup.
    pub parent: String,
}

/// Everything the native backend needs to know about the host.
#[derive(Debug, Clone, Serialize)]
pub struct HostFeatures {
    /// `uname -r`.
    pub kernel: String,
    /// The supervisor's effective uid (the native backend needs 0 to map a dedicated uid).
    pub euid: u32,
    /// Namespace types.
    pub namespaces: Vec<NamespaceSupport>,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
    /// `/proc/sys/kernel/seccomp/actions_avail`.
    pub seccomp_actions: Vec<String>,
    /// Whether this build has a filter for the CPU architecture.
    pub seccomp_filter_for_arch: bool,
    /// Landlock ABI version, if enabled.
    pub landlock_abi: Option<u32>,
    /// Controllers the sandbox can use, with their hierarchy.
    pub cgroups: Vec<CgroupSupport>,
    /// Whether a cgroup v2 hierarchy is mounted at all.
    pub cgroup_v2_mounted: bool,
    /// `dev.tty.legacy_tiocsti` (1: TIOCSTI injection enabled on the host).
    pub legacy_tiocsti: Option<bool>,
    /// OCI runtimes found on `PATH` and whether their engine answers.
    pub oci: Vec<OciEngine>,
}

const NAMESPACES: [(&str, i32); 7] = [
    ("user", 0),
    ("mount", libc::CLONE_NEWNS),
    ("pid", libc::CLONE_NEWPID),
    ("network", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
];

impl HostFeatures {
    /// Probes the host (forks a few short-lived children; no OCI engine queries).
    pub fn probe() -> Self {
        Self::probe_inner(true)
    }

    fn probe_inner(namespaces: bool) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
        let namespaces = NAMESPACES
            .iter()
            .map(|&(name, flag)| NamespaceSupport {
                name,
                available: !namespaces
                    || sys::probe_unshare(libc::CLONE_NEWUSER | flag).unwrap_or(false),
            })
            .collect();
        let seccomp_actions: Vec<String> = read("/proc/sys/kernel/seccomp/actions_avail")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Self {
            kernel: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
            euid: sys::geteuid(),
            namespaces,
            seccomp: seccomp_actions.iter().any(|a| a == "errno"),
            seccomp_actions,
            seccomp_filter_for_arch: crate::seccomp::filter().is_some(),
            landlock_abi: sys::landlock_abi(),
            cgroups: cgroup::discover_in(&mountinfo)
                .into_iter()
                .map(|h| CgroupSupport {
                    controller: h.controller.name(),
                    version: h.version,
                    parent: h.parent.display().to_string(),
                })
                .collect(),
            cgroup_v2_mounted: mountinfo.lines().any(|l| l.contains(" - cgroup2 ")),
            legacy_tiocsti: read("/proc/sys/dev/tty/legacy_tiocsti").map(|s| s == "1"),
            oci: Vec::new(),
        }
    }

    /// [`Self::probe`] plus OCI engine detection (runs `docker`/`podman` with a timeout).
    pub fn probe_with_oci() -> Self {
        let mut f = Self::probe();
        f.oci = oci::detect();
        f
    }

    /// The probe result, computed once per process.
    pub fn cached() -> &'static Self {
        static CACHE: OnceLock<HostFeatures> = OnceLock::new();
        CACHE.get_or_init(Self::probe)
    }

    /// Like [`Self::cached`] but without creating test namespaces: sandbox creation tries the
    /// real thing and runs the full probe only to explain a failure.
    pub(crate) fn cached_light() -> &'static Self {
        static CACHE: OnceLock<HostFeatures> = OnceLock::new();
        CACHE.get_or_init(|| Self::probe_inner(false))
    }

    /// The cgroup homes found by the probe.
    pub(crate) fn cgroup_homes(&self) -> Vec<cgroup::ControllerHome> {
        self.cgroups
            .iter()
            .filter_map(|c| {
                Some(cgroup::ControllerHome {
                    controller: Controller::from_name(c.controller)?,
                    version: c.version,
                    parent: c.parent.clone().into(),
                })
            })
            .collect()
    }

    fn has_cgroup(&self, c: Controller) -> bool {
        self.cgroups.iter().any(|x| x.controller == c.name())
    }

    /// What `policy` will use on this host, and what it requires that the host lacks.
    pub fn assess(&self, policy: &Policy) -> Assessment {
        let mut uses = Vec::new();
        let mut missing = Vec::new();
        let mut degraded = Vec::new();
        if self.euid != 0 {
            missing.push(format!(
                "the native backend runs as root (euid {}) so that it can map the sandbox user to a dedicated unprivileged host uid",
                self.euid
            ));
        }
        let absent: Vec<&str> = self
            .namespaces
            .iter()
            .filter(|n| !n.available)
            .map(|n| n.name)
            .collect();
        if absent.is_empty() {
            uses.push("user, mount, pid, network, ipc, uts and cgroup namespaces".to_owned());
        } else {
            missing.push(format!(
                "namespaces: {} cannot be created",
                absent.join(", ")
            ));
        }
        let mut need =
            |req: Requirement, have: bool, what: String, lacking: String| match (req, have) {
                (Requirement::Off, _) => {}
                (_, true) => uses.push(what),
                (Requirement::Required, false) => missing.push(lacking),
                (Requirement::IfAvailable, false) => degraded.push(lacking),
            };
        need(
            policy.isolation.seccomp,
            self.seccomp && self.seccomp_filter_for_arch,
            format!(
                "seccomp-bpf denylist ({} system calls refused, unknown ones after #{} refused)",
                crate::seccomp::denied_syscalls().len() + 2,
                crate::seccomp::MAX_KNOWN_SYSCALL
            ),
            "seccomp filtering (kernel without SECCOMP_FILTER, or no filter for this CPU architecture)".to_owned(),
        );
        need(
            policy.isolation.landlock,
            self.landlock_abi.is_some(),
            format!("landlock ABI {}", self.landlock_abi.unwrap_or(0)),
            "landlock (not enabled in this kernel's LSM list)".to_owned(),
        );
        let cg_missing: Vec<&str> = [Controller::Memory, Controller::Pids, Controller::Cpu]
            .into_iter()
            .filter(|c| !self.has_cgroup(*c))
            .map(Controller::name)
            .collect();
        let cg_desc = self
            .cgroups
            .iter()
            .map(|c| format!("{} (v{})", c.controller, c.version))
            .collect::<Vec<_>>()
            .join(", ");
        need(
            policy.isolation.cgroups,
            cg_missing.is_empty(),
            format!("cgroup limits: {cg_desc}"),
            format!(
                "cgroup controllers {} (not attached, or not delegated to this process)",
                cg_missing.join(", ")
            ),
        );
        uses.push(format!(
            "uid 65534 inside mapped to host uid {} (never 0)",
            u64::from(policy.isolation.host_uid) + 1
        ));
        uses.push(match policy.network.mode {
            NetworkMode::None => "network: loopback only".to_owned(),
            NetworkMode::Allowlist => format!(
                "network: egress proxy on 127.0.0.1:{} admitting {} destination(s)",
                policy.network.proxy_port,
                policy.network.allow.len()
            ),
        });
        Assessment {
            uses,
            missing,
            degraded,
        }
    }
}

/// The verdict of [`HostFeatures::assess`].
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Controls that will be in force.
    pub uses: Vec<String>,
    /// Required features the host lacks: the sandbox refuses to run.
    pub missing: Vec<String>,
    /// Optional (`if_available`) features the host lacks: runs, with a `degraded` event.
    pub degraded: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_host() -> HostFeatures {
        HostFeatures {
            kernel: "6.18".into(),
            euid: 0,
            namespaces: NAMESPACES
                .iter()
                .map(|&(name, _)| NamespaceSupport {
                    name,
                    available: true,
                })
                .collect(),
            seccomp: true,
            seccomp_actions: vec!["errno".into()],
            seccomp_filter_for_arch: true,
            landlock_abi: Some(7),
            cgroups: ["memory", "pids", "cpu", "cpuacct"]
                .into_iter()
                .map(|c| CgroupSupport {
                    controller: c,
                    version: 1,
                    parent: "/x".into(),
                })
                .collect(),
            cgroup_v2_mounted: true,
            legacy_tiocsti: Some(true),
            oci: Vec::new(),
        }
    }

    #[test]
    fn a_complete_host_runs_the_default_policy() {
        let v = full_host().assess(&Policy::default());
        assert!(v.missing.is_empty() && v.degraded.is_empty(), "{v:?}");
        assert!(v.uses.iter().any(|u| u.contains("landlock ABI 7")));
    }

    #[test]
    fn missing_required_features_are_named() {
        let mut h = full_host();
        h.landlock_abi = None;
        h.cgroups.retain(|c| c.controller != "pids");
        h.namespaces[3].available = false;
        let v = h.assess(&Policy::default());
        assert_eq!(v.missing.len(), 3, "{v:?}");
        assert!(v.missing.iter().any(|m| m.contains("namespaces: network")));
        assert!(v.missing.iter().any(|m| m.starts_with("landlock")));
        assert!(
            v.missing
                .iter()
                .any(|m| m.contains("cgroup controllers pids"))
        );
    }

    #[test]
    fn if_available_degrades_and_off_ignores() {
        let mut h = full_host();
        h.landlock_abi = None;
        h.seccomp = false;
        let p = Policy::from_yaml(
            "isolation:\n  landlock: if_available\n  seccomp: 'off'\n",
            None,
        )
        .unwrap();
        let v = h.assess(&p);
        assert!(v.missing.is_empty(), "{v:?}");
        assert_eq!(v.degraded.len(), 1);
        assert!(!v.uses.iter().any(|u| u.contains("seccomp")));
        let mut h = full_host();
        h.euid = 1000;
        assert!(h.assess(&Policy::default()).missing[0].contains("runs as root"));
    }
}
