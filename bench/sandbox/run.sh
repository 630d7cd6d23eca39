#!/usr/bin/env bash
# Side-by-side benchmark of contained `/bin/true`: modelgate's native sandbox (library and CLI)
# against bubblewrap configured for the same isolation (all namespaces, uid 65534, no
# capabilities, read-only /usr and /etc, fresh /proc, minimal /dev, tmpfs /tmp and /workspace,
# cleared environment, and modelgate's own seccomp program passed to `bwrap --seccomp`).
#
# Needs root (as the sandbox itself does). Installs Debian's `bubblewrap` if missing.
# Output: bench/out/sandbox/{results.json,table.md,machine.txt}.
# Knobs: RUNS (default 200 per configuration), WORKERS (default 2, the machine's cores).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS="${RUNS:-200}"
WORKERS="${WORKERS:-2}"
OUT=bench/out/sandbox
mkdir -p "$OUT"

if ! command -v bwrap >/dev/null 2>&1; then
    echo "==> installing bubblewrap (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap >/dev/null 2>&1 || {
        apt-get update >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap >/dev/null
    }
fi

echo "==> building (release)"
cargo build --release --locked -p modelgate-cli
cargo build --release --locked -p modelgate-sandbox --example sandbox_bench

{
    echo "kernel: $(uname -r)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
    echo "bubblewrap: $(bwrap --version)"
    echo "rustc: $(rustc --version)"
    echo "modelgate: $(target/release/modelgate --version)"
    echo "runs per configuration: $RUNS, parallel workers: $WORKERS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

echo "==> measuring"
target/release/examples/sandbox_bench --runs "$RUNS" --workers "$WORKERS" \
    --cli target/release/modelgate --bwrap "$(command -v bwrap)" --table "$OUT/table.md" > "$OUT/results.json"
cat "$OUT/table.md"
