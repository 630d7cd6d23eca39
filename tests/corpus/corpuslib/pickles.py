"""Writing hostile pickles without importing, or ever calling, the callables they name.

Two ways to write a pickle here:

* ``dumps(obj, protocol)`` runs the pure-Python ``pickle._Pickler`` over ordinary Python values in
  which ``Global("os", "system")`` stands for the callable ``os.system`` and
  ``Call(func, args)`` for ``func(*args)``. The pickler emits exactly the opcodes it would for
  the real callable (GLOBAL before protocol 4, STACK_GLOBAL with memoized strings from 4 on)
  without importing the module. ``InjectingPickleModule`` lets ``torch.save`` and
  ``joblib.dump`` use the same pickler, so a payload rides inside a real checkpoint.
* ``Ops`` assembles opcodes by hand, for the layouts no pickler produces (INST, OBJ, memo
  confusion, EXT codes, truncation, persistent ids built from calls).

Payloads are harmless (``echo modelgate-corpus``); the generator never loads what it writes.
"""

from __future__ import annotations

import io
import pickle
import struct
from pickle import _Pickler  # the pure-Python pickler, whose dispatch table we can extend

CMD = "echo modelgate-corpus"
PY_PAYLOAD = "import os; os.system('echo modelgate-corpus')"


