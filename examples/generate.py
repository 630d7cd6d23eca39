#!/usr/bin/env python3
"""Generates examples/model-repo/, the small Hugging Face-style repository that the README's
main command scans (`modelgate scan examples/model-repo`).

    scripts/python-env.sh corpus
    .venv/bin/python examples/generate.py

Reuses the corpus generator's helpers (tests/corpus/corpuslib). Deterministic; the two hostile
files carry harmless payloads (`echo modelgate-corpus`) and nothing here is ever loaded.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "corpus"))

from corpuslib import gen_repo, gen_torch, templates  # noqa: E402
from corpuslib.gen_formats import safetensors_bytes, small_model_tensors  # noqa: E402
from corpuslib.pickles import PY_PAYLOAD, Call, Global, os_system  # noqa: E402


def main() -> int:
    repo = HERE / "model-repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)

    def write(name: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        (repo / name).write_bytes(data)
        print(f"{name:24} {len(data):>7} bytes")

    write("config.json", json.dumps(gen_repo.config(), indent=2) + "\n")
    write("tokenizer_config.json",
          json.dumps(gen_repo.tokenizer_config(templates.LLAMA3), indent=2) + "\n")
    write("model.safetensors", safetensors_bytes(small_model_tensors(2), metadata={"format": "pt"}))
    model = gen_torch.mlp()
    # Hostile: a real torch.save of the model's state dict with os.system(cmd) in data.pkl.
    write("pytorch_model.bin",
          gen_torch.save({"state_dict": model.state_dict(), "hook": os_system()}, inject=True))
    # Hostile: training arguments whose pickle calls builtins.exec(source).
    write("training_args.bin",
          gen_torch.save({"output_dir": "out", "learning_rate": 5e-5, "num_train_epochs": 3,
                          "callback": Call(Global("builtins", "exec"), (PY_PAYLOAD,))},
                         inject=True))
    # Benign: the optimizer state after one Adam step.
    write("optimizer.pt", gen_torch.save(gen_torch.trained_optimizer(model).state_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
