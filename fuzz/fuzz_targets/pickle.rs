//! Fuzzes the pickle stack machine, sniffer and explain views: no input may panic, and
//! analysis must stay within the limits it is given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::pickle;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pickle_ops: 100_000,
        max_pickle_values: 100_000,
        max_pickle_value_bytes: 1 << 16,
        ..Limits::default()
    };
    let _ = pickle::sniff(data);
    let analysis = pickle::analyze(data, &limits);
    assert!(analysis.bytes <= data.len() as u64);
    for item in pickle::Disassembler::new(data, &limits) {
        if item.is_err() {
            break;
        }
    }
    let explained = pickle::explain_stream(data, &limits);
    assert_eq!(explained.analysis.calls.len(), analysis.calls.len());
});
