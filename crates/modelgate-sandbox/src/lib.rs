//! Contain untrusted agent tool calls on Linux, with no container engine required.
//!
//! A [`Sandbox`] lives for one evaluation sample. Each [`Sandbox::exec`] runs a command as
//! uid 65534 (mapped to a dedicated unprivileged host uid, never host root) in new user,
//! mount, PID, network, IPC, UTS and cgroup namespaces, on a read-only root with size-capped
//! tmpfs `/tmp` and `/workspace`, its own `/proc` (`/proc/sys` read-only) and a minimal
//! `/dev`, with every capability dropped, `no_new_privs`, a seccomp-bpf filter, landlock, cgroup
//! limits on memory, processes and CPU, a wall-clock limit, capped output and a scrubbed
//! environment. Execs share the sample's `/workspace`; the supervisor reads and writes it
//! without ever following a link the command planted. [`Sandbox::teardown`] leaves no process,
//! mount, namespace, cgroup or file behind.
//!
//! When the host lacks something the policy requires, [`Sandbox::create`] refuses and names it
//! ([`SandboxError::Unsupported`]); [`HostFeatures`] says what the host offers.
//!
//! ```no_run
//! use modelgate_sandbox::{ExecOptions, Policy, Sandbox, SandboxOptions};
//!
//! # fn main() -> Result<(), modelgate_sandbox::SandboxError> {
//! let policy = Policy::from_yaml("limits:\n  wall_time: 10s\n  memory: 256MiB\n", None)?;
//! let mut sandbox = Sandbox::create(&policy, &SandboxOptions::default())?;
//! sandbox.write_file("task/input.txt", b"2 + 2\n")?;
//! let run = sandbox.exec(&["sh", "-c", "bc < task/input.txt > answer.txt; id -u"], &ExecOptions::default())?;
//! assert_eq!(run.exit_code, Some(0));
//! assert_eq!(run.stdout_text().trim(), "65534");
//! let answer = sandbox.read_file("answer.txt", 1 << 20)?;
//! println!("{} events, answer {:?}", run.events.len(), String::from_utf8_lossy(&answer));
//! sandbox.teardown()?;
//! # Ok(()) }
//! ```
//!
//! The OCI backend ([`oci`]) maps the same [`Policy`] onto a hardened `docker run`/`podman
//! run` where an engine runs. This crate is the only one in modelgate with `unsafe`, confined
//! to its `sys` module.
#![deny(unsafe_code)]

mod cgroup;
mod error;
mod host;
mod landlock;
mod native;
pub mod oci;
mod outcome;
pub mod policy;
mod proxy;
pub mod seccomp;
mod sys;

pub use cgroup::Controller;
pub use error::{PolicyError, SandboxError};
pub use host::{Assessment, CgroupSupport, HostFeatures, NamespaceSupport};
pub use native::{ExecOptions, Sandbox, SandboxOptions, WorkspaceEntry};
pub use outcome::{Event, ExecResult, ExitStatus, Stream, signal_name};
pub use policy::Policy;

#[cfg(test)]
mod tests {
    /// The eval runner moves sandboxes between threads (and async tasks).
    #[test]
    fn sandbox_and_results_are_send() {
        fn send<T: Send>() {}
        send::<crate::Sandbox>();
        send::<crate::ExecResult>();
        send::<crate::SandboxError>();
    }
}
