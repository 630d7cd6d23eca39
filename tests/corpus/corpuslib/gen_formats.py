"""safetensors, GGUF and ONNX fixtures."""

from __future__ import annotations

import json
import pathlib
import struct
import tempfile

from . import templates
from .registry import Corpus


# ---------------------------------------------------------------------------------------------
# safetensors

def safetensors_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


def small_model_tensors(seed: int = 0) -> dict:
    import torch

    g = torch.Generator().manual_seed(seed)
    return {
        "embed.weight": torch.randn(32, 16, generator=g),
        "layer0.weight": torch.randn(16, 16, generator=g).to(torch.bfloat16),
        "layer0.bias": torch.zeros(16, dtype=torch.bfloat16),
        "lm_head.weight": torch.randn(32, 16, generator=g).to(torch.float16),
    }


def _st(header, data: bytes, header_len: int | None = None) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode("utf-8")
    raw += b" " * ((-len(raw)) % 8)
    n = len(raw) if header_len is None else header_len
    return struct.pack("<Q", n) + raw + data


def safetensors_fixtures(c: Corpus) -> None:
    import torch

    g = torch.Generator().manual_seed(5)
    c.benign("benign/safetensors/dtypes.safetensors", safetensors_bytes({
        "f32": torch.randn(4, 4, generator=g),
        "f16": torch.randn(8, generator=g).to(torch.float16),
        "bf16": torch.randn(2, 3, generator=g).to(torch.bfloat16),
        "f64": torch.randn(3, generator=g).to(torch.float64),
        "i64": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "i32": torch.arange(4, dtype=torch.int32),
        "i8": torch.tensor([-1, 0, 1], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }, metadata={"format": "pt"}),  # one key: safetensors orders several keys at random
        "safetensors library: f32/f16/bf16/f64/i64/i32/i8/u8/bool, a scalar, an empty "
        "tensor and metadata")
    c.benign("benign/safetensors/small_model.safetensors",
             safetensors_bytes(small_model_tensors(), metadata={"format": "pt"}),
             "safetensors library: a small model's weights (f32, bf16, f16)")

    f32x4 = struct.pack("<4f", 1, 2, 3, 4)
    M = "malicious/safetensors"
    c.malicious(f"{M}/overlapping_offsets.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                     "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}},
                    f32x4 + f32x4[:8]),
                "two tensors whose data_offsets overlap (8..16)", ["MG401"])
    c.malicious(f"{M}/out_of_range_offsets.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                     "b": {"dtype": "F32", "shape": [1020], "data_offsets": [16, 4096]}},
                    f32x4),
                "tensor data_offsets end at 4096 in a 16-byte data section", ["MG401"])
    c.malicious(f"{M}/trailing_garbage.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                    f32x4 + b"modelgate-corpus trailing bytes not covered by any tensor"),
                "bytes after the last tensor, not covered by any data_offsets", ["MG401"])
    c.malicious(f"{M}/header_len_past_eof.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32x4,
                    header_len=1_000_000),
                "header length 1000000 in a file of a few dozen bytes", ["MG401"])
    c.malicious(f"{M}/header_len_u64_max.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32x4,
                    header_len=2**64 - 1),
                "header length 2^64-1", ["MG401"])
    c.malicious(f"{M}/dtype_shape_mismatch.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}, f32x4[:12]),
                "F32 shape [4] (16 bytes) with data_offsets covering 12 bytes", ["MG401"])
    c.malicious(f"{M}/shape_overflow.safetensors",
                _st({"a": {"dtype": "F64", "shape": [2**62, 2**62], "data_offsets": [0, 16]}},
                    f32x4),
                "shape whose element count overflows 64 bits", ["MG401"])
    c.malicious(f"{M}/duplicate_keys.safetensors",
                _st('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                    '"a":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}', f32x4 + f32x4[:8]),
                "the same tensor name twice in the header JSON (parsers keep different ones)",
                ["MG401"])
    c.malicious(f"{M}/gap_between_tensors.safetensors",
                _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                     "b": {"dtype": "F32", "shape": [4], "data_offsets": [32, 48]}},
                    f32x4 + b"HIDDEN-PAYLOAD-0" + f32x4),
                "16 unreferenced bytes between two tensors (data hidden in a hole)", ["MG401"])
    c.malicious(f"{M}/header_not_json.safetensors",
                _st("{'a': not json at all", b""),
                "header that is not JSON", ["MG401"])
    c.malicious(f"{M}/unknown_dtype.safetensors",
                _st({"a": {"dtype": "PICKLE", "shape": [4], "data_offsets": [0, 16]}}, f32x4),
                "unknown dtype 'PICKLE'", ["MG401"])


