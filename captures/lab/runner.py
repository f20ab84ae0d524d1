"""The command line shared by ``make_captures.py`` (HTTP/2) and ``make_h3_captures.py`` (HTTP/3).

Both scripts list, select and run their scenarios the same way: ``--out``, ``--only``, ``--list``,
``--no-verify``, ``--retries``, ``--keep-workdir``; each scenario runs in its own directory under one
temporary work dir, is retried while it fails, and is reported as OK / FAIL / SKIP with a summary.
A script supplies only what differs: how to prepare the shared files (site, certificate), how to run
one scenario, how to describe a result and (optionally) which binaries a scenario is missing.

A scenario run returns ``{"truth", "seen", "problems", "size"}``; ``problems`` (inconsistencies between
the client's truth and the capture) make it fail, like an exception does.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .capture import dumpcap_path
from .verify import tshark_path

# (scenario, out dir, scenario work dir, verify) -> result
RunScenario = Callable[[Any, Path, Path, bool], dict]


@dataclass
class Lab:
    """What one capture script contributes to :func:`main`."""

    description: str  # the script's docstring: first paragraph for --help, the rest as epilog
    default_out: Path
    scenarios: Sequence[Any]  # each with .name and .description
    # base work dir and the selected scenarios -> the function that runs one scenario
    prepare: Callable[[Path, list[Any]], RunScenario]
    describe: Callable[[dict], str]
    list_line: Callable[[Any], str] = lambda sc: f"{sc.name:26} {sc.description}"
    missing: Callable[[Any], list[str]] = lambda sc: []
    retries: int = 1
    verify_help: str = "skip the cross-check of each capture"
    workdir_prefix: str = "pushscope-lab-"


def _parser(lab: Lab) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=lab.description.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=lab.default_out, help="output directory (default: %(default)s)")
    ap.add_argument("--only", nargs="+", action="extend", metavar="NAME", default=[],
                    help="regenerate only these scenarios")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--no-verify", action="store_true", help=lab.verify_help)
    ap.add_argument("--retries", type=int, default=lab.retries, help="re-run a failing scenario this many times")
    ap.add_argument("--keep-workdir", action="store_true", help="keep server configs/logs (temp dir)")
    return ap


def _attempts(sc: Any, run: RunScenario, args: argparse.Namespace, base: Path) -> dict:
    """Run one scenario until it passes or the retries are used up; the last result."""
    result: dict = {}
    for attempt in range(args.retries + 1):
        work = base / sc.name
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        work.chmod(0o755)
        try:
            result = run(sc, args.out, work, not args.no_verify)
        except Exception as e:  # noqa: BLE001 - report and carry on with the next scenario
            result = {"error": f"{type(e).__name__}: {e}", "tb": traceback.format_exc()}
        if "error" not in result and not result["problems"]:
            break
        if attempt < args.retries:
            print(f"RETRY {sc.name}: {result.get('error') or '; '.join(result['problems'])}")
            if args.keep_workdir:
                work.rename(base / f"{sc.name}.attempt{attempt}")
    return result


def main(lab: Lab, argv: list[str] | None = None) -> int:
    args = _parser(lab).parse_args(argv)
    if args.list:
        for sc in lab.scenarios:
            print(lab.list_line(sc))
        return 0
    names = {sc.name for sc in lab.scenarios}
    unknown = [n for n in args.only if n not in names]
    if unknown:
        print(f"error: unknown scenario(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    selected = [sc for sc in lab.scenarios if not args.only or sc.name in args.only]

    if dumpcap_path() is None:
        print("error: dumpcap not found (apt-get install tshark); cannot capture anything", file=sys.stderr)
        return 1
    if tshark_path() is None and not args.no_verify:
        print("warning: tshark not found; captures will not be cross-checked", file=sys.stderr)

    # turn SIGTERM (e.g. a test-runner timeout) into SystemExit so that the servers and dumpcap we
    # started are stopped by the finally blocks instead of being left behind
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    base = Path(tempfile.mkdtemp(prefix=lab.workdir_prefix))
    base.chmod(0o755)  # servers may drop privileges (apache runs its children as nobody); dumpcap writes here
    failed, skipped, ok = [], [], []
    started = time.monotonic()
    try:
        run = lab.prepare(base, selected)
        for sc in selected:
            missing = lab.missing(sc)
            if missing:
                print(f"SKIP {sc.name}: {', '.join(missing)} not installed")
                skipped.append(sc.name)
                continue
            t0 = time.monotonic()
            result = _attempts(sc, run, args, base)
            dt = time.monotonic() - t0
            if "error" in result:
                print(f"FAIL {sc.name} ({dt:.1f}s): {result['error']}\n{result['tb']}")
                failed.append(sc.name)
            elif result["problems"]:
                print(f"FAIL {sc.name} ({dt:.1f}s): written but inconsistent with the capture:")
                for prob in result["problems"]:
                    print(f"  - {prob}")
                failed.append(sc.name)
            else:
                print(f"OK   {sc.name} ({dt:.1f}s)\n{lab.describe(result)}")
                ok.append(sc.name)
    finally:
        if args.keep_workdir:
            print(f"work dir kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    total = time.monotonic() - started
    print(f"\n{len(ok)} ok, {len(skipped)} skipped, {len(failed)} failed in {total:.1f}s -> {args.out}")
    if skipped:
        print("skipped: " + ", ".join(skipped))
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0
