//! Providers against the loopback stub server: happy paths in both API dialects, retries and
//! their accounting, every bounded failure (timeout, size, garbage), key hygiene, the
//! concurrency bound, and every mock model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use modelgate_eval::message::{Message, Role, ToolDef};
use modelgate_eval::provider::{
    AnthropicProvider, GenerateRequest, MockKind, OpenAiProvider, Provider, ProviderError,
    ProviderOptions, Retry, resolve, resolve_with,
};
use modelgate_eval::stub_server::{Fault, FaultRule, StubConfig, StubMode, StubServer, When};
use serde_json::json;

const KEY: &str = "sk-test-SECRET-0123456789abcdef";

fn options(server: &StubServer) -> ProviderOptions {
    ProviderOptions {
        base_url: Some(server.base_url()),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_secs(2),
        max_response_bytes: 64 << 10,
        max_connections: 8,
    }
}

fn no_keys(_: &str) -> Option<String> {
    None
}

#[allow(clippy::unnecessary_wraps)] // the shape `resolve_with` takes
fn with_keys(_: &str) -> Option<String> {
    Some(KEY.to_owned())
}

fn ask(text: &str) -> GenerateRequest {
    GenerateRequest {
        messages: vec![Message::user(text)],
        tools: Vec::new(),
        max_tokens: Some(64),
        temperature: Some(0.0),
    }
}

fn bash_tool() -> ToolDef {
    ToolDef {
        name: "bash".into(),
        description: "Run a shell command".into(),
        parameters: json!({"type": "object", "properties": {"cmd": {"type": "string"}}}),
    }
}

async fn stub(mode: StubMode, faults: Vec<FaultRule>) -> StubServer {
    StubServer::start(StubConfig {
        mode,
        faults,
        ..StubConfig::default()
    })
    .await
    .unwrap()
}

async fn faulty(fault: Fault, when: When) -> StubServer {
    stub(
        StubMode::Mock(MockKind::Calc),
        vec![FaultRule { when, fault }],
    )
    .await
}

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
    }
}

