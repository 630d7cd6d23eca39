//! Side-by-side latency and throughput of contained `true`: modelgate's native sandbox
//! (library, CLI) and bubblewrap configured for the same isolation. Run by
//! `bench/sandbox/run.sh`, which installs bubblewrap and writes the JSON this prints. The
//! one-shot rows (CLI and bubblewrap, sequential) run round-robin so that a shared machine's
//! load falls on all of them alike.
//!
//! Usage: `sandbox_bench [--runs N] [--workers W] [--cli PATH] [--bwrap PATH] [--table FILE]`
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modelgate_sandbox::{ExecOptions, Policy, Sandbox, SandboxOptions};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>, wall: Duration) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    serde_json::json!({
        "name": name,
        "runs": ms.len(),
        "p50_ms": percentile(&ms, 0.5),
        "p95_ms": percentile(&ms, 0.95),
        "p99_ms": percentile(&ms, 0.99),
        "per_second": ms.len() as f64 / wall.as_secs_f64(),
    })
}

/// Times `f` `runs` times sequentially.
fn sequential(name: &str, runs: usize, mut f: impl FnMut()) -> serde_json::Value {
    f(); // warm-up
    let start = Instant::now();
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    summary(name, ms, start.elapsed())
}

/// Times several one-shot commands `runs` times each, round-robin (one run of each per round,
/// the order rotating), so that all of them see the same machine load. One summary each.
fn interleaved(
    runs: usize,
    mut cmds: Vec<(String, Box<dyn FnMut() + '_>)>,
) -> Vec<serde_json::Value> {
    for (_, f) in &mut cmds {
        f(); // warm-up
    }
    let n = cmds.len();
    let mut ms = vec![Vec::with_capacity(runs); n];
    let mut busy = vec![Duration::ZERO; n];
    for round in 0..runs {
        for j in 0..n {
            let i = (round + j) % n;
            let t = Instant::now();
            (cmds[i].1)();
            let e = t.elapsed();
            busy[i] += e;
            ms[i].push(e.as_secs_f64() * 1000.0);
        }
    }
    cmds.iter()
        .zip(ms)
        .zip(busy)
        .map(|(((name, _), ms), busy)| summary(name, ms, busy))
        .collect()
}

/// `workers` threads, each calling `make()` once to get its own runner and then running it
/// `runs` times. Reports total throughput.
fn parallel<F: FnMut() + Send>(
    name: &str,
    workers: usize,
    runs: usize,
    make: impl Fn() -> F + Sync,
) -> serde_json::Value {
    let start = Instant::now();
    let all: Vec<f64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut f = make();
                    (0..runs)
                        .map(|_| {
                            let t = Instant::now();
                            f();
                            t.elapsed().as_secs_f64() * 1000.0
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut v = summary(name, all, start.elapsed());
    v["workers"] = workers.into();
    v
}

fn bench_policy() -> Policy {
    Policy::default()
}

/// What bubblewrap applies: namespaces, mounts, uid, capabilities and seccomp, but no cgroup
/// limits and no landlock.
const BWRAP_EQUIVALENT: &str = "isolation:\n  cgroups: off\n  landlock: off\n";

fn bwrap_equivalent() -> Policy {
    Policy::from_yaml(BWRAP_EQUIVALENT, None).unwrap()
}

fn lib_exec(sandbox: &mut Sandbox) {
    let r = sandbox
        .exec(&["/bin/true"], &ExecOptions::default())
        .unwrap();
    assert_eq!(r.exit_code, Some(0));
}

fn one_shot() {
    let mut s = Sandbox::create(&bench_policy(), &SandboxOptions::default()).unwrap();
    lib_exec(&mut s);
    s.teardown().unwrap();
}

/// bubblewrap with the isolation modelgate applies: all namespaces, uid 65534, no
/// capabilities, a read-only system root, fresh /proc, minimal /dev, tmpfs /tmp and
/// /workspace, a cleared environment, and modelgate's own seccomp program.
fn bwrap_args(seccomp_fd: Option<i32>) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/workspace",
        "--chdir",
        "/workspace",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/local/bin:/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/workspace",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (link, target) in [
        ("/bin", "usr/bin"),
        ("/sbin", "usr/sbin"),
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
    ] {
        if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
            a.extend(["--symlink".to_owned(), target.to_owned(), link.to_owned()]);
        }
    }
    if let Some(fd) = seccomp_fd {
        a.extend(["--seccomp".to_owned(), fd.to_string()]);
    }
    a.push("/bin/true".to_owned());
    a
}

