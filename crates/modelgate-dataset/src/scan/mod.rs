//! `modelgate dataset scan`: two streaming passes over each file, the row-local detectors
//! (Unicode, injection, malformed rows) in parallel per batch, and the dataset-level detectors
//! (duplicates, label flips, triggers, repeated outputs) over compact per-row summaries.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use modelgate_core::{RuleId, Severity, to_hex};
use rayon::prelude::*;

use crate::detect::dedup::{self, Signature};
use crate::detect::trigger::{self, NO_CLASS, NgramTable};
use crate::detect::{inject, unicode};
use crate::load::{Batch, DatasetReader, RawItem, Row};
use crate::report::{DatasetError, DatasetFileEntry, DatasetFinding, DatasetReport, DetectorStats};
use crate::text::{
    self, FastMap, FastSet, for_each_token, hash_bytes, ngram_hash, sequence_hash, truncate_chars,
};
use crate::{DatasetLimits, LoadError, RowError};

mod triggers;

use triggers::evaluate_triggers;

/// Field names taken as the output or label, in order of preference.
pub const TARGET_NAMES: &[&str] = &[
    "output",
    "response",
    "completion",
    "answer",
    "label",
    "labels",
    "target",
    "class",
    "category",
    "chosen",
    "reply",
    "solution",
    "assistant",
];

/// Field names that are metadata, not text a model learns from (still checked for deceptive
/// Unicode, never used as input for duplicates and triggers).
pub const META_NAMES: &[&str] = &[
    "id",
    "uuid",
    "idx",
    "index",
    "source",
    "url",
    "split",
    "lang",
    "language",
    "license",
    "meta",
    "metadata",
    "timestamp",
    "created_at",
    "role",
    "name",
    "date",
];

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Loading and memory limits.
    pub limits: DatasetLimits,
    /// Only these fields (top-level names or full paths); `None` = all.
    pub fields: Option<Vec<String>>,
    /// The field holding the output or label; `None` = detect (see [`TARGET_NAMES`]).
    pub target_field: Option<String>,
    /// Fewest rows a trigger, repeated output or label class must have.
    pub min_support: u32,
    /// Largest share of rows a trigger phrase may appear in ("rare overall").
    pub max_support_fraction: f64,
    /// Family-wise significance level of the trigger test (Bonferroni-corrected).
    pub alpha: f64,
    /// Estimated Jaccard similarity at which two inputs are near duplicates.
    pub near_duplicate_threshold: f64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limits: DatasetLimits::default(),
            fields: None,
            target_field: None,
            min_support: 5,
            max_support_fraction: 0.03,
            alpha: 0.01,
            near_duplicate_threshold: 0.7,
        }
    }
}

/// The result of scanning one file.
#[derive(Debug, Clone)]
pub struct FileScan {
    /// What was scanned.
    pub entry: DatasetFileEntry,
    /// What was found.
    pub findings: Vec<DatasetFinding>,
}

struct Target {
    field: String,
    hash: u64,
    display: String,
    ntokens: u32,
}

/// What the parallel per-row step produces.
#[derive(Default)]
struct RowInfo {
    line: u64,
    findings: Vec<DatasetFinding>,
    malformed: bool,
    tokens: Vec<u64>,
    /// (input field index in the row, index of its first token in `tokens`, hash of name and value).
    bounds: Vec<(usize, usize, u64)>,
    input_hash: u64,
    target: Option<Target>,
    sig: Option<Signature>,
    /// Second pass: the row's own (non-template) input tokens.
    own: Vec<u64>,
    /// Whether the input had any token (`tokens` itself is dropped before the row is merged).
    has_tokens: bool,
    /// Second pass: candidate hits (candidate index, n-gram text, field).
    hits: Vec<(u32, String, String)>,
    /// First pass, rows with a target: the distinct 1- to 3-gram hashes of the input.
    ngrams: Vec<u64>,
    /// Second pass, rows with a target: the distinct input tokens, sorted.
    uniq: Vec<u64>,
}

fn selected(opts: &ScanOptions, name: &str, top: &str) -> bool {
    opts.fields
        .as_ref()
        .is_none_or(|list| list.iter().any(|f| f == name || f == top))
}

fn target_index(row: &Row<'_>, opts: &ScanOptions) -> Option<usize> {
    if let Some(t) = &opts.target_field {
        return row
            .fields
            .iter()
            .position(|f| f.name == t.as_str() || f.top_level() == t);
    }
    if let Some(i) = row
        .fields
        .iter()
        .rposition(|f| f.role.as_deref() == Some("assistant") || f.role.as_deref() == Some("gpt"))
    {
        return Some(i);
    }
    for name in TARGET_NAMES {
        if let Some(i) = row
            .fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
        {
            return Some(i);
        }
    }
    None
}

