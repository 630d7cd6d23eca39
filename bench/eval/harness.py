#!/usr/bin/env python3
"""Runs modelgate's eval runner and Inspect AI side by side against one local stub server.

Called by bench/eval/run.sh (which builds the binaries and the venv); run it with the venv's
Python (bench/eval/.venv/bin/python): it reads Inspect's `.eval` logs with inspect_ai itself.

For each concurrency it runs both tools on the same dataset file, each under /usr/bin/time,
and records wall time, samples/s, user+sys CPU seconds of the tool (and its children), peak
RSS, accuracy, and the stub server's CPU seconds over the run (from /proc/PID/stat). Every run
must score 100 % on the calc dataset, finish every item and end in success: anything else is
reported and makes the harness exit 1, since a fast run that did not really run is no figure.
Then it runs both tools against a closed port to show their exit codes.

Writes OUT/results.csv, OUT/results.md and OUT/exit-codes.md.
"""
import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
TIME_FORMAT = "%e %U %S %M"
# Inspect's cheapest logging that still keeps every sample in the log (as modelgate's does):
# no realtime event buffer (a SQLite database written several times per sample) and larger
# write batches. Run as the "inspect-tuned" rows, at the concurrencies in --tuned-at.
TUNED = ("--no-log-realtime", "--log-buffer", "100")
# Both tools are given the same dummy key: the stub ignores it.
ENV = dict(os.environ, OPENAI_API_KEY="sk-bench-dummy", NO_COLOR="1")


