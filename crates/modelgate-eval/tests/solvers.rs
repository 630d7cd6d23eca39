//! Solver behaviour against a scripted model: templates, generate with its limits, multiple
//! choice, and the agent loop with tools in a real sandbox (one per sample, gone afterwards).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelgate_eval::provider::{GenerateRequest, Generation, Retry, Usage};
use modelgate_eval::solver::{
    AgentStep, FlagError, GenerateStep, MultipleChoiceStep, SolveContext, SolveError, SolveLimits,
    ToolKind,
};
use modelgate_eval::{
    BoxFuture, Input, Message, Provider, ProviderError, Role, Sample, SolverStep, TaskState,
    ToolCall,
};

/// A model that answers from a script (then repeats `forever`, if set) and keeps the requests.
struct Scripted {
    replies: Mutex<VecDeque<Generation>>,
    forever: Option<Generation>,
    seen: Mutex<Vec<GenerateRequest>>,
}

impl Scripted {
    fn new(replies: Vec<Generation>) -> Scripted {
        Scripted {
            replies: Mutex::new(replies.into()),
            forever: None,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn requests(&self) -> Vec<GenerateRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Provider for Scripted {
    fn id(&self) -> &'static str {
        "mock/scripted"
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<Generation, ProviderError>> {
        self.seen.lock().unwrap().push(request.clone());
        let next = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .or_else(|| self.forever.clone());
        Box::pin(async move {
            next.ok_or_else(|| ProviderError::Malformed {
                message: "script exhausted".into(),
            })
        })
    }
}

fn reply(text: &str) -> Generation {
    Generation {
        message: Message::assistant(text),
        stop_reason: "stop".into(),
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
        },
        retries: Vec::new(),
        latency_ms: 1.0,
    }
}

fn calls(calls: &[(&str, serde_json::Value)]) -> Generation {
    let mut g = reply("");
    g.stop_reason = "tool_calls".into();
    g.message.tool_calls = calls
        .iter()
        .enumerate()
        .map(|(i, (name, arguments))| ToolCall {
            id: format!("call_{i}"),
            name: (*name).to_owned(),
            arguments: arguments.clone(),
        })
        .collect();
    g
}

fn bash(cmd: &str) -> (&'static str, serde_json::Value) {
    ("bash", serde_json::json!({ "cmd": cmd }))
}

fn sample(input: &str, choices: &[&str]) -> Arc<Sample> {
    let mut metadata = serde_json::Map::new();
    metadata.insert("topic".into(), "arithmetic".into());
    metadata.insert("level".into(), 3.into());
    Arc::new(Sample {
        id: "s1".into(),
        line: 7,
        input: Input::Text(input.into()),
        target: vec!["42".into()],
        choices: choices.iter().map(|c| (*c).to_owned()).collect(),
        metadata,
    })
}

const LIMITS: SolveLimits = SolveLimits {
    max_messages: 20,
    max_tokens: Some(256),
    max_total_tokens: None,
};

fn ctx<'a>(
    provider: &'a dyn Provider,
    limits: &'a SolveLimits,
    policy: Option<&'a modelgate_sandbox::Policy>,
) -> SolveContext<'a> {
    SolveContext {
        provider,
        limits,
        sandbox_policy: policy,
        tool_timeout: Some(Duration::from_secs(30)),
    }
}

#[tokio::test]
async fn system_message_and_prompt_template_substitute_plainly() {
    let model = Scripted::new(vec![]);
    let mut st = TaskState::new(sample("What is 6 x 7?", &[]));
    let c = ctx(&model, &LIMITS, None);
    SolverStep::SystemMessage("Topic {topic}, level {level}, {unknown}, {{input}}".into())
        .run(&mut st, &c)
        .await
        .unwrap();
    SolverStep::SystemMessage("Second: {topic}".into())
        .run(&mut st, &c)
        .await
        .unwrap();
    SolverStep::PromptTemplate("Solve: {input}\nThink step by step.".into())
        .run(&mut st, &c)
        .await
        .unwrap();
    assert_eq!(st.messages.len(), 2);
    assert_eq!(st.messages[0], Message::system("Second: arithmetic"));
    assert_eq!(
        st.messages[1],
        Message::user("Solve: What is 6 x 7?\nThink step by step.")
    );
    let mut st = TaskState::new(sample("Q", &[]));
    SolverStep::SystemMessage("Topic {topic}, level {level}, {unknown}, {{input}}".into())
        .run(&mut st, &c)
        .await
        .unwrap();
    assert_eq!(
        st.messages[0].content,
        "Topic arithmetic, level 3, {unknown}, {Q}"
    );
    assert!(model.requests().is_empty());
}

