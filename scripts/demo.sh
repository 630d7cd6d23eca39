#!/usr/bin/env bash
# Builds modelgate and runs its main job on the bundled examples: a static scan of an example
# Hugging Face-style model repository that mixes clean files with hostile ones (harmless payloads).
# Exit status is modelgate's: 1 here, because the example contains files that must not be loaded.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p modelgate-cli
echo "==> modelgate scan examples/model-repo"
set +e
./target/release/modelgate scan examples/model-repo
status=$?
set -e
echo
echo "modelgate exited with $status (0 = clean, 1 = findings at or above --fail-on, 2 = error)."
exit "$status"