fn is_meta(name: &str, leaf: &str) -> bool {
    META_NAMES
        .iter()
        .any(|m| m.eq_ignore_ascii_case(name) || m.eq_ignore_ascii_case(leaf))
}

/// The row-local analysis. `full` runs the Unicode and injection detectors (first pass only).
fn analyze(
    path: &str,
    row: &Row<'_>,
    opts: &ScanOptions,
    full: bool,
    cands: Option<(&FastMap<u64, u32>, &[AtomicBool])>,
    templates: Option<&FastSet<u64>>,
) -> RowInfo {
    // Per-thread buffers reused from row to row: the token stream is dropped before the row is
    // merged, so it need not be a fresh allocation per row.
    let (mut tokens, mut toks, mut buf) = SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        (
            std::mem::take(&mut s.0),
            std::mem::take(&mut s.1),
            std::mem::take(&mut s.2),
        )
    });
    tokens.clear();
    let mut info = RowInfo {
        line: row.line,
        tokens,
        bounds: Vec::with_capacity(row.fields.len()),
        ..RowInfo::default()
    };
    let target = target_index(row, opts);
    let mut uhits = Vec::new();
    let mut ihits = Vec::new();
    for (fi, f) in row.fields.iter().enumerate() {
        let top = f.top_level();
        if !selected(opts, &f.name, top) {
            continue;
        }
        let is_target = Some(fi) == target;
        if full && f.is_text {
            uhits.clear();
            unicode::scan_text(&f.value, &mut uhits);
            for h in &uhits {
                let (line, column) = row.locate(fi, h.start);
                let mut finding = DatasetFinding::new(
                    path,
                    line,
                    h.rule,
                    h.severity,
                    f.name.as_ref(),
                    h.message.clone(),
                    &h.evidence,
                );
                finding.column = Some(column);
                info.findings.push(finding);
            }
            ihits.clear();
            inject::scan_text(&f.value, &mut ihits);
            for h in &ihits {
                let (line, column) = row.locate(fi, h.start);
                let marker = h.pattern == "chat role marker";
                let severity = if is_target && !marker {
                    Severity::High
                } else {
                    h.severity
                };
                let where_ = if is_target {
                    "in the output the model learns to produce"
                } else {
                    "in the input"
                };
                let mut finding = DatasetFinding::new(
                    path,
                    line,
                    RuleId::DatasetPromptInjection,
                    severity,
                    f.name.as_ref(),
                    format!(
                        "{} pattern `{}` {where_}",
                        if marker {
                            "chat-template"
                        } else {
                            "instruction-override"
                        },
                        h.pattern
                    ),
                    f.value
                        .get(h.start..h.end.min(h.start + 160))
                        .unwrap_or_default(),
                );
                finding.column = Some(column);
                info.findings.push(finding);
            }
        }
        if is_target {
            toks.clear();
            text::token_hashes(&f.value, &mut buf, &mut toks);
            let trimmed = f.value.trim();
            let hash = if toks.is_empty() {
                hash_bytes(trimmed.as_bytes())
            } else {
                sequence_hash(&toks)
            };
            info.target = Some(Target {
                field: f.name.to_string(),
                hash,
                display: if full {
                    truncate_chars(trimmed, 120)
                } else {
                    String::new()
                },
                ntokens: u32::try_from(toks.len()).unwrap_or(u32::MAX),
            });
            continue;
        }
        let leaf = f.name.rsplit(['.', ']']).next().unwrap_or("");
        if !f.is_text || is_meta(top, leaf) {
            continue;
        }
        let fh = text::combine(
            hash_bytes(f.name.as_bytes()),
            hash_bytes(f.value.as_bytes()),
        );
        info.bounds.push((fi, info.tokens.len(), fh));
        text::token_hashes(&f.value, &mut buf, &mut info.tokens);
    }
    info.input_hash = if info.tokens.is_empty() {
        0
    } else {
        sequence_hash(&info.tokens)
    };
    // The per-row preparation of the dataset-level counts is done here, in parallel; the
    // serial merge only updates the tables.
    if info.target.is_some() && !info.tokens.is_empty() {
        if full {
            let t = &info.tokens;
            let mut ngrams = Vec::with_capacity(3 * t.len());
            ngrams.extend_from_slice(t);
            for n in 2..=3usize {
                ngrams.extend(t.windows(n).map(ngram_hash));
            }
            ngrams.sort_unstable();
            ngrams.dedup();
            info.ngrams = ngrams;
        } else {
            let mut uniq = info.tokens.clone();
            uniq.sort_unstable();
            uniq.dedup();
            info.uniq = uniq;
        }
    }
    if let Some(templates) = templates {
        // Near duplicates are judged on the row's own text: a field whose exact value repeats
        // across many rows (a task template such as "Classify the sentiment…") would otherwise
        // make every row of that task look alike.
        let mut own: Vec<u64> = Vec::with_capacity(info.tokens.len());
        for (i, (_, start, fh)) in info.bounds.iter().enumerate() {
            if templates.contains(fh) {
                continue;
            }
            let end = info.bounds.get(i + 1).map_or(info.tokens.len(), |b| b.1);
            own.extend_from_slice(&info.tokens[*start..end]);
        }
        if own.is_empty() {
            own.clone_from(&info.tokens);
        }
        let bigrams = own.windows(2).map(ngram_hash);
        info.sig = dedup::signature(own.iter().copied().chain(bigrams), 6);
        own.sort_unstable();
        own.dedup();
        info.own = own;
    }
    if let Some((cands, named)) = cands {
        let mut seen: Vec<u32> = Vec::new();
        for n in 1..=3usize {
            for (pos, w) in info.tokens.windows(n).enumerate() {
                if let Some(&c) = cands.get(&ngram_hash(w))
                    && !seen.contains(&c)
                {
                    seen.push(c);
                    // The phrase's text and field are needed once per candidate: skip the
                    // work once the merge step has recorded them.
                    if named
                        .get(c as usize)
                        .is_some_and(|b| b.load(Ordering::Relaxed))
                    {
                        info.hits.push((c, String::new(), String::new()));
                        continue;
                    }
                    let field = info
                        .bounds
                        .iter()
                        .rev()
                        .find(|(_, start, _)| *start <= pos)
                        .and_then(|(fi, _, _)| row.fields.get(*fi))
                        .map(|f| f.name.to_string())
                        .unwrap_or_default();
                    let text = ngram_words(row, &info.bounds, pos, n);
                    info.hits.push((c, text, field));
                }
            }
        }
    }
    info.has_tokens = !info.tokens.is_empty();
    tokens = std::mem::take(&mut info.tokens);
    SCRATCH.with(|s| *s.borrow_mut() = (tokens, toks, buf));
    info
}