#[tokio::test]
async fn generate_accumulates_usage_and_retries() {
    let mut first = reply("Thinking");
    first.retries = vec![Retry {
        reason: "HTTP 429".into(),
        waited_ms: 250,
    }];
    let model = Scripted::new(vec![first, reply("42")]);
    let mut st = TaskState::new(sample("What is 6 x 7?", &[]));
    let c = ctx(&model, &LIMITS, None);
    let step = SolverStep::Generate(GenerateStep {
        max_tokens: Some(64),
        temperature: Some(0.5),
    });
    step.run(&mut st, &c).await.unwrap();
    SolverStep::Generate(GenerateStep::default())
        .run(&mut st, &c)
        .await
        .unwrap();
    assert_eq!(st.output, "42");
    assert_eq!(st.model_calls, 2);
    assert_eq!((st.usage.input_tokens, st.usage.output_tokens), (20, 10));
    assert_eq!(st.retries.len(), 1);
    assert_eq!(st.messages.len(), 3);
    assert_eq!(st.messages[2].role, Role::Assistant);
    let req = model.requests();
    assert_eq!(
        (req[0].max_tokens, req[0].temperature),
        (Some(64), Some(0.5))
    );
    assert_eq!((req[1].max_tokens, req[1].temperature), (Some(256), None));
    assert_eq!(req[1].messages.len(), 2);
    assert!(st.limit_hit.is_none());
    // A failing call is an error, and retries it reports are kept.
    let err = SolverStep::Generate(GenerateStep::default())
        .run(&mut st, &c)
        .await
        .unwrap_err();
    assert!(matches!(err, SolveError::Provider(_)));
}

#[tokio::test]
async fn generate_stops_at_the_token_and_message_limits() {
    let model = Scripted::new(vec![reply("a"), reply("b"), reply("c")]);
    let limits = SolveLimits {
        max_total_tokens: Some(25),
        ..LIMITS
    };
    let c = ctx(&model, &limits, None);
    let mut st = TaskState::new(sample("Q", &[]));
    let step = SolverStep::Generate(GenerateStep::default());
    step.run(&mut st, &c).await.unwrap();
    assert!(st.limit_hit.is_none());
    step.run(&mut st, &c).await.unwrap();
    // 30 tokens used of 25: the answer is kept, the sample stops.
    assert_eq!(st.output, "b");
    assert!(
        st.limit_hit
            .as_deref()
            .unwrap()
            .starts_with("max_total_tokens (25)")
    );
    step.run(&mut st, &c).await.unwrap();
    assert_eq!(st.model_calls, 2);

    let limits = SolveLimits {
        max_messages: 2,
        ..LIMITS
    };
    let c = ctx(&model, &limits, None);
    let mut st = TaskState::new(sample("Q", &[]));
    step.run(&mut st, &c).await.unwrap();
    step.run(&mut st, &c).await.unwrap();
    assert_eq!(st.limit_hit.as_deref(), Some("max_messages (2)"));
    assert_eq!((st.model_calls, st.messages.len()), (1, 2));
}

#[tokio::test]
async fn multiple_choice_formats_options_and_reads_the_letter() {
    let model = Scripted::new(vec![
        reply("Red is a colour... so the answer is (C)."),
        reply("I refuse."),
    ]);
    let c = ctx(&model, &LIMITS, None);
    let s = sample("Which is the sky?", &["grass", "blood", "sky"]);
    let mut st = TaskState::new(s.clone());
    SolverStep::MultipleChoice(MultipleChoiceStep::default())
        .run(&mut st, &c)
        .await
        .unwrap();
    assert_eq!(st.choice, Some('C'));
    let sent = &model.requests()[0].messages[0].content;
    assert!(
        sent.contains("Which is the sky?\n\nA) grass\nB) blood\nC) sky"),
        "{sent}"
    );
    assert!(
        sent.contains("ANSWER: X") && sent.contains("A, B, C"),
        "{sent}"
    );
    let mut st = TaskState::new(s);
    let custom = MultipleChoiceStep {
        template: Some("Q: {question}\n{choices}\nLetter only.".into()),
    };
    SolverStep::MultipleChoice(custom)
        .run(&mut st, &c)
        .await
        .unwrap();
    assert_eq!(st.choice, None);
    assert_eq!(st.output, "I refuse.");
    assert_eq!(
        model.requests()[1].messages[0].content,
        "Q: Which is the sky?\nA) grass\nB) blood\nC) sky\nLetter only."
    );
    let mut st = TaskState::new(sample("No options", &[]));
    let err = SolverStep::MultipleChoice(MultipleChoiceStep::default())
        .run(&mut st, &c)
        .await
        .unwrap_err();
    assert!(matches!(err, SolveError::Invalid(m) if m.contains("choices")));
}

