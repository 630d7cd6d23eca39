#!/usr/bin/env python3
"""Generates the scanner test corpus: tests/corpus/{benign,malicious}/** and
tests/corpus/expectations.json.

    scripts/python-env.sh corpus
    .venv/bin/python tests/corpus/generate.py

Deterministic: fixed seeds, fixed timestamps in every zip, gzip and Keras metadata, so a re-run
with the package versions recorded in expectations.json reproduces the same bytes (check with
`git status` after running). Hostile files carry harmless payloads (`echo modelgate-corpus`),
and nothing written here is ever loaded or executed by this script.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("PYTHONHASHSEED", "0")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpuslib import (  # noqa: E402
    gen_formats,
    gen_joblib,
    gen_keras,
    gen_numpy,
    gen_pickle,
    gen_repo,
    gen_torch,
)
from corpuslib.registry import Corpus  # noqa: E402


def main() -> int:
    for sub in ("benign", "malicious"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    corpus = Corpus(HERE)
    for module in (gen_pickle, gen_torch, gen_numpy, gen_joblib, gen_formats, gen_keras,
                   gen_repo):
        module.generate(corpus)
    corpus.write_expectations("tests/corpus/generate.py")
    total = sum((HERE / e["path"]).stat().st_size for e in corpus.files)
    kinds = {k: sum(1 for e in corpus.files if e["kind"] == k) for k in ("benign", "malicious")}
    print(f"wrote {len(corpus.files)} files ({kinds['benign']} benign, "
          f"{kinds['malicious']} malicious), {total / 1e6:.2f} MB, under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
