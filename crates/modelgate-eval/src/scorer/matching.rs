//! The text scorers: `exact`, `includes`, `match` and `choice`.

use super::numbers::{numbers_in, parse_number};
use super::{MatchPosition, Score, ScoreError, Scorer, clip};
use crate::BoxFuture;
use crate::solver::TaskState;

/// Collapses runs of whitespace to one space and trims.
pub fn normalize_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `exact`: the whitespace-normalised answer equals a target.
#[derive(Debug, Clone)]
pub struct Exact {
    /// Compare case-insensitively.
    pub ignore_case: bool,
}

impl Exact {
    fn value(&self, state: &TaskState) -> Score {
        let fold = |s: &str| {
            let n = normalize_whitespace(s);
            if self.ignore_case {
                n.to_lowercase()
            } else {
                n
            }
        };
        let answer = fold(&state.output);
        let hit = state.sample.target.iter().any(|t| fold(t) == answer);
        score(
            "exact",
            hit,
            Some(clip(&normalize_whitespace(&state.output))),
        )
    }
}

impl Scorer for Exact {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(async move { Ok(self.value(state)) })
    }
}

/// `includes`: the answer contains a (non-empty) target.
#[derive(Debug, Clone)]
pub struct Includes {
    /// Compare case-insensitively.
    pub ignore_case: bool,
}

impl Includes {
    fn value(&self, state: &TaskState) -> Score {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_lowercase()
            } else {
                s.to_owned()
            }
        };
        let output = fold(&state.output);
        let found = state
            .sample
            .target
            .iter()
            .find(|t| !t.trim().is_empty() && output.contains(&fold(t)));
        score("includes", found.is_some(), found.map(|t| clip(t)))
    }
}

impl Scorer for Includes {
    fn name(&self) -> &'static str {
        "includes"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(async move { Ok(self.value(state)) })
    }
}

/// `match`: a target at the chosen position; numeric targets compare as numbers, textual ones
/// word by word, case-insensitively, with punctuation around words ignored.
#[derive(Debug, Clone)]
pub struct Match {
    /// Where to look.
    pub position: MatchPosition,
}

/// Words of `s`, lower-cased, with punctuation trimmed from both ends of each.
fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

impl Match {
    /// Whether `target` matches `output`, and the part of the output that was compared.
    pub fn check(&self, output: &str, target: &str) -> (bool, Option<String>) {
        if let Some(want) = parse_number(target) {
            let found = numbers_in(output);
            let pick = |i: usize| found.get(i).map(|(r, v)| (output[r.clone()].to_owned(), v));
            let picked = match self.position {
                MatchPosition::First => pick(0),
                MatchPosition::Last => found.len().checked_sub(1).and_then(pick),
                MatchPosition::Any => {
                    return match found.iter().find(|(_, v)| *v == want) {
                        Some((r, _)) => (true, Some(output[r.clone()].to_owned())),
                        None => (false, None),
                    };
                }
            };
            return match picked {
                Some((text, v)) => (*v == want, Some(text)),
                None => (false, None),
            };
        }
        let want = words(target);
        if want.is_empty() {
            return (false, None);
        }
        let have = words(output);
        let k = want.len();
        let picked = match self.position {
            MatchPosition::First => have.get(..k),
            MatchPosition::Last => have.len().checked_sub(k).and_then(|s| have.get(s..)),
            MatchPosition::Any => {
                return if have.windows(k).any(|w| w == want.as_slice()) {
                    (true, Some(want.join(" ")))
                } else {
                    (false, None)
                };
            }
        };
        match picked {
            Some(words) => (words == want.as_slice(), Some(words.join(" "))),
            None => (false, None),
        }
    }

    fn value(&self, state: &TaskState) -> Score {
        let mut first_answer = None;
        for target in &state.sample.target {
            let (hit, answer) = self.check(&state.output, target);
            if hit {
                return score("match", true, answer.as_deref().map(clip));
            }
            if first_answer.is_none() {
                first_answer = answer;
            }
        }
        score("match", false, first_answer.as_deref().map(clip))
    }
}

impl Scorer for Match {
    fn name(&self) -> &'static str {
        "match"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(async move { Ok(self.value(state)) })
    }
}

/// `choice`: the letter the model chose equals the target letter.
#[derive(Debug, Clone, Copy)]
pub struct Choice;

/// The letter a target names: a letter (`B`, `b`, `(B)`), else a 0-based index, else the text
/// of one of the choices.
pub fn target_letter(target: &str, choices: &[String]) -> Option<char> {
    let t = target.trim();
    let n = choices.len().min(crate::solver::MAX_CHOICES);
    let letter_at = |i: usize| (i < n).then(|| char::from(b'A' + u8::try_from(i).unwrap_or(0)));
    let bare = t.trim_matches(|c: char| matches!(c, '(' | ')' | '.'));
    let mut chars = bare.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphabetic()
    {
        let index = u32::from(c.to_ascii_uppercase()) - u32::from('A');
        return usize::try_from(index).ok().and_then(letter_at);
    }
    if let Ok(i) = t.parse::<usize>() {
        return letter_at(i);
    }
    choices
        .iter()
        .position(|c| c.trim() == t)
        .and_then(letter_at)
}

impl Choice {
    fn value(state: &TaskState) -> Score {
        let Some(chosen) = state.choice else {
            return Score {
                scorer: "choice".into(),
                value: 0.0,
                answer: None,
                explanation: Some("no choice letter was read from the answer".into()),
            };
        };
        let hit = state
            .sample
            .target
            .iter()
            .any(|t| target_letter(t, &state.sample.choices) == Some(chosen));
        score("choice", hit, Some(chosen.to_string()))
    }
}

impl Scorer for Choice {
    fn name(&self) -> &'static str {
        "choice"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(async move { Ok(Choice::value(state)) })
    }
}

fn score(name: &str, hit: bool, answer: Option<String>) -> Score {
    Score {
        scorer: name.to_owned(),
        value: if hit { 1.0 } else { 0.0 },
        answer,
        explanation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_letters() {
        let choices: Vec<String> = ["red", "green", "blue"].map(String::from).to_vec();
        assert_eq!(target_letter("B", &choices), Some('B'));
        assert_eq!(target_letter("(c)", &choices), Some('C'));
        assert_eq!(target_letter("D", &choices), None);
        assert_eq!(target_letter("0", &choices), Some('A'));
        assert_eq!(target_letter("3", &choices), None);
        assert_eq!(target_letter("blue", &choices), Some('C'));
        assert_eq!(target_letter("purple", &choices), None);
    }
}
