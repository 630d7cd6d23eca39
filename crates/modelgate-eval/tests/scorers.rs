//! Scorer behaviour: every scorer on positive and negative cases (tricky numbers included), an
//! exact count over a synthetic run, the regex caps, and the judge's signature gate.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Scores are exactly 0, 0.5 or 1, and sums of them are exact.
#![allow(clippy::float_cmp)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use modelgate_attest::{KeySigner, KeyType, PrivateKey, attest_files};
use modelgate_eval::provider::{GenerateRequest, Generation, Usage};
use modelgate_eval::scorer::metrics::summarize;
use modelgate_eval::scorer::{
    JudgeSpec, MatchOptions, MatchPosition, ScoreError, Scorer, ScorerSpec, TextOptions, build,
    build_model_graded,
};
use modelgate_eval::{BoxFuture, Input, Message, Provider, ProviderError, Sample, TaskState};

fn state(output: &str, targets: &[&str], choices: &[&str]) -> TaskState {
    let sample = Sample {
        id: "s1".into(),
        line: 1,
        input: Input::Text("What is the answer?".into()),
        target: targets.iter().map(|t| (*t).to_owned()).collect(),
        choices: choices.iter().map(|c| (*c).to_owned()).collect(),
        metadata: serde_json::Map::new(),
    };
    let mut s = TaskState::new(Arc::new(sample));
    output.clone_into(&mut s.output);
    s
}

fn no_judge(_: &str) -> Result<Arc<dyn Provider>, ProviderError> {
    panic!("no judge is needed here")
}

fn scorer(spec: &ScorerSpec) -> Arc<dyn Scorer> {
    build(spec, &no_judge).unwrap()
}

fn run(scorer: &dyn Scorer, s: &TaskState) -> f64 {
    futures_lite(scorer.score(s)).unwrap().value
}

/// Drives a future that never waits on I/O (every non-judge scorer).
fn futures_lite<T>(f: BoxFuture<'_, T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn check(spec: &ScorerSpec, cases: &[(&str, &[&str], f64)]) {
    let s = scorer(spec);
    for (output, targets, want) in cases {
        assert_eq!(
            run(s.as_ref(), &state(output, targets, &[])),
            *want,
            "{spec:?} on {output:?} with {targets:?}"
        );
    }
}

#[test]
fn exact() {
    check(
        &ScorerSpec::Exact(TextOptions::default()),
        &[
            ("Paris", &["Paris"], 1.0),
            ("  Paris \n", &["Paris"], 1.0),
            ("New   York\tCity", &["New York City"], 1.0),
            ("paris", &["Paris"], 0.0),
            ("Paris.", &["Paris"], 0.0),
            ("Lyon", &["Paris", "Lyon"], 1.0),
            ("", &["Paris"], 0.0),
            ("anything", &[], 0.0),
        ],
    );
    check(
        &ScorerSpec::Exact(TextOptions { ignore_case: true }),
        &[("PARIS", &["paris"], 1.0), ("Pariss", &["paris"], 0.0)],
    );
}

#[test]
fn includes() {
    check(
        &ScorerSpec::Includes(TextOptions::default()),
        &[
            ("The capital is Paris.", &["Paris"], 1.0),
            ("The capital is paris.", &["Paris"], 0.0),
            ("no", &["Paris", "no"], 1.0),
            ("anything at all", &[""], 0.0),
            ("anything at all", &["  "], 0.0),
        ],
    );
    check(
        &ScorerSpec::Includes(TextOptions { ignore_case: true }),
        &[("THE CAPITAL IS PARIS", &["paris"], 1.0)],
    );
}

fn match_at(position: MatchPosition) -> ScorerSpec {
    ScorerSpec::Match(MatchOptions { position })
}

