#!/usr/bin/env python3
"""Runs modelgate, modelscan, fickling and picklescan side by side over the test corpus and the
large files, maps every tool's output to a per-file verdict, and writes raw JSON to bench/out/
and the Markdown report to docs/benchmarks/scan.md. Driven by bench/scan/run.sh.

Per-file verdicts, in order of precedence:
  flagged  the tool reported something at its equivalent of high/critical for the file
  error    the tool reported that it could not parse or scan the file (or, for tools run once
           per file, exited non-zero without a high/critical verdict)
  skipped  the tool said it did not scan the file (unsupported format)
  clean    the tool scanned the file and reported nothing at high/critical
A malicious file is *detected* when flagged; "detected, fail-closed" also counts errors, which is
how a pipeline that rejects anything the scanner could not read would behave.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time
from importlib import metadata

TOOLS = ["modelgate", "modelscan", "picklescan", "fickling"]
TIMEOUT = 1800


# ---------------------------------------------------------------------------------------------
# running things


def timed(cmd: list[str], stdout: pathlib.Path, stderr: pathlib.Path, cwd=None) -> dict:
    """Runs cmd under /usr/bin/time -v; returns rc, wall seconds and peak RSS (KiB)."""
    tfile = stdout.with_suffix(stdout.suffix + ".time")
    full = ["/usr/bin/time", "-v", "-o", str(tfile), *cmd]
    start = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        try:
            rc = subprocess.run(full, stdout=out, stderr=err, cwd=cwd, timeout=TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    wall = time.monotonic() - start
    rss = 0
    if tfile.exists():
        text = tfile.read_text(errors="replace")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        rss = int(m.group(1)) if m else 0
        m = re.search(r"Exit status: (\d+)", text)
        if m:
            rc = int(m.group(1))
    return {"rc": rc, "wall_s": wall, "max_rss_kb": rss}


def tool_version(tool: str, modelgate_bin: pathlib.Path) -> str:
    if tool == "modelgate":
        try:
            out = subprocess.run([str(modelgate_bin), "--version"], capture_output=True,
                                 text=True, timeout=30).stdout.strip()
            return out.split()[-1] if out else "?"
        except OSError:
            return "not built"
    try:
        return metadata.version(tool)
    except metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------------------------
# per-tool output → per-file verdicts


def _top(source: str, known: set[str]) -> str | None:
    """Maps a tool's source string (maybe "file:member") to a known corpus-relative file."""
    if source in known:
        return source
    for sep in (":", "!"):
        head = source.split(sep, 1)[0]
        if head in known:
            return head
    best = None
    for k in known:
        if source.startswith(k) and (best is None or len(k) > len(best)):
            best = k
    return best


def _set(verdicts: dict, path: str | None, verdict: str, note: str) -> None:
    if path is None:
        return
    rank = {"flagged": 3, "error": 2, "clean": 1, "skipped": 0}
    cur = verdicts.get(path)
    if cur is None or rank[verdict] > rank[cur["verdict"]]:
        verdicts[path] = {"verdict": verdict, "note": note[:300]}


def parse_modelgate(report_path: pathlib.Path, base: pathlib.Path, known: set[str]) -> dict:
    verdicts: dict = {}
    try:
        doc = json.loads(report_path.read_text())
    except (OSError, ValueError) as e:
        return {"_run_error": f"no JSON report: {e}"}

    def rel(p: str) -> str | None:
        try:
            return _top(str(pathlib.Path(p).resolve().relative_to(base)), known)
        except ValueError:
            return None

    for f in doc.get("files", []):
        _set(verdicts, rel(f["path"]), "clean", f"format {f.get('format')}")
    for e in doc.get("errors", []):
        _set(verdicts, rel(e["path"]), "error", e.get("message", ""))
    for f in doc.get("findings", []):
        sev = str(f.get("severity", "")).lower()
        loc = f.get("location", {})
        note = f"{f.get('rule')} {sev}: {f.get('message', '')}"
        if sev in ("high", "critical"):
            _set(verdicts, rel(loc.get("path", "")), "flagged", note)
    return verdicts


