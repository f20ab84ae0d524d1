"""Run pushscope on every file of the hostile corpus and check the promise: no traceback, no run over the time
budget, no run over the memory budget, no raw control character in anything written to the terminal, and an
exit status from the documented set.

    python tests/hostile/run_corpus.py CORPUS_DIR [--timeout 60] [--max-rss-mib 1024]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Control characters that must never reach a terminal (newline, tab and carriage return are the report's own).
RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4}


@dataclass
class Run:
    command: list[str]
    status: int
    seconds: float
    max_rss_mib: float
    stdout: bytes
    stderr: bytes

    def problems(self, timeout: float, max_rss_mib: float) -> list[str]:
        found = []
        if self.status == -signal.SIGKILL:
            found.append(f"killed after {timeout:.0f} s (a hang or a run over the time budget)")
        elif self.status not in DOCUMENTED_EXIT_CODES:
            found.append(f"exit status {self.status} is not documented")
        if b"Traceback (most recent call last)" in self.stderr + self.stdout:
            found.append("traceback: " + self.stderr.decode(errors="replace").strip().splitlines()[-1][:300])
        if self.max_rss_mib > max_rss_mib:
            found.append(f"peak RSS {self.max_rss_mib:.0f} MiB > {max_rss_mib:.0f} MiB")
        for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
            match = RAW_CONTROL.search(stream)
            if match:
                context = stream[max(0, match.start() - 40):match.end() + 20]
                found.append(f"raw control character {match.group()!r} in {name}: {context!r}")
        return found


def run(command: list[str], timeout: float) -> Run:
    """Run one command in its own process group; the peak RSS is the largest of it and its children. A fresh
    analysis cache each time, so every run does the whole work."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PUSHSCOPE_CACHE_DIR": cache}
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env)
        deadline = started + timeout
        status, rusage = None, None
        while status is None:
            pid, raw_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, rusage = os.waitstatus_to_exitcode(raw_status), usage
            elif time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, raw_status, rusage = os.wait4(proc.pid, 0)
                status = os.waitstatus_to_exitcode(raw_status)
            else:
                time.sleep(0.02)
        proc.returncode = status
        out.seek(0)
        err.seek(0)
        return Run(command, status, time.monotonic() - started, rusage.ru_maxrss / 1024, out.read(), err.read())


def commands_for(path: Path, pushscope: list[str], scratch: Path) -> list[list[str]]:
    keys = path.with_suffix(".keys")
    keylog = ["--keylog", str(keys)] if keys.exists() else []
    return [
        [*pushscope, "report", str(path), *keylog],
        [*pushscope, "report", str(path), *keylog, "--format", "html", "-o", str(scratch / f"{path.stem}.html")],
        [*pushscope, "check", str(path), *keylog, "--max-wasted-bytes", "0"],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-rss-mib", type=float, default=1024.0)
    parser.add_argument("--only", help="a substring of the file names to run")
    args = parser.parse_args()
    pushscope = [sys.executable, "-m", "pushscope"]
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in sorted(args.corpus.iterdir()):
            if path.suffix not in (".pcap", ".pcapng", ".gz") or (args.only and args.only not in path.name):
                continue
            for command in commands_for(path, pushscope, Path(scratch)):
                result = run(command, args.timeout)
                problems = result.problems(args.timeout, args.max_rss_mib)
                failures += bool(problems)
                verb = " ".join(command[3:5])
                print(f"{'FAIL' if problems else 'ok  '} {result.seconds:6.1f}s {result.max_rss_mib:7.0f}MiB "
                      f"exit {result.status:>3}  {verb:<10} {path.name}", flush=True)
                for problem in problems:
                    print(f"       {problem}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