#[test]
fn match_numbers() {
    check(
        &match_at(MatchPosition::Last),
        &[
            ("The answer is 1,000.", &["1000"], 1.0),
            ("So we get 1000.0", &["1,000"], 1.0),
            ("It costs $42", &["42"], 1.0),
            ("It costs 42.", &["$42"], 1.0),
            ("The result is -3", &["-3"], 1.0),
            ("The result is -3", &["3"], 0.0),
            ("The result is 3", &["-3"], 0.0),
            ("0.5", &[".5"], 1.0),
            ("12, not 13", &["12"], 0.0),
            ("ANSWER: 7\n", &["7"], 1.0),
            ("dates like 2024-01-02", &["2"], 1.0),
            ("abc123", &["123"], 0.0),
            ("version 1.2.3", &["3"], 0.0),
            ("1,2,3", &["3"], 1.0),
            ("no number here", &["3"], 0.0),
            ("1e3", &["1000"], 0.0),
            ("72 apples", &["7"], 0.0),
            ("0.30000000000000004", &["0.3"], 0.0),
        ],
    );
    check(
        &match_at(MatchPosition::First),
        &[("12, not 13", &["12"], 1.0), ("12, not 13", &["13"], 0.0)],
    );
    check(
        &match_at(MatchPosition::Any),
        &[
            ("between 12 and 1,300 maybe", &["1300"], 1.0),
            ("between 12 and 1,300 maybe", &["130"], 0.0),
            ("x12", &["12"], 0.0),
        ],
    );
}

#[test]
fn match_text() {
    check(
        &match_at(MatchPosition::Last),
        &[
            ("The capital is Paris.", &["paris"], 1.0),
            ("Paris is the capital.", &["paris"], 0.0),
            ("I'd say: New York City!", &["new york city"], 1.0),
            ("Answer: \"Yes\"", &["yes"], 1.0),
            ("yesterday", &["yes"], 0.0),
            ("", &["yes"], 0.0),
            ("anything", &["..."], 0.0),
        ],
    );
    check(
        &match_at(MatchPosition::First),
        &[("Paris, of course.", &["PARIS"], 1.0)],
    );
    check(
        &match_at(MatchPosition::Any),
        &[
            ("I think the answer is yes, surely.", &["yes"], 1.0),
            ("yesterday", &["yes"], 0.0),
        ],
    );
}

#[test]
fn match_records_the_extracted_answer() {
    let s = scorer(&match_at(MatchPosition::Last));
    let score = futures_lite(s.score(&state("first 12 then $1,300.", &["1300"], &[]))).unwrap();
    assert_eq!(score.value, 1.0);
    assert_eq!(score.answer.as_deref(), Some("$1,300"));
    let score = futures_lite(s.score(&state("first 12 then 14", &["1300"], &[]))).unwrap();
    assert_eq!((score.value, score.answer.as_deref()), (0.0, Some("14")));
}

#[test]
fn exactly_the_wrong_answers_score_wrong() {
    // 100 outputs, 37 of them wrong in ways a lenient scorer might miss.
    let s = scorer(&match_at(MatchPosition::Last));
    let mut states = Vec::new();
    let mut wrong = 0;
    for i in 0..100u32 {
        let n = 1000 + i * 17;
        let grouped = format!("{},{:03}", n / 1000, n % 1000);
        let output = match i % 8 {
            _ if i < 74 && i % 2 == 1 => {
                wrong += 1;
                match wrong % 4 {
                    0 => format!("The answer is {}.", n + 1),
                    1 => format!("{n} is what I first thought, but it is {}", n - 1),
                    2 => format!("The answer is -{n}"),
                    _ => format!("The answer is {n}1"),
                }
            }
            0 => format!("The answer is {grouped}."),
            1 => format!("ANSWER: ${n}"),
            2 => format!("{n}.0"),
            3 => format!("so... {n}."),
            _ => format!("Result:\n{n}\n"),
        };
        states.push(state(&output, &[&n.to_string()], &[]));
    }
    assert_eq!(wrong, 37);
    let values: Vec<f64> = states.iter().map(|st| run(s.as_ref(), st)).collect();
    assert_eq!(values.iter().sum::<f64>(), 63.0);
    let summary = summarize(&values);
    assert_eq!(summary.n, 100);
    assert!((summary.mean - 0.63).abs() < 1e-12);
    assert!(summary.ci95.0 < 0.63 && 0.63 < summary.ci95.1);
}

#[test]
fn regex() {
    let spec =
        |p: &str| ScorerSpec::Regex(modelgate_eval::scorer::RegexOptions { pattern: p.into() });
    check(
        &spec(r"(?i)\bparis\b"),
        &[("It is PARIS.", &[], 1.0), ("Parisian", &[], 0.0)],
    );
    check(
        &spec(r"ANSWER:\s*(\S+)"),
        &[
            ("ANSWER: 42", &["42"], 1.0),
            ("ANSWER: 41", &["42"], 0.0),
            ("ANSWER:  42 ", &[" 42"], 1.0),
            ("no marker", &["42"], 0.0),
        ],
    );
    // A group that does not take part in the match answers nothing.
    check(&spec(r"x|(y)"), &[("x", &["y"], 0.0)]);
}

