#!/usr/bin/env bash
# Runs modelgate's whole test suite: formatting, lints (warnings are errors), unit, property,
# integration, corpus and doc tests. Needs only the Rust toolchain; test fixtures are committed
# together with the generators that made them, so no Python package is installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "==> cargo test"
cargo test --workspace --locked
