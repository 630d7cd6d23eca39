"""PyTorch fixtures: torch.save of real modules (zip and legacy formats) and hostile variants
of those archives."""

from __future__ import annotations

import argparse
import collections
import datetime
import io
import pickle
import warnings

from .pickles import InjectingPickleModule, InjectingPickler, dumps, os_system
from .registry import Corpus
from .zips import Member, build_zip, read_members

D = "malicious/torch"


def _torch():
    import torch

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    return torch


def mlp():
    torch = _torch()
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))


def cnn():
    torch = _torch()
    torch.manual_seed(1)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 8, 3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def transformer_block():
    torch = _torch()
    torch.manual_seed(2)
    return torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64,
                                            dropout=0.0, batch_first=True)


class _LegacyState:
    """Per-save state of the legacy-format key renumbering."""

    remap: dict = {}
    elsize: dict = {}
    blobs_start: int | None = None
    old_order: list | None = None


class _LegacyPickler(InjectingPickler):
    """The legacy torch format names storages by memory address (str(storage._cdata)), so two
    runs differ. Renumber them "0", "1", ... in order of first reference."""

    def save_pers(self, pid):
        if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage":
            new = _LegacyState.remap.setdefault(pid[2], str(len(_LegacyState.remap)))
            with warnings.catch_warnings():  # TypedStorage deprecation, irrelevant here
                warnings.simplefilter("ignore")
                _LegacyState.elsize[new] = pid[1].dtype.itemsize
            pid = pid[:2] + (new,) + pid[3:]
        super().save_pers(pid)


class _LegacyPickleModule(InjectingPickleModule):
    Pickler = _LegacyPickler

    @staticmethod
    def dump(obj, f, protocol=2, **kwargs):
        if isinstance(obj, list) and obj and all(k in _LegacyState.remap for k in obj):
            _LegacyState.old_order = [_LegacyState.remap[k] for k in obj]
            obj = list(_LegacyState.old_order)
            _LegacyPickler(f, protocol, **kwargs).dump(obj)
            _LegacyState.blobs_start = f.tell()
            return
        _LegacyPickler(f, protocol, **kwargs).dump(obj)


def _reorder_legacy_blobs(data: bytes) -> bytes:
    """Rewrites the storage-key list and the storage blobs after it in numeric key order."""
    start, order = _LegacyState.blobs_start, _LegacyState.old_order
    if start is None or order is None:
        return data
    blobs, pos = {}, start
    for key in order:
        numel = int.from_bytes(data[pos:pos + 8], "little")
        end = pos + 8 + numel * _LegacyState.elsize[key]
        blobs[key] = data[pos:end]
        pos = end
    assert pos == len(data), "unexpected bytes after the legacy storages"
    keys = sorted(order, key=int)
    key_pickle = pickle.dumps(keys, 2)
    head_end = data.rfind(pickle.PROTO, 0, start)
    assert data[head_end:start] == pickle.dumps(order, 2)
    return data[:head_end] + key_pickle + b"".join(blobs[k] for k in keys)


def save(obj, legacy: bool = False, inject: bool = False) -> bytes:
    torch = _torch()
    buf = io.BytesIO()
    kwargs = {}
    if inject:
        kwargs["pickle_module"] = InjectingPickleModule
    if legacy:
        kwargs["_use_new_zipfile_serialization"] = False
        kwargs["pickle_module"] = _LegacyPickleModule
        _LegacyState.remap, _LegacyState.elsize = {}, {}
        _LegacyState.blobs_start = _LegacyState.old_order = None
    torch.save(obj, buf, **kwargs)
    data = buf.getvalue()
    return _reorder_legacy_blobs(data) if legacy else data


