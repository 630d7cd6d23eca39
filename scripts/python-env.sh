#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment `.venv` at the repository root, used by
# the corpus generator (tests/corpus/generate.py), the example generator (examples/generate.py)
# and the peer benchmark (bench/scan/run.sh). Nothing in the Rust build or test suite needs it.
#
#   scripts/python-env.sh [corpus|peers|all]     (default: all)
#
#   corpus  torch, numpy, joblib, scikit-learn, h5py, onnx, gguf, safetensors, keras, zstandard
#           (scripts/requirements-corpus.txt)
#   peers   modelscan, fickling, picklescan (scripts/requirements-peers.txt)
#
# Versions are pinned in those files. Re-running is cheap: a set whose requirements file has not
# changed since it was last installed is skipped. Needs Python 3.11 (set PYTHON to choose the
# interpreter); on Debian it installs python3-venv with apt-get when the venv module is missing.
# Only PyPI is used (torch from PyPI pulls CUDA wheels; that is expected, only the CPU is used).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
SET="${1:-all}"

case "$SET" in
corpus) SETS=(corpus) ;;
peers) SETS=(peers) ;;
all) SETS=(corpus peers) ;;
-h | --help)
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "python-env.sh: unknown set '$SET' (expected corpus, peers or all)" >&2
    exit 2
    ;;
esac

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
        return
    fi
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo ""
}

PY="$(find_python)"
if [[ -z "$PY" ]]; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
        PY=python3
    else
        echo "python-env.sh: no python3 found; install Python 3.11 (Debian: apt-get install python3 python3-venv)" >&2
        exit 2
    fi
fi

PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$PYVER" != "3.11" ]]; then
    echo "python-env.sh: warning: $PY is Python $PYVER; the corpus was generated with 3.11 (set PYTHON=python3.11)" >&2
fi

# Debian splits venv/ensurepip into python3-venv (or python3.X-venv).
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        echo "python-env.sh: installing python${PYVER}-venv with apt-get" >&2
        apt-get update -qq
        apt-get install -y -qq "python${PYVER}-venv" >/dev/null 2>&1 ||
            apt-get install -y -qq python3-venv >/dev/null
    else
        echo "python-env.sh: the venv module is missing; install it (Debian: apt-get install python3-venv)" >&2
        exit 2
    fi
fi

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "python-env.sh: creating $VENV with $PY ($PYVER)" >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
for set in "${SETS[@]}"; do
    req="$ROOT/scripts/requirements-$set.txt"
    stamp="$VENV/.modelgate-$set.sha256"
    want="$(sha256sum "$req" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "python-env.sh: '$set' already installed from $(basename "$req")" >&2
        continue
    fi
    note=""
    [[ "$set" == corpus ]] && note=" (torch with its CUDA wheels is several GB: this takes a while)"
    echo "python-env.sh: installing '$set' from $(basename "$req")$note" >&2
    "$VENV/bin/python" -m pip install --quiet -r "$req"
    echo "$want" >"$stamp"
done

echo "python-env.sh: $VENV ready; versions installed:" >&2
"$VENV/bin/python" - "${SETS[@]}" <<'PY'
import re
import sys
from importlib import metadata

print(f"python {sys.version.split()[0]}")
for name in sys.argv[1:]:
    path = f"scripts/requirements-{name}.txt"
    import pathlib
    root = pathlib.Path(sys.prefix).parent
    for line in (root / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        pkg = re.split(r"[\[=<>!~ ]", line, maxsplit=1)[0]
        try:
            print(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            print(f"{pkg} MISSING")
            sys.exit(1)
PY
