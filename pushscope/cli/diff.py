"""``pushscope diff A B``: what changed in server push between two captures or JSON reports."""

from __future__ import annotations

import argparse

from pushscope.cli.args import add_keylog, add_no_cache, add_output, add_quiet
from pushscope.cli.errors import CliError, command
from pushscope.cli.exitcodes import Exit
from pushscope.cli.keys import beside
from pushscope.cli.loading import CaptureArgs, Replay, cached_comparison, load_sides
from pushscope.cli.output import format_for, write_output

FORMATS = ("text", "html", "json")
DESCRIPTION = "Compare server push between two captures or JSON reports (before/after), per resource."
EPILOG = """\
Each capture's key log is found as `report` finds it: --keylog-a/--keylog-b (or --keylog for both),
else NAME.keys beside the capture, else $SSLKEYLOGFILE.

exit status: 0 compared (whatever changed); 2 an input cannot be read; 3 a side has connections that were
not decoded (unless --allow-undecrypted), or a side decoded nothing at all: then there is nothing to compare
and no diff is printed.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pushscope diff", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", help="capture or JSON report written by 'pushscope report --format json'")
    p.add_argument("after", help="capture or JSON report")
    add_keylog(p, what=" for both captures")
    add_keylog(p, names=("--keylog-a",), what=" for the first capture")
    add_keylog(p, names=("--keylog-b",), what=" for the second capture")
    p.add_argument("--no-keylog", action="store_true", help="use no key log file for either capture")
    add_no_cache(p)
    add_quiet(p)
    p.add_argument("--allow-undecrypted", action="store_true",
                   help="compare even when some connections could not be decrypted")
    p.add_argument("--format", choices=FORMATS, help="default: from the -o extension, else text")
    add_output(p, keylog_preference=True)
    return p


@command("diff")
def run_diff(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    fmt = format_for(args.output, args.format, FORMATS, "text")
    inputs = (args.before, args.after, args.keylog, args.keylog_a, args.keylog_b, beside(args.before),
              beside(args.after))
    keylogs = (args.keylog_a or args.keylog, args.keylog_b or args.keylog)
    both = [CaptureArgs(path, keylog, args.no_keylog, use_cache=not args.no_cache, quiet=args.quiet)
            for path, keylog in zip((args.before, args.after), keylogs, strict=True)]
    # A reopen of the same two captures prints what the first comparison printed (kept beside their models).
    replay = cached_comparison(both[0], both[1], ("diff", fmt, args.allow_undecrypted))
    if replay.hit is not None:
        write_output(replay.replayed(), args.output, inputs=inputs)
        return int(replay.hit.meta.get("exit", Exit.OK))  # type: ignore[call-overload]
    try:
        return _compare(both, fmt, args, inputs, replay)
    finally:
        replay.close()


def _compare(both: list[CaptureArgs], fmt: str, args: argparse.Namespace, inputs: tuple[str | None, ...],
             replay: Replay) -> int:
    from pushscope.export import diff

    sides = []
    for capture_args in both:
        path = capture_args.path
        report, coverage = load_sides(capture_args, push_fields=diff.PUSH_FIELDS, exchange_fields=diff.EXCHANGE_FIELDS)
        if coverage.nothing_decoded:
            raise CliError(f"{path}: {coverage.headline()}; refusing to compare it", Exit.UNDECRYPTED)
        sides.append((diff.side_of(report), coverage))  # reduced before the other capture is read
        del report
        if len(sides) == 1:
            from pushscope.cache import wait_for_writers
            from pushscope.pipeline import free_dropped_models

            wait_for_writers()  # a model kept for the cache is written now, so it is not held beside the next
            free_dropped_models()
    (before, cov_a), (after, cov_b) = sides
    result = diff.diff_sides(before, after, ("before", "after"))
    result["before"]["coverage"], result["after"]["coverage"] = cov_a.headline(), cov_b.headline()
    renderers = {"text": diff.render_diff_text, "html": diff.render_diff_html, "json": diff.render_diff_json}
    write_output(replay.record(renderers[fmt](result)), args.output, inputs=inputs)
    undecoded = not (cov_a.complete and cov_b.complete)
    code = Exit.UNDECRYPTED if undecoded and not args.allow_undecrypted else Exit.OK
    replay.keep(exit=int(code))
    return code
