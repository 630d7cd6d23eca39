//! Evaluation specs (YAML, strict).
