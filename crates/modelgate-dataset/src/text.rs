//! Text normalisation shared by the detectors: a fast non-cryptographic hash, a Unicode-aware
//! word tokenizer (lowercased alphanumeric runs), and n-gram hashing.

/// A hasher for keys that are already well-mixed 64-bit hashes (n-gram, token and row hashes):
/// it passes them through, which keeps the hot hash maps several times faster than `SipHash`.
/// Not for attacker-chosen raw keys: every key fed to it went through [`hash_bytes`] first.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = mix(self.0 ^ u64::from(n).rotate_left(32));
    }
}

/// `BuildHasher` for [`PassThroughHasher`].
pub type FastHash = std::hash::BuildHasherDefault<PassThroughHasher>;
/// A hash map keyed by pre-hashed values.
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;
/// A hash set of pre-hashed values.
pub type FastSet<K> = std::collections::HashSet<K, FastHash>;

/// Multiplier from the 64-bit golden ratio; spreads consecutive inputs over the hash space.
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// `MurmurHash3`'s 64-bit finaliser: every input bit affects every output bit.
pub fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A fast 64-bit hash of `bytes` (not collision resistant against an adversary: it only groups
/// rows and n-grams; every reported cluster is re-checked on the rows it names).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = K ^ (bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    mix(h)
}

/// Combines two hashes in an order-dependent way (for n-grams and sequences).
pub fn combine(a: u64, b: u64) -> u64 {
    mix(a.rotate_left(29) ^ b.wrapping_mul(K))
}

/// Calls `f` with each word of `text`, lowercased: maximal runs of alphanumeric characters
/// (any script), so `Don't` gives `don` and `t`, and `3D` gives `3d`. The buffer is reused.
pub fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    buf.clear();
    for ch in text.chars() {
        if ch.is_ascii() {
            if ch.is_ascii_alphanumeric() {
                buf.push(ch.to_ascii_lowercase());
                continue;
            }
        } else if ch.is_alphanumeric() {
            buf.extend(ch.to_lowercase());
            continue;
        } else if is_mark(ch) && !buf.is_empty() {
            // Combining marks belong to the word they decorate.
            buf.push(ch);
            continue;
        }
        if !buf.is_empty() {
            f(buf);
            buf.clear();
        }
    }
    if !buf.is_empty() {
        f(buf);
        buf.clear();
    }
}

/// Combining marks (general category M), approximated by the blocks that hold them; enough to
/// keep Indic and decomposed Latin words whole.
fn is_mark(ch: char) -> bool {
    matches!(ch,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05C7}'
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}' | '\u{0900}'..='\u{0903}' | '\u{093A}'..='\u{094F}'
        | '\u{0951}'..='\u{0957}' | '\u{0962}'..='\u{0963}' | '\u{0981}'..='\u{0983}'
        | '\u{09BC}'..='\u{09D7}' | '\u{0A01}'..='\u{0A51}' | '\u{0A81}'..='\u{0ACD}'
        | '\u{0B01}'..='\u{0B57}' | '\u{0B82}'..='\u{0BD7}' | '\u{0C00}'..='\u{0C56}'
        | '\u{0C81}'..='\u{0CD6}' | '\u{0D00}'..='\u{0D57}' | '\u{0E31}' | '\u{0E34}'..='\u{0E3A}'
        | '\u{0E47}'..='\u{0E4E}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Hashes of the tokens of `text`, in order (the tokens of [`for_each_token`]).
pub fn token_hashes(text: &str, buf: &mut String, out: &mut Vec<u64>) {
    if !text.is_ascii() {
        for_each_token(text, buf, |t| out.push(hash_bytes(t.as_bytes())));
        return;
    }
    // ASCII fast path (most text): byte runs, lowercased only when they hold an upper-case
    // letter. The same tokens as `for_each_token`: marks and non-ASCII letters cannot occur.
    let b = text.as_bytes();
    let mut lower: Vec<u8> = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        while i < b.len() && !b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if start == i {
            break;
        }
        let word = &b[start..i];
        if word.iter().any(u8::is_ascii_uppercase) {
            lower.clear();
            lower.extend(word.iter().map(u8::to_ascii_lowercase));
            out.push(hash_bytes(&lower));
        } else {
            out.push(hash_bytes(word));
        }
    }
}

/// The hash of a token sequence (used for "same text after normalisation").
pub fn sequence_hash(tokens: &[u64]) -> u64 {
    tokens.iter().fold(K, |h, &t| combine(h, t))
}

/// Hash of the n-gram made of `tokens` (n = `tokens.len()`), distinct from the same tokens'
/// hashes for other n.
pub fn ngram_hash(tokens: &[u64]) -> u64 {
    match tokens {
        [single] => *single,
        _ => tokens
            .iter()
            .fold(mix(tokens.len() as u64), |h, &t| combine(h, t)),
    }
}

/// Common English function words: they carry no topic, so they are ignored when judging whether
/// two rows are "about the same thing".
pub const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "just", "me", "more", "most", "my", "no", "nor",
    "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own",
    "s", "same", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
    "whom", "why", "will", "with", "would", "you", "your",
];

/// Hashes of [`STOPWORDS`], sorted for binary search.
pub fn stopword_hashes() -> Vec<u64> {
    let mut v: Vec<u64> = STOPWORDS.iter().map(|w| hash_bytes(w.as_bytes())).collect();
    v.sort_unstable();
    v
}

/// The first `max` characters of `s`, with an ellipsis when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercased_alphanumeric_runs() {
        let mut buf = String::new();
        let mut toks = Vec::new();
        for_each_token(
            "Don't PANIC: 3D café, naïve Москва 東京",
            &mut buf,
            |t| {
                toks.push(t.to_owned());
            },
        );
        assert_eq!(
            toks,
            ["don", "t", "panic", "3d", "café", "naïve", "москва", "東京"]
        );
    }

    #[test]
    fn the_ascii_fast_path_gives_the_same_tokens() {
        for text in [
            "Don't STOP: 3D printing, e-mail x",
            "  leading and trailing  ",
            "",
            "ÉCOLE école Straße",
            "mixed ASCII and 東京 text",
        ] {
            let mut fast = Vec::new();
            token_hashes(text, &mut String::new(), &mut fast);
            let mut slow = Vec::new();
            for_each_token(text, &mut String::new(), |t| {
                slow.push(hash_bytes(t.as_bytes()));
            });
            assert_eq!(fast, slow, "{text}");
        }
    }

    #[test]
    fn ngram_hashes_differ_by_order_and_length() {
        let a = hash_bytes(b"a");
        let b = hash_bytes(b"b");
        assert_ne!(ngram_hash(&[a, b]), ngram_hash(&[b, a]));
        assert_ne!(ngram_hash(&[a]), ngram_hash(&[a, a]));
        assert_eq!(ngram_hash(&[a]), a);
        assert_ne!(hash_bytes(b"abcdefgh1"), hash_bytes(b"abcdefgh2"));
    }
}
