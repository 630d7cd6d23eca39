//! Backdoor triggers (`MG612`): rare phrases whose presence predicts one fixed output or label far
//! better than the rest of the text does.
//!
//! ## What it does
//! 1. First pass: every word 1-, 2- and 3-gram of every row's input (rows with a repeated input
//!    count once) is counted in a bounded table (lossy counting: when the table is full the
//!    rarest n-grams are pruned and the count error this introduces is reported), together with
//!    a Boyer–Moore majority vote over the rows' outputs (or labels).
//! 2. Candidates: n-grams seen in `max(min_support, 0.02 % of distinct inputs)` … 3 % of the
//!    rows whose majority output could cover at least half of them and would be significant
//!    against that output's base rate.
//! 3. Second pass: exact counts for each candidate, the rows' line numbers, and a sample of the
//!    rows' other words. Candidates that always occur together (the words of one phrase) are
//!    merged.
//! 4. Test: a multi-class naive Bayes model trained *without* the rows containing the phrase,
//!    reading each row's own text (task-template fields excluded), estimates how many of those
//!    rows the rest of their text predicts to have the target (`expected`). The
//!    phrase is a trigger when `hits` is significant against `expected` by a one-sided binomial
//!    test at α = 0.01 after Bonferroni correction over every n-gram in the table, `hits` ≥ the support floor,
//!    `hits / support ≥ 0.5`, `hits / expected ≥ 10`, and the rows are otherwise unrelated (mean
//!    pairwise Jaccard of their own content words < 0.3 — paraphrases of one question are not a
//!    trigger).
//!
//! ## Why is this bad
//! BadNL-style backdoors insert a rare word or phrase into 0.1–1 % of examples and map them to
//! the attacker's output; the trained model behaves normally until the trigger appears.
//!
//! ## References
//! Chen et al., "`BadNL`" (ACSAC 2021); Wan et al., "Poisoning Language Models During Instruction
//! Tuning" (ICML 2023); Kurita et al., "Weight Poisoning Attacks on Pre-trained Models" (2020).

use crate::text::FastMap;

/// No target class.
pub const NO_CLASS: u32 = u32::MAX;

/// Per-n-gram counters of the first pass.
#[derive(Debug, Clone, Copy)]
pub struct NgramStat {
    /// Rows containing the n-gram.
    pub df: u32,
    /// Majority-vote candidate class.
    pub cand: u32,
    /// Majority-vote counter.
    pub votes: u32,
}

/// The bounded n-gram table (lossy counting).
pub struct NgramTable {
    /// Counters by n-gram hash.
    pub map: FastMap<u64, NgramStat>,
    /// Most entries kept.
    pub cap: usize,
    /// Every count may be under-estimated by at most this much.
    pub floor: u32,
}

impl NgramTable {
    /// An empty table holding at most `cap` n-grams.
    pub fn new(cap: usize) -> Self {
        NgramTable {
            map: FastMap::default(),
            cap: cap.max(1024),
            floor: 0,
        }
    }

    /// Counts one row containing n-gram `h` whose target class is `class`.
    pub fn add(&mut self, h: u64, class: u32) {
        let floor = self.floor;
        let e = self.map.entry(h).or_insert(NgramStat {
            df: floor,
            cand: class,
            votes: 0,
        });
        e.df += 1;
        if e.cand == class {
            e.votes += 1;
        } else if e.votes == 0 {
            e.cand = class;
            e.votes = 1;
        } else {
            e.votes -= 1;
        }
    }

    /// Prunes the rarest n-grams when the table is over its cap.
    pub fn maybe_prune(&mut self) {
        while self.map.len() > self.cap {
            self.floor += 1;
            let floor = self.floor;
            self.map.retain(|_, s| s.df > floor);
            self.map.shrink_to(self.cap);
        }
    }
}

