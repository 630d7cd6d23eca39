//! The `generate` and `multiple_choice` steps, and the bounded model call every step uses.

use crate::message::{Message, Role, ToolDef};
use crate::provider::{GenerateRequest, ProviderError};

use super::{GenerateStep, MultipleChoiceStep, SolveContext, SolveError, TaskState, template};

/// Most options a multiple-choice question may have (one letter each).
pub const MAX_CHOICES: usize = 26;

/// The template used when a `multiple_choice` step gives none.
pub const MULTIPLE_CHOICE_TEMPLATE: &str = "Answer the following multiple choice question. The \
last line of your response must be of the form \"ANSWER: X\" (without quotes) where X is one of \
{letters}.\n\n{question}\n\n{choices}";

/// Makes one model call on the conversation, appends the answer and accounts for it. Refuses
/// (setting `limit_hit`) when the sample's token budget is spent or the answer would exceed
/// `max_messages`. Returns whether the call was made.
pub(super) async fn call_model(
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
    max_messages: u32,
    tools: &[ToolDef],
    max_tokens: Option<u32>,
    temperature: Option<f64>,
) -> Result<bool, SolveError> {
    if token_budget_spent(state, ctx) {
        return Ok(false);
    }
    if state.messages.len() >= max_messages as usize {
        state.limit_hit = Some(format!("max_messages ({max_messages})"));
        return Ok(false);
    }
    let request = GenerateRequest {
        messages: state.messages.clone(),
        tools: tools.to_vec(),
        max_tokens: max_tokens.or(ctx.limits.max_tokens),
        temperature,
    };
    state.model_calls += 1;
    let generation = match ctx.provider.generate(&request).await {
        Ok(g) => g,
        Err(e) => {
            if let ProviderError::RetriesExhausted { retries, .. } = &e {
                state.retries.extend(retries.iter().cloned());
            }
            return Err(e.into());
        }
    };
    state.usage.input_tokens = state
        .usage
        .input_tokens
        .saturating_add(generation.usage.input_tokens);
    state.usage.output_tokens = state
        .usage
        .output_tokens
        .saturating_add(generation.usage.output_tokens);
    state.retries.extend(generation.retries);
    let mut message = generation.message;
    // Whatever role the provider reported, this is the model speaking.
    message.role = Role::Assistant;
    message.tool_call_id = None;
    state.output.clone_from(&message.content);
    state.messages.push(message);
    token_budget_spent(state, ctx);
    Ok(true)
}

/// Whether the sample has used its token budget; sets `limit_hit` when it has.
fn token_budget_spent(state: &mut TaskState, ctx: &SolveContext<'_>) -> bool {
    let Some(max) = ctx.limits.max_total_tokens else {
        return false;
    };
    let total = state
        .usage
        .input_tokens
        .saturating_add(state.usage.output_tokens);
    if total < max {
        return false;
    }
    state.limit_hit = Some(format!("max_total_tokens ({max}): {total} tokens used"));
    true
}

/// The `generate` step.
pub(super) async fn generate(
    step: &GenerateStep,
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
) -> Result<(), SolveError> {
    let _ = call_model(
        state,
        ctx,
        ctx.limits.max_messages,
        &[],
        step.max_tokens,
        step.temperature,
    )
    .await?;
    Ok(())
}

