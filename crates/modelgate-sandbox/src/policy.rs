//! The sandbox policy: what a contained command may see, use and reach.
//!
//! A policy is a strict YAML document (unknown fields are errors naming the field and line);
//! every field has a safe default, so an empty document is the default policy. See
//! `docs/sandbox.md` for the reference with examples.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// Largest policy file read, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
const MAX_LIST: usize = 256;
const MAX_STRING: usize = 4096;

/// A complete sandbox policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Format version; must be 1.
    pub version: u32,
    /// Root filesystem, extra bind mounts and the sizes of the writable tmpfs mounts.
    pub filesystem: FilesystemPolicy,
    /// Resource limits.
    pub limits: LimitsPolicy,
    /// Network access.
    pub network: NetworkPolicy,
    /// The command's environment.
    pub environment: EnvironmentPolicy,
    /// Which kernel features are required, and the host identity of the sandbox user.
    pub isolation: IsolationPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            version: 1,
            filesystem: FilesystemPolicy::default(),
            limits: LimitsPolicy::default(),
            network: NetworkPolicy::default(),
            environment: EnvironmentPolicy::default(),
            isolation: IsolationPolicy::default(),
        }
    }
}

/// Filesystem layout.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemPolicy {
    /// A directory to use as the read-only root (for example an unpacked OCI image). When
    /// unset, the root is assembled from `system_dirs` of the host.
    pub rootfs: Option<PathBuf>,
    /// Host directories bound read-only at the same place when `rootfs` is unset. Missing ones
    /// are skipped; symbolic links (such as `/bin -> usr/bin`) are recreated as links.
    pub system_dirs: Vec<PathBuf>,
    /// Extra host paths to bind into the sandbox.
    pub binds: Vec<BindPolicy>,
    /// Size cap of the `/workspace` tmpfs.
    pub workspace_size: ByteSize,
    /// Size cap of the `/tmp` (and `/dev/shm`) tmpfs.
    pub tmp_size: ByteSize,
    /// Host name inside the sandbox.
    pub hostname: String,
}

impl Default for FilesystemPolicy {
    fn default() -> Self {
        Self {
            rootfs: None,
            system_dirs: [
                "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            binds: Vec::new(),
            workspace_size: ByteSize(256 << 20),
            tmp_size: ByteSize(64 << 20),
            hostname: "sandbox".to_owned(),
        }
    }
}

/// One extra bind mount.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BindPolicy {
    /// Absolute host path (file or directory).
    pub source: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: PathBuf,
    /// Writable by the sandbox user (host permissions still apply). Default: read-only.
    #[serde(default)]
    pub writable: bool,
}

/// Resource limits; each one is enforced by the kernel, not by polling.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsPolicy {
    /// Memory of all the sandbox's processes together, tmpfs contents included (cgroup).
    pub memory: ByteSize,
    /// Number of processes and threads alive at once (cgroup `pids`, plus `RLIMIT_NPROC`).
    pub processes: u32,
    /// CPU time of each process (`RLIMIT_CPU`).
    pub cpu_time: Dur,
    /// CPU bandwidth, in cores (cgroup CFS quota).
    pub cpus: f64,
    /// Wall-clock time of one exec; then every process of that exec is killed.
    pub wall_time: Dur,
    /// Bytes of stdout and of stderr kept per exec; the rest is counted and dropped.
    pub output: ByteSize,
    /// Open descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u32,
    /// Largest file a process may write (`RLIMIT_FSIZE`).
    pub file_size: ByteSize,
}

impl Default for LimitsPolicy {
    fn default() -> Self {
        Self {
            memory: ByteSize(512 << 20),
            processes: 256,
            cpu_time: Dur(Duration::from_secs(60)),
            cpus: 1.0,
            wall_time: Dur(Duration::from_secs(60)),
            output: ByteSize(1 << 20),
            open_files: 1024,
            file_size: ByteSize(256 << 20),
        }
    }
}

/// Network access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// A private network namespace with only a loopback interface.
    #[default]
    None,
    /// As `none`, plus an HTTP/HTTPS proxy on the sandbox's loopback that admits only `allow`.
    Allowlist,
}

