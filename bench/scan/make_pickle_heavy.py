#!/usr/bin/env python3
"""Writes a pickle-heavy benchmark set into bench/out/pickle-heavy/ (gitignored), deterministically:
files whose bytes are mostly pickle opcodes, where a scanner's per-opcode cost shows.

* torch_manytensors_NN.pt   torch.save (zip) of a state dict of 4,000 small tensors
* records_NN.pkl            pickle protocol 4 of 60,000 dict records (str/int/float/list values)
* forest_NN.joblib          joblib.dump of a fitted scikit-learn RandomForestClassifier

Re-running is a no-op when the files exist.
"""

from __future__ import annotations

import pathlib
import pickle
import random
import sys

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/pickle-heavy")
COPIES = 8


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    done = OUT / ".complete"
    if done.exists():
        print(f"{OUT} already present")
        return 0
    import joblib
    import numpy as np
    import torch
    from sklearn.ensemble import RandomForestClassifier

    for i in range(COPIES):
        g = torch.Generator().manual_seed(i)
        sd = {f"block.{j}.w": torch.randn(4, generator=g) for j in range(4000)}
        torch.save(sd, OUT / f"torch_manytensors_{i:02d}.pt")

        rnd = random.Random(i)
        records = [
            {
                "id": k,
                "name": f"item-{rnd.randrange(10**6)}",
                "score": rnd.random(),
                "tags": [rnd.choice("abcdef") for _ in range(3)],
            }
            for k in range(60_000)
        ]
        with open(OUT / f"records_{i:02d}.pkl", "wb") as f:
            pickle.dump(records, f, protocol=4)

        rs = np.random.RandomState(i)
        x = rs.rand(400, 8)
        y = (x[:, 0] > 0.5).astype(int)
        model = RandomForestClassifier(n_estimators=60, random_state=i).fit(x, y)
        joblib.dump(model, OUT / f"forest_{i:02d}.joblib")
    done.write_text("ok\n")
    total = sum(p.stat().st_size for p in OUT.iterdir() if not p.name.startswith("."))
    print(f"wrote {COPIES * 3} files, {total / 1e6:.1f} MB, into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
