//! The agent's tools and the per-sample sandbox they run in.
//!
//! [`ToolSandbox`] owns one `modelgate_sandbox::Sandbox` for one sample. The sandbox API is
//! blocking, so it lives on a dedicated thread that creates it at the first tool call, runs
//! each exec sent to it, and tears it down when the handle closes — or, if the handle is
//! dropped (error, cancelled sample), as soon as the channel to it closes. The async runtime is
//! never blocked.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use modelgate_sandbox::{ExecOptions, ExecResult, Policy, Sandbox, SandboxOptions};
use serde_json::json;
use tokio::sync::oneshot;

use super::{ToolKind, ToolRecord};
use crate::message::ToolDef;

/// Most bytes of one tool's output given back to the model; the rest is replaced by a marker.
pub const MAX_TOOL_OUTPUT: usize = 16 * 1024;

/// Longest `cmd`/`code` argument accepted, in bytes.
pub const MAX_TOOL_ARGUMENT: usize = 64 * 1024;

impl ToolKind {
    /// The tool's name as offered to the model.
    pub fn name(self) -> &'static str {
        match self {
            ToolKind::Bash => "bash",
            ToolKind::Python => "python",
        }
    }

    /// The argument holding the program text.
    pub fn argument(self) -> &'static str {
        match self {
            ToolKind::Bash => "cmd",
            ToolKind::Python => "code",
        }
    }

    /// The definition offered to the model (name, description, JSON schema).
    pub fn definition(self) -> ToolDef {
        let (description, arg_doc) = match self {
            ToolKind::Bash => (
                "Run a bash command in an isolated Linux sandbox (no network, working directory \
                 /workspace, kept between calls). Returns stdout, stderr and the exit status.",
                "The bash command line to run.",
            ),
            ToolKind::Python => (
                "Run Python 3 code in an isolated Linux sandbox (no network, working directory \
                 /workspace, kept between calls). Returns stdout, stderr and the exit status; \
                 print what you want to see.",
                "The Python 3 program to run.",
            ),
        };
        ToolDef {
            name: self.name().to_owned(),
            description: description.to_owned(),
            parameters: json!({
                "type": "object",
                "properties": { self.argument(): { "type": "string", "description": arg_doc } },
                "required": [self.argument()],
                "additionalProperties": false,
            }),
        }
    }

    /// The command line that runs `text` with this tool.
    pub fn argv(self, text: &str) -> Vec<String> {
        match self {
            ToolKind::Bash => vec!["bash".into(), "-c".into(), text.into()],
            ToolKind::Python => vec!["python3".into(), "-c".into(), text.into()],
        }
    }
}

/// Reads the program text from a tool call's arguments, or says what is wrong with them.
pub fn tool_argument(kind: ToolKind, arguments: &serde_json::Value) -> Result<&str, String> {
    let key = kind.argument();
    let Some(object) = arguments.as_object() else {
        return Err(format!(
            "the arguments of `{}` must be a JSON object with a string field `{key}`",
            kind.name()
        ));
    };
    let Some(text) = object.get(key).and_then(serde_json::Value::as_str) else {
        return Err(format!(
            "the arguments of `{}` need a string field `{key}`",
            kind.name()
        ));
    };
    if text.len() > MAX_TOOL_ARGUMENT {
        return Err(format!(
            "`{key}` is {} bytes; the limit is {MAX_TOOL_ARGUMENT}",
            text.len()
        ));
    }
    if text.contains('\0') {
        return Err(format!("`{key}` contains a NUL byte"));
    }
    Ok(text)
}

/// Longest tool name recorded (a model may send any name).
pub const MAX_TOOL_NAME: usize = 64;

/// A refused call as recorded.
pub fn refused_record(tool: &str, why: impl Into<String>) -> ToolRecord {
    ToolRecord {
        tool: prefix(tool, MAX_TOOL_NAME).to_owned(),
        exit_code: None,
        signal: None,
        wall_time_ms: 0.0,
        timed_out: false,
        refused: Some(why.into()),
    }
}

/// The record of a call that ran.
pub fn exec_record(tool: &str, result: &ExecResult) -> ToolRecord {
    ToolRecord {
        tool: tool.to_owned(),
        exit_code: result.exit_code,
        signal: result.signal.clone(),
        wall_time_ms: result.wall_time_ms,
        timed_out: result.timed_out,
        refused: None,
    }
}

/// What the model is told a call produced: stdout, then stderr and how it ended when notable,
/// capped at [`MAX_TOOL_OUTPUT`] bytes.
pub fn tool_output(result: &ExecResult) -> String {
    let mut text = result.stdout_text();
    let stderr = result.stderr_text();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[stderr]\n");
        text.push_str(&stderr);
    }
    let ending = if result.timed_out {
        Some(format!(
            "[killed at the time limit after {:.0} ms]",
            result.wall_time_ms
        ))
    } else {
        match (result.exit_code, &result.signal) {
            (Some(0), _) => None,
            (Some(code), _) => Some(format!("[exit code {code}]")),
            (None, Some(sig)) => Some(format!("[killed by {sig}]")),
            (None, None) => Some("[killed]".to_owned()),
        }
    };
    if let Some(ending) = ending {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&ending);
    }
    cap_output(text, MAX_TOOL_OUTPUT)
}

