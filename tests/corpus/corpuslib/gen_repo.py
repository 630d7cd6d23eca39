"""Hugging Face-style repository fixtures."""

from __future__ import annotations

import json

from . import templates
from .gen_formats import safetensors_bytes, small_model_tensors
from .registry import Corpus


def _json(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def config(auto_map: dict | None = None) -> dict:
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_hidden_layers": 1,
        "num_key_value_heads": 2,
        "vocab_size": 32,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-05,
        "torch_dtype": "bfloat16",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": False,
        "transformers_version": "4.44.0",
    }
    if auto_map:
        cfg["auto_map"] = auto_map
    return cfg


def tokenizer_config(template: str) -> dict:
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "chat_template": template,
        "clean_up_tokenization_spaces": True,
        "model_max_length": 128,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


README = """---
license: apache-2.0
library_name: transformers
tags:
  - modelgate-corpus
---

# modelgate corpus model

A tiny randomly initialised model used as a scanner test fixture. It has no useful weights.
"""

EVIL_MODELING = '''"""Remote code that transformers imports with trust_remote_code=True (corpus fixture)."""
import os

# Runs at import time, before any weight is read. Harmless here; a real attacker's is not.
os.system("echo modelgate-corpus")


class EvilForCausalLM:
    def __init__(self, *args, **kwargs):
        os.system("echo modelgate-corpus")
'''


def generate(c: Corpus) -> None:
    B = "benign/hf-repo"
    c.benign(f"{B}/config.json", _json(config()), "HF config.json without auto_map")
    c.benign(f"{B}/generation_config.json",
             _json({"bos_token_id": 1, "eos_token_id": 2, "do_sample": True, "temperature": 0.6,
                    "top_p": 0.9, "transformers_version": "4.44.0"}),
             "HF generation_config.json")
    c.benign(f"{B}/tokenizer_config.json", _json(tokenizer_config(templates.LLAMA3)),
             "HF tokenizer_config.json with the real Llama 3 chat template")
    c.benign(f"{B}/model.safetensors",
             safetensors_bytes(small_model_tensors(1), metadata={"format": "pt"}),
             "HF model.safetensors written by the safetensors library")
    c.benign(f"{B}/README.md", README, "HF model card with YAML front matter")

    M = "malicious/hf-remote-code"
    c.malicious(f"{M}/config.json",
                _json(config({"AutoConfig": "configuration_llama.LlamaConfig",
                              "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"})),
                "config.json auto_map pointing AutoModelForCausalLM at repository code "
                "(modeling_evil.py runs with trust_remote_code=True)", ["MG501"])
    c.malicious(f"{M}/modeling_evil.py", EVIL_MODELING,
                "repository Python module calling os.system at import", ["MG502"],
                min_severity="medium")
    c.malicious(f"{M}/tokenizer_config.json",
                _json(tokenizer_config(templates.SSTI_CVE_2024_34359)),
                "tokenizer_config.json chat_template with the CVE-2024-34359 SSTI payload",
                ["MG403"])
