//! `mock/NAME`: built-in deterministic models for demos and tests; no server, no network.
//!
//! Each answer is computed from the request alone, so a run against a mock is reproducible:
//!
//! - `mock/echo` repeats the last user message.
//! - `mock/calc` finds an arithmetic question ("What is 12 + 7 * 3?") and answers
//!   "The answer is 33." (a bounded recursive-descent evaluator over numbers, `+ - * /` and
//!   parentheses; nothing else is evaluated), or "I don't know.".
//! - `mock/choice` picks a letter among the `A) …` option lines from a hash of the prompt:
//!   "ANSWER: C".
//! - `mock/agent` calls `bash` with the first backtick-quoted command of the user message (or
//!   `echo hello`) until a tool result exists, then answers "ANSWER: " and its first line.
//! - `mock/judge` grades a model-graded prompt: "GRADE: C" when the `[Criterion]:` text appears
//!   in the `[Answer]:` text (case-insensitive), else "GRADE: I". A section runs from its
//!   marker to the next `[Name]:` line or blank line; the criterion is its first non-empty line.
//!
//! Options follow an `@`: `mock/calc@latency=50ms` sleeps before answering (`ms` or `s`).
//! Token usage counts whitespace-separated words.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::{GenerateRequest, Generation, Provider, ProviderError, Usage};
use crate::BoxFuture;
use crate::message::{Message, Role, ToolCall};

/// The mock models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockKind {
    /// Repeats the last user message.
    Echo,
    /// Answers arithmetic questions.
    Calc,
    /// Picks a multiple-choice letter.
    Choice,
    /// Calls `bash` once, then answers from its output.
    Agent,
    /// Grades `[Answer]:` against `[Criterion]:`.
    Judge,
}

impl MockKind {
    /// Every mock, in documentation order.
    pub const ALL: [MockKind; 5] = [
        MockKind::Echo,
        MockKind::Calc,
        MockKind::Choice,
        MockKind::Agent,
        MockKind::Judge,
    ];

    /// The name after `mock/`.
    pub fn as_str(self) -> &'static str {
        match self {
            MockKind::Echo => "echo",
            MockKind::Calc => "calc",
            MockKind::Choice => "choice",
            MockKind::Agent => "agent",
            MockKind::Judge => "judge",
        }
    }

    /// The answer to `request`: the assistant message and its stop reason.
    pub fn answer(self, request: &GenerateRequest) -> (Message, &'static str) {
        let last_user = last_content(&request.messages, Role::User).unwrap_or_default();
        let text = match self {
            MockKind::Echo => last_user.to_owned(),
            MockKind::Calc => match find_arithmetic(last_user) {
                Some(value) => format!("The answer is {}.", format_number(value)),
                None => "I don't know.".to_owned(),
            },
            MockKind::Choice => choose(last_user),
            MockKind::Agent => return agent(request, last_user),
            MockKind::Judge => judge(last_user),
        };
        (Message::assistant(text), "stop")
    }
}

impl fmt::Display for MockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MockKind {
    type Err = ProviderError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        MockKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| ProviderError::Config {
                message: format!(
                    "unknown mock model {name:?}: known mocks are {}",
                    MockKind::ALL.map(|k| format!("mock/{k}")).join(", ")
                ),
            })
    }
}

/// A mock model, optionally slowed down.
#[derive(Debug, Clone)]
pub struct MockProvider {
    id: String,
    kind: MockKind,
    latency: Duration,
}

impl MockProvider {
    /// Parses `NAME[@latency=50ms]` (the part after `mock/`).
    pub fn new(spec: &str) -> Result<Self, ProviderError> {
        let (name, options) = spec.split_once('@').unwrap_or((spec, ""));
        let kind: MockKind = name.parse()?;
        let mut latency = Duration::ZERO;
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option.split_once('=') {
                Some(("latency", value)) => latency = parse_duration(value)?,
                _ => {
                    return Err(ProviderError::Config {
                        message: format!(
                            "unknown option {option:?} for mock/{kind}: the only option is latency=DURATION (e.g. latency=50ms)"
                        ),
                    });
                }
            }
        }
        Ok(MockProvider {
            id: format!("mock/{spec}"),
            kind,
            latency,
        })
    }

    /// Which mock this is.
    pub fn kind(&self) -> MockKind {
        self.kind
    }
}

