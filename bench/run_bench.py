#!/usr/bin/env python3
"""Time pushscope against plain tshark on a large capture, and check both see the same requests and promises.

    bench/run_bench.py [--capture bench/out/big.pcapng --keys bench/out/big.keys] [--make] [--public]

For each capture, in the same run and on the same machine:

* ``tshark``: ``tshark -r CAP -o tls.keylog_file:KEYS -Y http2 -T fields -e http2.type > /dev/null`` (tshark's own
  HTTP/2 dissection, the baseline);
* ``pushscope json`` / ``pushscope text``: ``.venv/bin/pushscope report CAP --keylog KEYS --format json|text -o
  /dev/null`` (the first json run writes ``bench/out/NAME.report.json`` instead, for the count check);
* ``its tshark pass``: the tshark command(s) pushscope itself ran, replayed alone with the output thrown away,
  to split pushscope's time between tshark and Python (learned from a logging ``tshark`` shim put first on PATH
  for the first json run; the shim only execs the real tshark).

Each is timed wall-clock, best of ``--runs`` (a run slower than ``--repeat-limit`` seconds is not repeated), under
``/usr/bin/time -v`` for "Maximum resident set size" (the largest single process: for pushscope that is the larger
of Python and its tshark child); the whole process tree's RSS is also sampled from /proc every 50 ms, since
pushscope's Python and tshark run at the same time.

The check counts HTTP/2 requests and PUSH_PROMISEs with tshark (``-Y http2 -e http2.type -e
http2.headers.method``: PUSH_PROMISE frames carry a ``:method`` too, so requests = methods - promises) and
compares them with the HTTP/2 exchanges and pushes of pushscope's JSON report: MATCH or MISMATCH.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PUSHSCOPE = ROOT / ".venv" / "bin" / "pushscope"
PUBLIC = ROOT.parent / "shared" / "captures" / "public"
TIME = "/usr/bin/time"


@dataclass
class Workload:
    name: str
    capture: Path
    tshark_keys: Path | None  # plain text key log for tshark (it cannot read a gzipped one)
    pushscope_keys: Path | None  # what a user would pass to pushscope (gzipped is fine)


@dataclass
class Result:
    tool: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the whole tree, per run
    rss_kib: int = 0  # largest single process (time -v / getrusage)
    tree_kib: int = 0  # sampled sum over the process tree
    python_kib: int = 0  # sampled sum of the proportional set size of pushscope's own Python processes (not tshark)
    failed: str = ""

    @property
    def best(self) -> float | None:
        return min(self.seconds) if self.seconds else None


# --------------------------------------------------------------------------------------------------- measuring

def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return found


def _is_python(pid: int) -> bool:
    """pushscope's own processes (its Python, and the child that writes the cache entry), not tshark or a shell."""
    try:
        with open(f"/proc/{pid}/comm") as fh:
            name = fh.read().strip()
    except OSError:
        return False
    return name.startswith(("python", "pushscope"))


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return _rss_kib(pid)


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.python_peak = pid, interval, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo += _children(pid)
            self.peak = max(self.peak, sum(_rss_kib(p) for p in pids))
            # PSS, not RSS: the child that writes the cache entry shares its parent's pages (fork).
            self.python_peak = max(self.python_peak, sum(_pss_kib(p) for p in pids if _is_python(p)))
            self.done.wait(self.interval)


def have_time() -> bool:
    return os.access(TIME, os.X_OK)


RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL).returncode\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write('User time (seconds): %f\\nSystem time (seconds): %f\\n"
    "Maximum resident set size (kbytes): %d\\n' % (r.ru_utime, r.ru_stime, r.ru_maxrss))\n"
    "sys.exit(code)\n"
)


def measure_once(command: list[str], env: dict[str, str] | None = None
                 ) -> tuple[float, float, int, tuple[int, int], int, str]:
    """Run ``command`` once, stdout thrown away: (wall s, CPU s, max RSS KiB of the largest process, (tree peak KiB,
    Python peak KiB), exit code, stderr)."""
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-") as tmp:
        report = Path(tmp) / "rusage.txt"
        if have_time():
            wrapped = [TIME, "-v", "-o", str(report)] + command
        else:  # getrusage(RUSAGE_CHILDREN) in a fresh wrapper process holds only this command's children
            wrapped = [sys.executable, "-c", RUSAGE_WRAPPER, str(report)] + command
        with open(Path(tmp) / "stderr.txt", "w+b") as err:
            start = time.monotonic()
            proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                    env=env)
            sampler = TreeSampler(proc.pid)
            sampler.start()
            code = proc.wait()
            seconds = time.monotonic() - start
            sampler.done.set()
            sampler.join()
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        text = report.read_text(errors="replace") if report.exists() else ""
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    return seconds, cpu, int(match.group(1)) if match else 0, (sampler.peak, sampler.python_peak), code, stderr