#[test]
fn regex_refuses_oversized_patterns() {
    let err = |p: String| match build(
        &ScorerSpec::Regex(modelgate_eval::scorer::RegexOptions { pattern: p }),
        &no_judge,
    ) {
        Err(ScoreError::Config(m)) => m,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("built"),
    };
    let long = "a".repeat(modelgate_eval::scorer::MAX_PATTERN_BYTES + 1);
    assert!(err(long).contains("the limit is 4096"));
    // Short to write, huge to compile: Unicode word classes repeated.
    let m = err(r"(?:\w{100}){100}".to_owned());
    assert!(m.contains("compiles to more than"), "{m}");
    assert!(err("(unclosed".to_owned()).contains("invalid pattern"));
}

#[test]
fn choice() {
    let s = scorer(&ScorerSpec::Choice);
    let choices = ["red", "green", "blue"];
    let with = |letter: Option<char>, target: &str| {
        let mut st = state("whatever", &[target], &choices);
        st.choice = letter;
        run(s.as_ref(), &st)
    };
    assert_eq!(with(Some('B'), "B"), 1.0);
    assert_eq!(with(Some('B'), "b"), 1.0);
    assert_eq!(with(Some('B'), "1"), 1.0);
    assert_eq!(with(Some('B'), "green"), 1.0);
    assert_eq!(with(Some('B'), "C"), 0.0);
    assert_eq!(with(Some('B'), "2"), 0.0);
    assert_eq!(with(Some('B'), "blue"), 0.0);
    assert_eq!(with(None, "B"), 0.0);
}

#[test]
fn flags() {
    assert_eq!(
        ScorerSpec::from_flag("regex:a(b)").unwrap(),
        ScorerSpec::Regex(modelgate_eval::scorer::RegexOptions {
            pattern: "a(b)".into()
        })
    );
    assert_eq!(
        ScorerSpec::from_flag("match:any").unwrap(),
        match_at(MatchPosition::Any)
    );
    for ok in ["exact", "includes", "match", "choice"] {
        assert!(ScorerSpec::from_flag(ok).is_ok(), "{ok}");
    }
    let e = ScorerSpec::from_flag("fuzzy").unwrap_err().to_string();
    assert!(
        e.contains("\"fuzzy\"") && e.contains("regex:PATTERN") && e.contains("choice"),
        "{e}"
    );
}

// --- the judge --------------------------------------------------------------------------------

/// A judge that answers from a script and keeps the requests.
struct Judge {
    replies: Mutex<VecDeque<String>>,
    seen: Mutex<Vec<GenerateRequest>>,
}

impl Provider for Judge {
    fn id(&self) -> &'static str {
        "mock/judge"
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<Generation, ProviderError>> {
        self.seen.lock().unwrap().push(request.clone());
        let reply = self.replies.lock().unwrap().pop_front();
        Box::pin(async move {
            let text = reply.ok_or_else(|| ProviderError::Malformed {
                message: "script exhausted".into(),
            })?;
            Ok(Generation {
                message: Message::assistant(text),
                stop_reason: "stop".into(),
                usage: Usage::default(),
                retries: Vec::new(),
                latency_ms: 1.0,
            })
        })
    }
}

const PROMPT: &str = "Question: {question}\nAnswer: {answer}\nCriterion: {criterion}\n\
Reply with GRADE: C, P or I.\n";

struct Signed {
    _dir: tempfile::TempDir,
    spec: JudgeSpec,
    other_key: PathBuf,
}

fn write_key(path: &Path, signer: &KeySigner) {
    std::fs::write(path, signer.public_key().to_spki_pem().unwrap()).unwrap();
}

fn signed_prompt() -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let prompt = dir.path().join("judge.txt");
    std::fs::write(&prompt, PROMPT).unwrap();
    let signer = KeySigner::new(PrivateKey::generate(KeyType::Ed25519));
    let (_, envelope) = attest_files(
        std::slice::from_ref(&prompt),
        "https://modelgate.dev/judge-prompt/v1",
        serde_json::json!({}),
        &signer,
    )
    .unwrap();
    let signature = dir.path().join("judge.txt.sig");
    std::fs::write(&signature, envelope.to_json()).unwrap();
    let key = dir.path().join("judge.pub");
    write_key(&key, &signer);
    let other_key = dir.path().join("other.pub");
    write_key(
        &other_key,
        &KeySigner::new(PrivateKey::generate(KeyType::Ed25519)),
    );
    Signed {
        spec: JudgeSpec {
            model: "mock/judge".into(),
            prompt,
            signature,
            key,
        },
        other_key,
        _dir: dir,
    }
}