/// Network policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkPolicy {
    /// `none` (default) or `allowlist`.
    pub mode: NetworkMode,
    /// Destinations the egress proxy admits: `host`, `host:port`, `*.domain:port`, `host:*`,
    /// an IP literal (`127.0.0.1:8080`, `[::1]:443`). Without a port, 80 and 443.
    pub allow: Vec<String>,
    /// Port of the proxy on the sandbox's loopback (`HTTP(S)_PROXY` point at it).
    pub proxy_port: u16,
    /// Let allowed *names* resolve to loopback, private or link-local addresses. Off by
    /// default so that a listed name cannot be pointed at the host's own services by DNS.
    pub allow_private_addresses: bool,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self {
            mode: NetworkMode::None,
            allow: Vec::new(),
            proxy_port: 3128,
            allow_private_addresses: false,
        }
    }
}

/// The command's environment: nothing from the host unless named.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentPolicy {
    /// Names copied from the supervisor's environment when set there.
    pub pass: Vec<String>,
    /// Variables set to fixed values.
    pub set: BTreeMap<String, String>,
}

impl Default for EnvironmentPolicy {
    fn default() -> Self {
        let set = [
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("HOME", "/workspace"),
            ("TMPDIR", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("USER", "sandbox"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            pass: Vec::new(),
            set,
        }
    }
}

/// Whether a kernel feature is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Refuse to run when the host lacks it (unless degraded running is explicitly allowed).
    Required,
    /// Use it when present, and say so in every result when it is not.
    IfAvailable,
    /// Do not use it.
    Off,
}

/// Kernel features and identity.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationPolicy {
    /// Seccomp-bpf system call filter.
    pub seccomp: Requirement,
    /// Landlock filesystem rules and IPC scoping.
    pub landlock: Requirement,
    /// cgroup limits on memory, processes and CPU.
    pub cgroups: Requirement,
    /// Host uid that setup-time root inside the sandbox maps to; the sandbox user (65534
    /// inside) maps to `host_uid + 1`. Never 0; pick ids no host account uses.
    pub host_uid: u32,
    /// Host gid, likewise (`host_gid + 1` for the sandbox group).
    pub host_gid: u32,
}

impl Default for IsolationPolicy {
    fn default() -> Self {
        Self {
            seccomp: Requirement::Required,
            landlock: Requirement::Required,
            cgroups: Requirement::Required,
            host_uid: 1_879_048_192,
            host_gid: 1_879_048_192,
        }
    }
}

/// A size in bytes; YAML accepts an integer or `"64MiB"`, `"512M"`, `"1GiB"`, `"4k"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A duration; YAML accepts integer seconds or `"500ms"`, `"30s"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

