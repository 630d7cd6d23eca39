#!/usr/bin/env bash
# Dataset benchmark: generates the 20,000-row instruction dataset with its poisoned variants and
# ground truth, scores `modelgate dataset scan` against it (recall, precision, clean control),
# then measures throughput and peak memory on a larger file. Python standard library only.
#
#   ./bench/dataset/run.sh [ROWS] [BIG_ROWS]
#
# Results are printed as Markdown (paste into docs/benchmarks/dataset.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-20000}"
BIG_ROWS="${2:-200000}"
OUT=bench/out/dataset
BIG=bench/out/dataset-big

cargo build --release --locked -p modelgate-cli
BIN=target/release/modelgate

echo "==> generating $ROWS rows + poisoned variants into $OUT"
python3 bench/dataset/generate.py --rows "$ROWS" --out "$OUT"
echo "==> generating $BIG_ROWS clean rows into $BIG (throughput)"
python3 bench/dataset/generate.py --rows "$BIG_ROWS" --seed 11 --out "$BIG" --only none

echo
echo "## Detection ($ROWS rows, $(python3 --version 2>&1), $(nproc) cores)"
python3 bench/dataset/evaluate.py --bin "$BIN" --data "$OUT"

echo
echo "## Throughput"
size=$(stat -c %s "$BIG/clean.jsonl")
for run in 1 2 3; do
  /usr/bin/time -f "%e %U %S %M" -o "$BIG/time.txt" "$BIN" dataset scan "$BIG/clean.jsonl" --format json -o "$BIG/report.json" || true
  read -r wall user sys rss < <(tail -n 1 "$BIG/time.txt")
  python3 - "$size" "$wall" "$user" "$sys" "$rss" <<'PY'
import sys
size, wall, user, sys_, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"| {size / 1e6:.1f} MB | {wall:.2f} s | {size / wall / 1e6:.1f} MB/s | {(user + sys_):.2f} s CPU ({size / (user + sys_) / 1e6:.1f} MB per CPU-second) | {rss / 1024:.0f} MiB |")
PY
done
echo "load average during the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
