#!/usr/bin/env bash
# Builds modelgate and runs its main job on the bundled examples, with embedded defaults only
# (SQLite store, the built-in mock model, the native sandbox; no services, no API keys):
#   1. a static scan of an example Hugging Face-style model repository that mixes clean files
#      with hostile ones (harmless payloads) — modelgate must say no (exit 1);
#   2. an evaluation with a pinned dataset on the built-in mock model, signed with a fresh key
#      (exit 0), then verification of its signed log and SLSA provenance (exit 0);
#   3. a sandboxed agent evaluation whose bash tool calls run in the modelgate sandbox.
# The script exits 0 when every step gave the verdict it should, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p modelgate-cli
mg=./target/release/modelgate
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0

step() { # expected-exit description command...
    local want=$1 what=$2
    shift 2
    echo
    echo "==> $what"
    echo "    \$ modelgate ${*:2}"
    set +e
    "$@"
    local got=$?
    set -e
    if [[ $got == "$want" ]]; then
        echo "    (exit $got, as expected)"
    else
        echo "    UNEXPECTED: exit $got, expected $want"
        failed=1
    fi
}

step 1 "scan: the example repository holds files that must never be loaded" \
    "$mg" scan examples/model-repo
"$mg" key generate --out "$work/release" >/dev/null
step 0 "eval: arithmetic on the built-in mock model, dataset pinned, log signed" \
    "$mg" eval run examples/eval/arithmetic.yaml --store "$work/store" \
    --sign-key "$work/release.priv.pem" --log "$work/arithmetic-log.json"
step 0 "verify: signature, SLSA provenance, sample chain and summary of that log" \
    "$mg" eval verify "$work/arithmetic-log.json" --key "$work/release.pub.pem"
step 0 "eval: an agent whose bash calls run in the sandbox (uid 65534, no network)" \
    "$mg" eval run examples/eval/agent.yaml --store "$work/store" --log "$work/agent-log.json"

echo
if [[ $failed == 0 ]]; then
    echo "demo: every step gave the expected verdict."
else
    echo "demo: a step did not give the expected verdict (see above)."
fi
exit "$failed"