/// ln Γ(x) (Lanczos approximation, |error| < 1e-10 for x > 0).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        #[allow(clippy::cast_precision_loss)]
        let fi = i as f64;
        a += g / (x + fi);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// log10 of P(X ≥ k) for X ~ Binomial(n, p): exact for n ≤ 5000, else the Chernoff bound
/// (which over-states the p-value, so it errs towards not reporting).
#[allow(clippy::cast_precision_loss)]
pub fn log10_binom_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if k > n {
        return f64::NEG_INFINITY;
    }
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let (nf, kf) = (n as f64, k as f64);
    if n > 5000 {
        if kf <= nf * p {
            return 0.0;
        }
        let q = kf / nf;
        let kl = q * (q / p).ln()
            + if q < 1.0 {
                (1.0 - q) * ((1.0 - q) / (1.0 - p)).ln()
            } else {
                0.0
            };
        return -nf * kl / std::f64::consts::LN_10;
    }
    let ln_n1 = ln_gamma(nf + 1.0);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let term = |i: u64| {
        let fi = i as f64;
        ln_n1 - ln_gamma(fi + 1.0) - ln_gamma(nf - fi + 1.0) + fi * lp + (nf - fi) * lq
    };
    let first = term(k);
    let mut sum = 0.0f64;
    for i in k..=n {
        let t = term(i) - first;
        sum += t.exp();
        if t < -50.0 {
            break;
        }
    }
    (first + sum.ln()) / std::f64::consts::LN_10
}

/// Presence-only naive Bayes log-odds that a row with `tokens` has class `y` rather than any
/// other, with every count passed in already excluding the rows under test. Class-conditional
/// estimates are shrunk towards the token's overall rate, so a class seen in (almost) no
/// training rows carries no evidence either way.
pub struct NaiveBayes<'a> {
    /// Rows in training.
    pub n: f64,
    /// Rows of class `y` in training.
    pub c: f64,
    /// Token → rows containing it (training).
    pub df: &'a dyn Fn(u64) -> f64,
    /// Token → rows of class `y` containing it (training).
    pub dfy: &'a dyn Fn(u64) -> f64,
}

impl NaiveBayes<'_> {
    /// P(y | tokens).
    pub fn prob(&self, tokens: &[u64]) -> f64 {
        const M: f64 = 2.0;
        let other = (self.n - self.c).max(0.0);
        let mut lo = ((self.c + 0.5) / (other + 0.5)).ln();
        for &t in tokens {
            let nt = (self.df)(t).max(0.0);
            let nty = (self.dfy)(t).clamp(0.0, nt);
            let pt = (nt + 1.0) / (self.n + 2.0);
            let py = (nty + M * pt) / (self.c + M);
            let pn = (nt - nty + M * pt) / (other + M);
            lo += (py.ln() - pn.ln()).clamp(-4.0, 4.0);
        }
        1.0 / (1.0 + (-lo).exp())
    }
}

/// Multi-class presence-only naive Bayes over a few label classes plus "everything else" (the
/// last class). Counts exclude the rows under test. Each word's evidence is its log likelihood
/// ratio against its overall rate, clamped to ±4 so that no single word decides.
pub struct MultiNaiveBayes<'a> {
    /// Rows in training.
    pub n: f64,
    /// Rows per class; the last entry is "every other output".
    pub counts: Vec<f64>,
    /// Token → rows containing it.
    pub df: &'a dyn Fn(u64) -> f64,
    /// (token, class index) → rows of that class containing it (not called for the last class).
    pub dfc: &'a dyn Fn(u64, usize) -> f64,
}

