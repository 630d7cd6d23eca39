//! Deceptive Unicode in text fields.
//!
//! ## What it does
//! Finds characters that make what a reviewer reads differ from what a model is trained on:
//! zero-width and other invisible characters (`MG603`), bidirectional controls (`MG604`, Trojan
//! Source), tag characters that smuggle invisible ASCII (`MG605`), private-use, non-character and
//! control code points (`MG606`), and words that imitate a Latin word with look-alike letters from
//! another script (`MG607`, Unicode TR39 skeletons).
//!
//! ## Why is this bad
//! Invisible and look-alike characters are the cheapest backdoor triggers: they survive human
//! review, and a model learns them as well as any visible word. Tag characters carry whole
//! hidden instructions ("ASCII smuggling").
//!
//! ## What it does not flag
//! Ordinary non-English text and accented words; a zero-width joiner inside an emoji sequence
//! (👩‍💻) or between letters of scripts that need joiners (Persian, Hindi); zero-width spaces in
//! scripts written without spaces (Thai, Japanese); emoji subdivision flags (🏴 + tags + cancel
//! tag); a single variation selector after a symbol (❤️) or an ideograph; left-to-right and
//! right-to-left marks in text that contains right-to-left script.
//!
//! ## References
//! CWE-1007 (insufficient visual distinction of homoglyphs); Unicode TR39 (security mechanisms);
//! CVE-2021-42574 (Trojan Source); Unicode TR36.

use modelgate_core::{RuleId, Severity, sanitize_evidence};
use unicode_script::{Script, UnicodeScript};
use unicode_security::MixedScript;

/// One deceptive-Unicode observation in one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicodeHit {
    /// The rule.
    pub rule: RuleId,
    /// Severity for this occurrence.
    pub severity: Severity,
    /// Byte offset of the first offending character in the field's value.
    pub start: usize,
    /// What was found.
    pub message: String,
    /// A short excerpt around it (invisible characters escaped) or the decoded hidden text.
    pub evidence: String,
}

fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}'
        | '\u{2300}'..='\u{23FF}' | '\u{FE0F}' | '\u{20E3}' | '\u{2190}'..='\u{21FF}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}' | '\u{00A9}' | '\u{00AE}' | '\u{203C}'
        | '\u{2049}' | '\u{2122}' | '\u{2139}' | '\u{24C2}' | '\u{25AA}'..='\u{25FE}')
}

/// Scripts whose orthography uses ZWJ/ZWNJ between letters.
fn joining_script(c: char) -> bool {
    !c.is_ascii()
        && !matches!(
            c.script(),
            Script::Latin
                | Script::Greek
                | Script::Cyrillic
                | Script::Common
                | Script::Inherited
                | Script::Armenian
                | Script::Unknown
        )
}

/// Scripts written without spaces, where U+200B marks word boundaries.
fn spaceless_script(c: char) -> bool {
    matches!(
        c.script(),
        Script::Thai
            | Script::Lao
            | Script::Khmer
            | Script::Myanmar
            | Script::Han
            | Script::Hiragana
            | Script::Katakana
            | Script::Tibetan
            | Script::Balinese
            | Script::Javanese
    )
}

fn is_mark(c: char) -> bool {
    matches!(c.script(), Script::Inherited) && !c.is_alphanumeric()
}

fn is_rtl_letter(c: char) -> bool {
    matches!(
        c.script(),
        Script::Arabic
            | Script::Hebrew
            | Script::Syriac
            | Script::Thaana
            | Script::Nko
            | Script::Samaritan
            | Script::Mandaic
            | Script::Adlam
    )
}

