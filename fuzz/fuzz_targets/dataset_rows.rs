//! Fuzzes the dataset row parsers (JSONL and CSV) and the row-local detectors (deceptive
//! Unicode, prompt injection) on arbitrary text: none may panic, and every column they report
//! must fall inside the row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_dataset::detect::{inject, unicode};
use modelgate_dataset::{DatasetLimits, parse_csv_record, parse_jsonl_line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = DatasetLimits { max_depth: 16, max_fields: 256, ..DatasetLimits::default() };
    if let Ok(row) = parse_jsonl_line(text, 1, &limits) {
        for (i, f) in row.fields.iter().enumerate() {
            let (_, col) = row.locate(i, f.value.len().saturating_sub(1));
            assert!(col as usize <= text.chars().count() + 1);
        }
    }
    let header = vec!["a".to_owned(), "b".to_owned()];
    let _ = parse_csv_record(text, 1, &header, &limits);
    let mut hits = Vec::new();
    unicode::scan_text(text, &mut hits);
    for h in &hits {
        assert!(text.is_char_boundary(h.start));
    }
    let mut inj = Vec::new();
    inject::scan_text(text, &mut inj);
});
