//! `modelgate sandbox exec` and `modelgate sandbox doctor`.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use modelgate_sandbox::{
    Event, ExecOptions, ExecResult, HostFeatures, Policy, Sandbox, SandboxError, SandboxOptions,
};

use crate::Outcome;
use crate::cli::{SandboxBackend, SandboxCommand, SandboxDoctorArgs, SandboxExecArgs};

pub(crate) fn run(cmd: &SandboxCommand) -> anyhow::Result<Outcome> {
    match cmd {
        SandboxCommand::Exec(args) => exec(args),
        SandboxCommand::Doctor(args) => doctor(args),
    }
}

fn load_policy(path: Option<&std::path::Path>) -> Result<Policy, SandboxError> {
    match path {
        Some(p) => Ok(Policy::from_file(p)?),
        None => Ok(Policy::default()),
    }
}

/// How `exec` ended: the command's own exit status, or a sandbox error (exit 2).
fn exec(args: &SandboxExecArgs) -> anyhow::Result<Outcome> {
    match exec_inner(args) {
        Ok(result) => {
            let code = result.status().shell_code();
            if args.json {
                let mut out = std::io::stdout().lock();
                serde_json::to_writer_pretty(&mut out, &result)?;
                writeln!(out)?;
            } else {
                std::io::stdout().lock().write_all(&result.stdout)?;
                let mut err = std::io::stderr().lock();
                err.write_all(&result.stderr)?;
                for e in &result.events {
                    writeln!(err, "modelgate sandbox: {}", describe(e))?;
                }
            }
            // The exit status is the command's own, which `Outcome` cannot carry.
            std::io::stdout().lock().flush()?;
            std::io::stderr().lock().flush()?;
            std::process::exit(code.clamp(0, 255));
        }
        Err(e) => {
            if args.json {
                let v = serde_json::json!({ "error": format!("{e:#}") });
                println_json(&v)?;
            }
            Err(e)
        }
    }
}

fn println_json(v: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn exec_inner(args: &SandboxExecArgs) -> anyhow::Result<ExecResult> {
    let mut policy = load_policy(args.policy.as_deref())?;
    if let Some(t) = args.timeout {
        policy.limits.wall_time.0 = policy.limits.wall_time.0.min(t);
    }
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_owned)
                .context("the command line must be UTF-8")
        })
        .collect::<anyhow::Result<_>>()?;
    if args.backend == SandboxBackend::Oci {
        if args.workspace.is_some() {
            anyhow::bail!("--workspace is only supported by the native backend");
        }
        let image = args
            .image
            .as_deref()
            .context("--backend oci needs --image")?;
        return Ok(modelgate_sandbox::oci::exec(&policy, image, &argv)?);
    }
    let options = SandboxOptions {
        allow_degraded: args.allow_degraded,
    };
    let mut sandbox = Sandbox::create(&policy, &options)?;
    for missing in sandbox.degraded() {
        warn_degraded(missing);
    }
    if let Some(dir) = &args.workspace {
        sandbox
            .copy_in(dir)
            .with_context(|| format!("cannot copy {} into the workspace", dir.display()))?;
    }
    let result = sandbox.exec(&argv, &ExecOptions::default())?;
    if let Some(dir) = &args.workspace {
        sandbox
            .copy_out(dir)
            .with_context(|| format!("cannot copy the workspace back to {}", dir.display()))?;
    }
    sandbox.teardown()?;
    Ok(result)
}

#[allow(clippy::print_stderr)] // the warning must be loud and on every run
fn warn_degraded(missing: &str) {
    eprintln!(
        "WARNING: modelgate sandbox is running WITH LESS ISOLATION than the policy requires: {missing}"
    );
}

