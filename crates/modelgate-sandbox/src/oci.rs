//! The OCI runtime backend: the same policy mapped onto `docker run` / `podman run` (with
//! gVisor's `runsc` as the runtime when the engine has it registered).
//!
//! Hardened settings, whatever the image says: every capability dropped, no-new-privileges,
//! read-only root, size-capped tmpfs `/tmp` and `/workspace`, user 65534, pids/memory/CPU
//! limits, no network, the engine's default seccomp profile left on, the environment limited to
//! the policy's. Each exec is a fresh container (`--rm`); a workspace shared across execs is
//! the native backend's job. The egress allowlist is native-only and is refused here rather
//! than silently widened.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::SandboxError;
use crate::outcome::{Event, ExecResult, ExitStatus, Stream, millis};
use crate::policy::{NetworkMode, Policy};

/// An OCI engine CLI (or runtime) found on this host.
#[derive(Debug, Clone, Serialize)]
pub struct OciEngine {
    /// `docker`, `podman` or `runsc`.
    pub name: String,
    /// Where the executable is.
    pub path: String,
    /// Whether an engine answers (for `runsc`: whether a running engine has it registered).
    pub running: bool,
    /// Server version, or why it is not usable.
    pub detail: String,
}

fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// Runs a short engine query with a timeout; `(success, stdout or first stderr line)`.
fn query(cli: &str, args: &[&str]) -> (bool, String) {
    let child = Command::new(cli)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return (false, format!("cannot run {cli}"));
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (false, "no answer within 5 s".to_owned());
            }
        }
    }
    match child.wait_with_output() {
        Ok(o) if o.status.success() => (true, String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            (
                false,
                err.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed")
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            )
        }
        Err(e) => (false, e.to_string()),
    }
}

/// Finds docker/podman/runsc and asks each engine whether it runs.
pub fn detect() -> Vec<OciEngine> {
    let mut out = Vec::new();
    let mut runtimes = String::new();
    for name in ["docker", "podman"] {
        let Some(path) = which(name) else { continue };
        let (ok, detail) = query(&path, &["version", "--format", "{{.Server.Version}}"]);
        if ok {
            runtimes.push_str(&query(&path, &["info", "--format", "{{json .Runtimes}}"]).1);
        }
        out.push(OciEngine {
            name: name.to_owned(),
            path,
            running: ok,
            detail: if ok {
                format!("server {detail}")
            } else {
                format!("no engine answers: {detail}")
            },
        });
    }
    if let Some(path) = which("runsc") {
        let registered = runtimes.contains("runsc");
        out.push(OciEngine {
            name: "runsc".to_owned(),
            path,
            running: registered,
            detail: if registered {
                "registered with a running engine".to_owned()
            } else {
                "installed, but no running engine has it registered".to_owned()
            },
        });
    }
    out
}

/// The first running engine, preferring docker, then podman.
pub fn running_engine(engines: &[OciEngine]) -> Result<&OciEngine, SandboxError> {
    engines
        .iter()
        .find(|e| e.running && e.name != "runsc")
        .ok_or_else(|| {
            let found: Vec<String> = engines
                .iter()
                .map(|e| format!("{} ({}: {})", e.name, e.path, e.detail))
                .collect();
            SandboxError::Oci(if found.is_empty() {
                "no OCI engine CLI (docker, podman) found on PATH; use the native backend"
                    .to_owned()
            } else {
                format!(
                    "no OCI engine is running here — {}; use the native backend",
                    found.join("; ")
                )
            })
        })
}

/// The `run` arguments implementing `policy` for `image` and `argv` (without the CLI name).
pub fn run_args(
    policy: &Policy,
    name: &str,
    image: &str,
    argv: &[String],
    runtime: Option<&str>,
) -> Result<Vec<String>, SandboxError> {
    if policy.network.mode == NetworkMode::Allowlist {
        return Err(SandboxError::Oci(
            "the egress allowlist runs only with the native backend; refusing to give the container a network".to_owned(),
        ));
    }
    if policy.filesystem.rootfs.is_some() {
        return Err(SandboxError::Oci(
            "filesystem.rootfs does not apply to the OCI backend: pass an image".to_owned(),
        ));
    }
    if argv.is_empty() {
        return Err(SandboxError::Oci("empty command line".to_owned()));
    }
    let fs = &policy.filesystem;
    let l = &policy.limits;
    let cpu_secs = l.cpu_time.0.as_secs().max(1);
    let mut a: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        format!("--name={name}"),
        "--init".into(),
        "--cap-drop=ALL".into(),
        "--security-opt=no-new-privileges".into(),
        "--read-only".into(),
        format!(
            "--tmpfs=/tmp:rw,nosuid,nodev,size={},mode=1777",
            fs.tmp_size.0
        ),
        format!(
            "--tmpfs=/workspace:rw,nosuid,nodev,size={},uid=65534,gid=65534,mode=0755",
            fs.workspace_size.0
        ),
        "--user=65534:65534".into(),
        "--workdir=/workspace".into(),
        format!("--pids-limit={}", l.processes),
        format!("--memory={}b", l.memory.0),
        format!("--memory-swap={}b", l.memory.0),
        format!("--cpus={}", l.cpus),
        "--network=none".into(),
        "--ipc=private".into(),
        format!("--hostname={}", fs.hostname),
        format!("--ulimit=nofile={0}:{0}", l.open_files),
        format!("--ulimit=fsize={0}:{0}", l.file_size.0),
        format!("--ulimit=cpu={cpu_secs}:{cpu_secs}"),
        "--ulimit=core=0:0".into(),
        "--log-driver=none".into(),
    ];
    if let Some(rt) = runtime {
        a.push(format!("--runtime={rt}"));
    }
    for b in &fs.binds {
        let mode = if b.writable { "rw" } else { "ro" };
        a.push(format!(
            "--volume={}:{}:{mode}",
            b.source.display(),
            b.target.display()
        ));
    }
    let mut env: Vec<(String, String)> = policy
        .environment
        .set
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for name in &policy.environment.pass {
        if let Ok(v) = std::env::var(name) {
            env.push((name.clone(), v));
        }
    }
    for (k, v) in env {
        a.push(format!("--env={k}={v}"));
    }
    a.push("--".into());
    a.push(image.to_owned());
    a.extend(argv.iter().cloned());
    Ok(a)
}

