//! The escape test suite: hostile commands an untrusted model would try, each asserting the
//! specific contained outcome (the errno, the signal, the event).
//!
//! `harness = false`: this binary is also the hostile probe. Each test bind-mounts the binary
//! read-only at `/probe/escape` and runs `/probe/escape --probe <op>` inside a sandbox
//! ([`probe`] holds the operations). Outside the sandbox it is a small test runner printing
//! libtest-style lines, so `cargo test` reports it like any other suite.
//!
//! When the host cannot run the native sandbox at all, every test fails under `CI` and is
//! skipped loudly otherwise.
#![allow(unsafe_code)] // the probe issues the hostile system calls under test
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod probe;
mod tests;

use std::collections::BTreeMap;
use std::time::Instant;

use modelgate_sandbox::{ExecOptions, ExecResult, Policy, Sandbox, SandboxError, SandboxOptions};

/// The secret placed in the supervisor's environment; no test may find it in a sandbox.
pub(crate) const SECRET: &str = "MODELGATE_ESCAPE_SECRET";
pub(crate) const SECRET_VALUE: &str = "hunter2-do-not-leak-7f3a";

pub(crate) struct Probe {
    pub(crate) sandbox: Sandbox,
}

/// Parsed `name=outcome` lines of a probe run.
pub(crate) struct Outcome {
    pub(crate) result: ExecResult,
    pub(crate) lines: BTreeMap<String, String>,
}

impl Outcome {
    pub(crate) fn get(&self, key: &str) -> &str {
        self.lines.get(key).map_or_else(
            || {
                panic!(
                    "probe printed no `{key}`\nstdout: {}\nstderr: {}",
                    self.result.stdout_text(),
                    self.result.stderr_text()
                )
            },
            String::as_str,
        )
    }

    pub(crate) fn expect(&self, key: &str, want: &str) {
        assert_eq!(
            self.get(key),
            want,
            "`{key}`; full stdout:\n{}",
            self.result.stdout_text()
        );
    }
}

/// A sandbox for `yaml` (plus the probe bind) or `None` when the host cannot run one outside CI.
pub(crate) fn sandbox(yaml: &str) -> Probe {
    let exe = std::env::current_exe().unwrap();
    let mut policy = Policy::from_yaml(yaml, None).unwrap();
    policy
        .filesystem
        .binds
        .push(modelgate_sandbox::policy::BindPolicy {
            source: exe,
            target: "/probe/escape".into(),
            writable: false,
        });
    match Sandbox::create(&policy, &SandboxOptions::default()) {
        Ok(sandbox) => Probe { sandbox },
        Err(e @ SandboxError::Unsupported { .. }) => panic!("UNSUPPORTED HOST: {e}"),
        Err(e) => panic!("sandbox creation failed: {e} ({e:?})"),
    }
}

impl Probe {
    pub(crate) fn run(&mut self, args: &[&str]) -> Outcome {
        let mut argv = vec!["/probe/escape", "--probe"];
        argv.extend_from_slice(args);
        self.exec(&argv)
    }

    pub(crate) fn exec(&mut self, argv: &[&str]) -> Outcome {
        let result = self
            .sandbox
            .exec(argv, &ExecOptions::default())
            .unwrap_or_else(|e| panic!("exec {argv:?}: {e}"));
        let lines = result
            .stdout_text()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            })
            .collect();
        Outcome { result, lines }
    }
}

type TestFn = fn();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--probe") {
        std::process::exit(probe::run(&args[2..]));
    }
    // SAFETY: set before any other thread exists; the secret the sandbox must never see.
    unsafe { std::env::set_var(SECRET, SECRET_VALUE) };
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let list = args.iter().any(|a| a == "--list");
    let all: Vec<(&str, TestFn)> = tests::ALL.to_vec();
    let selected: Vec<(&str, TestFn)> = all
        .into_iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if list {
        for (n, _) in &selected {
            println!("{n}: test");
        }
        return;
    }
    // Can this host run the sandbox at all? Outside CI, skip loudly; under CI, fail.
    let host = modelgate_sandbox::HostFeatures::cached();
    let verdict = host.assess(&Policy::default());
    if !verdict.missing.is_empty() {
        let msg = format!(
            "the native sandbox cannot run on this host: {}",
            verdict.missing.join("; ")
        );
        if std::env::var_os("CI").is_some() {
            println!(
                "test result: FAILED. 0 passed; {} failed ({msg})",
                selected.len()
            );
            std::process::exit(101);
        }
        eprintln!("\n!!! SKIPPING the escape suite: {msg} !!!\n");
        println!(
            "test result: ok. 0 passed; 0 failed; {} ignored; 0 measured; 0 filtered out",
            selected.len()
        );
        return;
    }
    println!("\nrunning {} tests", selected.len());
    // A hung sandbox must fail the suite, not stall CI.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(180));
        println!("\ntest result: FAILED. the escape suite did not finish within 180 s");
        std::process::exit(101);
    });
    let start = Instant::now();
    let results: Vec<(&str, Result<(), String>, f64)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<(&str, TestFn)>> = {
            let workers = 4;
            let mut c: Vec<Vec<(&str, TestFn)>> = vec![Vec::new(); workers];
            for (i, t) in selected.iter().enumerate() {
                c[i % workers].push(*t);
            }
            c
        };
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(name, f)| {
                            let t = Instant::now();
                            let r = std::panic::catch_unwind(f).map_err(|e| {
                                e.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                                    .unwrap_or_default()
                            });
                            (name, r, t.elapsed().as_secs_f64())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut failed = Vec::new();
    for (name, r, secs) in &results {
        match r {
            Ok(()) => println!("test {name} ... ok ({secs:.2}s)"),
            Err(msg) => {
                println!("test {name} ... FAILED");
                failed.push((name, msg));
            }
        }
    }
    for (name, msg) in &failed {
        println!("\n---- {name} ----\n{msg}");
    }
    let passed = results.len() - failed.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        tests::ALL.len() - selected.len(),
        start.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}