/// The longest prefix of `s` of at most `limit` bytes that ends on a character boundary.
pub fn prefix(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut cut = limit;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Cuts `text` to at most `limit` bytes (on a character boundary) plus a truncation marker.
pub fn cap_output(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let total = text.len();
    let cut = prefix(&text, limit).len();
    text.truncate(cut);
    text + &format!("\n[modelgate: tool output truncated: kept {cut} of {total} bytes]")
}

struct Job {
    argv: Vec<String>,
    timeout: Option<Duration>,
    reply: oneshot::Sender<Result<ExecResult, String>>,
}

struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

enum Slot {
    NotStarted,
    Running(Worker),
    Unavailable(String),
}

/// One sample's sandbox, created at the first [`ToolSandbox::exec`] and torn down by
/// [`ToolSandbox::close`] (or, on any other exit, when dropped).
pub struct ToolSandbox {
    policy: Option<Policy>,
    slot: Slot,
}

impl ToolSandbox {
    /// A handle that will create a sandbox under `policy` when first needed; `None` refuses
    /// every call.
    pub fn new(policy: Option<&Policy>) -> ToolSandbox {
        ToolSandbox {
            policy: policy.cloned(),
            slot: match policy {
                Some(_) => Slot::NotStarted,
                None => Slot::Unavailable("no sandbox".to_owned()),
            },
        }
    }

    /// Runs `argv` in the sample's sandbox. `Err` is a refusal reason: no sandbox configured,
    /// the sandbox could not be created (every later call is refused the same way), or the
    /// exec itself failed.
    pub async fn exec(
        &mut self,
        argv: Vec<String>,
        timeout: Option<Duration>,
    ) -> Result<ExecResult, String> {
        if matches!(self.slot, Slot::NotStarted) {
            self.slot = match self.start().await {
                Ok(worker) => Slot::Running(worker),
                Err(why) => Slot::Unavailable(why),
            };
        }
        let worker = match &self.slot {
            Slot::Running(w) => w,
            Slot::Unavailable(why) => return Err(why.clone()),
            Slot::NotStarted => return Err("no sandbox".to_owned()),
        };
        let (reply, answer) = oneshot::channel();
        let sent = worker.jobs.as_ref().is_some_and(|jobs| {
            jobs.send(Job {
                argv,
                timeout,
                reply,
            })
            .is_ok()
        });
        if !sent {
            return Err("the sandbox thread has stopped".to_owned());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the sandbox thread has stopped".to_owned()))
    }

    async fn start(&self) -> Result<Worker, String> {
        let Some(policy) = self.policy.clone() else {
            return Err("no sandbox".to_owned());
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, created) = oneshot::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("modelgate-eval-sandbox".to_owned())
            .spawn(move || serve(&policy, &inbox, ready))
            .map_err(|e| format!("cannot start the sandbox thread: {e}"))?;
        match created.await {
            Ok(Ok(())) => Ok(Worker {
                jobs: Some(jobs),
                thread: Some(thread),
            }),
            Ok(Err(why)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                Err(why)
            }
            Err(_) => Err("the sandbox thread stopped during creation".to_owned()),
        }
    }

    /// Tears the sandbox down (if one was created) and waits until it is gone.
    pub async fn close(mut self) -> Result<(), String> {
        let Slot::Running(mut worker) = std::mem::replace(&mut self.slot, Slot::NotStarted) else {
            return Ok(());
        };
        worker.jobs = None;
        let Some(thread) = worker.thread.take() else {
            return Ok(());
        };
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the sandbox thread panicked".to_owned()),
            Err(e) => Err(format!("waiting for the sandbox teardown failed: {e}")),
        }
    }
}

/// The sandbox thread: create, serve execs until the handle goes away, tear down.
fn serve(
    policy: &Policy,
    inbox: &mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<(), String>>,
) -> Result<(), String> {
    let mut sandbox = match Sandbox::create(policy, &SandboxOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("sandbox creation failed: {e}")));
            return Ok(());
        }
    };
    if ready.send(Ok(())).is_err() {
        return sandbox.teardown().map_err(|e| e.to_string());
    }
    while let Ok(job) = inbox.recv() {
        let options = ExecOptions {
            timeout: job.timeout,
            ..ExecOptions::default()
        };
        let result = sandbox
            .exec(&job.argv, &options)
            .map_err(|e| format!("the sandbox could not run the command: {e}"));
        // The receiver is gone when the sample was cancelled; the result is then moot.
        let _ = job.reply.send(result);
    }
    sandbox
        .teardown()
        .map_err(|e| format!("sandbox teardown failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_on_a_character_boundary() {
        let s = "é".repeat(10);
        let capped = cap_output(s.clone(), 5);
        assert!(capped.starts_with("éé\n[modelgate: tool output truncated: kept 4 of 20 bytes]"));
        assert_eq!(cap_output(s.clone(), 20), s);
    }

    #[test]
    fn arguments_are_checked() {
        let ok = json!({"cmd": "ls"});
        assert_eq!(tool_argument(ToolKind::Bash, &ok), Ok("ls"));
        assert!(tool_argument(ToolKind::Python, &ok).is_err());
        assert!(tool_argument(ToolKind::Bash, &json!("ls")).is_err());
        assert!(tool_argument(ToolKind::Bash, &json!({"cmd": 3})).is_err());
        assert!(tool_argument(ToolKind::Bash, &json!({"cmd": "a\0b"})).is_err());
        let big = "x".repeat(MAX_TOOL_ARGUMENT + 1);
        assert!(tool_argument(ToolKind::Bash, &json!({ "cmd": big })).is_err());
    }
}
