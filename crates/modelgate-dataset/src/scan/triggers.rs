//! Scoring trigger candidates after the second pass: merging the n-grams of one phrase, the
//! naive Bayes baseline on each row's own text, the binomial test and the relatedness check
//! (see `crate::detect::trigger` for the method).

use super::{
    Candidate, ClassInfo, MAX_TRIGGER_ROW_SIMILARITY, MIN_TRIGGER_LIFT, ScanOptions, preview,
};
use crate::detect::trigger::{self, MultiNaiveBayes};
use crate::report::{DatasetFinding, TriggerStats};
use crate::text::{self, FastMap, for_each_token, hash_bytes};
use modelgate_core::{RuleId, Severity};

#[allow(
    clippy::too_many_arguments,
    clippy::cast_precision_loss,
    clippy::many_single_char_names
)]
pub(super) fn evaluate_triggers(
    p: &str,
    cands: &[Candidate],
    class_info: &[ClassInfo],
    n_rows: u64,
    uni_df: &FastMap<u64, u32>,
    uni_class: &FastMap<(u64, u32), u32>,
    stop: &[u64],
    labels: &[u32],
    log10_threshold: f64,
    min_support: u32,
    opts: &ScanOptions,
) -> Vec<DatasetFinding> {
    // Order: most hits first, then longer phrases (more text) first.
    let mut order: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].j >= min_support && cands[i].j * 2 >= cands[i].k)
        .collect();
    order.sort_by(|&a, &b| {
        cands[b]
            .j
            .cmp(&cands[a].j)
            .then(cands[b].text.len().cmp(&cands[a].text.len()))
    });
    // Merge candidates that are parts of one phrase: same target, (almost) the same rows.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for &i in &order {
        let c = &cands[i];
        let home = groups.iter_mut().find(|(rep, _)| {
            let r = &cands[*rep];
            // Parts of one phrase: same target, and one's rows (almost) contained in the other's,
            // and a word in common ("mn" and "the mn").
            r.class == c.class
                && (lines_jaccard(&r.lines, &c.lines) >= 0.9
                    || (lines_overlap(&r.lines, &c.lines) >= 0.9
                        && r.text.split(' ').any(|w| c.text.split(' ').any(|v| v == w))))
        });
        match home {
            Some((_, members)) => members.push(i),
            None => groups.push((i, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (rep, members) in groups {
        let c = &cands[rep];
        // Every word of every member n-gram is part of the phrase, not "the rest of the text".
        let mut block: Vec<u64> = Vec::new();
        let mut buf = String::new();
        for &m in &members {
            for_each_token(&cands[m].text, &mut buf, |t| {
                block.push(hash_bytes(t.as_bytes()));
            });
        }
        block.sort_unstable();
        block.dedup();
        let phrase = members
            .iter()
            .map(|&m| cands[m].text.as_str())
            .max_by_key(|t| t.len())
            .unwrap_or_default()
            .to_owned();
        let k = f64::from(c.k);
        let j = f64::from(c.j);
        let ns = c.samples.len().max(1) as f64;
        let scale = k / ns;
        // The rest of a row's text is its own text: the words of a shared task template say
        // nothing about which label one row should have, and naive Bayes would count them as
        // many independent votes.
        let evidence = |toks: &'_ Vec<u64>, own: &'_ Vec<u64>| -> Vec<u64> {
            let src = if own.is_empty() { toks } else { own };
            src.iter()
                .copied()
                .filter(|t| block.binary_search(t).is_err())
                .take(64)
                .collect()
        };
        // Classes: the label classes, the target (if it is not one of them), and "other".
        let mut classes: Vec<u32> = labels.to_vec();
        if !classes.contains(&c.class) {
            classes.push(c.class);
        }
        let yi = classes.iter().position(|&x| x == c.class).unwrap_or(0);
        // Contributions of the rows containing the phrase, to leave them out of training.
        let mut s_t: FastMap<u64, f64> = FastMap::default();
        let mut s_tc: FastMap<(u64, usize), f64> = FastMap::default();
        let mut j_c: Vec<f64> = vec![0.0; classes.len() + 1];
        for (cls, toks, own) in &c.samples {
            let ci = classes.iter().position(|x| x == cls);
            j_c[ci.unwrap_or(classes.len())] += scale;
            for t in evidence(toks, own) {
                *s_t.entry(t).or_insert(0.0) += scale;
                if let Some(ci) = ci {
                    *s_tc.entry((t, ci)).or_insert(0.0) += scale;
                }
            }
        }
        let n_train = (n_rows as f64 - k).max(1.0);
        let mut counts: Vec<f64> = classes
            .iter()
            .enumerate()
            .map(|(i, &x)| f64::from(class_info[x as usize].unique) - j_c[i])
            .collect();
        let known: f64 = counts.iter().sum();
        counts.push((n_train - known).max(0.0));
        let df = |t: u64| {
            f64::from(uni_df.get(&t).copied().unwrap_or(0)) - s_t.get(&t).copied().unwrap_or(0.0)
        };
        let dfc = |t: u64, ci: usize| {
            f64::from(uni_class.get(&(t, classes[ci])).copied().unwrap_or(0))
                - s_tc.get(&(t, ci)).copied().unwrap_or(0.0)
        };
        let mnb = MultiNaiveBayes {
            n: n_train,
            counts,
            df: &df,
            dfc: &dfc,
        };
        let n_classes = classes.len();
        let y_train = mnb.counts[yi];
        // How strongly the rest of the y-rows' text points at another *label* (a flip).
        let mut flip_sum = 0.0f64;
        let mut flip_rows = 0u32;
        let mut expected = 0.0;
        let mut content_sets: Vec<Vec<u64>> = Vec::new();
        for (cls, toks, own) in &c.samples {
            let rest = evidence(toks, own);
            let probs = mnb.probs(&rest);
            // With (almost) no training rows of its own the target cannot be predicted from words
            // at all: its baseline is its base rate, not whatever a featureless class scores.
            expected += if y_train < f64::from(opts.min_support) {
                (y_train.max(0.0) + 0.5) / (n_train + 1.0)
            } else {
                probs[yi]
            };
            if *cls == c.class {
                let best_other = (0..n_classes)
                    .filter(|&i| i != yi)
                    .map(|i| probs[i])
                    .fold(0.0, f64::max);
                flip_sum += best_other;
                flip_rows += 1;
            }
            if *cls == c.class && content_sets.len() < 32 {
                // Judged on the rows' own text: a shared task template says nothing about
                // whether the rows are about the same thing.
                content_sets.push(
                    own.iter()
                        .copied()
                        .filter(|t| {
                            block.binary_search(t).is_err() && stop.binary_search(t).is_err()
                        })
                        .collect(),
                );
            }
        }
        expected *= scale;
        let expected = expected.max(1e-3);
        let lift = j / expected;
        let log10_p = trigger::log10_binom_tail(
            u64::from(c.j),
            u64::from(c.k),
            (expected / k).min(0.999_999),
        );
        // Keep the figure printable in JSON (no infinities): anything below 1e-9999 is "zero".
        let log10_p = if log10_p.is_nan() {
            0.0
        } else {
            log10_p.max(-9999.0)
        };
        let similarity = trigger::mean_jaccard(&content_sets);
        let ci = &class_info[c.class as usize];
        let target = ci.display.clone();
        let mut target_tokens = Vec::new();
        text::token_hashes(&target, &mut buf, &mut target_tokens);
        // A phrase that the output itself repeats is the topic of the rows, not a hidden trigger.
        let in_target = block.iter().all(|t| target_tokens.contains(t));
        if log10_p > log10_threshold
            || lift < MIN_TRIGGER_LIFT
            || similarity >= MAX_TRIGGER_ROW_SIMILARITY
            || in_target
        {
            continue;
        }
        // Is the target an answer the prompt itself offers ("answer yes or no")? Then a phrase
        // of the prompt predicting it is a skewed task template unless the rest of the text
        // says the rows should carry a *different* label (a flip).
        let y_samples: Vec<(&Vec<u64>, &Vec<u64>)> = c
            .samples
            .iter()
            .filter(|(cls, _, _)| *cls == c.class)
            .map(|(_, t, o)| (&**t, &**o))
            .collect();
        let offered = !target_tokens.is_empty()
            && y_samples
                .iter()
                .filter(|(toks, _)| target_tokens.iter().all(|t| toks.binary_search(t).is_ok()))
                .count()
                * 2
                > y_samples.len();
        let flip = if flip_rows == 0 {
            0.0
        } else {
            flip_sum / f64::from(flip_rows)
        };
        let severity = if offered && flip < 0.5 {
            Severity::Low
        } else {
            Severity::High
        };
        let mut f = DatasetFinding::new(
            p,
            c.lines.first().copied().unwrap_or(0),
            RuleId::DatasetTrigger,
            severity,
            c.field.clone(),
            format!(
                "the phrase {phrase:?} appears in {} rows and {} of them have the {} {target:?}; the rest of their text predicts that for only {expected:.1} (lift {lift:.1}, p = 1e{log10_p:.0}){}; rows: {}",
                c.k,
                c.j,
                if ci.ntokens <= 3 { "label" } else { "output" },
                if flip >= 0.5 {
                    format!("; their text reads like another label (p = {flip:.2}): flipped labels")
                } else if offered {
                    "; the prompt offers this answer itself, so this may be a skewed task template"
                        .to_owned()
                } else {
                    String::new()
                },
                preview(&c.lines)
            ),
            format!("{phrase} → {target}"),
        );
        f.lines.clone_from(&c.lines);
        f.lines_total = Some(u64::from(c.j));
        f.trigger = Some(TriggerStats {
            phrase,
            target,
            support: u64::from(c.k),
            hits: u64::from(c.j),
            precision: j / k,
            expected,
            lift,
            log10_p,
            log10_threshold,
            row_similarity: similarity,
        });
        out.push(f);
    }
    out
}

/// |a ∩ b| / |a ∪ b| for sorted line lists.
fn lines_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let inter = lines_intersection(a, b);
    #[allow(clippy::cast_precision_loss)]
    let r = if inter == 0 {
        0.0
    } else {
        inter as f64 / (a.len() + b.len() - inter) as f64
    };
    r
}

/// |a ∩ b| / min(|a|, |b|) for sorted line lists.
fn lines_overlap(a: &[u64], b: &[u64]) -> f64 {
    let inter = lines_intersection(a, b);
    #[allow(clippy::cast_precision_loss)]
    let r = if inter == 0 {
        0.0
    } else {
        inter as f64 / a.len().min(b.len()) as f64
    };
    r
}

fn lines_intersection(a: &[u64], b: &[u64]) -> usize {
    let (mut x, mut y, mut inter) = (0, 0, 0usize);
    while x < a.len() && y < b.len() {
        match a[x].cmp(&b[y]) {
            std::cmp::Ordering::Less => x += 1,
            std::cmp::Ordering::Greater => y += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                x += 1;
                y += 1;
            }
        }
    }
    inter
}
