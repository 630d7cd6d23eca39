#!/usr/bin/env python3
"""Writes the two large benchmark inputs into bench/out/big/ (gitignored), deterministically:

* checkpoint_1g.pt          torch.save of a state dict of 17 float32 tensors (~1.07 GB)
* weights_1g.safetensors    the same tensors written by the safetensors library

Re-running is a no-op when both files exist with the expected sizes.
"""

from __future__ import annotations

import pathlib
import sys

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/big")
N_LAYERS = 16
SHAPE = (4096, 4096)  # 64 MiB of float32 each


def tensors():
    import torch

    g = torch.Generator().manual_seed(1234)
    sd = {}
    for i in range(N_LAYERS):
        sd[f"layers.{i}.weight"] = torch.randn(*SHAPE, generator=g)
    sd["embed.weight"] = torch.randn(32000, 512, generator=g)
    return sd


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    pt = OUT / "checkpoint_1g.pt"
    st = OUT / "weights_1g.safetensors"
    minimum = 1_000_000_000
    if pt.exists() and st.exists() and min(pt.stat().st_size, st.stat().st_size) >= minimum:
        print(f"{pt} and {st} already present")
        return 0
    import torch
    from safetensors.torch import save_file

    sd = tensors()
    torch.save(sd, str(pt))
    save_file(sd, str(st), metadata={"format": "pt"})
    for p in (pt, st):
        size = p.stat().st_size
        assert size >= minimum, f"{p} is only {size} bytes"
        print(f"wrote {p} ({size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