/// Parses `"64MiB"`-style sizes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try 64MiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses `"30s"`-style durations.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 30s)"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        other => return Err(format!("unknown duration unit `{other}` (use ms, s, m, h)")),
    };
    Ok(d)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as 67108864 or \"64MiB\"")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom("a size cannot be negative"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        parse_size(v).map(ByteSize).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct DurVisitor;

impl Visitor<'_> for DurVisitor {
    type Value = Dur;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 30 (seconds) or \"500ms\", \"30s\", \"2m\"")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
        Ok(Dur(Duration::from_secs(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
        u64::try_from(v)
            .map(|v| Dur(Duration::from_secs(v)))
            .map_err(|_| E::custom("a duration cannot be negative"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
        parse_duration(v).map(Dur).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurVisitor)
    }
}

/// One admitted egress destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// Lower-case host name, `*.suffix` wildcard or IP literal (without brackets).
    pub host: String,
    /// `None` means any port.
    pub ports: Option<Vec<u16>>,
}

impl HostRule {
    /// Parses `host`, `host:port`, `*.domain:port`, `host:*`, `[v6]:port`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.len() > 260 {
            return Err("a destination must be 1 to 260 characters".to_owned());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, tail) = rest
                .split_once(']')
                .ok_or("unclosed `[` in an IPv6 destination")?;
            (h, tail.strip_prefix(':'))
        } else if s.matches(':').count() > 1 {
            (s, None) // bare IPv6 literal
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let host = host.to_ascii_lowercase();
        let ports = match port {
            None => Some(vec![80, 443]),
            Some("*") => None,
            Some(p) => Some(vec![
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{p}` is not a port"))?,
            ]),
        };
        let valid_name = |h: &str| {
            !h.is_empty()
                && h.len() <= 253
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        let ok = host.parse::<std::net::IpAddr>().is_ok()
            || host.strip_prefix("*.").is_some_and(valid_name)
            || valid_name(&host);
        if !ok {
            return Err(format!(
                "`{host}` is not a host name, `*.domain` wildcard or IP address"
            ));
        }
        Ok(Self { host, ports })
    }

    /// Whether this rule admits `host:port` (`host` already lower-case, without brackets).
    pub fn admits(&self, host: &str, port: u16) -> bool {
        let host_ok = if let Some(suffix) = self.host.strip_prefix("*.") {
            host.parse::<std::net::IpAddr>().is_err()
                && host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        } else {
            self.host == host
        };
        host_ok && self.ports.as_ref().is_none_or(|p| p.contains(&port))
    }
}

impl Policy {
    /// Parses and validates a policy document. `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: Option<&Path>) -> Result<Self, PolicyError> {
        let err = |line: Option<u64>,
                   column: Option<u64>,
                   field: Option<String>,
                   message: String| PolicyError {
            path: origin.map(Path::to_path_buf),
            line,
            column,
            field,
            message,
        };
        if text.len() > MAX_POLICY_BYTES {
            return Err(err(
                None,
                None,
                None,
                format!("the policy is larger than {MAX_POLICY_BYTES} bytes"),
            ));
        }
        let policy: Policy = if text.trim().is_empty() {
            Policy::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let loc = e.location();
                let message = first_line(&e.to_string());
                let field = unknown_field_name(&message);
                err(
                    loc.map(|l| l.line()),
                    loc.map(|l| l.column()),
                    field,
                    message,
                )
            })?
        };
        policy.validate().map_err(|(field, message)| {
            let line = locate(text, &field);
            err(line, None, Some(field), message)
        })?;
        Ok(policy)
    }

    /// Reads and parses a policy file (at most [`MAX_POLICY_BYTES`]).
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let io_err = |e: std::io::Error| PolicyError {
            path: Some(path.to_path_buf()),
            line: None,
            column: None,
            field: None,
            message: format!("cannot read the policy: {e}"),
        };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if meta.len() > MAX_POLICY_BYTES as u64 {
            return Err(io_err(std::io::Error::other(format!(
                "larger than {MAX_POLICY_BYTES} bytes"
            ))));
        }
        let bytes = std::fs::read(path).map_err(io_err)?;
        let text =
            String::from_utf8(bytes).map_err(|_| io_err(std::io::Error::other("not UTF-8")))?;
        Self::from_yaml(&text, Some(path))
    }

    /// The parsed egress allowlist.
    pub fn host_rules(&self) -> Vec<HostRule> {
        self.network
            .allow
            .iter()
            .filter_map(|s| HostRule::parse(s).ok())
            .collect()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, msg: String| Err((field.to_owned(), msg));
        if self.version != 1 {
            return bad(
                "version",
                format!(
                    "unsupported policy version {} (this modelgate reads version 1)",
                    self.version
                ),
            );
        }
        let fs = &self.filesystem;
        if let Some(root) = &fs.rootfs {
            check_path("filesystem.rootfs", root)?;
        }
        if fs.system_dirs.len() > MAX_LIST || fs.binds.len() > MAX_LIST {
            return bad(
                "filesystem",
                format!("at most {MAX_LIST} system_dirs and binds"),
            );
        }
        for d in &fs.system_dirs {
            check_path("filesystem.system_dirs", d)?;
            if is_reserved(d) {
                return bad(
                    "filesystem.system_dirs",
                    format!("{} is managed by the sandbox itself", d.display()),
                );
            }
        }
        for b in &fs.binds {
            check_path("filesystem.binds.source", &b.source)?;
            check_path("filesystem.binds.target", &b.target)?;
            if is_reserved(&b.target) || b.target == Path::new("/") {
                return bad(
                    "filesystem.binds.target",
                    format!("{} is managed by the sandbox itself", b.target.display()),
                );
            }
        }
        let hn = &fs.hostname;
        if hn.is_empty()
            || hn.len() > 64
            || !hn.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad(
                "filesystem.hostname",
                format!("`{hn}` is not a host name (letters, digits, `-`, ≤ 64)"),
            );
        }
        for (field, v, min) in [
            ("filesystem.workspace_size", fs.workspace_size.0, 1 << 20),
            ("filesystem.tmp_size", fs.tmp_size.0, 1 << 20),
            ("limits.memory", self.limits.memory.0, 8 << 20),
            ("limits.output", self.limits.output.0, 1),
            ("limits.file_size", self.limits.file_size.0, 1),
        ] {
            if v < min || v > (1 << 44) {
                return bad(
                    field,
                    format!("{v} bytes is outside the accepted range ({min} bytes to 16 TiB)"),
                );
            }
        }
        if self.limits.output.0 > 256 << 20 {
            return bad(
                "limits.output",
                "at most 256MiB of output is kept per stream".to_owned(),
            );
        }
        let l = &self.limits;
        if l.processes == 0 || l.processes > 1 << 20 {
            return bad(
                "limits.processes",
                format!("{} is outside 1..=1048576", l.processes),
            );
        }
        if l.open_files < 16 || l.open_files > 1 << 20 {
            return bad(
                "limits.open_files",
                format!("{} is outside 16..=1048576", l.open_files),
            );
        }
        for (field, d) in [
            ("limits.cpu_time", l.cpu_time.0),
            ("limits.wall_time", l.wall_time.0),
        ] {
            if d < Duration::from_millis(10) || d > Duration::from_secs(7 * 24 * 3600) {
                return bad(field, format!("{d:?} is outside 10ms..=7 days"));
            }
        }
        if !(l.cpus.is_finite() && l.cpus >= 0.01 && l.cpus <= 4096.0) {
            return bad(
                "limits.cpus",
                format!("{} is outside 0.01..=4096 cores", l.cpus),
            );
        }
        if self.network.allow.len() > MAX_LIST {
            return bad("network.allow", format!("at most {MAX_LIST} destinations"));
        }
        for a in &self.network.allow {
            HostRule::parse(a).map_err(|m| ("network.allow".to_owned(), m))?;
        }
        if self.network.mode == NetworkMode::None && !self.network.allow.is_empty() {
            return bad(
                "network.allow",
                "destinations are only admitted with `mode: allowlist`; with `mode: none` nothing leaves the sandbox".to_owned(),
            );
        }
        if self.network.mode == NetworkMode::Allowlist && self.network.proxy_port == 0 {
            return bad(
                "network.proxy_port",
                "the proxy port cannot be 0".to_owned(),
            );
        }
        let env = &self.environment;
        if env.pass.len() > MAX_LIST || env.set.len() > MAX_LIST {
            return bad(
                "environment",
                format!("at most {MAX_LIST} names in pass and in set"),
            );
        }
        for name in env.pass.iter().chain(env.set.keys()) {
            if !valid_env_name(name) {
                return bad(
                    "environment",
                    format!("`{name}` is not a valid variable name"),
                );
            }
        }
        if env
            .set
            .values()
            .any(|v| v.len() > MAX_STRING || v.contains('\0'))
        {
            return bad(
                "environment.set",
                format!("values must be under {MAX_STRING} bytes, without NUL"),
            );
        }
        let iso = &self.isolation;
        for (field, id) in [
            ("isolation.host_uid", iso.host_uid),
            ("isolation.host_gid", iso.host_gid),
        ] {
            if id == 0 || id >= u32::MAX - 2 {
                return bad(
                    field,
                    format!(
                        "{id} must be a non-root id below 4294967293 (the sandbox uses it and the next one)"
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The parser's first message line, without its own `error: line N column M:` prefix (the
/// location is reported separately).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let line = match line.split_once(": ") {
        Some((loc, rest)) if loc.starts_with("line ") => rest,
        _ => line,
    };
    line.chars().take(400).collect()
}

/// `unknown field `foo`, expected …` → `foo`.
fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.split("unknown field").nth(1)?;
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    Some(rest[start..start + len].to_owned())
}

/// Finds the line of a dotted field (`limits.memory`) in block-style YAML.
fn locate(text: &str, field: &str) -> Option<u64> {
    let mut want = field.split('.').peekable();
    let mut depth_indent: Option<usize> = None;
    let mut found = None;
    let mut current = want.next()?;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let trimmed = trimmed.trim_start_matches("- ");
        if depth_indent.is_some_and(|d| indent <= d)
            && !trimmed.is_empty()
            && !trimmed.starts_with('#')
        {
            break;
        }
        if trimmed
            .strip_prefix(current)
            .is_some_and(|r| r.trim_start().starts_with(':'))
        {
            found = Some(i as u64 + 1);
            match want.next() {
                Some(next) => {
                    current = next;
                    depth_indent = Some(indent);
                }
                None => return found,
            }
        }
    }
    found
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_path(field: &str, p: &Path) -> Result<(), (String, String)> {
    let s = p.as_os_str().as_encoded_bytes();
    if !p.is_absolute() || s.len() > MAX_STRING || s.contains(&0) {
        return Err((
            field.to_owned(),
            format!("{} must be an absolute path", p.display()),
        ));
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err((
            field.to_owned(),
            format!("{} must not contain `.` or `..`", p.display()),
        ));
    }
    Ok(())
}

fn is_reserved(p: &Path) -> bool {
    ["/proc", "/dev", "/tmp", "/workspace", "/sys"]
        .iter()
        .any(|r| p.starts_with(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default() {
        assert_eq!(Policy::from_yaml("", None).unwrap(), Policy::default());
        assert_eq!(
            Policy::from_yaml("version: 1\n", None).unwrap(),
            Policy::default()
        );
    }

    #[test]
    fn sizes_and_durations() {
        let p = Policy::from_yaml(
            "limits:\n  memory: 64MiB\n  wall_time: 500ms\n  cpu_time: 2\n  output: 4k\nfilesystem:\n  tmp_size: 1048576\n",
            None,
        )
        .unwrap();
        assert_eq!(p.limits.memory, ByteSize(64 << 20));
        assert_eq!(p.limits.wall_time, Dur(Duration::from_millis(500)));
        assert_eq!(p.limits.cpu_time, Dur(Duration::from_secs(2)));
        assert_eq!(p.limits.output, ByteSize(4096));
        assert_eq!(p.filesystem.tmp_size, ByteSize(1 << 20));
    }

    #[test]
    fn unknown_field_names_field_and_line() {
        let e = Policy::from_yaml(
            "version: 1\nlimits:\n  memory: 64MiB\n  memroy: 1\n",
            Some(Path::new("p.yaml")),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("memroy"), "{e}");
        assert!(
            e.message.starts_with("unknown field `memroy`"),
            "{:?}",
            e.message
        );
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("p.yaml:4"), "{e}");
    }

    #[test]
    fn invalid_value_names_field_and_line() {
        let e = Policy::from_yaml("version: 1\nlimits:\n  processes: 0\n", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("limits.processes"));
        assert_eq!(e.line, Some(3));
        let e = Policy::from_yaml("limits:\n  memory: 12 parsecs\n", None).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Policy::from_yaml("isolation:\n  host_uid: 0\n", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("isolation.host_uid"));
        let e = Policy::from_yaml(
            "network:\n  mode: allowlist\n  allow: ['exa mple.com']\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("network.allow"));
        assert_eq!(e.line, Some(3));
        let e = Policy::from_yaml(
            "filesystem:\n  binds:\n    - {source: /etc, target: /proc/x}\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("filesystem.binds.target"));
        let e = Policy::from_yaml("network:\n  mode: everything\n", None).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn host_rules() {
        let r = HostRule::parse("*.Example.com:443").unwrap();
        assert!(r.admits("a.example.com", 443));
        assert!(r.admits("b.a.example.com", 443));
        assert!(!r.admits("example.com", 443));
        assert!(!r.admits("evilexample.com", 443));
        assert!(!r.admits("a.example.com", 80));
        let r = HostRule::parse("pypi.org").unwrap();
        assert!(r.admits("pypi.org", 80) && r.admits("pypi.org", 443) && !r.admits("pypi.org", 22));
        let r = HostRule::parse("127.0.0.1:*").unwrap();
        assert!(r.admits("127.0.0.1", 9));
        let r = HostRule::parse("[::1]:8080").unwrap();
        assert!(r.admits("::1", 8080));
        assert!(HostRule::parse("*.0.0.1:*").is_ok_and(|r| !r.admits("127.0.0.1", 80)));
        assert!(HostRule::parse("a:0").is_err());
        assert!(HostRule::parse("a b").is_err());
        assert!(HostRule::parse("").is_err());
    }

    #[test]
    fn locate_nested_fields() {
        let t = "a: 1\nlimits:\n  # c\n  cpus: 2\n  memory: 3\nnetwork:\n  memory: 4\n";
        assert_eq!(locate(t, "limits.memory"), Some(5));
        assert_eq!(locate(t, "network.memory"), Some(7));
        assert_eq!(locate(t, "a"), Some(1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn parsing_never_panics(s in "\\PC{0,200}") {
            let _ = Policy::from_yaml(&s, None);
        }
        #[test]
        fn structured_documents_never_panic(
            key in "(version|limits|network|filesystem|environment|isolation|memory|allow|mode)",
            value in "[-a-z0-9*.:\\[\\] {}]{0,30}",
            nested in proptest::bool::ANY,
        ) {
            let doc = if nested { format!("limits:\n  {key}: {value}\n") } else { format!("{key}: {value}\n") };
            let _ = Policy::from_yaml(&doc, None);
        }
    }

    #[test]
    fn allow_without_allowlist_mode_is_an_error() {
        let e = Policy::from_yaml("network:\n  allow: [pypi.org]\n", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("network.allow"));
        assert!(
            Policy::from_yaml("network:\n  mode: allowlist\n  allow: [pypi.org]\n", None).is_ok()
        );
    }
}
