//! Parsers for the file formats models arrive in. Every parser here is sans-I/O: it takes bytes
//! (a slice, a [`std::io::Read`], or a random-access [`ByteSource`]) plus explicit
//! [`modelgate_core::Limits`], and returns a typed structure or a typed error carrying the byte
//! offset. No parser trusts a length field from its input without a cap, recurses without a
//! bound, or panics on any input (each has a proptest "never panics" test and a fuzz target).
//!
//! Parsers describe; they do not judge. Deciding that a pickle's `os.system` import is dangerous
//! is a rule in `modelgate-scan`.
//!
//! ```
//! use modelgate_formats::ByteSource;
//!
//! let bytes: &[u8] = b"\x80\x04K\x01.";
//! let mut buf = [0u8; 2];
//! bytes.read_at(0, &mut buf).unwrap();
//! assert_eq!(buf, [0x80, 0x04]);
//! assert_eq!(ByteSource::len(bytes), 5);
//! ```
#![forbid(unsafe_code)]

pub mod compress;
pub mod gguf;
pub mod hdf5;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod protobuf;
pub mod safetensors;
mod source;
pub mod tar;
pub mod zip;

pub use source::{ByteSource, SourceError, SourceReader, SubSource};
