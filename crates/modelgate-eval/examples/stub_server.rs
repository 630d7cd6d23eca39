//! Runs the loopback OpenAI-compatible stub server until killed.
//!
//! ```text
//! cargo run --release -p modelgate-eval --example stub_server -- --port 8765 --latency-ms 50 [--mode calc]
//! ```
//!
//! Prints `http://127.0.0.1:PORT/v1` as the first line of stdout, then serves. Modes: `calc`,
//! `echo`, `choice`, `agent`, `judge`, or `fixed:TEXT`. `--fail-first N --fail-status CODE
//! [--retry-after V]` makes the first N requests fail; `--fail-every K` fails every K-th with
//! `--fail-status` (default 500).

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use modelgate_eval::provider::MockKind;
use modelgate_eval::stub_server::{Fault, FaultRule, StubConfig, StubMode, StubServer, When};

const USAGE: &str = "usage: stub_server [--port N] [--latency-ms N] [--mode calc|echo|choice|agent|judge|fixed:TEXT] [--fail-first N | --fail-every K] [--fail-status CODE] [--retry-after V]";

fn parse(args: &[String]) -> Result<StubConfig, String> {
    let mut config = StubConfig::default();
    let mut port = 0u16;
    let mut fail_first = None;
    let mut fail_every = None;
    let mut fail_status = 500u16;
    let mut retry_after = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: &String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--port" => {
                port = value()?
                    .parse()
                    .map_err(|_| "--port: not a port".to_owned())?;
            }
            "--latency-ms" => config.latency = Duration::from_millis(number(value()?)?),
            "--mode" => {
                let mode = value()?;
                config.mode = match mode.strip_prefix("fixed:") {
                    Some(text) => StubMode::Fixed(text.to_owned()),
                    None => StubMode::Mock(mode.parse::<MockKind>().map_err(|e| e.to_string())?),
                };
            }
            "--fail-first" => fail_first = Some(number(value()?)?),
            "--fail-every" => fail_every = Some(number(value()?)?),
            "--fail-status" => {
                fail_status = value()?
                    .parse()
                    .map_err(|_| "--fail-status: not a status".to_owned())?;
            }
            "--retry-after" => retry_after = Some(value()?.clone()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    config.bind = SocketAddr::from(([127, 0, 0, 1], port));
    let when = match (fail_first, fail_every) {
        (Some(n), None) => Some(When::FirstN(n)),
        (None, Some(k)) => Some(When::EveryKth(k)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err("use --fail-first or --fail-every, not both".to_owned()),
    };
    if let Some(when) = when {
        config.faults.push(FaultRule {
            when,
            fault: Fault::Status {
                status: fail_status,
                retry_after,
            },
        });
    }
    Ok(config)
}

#[allow(clippy::print_stderr)]
#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut server = match StubServer::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("stub_server: cannot listen: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", server.base_url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    drop(stdout);
    tokio::select! {
        () = server.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("stub_server: {} requests served", server.request_count());
    server.shutdown().await;
    ExitCode::SUCCESS
}