impl Provider for MockProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<Generation, ProviderError>> {
        Box::pin(async move {
            let started = Instant::now();
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            let (message, stop_reason) = self.kind.answer(request);
            let usage = usage(request, &message);
            Ok(Generation {
                message,
                stop_reason: stop_reason.to_owned(),
                usage,
                retries: Vec::new(),
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }
}

/// Word counts as token counts.
pub(crate) fn usage(request: &GenerateRequest, answer: &Message) -> Usage {
    let words = |s: &str| s.split_whitespace().count() as u64;
    Usage {
        input_tokens: request.messages.iter().map(|m| words(&m.content)).sum(),
        output_tokens: words(&answer.content),
    }
}

/// `50ms`, `2s` or a bare number of milliseconds, at most an hour.
fn parse_duration(value: &str) -> Result<Duration, ProviderError> {
    let bad = || ProviderError::Config {
        message: format!("bad mock latency {value:?}: expected e.g. 50ms or 2s (at most 3600s)"),
    };
    let (digits, scale) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1000)
    } else {
        (value, 1)
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms = n
        .checked_mul(scale)
        .filter(|&ms| ms <= 3_600_000)
        .ok_or_else(bad)?;
    Ok(Duration::from_millis(ms))
}

fn last_content(messages: &[Message], role: Role) -> Option<&str> {
    messages
        .iter()
        .rev()
        .find(|m| m.role == role)
        .map(|m| m.content.as_str())
}

// ---- mock/calc ----------------------------------------------------------------------------

/// Longest expression the evaluator accepts, in bytes.
const MAX_EXPR_LEN: usize = 256;
/// Deepest parenthesis / unary nesting.
const MAX_DEPTH: u32 = 32;
/// Most candidate expressions tried in one message.
const MAX_CANDIDATES: usize = 64;

/// Finds the first run of arithmetic characters with an operator in it that evaluates.
fn find_arithmetic(text: &str) -> Option<f64> {
    let is_expr_char = |c: char| {
        c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | '*' | '/' | '(' | ')' | ' ' | '×' | '÷')
    };
    text.split(|c: char| !is_expr_char(c))
        .map(|s| s.trim().trim_end_matches(['.', ' ']))
        .filter(|s| s.len() <= MAX_EXPR_LEN && s.bytes().any(|b| b.is_ascii_digit()))
        .filter(|s| {
            // An operator after the first character: "-5" alone is a number, not a question.
            s.char_indices()
                .skip(1)
                .any(|(_, c)| matches!(c, '+' | '-' | '*' | '/' | '×' | '÷'))
        })
        .take(MAX_CANDIDATES)
        .find_map(|s| Calc::new(s).evaluate())
}

/// Renders a result: integers without a fraction, others with up to six decimals.
fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ;
/// factor := ('-'|'+') factor | number | '(' expr ')'
struct Calc<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    depth: u32,
}

impl<'a> Calc<'a> {
    fn new(text: &'a str) -> Self {
        Calc {
            chars: text.chars().peekable(),
            depth: 0,
        }
    }

    fn evaluate(mut self) -> Option<f64> {
        let value = self.expr()?;
        self.skip_spaces();
        (self.chars.peek().is_none() && value.is_finite()).then_some(value)
    }

    fn skip_spaces(&mut self) {
        while self.chars.next_if_eq(&' ').is_some() {}
    }

    fn peek_op(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.peek().copied()
    }

    fn expr(&mut self) -> Option<f64> {
        let mut value = self.term()?;
        loop {
            match self.peek_op() {
                Some('+') => {
                    self.chars.next();
                    value += self.term()?;
                }
                Some('-') => {
                    self.chars.next();
                    value -= self.term()?;
                }
                _ => return Some(value),
            }
        }
    }