fn describe(e: &Event) -> String {
    match e {
        Event::Timeout { limit_ms } => format!("killed at the wall-clock limit ({limit_ms} ms)"),
        Event::MemoryLimit { limit_bytes, kills } => {
            format!("memory limit ({limit_bytes} bytes) reached: {kills} process(es) killed")
        }
        Event::ProcessLimit { limit, refused } => {
            format!("process limit ({limit}) reached: {refused} fork(s) refused")
        }
        Event::CpuLimit { limit_ms } => format!("killed at the CPU-time limit ({limit_ms} ms)"),
        Event::OutputTruncated {
            stream,
            limit_bytes,
            total_bytes,
        } => format!("{stream:?} truncated: kept {limit_bytes} of {total_bytes} bytes")
            .to_lowercase(),
        Event::EgressDenied {
            host,
            port,
            at,
            reason,
        } => format!("egress to {host}:{port} refused at {at}: {reason}"),
        Event::EgressAllowed { host, port, .. } => format!("egress to {host}:{port} allowed"),
        Event::Degraded { missing } => format!("ran without: {missing}"),
        Event::SyscallDenied { syscall, count, .. } => {
            format!("system call {syscall} refused by the seccomp filter ({count}×)")
        }
    }
}

fn doctor(args: &SandboxDoctorArgs) -> anyhow::Result<Outcome> {
    let policy = load_policy(args.policy.as_deref())?;
    let host = HostFeatures::probe_with_oci();
    let verdict = host.assess(&policy);
    let outcome = if verdict.missing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    if args.json {
        println_json(&serde_json::json!({
            "host": host,
            "policy": args.policy.as_ref().map_or_else(|| "default".to_owned(), |p| p.display().to_string()),
            "ready": verdict.missing.is_empty(),
            "uses": verdict.uses,
            "missing": verdict.missing,
            "degraded": verdict.degraded,
        }))?;
        return Ok(outcome);
    }
    let mut o = String::new();
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let _ = writeln!(
        o,
        "modelgate sandbox doctor: Linux {}, running as uid {}\n",
        host.kernel, host.euid
    );
    let ns: Vec<String> = host
        .namespaces
        .iter()
        .map(|n| format!("{} {}", n.name, yes(n.available)))
        .collect();
    let _ = writeln!(o, "namespaces  {}", ns.join(", "));
    let _ = writeln!(
        o,
        "seccomp     {} (actions: {}); filter for this architecture: {}",
        yes(host.seccomp),
        host.seccomp_actions.join(" "),
        yes(host.seccomp_filter_for_arch)
    );
    let _ = writeln!(
        o,
        "landlock    {}",
        host.landlock_abi.map_or_else(
            || "NO (not enabled in this kernel)".to_owned(),
            |v| format!("ABI {v}")
        )
    );
    let cg: Vec<String> = host
        .cgroups
        .iter()
        .map(|c| format!("{} v{} ({})", c.controller, c.version, c.parent))
        .collect();
    let _ = writeln!(
        o,
        "cgroups     {}",
        if cg.is_empty() {
            "NONE usable".to_owned()
        } else {
            cg.join("\n            ")
        }
    );
    let _ = writeln!(
        o,
        "            cgroup v2 mounted: {}",
        yes(host.cgroup_v2_mounted)
    );
    if let Some(t) = host.legacy_tiocsti {
        let _ = writeln!(
            o,
            "TIOCSTI     legacy injection {} on the host; contained commands get no terminal and seccomp refuses TIOCSTI",
            if t { "ENABLED" } else { "disabled" }
        );
    }
    if host.oci.is_empty() {
        let _ = writeln!(
            o,
            "OCI         no docker, podman or runsc on PATH (the OCI backend is unavailable)"
        );
    }
    for e in &host.oci {
        let _ = writeln!(o, "OCI         {} at {}: {}", e.name, e.path, e.detail);
    }
    let name = args.policy.as_ref().map_or_else(
        || "the default policy".to_owned(),
        |p| p.display().to_string(),
    );
    if verdict.missing.is_empty() {
        let _ = writeln!(o, "\n{name}: ready; the native backend will use:");
    } else {
        let _ = writeln!(o, "\n{name}: REFUSED on this host; missing:");
        for m in &verdict.missing {
            let _ = writeln!(o, "  - {m}");
        }
        let _ = writeln!(o, "it would otherwise use:");
    }
    for u in &verdict.uses {
        let _ = writeln!(o, "  - {u}");
    }
    for d in &verdict.degraded {
        let _ = writeln!(o, "  - without (allowed by the policy): {d}");
    }
    std::io::stdout().lock().write_all(o.as_bytes())?;
    Ok(outcome)
}
