//! Fuzzes the `.npy` header parser and its literal parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::npy::parse_header;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = parse_header(&data, &Limits::default()) {
        let _ = header.data_len();
        assert!(header.data_offset <= data.len() as u64);
    }
});
