#!/usr/bin/env python3
"""Scores `modelgate dataset scan` against the generator's ground truth.

    python3 bench/dataset/evaluate.py --bin target/release/modelgate --data bench/out/dataset

For each variant: row recall (poisoned rows named by a finding at medium or above, via its
`line` or `lines`), precision over findings at medium or above (a finding is correct when any
row it names is poisoned), the number of medium+ findings on the clean control, wall time,
throughput and peak memory (from /usr/bin/time when available).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import time

MEDIUM = {"medium", "high", "critical"}


def run(binary, path, extra):
    out = path + ".report.json"
    cmd = [binary, "dataset", "scan", "--format", "json", "--fail-on", "info", "-o", out, path] + extra
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    rss = None
    start = time.perf_counter()
    if timer:
        p = subprocess.run([timer, "-f", "%M"] + cmd, capture_output=True, text=True)
        try:
            rss = int(p.stderr.strip().splitlines()[-1])
        except (ValueError, IndexError):
            rss = None
    else:
        p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    with open(out) as f:
        return json.load(f), wall, rss


def lines_of(f):
    s = set(f.get("lines") or [])
    s.add(f["line"])
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/modelgate")
    ap.add_argument("--data", default="bench/out/dataset")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rows = []
    tp_all = fp_all = 0
    for truth_path in sorted(glob.glob(os.path.join(args.data, "*.truth.json"))):
        truth = json.load(open(truth_path))
        data = truth_path.replace(".truth.json", ".jsonl")
        report, wall, rss = run(args.bin, data, [])
        poisoned = set(truth["poisoned_lines"])
        med = [f for f in report["findings"] if f["severity"] in MEDIUM]
        covered = set()
        tp = fp = 0
        for f in med:
            ls = lines_of(f)
            if ls & poisoned:
                tp += 1
                covered |= ls & poisoned
            else:
                fp += 1
                if args.verbose:
                    print(f"  FP {truth['variant']}: line {f['line']} {f['kind']} {f['severity']}: {f['message'][:160]}")
        tp_all += tp
        fp_all += fp
        size = os.path.getsize(data)
        recall = len(covered) / len(poisoned) if poisoned else None
        kinds = sorted({f["kind"] for f in med if lines_of(f) & poisoned})
        rows.append((truth["variant"], len(poisoned), recall, tp, fp, kinds, wall, size / wall / 1e6, rss))
    print("| variant | poisoned rows | row recall | medium+ findings (correct / wrong) | kinds that found it | time (s) | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for v, n, rec, tp, fp, kinds, wall, mbs, rss in rows:
        r = "—" if rec is None else f"{rec:.3f}"
        print(f"| {v} | {n} | {r} | {tp} / {fp} | {', '.join(kinds) or '—'} | {wall:.2f} | {mbs:.1f} | {'' if rss is None else f'{rss / 1024:.0f}'} |")
    total = tp_all + fp_all
    print(f"\nprecision over all medium+ findings: {tp_all}/{total} = {tp_all / total if total else 1.0:.3f}")


if __name__ == "__main__":
    main()
