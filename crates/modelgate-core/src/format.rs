//! The file formats the scanner recognises by content.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A format recognised from a file's content (magic bytes and structure), not its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// A raw Python pickle stream (`.pkl`, `.pickle`, legacy `.pt`/`.bin`, joblib).
    Pickle,
    /// A PyTorch zip checkpoint (`torch.save` since 1.6).
    TorchZip,
    /// A PyTorch legacy tar checkpoint.
    TorchTar,
    /// Any other zip archive.
    Zip,
    /// Any other tar archive.
    Tar,
    /// NumPy `.npy`.
    Npy,
    /// NumPy `.npz` (a zip of `.npy` members).
    Npz,
    /// A joblib dump (a pickle with inline NumPy array data).
    Joblib,
    /// safetensors.
    Safetensors,
    /// GGUF (llama.cpp).
    Gguf,
    /// ONNX protobuf.
    Onnx,
    /// Keras v3 `.keras` zip.
    Keras,
    /// HDF5 (legacy Keras `.h5`).
    Hdf5,
    /// gzip stream.
    Gzip,
    /// bzip2 stream.
    Bzip2,
    /// xz stream.
    Xz,
    /// legacy `.lzma` stream.
    Lzma,
    /// zlib stream.
    Zlib,
    /// Zstandard stream.
    Zstd,
    /// LZ4 frame (joblib `compress='lz4'`); recognised, not expanded.
    Lz4,
    /// JSON text.
    Json,
    /// Python source.
    Python,
    /// Other text.
    Text,
    /// Not recognised; hashed but not parsed.
    Unknown,
}

impl FileFormat {
    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Pickle => "pickle",
            FileFormat::TorchZip => "torch-zip",
            FileFormat::TorchTar => "torch-tar",
            FileFormat::Zip => "zip",
            FileFormat::Tar => "tar",
            FileFormat::Npy => "npy",
            FileFormat::Npz => "npz",
            FileFormat::Joblib => "joblib",
            FileFormat::Safetensors => "safetensors",
            FileFormat::Gguf => "gguf",
            FileFormat::Onnx => "onnx",
            FileFormat::Keras => "keras",
            FileFormat::Hdf5 => "hdf5",
            FileFormat::Gzip => "gzip",
            FileFormat::Bzip2 => "bzip2",
            FileFormat::Xz => "xz",
            FileFormat::Lzma => "lzma",
            FileFormat::Zlib => "zlib",
            FileFormat::Zstd => "zstd",
            FileFormat::Lz4 => "lz4",
            FileFormat::Json => "json",
            FileFormat::Python => "python",
            FileFormat::Text => "text",
            FileFormat::Unknown => "unknown",
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
