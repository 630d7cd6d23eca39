//! Exact and near duplicates, duplicate floods and label flips (`MG608`–`MG611`).
//!
//! ## What it does
//! Every row's input (its non-target text fields, lowercased, split into words) gets an exact
//! hash and a 64-bin one-permutation `MinHash` signature over word unigrams and bigrams. Rows are
//! grouped by identical input and by locality-sensitive hashing (16 bands × 4 bins); each
//! candidate pair is confirmed by its estimated Jaccard similarity (≥ 0.7). Each resulting
//! cluster gives one finding: a **duplicate flood** when it is far larger than natural
//! duplication (`max(20, 0.2 % of rows)` copies), a **label flip** when its rows carry different
//! labels (recurring output values), otherwise an **exact** or **near duplicate** cluster.
//!
//! ## Why is this bad
//! Flooding gives one poisoned example the weight of hundreds; flipped copies of real examples
//! teach the wrong label; duplicates leak between training and test splits.
//!
//! ## References
//! CWE-1039; Broder (1997) `MinHash`; Li, Owen & Zhang (2012) one-permutation hashing;
//! Lee et al., "Deduplicating Training Data Makes Language Models Better" (2022).

use rayon::prelude::*;

use crate::text::mix;

/// `MinHash` bins per signature.
pub const BINS: usize = 64;
/// LSH bands (`BINS / ROWS_PER_BAND`).
pub const BANDS: usize = 16;
const ROWS_PER_BAND: usize = BINS / BANDS;

/// A row's compact signature: 8-bit `MinHash` values (for similarity) and LSH band keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// Low 8 bits of each bin's minimum (b-bit minwise hashing).
    pub bits: [u8; BINS],
    /// One key per band.
    pub bands: [u32; BANDS],
}

/// One-permutation `MinHash` over shingle hashes, densified by rotation. `None` when there are
/// fewer than `min_shingles` shingles (too short to judge).
pub fn signature(shingles: impl Iterator<Item = u64>, min_shingles: usize) -> Option<Signature> {
    let mut mins = [u32::MAX; BINS];
    let mut filled = [false; BINS];
    let mut n = 0usize;
    for h in shingles {
        let h = mix(h ^ 0x5bd1_e995);
        let bin = (h >> 58) as usize; // top 6 bits: 64 bins
        let v = h as u32;
        n += 1;
        if v <= mins[bin] {
            mins[bin] = v;
            filled[bin] = true;
        }
    }
    if n < min_shingles {
        return None;
    }
    let mut dense = mins;
    for i in 0..BINS {
        if !filled[i] {
            // Borrow the next filled bin's value, salted by the distance (rotation densification).
            for d in 1..BINS {
                let j = (i + d) % BINS;
                if filled[j] {
                    dense[i] = mix(u64::from(mins[j]) ^ ((d as u64) << 32)) as u32;
                    break;
                }
            }
        }
    }
    let mut sig = Signature {
        bits: [0; BINS],
        bands: [0; BANDS],
    };
    for (b, v) in sig.bits.iter_mut().zip(dense.iter()) {
        *b = (mix(u64::from(*v)) & 0xff) as u8;
    }
    for (band, key) in sig.bands.iter_mut().enumerate() {
        let mut h = band as u64;
        for v in &dense[band * ROWS_PER_BAND..(band + 1) * ROWS_PER_BAND] {
            h = mix(h ^ u64::from(*v)).rotate_left(7);
        }
        *key = (h >> 32) as u32;
    }
    Some(sig)
}

/// Estimated Jaccard similarity of two signatures (corrected for 8-bit collisions).
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    let same = a
        .bits
        .iter()
        .zip(b.bits.iter())
        .filter(|(x, y)| x == y)
        .count();
    #[allow(clippy::cast_precision_loss)]
    let frac = same as f64 / BINS as f64;
    ((frac - 1.0 / 256.0) / (1.0 - 1.0 / 256.0)).max(0.0)
}

