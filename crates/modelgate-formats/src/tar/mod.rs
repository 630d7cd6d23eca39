//! (placeholder: tar parser in progress)