/// Runs `argv` in a fresh hardened container of `image` and waits for it.
pub fn exec(policy: &Policy, image: &str, argv: &[String]) -> Result<ExecResult, SandboxError> {
    let engines = detect();
    let engine = running_engine(&engines)?;
    let runtime = engines
        .iter()
        .any(|e| e.name == "runsc" && e.running)
        .then_some("runsc");
    let name = format!(
        "modelgate-sandbox-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let args = run_args(policy, &name, image, argv, runtime)?;
    let start = Instant::now();
    let mut child = Command::new(&engine.path)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SandboxError::Oci(format!("cannot run {}: {e}", engine.path)))?;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    let pidfd = crate::sys::pidfd_open(pid).map_err(SandboxError::io("pidfd_open"))?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(SandboxError::Oci("missing pipes".to_owned()));
    };
    let cap = usize::try_from(policy.limits.output.0).unwrap_or(usize::MAX);
    let engine_path = engine.path.clone();
    let kill = || {
        let _ = Command::new(&engine_path)
            .args(["kill", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    let sup = crate::native::supervise_fds(
        &pidfd,
        out.into(),
        err.into(),
        start + policy.limits.wall_time.0,
        cap,
        &kill,
    );
    let status = child
        .wait()
        .map_err(SandboxError::io("wait for the engine CLI"))?;
    let status = std::os::unix::process::ExitStatusExt::signal(&status).map_or_else(
        || ExitStatus::Code(status.code().unwrap_or(-1)),
        ExitStatus::Signal,
    );
    let mut result = ExecResult::new(
        status,
        &format!(
            "oci:{}{}",
            engine.name,
            runtime.map(|r| format!("+{r}")).unwrap_or_default()
        ),
    );
    result.wall_time_ms = millis(start.elapsed());
    result.timed_out = sup.timed_out;
    if sup.timed_out {
        result.events.push(Event::Timeout {
            limit_ms: policy.limits.wall_time.0.as_millis() as u64,
        });
    }
    for (stream, c) in [(Stream::Stdout, &sup.stdout), (Stream::Stderr, &sup.stderr)] {
        if c.truncated() {
            result.events.push(Event::OutputTruncated {
                stream,
                limit_bytes: policy.limits.output.0,
                total_bytes: c.total,
            });
        }
    }
    (result.stdout, result.stdout_truncated, result.stdout_bytes) = sup.stdout.finish();
    (result.stderr, result.stderr_truncated, result.stderr_bytes) = sup.stderr.finish();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_maps_to_hardened_run_flags() {
        let mut p = Policy::from_yaml(
            "limits:\n  memory: 64MiB\n  processes: 32\n  cpus: 0.5\n",
            None,
        )
        .unwrap();
        p.filesystem.binds.push(crate::policy::BindPolicy {
            source: "/data".into(),
            target: "/data".into(),
            writable: false,
        });
        let a = run_args(
            &p,
            "n",
            "debian:12",
            &["sh".into(), "-c".into(), "id".into()],
            Some("runsc"),
        )
        .unwrap();
        for want in [
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            "--read-only",
            "--user=65534:65534",
            "--network=none",
            "--pids-limit=32",
            "--memory=67108864b",
            "--memory-swap=67108864b",
            "--cpus=0.5",
            "--runtime=runsc",
            "--volume=/data:/data:ro",
        ] {
            assert!(a.iter().any(|x| x == want), "missing {want}: {a:?}");
        }
        assert!(
            a.iter()
                .any(|x| x.starts_with("--tmpfs=/workspace:") && x.contains("uid=65534"))
        );
        assert!(a.iter().any(|x| x == "--env=HOME=/workspace"));
        assert_eq!(&a[a.len() - 4..], ["debian:12", "sh", "-c", "id"]);
        assert!(
            !a.iter()
                .any(|x| x.contains("privileged") || x.contains("unconfined"))
        );
    }

    #[test]
    fn allowlist_and_rootfs_are_refused() {
        let p =
            Policy::from_yaml("network:\n  mode: allowlist\n  allow: [pypi.org]\n", None).unwrap();
        assert!(run_args(&p, "n", "img", &["true".into()], None).is_err());
        let p = Policy::from_yaml("filesystem:\n  rootfs: /srv/root\n", None).unwrap();
        assert!(run_args(&p, "n", "img", &["true".into()], None).is_err());
    }

    #[test]
    fn no_running_engine_is_a_clear_error() {
        let engines = vec![OciEngine {
            name: "docker".into(),
            path: "/usr/bin/docker".into(),
            running: false,
            detail: "no engine answers: Cannot connect".into(),
        }];
        let e = running_engine(&engines).unwrap_err().to_string();
        assert!(
            e.contains("no OCI engine is running") && e.contains("docker"),
            "{e}"
        );
    }
}
