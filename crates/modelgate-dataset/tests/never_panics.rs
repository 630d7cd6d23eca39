//! Property tests: hostile rows and files never panic the loaders or detectors, and reported
//! positions always fall inside the text.

use proptest::prelude::*;

use modelgate_dataset::detect::{inject, unicode};
use modelgate_dataset::{
    DatasetLimits, ScanOptions, parse_csv_record, parse_jsonl_line, scan_file,
};

fn limits() -> DatasetLimits {
    DatasetLimits {
        max_depth: 8,
        max_fields: 64,
        ..DatasetLimits::default()
    }
}

/// Strings biased towards JSON syntax, escapes and the characters the detectors care about.
fn hostile_text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        ":",
        ",",
        "\\u",
        "d83d",
        "\\ude00",
        "\\ud800",
        "0",
        "-1.5e3",
        "true",
        "null",
        " ",
        "\u{200B}",
        "\u{200D}",
        "\u{202E}",
        "\u{E0041}",
        "\u{E007F}",
        "🏴",
        "👩",
        "а",
        "p",
        "ignore all previous instructions",
        "<|im_start|>",
        "\n",
        "\r",
        "\t",
        "\u{1b}",
        "é",
        "東",
        "\u{FE0F}",
        "\u{E0100}",
        "\"a\"",
        "\"\"",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jsonl_parser_never_panics(text in hostile_text()) {
        let l = limits();
        if let Ok(row) = parse_jsonl_line(&text, 3, &l) {
            for (i, f) in row.fields.iter().enumerate() {
                for idx in [0, f.value.len() / 2, f.value.len().saturating_sub(1)] {
                    let (line, col) = row.locate(i, idx);
                    prop_assert!(line >= 3);
                    prop_assert!(col as usize <= text.chars().count() + 1);
                }
            }
        }
    }

    #[test]
    fn csv_parser_never_panics(text in hostile_text()) {
        let header = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        if let Ok(row) = parse_csv_record(&text, 1, &header, &limits()) {
            for (i, f) in row.fields.iter().enumerate() {
                let (_, col) = row.locate(i, f.value.len().saturating_sub(1));
                prop_assert!(col as usize <= text.chars().count() + 1);
            }
        }
    }

    #[test]
    fn detectors_never_panic_and_point_inside(text in hostile_text(), raw in ".{0,200}") {
        for t in [&text, &raw] {
            let mut hits = Vec::new();
            unicode::scan_text(t, &mut hits);
            for h in &hits {
                prop_assert!(t.is_char_boundary(h.start) && h.start <= t.len());
            }
            let mut inj = Vec::new();
            inject::scan_text(t, &mut inj);
            for h in &inj {
                prop_assert!(h.start <= h.end && h.end <= t.len());
            }
        }
    }

    #[test]
    fn whole_file_scan_never_panics(lines in prop::collection::vec(hostile_text(), 0..30), bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, lines.join("\n")).unwrap();
        let opts = ScanOptions { limits: DatasetLimits { max_line_bytes: 64, ..limits() }, ..ScanOptions::default() };
        let _ = scan_file(&a, &opts);
        let b = dir.path().join("b.csv");
        std::fs::write(&b, &bytes).unwrap();
        let _ = scan_file(&b, &opts);
        let c = dir.path().join("c.jsonl");
        std::fs::write(&c, &bytes).unwrap();
        let _ = scan_file(&c, &opts);
    }
}