thread_local! {
    /// [`analyze`]'s reusable buffers: input tokens, target tokens, word buffer.
    static SCRATCH: std::cell::RefCell<(Vec<u64>, Vec<u64>, String)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new(), String::new())) };
}

/// Words `pos..pos + n` of the row's input token stream (the order of `RowInfo::tokens`),
/// joined by spaces: only the field holding them is tokenised again.
fn ngram_words(row: &Row<'_>, bounds: &[(usize, usize, u64)], pos: usize, n: usize) -> String {
    let mut out = String::new();
    let mut buf = String::new();
    for (i, &(fi, start, _)) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map_or(usize::MAX, |b| b.1);
        if end <= pos || start >= pos + n {
            continue;
        }
        let Some(f) = row.fields.get(fi) else {
            continue;
        };
        let mut k = start;
        for_each_token(&f.value, &mut buf, |t| {
            if (pos..pos + n).contains(&k) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(t);
            }
            k += 1;
        });
    }
    out
}

fn row_error_finding(path: &str, e: &RowError) -> DatasetFinding {
    let rule = if e.limit {
        RuleId::DatasetLimitExceeded
    } else {
        RuleId::DatasetMalformedRow
    };
    let mut f = DatasetFinding::new(
        path,
        e.line,
        rule,
        Severity::High,
        "(row)",
        format!("row not analysed: {}", e.message),
        "",
    );
    f.column = Some(e.column);
    f
}

struct ClassInfo {
    count: u32,
    unique: u32,
    ntokens: u32,
    display: String,
    field: String,
}

#[derive(Clone, Copy)]
struct RowRec {
    line: u64,
    input_hash: u64,
    class: u32,
    sig: Option<Signature>,
}

/// A sampled row's token hashes, shared by the candidates that sample it.
type Words = Arc<Vec<u64>>;

struct Candidate {
    hash: u64,
    class: u32,
    k: u32,
    j: u32,
    lines: Vec<u64>,
    /// Sampled rows: (class, sorted distinct input tokens, own tokens), shared between the
    /// candidates that sample the same row.
    samples: Vec<(u32, Words, Words)>,
    text: String,
    field: String,
}

/// Rows sampled per trigger candidate (their words feed the baseline and the relatedness test).
const SAMPLE_ROWS: usize = 64;

/// Most n-grams carried into the second pass (the most significant first); bounds its memory
/// to about `MAX_TRIGGER_CANDIDATES × SAMPLE_ROWS × 2 × 8 B × words per row`.
const MAX_TRIGGER_CANDIDATES: usize = 4_000;

/// Estimated Jaccard similarity at which a near duplicate counts as a copy of a cluster's
/// centre (for floods and label flips; looser near duplicates are only reported at low).
const COPY_SIMILARITY: f64 = 0.95;

/// How much better than the rest of the text a phrase must predict its target ("far better"):
/// natural cue phrases ("would recommend it" → positive) reach 2–3 on our benchmark, planted
/// triggers 20 and more.
const MIN_TRIGGER_LIFT: f64 = 10.0;