def parse_modelscan(report_path: pathlib.Path, known: set[str]) -> dict:
    verdicts: dict = {}
    try:
        doc = json.loads(report_path.read_text())
    except (OSError, ValueError) as e:
        return {"_run_error": f"no JSON report: {e}"}
    summary = doc.get("summary", {})
    for s in (summary.get("skipped") or {}).get("skipped_files", []):
        _set(verdicts, _top(s["source"], known), "skipped",
             f"{s.get('category')}: {s.get('description')}")
    for s in (summary.get("scanned") or {}).get("scanned_files", []):
        _set(verdicts, _top(s, known), "clean", "scanned")
    for e in doc.get("errors", []):
        _set(verdicts, _top(e.get("source", ""), known), "error",
             f"{e.get('category')}: {e.get('description')}")
    for i in doc.get("issues", []):
        sev = str(i.get("severity", "")).upper()
        note = f"{sev}: {i.get('description')}"
        path = _top(i.get("source", ""), known)
        if sev in ("HIGH", "CRITICAL"):
            _set(verdicts, path, "flagged", note)
        else:
            _set(verdicts, path, "clean", note)
    return verdicts


def parse_picklescan(stdout_path: pathlib.Path, base: pathlib.Path, known: set[str]) -> dict:
    """picklescan -l DEBUG: 'Scanning file ABS' per file scanned; 'ABS[:member]: dangerous
    import ... FOUND' (its Dangerous level) per hit; 'ERROR: parsing pickle in ABS' and
    'WARNING: could not parse ABS' per failure. Its 'suspicious' level is not counted."""
    verdicts: dict = {}
    prefix = str(base) + "/"
    text = stdout_path.read_text(errors="replace")

    def rel(fragment: str) -> str | None:
        if not fragment.startswith(prefix):
            return None
        return _top(fragment[len(prefix):], known)

    for line in text.splitlines():
        if line.startswith("Scanning file ") and " in zip archive " not in line:
            _set(verdicts, rel(line[len("Scanning file "):].strip()), "clean", "scanned")
        elif line.startswith("ERROR: parsing pickle in "):
            rest = line[len("ERROR: parsing pickle in "):]
            _set(verdicts, rel(rest), "error", line)
        elif line.startswith("WARNING: could not parse "):
            rest = line[len("WARNING: could not parse "):]
            _set(verdicts, rel(rest), "error", line)
        elif "dangerous import" in line and line.endswith("FOUND"):
            _set(verdicts, rel(line), "flagged", line[len(prefix):] if line.startswith(prefix) else line)
    return verdicts


def fickling_verdict(run: dict, json_path: pathlib.Path, stdout_path: pathlib.Path) -> dict:
    """fickling --check-safety exits 0 when it finds the pickle likely safe, 1 when it judges
    it unsafe, 2 when it cannot parse the file. An exit 1 whose only reason is "invalid
    opcode(s)" with no detailed result is fickling failing to parse a non-pickle file (GGUF,
    ONNX, JSON...), so it is counted as an error (fail-closed), not a detection."""
    severity, analysis, details = None, "", {}
    if json_path.exists():
        # One JSON object per pickle found in the file, written back to back.
        text, pos, decoder = json_path.read_text(errors="replace"), 0, json.JSONDecoder()
        analyses = []
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                report, pos = decoder.raw_decode(text, pos)
            except ValueError:
                break
            severity = severity or report.get("severity")
            if report.get("analysis"):
                analyses.append(report["analysis"])
            details.update(report.get("detailed_results") or {})
        analysis = "\n".join(analyses)
    out = stdout_path.read_text(errors="replace").strip().splitlines()
    last = out[0] if out else ""
    if run["rc"] == 0:
        return {"verdict": "clean", "note": f"exit 0 {severity or ''}".strip()}
    stderr_path = stdout_path.with_suffix(".stderr")
    err = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    if run["rc"] == 1 and severity is None and "Traceback" in err:
        # A Python exception escaped fickling (exit 1 from the interpreter): a crash.
        tail = err.strip().splitlines()[-1] if err.strip() else ""
        return {"verdict": "error", "note": f"crashed: {tail[:200]}"}
    if run["rc"] == 1:
        first = analysis.splitlines()[0] if analysis else ""
        if not details and ("invalid opcode" in analysis or "malformed opcode" in analysis):
            # Its only complaint is that the bytes are not a pickle it can parse: a parse
            # failure (it exits 1 for it), not a detection of what the file does.
            return {"verdict": "error", "note": f"exit 1 {severity}: {first}"}
        return {"verdict": "flagged", "note": f"exit 1 {severity}: {first}"}
    return {"verdict": "error", "note": f"exit {run['rc']}: {last[:200]}"}


