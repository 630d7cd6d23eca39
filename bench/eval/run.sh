#!/usr/bin/env bash
# modelgate's eval runner vs Inspect AI, side by side, against one local OpenAI-compatible stub
# server answering after a fixed latency (default 50 ms). Figures: docs/benchmarks/eval.md.
#
#   bench/eval/run.sh [HARNESS OPTIONS]     e.g. --concurrency 1,16 --repeat 3
#
# 1. bench/eval/setup.sh: the pinned Inspect AI venv (bench/eval/.venv).
# 2. Release builds of the modelgate CLI and the stub server example.
# 3. bench/eval/harness.py starts ONE stub server (`--mode calc`: it evaluates the arithmetic in
#    the question, so every answer is right) and, for each concurrency (1, 16, 64, 256), runs
#    `modelgate eval run` and `inspect eval` on the same dataset file under /usr/bin/time:
#    wall time, samples/s, user+sys CPU seconds, peak RSS, accuracy (must be 100 %), and the
#    server's own CPU seconds. Items per run: concurrency x 10 s / latency (at least 200), so a
#    run at the latency bound lasts ~10 s; Inspect gets at most 6,000 (--inspect-max-items),
#    as it is ~10-100x slower per item. Then both tools run against a closed port: exit codes.
# Output: bench/out/eval/results.{md,csv}, exit-codes.md, env.txt, runs/* (each run's output).
#
# The stub server shares the machine's cores with the tool being measured (no pinning): its
# CPU is reported separately so a reader can see when the server, not the tool, was the limit.
# The server is the Rust example `stub_server` of modelgate-eval, or bench/eval/py_stub.py when
# that example is missing or STUB=python is set.
# Needs: cargo, python3 (>= 3.10, with venv), /usr/bin/time (Debian package `time`), PyPI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/bench/out/eval"
cd "$ROOT"

if [[ ! -x /usr/bin/time ]]; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    else
        echo "run.sh: /usr/bin/time is missing (Debian: apt-get install time)" >&2
        exit 2
    fi
fi

bench/eval/setup.sh
echo "run.sh: building modelgate and the stub server (release)" >&2
cargo build --release --locked --quiet -p modelgate-cli
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MODELGATE="$TARGET/release/modelgate"
# The Rust stub server example; bench/eval/py_stub.py (same command line) when the example is
# not in this checkout, or when STUB=python.
if [[ "${STUB:-rust}" != python && -f crates/modelgate-eval/examples/stub_server.rs ]]; then
    cargo build --release --locked --quiet -p modelgate-eval --example stub_server
    STUB_CMD=("$TARGET/release/examples/stub_server")
    STUB_NAME="Rust stub_server example (modelgate-eval)"
else
    STUB_CMD=(python3 "$ROOT/bench/eval/py_stub.py")
    STUB_NAME="bench/eval/py_stub.py (Python asyncio, $(python3 --version 2>&1))"
    echo "run.sh: using $STUB_NAME as the server" >&2
fi

mkdir -p "$OUT"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "uptime before: $(uptime)"
    echo "rustc: $(rustc --version)"
    echo "modelgate: $("$MODELGATE" --version)"
    echo "server: $STUB_NAME"
    echo "python: $(bench/eval/.venv/bin/python --version 2>&1)"
    echo "inspect-ai: $(bench/eval/.venv/bin/python -c 'from importlib.metadata import version as v; print(v("inspect-ai"), "/ openai", v("openai"))')"
} >"$OUT/env.txt"
cat "$OUT/env.txt" >&2

status=0
bench/eval/.venv/bin/python bench/eval/harness.py --modelgate "$MODELGATE" --stub "${STUB_CMD[@]}" \
    --inspect bench/eval/.venv/bin/inspect --out "$OUT" "$@" || status=$?
echo "uptime after: $(uptime)" | tee -a "$OUT/env.txt" >&2
echo "run.sh: results in $OUT/results.md, $OUT/results.csv and $OUT/exit-codes.md" >&2
exit "$status"
