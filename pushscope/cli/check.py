"""``pushscope check CAPTURE``: a CI gate on server push that fails closed."""

from __future__ import annotations

import argparse

from pushscope.cli.args import add_capture, add_keylog_preference, capture_argument
from pushscope.cli.errors import command
from pushscope.cli.loading import CaptureArgs, cached_result, load_gate
from pushscope.cli.output import write_output

DESCRIPTION = "CI gate: fail when server push breaks a budget, or when the capture could not be fully decoded."
EPILOG = """\
With no --max-* option the default budgets apply: --max-wasted-ratio 0.25 --max-unknown 0.

exit status: 0 within budget; 1 a budget exceeded (the pushes are named); 2 unreadable input;
3 connections with application data were not decoded (missing or wrong key log) - unless
--allow-undecrypted, which judges the connections that were decoded; a capture of which nothing at all
was decoded always exits 3.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pushscope check", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_capture(p)
    add_keylog_preference(p)
    p.add_argument("--max-wasted-bytes", type=int, metavar="N", help="most wasted push bytes allowed")
    p.add_argument("--max-wasted-ratio", type=float, metavar="R",
                   help="most wasted bytes allowed as a share of all pushed bytes (0..1)")
    p.add_argument("--max-cache-duplicated", type=int, metavar="N",
                   help="most pushes of resources the client already had cached")
    p.add_argument("--max-unknown", type=int, metavar="N", help="most pushes without a verdict")
    p.add_argument("--max-anomalies", type=int, metavar="N",
                   help="most protocol anomalies (malformed frames, header lists over the limit, ...)")
    p.add_argument("--fail-on-anomalies", action="store_const", const=0, dest="max_anomalies",
                   help="fail on any protocol anomaly (same as --max-anomalies 0)")
    p.add_argument("--allow-undecrypted", action="store_true",
                   help="judge what was decoded even when some connections could not be decrypted")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only when the check does not pass (and no progress line on stderr)")
    return p


@command("check")
def run_check(argv: list[str]) -> int:
    from pushscope.export.check import (
        CHECK_PUSH_FIELDS,
        CHECK_READS,
        DEFAULT_BUDGETS,
        Budgets,
        check_report,
        render_check,
    )

    p = parser()
    args = p.parse_args(argv)
    path = capture_argument(p, args)
    assert path is not None
    capture_args = CaptureArgs(path, args.keylog, args.no_keylog, tuple(args.quic_port), not args.no_cache,
                               quiet=args.quiet)
    budgets = Budgets(args.max_wasted_bytes, args.max_wasted_ratio, args.max_cache_duplicated, args.max_unknown,
                      max_anomalies=args.max_anomalies)
    if not budgets.given:
        budgets = DEFAULT_BUDGETS
    # A reopen with the same budgets prints what the first one printed (kept beside the model).
    replay = cached_result(capture_args, ("check", repr(budgets), args.allow_undecrypted, args.quiet, path))
    if replay.hit is not None:
        if replay.hit.meta.get("printed"):
            write_output(replay.replayed(), None)
        return int(replay.hit.meta.get("exit", 0))  # type: ignore[call-overload]
    try:
        report, coverage = load_gate(capture_args, only=CHECK_READS, push_fields=CHECK_PUSH_FIELDS)
        result = check_report(report, budgets, coverage, allow_undecrypted=args.allow_undecrypted)
        text = replay.record(render_check(result, path))
        printed = not (args.quiet and result.ok)
        if printed:
            write_output(text, None)
        replay.keep(exit=int(result.exit_code), printed=printed)
    finally:
        replay.close()
    return result.exit_code