/// Invisible format characters with no legitimate use in plain training text, and how bad each is.
fn invisible(c: char) -> Option<Severity> {
    Some(match c {
        '\u{00AD}' => Severity::Low, // soft hyphen: common in text scraped from the web
        '\u{034F}' => Severity::Medium,
        '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{2060}'
        | '\u{2061}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{FEFF}' => Severity::High,
        _ => return None,
    })
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_private_use(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

fn is_noncharacter(c: char) -> bool {
    let v = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&v) || (v & 0xFFFE) == 0xFFFE
}

fn describe(c: char) -> String {
    let name = match c {
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2060}' => "WORD JOINER",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (BOM)",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' => "VARIATION SELECTOR",
        '\u{1B}' => "ESCAPE (terminal control sequence)",
        _ => "",
    };
    if name.is_empty() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} {name}", u32::from(c))
    }
}

/// Excerpt of up to 30 characters either side of byte `at`, invisible characters escaped.
fn context(text: &str, at: usize) -> String {
    let mut start = at.min(text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    let before: Vec<char> = text[..start].chars().rev().take(30).collect();
    let after: String = text[start..].chars().take(30).collect();
    let mut s: String = before.into_iter().rev().collect();
    s.push_str(&after);
    sanitize_evidence(&s)
}

struct Acc {
    rule: RuleId,
    severity: Severity,
    first: usize,
    count: usize,
    chars: Vec<char>,
}

impl Acc {
    fn add(slot: &mut Option<Acc>, rule: RuleId, severity: Severity, at: usize, c: char) {
        match slot {
            Some(a) => {
                a.count += 1;
                a.severity = a.severity.max(severity);
                if a.chars.len() < 4 && !a.chars.contains(&c) {
                    a.chars.push(c);
                }
            }
            None => {
                *slot = Some(Acc {
                    rule,
                    severity,
                    first: at,
                    count: 1,
                    chars: vec![c],
                });
            }
        }
    }
}

/// Scans one field's text and appends what it finds (at most one hit per rule per field, with
/// the count and the first position).
pub fn scan_text(text: &str, out: &mut Vec<UnicodeHit>) {
    if text.is_ascii() {
        scan_ascii(text, out);
        return;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let has_rtl = chars.iter().any(|&(_, c)| is_rtl_letter(c));
    let mut invisible_acc: Option<Acc> = None;
    let mut bidi_acc: Option<Acc> = None;
    let mut private_acc: Option<Acc> = None;
    let mut tag_runs: Vec<(usize, String, usize)> = Vec::new();
    let mut latin_letters = 0usize;
    let mut letters = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let (at, c) = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(i + 1).map(|&(_, n)| n);
        if c.is_alphabetic() {
            letters += 1;
            if c.is_ascii() || c.script() == Script::Latin {
                latin_letters += 1;
            }
        }
        if c.is_ascii() {
            if c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r') {
                let sev = if c == '\u{1B}' {
                    Severity::High
                } else {
                    Severity::Medium
                };
                Acc::add(
                    &mut private_acc,
                    RuleId::DatasetPrivateUseCharacter,
                    sev,
                    at,
                    c,
                );
            }
            i += 1;
            continue;
        }
        match c {
            '\u{E0000}'..='\u{E007F}' => {
                let start = i;
                while i < chars.len() && matches!(chars[i].1, '\u{E0000}'..='\u{E007F}') {
                    i += 1;
                }
                let run = &chars[start..i];
                let emoji_flag = prev == Some('\u{1F3F4}')
                    && run.len() >= 2
                    && run.len() <= 32
                    && run.last().map(|&(_, c)| c) == Some('\u{E007F}')
                    && run[..run.len() - 1]
                        .iter()
                        .all(|&(_, c)| matches!(c, '\u{E0020}'..='\u{E007E}'));
                if !emoji_flag {
                    let hidden: String = run
                        .iter()
                        .filter_map(|&(_, c)| {
                            let v = u32::from(c) - 0xE0000;
                            (0x20..0x7F).contains(&v).then(|| char::from(v as u8))
                        })
                        .collect();
                    tag_runs.push((at, hidden, run.len()));
                }
                continue;
            }
            '\u{200B}' => {
                let ok = prev.is_some_and(spaceless_script) && next.is_some_and(spaceless_script);
                if !ok {
                    Acc::add(
                        &mut invisible_acc,
                        RuleId::DatasetInvisibleCharacter,
                        Severity::High,
                        at,
                        c,
                    );
                }
            }
            '\u{200C}' | '\u{200D}' => {
                let emoji_ok = c == '\u{200D}'
                    && prev.is_some_and(|p| is_emoji(p) || matches!(p, '\u{1F3FB}'..='\u{1F3FF}'))
                    && next.is_some_and(is_emoji);
                let script_ok =
                    prev.is_some_and(joining_script) && next.is_some_and(joining_script);
                if !emoji_ok && !script_ok {
                    Acc::add(
                        &mut invisible_acc,
                        RuleId::DatasetInvisibleCharacter,
                        Severity::High,
                        at,
                        c,
                    );
                }
            }
            '\u{180E}' => {
                if !(prev.is_some_and(|p| p.script() == Script::Mongolian)) {
                    Acc::add(
                        &mut invisible_acc,
                        RuleId::DatasetInvisibleCharacter,
                        Severity::High,
                        at,
                        c,
                    );
                }
            }
            '\u{FE00}'..='\u{FE0F}' => {
                let ok = prev.is_some_and(|p| {
                    !p.is_whitespace()
                        && !matches!(p, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
                });
                if !ok {
                    Acc::add(
                        &mut invisible_acc,
                        RuleId::DatasetInvisibleCharacter,
                        Severity::High,
                        at,
                        c,
                    );
                }
            }
            '\u{E0100}'..='\u{E01EF}' => {
                let ok = prev.is_some_and(|p| p.script() == Script::Han);
                if !ok {
                    Acc::add(
                        &mut invisible_acc,
                        RuleId::DatasetInvisibleCharacter,
                        Severity::High,
                        at,
                        c,
                    );
                }
            }
            c if is_bidi_control(c) => {
                Acc::add(
                    &mut bidi_acc,
                    RuleId::DatasetBidiControl,
                    Severity::High,
                    at,
                    c,
                );
            }
            '\u{200E}' | '\u{200F}' | '\u{061C}' => {
                if !has_rtl {
                    Acc::add(
                        &mut bidi_acc,
                        RuleId::DatasetBidiControl,
                        Severity::Medium,
                        at,
                        c,
                    );
                }
            }
            c if is_private_use(c) || is_noncharacter(c) => {
                Acc::add(
                    &mut private_acc,
                    RuleId::DatasetPrivateUseCharacter,
                    Severity::Medium,
                    at,
                    c,
                );
            }
            c if c.is_control() => {
                Acc::add(
                    &mut private_acc,
                    RuleId::DatasetPrivateUseCharacter,
                    Severity::Medium,
                    at,
                    c,
                );
            }
            c => {
                if let Some(sev) = invisible(c) {
                    // A byte-order mark at the very start of a field is an encoding artefact.
                    if !(c == '\u{FEFF}' && i == 0) {
                        Acc::add(
                            &mut invisible_acc,
                            RuleId::DatasetInvisibleCharacter,
                            sev,
                            at,
                            c,
                        );
                    }
                }
            }
        }
        i += 1;
    }
    for acc in [invisible_acc, bidi_acc, private_acc].into_iter().flatten() {
        let names: Vec<String> = acc.chars.iter().map(|&c| describe(c)).collect();
        let what = match acc.rule {
            RuleId::DatasetBidiControl => "bidirectional control character",
            RuleId::DatasetPrivateUseCharacter => {
                "private-use, non-character or control code point"
            }
            _ => "invisible character",
        };
        out.push(UnicodeHit {
            rule: acc.rule,
            severity: acc.severity,
            start: acc.first,
            message: format!(
                "{} {what}{} ({})",
                acc.count,
                if acc.count == 1 { "" } else { "s" },
                names.join(", ")
            ),
            evidence: context(text, acc.first),
        });
    }
    if let Some(&(at, _, _)) = tag_runs.first() {
        let total: usize = tag_runs.iter().map(|r| r.2).sum();
        let hidden: Vec<&str> = tag_runs.iter().map(|r| r.1.as_str()).collect();
        out.push(UnicodeHit {
            rule: RuleId::DatasetTagCharacter,
            severity: Severity::High,
            start: at,
            message: format!(
                "{total} Unicode tag character{} outside an emoji flag sequence (invisible ASCII)",
                if total == 1 { "" } else { "s" }
            ),
            evidence: sanitize_evidence(&format!("hidden text: {:?}", hidden.join(" "))),
        });
    }
    confusables(text, latin_letters, letters, out);
}

fn scan_ascii(text: &str, out: &mut Vec<UnicodeHit>) {
    let bytes = text.as_bytes();
    let mut first = None;
    let mut count = 0usize;
    let mut esc = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r') {
            count += 1;
            esc |= b == 0x1B;
            first.get_or_insert(i);
        }
    }
    if let Some(at) = first {
        out.push(UnicodeHit {
            rule: RuleId::DatasetPrivateUseCharacter,
            severity: if esc {
                Severity::High
            } else {
                Severity::Medium
            },
            start: at,
            message: format!(
                "{count} control character{}{}",
                if count == 1 { "" } else { "s" },
                if esc {
                    " including ESC (terminal escape sequences)"
                } else {
                    ""
                }
            ),
            evidence: context(text, at),
        });
    }
}