fn run_cmd(cmd: &mut Command) {
    let st = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{cmd:?} failed: {st}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = get("--runs").map_or(200, |s| s.parse().unwrap());
    let workers: usize = get("--workers").map_or(2, |s| s.parse().unwrap());
    let cli = get("--cli");
    let bwrap = get("--bwrap");
    let mut results = Vec::new();

    // modelgate, library: one sandbox per sample, many execs (the eval runner's pattern).
    let mut sandbox = Sandbox::create(&bench_policy(), &SandboxOptions::default()).unwrap();
    results.push(sequential(
        "modelgate lib: exec in a live sandbox",
        runs,
        || lib_exec(&mut sandbox),
    ));
    sandbox.teardown().unwrap();
    results.push(parallel(
        "modelgate lib: exec in a live sandbox (parallel)",
        workers,
        runs,
        || {
            let mut s = Sandbox::create(&bench_policy(), &SandboxOptions::default()).unwrap();
            move || lib_exec(&mut s)
        },
    ));
    // modelgate, library: create + exec + teardown (a fresh sandbox per command, like bwrap).
    results.push(sequential(
        "modelgate lib: create + exec + teardown",
        runs,
        one_shot,
    ));
    results.push(parallel(
        "modelgate lib: create + exec + teardown (parallel)",
        workers,
        runs,
        || one_shot,
    ));
    // The same, with only what bubblewrap does: no cgroup limits, no landlock.
    results.push(sequential(
        "modelgate lib: create + exec + teardown, bwrap-equivalent policy",
        runs,
        || {
            let mut s = Sandbox::create(&bwrap_equivalent(), &SandboxOptions::default()).unwrap();
            lib_exec(&mut s);
            s.teardown().unwrap();
        },
    ));
    // One-shot processes, modelgate's CLI and bubblewrap: timed round-robin (one run of each
    // per round) so that every configuration sees the same machine load.
    let policy_file = std::env::temp_dir().join(format!(
        "modelgate-bench-policy-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&policy_file, BWRAP_EQUIVALENT).unwrap();
    let pf = policy_file.to_str().unwrap().to_owned();
    // bubblewrap gets modelgate's own seccomp program, from a file handed over as its stdin.
    let seccomp_path = std::env::temp_dir().join(format!(
        "modelgate-bench-seccomp-{}.bpf",
        std::process::id()
    ));
    let filter = modelgate_sandbox::seccomp::filter().unwrap();
    let mut bytes = Vec::new();
    for ins in &filter {
        bytes.extend_from_slice(&ins.code.to_ne_bytes());
        bytes.push(ins.jt);
        bytes.push(ins.jf);
        bytes.extend_from_slice(&ins.k.to_ne_bytes());
    }
    std::fs::File::create(&seccomp_path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let run_bwrap = |bwrap: &str, path: &std::path::Path| {
        let program = std::fs::File::open(path).unwrap();
        let st = Command::new(bwrap)
            .args(bwrap_args(Some(0)))
            .stdin(program)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "bwrap failed: {st}");
    };
    let mut one_shot_cmds: Vec<(String, Box<dyn FnMut() + '_>)> = Vec::new();
    if let Some(cli) = &cli {
        let pf = pf.clone();
        one_shot_cmds.push((
            "modelgate CLI: sandbox exec, bwrap-equivalent policy".to_owned(),
            Box::new(move || {
                run_cmd(Command::new(cli).args([
                    "sandbox",
                    "exec",
                    "--policy",
                    &pf,
                    "--",
                    "/bin/true",
                ]));
            }),
        ));
        one_shot_cmds.push((
            "modelgate CLI: sandbox exec -- /bin/true".to_owned(),
            Box::new(move || {
                run_cmd(Command::new(cli).args(["sandbox", "exec", "--", "/bin/true"]));
            }),
        ));
    }
    if let Some(bwrap) = &bwrap {
        let path = seccomp_path.clone();
        one_shot_cmds.push((
            "bubblewrap: bwrap (same isolation + seccomp) /bin/true".to_owned(),
            Box::new(move || run_bwrap(bwrap, &path)),
        ));
    }
    results.extend(interleaved(runs, one_shot_cmds));
    if let Some(cli) = &cli {
        results.push(parallel(
            "modelgate CLI: sandbox exec (parallel)",
            workers,
            runs,
            || {
                let cli = cli.clone();
                move || run_cmd(Command::new(&cli).args(["sandbox", "exec", "--", "/bin/true"]))
            },
        ));
    }
    if let Some(bwrap) = &bwrap {
        results.push(parallel("bubblewrap: parallel", workers, runs, || {
            let (b, p) = (bwrap.clone(), seccomp_path.clone());
            move || run_bwrap(&b, &p)
        }));
    }
    let _ = std::fs::remove_file(&seccomp_path);
    let _ = std::fs::remove_file(&policy_file);
    if let Some(table) = get("--table") {
        let mut t = String::from(
            "| configuration | runs | p50 ms | p95 ms | p99 ms | execs/s |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for r in &results {
            let workers = r
                .get("workers")
                .map_or(String::new(), |w| format!(", {w} workers"));
            let _ = writeln!(
                t,
                "| {}{workers} | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
                r["name"].as_str().unwrap(),
                r["runs"],
                r["p50_ms"].as_f64().unwrap(),
                r["p95_ms"].as_f64().unwrap(),
                r["p99_ms"].as_f64().unwrap(),
                r["per_second"].as_f64().unwrap()
            );
        }
        std::fs::write(table, t).unwrap();
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Array(results)).unwrap()
    );
}