    fn term(&mut self) -> Option<f64> {
        let mut value = self.factor()?;
        loop {
            match self.peek_op() {
                Some('*' | '×') => {
                    self.chars.next();
                    value *= self.factor()?;
                }
                Some('/' | '÷') => {
                    self.chars.next();
                    let divisor = self.factor()?;
                    if divisor == 0.0 {
                        return None;
                    }
                    value /= divisor;
                }
                _ => return Some(value),
            }
        }
    }

    fn factor(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let value = match self.peek_op()? {
            '-' => {
                self.chars.next();
                -self.factor()?
            }
            '+' => {
                self.chars.next();
                self.factor()?
            }
            '(' => {
                self.chars.next();
                let inner = self.expr()?;
                (self.peek_op()? == ')').then_some(())?;
                self.chars.next();
                inner
            }
            _ => self.number()?,
        };
        self.depth -= 1;
        Some(value)
    }

    fn number(&mut self) -> Option<f64> {
        let mut text = String::new();
        while let Some(c) = self.chars.next_if(|c| c.is_ascii_digit() || *c == '.') {
            text.push(c);
        }
        if text.is_empty() || text.starts_with('.') || text.ends_with('.') {
            return None;
        }
        text.parse().ok()
    }
}

// ---- mock/choice --------------------------------------------------------------------------

/// Picks one of the option letters (`A) …` lines) by an FNV-1a hash of the prompt.
fn choose(prompt: &str) -> String {
    let letters: Vec<char> = prompt
        .lines()
        .filter_map(|line| {
            let mut chars = line.trim_start().chars();
            let letter = chars.next()?;
            (letter.is_ascii_uppercase() && chars.next() == Some(')')).then_some(letter)
        })
        .take(26)
        .collect();
    if letters.is_empty() {
        return "I don't know.".to_owned();
    }
    let hash = prompt.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let index = (hash % letters.len() as u64) as usize;
    format!("ANSWER: {}", letters.get(index).copied().unwrap_or('A'))
}

// ---- mock/agent ---------------------------------------------------------------------------

fn agent(request: &GenerateRequest, last_user: &str) -> (Message, &'static str) {
    if let Some(result) = last_content(&request.messages, Role::Tool) {
        let first = result.lines().next().unwrap_or_default().trim();
        return (Message::assistant(format!("ANSWER: {first}")), "stop");
    }
    if request.tools.is_empty() {
        return (Message::assistant("I don't know."), "stop");
    }
    let cmd = last_user
        .split('`')
        .nth(1)
        .map(str::trim)
        .filter(|c| !c.is_empty() && last_user.matches('`').count() >= 2)
        .unwrap_or("echo hello");
    let turn = request
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .count();
    let mut message = Message::assistant(String::new());
    message.tool_calls.push(ToolCall {
        id: format!("call_{turn}"),
        name: "bash".to_owned(),
        arguments: serde_json::json!({ "cmd": cmd }),
    });
    (message, "tool_calls")
}

// ---- mock/judge ---------------------------------------------------------------------------

fn judge(prompt: &str) -> String {
    let answer = section(prompt, "[Answer]:");
    let criterion = section(prompt, "[Criterion]:")
        .and_then(|c| c.lines().map(str::trim).find(|l| !l.is_empty()));
    let grade = match (answer, criterion) {
        (Some(answer), Some(criterion))
            if answer.to_lowercase().contains(&criterion.to_lowercase()) =>
        {
            'C'
        }
        _ => 'I',
    };
    format!("GRADE: {grade}")
}

/// The text after the line starting with `marker`, up to the next `[Name]:` line or blank line
/// after some text (so instructions that follow the data are not part of it).
fn section<'a>(prompt: &'a str, marker: &str) -> Option<&'a str> {
    let mut offset = 0;
    let mut start = None;
    for line in prompt.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(begin) = start {
            let so_far = prompt.get(begin..offset)?.trim();
            if is_marker_line(trimmed) || (trimmed.is_empty() && !so_far.is_empty()) {
                return Some(so_far);
            }
        } else if let Some(rest) = trimmed.strip_prefix(marker) {
            start = Some(offset + (line.len() - rest.len()));
        }
        offset += line.len();
    }
    Some(prompt.get(start?..)?.trim())
}

