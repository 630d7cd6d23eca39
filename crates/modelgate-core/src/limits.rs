//! Every bound hostile input can push against, in one place.
//!
//! Defaults are sized so that real checkpoints (multi-GB torch files whose pickle is a few MB,
//! GGUF files with 150k-entry vocabularies) scan clean, while a crafted file cannot make the
//! scanner allocate, recurse or loop without limit. Hitting a limit is reported as a finding
//! (`MG002 limit-exceeded`), never a silent pass.

use serde::{Deserialize, Serialize};

/// Size, depth, count and time limits for parsing untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest pickle stream analysed, in bytes (a raw pickle file, or an archive member).
    pub max_pickle_bytes: u64,
    /// Most opcodes executed symbolically per pickle stream.
    pub max_pickle_ops: u64,
    /// Deepest symbolic stack (including marks) per pickle.
    pub max_pickle_stack: usize,
    /// Most memo entries per pickle.
    pub max_pickle_memo: usize,
    /// Most bytes of one pickle string/bytes value kept for analysis; longer values are skipped
    /// over and only their length and a prefix are kept.
    pub max_pickle_value_bytes: usize,
    /// Most pickles read back to back from one stream (legacy torch files hold several).
    pub max_pickles_per_stream: usize,
    /// Most symbolic values (strings, containers, calls, container items) one pickle stream may
    /// build; bounds the stack machine's memory on hostile streams.
    pub max_pickle_values: usize,
    /// Most bytes of embedded pickles (constant bytes/str values that are pickles themselves)
    /// kept from one stream for nested scanning.
    pub max_pickle_embedded_bytes: u64,
    /// Most members listed from one archive.
    pub max_archive_members: usize,
    /// Most bytes any one decompressed stream or archive member may expand to.
    pub max_decompressed_bytes: u64,
    /// Largest compression ratio accepted (expanded / compressed) once past
    /// `compression_ratio_floor` expanded bytes.
    pub max_compression_ratio: u64,
    /// Expanded bytes below which the compression ratio is not checked. Deflate cannot exceed
    /// about 1032:1, so a zero-filled array saved with `np.savez_compressed` or joblib reaches
    /// the ratio limit by itself; below this size such streams are harmless and not reported.
    pub compression_ratio_floor: u64,
    /// Most bytes of one decompressed stream or deflated archive member held in memory for
    /// scanning; a larger stream is reported as `MG002` (its first bytes are still scanned).
    pub max_in_memory_bytes: u64,
    /// Most bytes of archive bookkeeping read for one archive: a zip's central directory, tar
    /// long names and pax headers, a `.npy` header.
    pub max_archive_metadata_bytes: u64,
    /// Deepest nesting of containers (zip in gzip in tar …).
    pub max_nesting_depth: u32,
    /// Largest JSON document parsed (safetensors header, configs).
    pub max_json_bytes: u64,
    /// Deepest JSON nesting accepted.
    pub max_json_depth: u32,
    /// Most GGUF metadata key/value pairs.
    pub max_gguf_kv: u64,
    /// Most GGUF tensors.
    pub max_gguf_tensors: u64,
    /// Longest GGUF string.
    pub max_gguf_string_bytes: u64,
    /// Most elements in one GGUF array.
    pub max_gguf_array_len: u64,
    /// Largest chat template inspected, in bytes.
    pub max_template_bytes: u64,
    /// Largest protobuf message (ONNX) parsed field-by-field; tensor payloads are skipped.
    pub max_protobuf_depth: u32,
    /// Most ONNX items kept from one model: distinct operator kinds, opset imports, local
    /// functions, external-data tensors and metadata entries together.
    pub max_onnx_items: u64,
    /// Largest HDF5 attribute or header structure read.
    pub max_hdf5_bytes: u64,
    /// Most findings kept per file (further findings are counted, not stored).
    pub max_findings_per_file: usize,
    /// Most files walked from one path.
    pub max_files: usize,
    /// Deepest directory recursion.
    pub max_dir_depth: u32,
    /// Wall-clock budget for analysing one file, in milliseconds (0 = none).
    pub file_time_budget_ms: u64,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pickle_bytes: 4 * GIB,
            max_pickle_ops: 50_000_000,
            max_pickle_stack: 100_000,
            max_pickle_memo: 10_000_000,
            max_pickle_value_bytes: 64 * 1024 * 1024,
            max_pickles_per_stream: 64,
            max_pickle_values: 10_000_000,
            max_pickle_embedded_bytes: 256 * MIB,
            max_archive_members: 200_000,
            max_decompressed_bytes: 8 * GIB,
            max_compression_ratio: 1_000,
            compression_ratio_floor: 64 * MIB,
            max_in_memory_bytes: GIB,
            max_archive_metadata_bytes: 256 * MIB,
            max_nesting_depth: 6,
            max_json_bytes: 100 * MIB,
            max_json_depth: 128,
            max_gguf_kv: 1_000_000,
            max_gguf_tensors: 10_000_000,
            max_gguf_string_bytes: 64 * MIB,
            max_gguf_array_len: 50_000_000,
            max_template_bytes: 1024 * 1024,
            max_protobuf_depth: 64,
            max_onnx_items: 1_000_000,
            max_hdf5_bytes: 64 * MIB,
            max_findings_per_file: 1_000,
            max_files: 1_000_000,
            max_dir_depth: 64,
            file_time_budget_ms: 120_000,
        }
    }
}