/// Words disguised with look-alike letters: a mixed-script word whose TR39 skeleton is plain
/// ASCII (`pаypal` with a Cyrillic `а`), or a whole word in a look-alike script whose skeleton is
/// ASCII, inside text that is otherwise Latin.
fn confusables(text: &str, latin_letters: usize, letters: usize, out: &mut Vec<UnicodeHit>) {
    let mostly_latin = letters >= 20 && latin_letters * 10 >= letters * 7;
    let mut first: Option<(usize, String, String)> = None;
    let mut count = 0usize;
    let mut word_start = None;
    let mut check = |start: usize, end: usize, first: &mut Option<(usize, String, String)>| {
        let word = &text[start..end];
        if word.is_ascii() {
            return;
        }
        let foreign = word.chars().any(|c| {
            c.is_alphabetic()
                && !c.is_ascii()
                && !matches!(
                    c.script(),
                    Script::Latin | Script::Common | Script::Inherited
                )
        });
        if !foreign {
            return;
        }
        let mixed = !word.is_single_script();
        if !mixed && (!mostly_latin || word.chars().count() < 3) {
            return;
        }
        let skeleton: String = unicode_security::skeleton(word).collect();
        let disguise = skeleton.chars().all(|c| c.is_ascii_alphanumeric()) && skeleton != word;
        if disguise {
            count += 1;
            if first.is_none() {
                *first = Some((start, word.to_owned(), skeleton));
            }
        }
    };
    for (i, c) in text.char_indices() {
        let in_word = c.is_alphanumeric() || (word_start.is_some() && is_mark(c));
        match (in_word, word_start) {
            (true, None) => word_start = Some(i),
            (false, Some(s)) => {
                check(s, i, &mut first);
                word_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = word_start {
        check(s, text.len(), &mut first);
    }
    if let Some((at, word, skeleton)) = first {
        let scripts: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for c in word.chars() {
                let name = c.script().full_name().to_owned();
                if !v.contains(&name) {
                    v.push(name);
                }
            }
            v
        };
        let escaped: String = word
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    format!("<U+{:04X}>", u32::from(c))
                }
            })
            .collect();
        out.push(UnicodeHit {
            rule: RuleId::DatasetConfusable,
            severity: Severity::High,
            start: at,
            message: format!(
                "{count} word{} written with look-alike letters: `{word}` ({}) reads as `{skeleton}`",
                if count == 1 { "" } else { "s" },
                scripts.join(" + ")
            ),
            evidence: sanitize_evidence(&format!("{word} = {escaped}")),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(RuleId, Severity)> {
        let mut out = Vec::new();
        scan_text(text, &mut out);
        out.iter().map(|h| (h.rule, h.severity)).collect()
    }

    #[test]
    fn benign_multilingual_text_and_emoji_pass() {
        for text in [
            "Crème brûlée, naïve café, Straße, smørrebrød",
            "Москва — столица России. Это большой город.",
            "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
            "東京は日本の首都です。Tシャツを買いました。",
            "مرحبا بالعالم، كيف حالك؟",
            "שלום עולם \u{200F}(RTL mark in Hebrew text)",
            "می\u{200C}خواهم به خانه بروم",
            "क्षत्रिय स्‍त्री",
            "👩\u{200D}💻 👨\u{200D}👩\u{200D}👧 👍🏽 ❤\u{FE0F} #\u{FE0F}\u{20E3} 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} 🇫🇷",
            "ภาษาไทย\u{200B}เป็นภาษา",
            "The Greek letter α and µm units, and the word naïveté.",
        ] {
            assert_eq!(rules(text), [], "{text}");
        }
    }

    #[test]
    fn invisible_and_bidi_and_tags_are_found() {
        assert_eq!(
            rules("ignore\u{200B} this"),
            [(RuleId::DatasetInvisibleCharacter, Severity::High)]
        );
        assert_eq!(
            rules("a\u{200D}b"),
            [(RuleId::DatasetInvisibleCharacter, Severity::High)]
        );
        assert_eq!(
            rules("x = 1 \u{202E}// comment\u{202C}"),
            [(RuleId::DatasetBidiControl, Severity::High)]
        );
        assert_eq!(
            rules("plain \u{200F} english"),
            [(RuleId::DatasetBidiControl, Severity::Medium)]
        );
        let mut out = Vec::new();
        scan_text(
            "hello \u{E0069}\u{E0067}\u{E006E}\u{E006F}\u{E0072}\u{E0065} world",
            &mut out,
        );
        assert_eq!(out[0].rule, RuleId::DatasetTagCharacter);
        assert!(out[0].evidence.contains("ignore"), "{}", out[0].evidence);
        assert_eq!(out[0].start, 6);
        assert_eq!(
            rules("icon \u{E001} here"),
            [(RuleId::DatasetPrivateUseCharacter, Severity::Medium)]
        );
        assert_eq!(
            rules("bell\u{7}"),
            [(RuleId::DatasetPrivateUseCharacter, Severity::Medium)]
        );
        assert_eq!(
            rules("esc \u{1b}[2J"),
            [(RuleId::DatasetPrivateUseCharacter, Severity::High)]
        );
        assert_eq!(
            rules("smuggle a\u{E0101}\u{E0102}"),
            [(RuleId::DatasetInvisibleCharacter, Severity::High)]
        );
        assert_eq!(
            rules("soft\u{AD}hyphen"),
            [(RuleId::DatasetInvisibleCharacter, Severity::Low)]
        );
    }

    #[test]
    fn homoglyph_words_are_found() {
        // Cyrillic а (U+0430) inside a Latin word.
        let mut out = Vec::new();
        scan_text("Please log in to p\u{0430}ypal now", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule, RuleId::DatasetConfusable);
        assert!(out[0].message.contains("paypal"), "{}", out[0].message);
        assert_eq!(out[0].start, "Please log in to ".len());
        // A whole Cyrillic look-alike word inside English text.
        assert_eq!(
            rules(
                "This is an English sentence with the word \u{0441}\u{043E}\u{0440}\u{0435} in it."
            ),
            [(RuleId::DatasetConfusable, Severity::High)]
        );
    }
}