# ---------------------------------------------------------------------------------------------
# GGUF

def gguf_bytes(template: str | None, arch: str = "llama", extra=None) -> bytes:
    import gguf
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "model.gguf"
        w = gguf.GGUFWriter(str(path), arch)
        w.add_name("modelgate-corpus")
        w.add_context_length(128)
        w.add_embedding_length(8)
        w.add_block_count(1)
        w.add_tokenizer_model("gpt2")
        w.add_token_list(["<s>", "</s>", "a", "b", "c"])
        w.add_bos_token_id(0)
        w.add_eos_token_id(1)
        if template is not None:
            w.add_chat_template(template)
        if extra:
            extra(w)
        rng = np.random.default_rng(11)
        w.add_tensor("token_embd.weight", rng.standard_normal((5, 8)).astype(np.float32))
        w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path.read_bytes()


def _gstr(s: bytes | str, length: int | None = None) -> bytes:
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("<Q", len(s) if length is None else length) + s


def _gkv_str(key: str, value: str) -> bytes:
    return _gstr(key) + struct.pack("<I", 8) + _gstr(value)


def gguf_fixtures(c: Corpus) -> None:
    for name, tpl in (("chatml", templates.CHATML), ("llama3", templates.LLAMA3),
                      ("mistral", templates.MISTRAL), ("gemma", templates.GEMMA)):
        c.benign(f"benign/gguf/{name}_template.gguf", gguf_bytes(tpl),
                 f"gguf-py GGUFWriter model with the real {name} chat template")
    c.benign("benign/gguf/no_template.gguf", gguf_bytes(None),
             "gguf-py GGUFWriter model without a chat template")
    M = "malicious/gguf"
    for name, tpl, what in (
        ("ssti_cve_2024_34359", templates.SSTI_CVE_2024_34359,
         "tokenizer.chat_template with the CVE-2024-34359 payload (__class__.__base__."
         "__subclasses__ -> __builtins__ -> os.popen)"),
        ("ssti_cycler_globals", templates.SSTI_CYCLER_GLOBALS,
         "chat template reaching cycler.__init__.__globals__.os.popen"),
        ("ssti_attr_filter_concat", templates.SSTI_ATTR_FILTER_CONCAT,
         "chat template using |attr('__glo' + 'bals__') string concatenation"),
        ("ssti_hex_escapes", templates.SSTI_HEX_ESCAPES,
         "chat template using \\x5f-escaped dunder names through |attr"),
    ):
        c.malicious(f"{M}/{name}.gguf", gguf_bytes(tpl), what, ["MG403"])

    hdr = b"GGUF" + struct.pack("<I", 3)
    arch = _gkv_str("general.architecture", "llama")
    c.malicious(f"{M}/kv_count_huge.gguf", hdr + struct.pack("<QQ", 0, 2**63) + arch,
                "metadata kv count 2^63 with one real pair", ["MG402"])
    c.malicious(f"{M}/tensor_count_huge.gguf", hdr + struct.pack("<QQ", 2**62, 1) + arch,
                "tensor count 2^62 with no tensor infos", ["MG402"])
    c.malicious(f"{M}/string_len_past_eof.gguf",
                hdr + struct.pack("<QQ", 0, 1) + _gstr(b"general.name", 0xFFFF_FFFF_FFFF),
                "metadata key whose string length is 2^48-1 in a 40-byte file", ["MG402"])
    tokens = (_gstr("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 2**60)
              + _gstr("a") + _gstr("b"))
    c.malicious(f"{M}/array_len_huge.gguf", hdr + struct.pack("<QQ", 0, 2) + arch + tokens,
                "tokenizer.ggml.tokens array claiming 2^60 strings, holding 2", ["MG402"])
    tinfo = _gstr("token_embd.weight") + struct.pack("<I", 1) + struct.pack("<Q", 4)
    tinfo += struct.pack("<IQ", 0, 1 << 40)
    body = hdr + struct.pack("<QQ", 1, 1) + arch + tinfo
    body += b"\x00" * ((-len(body)) % 32) + b"\x00" * 16
    c.malicious(f"{M}/tensor_offset_out_of_range.gguf", body,
                "tensor info whose data offset is 2^40 in a file of ~100 bytes", ["MG402"])
    tinfo = _gstr("token_embd.weight") + struct.pack("<I", 0xFFFFFFFF) + struct.pack("<Q", 4)
    c.malicious(f"{M}/tensor_ndims_huge.gguf", hdr + struct.pack("<QQ", 1, 1) + arch + tinfo,
                "tensor info with n_dims 2^32-1", ["MG402"])
    c.malicious(f"{M}/bad_value_type.gguf",
                hdr + struct.pack("<QQ", 0, 1) + _gstr("general.name") + struct.pack("<I", 99)
                + b"\x00" * 8,
                "metadata value type 99 (undefined)", ["MG402"])


# ---------------------------------------------------------------------------------------------
# ONNX

def _onnx_mlp(external_location: str | None = None, custom_domain: bool = False):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "B")
    if external_location is not None:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", external_location), ("offset", "0"), ("length", "48")):
            entry = w.external_data.add()
            entry.key = k
            entry.value = v
    nodes = [helper.make_node("MatMul", ["X", "W"], ["XW"]),
             helper.make_node("Add", ["XW", "B"], ["H"]),
             helper.make_node("Relu", ["H"], ["Y"])]
    opsets = [helper.make_opsetid("", 17)]
    if custom_domain:
        nodes[2] = helper.make_node("FastGelu", ["H"], ["Y"], domain="com.modelgate.corpus")
        opsets.append(helper.make_opsetid("com.modelgate.corpus", 1))
    graph = helper.make_graph(
        nodes, "modelgate_corpus_mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3])],
        initializer=[w, b])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="modelgate-corpus",
                              producer_version="1")
    model.ir_version = 8
    return model