def trained_optimizer(model):
    torch = _torch()
    torch.manual_seed(3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(8, 16)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    return opt


def malicious_state_dict_zip() -> bytes:
    """torch.save of a real MLP state dict with an extra entry whose value is os.system(cmd)."""
    sd = mlp().state_dict()
    return save({"state_dict": sd, "hook": os_system()}, inject=True)


def generate(c: Corpus) -> None:
    benign(c)
    malicious(c)


def benign(c: Corpus) -> None:
    model = mlp()
    c.benign("benign/torch/mlp_state_dict.pt", save(model.state_dict()),
             "torch.save of a real nn.Module state_dict (MLP)")
    c.benign("benign/torch/cnn_state_dict.pt", save(cnn().state_dict()),
             "torch.save of a small CNN state_dict (conv, batchnorm with int64 counter, linear)")
    c.benign("benign/torch/transformer_block_state_dict.pt",
             save(transformer_block().state_dict()),
             "torch.save of an nn.TransformerEncoderLayer state_dict")
    opt = trained_optimizer(model)
    c.benign("benign/torch/adam_optimizer_state_dict.pt", save(opt.state_dict()),
             "torch.save of an Adam optimizer state_dict after one step")
    checkpoint = {
        "epoch": 3,
        "global_step": 120,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "args": argparse.Namespace(lr=1e-3, batch_size=8, run_name="corpus", layers=[16, 32, 4]),
        "saved_at": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "metrics": collections.OrderedDict([("loss", 0.25), ("accuracy", 0.9)]),
        "best": None,
    }
    c.benign("benign/torch/training_checkpoint.pt", save(checkpoint),
             "training checkpoint dict: state dicts, argparse.Namespace, datetime, OrderedDict")
    c.benign("benign/torch/mlp_state_dict_legacy.pt", save(mlp().state_dict(), legacy=True),
             "torch.save(_use_new_zipfile_serialization=False) legacy format of an MLP state_dict")
    c.benign("benign/torch/full_module_mlp.pth", save(torch_module_plain()),
             "torch.save of the whole nn.Sequential module (pickles torch.nn classes by name)")


def torch_module_plain():
    return mlp()


def malicious(c: Corpus) -> None:
    evil_zip = malicious_state_dict_zip()
    c.malicious(f"{D}/data_pkl_payload.pt", evil_zip,
                "torch.save of a real MLP state dict with os.system(cmd) injected in data.pkl",
                ["MG101"])
    benign_zip = save(mlp().state_dict())
    base = read_members(benign_zip)
    evil = {m.name: m for m in read_members(evil_zip)}
    evil_pkl = evil["archive/data.pkl"].data
    benign_pkl = next(m.data for m in base if m.name == "archive/data.pkl")
    payload = dumps(os_system(), 2)

    def with_members(extra: list[Member], at: int | None = None) -> list[Member]:
        out = [Member(m.name, m.data) for m in base]
        if at is None:
            out.extend(extra)
        else:
            out[at:at] = extra
        return out

    c.malicious(f"{D}/extra_pkl_member.pt",
                build_zip(with_members([Member("archive/extra.pkl", payload)], at=1)),
                "benign torch zip plus an extra member archive/extra.pkl holding os.system",
                ["MG101"])

    members = [Member(m.name, m.data) for m in base]
    members.append(Member("archive/data.pkl", evil_pkl))
    c.malicious(f"{D}/duplicate_data_pkl.pt", build_zip(members),
                "two archive/data.pkl members: benign first, payload second (Python's zipfile "
                "reads the last, torch 2.x the first: scanner and loader can disagree)",
                ["MG201"])
    members = [Member(m.name, evil_pkl if m.name == "archive/data.pkl" else m.data)
               for m in base]
    members.append(Member("archive/data.pkl", benign_pkl))
    c.malicious(f"{D}/duplicate_data_pkl_payload_first.pt", build_zip(members),
                "two archive/data.pkl members: payload first (what torch.load reads), benign "
                "second (what Python's zipfile reads)", ["MG201"])

    def replace_data_pkl(**overrides) -> bytes:
        ms = []
        for m in base:
            if m.name == "archive/data.pkl":
                ms.append(Member(m.name, evil_pkl, **overrides))
            else:
                ms.append(Member(m.name, m.data))
        return build_zip(ms)

    c.malicious(f"{D}/header_mismatch_name.pt",
                replace_data_pkl(local_name="archive/notes.txt"),
                "data.pkl (with payload) whose local header names it archive/notes.txt while "
                "the central directory says archive/data.pkl", ["MG202"])
    c.malicious(f"{D}/header_mismatch_size.pt",
                replace_data_pkl(local_sizes=(len(benign_pkl), len(benign_pkl))),
                "data.pkl (with payload) whose local header sizes differ from the central "
                "directory's", ["MG202"])
    c.malicious(f"{D}/encrypted_flag.pt", replace_data_pkl(flags=0x0801),
                "data.pkl (plaintext payload) with the encrypted flag set in both headers",
                ["MG203"])
    hidden = [Member("archive/data.pkl", benign_pkl, in_central=False)]
    hidden += [Member(m.name, evil_pkl if m.name == "archive/data.pkl" else m.data) for m in base]
    c.malicious(f"{D}/local_header_shadow.pt", build_zip(hidden),
                "a benign data.pkl local header first (not in the central directory), then the "
                "payload data.pkl the central directory points to", ["MG101", "MG201", "MG202",
                                                                     "MG206"])
    c.malicious(f"{D}/member_outside_archive_folder.pt",
                build_zip(with_members([Member("payload.pkl", payload)])),
                "benign torch zip plus a root-level payload.pkl outside the archive/ folder",
                ["MG205", "MG101"])
    c.malicious(f"{D}/member_path_traversal.pt",
                build_zip(with_members([Member("archive/../../../tmp/modelgate-corpus.pkl",
                                                payload)])),
                "benign torch zip plus a member named archive/../../../tmp/... (path traversal)",
                ["MG205"])
    c.malicious(f"{D}/member_absolute_path.pt",
                build_zip(with_members([Member("/tmp/modelgate-corpus.pkl", payload)])),
                "benign torch zip plus a member with an absolute path", ["MG205"])
    zeros = bytes(64 * 1024 * 1024)
    c.malicious(f"{D}/zip_bomb_member.pt",
                build_zip(with_members([Member("archive/data/99", zeros, method=8, align=0)])),
                "benign torch zip plus a 64 MiB all-zero member deflated about 1030:1 (the "
                "deflate maximum)", ["MG204"])
    c.malicious(f"{D}/polyglot_pickle_prefix.pt",
                build_zip([Member(m.name, m.data) for m in base], prefix=payload),
                "os.system pickle prepended to a benign torch zip (pickle.load and torch's "
                "legacy path run the prefix; zip readers see a clean model)", ["MG101"])
    c.malicious(f"{D}/polyglot_benign_pickle_then_malicious_zip.pt",
                build_zip([Member(m.name, evil[m.name].data) for m in base],
                          prefix=pickle.dumps({"format": "modelgate-corpus"}, 2)),
                "benign pickle prefix in front of a torch zip whose data.pkl carries os.system "
                "(zip readers locate the archive from its end)", ["MG101"])
    legacy_evil = save({"state_dict": mlp().state_dict(), "hook": os_system()}, legacy=True,
                       inject=True)
    c.malicious(f"{D}/legacy_format_payload.pt", legacy_evil,
                "legacy (non-zip) torch.save with os.system injected in the object pickle",
                ["MG101"])
    legacy_benign = save(mlp().state_dict(), legacy=True)
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    assert legacy_benign.startswith(magic)
    c.malicious(f"{D}/legacy_magic_pickle_payload.pt",
                payload + legacy_benign[len(magic):],
                "legacy torch file whose first pickle (the magic number) is replaced by "
                "os.system(cmd)", ["MG101"])
    c.malicious(f"{D}/custom_top_folder.pt",
                build_zip([Member(m.name.replace("archive/", "resnet_v2/", 1),
                                  evil[m.name].data) for m in base]),
                "torch zip with a non-default top folder (resnet_v2/data.pkl) carrying os.system",
                ["MG101"])