def measure(tool: str, commands: list[list[str]], repeat_limit: float,
            first_env: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Result:
    """Run each command (the same work, ``runs`` times) until one is slower than ``repeat_limit`` seconds."""
    result = Result(tool)
    for i, command in enumerate(commands):
        run_env = first_env if i == 0 and first_env is not None else env
        seconds, cpu, rss, (tree, python), code, stderr = measure_once(command, run_env)
        if code != 0:
            result.failed = f"exit {code}: {' '.join(stderr.strip().splitlines()[-1:])}"
            break
        result.seconds.append(seconds)
        result.cpu.append(cpu)
        result.rss_kib, result.tree_kib = max(result.rss_kib, rss), max(result.tree_kib, tree)
        result.python_kib = max(result.python_kib, python)
        print(f"    {tool:<22} run {i + 1}: {seconds:8.2f} s wall  {cpu:8.2f} s cpu  {rss / 1024:7.1f} MiB  "
              f"(tree {tree / 1024:.1f} MiB)", file=sys.stderr, flush=True)
        if seconds > repeat_limit:
            break
    return result


# --------------------------------------------------------------------------------------------------- commands

def tshark_command(work: Workload) -> list[str]:
    command = ["tshark", "-n", "-r", str(work.capture)]
    if work.tshark_keys:
        command += ["-o", f"tls.keylog_file:{work.tshark_keys}"]
    return command + ["-Y", "http2", "-T", "fields", "-e", "http2.type"]


def pushscope_command(work: Workload, fmt: str, output: str, cache: bool = False) -> list[str]:
    command = [str(PUSHSCOPE), "report", str(work.capture), "--format", fmt, "-o", output, "--quiet"]
    if not cache:
        command.append("--no-cache")
    if work.pushscope_keys:
        command += ["--keylog", str(work.pushscope_keys)]
    return command


def reopen_commands(work: Workload) -> dict[str, list[str]]:
    """``check`` and ``diff`` (the capture against itself) with the cache on: run after the first open, they
    read the kept model (their first run) and then what they printed (the runs after)."""
    keys = ["--keylog", str(work.pushscope_keys)] if work.pushscope_keys else []
    return {
        "check, reopen (cache)": [str(PUSHSCOPE), "check", str(work.capture), *keys, "--quiet",
                                  "--max-wasted-bytes", "1000000000000"],
        "diff, reopen (cache)": [str(PUSHSCOPE), "diff", str(work.capture), str(work.capture), *keys, "--quiet",
                                 "-o", os.devnull],
    }


SHIM = """#!/bin/sh
# pushscope bench: log how pushscope runs tshark, then run the real one.
printf '%s\\0' "$@" >> "$PUSHSCOPE_BENCH_TSHARK_LOG"
printf '\\n\\0' >> "$PUSHSCOPE_BENCH_TSHARK_LOG"
exec {tshark} "$@"
"""


def make_shim(directory: Path) -> Path:
    """A ``tshark`` for the front of PATH that logs its arguments and execs the real tshark."""
    real = shutil.which("tshark") or "tshark"
    shim = directory / "tshark"
    shim.write_text(SHIM.replace("{tshark}", real), encoding="utf-8")
    shim.chmod(0o755)
    return directory / "tshark-calls.log"


def logged_tshark_command(log: Path, work: Workload) -> list[str] | None:
    """The tshark commands pushscope ran (as logged by the shim), as one shell command to replay."""
    if not log.is_file():
        return None
    calls: list[list[str]] = [[]]
    for item in log.read_text(encoding="utf-8", errors="surrogateescape").split("\0"):
        if item == "\n":
            calls.append([])
        elif item:
            calls[-1].append(item)
    calls = [c for c in calls if c]
    if not calls:
        return None
    real = shutil.which("tshark") or "tshark"
    lines = []
    for args in calls:
        # pushscope's own plain copy of the key log is gone by now: point at ours.
        args = [f"tls.keylog_file:{work.tshark_keys}" if a.startswith("tls.keylog_file:") and work.tshark_keys
                else a for a in args]
        if "-r" in args and args[args.index("-r") + 1] == "-":
            # It read the capture from pushscope, with the key log's secrets inside (sources/secrets_feed.py): the
            # same packets and secrets are the file and the key log.
            at = args.index("-r") + 1
            args[at:at + 1] = [str(work.capture)] + (["-o", f"tls.keylog_file:{work.tshark_keys}"]
                                                    if work.tshark_keys else [])
        lines.append(shlex.join([real] + args) + " > /dev/null")
    return ["sh", "-c", "\n".join(lines)]


def packet_count(capture: Path) -> int | None:
    exe = shutil.which("capinfos")
    if exe is None:
        return None
    result = subprocess.run([exe, "-M", "-c", str(capture)], capture_output=True, text=True)
    match = re.search(r"Number of packets:\s+(\d+)", result.stdout)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------------- check

def tshark_counts(work: Workload) -> tuple[int, int]:
    """(HTTP/2 requests, PUSH_PROMISEs) as tshark dissects them. With TLS tried before the port table, as pushscope
    runs it: else a client port tshark assigns to another protocol (44818 is EtherNet/IP) hides its connection
    (3 of 6,000 pushes at 35 MB, 18 of 204,000 at 1 GB)."""
    command = ["tshark", "-n", "-r", str(work.capture), "-o", "tcp.try_heuristic_first:TRUE"]
    if work.tshark_keys:
        command += ["-o", f"tls.keylog_file:{work.tshark_keys}"]
    command += ["-Y", "http2", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                "-e", "http2.type", "-e", "http2.headers.method"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    methods = promises = 0
    for line in out.splitlines():
        types, _, found = line.partition("\t")
        promises += sum(1 for t in types.split(";") if t.strip() == "5")
        methods += sum(1 for m in found.split(";") if m.strip())
    return methods - promises, promises


def pushscope_counts(report: Path) -> tuple[int, int]:
    data = json.loads(report.read_text(encoding="utf-8"))
    requests = sum(1 for e in data["exchanges"] if e["protocol"] == "h2" and not e["pushed"])
    pushes = sum(1 for p in data["pushes"] if p["protocol"] == "h2")
    return requests, pushes


# --------------------------------------------------------------------------------------------------- main

def run_workload(work: Workload, runs: int, repeat_limit: float, text: bool, own_tshark: bool,
                 inspector: bool = True) -> dict:
    print(f"\n== {work.name}: {work.capture}", file=sys.stderr, flush=True)
    packets = packet_count(work.capture)
    report_path = OUT / f"{work.name}.report.json"
    results = [measure("tshark", [tshark_command(work)] * runs, repeat_limit)]
    # The first json run writes the report the count check reads; the others write to /dev/null.
    json_runs = [pushscope_command(work, "json", str(report_path))]
    json_runs += [pushscope_command(work, "json", os.devnull)] * (runs - 1)
    # ... and runs with a logging tshark shim first on PATH, to learn pushscope's own tshark command.
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-shim-") as shim_dir:
        log = make_shim(Path(shim_dir))
        env = dict(os.environ, PATH=f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                   PUSHSCOPE_BENCH_TSHARK_LOG=str(log))
        results.append(measure("pushscope json", json_runs, repeat_limit, first_env=env))
        own_command = logged_tshark_command(log, work) if own_tshark else None
    # First open with an empty cache (it writes the entry), then reopens that read it back.
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-cache-") as cache_dir:
        cache_env = dict(os.environ, PUSHSCOPE_CACHE_DIR=cache_dir)
        cached = pushscope_command(work, "json", os.devnull, cache=True)
        results.append(measure("json, first open (cache)", [cached], repeat_limit, env=cache_env))
        results.append(measure("json, reopen (cache)", [cached] * runs, repeat_limit, env=cache_env))
        for tool, command in reopen_commands(work).items():
            results.append(measure(tool, [command] * max(2, runs), repeat_limit, env=cache_env))
    # The inspector's own first open (fully loaded) and reopen, in an empty cache of their own.
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-cache-") as cache_dir:
        cache_env = dict(os.environ, PUSHSCOPE_CACHE_DIR=cache_dir)
        reopened = inspector_first_rows(work, cache_env) if inspector else None
    if text:
        results.append(measure("pushscope text", [pushscope_command(work, "text", os.devnull)] * runs, repeat_limit))
    if own_command is not None:
        results.append(measure("  its tshark pass", [own_command] * runs, repeat_limit))
    check = {}
    try:
        t_req, t_prom = tshark_counts(work)
        p_req, p_prom = pushscope_counts(report_path)
        ok = (t_req, t_prom) == (p_req, p_prom)
        check = {"tshark": (t_req, t_prom), "pushscope": (p_req, p_prom), "ok": ok}
    except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
        check = {"error": f"{type(exc).__name__}: {exc}", "ok": False}
    first_rows = inspector_first_rows(work) if inspector else None
    medians = first_rows_medians(work) if inspector else None
    return {"work": work, "packets": packets, "results": results, "check": check, "first_rows": first_rows,
            "first_rows_medians": medians, "inspector_reopen": reopened, "size": work.capture.stat().st_size}


# Without the cache the inspector is timed to its first rows and keys, then cancelled: a gigabyte's full load is
# timed by the run with the cache (a first open to fully loaded, then a reopen).
INSPECTOR_LIMIT = 60.0


def inspector_first_rows(work: Workload, cache_env: dict[str, str] | None = None) -> str:
    """bench/first_rows.py in a fresh process: the inspector's time to its first waterfall rows and its answers to
    keys while loading; with ``cache_env`` (an empty cache), a first open to fully loaded and a reopen."""
    command = [str(PUSHSCOPE.parent / "python"), str(HERE / "first_rows.py"), str(work.capture)]
    if work.pushscope_keys:
        command += ["--keylog", str(work.pushscope_keys)]
    # (The reopen: the median of three, each in a fresh process; one alone varies by a third on this machine.)
    command += ["--cache", "--reopens", "3"] if cache_env is not None else ["--limit", str(INSPECTOR_LIMIT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=cache_env)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return "\n  ".join(lines) if lines else f"failed (exit {done.returncode})"


FIRST_ROWS_STARTS = 3  # fresh starts per mode: one start alone varies by a third on this machine
FIRST_ROWS_LIMIT = 3.0  # seconds each start runs (the first rows come well before)


def first_rows_medians(work: Workload) -> str:
    """The inspector's time to its first rows over FIRST_ROWS_STARTS fresh starts each: without the cache, and
    as a first open with it (an empty cache of its own each time). The median and the range, in seconds."""
    command = [str(PUSHSCOPE.parent / "python"), str(HERE / "first_rows.py"), str(work.capture),
               "--limit", str(FIRST_ROWS_LIMIT)]
    if work.pushscope_keys:
        command += ["--keylog", str(work.pushscope_keys)]
    found: dict[str, list[float]] = {"no cache": [], "first open with the cache": []}
    for _ in range(FIRST_ROWS_STARTS):
        for mode, times in found.items():
            with tempfile.TemporaryDirectory(prefix="pushscope-bench-cache-") as cache_dir:
                extra = ["--use-cache"] if mode != "no cache" else []
                done = subprocess.run(command + extra, capture_output=True, text=True, timeout=600,
                                      env=dict(os.environ, PUSHSCOPE_CACHE_DIR=cache_dir))
            match = re.search(r"first rows after ([0-9.]+) s", done.stdout or "")
            if match:
                times.append(float(match.group(1)))
    parts = [f"{mode} {statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})"
             for mode, times in found.items() if times]
    return (f"median of {FIRST_ROWS_STARTS} fresh starts: " + ", ".join(parts)) if parts else "failed"


def print_table(outcome: dict) -> None:
    work, packets, results, check = outcome["work"], outcome["packets"], outcome["results"], outcome["check"]
    base = results[0].best
    print(f"\n{work.name}: {work.capture.name}, {packets if packets is not None else '?'} packets")
    print("| tool | best s | packets/s | CPU s (min) | peak RSS MiB | tree RSS MiB | Python RSS MiB | x tshark |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r.best is None:
            print(f"| {r.tool.strip()} | failed: {r.failed} | | | | | | |")
            continue
        rate = f"{packets / r.best:,.0f}" if packets else "?"
        ratio = f"{r.best / base:.2f}" if base else "?"
        runs = f" ({len(r.seconds)} run{'s' if len(r.seconds) > 1 else ''})" if len(r.seconds) > 1 else " (1 run)"
        python = f"{r.python_kib / 1024:.0f}" if r.python_kib else "-"
        print(f"| {r.tool.strip()}{runs} | {r.best:.2f} | {rate} | {min(r.cpu):.2f} | {r.rss_kib / 1024:.0f} | "
              f"{r.tree_kib / 1024:.0f} | {python} | {ratio} |")
    by_tool = {r.tool: r.best for r in results if r.best is not None}
    if by_tool.get("json, reopen (cache)") and by_tool.get("pushscope json"):
        print(f"reopen: {by_tool['json, reopen (cache)'] / by_tool['pushscope json']:.2f} x the first open "
              f"(best reopen / best `pushscope json` without the cache)")
    for tool in reopen_commands(outcome["work"]):
        best = by_tool.get(tool)
        if best and by_tool.get("pushscope json"):
            print(f"{tool.split(',')[0]} reopen: {best / by_tool['pushscope json']:.2f} x the first open")
    if outcome.get("first_rows"):
        print(f"inspector: {outcome['first_rows']}")
    if outcome.get("first_rows_medians"):
        print(f"inspector's first rows, {outcome['first_rows_medians']}")
    if outcome.get("inspector_reopen"):
        print(f"inspector, first open and reopen with the cache:\n  {outcome['inspector_reopen']}")
    if "error" in check:
        print(f"count check: MISMATCH (could not compare: {check['error']})")
    else:
        (t_req, t_prom), (p_req, p_prom) = check["tshark"], check["pushscope"]
        verdict = "MATCH" if check["ok"] else "MISMATCH"
        print(f"count check: {verdict}: requests tshark {t_req} / pushscope {p_req}, "
              f"PUSH_PROMISEs tshark {t_prom} / pushscope {p_prom}")


# What issue 16 asks of each size: report within 1.5x of tshark's pass, pushscope's Python under 1 GiB, its whole
# process tree under tshark's own, a reopen at most a tenth of the first open.
TARGET_RATIO, TARGET_PYTHON_MIB, TARGET_REOPEN = 1.5, 1024, 0.1


def print_scale(outcomes: list[dict]) -> None:
    """One line per capture, smallest first, so the growth with size shows: time, ratio and memory per MB."""
    print("\nscale (`pushscope json` against tshark; per MB of capture):")
    print("| capture | MB | tshark s | pushscope s | x tshark | s per MB | Python MiB | MiB per MB | tree / tshark's"
          " tree | reopen | targets |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for outcome in sorted(outcomes, key=lambda o: o["size"]):
        by_tool = {r.tool: r for r in outcome["results"] if r.best is not None}
        bare, ours, reopen = by_tool.get("tshark"), by_tool.get("pushscope json"), by_tool.get("json, reopen (cache)")
        if bare is None or ours is None or not bare.best or not ours.best:
            continue
        megabytes = outcome["size"] / 1e6
        ratio = ours.best / bare.best
        python = ours.python_kib / 1024
        tree = ours.tree_kib / bare.tree_kib if bare.tree_kib else float("nan")
        again = reopen.best / ours.best if reopen is not None and reopen.best else float("nan")
        missed = [what for what, ok in (("ratio", ratio <= TARGET_RATIO), ("python", python < TARGET_PYTHON_MIB),
                                        ("tree", tree < 1), ("reopen", again <= TARGET_REOPEN)) if not ok]
        print(f"| {outcome['work'].name} | {megabytes:.0f} | {bare.best:.2f} | {ours.best:.2f} | {ratio:.2f} | "
              f"{ours.best / megabytes:.3f} | {python:.0f} | {python / megabytes:.2f} | {tree:.2f} | {again:.3f} | "
              f"{'all met' if not missed else 'missed: ' + ', '.join(missed)} |")


def public_workloads(scratch: Path) -> list[Workload]:
    works: list[Workload] = []
    amazon = PUBLIC / "wt-amazon1"
    if (amazon / "amazon1.cap.gz").is_file() and (amazon / "amazon1.key_log.txt.gz").is_file():
        plain = scratch / "amazon1.keys"  # tshark cannot read a gzipped key log; this copy lives in /tmp only
        plain.write_bytes(gzip.decompress((amazon / "amazon1.key_log.txt.gz").read_bytes()))
        works.append(Workload("amazon1", amazon / "amazon1.cap.gz", plain, amazon / "amazon1.key_log.txt.gz"))
    for folder, name in (("ws-http2-follow-multistream-dsb", "http2_follow_multistream.pcapng"),
                         ("foxio-http2-with-cookies-dsb", "http2-with-cookies.pcapng")):
        if (PUBLIC / folder / name).is_file():
            works.append(Workload(folder, PUBLIC / folder / name, None, None))
    if not works:
        print(f"(no public captures under {PUBLIC})", file=sys.stderr)
    return works


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    tshark = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1048576:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores ({cpu}){mem}, "
            f"Python {platform.python_version()}, {tshark[0] if tshark else 'tshark ?'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, action="append",
                        help="capture (repeatable: several sizes in one run; default bench/out/big.pcapng); its key "
                             "log is the same name with .keys")
    parser.add_argument("--no-inspector", action="store_true", help="skip the inspector's first-rows timing")
    parser.add_argument("--first-rows-only", action="store_true",
                        help="only the inspector's first rows (medians of fresh starts), for each capture")
    parser.add_argument("--make", action="store_true", help="make the capture first (bench/make_big_capture.py)")
    parser.add_argument("--connections", type=int, default=2000, help="with --make")
    parser.add_argument("--streams-per-connection", type=int, default=10, help="with --make")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    parser.add_argument("--repeat-limit", type=float, default=300.0,
                        help="do not repeat a command whose run took longer than this many seconds")
    parser.add_argument("--no-text", action="store_true", help="skip the text-format runs")
    parser.add_argument("--no-own-tshark", action="store_true", help="skip timing pushscope's tshark pass alone")
    parser.add_argument("--public", action="store_true", help=f"also the public captures under {PUBLIC}")
    parser.add_argument("--only-public", action="store_true", help="only the public captures")
    args = parser.parse_args(argv)

    if shutil.which("tshark") is None or not PUSHSCOPE.exists():
        print(f"error: needs tshark on PATH and {PUSHSCOPE}", file=sys.stderr)
        return 1
    if not have_time():
        print(f"note: {TIME} missing (apt-get install time); using getrusage in a wrapper process",
              file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    # Timed as installed: with the bytecode written (an editable install compiles on first import, unless
    # $PYTHONDONTWRITEBYTECODE says not to, in which case every start would compile pushscope again).
    subprocess.run([str(PUSHSCOPE.parent / "python"), "-m", "compileall", "-q", str(ROOT / "pushscope")], check=False)
    captures = [c.resolve() for c in (args.capture or [OUT / "big.pcapng"])]
    if args.make and not args.only_public:
        make = [sys.executable, str(HERE / "make_big_capture.py"), "--connections", str(args.connections),
                "--streams-per-connection", str(args.streams_per_connection), "--out", str(captures[0]),
                "--keys", str(captures[0].with_suffix(".keys"))]
        if subprocess.run(make).returncode != 0:
            return 1

    outcomes = []
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-") as tmp:
        works: list[Workload] = []
        for capture in [] if args.only_public else captures:
            keys = capture.with_suffix(".keys")
            if not capture.is_file():
                print(f"error: {capture} does not exist: run with --make, or bench/make_big_capture.py",
                      file=sys.stderr)
                return 1
            works.append(Workload(capture.stem, capture, keys if keys.is_file() else None,
                                  keys if keys.is_file() else None))
        if args.public or args.only_public:
            works += public_workloads(Path(tmp))
        if args.first_rows_only:
            print(f"machine: {describe_machine()}")
            for work in works:
                print(f"{work.name}: inspector's first rows, {first_rows_medians(work)}", flush=True)
            return 0
        for work in works:
            outcomes.append(run_workload(work, max(1, args.runs), args.repeat_limit, not args.no_text,
                                         not args.no_own_tshark, not args.no_inspector))

    print(f"\nmachine: {describe_machine()}")
    for outcome in outcomes:
        print_table(outcome)
    if len(outcomes) > 1:
        print_scale(outcomes)
    return 0 if all(o["check"].get("ok") for o in outcomes) else 3


if __name__ == "__main__":
    sys.exit(main())