/// Rows sharing a trigger must be otherwise unrelated: above this mean pairwise Jaccard
/// similarity of their own content words they are variants of one question, not a backdoor.
const MAX_TRIGGER_ROW_SIMILARITY: f64 = 0.3;

/// Scans one dataset file.
pub fn scan_file(path: &Path, opts: &ScanOptions) -> Result<FileScan, LoadError> {
    let display_path = path.display().to_string();
    let p = display_path.as_str();
    let mut reader = DatasetReader::open(path, &opts.limits)?;
    let mut rows: Vec<RowRec> = Vec::new();
    let mut classes: FastMap<u64, u32> = FastMap::default();
    let mut class_info: Vec<ClassInfo> = Vec::new();
    let mut seen_inputs: FastSet<u64> = FastSet::default();
    let mut table = NgramTable::new(opts.limits.max_ngrams);
    let mut target_fields: FastMap<u64, (String, u64)> = FastMap::default();
    let mut malformed = 0u64;
    let mut unique_with_target = 0u64;
    let mut field_counts: FastMap<u64, u32> = FastMap::default();
    let mut sink = Sink {
        findings: Vec::new(),
        per_kind: HashMap::new(),
        dropped: 0,
        limit: opts.limits.max_findings_per_kind,
    };

    // Pass 1: the row-local detectors and the per-row summaries, batches analysed in parallel
    // while the previous batch's results are merged.
    pipelined(
        &mut reader,
        |r, batch, item| {
            r.parse(batch, item).map(|parsed| match parsed {
                Ok(row) => analyze(p, &row, opts, true, None, None),
                Err(e) => RowInfo {
                    line: e.line,
                    malformed: true,
                    findings: vec![row_error_finding(p, &e)],
                    ..RowInfo::default()
                },
            })
        },
        |infos| {
            for info in infos.into_iter().flatten() {
                for f in info.findings {
                    sink.push(f);
                }
                if info.malformed {
                    malformed += 1;
                    continue;
                }
                let class = match &info.target {
                    Some(t) => {
                        target_fields
                            .entry(hash_bytes(t.field.as_bytes()))
                            .or_insert_with(|| (t.field.clone(), 0))
                            .1 += 1;
                        let next = u32::try_from(class_info.len()).unwrap_or(NO_CLASS - 1);
                        let id = *classes.entry(t.hash).or_insert(next);
                        if id == next {
                            class_info.push(ClassInfo {
                                count: 0,
                                unique: 0,
                                ntokens: t.ntokens,
                                display: String::new(),
                                field: t.field.clone(),
                            });
                        }
                        let ci = &mut class_info[id as usize];
                        ci.count += 1;
                        if ci.count == 2 {
                            ci.display.clone_from(&t.display);
                        }
                        id
                    }
                    None => NO_CLASS,
                };
                for (_, _, fh) in &info.bounds {
                    if field_counts.len() < opts.limits.max_ngrams || field_counts.contains_key(fh)
                    {
                        *field_counts.entry(*fh).or_insert(0) += 1;
                    }
                }
                let unique = info.has_tokens && seen_inputs.insert(info.input_hash);
                if unique && class != NO_CLASS {
                    class_info[class as usize].unique += 1;
                    unique_with_target += 1;
                    for &h in &info.ngrams {
                        table.add(h, class);
                    }
                    table.maybe_prune();
                }
                rows.push(RowRec {
                    line: info.line,
                    input_hash: if info.has_tokens {
                        info.input_hash
                    } else {
                        hash_bytes(&info.line.to_le_bytes())
                    },
                    class,
                    sig: info.sig,
                });
            }
        },
    )?;
    let sha256 = to_hex(&reader.sha256());
    let size = reader.bytes_read();
    let format = reader.format();
    let total_rows = rows.len() as u64 + malformed;
    let mut notes = Vec::new();
    let target_field = target_fields
        .values()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| f.clone());
    if target_field.is_none() {
        notes.push("no output or label field found (looked for output, response, completion, answer, label, …, or an assistant message); trigger, label-flip and repeated-output detection were skipped — pass --label-field".to_owned());
    }
    let mut stats = DetectorStats {
        distinct_inputs: seen_inputs.len() as u64,
        distinct_targets: class_info.len() as u64,
        ngrams_kept: table.map.len() as u64,
        ngram_count_error: u64::from(table.floor),
        ..DetectorStats::default()
    };
    drop(seen_inputs);

    // Trigger candidates.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let max_support = ((unique_with_target as f64 * opts.max_support_fraction).ceil() as u32)
        .max(opts.min_support * 4);
    #[allow(clippy::cast_precision_loss)]
    let n_rows = unique_with_target as f64;
    #[allow(clippy::cast_precision_loss)]
    let log10_threshold = (opts.alpha / (table.map.len().max(1) as f64)).log10();
    let mut cands: Vec<Candidate> = Vec::new();
    // On large datasets a handful of rows is no longer a 0.1 % attack: the support floor grows
    // with the data (0.02 % of distinct inputs), which also keeps chance co-occurrences of
    // template phrases out of the candidates.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let min_support = opts.min_support.max((n_rows * 0.0002).ceil() as u32);
    if target_field.is_some() {
        let mut scored: Vec<(f64, u64, NgramStatView)> = Vec::new();
        for (&h, s) in &table.map {
            if s.df < min_support || s.df > max_support || s.cand == NO_CLASS {
                continue;
            }
            let ci = &class_info[s.cand as usize];
            if ci.unique < opts.min_support {
                continue;
            }
            let j_max = s.df.midpoint(s.votes);
            if j_max < min_support || j_max * 2 < s.df {
                continue;
            }
            let prior = f64::from(ci.unique) / n_rows;
            let lp = trigger::log10_binom_tail(u64::from(j_max), u64::from(s.df), prior);
            if lp > log10_threshold {
                continue;
            }
            scored.push((lp, h, NgramStatView { class: s.cand }));
        }
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        scored.truncate(MAX_TRIGGER_CANDIDATES);
        cands = scored
            .into_iter()
            .map(|(_, h, v)| Candidate {
                hash: h,
                class: v.class,
                k: 0,
                j: 0,
                lines: Vec::new(),
                samples: Vec::new(),
                text: String::new(),
                field: String::new(),
            })
            .collect();
    }
    stats.trigger_candidates = cands.len() as u64;
    drop(table);

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let template_min = ((rows.len() / 1000) as u32).max(20);
    let templates: FastSet<u64> = field_counts
        .into_iter()
        .filter(|(_, n)| *n >= template_min)
        .map(|(h, _)| h)
        .collect();
    {
        let named: Vec<AtomicBool> = cands.iter().map(|_| AtomicBool::new(false)).collect();
        let cand_map: FastMap<u64, u32> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (c.hash, i as u32))
            .collect();
        let mut cand_classes: HashSet<u32> = cands.iter().map(|c| c.class).collect();
        cand_classes.extend((0..class_info.len() as u32).filter(|&c| {
            class_info[c as usize].unique >= opts.min_support && class_info[c as usize].ntokens <= 3
        }));
        let mut uni_df: FastMap<u64, u32> = FastMap::default();
        let mut uni_class: FastMap<(u64, u32), u32> = FastMap::default();
        let mut seen2: FastSet<u64> = FastSet::default();
        let mut reader = DatasetReader::open(path, &opts.limits)?;
        let mut row_index = 0usize;
        let budget = opts.limits.max_ngrams;
        let cand_class: Vec<bool> = (0..class_info.len() as u32)
            .map(|c| cand_classes.contains(&c))
            .collect();
        pipelined(
            &mut reader,
            |r, batch, item| match r.parse(batch, item) {
                Some(Ok(row)) => Some(analyze(
                    p,
                    &row,
                    opts,
                    false,
                    Some((&cand_map, &named)),
                    Some(&templates),
                )),
                _ => None,
            },
            |infos| {
                for info in infos.into_iter().flatten() {
                    if let Some(r) = rows.get_mut(row_index) {
                        r.sig = info.sig;
                    }
                    row_index += 1;
                    let Some(target) = &info.target else { continue };
                    if !info.has_tokens || !seen2.insert(info.input_hash) {
                        continue;
                    }
                    let class = classes.get(&target.hash).copied().unwrap_or(NO_CLASS);
                    let count_class = cand_class.get(class as usize).copied().unwrap_or(false);
                    for &tok in &info.uniq {
                        if uni_df.len() < budget || uni_df.contains_key(&tok) {
                            *uni_df.entry(tok).or_insert(0) += 1;
                        }
                        if count_class
                            && (uni_class.len() < budget || uni_class.contains_key(&(tok, class)))
                        {
                            *uni_class.entry((tok, class)).or_insert(0) += 1;
                        }
                    }
                    // One shared copy of the row's words for all the candidates sampling it.
                    let mut shared: Option<(Words, Words)> = None;
                    let (uniq, own) = (info.uniq, info.own);
                    for (ci, ngram, field) in info.hits {
                        let c = &mut cands[ci as usize];
                        c.k += 1;
                        if c.samples.len() < SAMPLE_ROWS {
                            let (u, o) = shared.get_or_insert_with(|| {
                                (Arc::new(uniq.clone()), Arc::new(own.clone()))
                            });
                            c.samples.push((class, Arc::clone(u), Arc::clone(o)));
                        }
                        if class == c.class {
                            c.j += 1;
                            if c.lines.len() < opts.limits.max_lines_per_finding {
                                c.lines.push(info.line);
                            }
                            if c.text.is_empty() && !ngram.is_empty() {
                                c.text = ngram;
                                c.field = field;
                                named[ci as usize].store(true, Ordering::Relaxed);
                            }
                        }
                    }
                }
            },
        )?;
        let stop = text::stopword_hashes();
        let labels: Vec<u32> = {
            let mut l: Vec<u32> = (0..class_info.len() as u32)
                .filter(|&c| {
                    class_info[c as usize].unique >= opts.min_support
                        && class_info[c as usize].ntokens <= 3
                })
                .collect();
            l.sort_by_key(|&c| std::cmp::Reverse(class_info[c as usize].unique));
            l.truncate(32);
            l
        };
        for f in evaluate_triggers(
            p,
            &cands,
            &class_info,
            unique_with_target,
            &uni_df,
            &uni_class,
            &stop,
            &labels,
            log10_threshold,
            min_support,
            opts,
        ) {
            sink.push(f);
        }
    }

    // Duplicates, floods and label flips.
    let input_hashes: Vec<u64> = rows.iter().map(|r| r.input_hash).collect();
    let sigs: Vec<Option<Signature>> = rows.iter().map(|r| r.sig).collect();
    let (clusters, checked) = dedup::cluster(&input_hashes, &sigs, opts.near_duplicate_threshold);
    drop(sigs);
    stats.lsh_pairs_checked = checked;
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let flood = ((rows.len() as f64 * 0.002).ceil() as usize).max(20);
    let label_like = |c: u32| {
        c != NO_CLASS
            && class_info[c as usize].unique >= opts.min_support
            && class_info[c as usize].ntokens <= 3
    };
    let mut cluster_of: HashMap<u32, u32> = HashMap::new();
    for (ci, members) in clusters.iter().enumerate() {
        for &m in members {
            cluster_of.insert(m, ci as u32);
        }
        let lines: Vec<u64> = members.iter().map(|&m| rows[m as usize].line).collect();
        let first = lines[0];
        let tf = target_field.clone().unwrap_or_else(|| "output".to_owned());
        // The cluster's most common example (input and output) is its centre; copies are the
        // members identical to it or at `COPY_SIMILARITY` from it with the same output.
        let mut counts: FastMap<(u64, u32), usize> = FastMap::default();
        for &m in members {
            let r = &rows[m as usize];
            *counts.entry((r.input_hash, r.class)).or_insert(0) += 1;
        }
        let centre_key = counts
            .iter()
            .max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k)))
            .map(|(k, _)| *k)
            .unwrap_or_default();
        let centre = members
            .iter()
            .copied()
            .find(|&m| (rows[m as usize].input_hash, rows[m as usize].class) == centre_key)
            .unwrap_or(members[0]);
        let centre_row = rows[centre as usize];
        let near = |m: u32| {
            let r = &rows[m as usize];
            r.input_hash == centre_row.input_hash
                || matches!((&r.sig, &centre_row.sig), (Some(a), Some(b)) if dedup::similarity(a, b) >= COPY_SIMILARITY)
        };
        let copies: Vec<u64> = members
            .iter()
            .copied()
            .filter(|&m| rows[m as usize].class == centre_row.class && near(m))
            .map(|m| rows[m as usize].line)
            .collect();
        // Label flips: near-identical inputs (not merely the same template) with different labels.
        // Label flips: near-identical inputs (not merely the same template) with different
        // labels. Each group is (reference row, rows carrying another label).
        let mut flip_groups: Vec<(u32, Vec<u32>)> = Vec::new();
        let near_flips: Vec<u32> = members
            .iter()
            .copied()
            .filter(|&m| {
                near(m)
                    && rows[m as usize].class != centre_row.class
                    && label_like(rows[m as usize].class)
                    && label_like(centre_row.class)
            })
            .collect();
        if !near_flips.is_empty() {
            flip_groups.push((centre, near_flips));
        }
        // Any identical input (after normalisation) carrying two labels, wherever the cluster's
        // centre is.
        let mut by_input: FastMap<u64, Vec<u32>> = FastMap::default();
        for &m in members {
            if label_like(rows[m as usize].class)
                && rows[m as usize].input_hash != centre_row.input_hash
            {
                by_input
                    .entry(rows[m as usize].input_hash)
                    .or_default()
                    .push(m);
            }
        }
        let mut groups: Vec<Vec<u32>> = by_input
            .into_values()
            .filter(|g| {
                g.iter()
                    .any(|&m| rows[m as usize].class != rows[g[0] as usize].class)
            })
            .collect();
        groups.sort_unstable();
        for g in groups {
            let reference = g[0];
            let others: Vec<u32> = g
                .into_iter()
                .filter(|&m| rows[m as usize].class != rows[reference as usize].class)
                .collect();
            flip_groups.push((reference, others));
        }
        for (&(ih, cls), &n) in &counts {
            if n >= flood && (ih, cls) != centre_key {
                let group: Vec<u64> = members
                    .iter()
                    .filter(|&&m| {
                        (rows[m as usize].input_hash, rows[m as usize].class) == (ih, cls)
                    })
                    .map(|&m| rows[m as usize].line)
                    .collect();
                let mut f = DatasetFinding::new(
                    p,
                    group[0],
                    RuleId::DatasetDuplicateFlood,
                    Severity::High,
                    "input",
                    format!(
                        "one example is repeated {n} times (flood threshold {flood}); copies on lines {}",
                        preview(&group)
                    ),
                    format!("{n} copies"),
                );
                f.lines = group[..group.len().min(opts.limits.max_lines_per_finding)].to_vec();
                f.lines_total = Some(n as u64);
                sink.push(f);
            }
        }
        if copies.len() >= flood {
            let mut f = DatasetFinding::new(
                p,
                copies[0],
                RuleId::DatasetDuplicateFlood,
                Severity::High,
                "input",
                format!(
                    "one example is repeated {} times (flood threshold {flood}); copies on lines {}",
                    copies.len(),
                    preview(&copies)
                ),
                format!("{} copies", copies.len()),
            );
            f.lines = copies[..copies.len().min(opts.limits.max_lines_per_finding)].to_vec();
            f.lines_total = Some(copies.len() as u64);
            sink.push(f);
            continue;
        }
        for (reference, others) in &flip_groups {
            let ref_row = rows[*reference as usize];
            let mut flip_lines: Vec<u64> = others.iter().map(|&m| rows[m as usize].line).collect();
            let minority = flip_lines[0];
            let ev = format!(
                "{:?} (line {}) vs {:?} (line {minority})",
                class_info[ref_row.class as usize].display,
                ref_row.line,
                class_info[rows[others[0] as usize].class as usize].display
            );
            flip_lines.push(ref_row.line);
            flip_lines.sort_unstable();
            let mut f = DatasetFinding::new(
                p,
                minority,
                RuleId::DatasetLabelFlip,
                RuleId::DatasetLabelFlip.default_severity(),
                tf.clone(),
                format!(
                    "near-identical inputs carry different labels (lines {})",
                    preview(&flip_lines)
                ),
                ev,
            );
            f.lines_total = Some(flip_lines.len() as u64);
            f.lines = flip_lines;
            sink.push(f);
        }
        if !flip_groups.is_empty() {
            continue;
        }
        let exact = members.iter().all(|&m| {
            let (r, c) = (&rows[m as usize], &rows[members[0] as usize]);
            r.input_hash == c.input_hash && r.class == c.class
        });
        let rule = if exact {
            RuleId::DatasetExactDuplicate
        } else {
            RuleId::DatasetNearDuplicate
        };
        let mut f = DatasetFinding::new(
            p,
            first,
            rule,
            rule.default_severity(),
            "input",
            format!(
                "{} {} rows (lines {})",
                members.len(),
                if exact { "identical" } else { "near-identical" },
                preview(&lines)
            ),
            format!("{} rows", members.len()),
        );
        f.lines = lines[..lines.len().min(opts.limits.max_lines_per_finding)].to_vec();
        f.lines_total = Some(members.len() as u64);
        sink.push(f);
    }

    // Repeated outputs across unrelated inputs.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rep_min = ((rows.len() as f64 * 0.0005).ceil() as u32).max(opts.min_support.max(5));
    let repeated: HashSet<u32> = (0..class_info.len() as u32)
        .filter(|&c| {
            let ci = &class_info[c as usize];
            ci.count >= rep_min && ci.ntokens >= 8
        })
        .collect();
    if !repeated.is_empty() {
        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            if repeated.contains(&r.class) {
                members.entry(r.class).or_default().push(i as u32);
            }
        }
        let mut classes_sorted: Vec<_> = members.into_iter().collect();
        classes_sorted.sort_by_key(|(c, _)| *c);
        for (c, idx) in classes_sorted {
            let ci = &class_info[c as usize];
            let distinct: HashSet<u64> = idx.iter().map(|&i| rows[i as usize].input_hash).collect();
            let mut per_cluster: HashMap<u32, usize> = HashMap::new();
            for &i in &idx {
                if let Some(&cl) = cluster_of.get(&i) {
                    *per_cluster.entry(cl).or_insert(0) += 1;
                }
            }
            let biggest = per_cluster.values().copied().max().unwrap_or(0);
            if distinct.len() * 10 < idx.len() * 8 || biggest * 2 > idx.len() {
                continue;
            }
            // "Unrelated": the inputs' own text shares little (paraphrases of one question that
            // naturally get one answer are excluded).
            let sample: Vec<&Signature> = idx
                .iter()
                .filter_map(|&i| rows[i as usize].sig.as_ref())
                .take(24)
                .collect();
            let mut sim = 0.0;
            let mut pairs = 0u32;
            for a in 0..sample.len() {
                for b in a + 1..sample.len() {
                    sim += dedup::similarity(sample[a], sample[b]);
                    pairs += 1;
                }
            }
            if pairs > 0 && sim / f64::from(pairs) > 0.25 {
                continue;
            }
            let lines: Vec<u64> = idx.iter().map(|&i| rows[i as usize].line).collect();
            let mut f = DatasetFinding::new(
                p,
                lines[0],
                RuleId::DatasetRepeatedOutput,
                RuleId::DatasetRepeatedOutput.default_severity(),
                ci.field.clone(),
                format!(
                    "the same {}-word output is given for {} unrelated inputs (lines {})",
                    ci.ntokens,
                    idx.len(),
                    preview(&lines)
                ),
                &ci.display,
            );
            f.lines = lines[..lines.len().min(opts.limits.max_lines_per_finding)].to_vec();
            f.lines_total = Some(idx.len() as u64);
            sink.push(f);
        }
    }

    Ok(FileScan {
        entry: DatasetFileEntry {
            path: display_path.clone(),
            format,
            size,
            sha256,
            rows: total_rows,
            malformed_rows: malformed,
            target_field,
            stats,
            findings_dropped: sink.dropped,
            notes,
        },
        findings: sink.findings,
    })
}