def onnx_fixtures(c: Corpus) -> None:
    import onnx

    model = _onnx_mlp()
    onnx.checker.check_model(model)
    c.benign("benign/onnx/mlp.onnx", model.SerializeToString(),
             "onnx.helper MatMul/Add/Relu graph with initializers")
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "mlp_external.onnx"
        onnx.save_model(_onnx_mlp(), str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="mlp_external.onnx.data",
                        size_threshold=0)
        c.benign("benign/onnx/mlp_external.onnx", path.read_bytes(),
                 "onnx.save_model(save_as_external_data=True): initializers in a sibling file")
        c.benign("benign/onnx/mlp_external.onnx.data",
                 (pathlib.Path(tmp) / "mlp_external.onnx.data").read_bytes(),
                 "the external data file of mlp_external.onnx (raw float32)")
    M = "malicious/onnx"
    c.malicious(f"{M}/external_data_traversal.onnx",
                _onnx_mlp("../../../etc/passwd").SerializeToString(),
                "initializer external_data location ../../../etc/passwd", ["MG405"])
    c.malicious(f"{M}/external_data_absolute.onnx",
                _onnx_mlp("/etc/passwd").SerializeToString(),
                "initializer external_data location /etc/passwd (absolute)", ["MG405"])
    c.malicious(f"{M}/custom_domain_op.onnx",
                _onnx_mlp(custom_domain=True).SerializeToString(),
                "node in custom operator domain com.modelgate.corpus (needs a native custom-op "
                "library at load)", ["MG406"], min_severity="medium")


def generate(c: Corpus) -> None:
    safetensors_fixtures(c)
    gguf_fixtures(c)
    onnx_fixtures(c)
