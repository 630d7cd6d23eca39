//! Fuzzes the HDF5 root-attribute reader and the JSON fallback search.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::hdf5;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_hdf5_bytes: 1 << 20, ..Limits::default() };
    let _ = hdf5::root_attributes(&data, &limits);
    let _ = hdf5::find_json_object(&data, br#"{"class_name""#, 1 << 20, 1 << 16);
});