/// Findings of one file, capped per kind.
struct Sink {
    findings: Vec<DatasetFinding>,
    per_kind: HashMap<RuleId, usize>,
    dropped: u64,
    limit: usize,
}

impl Sink {
    fn push(&mut self, f: DatasetFinding) {
        let n = self.per_kind.entry(f.rule).or_insert(0);
        *n += 1;
        if *n > self.limit {
            self.dropped += 1;
        } else {
            self.findings.push(f);
        }
    }
}

/// Reads `reader` batch by batch; each batch's rows are analysed in parallel while the previous
/// batch's results are merged (serially, in file order) on another core.
fn pipelined(
    reader: &mut DatasetReader,
    analyze: impl Fn(&DatasetReader, &Batch, &RawItem) -> Option<RowInfo> + Sync,
    mut merge: impl FnMut(Vec<Option<RowInfo>>) + Send,
) -> Result<(), LoadError> {
    let mut batch = Batch::default();
    let mut pending: Option<Vec<Option<RowInfo>>> = None;
    loop {
        let more = reader.next_batch(&mut batch)?;
        let r: &DatasetReader = reader;
        let b = &batch;
        let (infos, ()) = rayon::join(
            || {
                if more {
                    b.items.par_iter().map(|item| analyze(r, b, item)).collect()
                } else {
                    Vec::new()
                }
            },
            || {
                if let Some(done) = pending.take() {
                    merge(done);
                }
            },
        );
        if !more {
            return Ok(());
        }
        pending = Some(infos);
    }
}