/// Drives the agent conversation: a tool call, then an answer from the tool's output.
async fn agent_round_trip(provider: &dyn Provider) {
    let mut request = ask("List the files with `ls -la /tmp` please.");
    request.tools.push(bash_tool());
    let first = provider.generate(&request).await.unwrap();
    assert_eq!(first.message.role, Role::Assistant);
    assert_eq!(first.message.tool_calls.len(), 1);
    let call = &first.message.tool_calls[0];
    assert_eq!(call.name, "bash");
    assert_eq!(call.arguments, json!({"cmd": "ls -la /tmp"}));
    let call_id = call.id.clone();
    request.messages.push(first.message);
    request
        .messages
        .push(Message::tool(call_id, "total 0\ndrwx a\n"));
    let second = provider.generate(&request).await.unwrap();
    assert_eq!(second.message.content, "ANSWER: total 0");
    assert!(second.message.tool_calls.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_happy_path_and_model_names_with_slashes() {
    let server = stub(StubMode::Mock(MockKind::Calc), Vec::new()).await;
    let provider =
        resolve_with("openai/meta-llama/Llama-3-8B", &options(&server), &no_keys).unwrap();
    assert_eq!(provider.id(), "openai/meta-llama/Llama-3-8B");
    let generation = provider
        .generate(&ask("What is 12 + 7 * 3?"))
        .await
        .unwrap();
    assert_eq!(generation.message.content, "The answer is 33.");
    assert_eq!(generation.stop_reason, "stop");
    assert_eq!(generation.usage.input_tokens, 7);
    assert_eq!(generation.usage.output_tokens, 4);
    assert!(generation.retries.is_empty());
    assert!(generation.latency_ms > 0.0);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_tool_calls_round_trip() {
    let server = stub(StubMode::Mock(MockKind::Agent), Vec::new()).await;
    let provider = resolve_with("openai/agent", &options(&server), &with_keys).unwrap();
    agent_round_trip(provider.as_ref()).await;
    assert_eq!(server.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_messages_shape() {
    let server = stub(StubMode::Mock(MockKind::Agent), Vec::new()).await;
    let provider = resolve_with("anthropic/claude-test", &options(&server), &with_keys).unwrap();
    assert_eq!(provider.id(), "anthropic/claude-test");
    agent_round_trip(provider.as_ref()).await;

    let server = stub(StubMode::Mock(MockKind::Calc), Vec::new()).await;
    let provider = resolve_with("anthropic/claude-test", &options(&server), &with_keys).unwrap();
    let mut request = ask("What is (1 + 2) * 4?");
    request
        .messages
        .insert(0, Message::system("Answer briefly."));
    let generation = provider.generate(&request).await.unwrap();
    assert_eq!(generation.message.content, "The answer is 12.");
    assert_eq!(generation.stop_reason, "end_turn");
    assert_eq!(generation.usage.input_tokens, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_keys_are_config_errors_naming_the_variable() {
    let defaults = ProviderOptions::default();
    let Err(ProviderError::Config { message }) = resolve_with("openai/gpt-x", &defaults, &no_keys)
    else {
        panic!("a missing OpenAI key for the default URL must be a Config error")
    };
    assert!(message.contains("OPENAI_API_KEY"), "{message}");
    let Err(ProviderError::Config { message }) =
        resolve_with("anthropic/claude", &defaults, &no_keys)
    else {
        panic!("a missing Anthropic key must be a Config error")
    };
    assert!(message.contains("ANTHROPIC_API_KEY"), "{message}");
    for bad in ["gemini/x", "openai", "openai/", "mock/nope", "nonsense"] {
        assert!(
            matches!(resolve(bad, &defaults), Err(ProviderError::Config { .. })),
            "{bad}"
        );
    }
    let bad_url = ProviderOptions {
        base_url: Some("ftp://example.invalid".into()),
        ..ProviderOptions::default()
    };
    assert!(matches!(
        resolve_with("openai/x", &bad_url, &with_keys),
        Err(ProviderError::Config { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_429_then_success_are_recorded_exactly_and_honour_retry_after() {
    let server = stub(
        StubMode::Mock(MockKind::Calc),
        vec![
            FaultRule {
                when: When::FirstN(1),
                fault: status(429, Some("1")),
            },
            FaultRule {
                when: When::FirstN(2),
                fault: status(503, Some("0")),
            },
        ],
    )
    .await;
    let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
    let started = Instant::now();
    let generation = provider.generate(&ask("What is 2 + 2?")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(generation.message.content, "The answer is 4.");
    assert_eq!(
        generation.retries,
        vec![
            Retry {
                reason: "HTTP 429".into(),
                waited_ms: 1000
            },
            Retry {
                reason: "HTTP 503".into(),
                waited_ms: 0
            },
        ]
    );
    assert_eq!(server.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped_by_backoff_max_and_every_kth_fault_is_retried() {
    let server = faulty(status(429, Some("3600")), When::FirstN(1)).await;
    let opts = ProviderOptions {
        backoff_max: Duration::from_millis(30),
        ..options(&server)
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let generation = provider.generate(&ask("What is 1 + 1?")).await.unwrap();
    assert_eq!(generation.retries[0].waited_ms, 30);

    let server = faulty(status(500, None), When::EveryKth(3)).await;
    let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
    let mut retried = 0;
    for i in 0..10 {
        let generation = provider
            .generate(&ask(&format!("What is {i} + 1?")))
            .await
            .unwrap();
        assert_eq!(
            generation.message.content,
            format!("The answer is {}.", i + 1)
        );
        retried += generation.retries.len();
        for retry in &generation.retries {
            assert_eq!(retry.reason, "HTTP 500");
            assert!(
                retry.waited_ms <= 2,
                "full jitter under a 1 ms base: {retry:?}"
            );
        }
    }
    assert_eq!(server.request_count(), 10 + retried as u64);
    assert_eq!(retried, 4, "requests 3, 6, 9 and 12 fail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_until_the_limit_exhaust_retries_exactly() {
    let server = faulty(status(500, None), When::Always).await;
    let opts = ProviderOptions {
        max_retries: 3,
        ..options(&server)
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
    let ProviderError::RetriesExhausted {
        attempts,
        last,
        retries,
    } = &err
    else {
        panic!("expected RetriesExhausted, got {err:?}")
    };
    assert_eq!(*attempts, 4);
    assert_eq!(retries.len(), 3);
    assert!(retries.iter().all(|r| r.reason == "HTTP 500"));
    assert!(matches!(**last, ProviderError::Status { status: 500, .. }));
    assert_eq!(server.request_count(), 4);
    assert!(
        err.to_string()
            .starts_with("gave up after 4 attempts: HTTP 500")
    );

    // max_retries: 0 means one attempt and the error itself.
    let opts = ProviderOptions {
        max_retries: 0,
        ..options(&server)
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(server.request_count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried() {
    for code in [400, 401, 404, 422] {
        let server = faulty(status(code, Some("0")), When::Always).await;
        let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
        let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
        let ProviderError::Status { status, detail } = &err else {
            panic!("expected Status, got {err:?}")
        };
        assert_eq!(*status, code);
        assert!(detail.contains("injected fault"), "{detail}");
        assert_eq!(server.request_count(), 1, "HTTP {code} was retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_times_out_per_attempt() {
    let server = faulty(Fault::Hang, When::Always).await;
    let opts = ProviderOptions {
        timeout: Duration::from_millis(200),
        max_retries: 0,
        ..options(&server)
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let started = Instant::now();
    let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err, ProviderError::Timeout { timeout_ms: 200 });
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2));

    let opts = ProviderOptions {
        max_retries: 1,
        ..opts
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
    let ProviderError::RetriesExhausted {
        attempts, retries, ..
    } = &err
    else {
        panic!("expected RetriesExhausted, got {err:?}")
    };
    assert_eq!((*attempts, retries[0].reason.as_str()), (2, "timeout"));
    assert_eq!(server.request_count(), 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = ProviderOptions {
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        max_retries: 1,
        backoff_base: Duration::from_millis(1),
        ..ProviderOptions::default()
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
    let ProviderError::RetriesExhausted {
        attempts,
        last,
        retries,
    } = &err
    else {
        panic!("expected RetriesExhausted, got {err:?}")
    };
    assert_eq!((*attempts, retries[0].reason.as_str()), (2, "connect"));
    let ProviderError::Transport { message } = &**last else {
        panic!("expected Transport, got {last:?}")
    };
    assert!(message.starts_with("connection failed"), "{message}");
    assert!(!message.contains("127.0.0.1"), "the URL leaked: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_answers_are_refused_declared_or_streamed() {
    for declare_length in [true, false] {
        let server = faulty(
            Fault::Oversized {
                bytes: 8 << 20,
                declare_length,
            },
            When::Always,
        )
        .await;
        let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
        let started = Instant::now();
        let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
        assert_eq!(
            err,
            ProviderError::TooLarge { limit: 64 << 10 },
            "declared: {declare_length}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(server.request_count(), 1, "TooLarge must not be retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_wrong_shapes_are_malformed() {
    for fault in [Fault::Garbage, Fault::WrongShape] {
        for model in ["openai/m", "anthropic/m"] {
            let server = faulty(fault.clone(), When::Always).await;
            let provider = resolve_with(model, &options(&server), &with_keys).unwrap();
            let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
            let ProviderError::Malformed { message } = &err else {
                panic!("{model} {fault:?}: expected Malformed, got {err:?}")
            };
            assert!(message.chars().count() <= 201);
            assert!(!message.chars().any(char::is_control), "{message:?}");
            assert_eq!(server.request_count(), 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_never_appear_in_errors() {
    for model in ["openai/m", "anthropic/m"] {
        let server = faulty(Fault::EchoAuth, When::Always).await;
        let provider = resolve_with(model, &options(&server), &with_keys).unwrap();
        let err = provider.generate(&ask("What is 1 + 1?")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Status { status: 401, .. }),
            "{err:?}"
        );
        let shown = [
            err.to_string(),
            format!("{err:?}"),
            serde_json::to_string(&err).unwrap(),
        ];
        for text in shown {
            assert!(!text.contains(KEY), "{model}: the key leaked: {text}");
            assert!(
                !text.contains("SECRET"),
                "{model}: part of the key leaked: {text}"
            );
            assert!(text.contains("[redacted]"), "{model}: {text}");
        }
    }
    let opts = ProviderOptions::default();
    let shown = [
        format!(
            "{:?}",
            OpenAiProvider::new("m", &opts, Some(KEY.into())).unwrap()
        ),
        format!(
            "{:?}",
            AnthropicProvider::new("m", &opts, Some(KEY.into())).unwrap()
        ),
    ];
    for text in shown {
        assert!(!text.contains("SECRET"), "Debug shows the key: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_by_max_connections() {
    let server = StubServer::start(StubConfig {
        latency: Duration::from_millis(20),
        ..StubConfig::default()
    })
    .await
    .unwrap();
    let opts = ProviderOptions {
        max_connections: 4,
        ..options(&server)
    };
    let provider = resolve_with("openai/m", &opts, &no_keys).unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let provider = Arc::clone(&provider);
        tasks.push(tokio::spawn(async move {
            provider
                .generate(&ask(&format!("What is {i} * 2?")))
                .await
                .map(|g| g.message.content)
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap(),
            format!("The answer is {}.", i * 2)
        );
    }
    assert_eq!(server.request_count(), 40);
    assert!(
        server.max_in_flight() <= 4,
        "in flight: {}",
        server.max_in_flight()
    );
    assert!(server.max_in_flight() >= 2, "no concurrency at all");
    assert!(
        server.connection_count() <= 4,
        "connections: {}",
        server.connection_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mock_model() {
    let defaults = ProviderOptions::default();
    let mock = |name: &str| resolve(name, &defaults).unwrap();

    let echo = mock("mock/echo");
    let g = echo.generate(&ask("say this back")).await.unwrap();
    assert_eq!(g.message.content, "say this back");
    assert_eq!((g.usage.input_tokens, g.usage.output_tokens), (3, 3));

    let calc = mock("mock/calc");
    for (q, a) in [
        ("What is 12 + 7 * 3?", "The answer is 33."),
        ("What is 10 / 4?", "The answer is 2.5."),
        ("Who wrote Hamlet?", "I don't know."),
    ] {
        assert_eq!(calc.generate(&ask(q)).await.unwrap().message.content, a);
    }

    let choice = mock("mock/choice");
    let prompt = "Pick one.\nA) red\nB) green\nC) blue";
    let first = choice.generate(&ask(prompt)).await.unwrap().message.content;
    assert!(["ANSWER: A", "ANSWER: B", "ANSWER: C"].contains(&first.as_str()));
    for _ in 0..3 {
        assert_eq!(
            choice.generate(&ask(prompt)).await.unwrap().message.content,
            first
        );
    }

    let agent = mock("mock/agent");
    agent_round_trip(agent.as_ref()).await;
    let mut request = ask("no command here");
    request.tools.push(bash_tool());
    let g = agent.generate(&request).await.unwrap();
    assert_eq!(
        g.message.tool_calls[0].arguments,
        json!({"cmd": "echo hello"})
    );
    assert_eq!(g.stop_reason, "tool_calls");

    let judge = mock("mock/judge");
    let graded = |answer: &str| {
        format!("[Question]: q\n[Answer]: {answer}\n[Criterion]: Paris\nReply GRADE: C or I.")
    };
    assert_eq!(
        judge
            .generate(&ask(&graded("It is paris.")))
            .await
            .unwrap()
            .message
            .content,
        "GRADE: C"
    );
    assert_eq!(
        judge
            .generate(&ask(&graded("It is Lyon.")))
            .await
            .unwrap()
            .message
            .content,
        "GRADE: I"
    );

    let slow = mock("mock/calc@latency=30ms");
    let started = Instant::now();
    slow.generate(&ask("What is 1 + 1?")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(30));

    let Err(ProviderError::Config { message }) = resolve("mock/gpt", &defaults) else {
        panic!("unknown mocks must be Config errors")
    };
    for kind in MockKind::ALL {
        assert!(message.contains(&format!("mock/{kind}")), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_answers_every_mode_and_fixed_text() {
    let server = stub(StubMode::Fixed("hello there".into()), Vec::new()).await;
    let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
    let g = provider.generate(&ask("anything")).await.unwrap();
    assert_eq!(g.message.content, "hello there");
    let server = stub(StubMode::Mock(MockKind::Echo), Vec::new()).await;
    let provider = resolve_with("openai/m", &options(&server), &no_keys).unwrap();
    let g = provider.generate(&ask("über \"quoted\"\n")).await.unwrap();
    assert_eq!(g.message.content, "über \"quoted\"\n");
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are utime and stime; `after` starts at field 3.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// Throughput check: 20,000 requests at concurrency 256 through `Provider::generate` against a
/// stub answering after 50 ms. Set `MODELGATE_STUB_URL` to measure against a stub in another
/// process (`cargo run --release -p modelgate-eval --example stub_server -- --latency-ms 50`);
/// otherwise the stub runs in this process and the CPU figure covers both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement; run with --release -- --ignored --nocapture"]
async fn throughput_20k_requests_at_256() {
    const TOTAL: usize = 20_000;
    const CONCURRENCY: usize = 256;
    let (local, base_url) = if let Ok(url) = std::env::var("MODELGATE_STUB_URL") {
        (None, url)
    } else {
        let server = StubServer::start(StubConfig {
            latency: Duration::from_millis(50),
            ..StubConfig::default()
        })
        .await
        .unwrap();
        let url = server.base_url();
        (Some(server), url)
    };
    let opts = ProviderOptions {
        base_url: Some(base_url),
        timeout: Duration::from_secs(30),
        max_connections: CONCURRENCY,
        ..ProviderOptions::default()
    };
    let provider = resolve_with("openai/stub", &opts, &no_keys).unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let provider = Arc::clone(&provider);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut retries = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= TOTAL {
                    return retries;
                }
                let g = provider
                    .generate(&ask(&format!("What is {i} + 1?")))
                    .await
                    .unwrap();
                assert_eq!(g.message.content, format!("The answer is {}.", i + 1));
                retries += g.retries.len();
            }
        }));
    }
    let mut retries = 0;
    for worker in workers {
        retries += worker.await.unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let bound = CONCURRENCY as f64 / 0.050;
    println!(
        "{TOTAL} requests at concurrency {CONCURRENCY}: {wall:.2} s, {:.0} req/s ({:.0}% of the {bound:.0} req/s latency bound), {cpu:.2} CPU s ({} stub in this process), {retries} retries",
        TOTAL as f64 / wall,
        100.0 * TOTAL as f64 / wall / bound,
        if local.is_some() { "with the" } else { "no" },
    );
    if let Some(server) = local {
        assert_eq!(server.request_count(), TOTAL as u64);
        assert!(server.max_in_flight() <= CONCURRENCY as u64);
    }
}
