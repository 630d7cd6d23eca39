//! Streaming SHA-256 of whole files, with a fixed-size buffer (memory independent of size).

use std::fs::File;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

const BUF: usize = 1024 * 1024;

/// SHA-256 of everything `reader` yields, as lowercase hex, and the byte count.
pub(crate) fn sha256_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((modelgate_core::to_hex(&hasher.finalize()), total))
}

/// SHA-256 of a file from its start, read sequentially (so the kernel's read-ahead applies).
pub(crate) fn sha256_file(file: &File) -> io::Result<(String, u64)> {
    sha256_reader(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        let (hex, n) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
