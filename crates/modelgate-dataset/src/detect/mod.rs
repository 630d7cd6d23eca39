//! The poisoning detectors. Row-local ones (`unicode`, `inject`) see one field at a time;
//! dataset-level ones (`dedup`, `trigger`) see compact per-row summaries.

pub mod dedup;
pub mod inject;
pub mod trigger;
pub mod unicode;
