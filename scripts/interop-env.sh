#!/usr/bin/env bash
# Creates .venv-interop with the pinned Python packages that modelgate's interop tests run against
# (model-signing, securesystemslib, sigstore-python, cyclonedx-python-lib's JSON validator;
# scripts/interop-requirements.txt). Idempotent: does nothing when the venv already holds exactly
# these pins. Uses only PyPI.
#
# The tests in crates/modelgate-cli/tests/{attest,sbom}.rs look for .venv-interop/bin/python; they
# fail when it is missing and CI is set, and skip loudly otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-interop
requirements=scripts/interop-requirements.txt
stamp="$venv/.modelgate-requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "==> $venv is up to date"
    exit 0
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "error: cannot run $python, or it is older than 3.10 (model-signing needs 3.10+; set PYTHON=...)" >&2
    exit 2
fi

echo "==> creating $venv ($("$python" --version))"
rm -f "$stamp"
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --requirement "$requirements"
"$venv/bin/python" -c 'import model_signing, securesystemslib, sigstore, OpenSSL, cyclonedx.validation.json; print("==> model-signing", model_signing.__version__)'
echo "$want" > "$stamp"