#[test]
fn solver_flags() {
    assert_eq!(
        SolverStep::from_flag("choice").unwrap(),
        SolverStep::from_flag("multiple_choice").unwrap()
    );
    assert_eq!(
        SolverStep::from_flag("system:Be brief: {input}").unwrap(),
        SolverStep::SystemMessage("Be brief: {input}".into())
    );
    match SolverStep::from_flag("agent").unwrap() {
        SolverStep::Agent(a) => assert_eq!(a.tools, [ToolKind::Bash, ToolKind::Python]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        SolverStep::from_flag("generate").unwrap(),
        SolverStep::Generate(_)
    ));
    let e: FlagError = SolverStep::from_flag("chain_of_thought").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("\"chain_of_thought\"") && text.contains("system:TEXT"),
        "{text}"
    );
}

// --- the agent --------------------------------------------------------------------------------

/// The texts of the tool messages, in order.
fn tool_texts(st: &TaskState) -> Vec<&str> {
    st.messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.as_str())
        .collect()
}

/// Runs `step` on a fresh sample with `model` and `policy`.
async fn run_agent(
    model: &Scripted,
    policy: Option<&modelgate_sandbox::Policy>,
    step: &SolverStep,
) -> (TaskState, Result<(), SolveError>) {
    let c = ctx(model, &LIMITS, policy);
    let mut st = TaskState::new(sample("Q", &[]));
    let r = step.run(&mut st, &c).await;
    (st, r)
}

fn agent(max_messages: Option<u32>) -> SolverStep {
    SolverStep::Agent(AgentStep {
        tools: vec![ToolKind::Bash, ToolKind::Python],
        max_messages,
        tool_timeout_s: None,
    })
}

#[tokio::test]
async fn without_a_sandbox_every_tool_call_is_refused_and_recorded() {
    let model = Scripted::new(vec![
        calls(&[
            bash("rm -rf /"),
            ("python", serde_json::json!({"code": "print(1)"})),
        ]),
        calls(&[
            ("curl", serde_json::json!({})),
            ("bash", serde_json::json!("ls")),
        ]),
        calls(&[(&*"é".repeat(1000), serde_json::json!({}))]),
        reply("I could not run anything."),
    ]);
    let (st, r) = run_agent(&model, None, &agent(None)).await;
    r.unwrap();
    assert_eq!(st.output, "I could not run anything.");
    let refused: Vec<(&str, &str)> = st
        .tool_calls
        .iter()
        .map(|r| (r.tool.as_str(), r.refused.as_deref().unwrap()))
        .collect();
    assert_eq!(refused[0], ("bash", "no sandbox"));
    assert_eq!(refused[1], ("python", "no sandbox"));
    assert_eq!(refused[2].0, "curl");
    assert!(refused[2].1.contains("unknown tool"));
    assert!(refused[3].1.starts_with("bad arguments"));
    assert_eq!(refused[4].0, "é".repeat(32), "names are capped at 64 bytes");
    // The model was told, once per call, in a tool message answering that call.
    let tool_msgs: Vec<&Message> = st
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .collect();
    assert_eq!(tool_msgs.len(), 5);
    assert!(tool_msgs[0].content.contains("no sandbox"));
    assert_eq!(tool_msgs[0].tool_call_id.as_deref(), Some("call_0"));
    assert!(st.sandbox_events.is_empty());
    // The tools were offered with their schemas.
    let offered = &model.requests()[0].tools;
    assert_eq!(offered.len(), 2);
    assert_eq!(offered[0].parameters["required"][0], "cmd");
    assert_eq!(offered[1].parameters["required"][0], "code");
}