/// Union-find over row indices.
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Merges the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Groups rows: identical `input_hash`, or LSH candidates confirmed at `threshold` similarity.
/// Returns the clusters of two or more rows (row indices, ascending) and the pairs checked.
pub fn cluster(
    input_hash: &[u64],
    sigs: &[Option<Signature>],
    threshold: f64,
) -> (Vec<Vec<u32>>, u64) {
    let n = input_hash.len();
    let mut uf = UnionFind::new(n);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by_key(|&i| input_hash[i as usize]);
    for w in order.windows(2) {
        if input_hash[w[0] as usize] == input_hash[w[1] as usize] {
            uf.union(w[0], w[1]);
        }
    }
    let mut checked = 0u64;
    // Sorting each band's keys is the expensive part: do the bands in parallel.
    let banded: Vec<Vec<(u32, u32)>> = (0..BANDS)
        .into_par_iter()
        .map(|band| {
            let mut keys: Vec<(u32, u32)> = sigs
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().map(|s| (s.bands[band], i as u32)))
                .collect();
            keys.sort_unstable();
            keys
        })
        .collect();
    for keys in &banded {
        let mut start = 0;
        while start < keys.len() {
            let mut end = start + 1;
            while end < keys.len() && keys[end].0 == keys[start].0 {
                end += 1;
            }
            if end - start >= 2 {
                // Compare each member with the bucket's first member and its predecessor: linear
                // in the bucket size, and enough to connect a cluster of near copies.
                let first = keys[start].1;
                for k in start + 1..end {
                    let i = keys[k].1;
                    for j in [first, keys[k - 1].1] {
                        if uf.find(i) == uf.find(j) {
                            continue;
                        }
                        checked += 1;
                        if let (Some(a), Some(b)) = (&sigs[i as usize], &sigs[j as usize])
                            && similarity(a, b) >= threshold
                        {
                            uf.union(i, j);
                        }
                    }
                }
            }
            start = end;
        }
    }
    let mut groups: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for i in 0..n as u32 {
        let root = uf.find(i);
        if uf.size[root as usize] >= 2 {
            groups.entry(root).or_default().push(i);
        }
    }
    let mut clusters: Vec<Vec<u32>> = groups.into_values().collect();
    clusters.sort_unstable_by_key(|c| c[0]);
    (clusters, checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{hash_bytes, ngram_hash};

    fn sig_of(text: &str) -> Option<Signature> {
        let toks: Vec<u64> = text
            .split_whitespace()
            .map(|w| hash_bytes(w.as_bytes()))
            .collect();
        let bigrams: Vec<u64> = toks.windows(2).map(ngram_hash).collect();
        signature(toks.iter().copied().chain(bigrams), 4)
    }

    #[test]
    fn near_copies_are_similar_and_unrelated_text_is_not() {
        let a = sig_of(
            "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat",
        )
        .unwrap();
        let b =
            sig_of("the quick brown fox jumps over the lazy dog while the cat sleeps on the mat")
                .unwrap();
        let c = sig_of(
            "stock markets fell sharply on monday as investors worried about rising interest rates",
        )
        .unwrap();
        assert!(similarity(&a, &b) > 0.7, "{}", similarity(&a, &b));
        assert!(similarity(&a, &c) < 0.3, "{}", similarity(&a, &c));
        assert!(sig_of("too short").is_none());
    }

    #[test]
    fn clusters_join_exact_and_near_copies() {
        let texts = [
            "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat",
            "completely different sentence about cooking pasta with garlic and olive oil tonight",
            "the quick brown fox jumps over the lazy dog while the cat sleeps on the mat",
            "completely different sentence about cooking pasta with garlic and olive oil tonight",
        ];
        let hashes: Vec<u64> = texts.iter().map(|t| hash_bytes(t.as_bytes())).collect();
        let sigs: Vec<Option<Signature>> = texts.iter().map(|t| sig_of(t)).collect();
        let (clusters, _) = cluster(&hashes, &sigs, 0.7);
        assert_eq!(clusters, vec![vec![0, 2], vec![1, 3]]);
    }
}
