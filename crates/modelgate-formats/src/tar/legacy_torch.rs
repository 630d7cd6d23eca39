//! Legacy torch (placeholder)
