"""Keras fixtures, written with the real Keras 3 API (torch backend) and then re-zipped with
pinned timestamps and a pinned ``date_saved`` so the bytes are reproducible."""

from __future__ import annotations

import io
import json
import os
import pathlib
import tempfile
import zipfile

from .registry import Corpus

FIXED_DATE = "2024-01-01@00:00:00"
LAMBDA_SOURCE = (
    'lambda t, armed=False: __import__("os").system("echo modelgate-corpus") if armed else t'
)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(0)
    return keras


def dense_model(with_lambda: bool = False):
    keras = _keras()
    inputs = keras.Input((8,), name="features")
    x = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    if with_lambda:
        # The payload sits in a branch the default argument never takes, so building the model
        # here does not run it; loading the model with safe_mode=False deserializes the bytecode.
        # Compiled from a string with a fixed file name so the marshalled bytecode does not
        # depend on where the generator is checked out.
        fn = eval(compile(LAMBDA_SOURCE, "<modelgate-corpus>", "eval"))  # noqa: S307
        x = keras.layers.Lambda(fn, name="lambda_payload")(x)
    outputs = keras.layers.Dense(2, name="logits")(x)
    return keras.Model(inputs, outputs, name="modelgate_corpus")


def _renumber_shared_ids(node, seen: dict) -> None:
    """Keras writes id() of shared objects as shared_object_id; renumber them 1, 2, ..."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "shared_object_id" and isinstance(value, int):
                node[key] = seen.setdefault(value, len(seen) + 1)
            else:
                _renumber_shared_ids(value, seen)
    elif isinstance(node, list):
        for item in node:
            _renumber_shared_ids(item, seen)


def _normalize_keras_zip(data: bytes, edit_config=None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(body)
                meta["date_saved"] = FIXED_DATE
                body = json.dumps(meta).encode()
            if info.filename == "config.json":
                cfg = json.loads(body)
                _renumber_shared_ids(cfg, {})
                if edit_config is not None:
                    edit_config(cfg)
                body = json.dumps(cfg).encode()
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = info.compress_type
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def keras_bytes(model, suffix: str, edit_config=None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"model{suffix}"
        model.save(str(path))
        data = path.read_bytes()
    if suffix == ".keras":
        data = _normalize_keras_zip(data, edit_config)
    return data


def _layer(cfg: dict, name: str) -> dict:
    for layer in cfg["config"]["layers"]:
        if layer["config"].get("name") == name:
            return layer
    raise KeyError(name)


def generate(c: Corpus) -> None:
    c.benign("benign/keras/dense.keras", keras_bytes(dense_model(), ".keras"),
             "Keras 3 model.save(.keras) of a Dense model (no Lambda)")
    c.benign("benign/keras/dense_legacy.h5", keras_bytes(dense_model(), ".h5"),
             "Keras 3 legacy HDF5 model.save(.h5) of a Dense model (no Lambda)")
    M = "malicious/keras"
    c.malicious(f"{M}/lambda_layer.keras", keras_bytes(dense_model(True), ".keras"),
                "Keras 3 .keras with a Lambda layer whose marshalled bytecode calls os.system",
                ["MG408"])
    c.malicious(f"{M}/lambda_layer_legacy.h5", keras_bytes(dense_model(True), ".h5"),
                "legacy Keras .h5 whose model_config attribute holds a Lambda layer",
                ["MG408"])

    def os_system_activation(cfg):
        _layer(cfg, "hidden")["config"]["activation"] = {
            "module": "os", "class_name": "system",
            "config": {"command": "echo modelgate-corpus"}, "registered_name": "system"}

    c.malicious(f"{M}/custom_object_module_os.keras",
                keras_bytes(dense_model(), ".keras", os_system_activation),
                "config.json activation object with module 'os', class_name 'system'",
                ["MG409"])

    def builtins_exec_layer(cfg):
        layer = _layer(cfg, "logits")
        layer["module"] = "builtins"
        layer["class_name"] = "exec"
        layer["registered_name"] = "exec"

    c.malicious(f"{M}/custom_object_builtins_exec.keras",
                keras_bytes(dense_model(), ".keras", builtins_exec_layer),
                "config.json layer whose module is 'builtins' and class_name 'exec'",
                ["MG409"])
