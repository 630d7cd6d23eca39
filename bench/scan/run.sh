#!/usr/bin/env bash
# Peer benchmark: modelgate vs modelscan, fickling (--check-safety) and picklescan, side by side,
# on (a) the test corpus (tests/corpus) and (b) a >= 1 GB torch checkpoint and a >= 1 GB
# safetensors file generated into bench/out/big/, with sha256sum on the big files as the
# disk-speed yardstick. Writes raw JSON to bench/out/ and the report to docs/benchmarks/scan.md.
#
#   bench/scan/run.sh                      # everything
#   TOOLS=modelgate bench/scan/run.sh      # re-run only modelgate; keeps the peers' last results
#   SKIP_BIG=1 bench/scan/run.sh           # corpus only
#   TOOLS=none SKIP_BIG=1 bench/scan/run.sh # re-render the report from bench/out/results.json
#   REPEAT=5 bench/scan/run.sh             # best of 5 timed runs per tool (default 3)
#
# Needs: Python 3.11 (scripts/python-env.sh builds .venv), cargo, GNU time (installed with
# apt-get if missing and running as root). Not part of CI: it installs torch and writes 2 GB.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/bench/out"
TOOLS="${TOOLS:-modelgate,modelscan,picklescan,fickling}"
cd "$ROOT"

"$ROOT/scripts/python-env.sh" all

if [[ ! -x /usr/bin/time ]]; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && apt-get install -y -qq time >/dev/null
    else
        echo "run.sh: GNU time (/usr/bin/time) is missing; install Debian's 'time' package" >&2
        exit 2
    fi
fi

MODELGATE="${CARGO_TARGET_DIR:-$ROOT/target}/release/modelgate"
if [[ ",$TOOLS," == *",modelgate,"* ]]; then
    # A modelgate that does not build is reported as "not run", not a failed benchmark.
    cargo build --release --locked -p modelgate-cli || echo "run.sh: modelgate did not build; its rows will be missing" >&2
fi

BIG=()
if [[ -z "${SKIP_BIG:-}" ]]; then
    "$ROOT/.venv/bin/python" "$ROOT/bench/scan/make_big.py" "$OUT/big"
    BIG=("$OUT/big/checkpoint_1g.pt" "$OUT/big/weights_1g.safetensors")
fi

"$ROOT/.venv/bin/python" "$ROOT/bench/scan/bench.py" \
    --root "$ROOT" --out "$OUT" --modelgate "$MODELGATE" --tools "$TOOLS" \
    --doc "$ROOT/docs/benchmarks/scan.md" --repeat "${REPEAT:-3}" --big "${BIG[@]}"
