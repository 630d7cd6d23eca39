//! What an exec returns: status, capped output, usage, and the policy events it caused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    pub(crate) fn from_wait(status: i32) -> Self {
        if libc::WIFSIGNALED(status) {
            Self::Signal(libc::WTERMSIG(status))
        } else {
            Self::Code(libc::WEXITSTATUS(status))
        }
    }

    /// The shell convention: the exit code, or 128 + signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            Self::Code(c) => c,
            Self::Signal(s) => 128 + s,
        }
    }

    /// Whether the command exited with code 0.
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }
}

/// Name of a signal number (`SIGKILL`), or `SIG<n>`.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("SIG{sig}"),
    };
    name.to_owned()
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Something the policy stopped or noticed. Events are facts for the eval log: each says what
/// was attempted and what limit or rule answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The wall-clock limit expired; every process of the exec was killed.
    Timeout {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// The memory limit was hit and the kernel killed a process.
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: u64,
        /// How many processes the kernel killed.
        kills: u64,
    },
    /// Process creation was refused at the process limit.
    ProcessLimit {
        /// The limit.
        limit: u64,
        /// How many `fork`/`clone` calls were refused.
        refused: u64,
    },
    /// The CPU-time limit killed the command.
    CpuLimit {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// Output beyond the cap was counted and dropped.
    OutputTruncated {
        /// Which stream.
        stream: Stream,
        /// Bytes kept.
        limit_bytes: u64,
        /// Bytes the command wrote.
        total_bytes: u64,
    },
    /// The egress proxy refused a destination.
    EgressDenied {
        /// Host as requested.
        host: String,
        /// Port as requested (0 when the request could not be parsed).
        port: u16,
        /// RFC 3339 UTC time of the attempt.
        at: String,
        /// Why it was refused.
        reason: String,
    },
    /// The egress proxy admitted a destination.
    EgressAllowed {
        /// Host as requested.
        host: String,
        /// Port.
        port: u16,
        /// RFC 3339 UTC time.
        at: String,
    },
    /// The seccomp filter refused a system call (`EPERM`); one event per distinct call.
    SyscallDenied {
        /// The call, e.g. `ptrace`, `ioctl(TIOCSTI)`, `clone(namespace flags)`.
        syscall: String,
        /// How many times it was attempted during the exec.
        count: u64,
        /// RFC 3339 UTC time of the first attempt.
        first_at: String,
    },
    /// The sandbox ran with less isolation than the policy asks for (explicitly allowed).
    Degraded {
        /// What is missing.
        missing: String,
    },
}

/// The result of one contained command.
#[derive(Debug, Clone, Serialize)]
pub struct ExecResult {
    /// Version of this JSON shape (`docs/schemas/sandbox-exec-result-v1.json`).
    pub schema_version: u32,
    /// Exit code, or `null` when killed by a signal.
    pub exit_code: Option<i32>,
    /// Signal name (`SIGKILL`) when killed by a signal.
    pub signal: Option<String>,
    /// Captured standard output (at most `limits.output` bytes, then a truncation marker).
    #[serde(serialize_with = "lossy")]
    pub stdout: Vec<u8>,
    /// Whether stdout was cut.
    pub stdout_truncated: bool,
    /// Bytes the command wrote to stdout in total.
    pub stdout_bytes: u64,
    /// Captured standard error (same rules).
    #[serde(serialize_with = "lossy")]
    pub stderr: Vec<u8>,
    /// Whether stderr was cut.
    pub stderr_truncated: bool,
    /// Bytes the command wrote to stderr in total.
    pub stderr_bytes: u64,
    /// Wall-clock time from start to exit, in milliseconds.
    pub wall_time_ms: f64,
    /// CPU time (user + system) of all the exec's processes, in milliseconds.
    pub cpu_time_ms: f64,
    /// Peak memory of the sandbox during the exec, in bytes (cgroup; else the largest RSS).
    pub peak_memory_bytes: u64,
    /// Whether the wall-clock limit killed the command.
    pub timed_out: bool,
    /// Policy events seen during this exec.
    pub events: Vec<Event>,
    /// The backend that ran it (`native` or `oci:<engine>`).
    pub backend: String,
    #[serde(skip)]
    pub(crate) status: Option<ExitStatus>,
}

impl ExecResult {
    /// How the command ended.
    pub fn status(&self) -> ExitStatus {
        self.status.unwrap_or(match (self.exit_code, &self.signal) {
            (Some(c), _) => ExitStatus::Code(c),
            _ => ExitStatus::Signal(libc::SIGKILL),
        })
    }

    /// Standard output as text (lossy UTF-8).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy UTF-8).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub(crate) fn new(status: ExitStatus, backend: &str) -> Self {
        let (exit_code, signal) = match status {
            ExitStatus::Code(c) => (Some(c), None),
            ExitStatus::Signal(s) => (None, Some(signal_name(s))),
        };
        Self {
            schema_version: 1,
            exit_code,
            signal,
            stdout: Vec::new(),
            stdout_truncated: false,
            stdout_bytes: 0,
            stderr: Vec::new(),
            stderr_truncated: false,
            stderr_bytes: 0,
            wall_time_ms: 0.0,
            cpu_time_ms: 0.0,
            peak_memory_bytes: 0,
            timed_out: false,
            events: Vec::new(),
            backend: backend.to_owned(),
            status: Some(status),
        }
    }
}

#[allow(clippy::ptr_arg)] // serde's serialize_with passes &Vec<u8>
fn lossy<S: Serializer>(bytes: &Vec<u8>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// RFC 3339 UTC timestamp with milliseconds, for events.
pub(crate) fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)] // day 1..=31, month 1..=12
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn shell_codes() {
        assert_eq!(ExitStatus::Code(3).shell_code(), 3);
        assert_eq!(ExitStatus::Signal(9).shell_code(), 137);
        assert_eq!(signal_name(9), "SIGKILL");
    }
}