# ---------------------------------------------------------------------------------------------
# the runs


def run_corpus(tool: str, corpus: pathlib.Path, files: list[dict], out: pathlib.Path,
               venv_bin: pathlib.Path, modelgate_bin: pathlib.Path) -> dict:
    known = {f["path"] for f in files}
    raw = out / "raw" / tool
    raw.mkdir(parents=True, exist_ok=True)
    runs, verdicts = [], {}
    if tool == "fickling":
        for f in files:
            name = f["path"].replace("/", "__")
            jpath = raw / f"{name}.json"
            jpath.unlink(missing_ok=True)
            r = timed([str(venv_bin / "fickling"), "--check-safety", "--json-output", str(jpath),
                       str(corpus / f["path"])], raw / f"{name}.stdout", raw / f"{name}.stderr")
            runs.append(r)
            verdicts[f["path"]] = fickling_verdict(r, jpath, raw / f"{name}.stdout")
    else:
        for sub in ("benign", "malicious"):
            target = corpus / sub
            if tool == "modelgate":
                report = raw / f"{sub}.json"
                cmd = [str(modelgate_bin), "scan", "--format", "json", "--no-progress",
                       "--output", str(report), str(target)]
                r = timed(cmd, raw / f"{sub}.stdout", raw / f"{sub}.stderr")
                parsed = parse_modelgate(report, corpus, known)
            elif tool == "modelscan":
                report = raw / f"{sub}.json"
                report.unlink(missing_ok=True)
                cmd = [str(venv_bin / "modelscan"), "-p", str(target), "-r", "json", "-o",
                       str(report), "--show-skipped"]
                r = timed(cmd, raw / f"{sub}.stdout", raw / f"{sub}.stderr")
                # modelscan reports sources relative to the scanned directory.
                parsed = parse_modelscan(report, {k[len(sub) + 1:] for k in known
                                                  if k.startswith(sub + "/")})
                parsed = {(f"{sub}/{k}" if not k.startswith("_") else k): v
                          for k, v in parsed.items()}
            else:  # picklescan
                cmd = [str(venv_bin / "picklescan"), "-l", "DEBUG", "-p", str(target)]
                r = timed(cmd, raw / f"{sub}.stdout", raw / f"{sub}.stderr")
                # picklescan logs to stderr or stdout depending on version: read both.
                merged = raw / f"{sub}.log"
                merged.write_bytes((raw / f"{sub}.stdout").read_bytes()
                                   + (raw / f"{sub}.stderr").read_bytes())
                parsed = parse_picklescan(merged, corpus.resolve(), known)
            runs.append(r)
            run_error = parsed.pop("_run_error", None)
            if run_error:
                r["run_error"] = run_error
            verdicts.update(parsed)
    for f in files:
        verdicts.setdefault(f["path"], {"verdict": "skipped", "note": "not mentioned in output"})
    total_bytes = sum((corpus / f["path"]).stat().st_size for f in files)
    wall = sum(r["wall_s"] for r in runs)
    return {
        "runs": runs,
        "wall_s": wall,
        "max_rss_kb": max((r["max_rss_kb"] for r in runs), default=0),
        "files": len(files),
        "bytes": total_bytes,
        "verdicts": verdicts,
    }