fn judge_with(replies: &[&str]) -> Arc<Judge> {
    Arc::new(Judge {
        replies: Mutex::new(replies.iter().map(|r| (*r).to_owned()).collect()),
        seen: Mutex::new(Vec::new()),
    })
}

fn refusal(spec: &JudgeSpec) -> String {
    let resolver = |_: &str| -> Result<Arc<dyn Provider>, ProviderError> {
        panic!("the judge model must not be resolved before the prompt verifies")
    };
    match build(&ScorerSpec::ModelGraded(spec.clone()), &resolver) {
        Err(ScoreError::UnverifiedJudge { path, reason }) => {
            assert_eq!(path, spec.prompt);
            reason
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("an unverified judge prompt was accepted"),
    }
}

#[tokio::test]
async fn a_verified_judge_grades_with_the_prompt_it_verified() {
    let signed = signed_prompt();
    let judge = judge_with(&["Looks right.\nGRADE: C", "GRADE: P", "I cannot tell."]);
    let provider: Arc<dyn Provider> = judge.clone();
    let resolver = move |model: &str| -> Result<Arc<dyn Provider>, ProviderError> {
        assert_eq!(model, "mock/judge");
        Ok(provider.clone())
    };
    let scorer = build_model_graded(&signed.spec, &resolver).unwrap();
    let want = {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(PROMPT.as_bytes());
        d.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            write!(s, "{b:02x}").unwrap();
            s
        })
    };
    assert_eq!(scorer.prompt_sha256(), want);
    // The file changing after verification changes nothing: the verified bytes are in use.
    std::fs::write(&signed.spec.prompt, "GRADE: C regardless {answer}").unwrap();
    let st = state("It is {criterion} 42", &["42"], &[]);
    let score = scorer.score(&st).await.unwrap();
    assert_eq!(score.value, 1.0);
    assert_eq!(score.explanation.as_deref(), Some("GRADE: C"));
    let sent = judge.seen.lock().unwrap()[0].clone();
    assert_eq!(sent.temperature, Some(0.0));
    assert_eq!(
        sent.messages[0].content,
        "Question: What is the answer?\nAnswer: It is {criterion} 42\nCriterion: 42\n\
         Reply with GRADE: C, P or I.\n"
    );
    assert_eq!(scorer.score(&st).await.unwrap().value, 0.5);
    let unparsed = scorer.score(&st).await.unwrap();
    assert_eq!(unparsed.value, 0.0);
    assert!(unparsed.explanation.unwrap().contains("unparseable"));
    assert!(matches!(scorer.score(&st).await, Err(ScoreError::Judge(_))));
    let dynamic = build(
        &ScorerSpec::ModelGraded(signed_prompt().spec),
        &|_: &str| Ok(judge_with(&[]) as Arc<dyn Provider>),
    )
    .unwrap();
    assert_eq!(dynamic.judge().unwrap().model, "mock/judge");
}

#[test]
fn a_modified_prompt_is_refused() {
    let signed = signed_prompt();
    let mut bytes = std::fs::read(&signed.spec.prompt).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&signed.spec.prompt, bytes).unwrap();
    let reason = refusal(&signed.spec);
    assert!(reason.contains("does not verify"), "{reason}");
}

#[test]
fn a_prompt_signed_by_another_key_is_refused() {
    let mut signed = signed_prompt();
    signed.spec.key = signed.other_key.clone();
    let reason = refusal(&signed.spec);
    assert!(reason.contains("does not verify"), "{reason}");
}

#[test]
fn an_unsigned_prompt_is_refused() {
    let mut signed = signed_prompt();
    signed.spec.signature = signed.spec.prompt.with_extension("missing.sig");
    let reason = refusal(&signed.spec);
    assert!(reason.contains("no signature"), "{reason}");
    // A signature file that is not an attestation at all.
    let mut signed = signed_prompt();
    std::fs::write(&signed.spec.signature, "not json").unwrap();
    signed.spec.model = "mock/other".into();
    let reason = refusal(&signed.spec);
    assert!(reason.contains("cannot be checked"), "{reason}");
}
