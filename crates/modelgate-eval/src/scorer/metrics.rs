//! Summary statistics over per-sample scores: mean, standard error and a 95% interval.
//!
//! ```
//! use modelgate_eval::scorer::metrics::summarize;
//!
//! let s = summarize(&[1.0, 0.0, 1.0, 1.0]);
//! assert_eq!(s.mean, 0.75);
//! assert!(s.ci95.0 < 0.75 && 0.75 < s.ci95.1);
//! ```

use serde::{Deserialize, Serialize};

/// The normal quantile for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Mean, standard error and 95% confidence interval of per-sample values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean (0 when `n` is 0).
    pub mean: f64,
    /// Sample standard deviation / √n (0 when `n` < 2).
    pub stderr: f64,
    /// 95% interval for the mean: Wilson score when every value is 0 or 1, the normal
    /// approximation `mean ± 1.96·stderr` otherwise; clamped to `[0, 1]` when every value
    /// lies there.
    pub ci95: (f64, f64),
    /// Which interval `ci95` is: `wilson` or `normal`.
    pub interval: Interval,
}

/// The kind of confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Wilson score interval (binary values).
    Wilson,
    /// Normal approximation from the standard error.
    Normal,
}

/// Computes the [`Summary`] of `values`. Non-finite values are ignored.
pub fn summarize(values: &[f64]) -> Summary {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return Summary {
            n,
            mean: 0.0,
            stderr: 0.0,
            ci95: (0.0, 0.0),
            interval: Interval::Normal,
        };
    }
    #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
    let nf = n as f64;
    let mean = finite.iter().sum::<f64>() / nf;
    let stderr = standard_error(&finite, mean);
    #[allow(clippy::float_cmp)] // binary scores are exactly 0.0 or 1.0
    let binary = finite.iter().all(|v| *v == 0.0 || *v == 1.0);
    if binary {
        return Summary {
            n,
            mean,
            stderr,
            ci95: wilson_interval(mean, n, Z95),
            interval: Interval::Wilson,
        };
    }
    let unit = finite.iter().all(|v| (0.0..=1.0).contains(v));
    let (mut lo, mut hi) = (mean - Z95 * stderr, mean + Z95 * stderr);
    if unit {
        lo = lo.max(0.0);
        hi = hi.min(1.0);
    }
    Summary {
        n,
        mean,
        stderr,
        ci95: (lo, hi),
        interval: Interval::Normal,
    }
}

/// Sample standard deviation (Bessel-corrected) divided by √n; 0 for fewer than two values.
pub fn standard_error(values: &[f64], mean: f64) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
    let nf = n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    (var / nf).sqrt()
}

/// The Wilson score interval for a proportion `p` observed over `n` trials at normal quantile
/// `z` (1.96 for 95%). `(0, 0)` when `n` is 0.
pub fn wilson_interval(p: f64, n: usize, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
    let nf = n as f64;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn empty_and_single() {
        let s = summarize(&[]);
        assert_eq!((s.n, s.mean, s.stderr), (0, 0.0, 0.0));
        let s = summarize(&[0.5]);
        assert_eq!((s.n, s.mean, s.stderr, s.ci95), (1, 0.5, 0.0, (0.5, 0.5)));
    }

    #[test]
    fn binary_values_use_wilson() {
        // 63 of 100: p = 0.63, sd = sqrt(0.63 * 0.37 * 100 / 99), se = sd / 10.
        let values: Vec<f64> = (0..100).map(|i| if i < 63 { 1.0 } else { 0.0 }).collect();
        let s = summarize(&values);
        assert!(close(s.mean, 0.63));
        assert!(close(
            s.stderr,
            (0.63f64 * 0.37 * 100.0 / 99.0).sqrt() / 10.0
        ));
        assert_eq!(s.interval, Interval::Wilson);
        // Reference: Wilson 95% for 63/100 is [0.532205, 0.718176].
        assert!(
            close(s.ci95.0, 0.532_205) && close(s.ci95.1, 0.718_176),
            "{:?}",
            s.ci95
        );
        // All correct: Wilson's upper end is 1 and the lower end is below 1.
        let s = summarize(&[1.0; 10]);
        assert!(close(s.ci95.1, 1.0) && close(s.ci95.0, 0.722_467));
    }

    #[test]
    fn graded_values_use_the_normal_approximation() {
        let s = summarize(&[0.5, 1.0, 0.0, 0.5]);
        assert_eq!(s.interval, Interval::Normal);
        assert!(close(s.mean, 0.5));
        // sd = sqrt(0.5 / 3), se = sd / 2.
        let se = (0.5f64 / 3.0).sqrt() / 2.0;
        assert!(close(s.stderr, se));
        assert!(close(s.ci95.0, (0.5 - Z95 * se).max(0.0)));
        assert!(close(s.ci95.1, (0.5 + Z95 * se).min(1.0)));
        assert_eq!(summarize(&[f64::NAN, 1.0]).n, 1);
    }
}