def run_big(tool: str, path: pathlib.Path, out: pathlib.Path, venv_bin: pathlib.Path,
            modelgate_bin: pathlib.Path) -> dict:
    raw = out / "raw" / tool
    raw.mkdir(parents=True, exist_ok=True)
    stem = f"big-{path.name}"
    if tool == "modelgate":
        cmd = [str(modelgate_bin), "scan", "--format", "json", "--no-progress", "--output",
               str(raw / f"{stem}.json"), str(path)]
    elif tool == "modelscan":
        cmd = [str(venv_bin / "modelscan"), "-p", str(path), "-r", "json", "-o",
               str(raw / f"{stem}.json"), "--show-skipped"]
    elif tool == "picklescan":
        cmd = [str(venv_bin / "picklescan"), "-p", str(path)]
    elif tool == "fickling":
        cmd = [str(venv_bin / "fickling"), "--check-safety", "--json-output",
               str(raw / f"{stem}.json"), str(path)]
    else:  # sha256sum
        cmd = ["sha256sum", str(path)]
    r = timed(cmd, raw / f"{stem}.stdout", raw / f"{stem}.stderr")
    size = path.stat().st_size
    r["bytes"] = size
    r["mb_per_s"] = size / 1e6 / r["wall_s"] if r["wall_s"] > 0 else 0.0
    return r


def big_verdict(tool: str, run: dict, raw: pathlib.Path, name: str) -> str:
    """Exit codes: modelgate 0 pass / 1 findings / 2 error; modelscan 0 / 1 issues / 2 error /
    3 no supported file; picklescan 0 / 1 infected / 2 error; fickling as for the corpus."""
    if tool == "sha256sum":
        return "-"
    if tool == "fickling":
        stem = raw / f"big-{name}"
        return fickling_verdict(run, stem.with_suffix(stem.suffix + ".json"),
                                stem.with_suffix(stem.suffix + ".stdout"))["verdict"]
    if tool == "modelscan" and run["rc"] == 3:
        return "skipped"
    return {0: "clean", 1: "flagged"}.get(run["rc"], "error")


# ---------------------------------------------------------------------------------------------
# report


def summarize(result: dict, files: list[dict]) -> dict:
    v = result["verdicts"]
    mal = [f for f in files if f["kind"] == "malicious"]
    ben = [f for f in files if f["kind"] == "benign"]
    count = lambda group, verdicts: sum(1 for f in group if v[f["path"]]["verdict"] in verdicts)  # noqa: E731
    wall = result["wall_s"]
    return {
        "malicious": len(mal),
        "benign": len(ben),
        "detected": count(mal, {"flagged"}),
        "detected_fail_closed": count(mal, {"flagged", "error"}),
        "false_positives": count(ben, {"flagged"}),
        "benign_errors": count(ben, {"error"}),
        "skipped": count(files, {"skipped"}),
        "errors": count(files, {"error"}),
        "files_per_s": len(files) / wall if wall > 0 else 0.0,
        "mb_per_s": result["bytes"] / 1e6 / wall if wall > 0 else 0.0,
        "max_rss_mb": result["max_rss_kb"] / 1024,
        "wall_s": wall,
    }


def category(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "os": platform.platform(), "python": platform.python_version()}


