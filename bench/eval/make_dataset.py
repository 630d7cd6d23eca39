#!/usr/bin/env python3
"""Writes the eval benchmark's arithmetic dataset deterministically (standard library only).

    python3 bench/eval/make_dataset.py OUT.jsonl [COUNT]      (COUNT default 20000)

Each line is {"id": "calc-000000", "input": "What is 37 * 12 + 5?", "target": "449"}: two
operands 2..99, one of + - *, then + 1..9, with a non-negative integer answer. Every question
is written with digits only, so the stub server's `calc` mode (and modelgate's `mock/calc`)
answers every item correctly: a run that scores below 100 % did not really run. The same seed
and COUNT always give the same bytes (and so the same SHA-256), and a shorter file is a prefix
of a longer one.
"""
import json
import random
import sys

SEED = 20261122
MAX_COUNT = 1_000_000


def rows(count):
    rng = random.Random(SEED)
    for i in range(count):
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(1, 9)
        op = rng.choice("+-*")
        if op == "-" and a < b:
            a, b = b, a
        expr = f"{a} {op} {b} + {c}"
        answer = {"+": a + b, "-": a - b, "*": a * b}[op] + c
        yield {"id": f"calc-{i:06d}", "input": f"What is {expr}?", "target": str(answer)}


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    count = int(argv[2]) if len(argv) == 3 else 20000
    if not 1 <= count <= MAX_COUNT:
        print(f"make_dataset.py: COUNT must be 1..{MAX_COUNT}", file=sys.stderr)
        return 2
    with open(argv[1], "w", encoding="utf-8", newline="\n") as f:
        for row in rows(count):
            f.write(json.dumps(row, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
