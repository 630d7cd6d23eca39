//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans a legacy Keras HDF5 file.
pub fn scan_hdf5(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}

/// Checks a Keras model config (the `config.json` of a `.keras` archive, or HDF5 `model_config`).
pub fn check_config_json(_ctx: &mut Ctx<'_>, _json: &[u8]) {}
