"""NumPy fixtures: object arrays carrying a payload, malformed headers, benign arrays."""

from __future__ import annotations

import io
import struct
import zipfile

from .pickles import PY_PAYLOAD, Call, Global, dumps, os_system
from .registry import Corpus
from .zips import pin_zip_times, write_stdlib_zip


def _npy_header(d: dict) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, d)
    return buf.getvalue()


def object_npy_with_payload() -> bytes:
    """An .npy object array (as numpy.save writes one: header, then a protocol 3 pickle of the
    array) whose elements include os.system(cmd)."""
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0] = "modelgate-corpus"
    arr[1] = os_system()
    header = _npy_header({"descr": "|O", "fortran_order": False, "shape": (2,)})
    return header + dumps(arr, 3)


def _save(arr) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def generate(c: Corpus) -> None:
    import numpy as np

    c.malicious("malicious/numpy/object_array_os_system.npy", object_npy_with_payload(),
                "dtype=object .npy whose pickled elements include os.system(cmd)",
                ["MG101"])
    arr = np.empty(1, dtype=object)
    arr[0] = Call(Global("builtins", "exec"), (PY_PAYLOAD,))
    c.malicious("malicious/numpy/object_array_exec_fortran.npy",
                _npy_header({"descr": "|O", "fortran_order": True, "shape": (1,)}) + dumps(arr, 3),
                "fortran-order dtype=object .npy whose pickled element calls builtins.exec",
                ["MG101"])
    c.malicious("malicious/numpy/object_array_payload.npz",
                write_stdlib_zip([("weights.npy", _save(np.arange(4, dtype=np.float32))),
                                  ("payload.npy", object_npy_with_payload())]),
                ".npz holding a float array and an object array with os.system", ["MG101"])
    bad_len = b"\x93NUMPY\x01\x00" + struct.pack("<H", 0xFFF0) + b"{'descr': '<f4', "
    c.malicious("malicious/numpy/header_len_past_eof.npy", bad_len,
                ".npy header length 0xfff0 past the end of a 27-byte file", ["MG302"])
    expr = "{'descr': __import__('os').system('echo modelgate-corpus'), 'fortran_order': False, 'shape': (1,), }"
    c.malicious("malicious/numpy/header_not_literal.npy",
                _raw_npy_header(expr) + b"\x00" * 4,
                ".npy header dict whose descr is a call expression (not a literal)", ["MG302"])
    c.malicious("malicious/numpy/header_shape_overflow.npy",
                _raw_npy_header("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (4611686018427387904, 4611686018427387904), }")
                + b"\x00" * 16,
                ".npy shape whose element count overflows 64 bits, with 16 data bytes",
                ["MG302"])
    c.malicious("malicious/numpy/header_data_short.npy",
                _raw_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }")
                + b"\x00" * 8,
                ".npy header promising 1000 float32 values followed by 8 bytes", ["MG302"])

    rng = np.random.default_rng(0)
    c.benign("benign/numpy/float32.npy", _save(rng.standard_normal((4, 8)).astype(np.float32)),
             "numpy.save of a float32 array")
    c.benign("benign/numpy/int64.npy", _save(np.arange(32, dtype=np.int64).reshape(4, 8)),
             "numpy.save of an int64 array")
    structured = np.zeros(3, dtype=[("id", "<i4"), ("score", "<f8"), ("tag", "S8")])
    structured["id"] = [1, 2, 3]
    structured["score"] = [0.5, 1.5, 2.5]
    structured["tag"] = [b"a", b"bb", b"ccc"]
    c.benign("benign/numpy/structured.npy", _save(structured),
             "numpy.save of a structured dtype (int32, float64, bytes fields)")
    c.benign("benign/numpy/fortran_order.npy",
             _save(np.asfortranarray(rng.standard_normal((3, 5)))),
             "numpy.save of a Fortran-ordered float64 array")
    c.benign("benign/numpy/empty.npy", _save(np.zeros((0, 4), dtype=np.float16)),
             "numpy.save of an empty float16 array")
    buf = io.BytesIO()
    np.savez(buf, weights=rng.standard_normal(16).astype(np.float32), steps=np.arange(5))
    c.benign("benign/numpy/arrays.npz", pin_zip_times(buf.getvalue()),
             "numpy.savez of two arrays (zip timestamps pinned)")
    buf = io.BytesIO()
    np.savez_compressed(buf, weights=np.zeros((64, 64), dtype=np.float32),
                        ids=np.arange(100, dtype=np.int32))
    c.benign("benign/numpy/arrays_compressed.npz", pin_zip_times(buf.getvalue()),
             "numpy.savez_compressed of two arrays (deflated members, timestamps pinned)")
    assert zipfile.is_zipfile(io.BytesIO(buf.getvalue()))


def _raw_npy_header(text: str) -> bytes:
    body = text.encode("latin1")
    total = 10 + len(body) + 1
    pad = (-total) % 64
    body = body + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body
