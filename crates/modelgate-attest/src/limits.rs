//! Bounds on what a signature file or a model directory can make this crate read or allocate.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Size and count limits for attestation input. Every JSON document is read through
/// [`read_capped`], so an oversized or endless file is an error, not an allocation.
///
/// These sit here rather than in `modelgate_core::Limits` because only this crate reads these
/// formats; they follow the same rule (a limit reached is an error that names the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestLimits {
    /// Largest signature, bundle, envelope, predicate or policy JSON file accepted, in bytes.
    /// A manifest lists every file, so this is sized for about a million files.
    pub max_json_bytes: u64,
    /// Most resources (files or shards) in one manifest.
    pub max_resources: usize,
    /// Most files walked under one model directory.
    pub max_files: usize,
    /// Deepest directory nesting walked.
    pub max_dir_depth: usize,
    /// Longest resource name, in bytes.
    pub max_name_bytes: usize,
}

impl Default for AttestLimits {
    fn default() -> Self {
        AttestLimits {
            max_json_bytes: 256 * 1024 * 1024,
            max_resources: 2_000_000,
            max_files: 1_000_000,
            max_dir_depth: 64,
            max_name_bytes: 4096,
        }
    }
}

/// Why a capped read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than the limit.
    #[error("larger than the {limit}-byte limit for this kind of file")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
}

/// Reads a whole file, refusing (without reading further) one larger than `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path)?;
    let hint = file.metadata().map_or(0, |m| m.len());
    if hint > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    // Read one byte past the limit so a file that grows, or a pipe, is still caught.
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_capped(&p, 10).unwrap().len(), 10);
        assert!(matches!(
            read_capped(&p, 9),
            Err(ReadError::TooLarge { limit: 9 })
        ));
        assert!(matches!(
            read_capped(&dir.path().join("missing"), 9),
            Err(ReadError::Io(_))
        ));
    }
}
