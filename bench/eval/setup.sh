#!/usr/bin/env bash
# Creates (idempotently) bench/eval/.venv, the pinned Inspect AI environment that
# bench/eval/run.sh compares modelgate's eval runner against.
#
#   bench/eval/setup.sh
#
# Pins: bench/eval/requirements.txt (inspect-ai, openai) with every transitive package fixed by
# bench/eval/constraints.txt. Re-running is cheap: nothing is installed when neither file has
# changed since the last install. The venv is private to the benchmark (not the repository's
# .venv from scripts/python-env.sh) because inspect-ai brings ~85 packages (numpy, pydantic,
# boto3 …) whose pins have nothing to do with the corpus generator's torch/keras set; keeping
# them apart means neither environment can break the other. Needs Python >= 3.10 (3.11 is what
# was measured; set PYTHON to choose the interpreter) and PyPI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
REQ="$HERE/requirements.txt"
CON="$HERE/constraints.txt"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            PY="$candidate"
            break
        fi
    done
fi
if [[ -z "$PY" ]]; then
    echo "setup.sh: no python3 found (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup.sh: inspect-ai needs Python >= 3.10; $PY is $("$PY" --version 2>&1)" >&2
    exit 2
fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup.sh: the venv module is missing (Debian: apt-get install python3-venv)" >&2
    exit 2
fi

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "setup.sh: creating $VENV with $PY" >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp="$VENV/.modelgate-bench-eval.sha256"
want="$(cat "$REQ" "$CON" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup.sh: $VENV already up to date" >&2
else
    echo "setup.sh: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet -r "$REQ" -c "$CON"
    echo "$want" >"$stamp"
fi
"$VENV/bin/python" - <<'PY'
import sys
from importlib import metadata

print(f"setup.sh: python {sys.version.split()[0]}, inspect-ai {metadata.version('inspect-ai')}, "
      f"openai {metadata.version('openai')}", file=sys.stderr)
PY
