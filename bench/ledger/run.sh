#!/usr/bin/env bash
# Ledger benchmark: seeds a store with ARTIFACTS artifacts and ENTRIES ledger entries (signed
# checkpoints every 1000), then times `ledger verify` (chain only, and with the checkpoint key)
# and artifact look-ups (`registry show` by name and by digest, `registry list --state`).
#
#   bench/ledger/run.sh [ARTIFACTS [ENTRIES]]     (defaults: 10000 1000000)
#
# Figures and machine notes go to docs/benchmarks/ledger.md. Needs only cargo.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARTIFACTS=${1:-10000}
ENTRIES=${2:-1000000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/modelgate-ledger-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Two builds: `--example` alone restricts the targets to examples.
cargo build --release --locked -q -p modelgate-cli
cargo build --release --locked -q -p modelgate-store --example seed_ledger
BIN=target/release/modelgate
SEED=target/release/examples/seed_ledger

echo "== machine"
nproc; uptime
echo "== seed ($ARTIFACTS artifacts, $ENTRIES entries)"
"$BIN" key generate --out "$WORK/ledger" >/dev/null
"$SEED" "$WORK/store" "$ARTIFACTS" "$ENTRIES" "$WORK/ledger.priv.pem"
du -sh "$WORK/store"

timeit() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$WORK/out.txt"
  end=$(date +%s.%N)
  printf '%-40s %8.3f s\n' "$label" "$(echo "$end - $start" | bc)"
}

export MODELGATE_STORE="$WORK/store"
echo "== timings (each run twice: cold-ish, then warm page cache)"
for i in 1 2; do
  timeit "ledger verify" "$BIN" ledger verify
  timeit "ledger verify --key" "$BIN" ledger verify --key "$WORK/ledger.pub.pem"
done
tail -n 2 "$WORK/out.txt"
DIGEST=$("$BIN" registry list --limit 1 --format json | sed -n 's/.*"digest": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -1)
for i in 1 2; do
  timeit "registry show NAME (3 versions)" "$BIN" registry show model-42
  timeit "registry show DIGEST" "$BIN" registry show "$DIGEST"
  timeit "registry list --state staging" "$BIN" registry list --state staging
  timeit "registry list --limit 10000" "$BIN" registry list --limit 10000
done
timeit "ledger export (JSONL)" "$BIN" ledger export --output "$WORK/export.jsonl"
wc -l <"$WORK/export.jsonl"
