#!/usr/bin/env bash
# Runs modelgate's whole test suite: formatting, lints (warnings are errors), unit, property,
# integration, corpus and doc tests. Test fixtures are committed together with the generators that
# made them; the one Python set-up is .venv-interop (scripts/interop-env.sh, pinned packages from
# PyPI), which the signing interop tests run the reference implementations from.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "==> interop venv (model-signing, securesystemslib, sigstore-python)"
./scripts/interop-env.sh
echo "==> cargo test"
cargo test --workspace --locked