class Global:
    """Stands for ``module.name`` in a pickle: pickled as GLOBAL / STACK_GLOBAL, never imported."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def __call__(self, *args):
        return Call(self, args)

    def __repr__(self):
        return f"Global({self.module}.{self.name})"


class Call:
    """Stands for ``func(*args)``: pickled as func, args, REDUCE (the ``__reduce__`` trick)."""

    def __init__(self, func, args=()):
        self.func = func
        self.args = tuple(args)

    def __reduce__(self):
        return (self.func, self.args)

    def __call__(self, *args):  # the pickler requires a callable "func"; calls chain
        return Call(self, args)


class Build:
    """Stands for an object made by ``func(*args)`` and then BUILD with ``state``."""

    def __init__(self, func, args, state):
        self.func = func
        self.args = tuple(args)
        self.state = state

    def __reduce__(self):
        return (self.func, self.args, self.state)


def _save_global(self, obj):
    if self.proto >= 4:
        self.save(obj.module)
        self.save(obj.name)
        self.write(pickle.STACK_GLOBAL)
    else:
        self.write(
            pickle.GLOBAL
            + obj.module.encode("utf-8")
            + b"\n"
            + obj.name.encode("utf-8")
            + b"\n"
        )
    self.memoize(obj)


def register(pickler_class) -> None:
    """Teaches a pure-Python pickler class (or subclass with its own dispatch copy) about Global."""
    pickler_class.dispatch[Global] = _save_global


register(_Pickler)


class InjectingPickler(_Pickler):
    """``pickle._Pickler`` that writes ``Global`` placeholders (for torch.save's pickle_module)."""


class InjectingPickleModule:
    """A stand-in for the ``pickle`` module, passed as ``torch.save(..., pickle_module=...)``."""

    Pickler = InjectingPickler
    Unpickler = pickle.Unpickler
    HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
    DEFAULT_PROTOCOL = 2

    @staticmethod
    def dump(obj, f, protocol=2, **kwargs):
        InjectingPickler(f, protocol, **kwargs).dump(obj)

    @staticmethod
    def load(*_a, **_k):  # pragma: no cover - the generator never loads
        raise RuntimeError("the corpus generator never unpickles")


def dumps(obj, protocol: int = 4, buffer_callback=None) -> bytes:
    """Pickles ``obj`` (which may contain Global/Call) with the pure-Python pickler."""
    buf = io.BytesIO()
    _Pickler(buf, protocol, buffer_callback=buffer_callback).dump(obj)
    return buf.getvalue()


def os_system(cmd: str = CMD) -> Call:
    return Call(Global("os", "system"), (cmd,))


# ----------------------------------------------------------------------------------------------
# Hand assembly


class Ops:
    """A tiny pickle assembler: each method appends one opcode (and its argument)."""

    def __init__(self, proto: int | None = None):
        self.b = bytearray()
        if proto is not None and proto >= 2:
            self.b += pickle.PROTO + bytes([proto])

    def raw(self, data: bytes) -> "Ops":
        self.b += data
        return self

    # --- values
    def unicode0(self, s: str) -> "Ops":  # protocol 0 UNICODE (raw-unicode-escape, newline)
        return self.raw(pickle.UNICODE + s.encode("raw-unicode-escape") + b"\n")

    def string0(self, s: str) -> "Ops":  # protocol 0 STRING (quoted repr)
        return self.raw(pickle.STRING + repr(s).encode("ascii") + b"\n")

    def binunicode(self, s: str) -> "Ops":
        data = s.encode("utf-8")
        return self.raw(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)

    def short_binunicode(self, s: str) -> "Ops":
        data = s.encode("utf-8")
        assert len(data) < 256
        return self.raw(pickle.SHORT_BINUNICODE + bytes([len(data)]) + data)

    def binbytes(self, data: bytes) -> "Ops":
        return self.raw(pickle.BINBYTES + struct.pack("<I", len(data)) + data)

    def binint1(self, n: int) -> "Ops":
        return self.raw(pickle.BININT1 + bytes([n]))

    def none(self) -> "Ops":
        return self.raw(pickle.NONE)

    # --- structure
    def mark(self) -> "Ops":
        return self.raw(pickle.MARK)

    def tuple(self) -> "Ops":
        return self.raw(pickle.TUPLE)

    def tuple1(self) -> "Ops":
        return self.raw(pickle.TUPLE1)

    def tuple2(self) -> "Ops":
        return self.raw(pickle.TUPLE2)

    def empty_tuple(self) -> "Ops":
        return self.raw(pickle.EMPTY_TUPLE)

    def empty_dict(self) -> "Ops":
        return self.raw(pickle.EMPTY_DICT)

    def dict(self) -> "Ops":
        return self.raw(pickle.DICT)

    def setitem(self) -> "Ops":
        return self.raw(pickle.SETITEM)

    def pop(self) -> "Ops":
        return self.raw(pickle.POP)

    # --- callables
    def global_(self, module: str, name: str) -> "Ops":
        return self.raw(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")

    def stack_global(self) -> "Ops":
        return self.raw(pickle.STACK_GLOBAL)

    def reduce(self) -> "Ops":
        return self.raw(pickle.REDUCE)

    def build(self) -> "Ops":
        return self.raw(pickle.BUILD)

    def inst(self, module: str, name: str) -> "Ops":
        return self.raw(pickle.INST + module.encode() + b"\n" + name.encode() + b"\n")

    def obj(self) -> "Ops":
        return self.raw(pickle.OBJ)

    def newobj(self) -> "Ops":
        return self.raw(pickle.NEWOBJ)

    def newobj_ex(self) -> "Ops":
        return self.raw(pickle.NEWOBJ_EX)

    def ext1(self, code: int) -> "Ops":
        return self.raw(pickle.EXT1 + bytes([code]))

    def ext2(self, code: int) -> "Ops":
        return self.raw(pickle.EXT2 + struct.pack("<H", code))

    def ext4(self, code: int) -> "Ops":
        return self.raw(pickle.EXT4 + struct.pack("<i", code))

    # --- memo
    def put(self, i: int) -> "Ops":
        return self.raw(pickle.PUT + str(i).encode() + b"\n")

    def get(self, i: int) -> "Ops":
        return self.raw(pickle.GET + str(i).encode() + b"\n")

    def binput(self, i: int) -> "Ops":
        return self.raw(pickle.BINPUT + bytes([i]))

    def binget(self, i: int) -> "Ops":
        return self.raw(pickle.BINGET + bytes([i]))

    def memoize(self) -> "Ops":
        return self.raw(pickle.MEMOIZE)

    # --- persistence, buffers
    def persid(self, pid: str) -> "Ops":
        return self.raw(pickle.PERSID + pid.encode("ascii") + b"\n")

    def binpersid(self) -> "Ops":
        return self.raw(pickle.BINPERSID)

    def next_buffer(self) -> "Ops":
        return self.raw(pickle.NEXT_BUFFER)

    def readonly_buffer(self) -> "Ops":
        return self.raw(pickle.READONLY_BUFFER)

    def stop(self) -> "Ops":
        return self.raw(pickle.STOP)

    def bytes(self) -> bytes:
        return bytes(self.b)
