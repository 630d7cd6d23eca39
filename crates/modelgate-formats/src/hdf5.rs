//! (placeholder: implemented by its issue work; intentionally empty)