def log(msg):
    print(f"harness: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def proc_cpu_seconds(pid):
    """user+sys CPU seconds of a live process (its own threads, not its children)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Stub:
    def __init__(self, cmd, latency_ms):
        self.port = free_port()
        argv = [*cmd, "--port", str(self.port), "--latency-ms", str(latency_ms), "--mode", "calc"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise SystemExit(f"harness: the stub server did not print its URL (got {line!r})")
        self.url = line
        log(f"stub server pid {self.proc.pid} at {self.url}, latency {latency_ms} ms")

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def timed(argv, workdir, timeout, cwd=None):
    """Runs argv under /usr/bin/time; returns (exit code, wall s, cpu s, peak RSS MiB)."""
    tfile = workdir / "time.txt"
    out = open(workdir / "stdout.txt", "w", encoding="utf-8")
    err = open(workdir / "stderr.txt", "w", encoding="utf-8")
    start = time.monotonic()
    # Its own process group, so a timeout kills the tool and not only /usr/bin/time.
    proc = subprocess.Popen(["/usr/bin/time", "-f", TIME_FORMAT, "-o", str(tfile), *argv],
                            stdout=out, stderr=err, env=ENV, cwd=cwd, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code = None
    finally:
        out.close()
        err.close()
    wall = time.monotonic() - start
    cpu = rss = float("nan")
    if code is not None:
        last = tfile.read_text(encoding="utf-8").strip().splitlines()[-1].split()
        wall, cpu, rss = float(last[0]), float(last[1]) + float(last[2]), int(last[3]) / 1024
    return code, wall, cpu, rss


def run_modelgate(args, stub_url, dataset, conc, workdir, timeout=3600):
    store = workdir / "store"
    results = workdir / "results.json"
    argv = [args.modelgate, "eval", "run", "--dataset", str(dataset),
            "--dataset-sha256", sha256(dataset), "--model", "openai/stub",
            "--base-url", stub_url, "--max-connections", str(conc), "--scorer", "match",
            "--store", str(store), "--results-json", str(results)]
    code, wall, cpu, rss = timed(argv, workdir, timeout)
    info = {"exit": code, "status": "?", "completed": 0, "accuracy": float("nan")}
    if results.exists():
        r = json.loads(results.read_text(encoding="utf-8"))
        info.update(status=r.get("status"), completed=r.get("completed") or 0,
                    accuracy=r.get("accuracy") if r.get("accuracy") is not None else float("nan"))
    return wall, cpu, rss, info


def inspect_argv(args, stub_url, dataset, conc, logdir, extra=()):
    # `-M responses_api=false`: inspect-ai treats an unknown model name on the openai provider
    # as a frontier codename and speaks the Responses API; the stub (like vLLM, llama.cpp …)
    # serves Chat Completions, which is also what modelgate's openai provider speaks.
    # (Run from bench/eval: inspect globs the task path and refuses an absolute one.)
    return [args.inspect, "eval", "inspect_task.py", "--model", "openai/stub",
            "-M", "responses_api=false", "--model-base-url", stub_url,
            "--max-connections", str(conc), "--display", "none", "--log-dir", str(logdir),
            "-T", f"dataset={dataset}", *extra]


def read_inspect_log(logdir):
    from inspect_ai.log import read_eval_log

    logs = sorted(logdir.glob("*.eval"))
    if not logs:
        return None
    return read_eval_log(str(logs[-1]), header_only=True)


def run_inspect(args, stub_url, dataset, conc, workdir, extra=(), timeout=7200):
    logdir = workdir / "logs"
    code, wall, cpu, rss = timed(inspect_argv(args, stub_url, dataset, conc, logdir, extra),
                                 workdir, timeout, cwd=HERE)
    info = {"exit": code, "status": "?", "completed": 0, "accuracy": float("nan"),
            "eval_seconds": float("nan")}
    header = read_inspect_log(logdir)
    if header is not None:
        info["status"] = header.status
        if header.results is not None:
            info["completed"] = header.results.completed_samples
            if header.results.scores:
                info["accuracy"] = header.results.scores[0].metrics["accuracy"].value
        st = header.stats
        if st.started_at and st.completed_at:
            from datetime import datetime

            info["eval_seconds"] = (datetime.fromisoformat(st.completed_at)
                                    - datetime.fromisoformat(st.started_at)).total_seconds()
    return wall, cpu, rss, info


def dataset_file(out, count):
    path = out / f"calc-{count}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "make_dataset.py"), str(path), str(count)],
                       check=True)
    return path


def fmt(x, digits=1):
    return "—" if x != x else f"{x:,.{digits}f}"


def benchmark(args, out):
    stub = Stub(args.stub, args.latency_ms)
    rows = []
    try:
        for conc in args.concurrency:
            n_mg = max(args.min_items, conc * args.bound_seconds * 1000 // args.latency_ms)
            n_mg = min(n_mg, args.max_items)
            n_in = min(n_mg, args.inspect_max_items)
            plan = [("modelgate", n_mg), ("inspect", n_in)]
            if conc in args.tuned_at:
                plan.append(("inspect-tuned", n_in))
            for tool, n in plan:
                if tool.split("-")[0] not in args.tools:
                    continue
                dataset = dataset_file(out, n)
                for rep in range(args.repeat):
                    workdir = out / "runs" / f"{tool}-c{conc}-r{rep}"
                    shutil.rmtree(workdir, ignore_errors=True)
                    workdir.mkdir(parents=True)
                    log(f"{tool}: concurrency {conc}, {n} items (run {rep + 1}/{args.repeat})")
                    load = os.getloadavg()[0]
                    server_before = stub.cpu()
                    if tool == "modelgate":
                        wall, cpu, rss, info = run_modelgate(args, stub.url, dataset, conc,
                                                             workdir)
                    else:
                        wall, cpu, rss, info = run_inspect(args, stub.url, dataset, conc,
                                                           workdir, TUNED if "-" in tool else ())
                    server = stub.cpu() - server_before
                    bound = conc * 1000 / args.latency_ms
                    row = {
                        "concurrency": conc, "tool": tool, "run": rep + 1, "items": n,
                        "wall_s": wall, "samples_per_s": n / wall,
                        "pct_of_bound": 100 * n / wall / bound,
                        "cpu_s": cpu, "cpu_ms_per_sample": 1000 * cpu / n,
                        "peak_rss_mib": rss, "accuracy": info["accuracy"],
                        "completed": info["completed"], "status": info["status"],
                        "exit": info["exit"], "server_cpu_s": server,
                        "eval_only_samples_per_s": n / info["eval_seconds"]
                        if info.get("eval_seconds", float("nan")) > 0 else float("nan"),
                        "load1": load,
                    }
                    row["ok"] = (info["exit"] == 0 and info["completed"] == n
                                 and info["accuracy"] == 1.0)
                    rows.append(row)
                    log(f"  {fmt(row['samples_per_s'])} samples/s, {fmt(cpu, 2)} CPU s, "
                        f"{fmt(rss)} MiB, accuracy {info['accuracy']}, status {info['status']}, "
                        f"exit {info['exit']}, server {fmt(server, 2)} CPU s, load {load:.1f}")
    finally:
        stub.stop()
    return rows


def median_rows(rows):
    """One row per (concurrency, tool): the run with the median samples/s."""
    keyed = {}
    for r in rows:
        keyed.setdefault((r["concurrency"], r["tool"]), []).append(r)
    out = []
    order = {"modelgate": 0, "inspect": 1, "inspect-tuned": 2}
    for key in sorted(keyed, key=lambda k: (k[0], order[k[1]])):
        runs = sorted(keyed[key], key=lambda r: r["samples_per_s"])
        out.append(runs[(len(runs) - 1) // 2])
    return out


def write_tables(rows, out, args):
    fields = list(rows[0].keys())
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    med = median_rows(rows)
    lines = [
        f"Stub latency {args.latency_ms} ms; bound = concurrency / latency. "
        f"{args.repeat} run(s) each, median shown. CPU = user+sys of the tool's process tree.",
        "",
        "| conc | tool | items | wall s | samples/s | % of bound | CPU s | CPU ms/sample "
        "| peak RSS MiB | accuracy | server CPU s | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in med:
        acc = "—" if r["accuracy"] != r["accuracy"] else f"{100 * r['accuracy']:.1f} %"
        if not r["ok"]:
            acc += f" (FAILED: exit {r['exit']}, {r['completed']} done, {r['status']})"
        lines.append(
            f"| {r['concurrency']} | {r['tool']} | {r['items']:,} | {fmt(r['wall_s'])} "
            f"| **{fmt(r['samples_per_s'])}** | {fmt(r['pct_of_bound'])} % | {fmt(r['cpu_s'], 2)} "
            f"| {fmt(r['cpu_ms_per_sample'], 3)} | {fmt(r['peak_rss_mib'])} | {acc} "
            f"| {fmt(r['server_cpu_s'], 2)} | {r['load1']:.1f} |")
    lines += ["", "| conc | vs | throughput modelgate ÷ Inspect | CPU/sample Inspect ÷ modelgate "
              "| Inspect samples/s excluding its start-up |", "|---:|---|---:|---:|---:|"]
    by = {(r["concurrency"], r["tool"]): r for r in med}
    for conc in args.concurrency:
        mg = by.get((conc, "modelgate"))
        for variant in ("inspect", "inspect-tuned"):
            ins = by.get((conc, variant))
            if not ins:
                continue
            speed = cpu = "—"
            if mg:
                speed = f"{fmt(mg['samples_per_s'] / ins['samples_per_s'])}×"
                cpu = f"{fmt(ins['cpu_ms_per_sample'] / mg['cpu_ms_per_sample'])}×"
            lines.append(f"| {conc} | {variant} | {speed} | {cpu} "
                         f"| {fmt(ins['eval_only_samples_per_s'])} |")
    (out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return all(r["ok"] for r in rows)


def exit_codes(args, out):
    """Both tools against a closed port, with a few items: what does each exit with?"""
    port = free_port()  # bound then closed: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    dataset = dataset_file(out, 5)
    cases = [c for c in [
        ("modelgate", "--max-retries 2",
         lambda wd: [args.modelgate, "eval", "run", "--dataset", str(dataset),
                     "--dataset-sha256", sha256(dataset), "--model", "openai/stub",
                     "--base-url", url, "--max-connections", "4", "--scorer", "match",
                     "--max-retries", "2", "--store", str(wd / "store"),
                     "--results-json", str(wd / "results.json")]),
        ("inspect", "--max-retries 2",
         lambda wd: inspect_argv(args, url, dataset, 4, wd / "logs", ("--max-retries", "2"))),
        ("modelgate", "defaults",
         lambda wd: [args.modelgate, "eval", "run", "--dataset", str(dataset),
                     "--dataset-sha256", sha256(dataset), "--model", "openai/stub",
                     "--base-url", url, "--max-connections", "4", "--scorer", "match",
                     "--store", str(wd / "store"), "--results-json", str(wd / "results.json")]),
        ("inspect", "defaults",
         lambda wd: inspect_argv(args, url, dataset, 4, wd / "logs")),
    ] if c[0] in args.tools]
    lines = [f"Server down (nothing listens on {url}), 5 items, concurrency 4, "
             f"killed after {args.down_timeout} s.", "",
             "| tool | retries | exit code | wall s | run status recorded |", "|---|---|---:|---:|---|"]
    for i, (tool, retries, argv) in enumerate(cases):
        wd = out / "runs" / f"down-{i}-{tool}"
        shutil.rmtree(wd, ignore_errors=True)
        wd.mkdir(parents=True)
        log(f"server down: {tool} ({retries})")
        code, wall, _, _ = timed(argv(wd), wd, args.down_timeout, cwd=HERE)
        if tool == "modelgate":
            res = wd / "results.json"
            status = json.loads(res.read_text(encoding="utf-8")).get("status") if res.exists() \
                else "no results file"
        else:
            header = read_inspect_log(wd / "logs")
            status = header.status if header is not None else "no log"
        shown = "killed (still retrying)" if code is None else str(code)
        lines.append(f"| {tool} | {retries} | **{shown}** | {fmt(wall)} | {status} |")
        log(f"  exit {shown} after {fmt(wall)} s, status {status}")
    (out / "exit-codes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modelgate", required=True, help="the modelgate binary")
    p.add_argument("--stub", required=True, nargs="+", help="the stub server command")
    p.add_argument("--inspect", required=True, help="the inspect executable (of the venv)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                   default=[1, 16, 64, 256])
    p.add_argument("--bound-seconds", type=int, default=10,
                   help="items = concurrency x this / latency: ~this long at the bound")
    p.add_argument("--min-items", type=int, default=200)
    p.add_argument("--max-items", type=int, default=60000)
    p.add_argument("--inspect-max-items", type=int, default=6000,
                   help="cap on Inspect's items (it runs ~10x longer per item)")
    p.add_argument("--tools", type=lambda s: s.split(","), default=["modelgate", "inspect"],
                   help="which tools to run (comma-separated)")
    p.add_argument("--tuned-at", type=lambda s: [int(x) for x in s.split(",") if x],
                   default=[256], help="concurrencies that also run inspect-tuned (see TUNED)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--down-timeout", type=int, default=120)
    p.add_argument("--skip-down", action="store_true")
    args = p.parse_args()
    # Inspect runs from bench/eval, so every path handed to a tool is made absolute.
    args.out = args.out.resolve()
    args.modelgate = os.path.abspath(args.modelgate)
    args.inspect = os.path.abspath(args.inspect)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = benchmark(args, args.out)
    ok = write_tables(rows, args.out, args)
    if not args.skip_down:
        exit_codes(args, args.out)
    if not ok:
        log("some runs did not finish every item at 100 % accuracy: see the table")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