/// The `multiple_choice` step.
pub(super) async fn multiple_choice(
    step: &MultipleChoiceStep,
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
) -> Result<(), SolveError> {
    let sample = state.sample.clone();
    let choices = &sample.choices;
    if choices.is_empty() {
        return Err(SolveError::Invalid(format!(
            "sample {} (line {}): multiple_choice needs the sample's choices, and it has none",
            state.sample.id, state.sample.line
        )));
    }
    if choices.len() > MAX_CHOICES {
        return Err(SolveError::Invalid(format!(
            "sample {} (line {}): {} choices; multiple_choice takes at most {MAX_CHOICES}",
            state.sample.id,
            state.sample.line,
            choices.len()
        )));
    }
    let letters: Vec<char> = ('A'..='Z').take(choices.len()).collect();
    let listed: Vec<String> = letters
        .iter()
        .zip(choices)
        .map(|(l, c)| format!("{l}) {c}"))
        .collect();
    let listed = listed.join("\n");
    let letter_list = letters
        .iter()
        .map(char::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let last_user = state.messages.iter().rposition(|m| m.role == Role::User);
    let question = last_user.map_or_else(
        || state.sample.input_text().to_owned(),
        |i| state.messages[i].content.clone(),
    );
    let tpl = step.template.as_deref().unwrap_or(MULTIPLE_CHOICE_TEMPLATE);
    let prompt = template::substitute(tpl, |name| match name {
        "question" => Some(question.as_str().into()),
        "choices" => Some(listed.as_str().into()),
        "letters" => Some(letter_list.as_str().into()),
        other => template::sample_field(&sample, other),
    });
    match last_user {
        Some(i) => state.messages[i].content = prompt,
        None => state.messages.push(Message::user(prompt)),
    }
    state.choice = None;
    if call_model(state, ctx, ctx.limits.max_messages, &[], None, None).await? {
        state.choice = parse_choice(&state.output, choices.len());
    }
    Ok(())
}

/// Reads the chosen letter (among the first `n` letters) from a model's answer: the last
/// `ANSWER: X` / `answer is (X)`, else the last line that is a lone letter (`B`, `(B)`, `B)`,
/// `**B**`), else the only parenthesised letter `(X)` when exactly one distinct one occurs.
pub fn parse_choice(text: &str, n: usize) -> Option<char> {
    let valid = |c: char| {
        let c = c.to_ascii_uppercase();
        c.is_ascii_uppercase() && ((c as usize) - ('A' as usize)) < n.min(MAX_CHOICES)
    };
    answer_marker(text, &valid)
        .or_else(|| lone_letter_line(text, &valid))
        .or_else(|| single_parenthesised(text, &valid))
        .map(|c| c.to_ascii_uppercase())
}

fn answer_marker(text: &str, valid: &impl Fn(char) -> bool) -> Option<char> {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `text`.
    let lower = text.to_ascii_lowercase();
    let mut found = None;
    let mut from = 0;
    while let Some(at) = lower[from..].find("answer") {
        let start = from + at;
        from = start + "answer".len();
        // "answer" must start a word ("the answer", not "reanswer").
        if lower[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        // "answer", "answers", "answered": skip the rest of the word.
        let mut rest = text[from..].trim_start_matches(|c: char| c.is_ascii_alphabetic());
        // Skip separators and filler: "answer: ", "answer is ", "answer would be **(".
        loop {
            let before = rest.len();
            rest = rest.trim_start_matches([' ', '\t', ':', '*', '(', '[', '"', '\'', '=', '-']);
            for filler in [
                "is", "would be", "will be", "be", "option", "choice", "letter",
            ] {
                let Some(head) = rest.get(..filler.len()) else {
                    continue;
                };
                let tail = &rest[filler.len()..];
                if head.eq_ignore_ascii_case(filler)
                    && !tail.starts_with(|c: char| c.is_ascii_alphabetic())
                {
                    rest = tail;
                }
            }
            if rest.len() == before {
                break;
            }
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { continue };
        let next = chars.next();
        // An upper-case letter must end its word; a lower-case one must end the sentence
        // ("the answer is c."), so that "the answer is a bit long" reads nothing.
        let ends = if c.is_ascii_uppercase() {
            !next.is_some_and(char::is_alphanumeric)
        } else {
            matches!(next, None | Some('.' | ')' | ']' | '*' | '\n' | '\r'))
        };
        if valid(c) && ends {
            found = Some(c);
        }
    }
    found
}

fn lone_letter_line(text: &str, valid: &impl Fn(char) -> bool) -> Option<char> {
    text.lines().rev().find_map(|line| {
        let t = line.trim().trim_matches(|c: char| {
            matches!(
                c,
                '(' | ')' | '[' | ']' | '*' | '.' | ':' | '"' | '\'' | '`'
            ) || c.is_whitespace()
        });
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() && valid(c) => Some(c),
            _ => None,
        }
    })
}

fn single_parenthesised(text: &str, valid: &impl Fn(char) -> bool) -> Option<char> {
    let bytes = text.as_bytes();
    let mut seen: Option<char> = None;
    for w in bytes.windows(3) {
        if w[0] == b'(' && w[2] == b')' && w[1].is_ascii_uppercase() && valid(char::from(w[1])) {
            let c = char::from(w[1]);
            match seen {
                Some(s) if s != c => return None,
                _ => seen = Some(c),
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::parse_choice;

    #[test]
    fn reads_the_letter_in_the_usual_shapes() {
        for (text, want) in [
            ("Reasoning...\nANSWER: B", Some('B')),
            ("The answer is (C).", Some('C')),
            ("the answer is c", Some('C')),
            ("My answer: **D**", Some('D')),
            ("Answer: A\nWait, actually ANSWER: B", Some('B')),
            ("I think so.\nB\n", Some('B')),
            ("(B)", Some('B')),
            ("Both (A) and (B) look plausible", None),
            ("Option (C) is right, (C) again", Some('C')),
            ("ANSWER: E", None), // only four options
            ("Answering is hard. A", None),
            ("no idea", None),
            ("", None),
            ("ANSWER: Because", None),
            ("The answer is a bit long", None),
            ("The answer is a.", Some('A')),
        ] {
            assert_eq!(parse_choice(text, 4), want, "{text:?}");
        }
    }
}