/// Whether the native sandbox can run here. Under `CI` it must; elsewhere its absence skips.
fn sandbox_policy() -> Option<modelgate_sandbox::Policy> {
    let policy = modelgate_sandbox::Policy::default();
    match modelgate_sandbox::Sandbox::create(&policy, &modelgate_sandbox::SandboxOptions::default())
    {
        Ok(s) => {
            s.teardown().unwrap();
            Some(policy)
        }
        Err(e) if std::env::var_os("CI").is_none() => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("SKIPPED: the native sandbox cannot run on this host: {e}");
            }
            None
        }
        Err(e) => panic!("the native sandbox must run in CI: {e}"),
    }
}

/// Threads or processes anywhere on the host that are in the network namespace `inode`.
fn holders_of_net_namespace(inode: &str) -> Vec<String> {
    let want = format!("net:[{inode}]");
    let mut found = Vec::new();
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(tasks) = std::fs::read_dir(proc.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if std::fs::read_link(task.path().join("ns/net"))
                .is_ok_and(|l| l.to_string_lossy() == want)
            {
                found.push(task.path().display().to_string());
            }
        }
    }
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == want) {
            found.push(fd.path().display().to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tools_run_in_one_sandbox_per_sample_which_is_gone_afterwards() {
    let Some(policy) = sandbox_policy() else {
        return;
    };
    let model = Scripted::new(vec![
        calls(&[bash(
            "id -u; echo hi > /workspace/f; cat /workspace/f; readlink /proc/self/ns/net",
        )]),
        calls(&[
            bash("cat f && ls /workspace"),
            (
                "python",
                serde_json::json!({"code": "import os\nprint(6 * 7, os.getcwd())"}),
            ),
        ]),
        calls(&[bash("echo oops >&2; exit 3")]),
        reply("The answer is 42."),
    ]);
    let (st, r) = run_agent(&model, Some(&policy), &agent(None)).await;
    r.unwrap();
    assert_eq!(st.output, "The answer is 42.");
    assert!(st.limit_hit.is_none());
    let tool_out = tool_texts(&st);
    assert_eq!(tool_out.len(), 4, "{tool_out:?}");
    let first: Vec<&str> = tool_out[0].lines().collect();
    assert_eq!(&first[..2], ["65534", "hi"], "{tool_out:?}");
    let net = first[2]
        .strip_prefix("net:[")
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("{tool_out:?}"));
    // The second call sees the first call's file: the same sandbox.
    assert_eq!(tool_out[1], "hi\nf\n");
    assert_eq!(tool_out[2], "42 /workspace\n");
    assert_eq!(tool_out[3], "[stderr]\noops\n[exit code 3]");
    let records: Vec<(Option<i32>, bool)> = st
        .tool_calls
        .iter()
        .map(|r| (r.exit_code, r.refused.is_none()))
        .collect();
    assert_eq!(
        records,
        [
            (Some(0), true),
            (Some(0), true),
            (Some(0), true),
            (Some(3), true)
        ]
    );
    assert!(st.tool_calls.iter().all(|r| r.wall_time_ms > 0.0));
    // Torn down when the step ended: no process or thread anywhere on the host, and no file
    // descriptor of ours, is left in the sandbox's namespaces.
    assert_eq!(holders_of_net_namespace(net), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_events_and_big_outputs_are_recorded_and_capped() {
    let Some(policy) = sandbox_policy() else {
        return;
    };
    let model = Scripted::new(vec![
        calls(&[bash("head -c 100000 /dev/zero | tr '\\0' x")]),
        calls(&[bash("sleep 5")]),
        calls(&[(
            "python",
            serde_json::json!({"code": "import ctypes\nprint(ctypes.CDLL(None).syscall(101, 0, 0, 0, 0))"}),
        )]),
        reply("done"),
    ]);
    let mut step = AgentStep {
        tools: vec![ToolKind::Bash, ToolKind::Python],
        max_messages: None,
        tool_timeout_s: Some(1.5),
    };
    let c = ctx(&model, &LIMITS, Some(&policy));
    let mut st = TaskState::new(sample("Q", &[]));
    SolverStep::Agent(step.clone())
        .run(&mut st, &c)
        .await
        .unwrap();
    let tool_out = tool_texts(&st);
    assert!(tool_out[0].len() < 17 * 1024);
    assert!(tool_out[0].contains("[modelgate: tool output truncated: kept 16384 of"));
    assert!(
        tool_out[1].contains("killed at the time limit"),
        "{}",
        tool_out[1]
    );
    assert!(st.tool_calls[1].timed_out);
    assert!(
        st.sandbox_events
            .iter()
            .any(|e| e["kind"] == "timeout" && e["limit_ms"] == 1500),
        "{:?}",
        st.sandbox_events
    );
    // ptrace (101) is refused (-1, EPERM) and the refusal is part of the sample's record.
    assert_eq!(tool_out[2], "-1\n");
    assert!(
        st.sandbox_events
            .iter()
            .any(|e| e["kind"] == "syscall_denied" && e["syscall"] == "ptrace"),
        "{:?}",
        st.sandbox_events
    );
    step.tool_timeout_s = Some(-1.0);
    let err = SolverStep::Agent(step).run(&mut st, &c).await.unwrap_err();
    assert!(matches!(err, SolveError::Invalid(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_calls_tools_forever_stops_at_max_messages() {
    let Some(policy) = sandbox_policy() else {
        return;
    };
    let mut model = Scripted::new(vec![]);
    model.forever = Some(calls(&[bash("true"), bash("true")]));
    let (st, r) = run_agent(&model, Some(&policy), &agent(Some(9))).await;
    r.unwrap();
    assert_eq!(st.limit_hit.as_deref(), Some("max_messages (9)"));
    // user, then (assistant, tool, tool) ×2, then an assistant and one tool message.
    assert_eq!(st.messages.len(), 9);
    assert_eq!(st.model_calls, 3);
    assert_eq!(st.tool_calls.len(), 5);
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_created_refuses_like_no_sandbox() {
    let mut policy = modelgate_sandbox::Policy::default();
    policy.filesystem.rootfs = Some("/nonexistent/modelgate-test-rootfs".into());
    let model = Scripted::new(vec![
        calls(&[bash("id")]),
        calls(&[bash("id")]),
        reply("gave up"),
    ]);
    let (st, r) = run_agent(&model, Some(&policy), &agent(None)).await;
    r.unwrap();
    assert_eq!(st.output, "gave up");
    assert_eq!(st.tool_calls.len(), 2);
    for r in &st.tool_calls {
        let why = r.refused.as_deref().unwrap();
        assert!(why.starts_with("sandbox creation failed"), "{why}");
        assert_eq!(r.exit_code, None);
    }
}

fn net_inode(tool_output: &str) -> String {
    tool_output
        .lines()
        .find_map(|l| l.strip_prefix("net:[")?.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no namespace in {tool_output:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_is_torn_down_when_the_model_fails_or_the_sample_is_cancelled() {
    let Some(policy) = sandbox_policy() else {
        return;
    };
    // The model call after the first tool call fails: an error, and nothing left behind.
    let model = Scripted::new(vec![calls(&[bash("readlink /proc/self/ns/net")])]);
    let c = ctx(&model, &LIMITS, Some(&policy));
    let mut st = TaskState::new(sample("Q", &[]));
    let err = agent(None).run(&mut st, &c).await.unwrap_err();
    assert!(matches!(err, SolveError::Provider(_)));
    let net = net_inode(&st.messages[2].content);
    assert_eq!(holders_of_net_namespace(&net), Vec::<String>::new());

    // The sample is cancelled (its future dropped) while a command runs: the command finishes
    // (bounded by its time limit) and the sandbox is torn down without anyone waiting.
    let model = Scripted::new(vec![
        calls(&[bash("readlink /proc/self/ns/net")]),
        calls(&[bash("sleep 3")]),
        reply("never"),
    ]);
    let c = ctx(&model, &LIMITS, Some(&policy));
    let mut st = TaskState::new(sample("Q", &[]));
    let step = agent(None);
    let cancelled = tokio::time::timeout(Duration::from_millis(1500), step.run(&mut st, &c)).await;
    assert!(cancelled.is_err(), "the step should still be running");
    let net = net_inode(&st.messages[2].content);
    let mut left = holders_of_net_namespace(&net);
    assert!(!left.is_empty(), "the sandbox lives while its command runs");
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = holders_of_net_namespace(&net);
    }
    assert_eq!(left, Vec::<String>::new());
}
