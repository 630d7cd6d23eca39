//! Fuzzes the tar walker and the legacy torch member delimiters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::tar::{TarArchive, legacy_torch};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let tar = TarArchive::parse(&data, &limits);
    for entry in &tar.entries {
        assert!(entry.data_offset >= entry.header_offset);
    }
    let _ = legacy_torch::storages_pickles(&data, &limits);
    let _ = legacy_torch::tensors_pickles(&data, &limits);
});