fn is_marker_line(line: &str) -> bool {
    line.starts_with('[')
        && line
            .find("]:")
            .is_some_and(|end| end > 1 && end < 40 && !line[1..end].contains(['[', ']']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(kind: MockKind, text: &str) -> String {
        let request = GenerateRequest {
            messages: vec![Message::user(text)],
            tools: Vec::new(),
            max_tokens: None,
            temperature: None,
        };
        kind.answer(&request).0.content
    }

    #[test]
    fn calc_answers_arithmetic_only() {
        let cases = [
            ("What is 12 + 7 * 3?", "The answer is 33."),
            ("In 2024, what is (2+3)*4?", "The answer is 20."),
            ("Compute -3 - -4.", "The answer is 1."),
            ("What is 7 / 2?", "The answer is 3.5."),
            ("What is 1 / 3?", "The answer is 0.333333."),
            ("What is 6 × 7?", "The answer is 42."),
            ("What is 1 / 0?", "I don't know."),
            ("What is the capital of France?", "I don't know."),
            ("Call 555-1234 now", "The answer is -679."),
        ];
        for (question, answer) in cases {
            assert_eq!(ask(MockKind::Calc, question), answer, "{question}");
        }
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(ask(MockKind::Calc, &format!("{deep} + 1")), "I don't know.");
        let long = format!("1{}", " + 1".repeat(200));
        assert_eq!(ask(MockKind::Calc, &long), "I don't know.");
    }

    #[test]
    fn choice_is_deterministic_and_picks_an_offered_letter() {
        let prompt = "Which?\nA) one\nB) two\nC) three";
        let first = ask(MockKind::Choice, prompt);
        assert_eq!(first, ask(MockKind::Choice, prompt));
        assert!(["ANSWER: A", "ANSWER: B", "ANSWER: C"].contains(&first.as_str()));
        let letters: std::collections::BTreeSet<String> = (0..40)
            .map(|i| ask(MockKind::Choice, &format!("Q{i}\nA) x\nB) y\nC) z\nD) w")))
            .collect();
        assert!(letters.len() > 1, "the hash always picks the same letter");
        assert_eq!(ask(MockKind::Choice, "no options"), "I don't know.");
    }

    #[test]
    fn judge_compares_case_insensitively() {
        let p =
            "Grade this.\n[Question]: 2+2?\n[Answer]: It is Four.\n[Criterion]: four\nReply GRADE.";
        assert_eq!(ask(MockKind::Judge, p), "GRADE: C");
        let p =
            "[Answer]: line one\nsays FOUR\n\n[Criterion]:\n  four  \n\nReply with GRADE: C or I.";
        assert_eq!(ask(MockKind::Judge, p), "GRADE: C");
        let p = "[Answer]: five\n[Criterion]: four";
        assert_eq!(ask(MockKind::Judge, p), "GRADE: I");
        assert_eq!(ask(MockKind::Judge, "[Answer]: x"), "GRADE: I");
        assert_eq!(
            section("[Answer]: a\nb\n[Criterion]: c", "[Answer]:"),
            Some("a\nb")
        );
        assert_eq!(
            ask(MockKind::Judge, "[Answer]: four\n[Criterion]:"),
            "GRADE: I"
        );
    }

    #[test]
    fn options_and_names_are_checked() {
        assert_eq!(
            MockProvider::new("calc@latency=50ms").unwrap().latency,
            Duration::from_millis(50)
        );
        assert_eq!(
            MockProvider::new("echo@latency=2s").unwrap().latency,
            Duration::from_secs(2)
        );
        let err = MockProvider::new("nope").unwrap_err().to_string();
        assert!(
            err.contains("mock/calc") && err.contains("mock/judge"),
            "{err}"
        );
        assert!(MockProvider::new("calc@speed=1").is_err());
        assert!(MockProvider::new("calc@latency=99999999999s").is_err());
    }
}