struct NgramStatView {
    class: u32,
}

fn preview(lines: &[u64]) -> String {
    let mut s: Vec<String> = lines.iter().take(8).map(u64::to_string).collect();
    if lines.len() > 8 {
        s.push("…".to_owned());
    }
    s.join(", ")
}

/// The dataset files under `path`: the file itself, or the dataset files of a directory
/// (recursively, sorted, at most `max_files`).
pub fn dataset_files(path: &Path, max_files: usize) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(path.to_owned(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            let p = entry.path();
            if ft.is_dir() && depth < 32 {
                if p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                stack.push((p, depth + 1));
            } else if ft.is_file() && crate::load::DatasetFormat::is_dataset_extension(&p) {
                out.push(p);
                if out.len() > max_files {
                    return Err(std::io::Error::other(format!(
                        "more than {max_files} dataset files"
                    )));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Scans every dataset file under `paths` and builds the report. Files that cannot be read
/// are reported as errors (and never count as passing).
pub fn scan_paths(paths: &[PathBuf], opts: &ScanOptions, version: &str) -> DatasetReport {
    let start = Instant::now();
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let list = match dataset_files(path, 100_000) {
            Ok(l) if l.is_empty() => {
                errors.push(DatasetError {
                    path: path.display().to_string(),
                    message: "no dataset files (.jsonl, .csv, .tsv, .parquet) found".to_owned(),
                });
                continue;
            }
            Ok(l) => l,
            Err(e) => {
                errors.push(DatasetError {
                    path: path.display().to_string(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        for file in list {
            match scan_file(&file, opts) {
                Ok(scan) => {
                    files.push(scan.entry);
                    findings.extend(scan.findings);
                }
                Err(e) => errors.push(DatasetError {
                    path: file.display().to_string(),
                    message: e.to_string(),
                }),
            }
        }
    }
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    DatasetReport::new(version, files, findings, errors, ms)
}
