use proptest::prelude::*;

use super::*;

/// A tiny GGUF writer for tests (little-endian unless `big`).
pub(crate) struct Builder {
    pub(crate) out: Vec<u8>,
    big: bool,
    v1: bool,
}

impl Builder {
    pub(crate) fn new(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        Self::with_endian(version, n_tensors, n_kv, false)
    }
    pub(crate) fn with_endian(version: u32, n_tensors: u64, n_kv: u64, big: bool) -> Self {
        let mut b = Builder {
            out: b"GGUF".to_vec(),
            big,
            v1: version == 1,
        };
        b.u32(version);
        b.count(n_tensors);
        b.count(n_kv);
        b
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        let bytes = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        let bytes = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
        self
    }
    pub(crate) fn count(&mut self, v: u64) -> &mut Self {
        if self.v1 {
            self.u32(v as u32)
        } else {
            self.u64(v)
        }
    }
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.count(s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }
    pub(crate) fn kv_str(&mut self, k: &str, v: &str) -> &mut Self {
        self.str(k).u32(8).str(v)
    }
    pub(crate) fn kv_u32(&mut self, k: &str, v: u32) -> &mut Self {
        self.str(k).u32(4).u32(v)
    }
    pub(crate) fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.count(d);
        }
        self.u32(ty).u64(offset)
    }
    pub(crate) fn pad_to(&mut self, align: usize) -> &mut Self {
        while !self.out.len().is_multiple_of(align) {
            self.out.push(0);
        }
        self
    }
    pub(crate) fn zeros(&mut self, n: usize) -> &mut Self {
        self.out.extend(std::iter::repeat_n(0u8, n));
        self
    }
}

fn parse(b: &[u8]) -> Result<Parsed, GgufError> {
    read(&b, &Limits::default())
}

fn valid() -> Vec<u8> {
    let mut b = Builder::new(3, 2, 3);
    b.kv_str("general.architecture", "llama")
        .kv_u32("general.alignment", 32);
    b.str("tokenizer.chat_template")
        .u32(8)
        .str("{{ messages }}");
    b.tensor("a", &[64], 0, 0).tensor("b", &[32, 2], 8, 256);
    b.pad_to(32).zeros(256 + 68);
    b.out.clone()
}

#[test]
fn valid_file_parses_without_problems() {
    let p = parse(&valid()).unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.file.version, 3);
    assert_eq!(p.file.tensors[1].size, Some(68));
    assert_eq!(
        p.file
            .get("tokenizer.chat_template")
            .and_then(Value::as_str),
        Some("{{ messages }}")
    );
}

#[test]
fn v1_and_big_endian() {
    let mut b = Builder::new(1, 1, 1);
    b.kv_str("general.name", "x")
        .tensor("t", &[4], 0, 0)
        .pad_to(32)
        .zeros(16);
    let p = parse(&b.out).unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.file.tensors[0].dims, vec![4]);
    let mut b = Builder::with_endian(3, 1, 1, true);
    b.kv_str("general.name", "x")
        .tensor("t", &[4], 0, 0)
        .pad_to(32)
        .zeros(16);
    let p = parse(&b.out).unwrap();
    assert_eq!(p.file.endian, Endian::Big);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn huge_counts_and_lengths_fail_before_allocation() {
    // TALOS-2024-1913-style: kv count that would overflow `n_kv * sizeof(gguf_kv)`.
    let b = Builder::new(3, 0, u64::MAX / 8);
    assert!(matches!(parse(&b.out), Err(GgufError::TooLarge { .. })));
    let b = Builder::new(3, 0, 1000);
    assert!(matches!(parse(&b.out), Err(GgufError::Truncated { .. })));
    // String length of 2^64-1 (the `len + 1` wrap in gguf_fread_str).
    let mut b = Builder::new(3, 0, 1);
    b.u64(u64::MAX);
    assert!(matches!(
        parse(&b.out),
        Err(GgufError::TooLarge {
            what: "string length",
            ..
        })
    ));
    // String length under the cap but past the end of the file.
    let mut b = Builder::new(3, 0, 1);
    b.u64(1 << 20).zeros(10);
    assert!(matches!(parse(&b.out), Err(GgufError::Truncated { .. })));
    // Array of 2^62 strings.
    let mut b = Builder::new(3, 0, 1);
    b.str("k").u32(9).u32(8).u64(1 << 62);
    assert!(matches!(
        parse(&b.out),
        Err(GgufError::TooLarge {
            what: "array length",
            ..
        })
    ));
    let mut b = Builder::new(3, 0, 1);
    b.str("k").u32(9).u32(8).u64(1_000_000).zeros(64);
    assert!(matches!(parse(&b.out), Err(GgufError::Truncated { .. })));
    // Tensor count the file cannot hold.
    let b = Builder::new(3, 1 << 40, 0);
    assert!(matches!(parse(&b.out), Err(GgufError::TooLarge { .. })));
}

#[test]
fn nested_arrays_are_depth_bounded() {
    let mut b = Builder::new(3, 0, 1);
    b.str("k");
    b.u32(9);
    for _ in 0..10 {
        b.u32(9).u64(1);
    }
    b.u32(4).u64(1).u32(7).zeros(16);
    assert!(matches!(parse(&b.out), Err(GgufError::ArrayTooDeep { .. })));
    let mut b = Builder::new(3, 0, 1);
    b.str("k").u32(9).u32(9).u64(2);
    b.u32(4).u64(1).u32(7);
    b.u32(8).u64(1).str("x");
    let p = parse(&b.out).unwrap();
    assert!(p.problems.is_empty());
}

