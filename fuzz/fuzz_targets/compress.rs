//! Fuzzes every decompressor behind the caps: the first byte picks the codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_formats::compress::{Caps, Codec, decompress, sniff};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let codecs = [
        Codec::Gzip,
        Codec::Bzip2,
        Codec::Xz,
        Codec::Lzma,
        Codec::Zlib,
        Codec::Zstd,
        Codec::Deflate,
        Codec::ZipLzma { unpacked_size: None },
        Codec::ZipLzma { unpacked_size: Some(1 << 16) },
        Codec::JoblibZfile,
        Codec::Lz4Frame,
    ];
    let codec = codecs[usize::from(selector) % codecs.len()];
    let caps = Caps {
        max_expanded: 1 << 22,
        max_in_memory: 1 << 21,
        max_ratio: 1000,
        ratio_floor: 1 << 16,
    };
    let out = decompress(codec, &stream, &caps);
    assert!(out.data.len() as u64 <= caps.max_in_memory);
    let _ = sniff(stream);
});