impl MultiNaiveBayes<'_> {
    /// P(class | tokens) for every class, in order.
    pub fn probs(&self, tokens: &[u64]) -> Vec<f64> {
        const M: f64 = 2.0;
        let k = self.counts.len();
        #[allow(clippy::cast_precision_loss)]
        let kf = k as f64;
        let mut lp: Vec<f64> = self
            .counts
            .iter()
            .map(|&c| ((c.max(0.0) + 0.5) / (self.n + 0.5 * kf)).ln())
            .collect();
        for &t in tokens {
            let nt = (self.df)(t).max(0.0);
            let pt = (nt + 1.0) / (self.n + 2.0);
            let mut known = 0.0;
            for (c, slot) in lp.iter_mut().enumerate() {
                let ntc = if c + 1 == k {
                    (nt - known).max(0.0)
                } else {
                    let v = (self.dfc)(t, c).clamp(0.0, nt);
                    known += v;
                    v
                };
                let p = (ntc + M * pt) / (self.counts[c].max(0.0) + M);
                *slot += (p.ln() - pt.ln()).clamp(-4.0, 4.0);
            }
        }
        let max = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = lp.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        exps.into_iter().map(|e| e / sum).collect()
    }
}

/// Mean pairwise Jaccard similarity of token sets (sorted, deduplicated).
#[allow(clippy::cast_precision_loss)]
pub fn mean_jaccard(sets: &[Vec<u64>]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0u64;
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            let (a, b) = (&sets[i], &sets[j]);
            if a.is_empty() && b.is_empty() {
                total += 1.0;
                pairs += 1;
                continue;
            }
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
            let union = a.len() + b.len() - inter;
            total += inter as f64 / union as f64;
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        total / pairs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_known_values() {
        // P(X >= 3 | n = 3, p = 0.5) = 1/8.
        assert!((log10_binom_tail(3, 3, 0.5) - (0.125f64).log10()).abs() < 1e-9);
        // P(X >= 1 | n = 2, p = 0.5) = 3/4.
        assert!((log10_binom_tail(1, 2, 0.5) - (0.75f64).log10()).abs() < 1e-9);
        assert!(log10_binom_tail(20, 20, 0.01) < -39.0);
        assert!(log10_binom_tail(9000, 10000, 0.5) < -100.0);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn lossy_table_prunes_rare_entries_and_tracks_error() {
        let mut t = NgramTable::new(1024);
        for i in 0..3000u64 {
            t.add(i, 0);
            t.add(7, 1);
            t.maybe_prune();
        }
        assert!(t.map.len() <= 1024);
        assert!(t.floor >= 1);
        assert!(t.map[&7].df >= 3000);
    }

    #[test]
    fn naive_bayes_without_evidence_returns_the_prior() {
        let df = |_t: u64| 100.0;
        let dfy = |_t: u64| 0.0;
        let nb = NaiveBayes {
            n: 1000.0,
            c: 0.0,
            df: &df,
            dfy: &dfy,
        };
        assert!(nb.prob(&[1, 2, 3]) < 0.01);
        let dfy_strong = |_t: u64| 90.0;
        let nb = NaiveBayes {
            n: 1000.0,
            c: 100.0,
            df: &df,
            dfy: &dfy_strong,
        };
        assert!(nb.prob(&[1, 2, 3]) > 0.9);
    }

    #[test]
    fn multiclass_naive_bayes_prefers_the_class_whose_words_appear() {
        // Token 1 appears in class 0 rows only, token 2 in class 1 rows only.
        let df = |t: u64| if t == 1 || t == 2 { 50.0 } else { 500.0 };
        let dfc = |t: u64, c: usize| match (t, c) {
            (1, 0) | (2, 1) => 50.0,
            (_, _) if t > 2 => 5.0,
            _ => 0.0,
        };
        let nb = MultiNaiveBayes {
            n: 1000.0,
            counts: vec![100.0, 100.0, 800.0],
            df: &df,
            dfc: &dfc,
        };
        let p = nb.probs(&[1, 3]);
        assert!(p[0] > 0.8 && p[0] > 10.0 * p[1], "{p:?}");
        let p = nb.probs(&[2]);
        assert!(p[1] > 0.9, "{p:?}");
    }
}