#[test]
fn bad_types_and_dims() {
    let mut b = Builder::new(3, 0, 1);
    b.str("k").u32(13).u32(0);
    assert!(matches!(
        parse(&b.out),
        Err(GgufError::BadValueType { type_id: 13, .. })
    ));
    // n_dims far beyond GGML_MAX_DIMS (the `ne[n_dims]` stack overflow).
    let mut b = Builder::new(3, 1, 0);
    b.str("t").u32(0xffff).zeros(64);
    assert!(matches!(parse(&b.out), Err(GgufError::TooManyDims { .. })));
}

#[test]
fn semantic_problems_are_collected() {
    let mut b = Builder::new(3, 4, 3);
    b.kv_u32("general.alignment", 24)
        .kv_str("a", "1")
        .kv_str("a", "2");
    b.tensor("t", &[4], 99, 0);
    b.tensor("u", &[1 << 62, 16], 0, 7);
    b.tensor("v", &[33], 2, 0);
    b.tensor("v", &[4], 0, 1 << 40);
    b.pad_to(32).zeros(32);
    let p = parse(&b.out).unwrap();
    let has = |f: fn(&GgufError) -> bool| p.problems.iter().any(f);
    assert!(has(|e| matches!(e, GgufError::BadAlignment { .. })));
    assert!(has(|e| matches!(e, GgufError::DuplicateKey { .. })));
    assert!(has(|e| matches!(
        e,
        GgufError::UnknownTensorType { ggml_type: 99, .. }
    )));
    assert!(has(|e| matches!(e, GgufError::BadShape { .. })));
    assert!(has(|e| matches!(e, GgufError::BadTensorName { .. })));
    assert!(has(|e| matches!(e, GgufError::BadTensorData { .. })));
    assert!(p.problems.iter().all(|e| e.offset() > 0));
}

#[test]
fn overlap_gap_and_out_of_range() {
    let mut b = Builder::new(3, 2, 0);
    b.tensor("a", &[16], 0, 0).tensor("b", &[16], 0, 32);
    b.pad_to(32).zeros(128);
    let p = parse(&b.out).unwrap();
    assert!(
        matches!(&p.problems[0], GgufError::BadTensorData { detail, .. } if detail.contains("overlaps")),
        "{:?}",
        p.problems
    );
    let mut b = Builder::new(3, 1, 0);
    b.tensor("a", &[1 << 20], 0, 0).pad_to(32).zeros(32);
    let p = parse(&b.out).unwrap();
    assert!(
        matches!(&p.problems[0], GgufError::BadTensorData { detail, .. } if detail.contains("past the end"))
    );
}

#[test]
fn vocabulary_types_and_lengths() {
    let mut b = Builder::new(3, 0, 2);
    b.str("tokenizer.ggml.tokens")
        .u32(9)
        .u32(8)
        .u64(2)
        .str("a")
        .str("b");
    b.str("tokenizer.ggml.scores").u32(9).u32(0).u64(2).zeros(2);
    let p = parse(&b.out).unwrap();
    assert!(
        matches!(&p.problems[0], GgufError::BadVocabulary { detail, .. } if detail.contains("uint8"))
    );
    let mut b = Builder::new(3, 0, 2);
    b.str("tokenizer.ggml.tokens")
        .u32(9)
        .u32(8)
        .u64(2)
        .str("a")
        .str("b");
    b.str("tokenizer.ggml.token_type")
        .u32(9)
        .u32(5)
        .u64(1)
        .zeros(4);
    let p = parse(&b.out).unwrap();
    assert!(
        matches!(&p.problems[0], GgufError::BadVocabulary { detail, .. } if detail.contains("1 entries"))
    );
}

#[test]
fn large_vocab_keeps_only_a_prefix() {
    let n = 10_000u64;
    let mut b = Builder::new(3, 0, 1);
    b.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(n);
    for i in 0..n {
        b.str(&format!("tok{i}"));
    }
    let p = parse(&b.out).unwrap();
    let Some(Value::Array(a)) = p.file.get("tokenizer.ggml.tokens") else {
        panic!()
    };
    assert_eq!(a.len, n);
    assert_eq!(a.items.len(), MAX_KEPT_ITEMS);
}

#[test]
fn bad_magic_and_version() {
    assert_eq!(parse(b"GGML\x03\0\0\0"), Err(GgufError::BadMagic));
    assert!(matches!(
        parse(b"GGUF\x09\0\0\0"),
        Err(GgufError::BadVersion { .. })
    ));
    assert!(matches!(parse(b"GGUF"), Err(GgufError::Truncated { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..256), version in 0u32..5) {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&version.to_le_bytes());
        f.extend_from_slice(&tail);
        let _ = read(&f.as_slice(), &Limits::default());
    }

    #[test]
    fn never_panics_on_mutated_valid_file(pos in 0usize..400, byte in any::<u8>()) {
        let mut f = valid();
        if let Some(b) = f.get_mut(pos) {
            *b = byte;
        }
        let _ = read(&f.as_slice(), &Limits::default());
    }
}