def render(doc: dict, notes: str) -> str:
    m = doc["machine"]
    lines = [
        "# Scan benchmark: modelgate vs modelscan, fickling, picklescan",
        "",
        "Generated by `bench/scan/run.sh` (do not edit by hand; edit `bench/scan/peer-notes.md` "
        "for the commentary at the end). Raw per-file verdicts and tool outputs: `bench/out/`.",
        "",
        f"- Date: {doc['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, Linux {m['kernel']} "
        f"({m['os']}); load average when the run started: {m.get('loadavg', '?')}",
        f"- Python {m['python']}; tool versions: "
        + ", ".join(f"{t} {doc['versions'][t]}" for t in TOOLS),
        f"- Corpus: `tests/corpus` ({doc['corpus']['files']} files: "
        f"{doc['corpus']['malicious']} malicious, {doc['corpus']['benign']} benign, "
        f"{doc['corpus']['bytes'] / 1e6:.2f} MB), generated by `tests/corpus/generate.py`",
        "- Timings are the best wall-clock time of several runs (`REPEAT`, default 3; "
        "fickling once) with a warm page cache, on a machine other builds may share; peak RSS from "
        "`/usr/bin/time -v`. modelscan and picklescan are run once per directory (`benign/`, "
        "`malicious/`) and their output mapped back to files; fickling has no directory mode "
        "and is run once per file (times summed, RSS is the largest single run).",
        "",
        "## Corpus",
        "",
        "| tool | malicious detected | detected, fail-closed | false positives (benign flagged) "
        "| benign errored | skipped | errored | wall s | files/s | MB/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in TOOLS:
        s = doc["corpus_results"].get(t)
        if s is None:
            lines.append(f"| {t} | not run | | | | | | | | | |")
            continue
        s = s["summary"]
        lines.append(
            f"| {t} | {s['detected']}/{s['malicious']} | {s['detected_fail_closed']}/"
            f"{s['malicious']} | {s['false_positives']}/{s['benign']} | {s['benign_errors']} | "
            f"{s['skipped']} | {s['errors']} | {s['wall_s']:.2f} | {s['files_per_s']:.1f} | "
            f"{s['mb_per_s']:.2f} | {s['max_rss_mb']:.0f} |")
    lines += [
        "",
        "*Detected*: flagged at the tool's high/critical equivalent (modelgate: `high`/"
        "`critical`; modelscan: `HIGH`/`CRITICAL`; picklescan: a *dangerous* global, not "
        "*suspicious*; fickling: `--check-safety` exit 1 with a reason other than \"invalid "
        "opcode(s)\"). *Fail-closed* also counts files the tool reported it could not parse or "
        "scan (fickling: exit 2, or exit 1 for invalid opcodes only), as a pipeline that "
        "rejects unreadable files would. Every benign file that is flagged is a false "
        "positive; benign files a tool errored on are listed separately.",
        "",
        "### Detections by category (flagged / malicious files)",
        "",
        "| category | files | " + " | ".join(TOOLS) + " |",
        "|---|---|" + "---|" * len(TOOLS),
    ]
    cats: dict = {}
    for f in doc["files"]:
        if f["kind"] == "malicious":
            cats.setdefault(category(f["path"]), []).append(f["path"])
    for cat in sorted(cats):
        row = [cat, str(len(cats[cat]))]
        for t in TOOLS:
            r = doc["corpus_results"].get(t)
            if r is None:
                row.append("-")
                continue
            n = sum(1 for p in cats[cat] if r["verdicts"][p]["verdict"] == "flagged")
            row.append(f"{n}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Large files", "",
              "| tool | file | size GB | wall s | MB/s | peak RSS MB | exit | verdict |",
              "|---|---|---|---|---|---|---|---|"]
    for row in doc["big_results"]:
        lines.append(
            f"| {row['tool']} | `{row['file']}` | {row['bytes'] / 1e9:.2f} | {row['wall_s']:.2f} | "
            f"{row['mb_per_s']:.0f} | {row['max_rss_kb'] / 1024:.0f} | {row['rc']} | "
            f"{row.get('verdict', '')} |")
    lines += ["", "`sha256sum` reads every byte once: it is the disk-speed yardstick a scanner "
              "that reads the whole file should approach. A tool faster than it did not read "
              "every byte (the peers read only the pickle of a torch zip and skip tensor data).",
              ""]
    lines += ["## What each tool missed", "",
              "Generated from each tool's own output: every malicious file not flagged, with "
              "the tool's verdict and the last thing it said about the file.", ""]
    for t in TOOLS:
        r = doc["corpus_results"].get(t)
        if r is None:
            continue
        missed = [f for f in doc["files"] if f["kind"] == "malicious"
                  and r["verdicts"][f["path"]]["verdict"] != "flagged"]
        fps = [f for f in doc["files"] if f["kind"] == "benign"
               and r["verdicts"][f["path"]]["verdict"] == "flagged"]
        lines.append(f"<details><summary><b>{t}</b>: {len(missed)} malicious files not flagged, "
                     f"{len(fps)} benign files flagged</summary>")
        lines.append("")
        lines.append("| file | technique | verdict | tool said |")
        lines.append("|---|---|---|---|")
        for f in missed + fps:
            v = r["verdicts"][f["path"]]
            note = v["note"].replace("|", "\\|").replace("\n", " ")
            tech = f["technique"].replace("|", "\\|")
            mark = "" if f["kind"] == "malicious" else " (benign: false positive)"
            lines.append(f"| `{f['path']}`{mark} | {tech} | {v['verdict']} | {note} |")
        lines += ["", "</details>", ""]
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=pathlib.Path, required=True)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--modelgate", type=pathlib.Path, required=True)
    ap.add_argument("--big", type=pathlib.Path, nargs="*", default=[])
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--doc", type=pathlib.Path, required=True)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool; best is kept")
    args = ap.parse_args()

    root = args.root.resolve()
    corpus = root / "tests" / "corpus"
    venv_bin = pathlib.Path(sys.executable).parent
    exp = json.loads((corpus / "expectations.json").read_text())
    files = exp["files"]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tools = [t for t in args.tools.split(",") if t in TOOLS]  # e.g. "none": re-render only

    # Warm the page cache so every tool reads from memory.
    for f in files:
        (corpus / f["path"]).read_bytes()

    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": {t: tool_version(t, args.modelgate) for t in TOOLS},
        "corpus": {"files": len(files),
                   "malicious": sum(1 for f in files if f["kind"] == "malicious"),
                   "benign": sum(1 for f in files if f["kind"] == "benign"),
                   "bytes": sum((corpus / f["path"]).stat().st_size for f in files)},
        "files": files,
        "corpus_results": {},
        "big_results": [],
    }
    previous = out / "results.json"
    if previous.exists():
        # Keep earlier results for tools not re-run this time (e.g. re-running modelgate only).
        try:
            old = json.loads(previous.read_text())
            for t, r in old.get("corpus_results", {}).items():
                if t not in tools and t in TOOLS:
                    doc["corpus_results"][t] = r
            # Big-file rows are replaced only when big files are measured in this run.
            doc["big_results"] = [r for r in old.get("big_results", [])
                                  if not args.big or r["tool"] not in [*tools, "sha256sum"]]
            if not tools:
                # Re-rendering only: the date and the machine's state are the measured run's.
                doc["date"] = old.get("date", doc["date"])
                doc["machine"] = old.get("machine", doc["machine"])
        except (ValueError, KeyError):
            pass

    for tool in tools:
        if tool == "modelgate" and not args.modelgate.exists():
            print(f"bench: {args.modelgate} missing; skipping modelgate", file=sys.stderr)
            continue
        print(f"bench: {tool} over the corpus", file=sys.stderr)
        # Best of N wall-clock times (the machine may be shared); verdicts from the last run.
        # fickling runs once per file, so one pass already takes a minute: it is run once.
        walls, rss = [], 0
        for _ in range(1 if tool == "fickling" else max(1, args.repeat)):
            result = run_corpus(tool, corpus, files, out, venv_bin, args.modelgate)
            walls.append(result["wall_s"])
            rss = max(rss, result["max_rss_kb"])
        result["wall_s"], result["max_rss_kb"], result["repeats"] = min(walls), rss, len(walls)
        result["summary"] = summarize(result, files)
        doc["corpus_results"][tool] = result
        print(f"bench:   {json.dumps(result['summary'])}", file=sys.stderr)

    for big in args.big:
        big = big.resolve()
        if not big.exists():
            continue
        subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=False)  # warm cache
        for tool in [*tools, "sha256sum"]:
            if tool == "modelgate" and not args.modelgate.exists():
                continue
            print(f"bench: {tool} on {big.name}", file=sys.stderr)
            runs = [run_big(tool, big, out, venv_bin, args.modelgate)
                    for _ in range(max(1, args.repeat))]
            r = min(runs, key=lambda x: x["wall_s"])
            r["max_rss_kb"] = max(x["max_rss_kb"] for x in runs)
            r["repeats"] = len(runs)
            r.update({"tool": tool, "file": big.name})
            r["verdict"] = big_verdict(tool, r, out / "raw" / tool, big.name)
            doc["big_results"].append(r)
    order = {t: i for i, t in enumerate([*TOOLS, "sha256sum"])}
    doc["big_results"].sort(key=lambda r: (r["file"], order.get(r["tool"], 99)))

    previous.write_text(json.dumps(doc, indent=1) + "\n")
    notes_path = root / "bench" / "scan" / "peer-notes.md"
    notes = notes_path.read_text() if notes_path.exists() else ""
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(render(doc, notes))
    print(f"bench: wrote {previous} and {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
