"""``pushscope experiment URL``: push against no push against preload, under shaped network conditions.

The runs, the shaper and the statistics live in ``pushscope.experiment``; this module reads the command line,
prints progress to stderr and writes the report (text, JSON or HTML) through the shared writer.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pushscope.cli.errors import CliError, command, say
from pushscope.cli.exitcodes import Exit
from pushscope.cli.output import check_output_path, format_for, write_output

EPILOG = """\
strategies (each run is a fresh page load on new connections, through the shaper):
  push      the client accepts server push (HTTP/2 SETTINGS_ENABLE_PUSH=1, HTTP/3 MAX_PUSH_ID)
  no-push   the client refuses it (ENABLE_PUSH=0, no MAX_PUSH_ID): the server must not push
  preload   push refused; Link rel=preload targets of 103 Early Hints or the final headers are fetched at once

network profiles (--network, comma-separated; a custom one as key=value parts):
  lan      not shaped            cable   28 ms, 5/1 Mbit/s       4g     85 ms, 9/9 Mbit/s
  3g       300 ms, 1.6/0.768     lossy   4g with 3 % datagram loss (QUIC only)
  rtt=100ms,down=5mbit,up=1mbit,loss=1%

examples:
  pushscope experiment https://127.0.0.1:8443/ --insecure --network 4g,3g --runs 10
  pushscope experiment https://127.0.0.1:8443/ --insecure --http 3 --network lossy --format html -o out.html
"""


def experiment_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope experiment", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Does push pay off for this page? Load it many times per strategy and network profile, "
                    "through a traffic shaper, and compare with medians and bootstrap confidence intervals.")
    parser.add_argument("url", help="the page (https:// for HTTP/2 or HTTP/3, http:// for h2c)")
    parser.add_argument("--strategies", default="push,no-push,preload",
                        help="comma-separated: push, no-push, preload (default: all three)")
    parser.add_argument("--network", default="4g", help="network profiles, comma-separated (default: 4g)")
    parser.add_argument("--runs", type=int, default=10, help="runs per strategy and profile, interleaved "
                        "(push, no-push, preload, push, ...) (default 10)")
    parser.add_argument("--cache", choices=["cold", "warm"], default="cold",
                        help="cold: an empty cache; warm: measure a second load after one that filled it")
    parser.add_argument("--http", choices=["2", "3"], default="2", help="HTTP version (default 2)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    parser.add_argument("--cacert", metavar="FILE", help="trust the CA (or self-signed certificate) in FILE")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a connection or a "
                        "response (default 30)")
    parser.add_argument("--format", choices=["text", "json", "html", "tui"], default=None,
                        help="report format (default: from the -o extension, else text); tui: the inspector, "
                             "filling in as the runs happen (progress per cell, every run's connections)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--save", metavar="DIR", help="keep every run's events: one saved probe session per "
                        "run in DIR, each reopened by `pushscope FILE`")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shaper's loss draw and the bootstrap "
                        "(default 0)")
    parser.add_argument("--no-path-check", action="store_true",
                        help="skip measuring the shaped path first (it refuses to run when >10 %% off)")
    return parser


def experiment_options(args: argparse.Namespace) -> Any:
    from pushscope.experiment.profiles import parse_profiles
    from pushscope.experiment.runner import STRATEGIES, ExperimentOptions
    from pushscope.sources.probe.connection import Origin, ProbeError

    try:
        Origin.of(args.url)
    except ProbeError as exc:
        raise ValueError(str(exc)) from exc
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not strategies or any(s not in STRATEGIES for s in strategies) or len(set(strategies)) != len(strategies):
        raise ValueError(f"--strategies takes push, no-push and preload, comma-separated (got {args.strategies!r})")
    if not 1 <= args.runs <= 1000:
        raise ValueError("--runs takes 1 to 1000")
    if args.http == "3" and not args.url.startswith("https://"):
        raise ValueError("--http 3 needs an https:// URL")
    return ExperimentOptions(url=args.url, profiles=parse_profiles(args.network), strategies=strategies,
                             runs=args.runs, cache=args.cache, http=args.http, insecure=args.insecure,
                             cacert=args.cacert, timeout=args.timeout, save=args.save, seed=args.seed,
                             check_path=not args.no_path_check)


def _progress(done: int, total: int, text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\x1b[K[{done}/{total}] {text}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    else:
        print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)


@command("experiment")
def run_experiment_command(argv: list[str]) -> int:
    parser = experiment_parser()
    args = parser.parse_args(argv)
    try:
        options = experiment_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    fmt = format_for(args.output, args.format, ("text", "json", "html", "tui"), "text")
    if fmt == "tui":
        from pushscope.cli.experiment_live import experiment_events
        from pushscope.cli.tui import open_inspector

        def read(cancel: Any) -> Any:
            stream = experiment_events(options, cancel)
            yield from stream

        return open_inspector(f"experiment {options.url}", read, "probe")
    if args.output:
        check_output_path(args.output)
    from pushscope.experiment.runner import ExperimentRefused, run_experiment

    try:
        result = run_experiment(options, _progress)
    except ExperimentRefused as exc:
        raise CliError(str(exc), Exit.INPUT_ERROR) from exc
    from pushscope.experiment.report import experiment_dict, render_text

    if fmt == "json":
        text = json.dumps(experiment_dict(result), indent=2) + "\n"
    elif fmt == "html":
        from pushscope.experiment.html import render_experiment_html

        text = render_experiment_html(experiment_dict(result))
    else:
        text = render_text(result)
    write_output(text, args.output)
    failed = sum(1 for run in result.runs if not run.ok)
    if failed:
        say("experiment", f"{failed} of {len(result.runs)} runs did not load the page (left out of the statistics)")
    return Exit.OK if failed < len(result.runs) else Exit.INPUT_ERROR
