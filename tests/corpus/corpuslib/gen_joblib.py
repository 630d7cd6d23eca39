"""joblib dumps (plain and compressed, benign and with a payload) and raw pickles wrapped in
every compressor a loader might undo."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib

from .pickles import Call, Global, PY_PAYLOAD, dumps, os_system, register
from .registry import Corpus

COMPRESSORS = ["zlib", "gzip", "bz2", "xz", "lzma"]


def _joblib():
    import joblib
    from joblib import numpy_pickle

    # joblib's NumpyPickler copies pickle._Pickler.dispatch when it is defined; teach its copy too.
    register(numpy_pickle.NumpyPickler)
    return joblib


def joblib_bytes(obj, compress=0) -> bytes:
    joblib = _joblib()
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


def generate(c: Corpus) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    weights = {"coef": rng.standard_normal((4, 3)), "bias": np.zeros(3, dtype=np.float32)}
    evil = {"weights": weights, "preprocess": os_system()}
    c.malicious("malicious/joblib/dict_with_reduce_payload.joblib", joblib_bytes(evil),
                "joblib.dump of a dict with numpy arrays and a __reduce__ object calling "
                "os.system", ["MG101"])
    for name in COMPRESSORS:
        c.malicious(f"malicious/joblib/compressed_{name}.joblib",
                    joblib_bytes(evil, compress=(name, 3)),
                    f"joblib.dump(compress=('{name}', 3)) of the payload dict", ["MG101"])

    raw = dumps(os_system(), 4)
    wrapped = {
        "gz": gzip.compress(raw, mtime=0),
        "bz2": bz2.compress(raw),
        "xz": lzma.compress(raw, format=lzma.FORMAT_XZ),
        "lzma": lzma.compress(raw, format=lzma.FORMAT_ALONE),
        "zlib": zlib.compress(raw, 9),
        "zst": _zstd(raw),
    }
    for ext, data in wrapped.items():
        c.malicious(f"malicious/compressed/os_system.pkl.{ext}", data,
                    f"protocol 4 os.system pickle compressed with {ext}", ["MG101"])
    c.malicious("malicious/compressed/exec_gzip_in_bz2.pkl.gz.bz2",
                bz2.compress(gzip.compress(dumps(Call(Global("builtins", "exec"),
                                                      (PY_PAYLOAD,)), 2), mtime=0)),
                "builtins.exec pickle, gzip-compressed, then bzip2-compressed (two layers)",
                ["MG101"])
    # A decompression bomb: one bzip2 stream of 8 MiB of zeros, repeated 128 times
    # (multi-stream bzip2 is valid), expands to 1 GiB from a few kilobytes.
    one = bz2.compress(bytes(8 * 1024 * 1024), 9)
    c.malicious("malicious/compressed/bomb_1gib_zeros.pkl.bz2", one * 128,
                "multi-stream bzip2 expanding to 1 GiB of zeros (ratio > 100000:1)", ["MG204"])

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = rng.standard_normal((40, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=0)).fit(x, y)
    c.benign("benign/joblib/sklearn_pipeline.joblib", joblib_bytes(model),
             "joblib.dump of a fitted scikit-learn StandardScaler + LogisticRegression pipeline")
    c.benign("benign/joblib/numpy_arrays.joblib", joblib_bytes(weights),
             "joblib.dump of a dict of numpy arrays")
    c.benign("benign/joblib/numpy_arrays_zlib.joblib", joblib_bytes(weights, compress=3),
             "joblib.dump(compress=3) (zlib) of a dict of numpy arrays")
    c.benign("benign/joblib/numpy_arrays_gzip.joblib",
             joblib_bytes(weights, compress=("gzip", 3)),
             "joblib.dump(compress=('gzip', 3)) of a dict of numpy arrays")
    c.benign("benign/joblib/numpy_arrays_xz.joblib", joblib_bytes(weights, compress=("xz", 3)),
             "joblib.dump(compress=('xz', 3)) of a dict of numpy arrays")


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3).compress(data)
