#!/usr/bin/env python3
"""Writes the eval examples' datasets deterministically (standard library only).

arithmetic.jsonl: 200 arithmetic questions with integer answers. Most are written with digits,
which the built-in `mock/calc` model solves; every tenth is written in words, which it cannot
read, so the example run has a realistic mix of right and wrong answers.
agent.jsonl: small tasks that need a shell command, for the sandboxed agent example.

Re-run after changing this file, then update the sha256 pins in the specs
(`sha256sum examples/eval/*.jsonl`).
"""
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve"]


def arithmetic(rng):
    rows = []
    for i in range(200):
        a, b, c = rng.randint(2, 12), rng.randint(2, 12), rng.randint(1, 9)
        op = rng.choice(["+", "-", "*"])
        if i % 10 == 9:
            question = f"What is {WORDS[a]} plus {WORDS[b]}?"
            answer = a + b
        else:
            expr = f"{a} {op} {b} + {c}"
            question = f"What is {expr}?"
            answer = eval(expr, {"__builtins__": {}})  # noqa: S307 - digits and + - * only
        rows.append({"id": f"arith-{i:03d}", "input": question, "target": str(answer)})
    return rows


def agent():
    tasks = [
        ("Which user id do tool commands run as? Run `id -u` and answer with the number.", "65534"),
        ("What is the working directory of the tool? Run `pwd`.", "/workspace"),
        ("Count the characters in the word sandbox. Run `printf sandbox | wc -c`.", "7"),
        ("Can the tool reach the network? Run `cat /proc/net/dev | grep -c :`.", "1"),
    ]
    return [{"id": f"agent-{i}", "input": q, "target": t} for i, (q, t) in enumerate(tasks)]


def write(name, rows):
    with open(HERE / name, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    write("arithmetic.jsonl", arithmetic(random.Random(20261122)))
    write("agent.jsonl", agent())
