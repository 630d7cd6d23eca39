//! Fuzzes the zip walker and member access: parsing and opening every member must never panic
//! and must respect the expansion caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::compress::Caps;
use modelgate_formats::zip::{MemberData, ZipArchive, member_data};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        max_in_memory_bytes: 1 << 20,
        ..Limits::default()
    };
    let caps = Caps::from_limits(&limits);
    if let Ok(zip) = ZipArchive::parse(&data, &limits) {
        for entry in &zip.entries {
            if let Ok(MemberData::Expanded(out)) = member_data(&data, entry, &caps) {
                assert!(out.data.len() as u64 <= caps.max_in_memory);
            }
        }
    }
});
