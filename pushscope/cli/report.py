"""``pushscope report CAPTURE``: the push report, headless (never imports textual)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pushscope.cli.args import add_capture, add_output, add_quiet, add_redaction, capture_argument
from pushscope.cli.errors import CliError, command, say
from pushscope.cli.exitcodes import Exit
from pushscope.cli.inputs import check_readable
from pushscope.cli.loading import CaptureArgs, Replay, cached_result, load_capture_file, saved_session
from pushscope.cli.output import format_for, write_output
from pushscope.export.formats import FORMATS

if TYPE_CHECKING:
    from pushscope.model.entities import Capture

DESCRIPTION = "Print a push report, headless: text, json, html, har, qlog or png."
EPILOG = """\
examples:
  pushscope report capture.pcapng                        # key log: capture.keys beside it, else $SSLKEYLOGFILE
  pushscope report -r capture.pcapng -o tls.keylog_file:keys.txt -o report.html
  pushscope report capture.pcapng --format json -o report.json
  pushscope report session.jsonl                         # a saved probe session

exit status: 0 written; 2 unreadable input; 3 nothing could be decoded (the report is still written);
4 the output could not be written. A report that could not decode some connections says so in its first line.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pushscope report", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_capture(p, optional=True)
    p.add_argument("--format", choices=FORMATS, help="default: from the -o extension, else text")
    add_output(p, keylog_preference=True)
    add_redaction(p)
    add_quiet(p)
    return p


@command("report")
def run_report(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    from pushscope.http.redaction import redact_more

    redact_more(args.redact)
    path = capture_argument(p, args, optional=True)
    fmt = format_for(args.output, args.format, FORMATS, "text")
    if path is None:
        from pushscope.cli.tui import demo_capture

        path = demo_capture()
    check_readable(path, "capture file")  # before anything opens it: a FIFO would block
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(path):
        return _saved_session(path, fmt, args)
    capture_args = CaptureArgs(path, args.keylog, args.no_keylog, tuple(args.quic_port), not args.no_cache,
                               quiet=args.quiet)
    from pushscope.http.redaction import REDACTED_HEADERS

    # A reopen prints what the first open printed, kept beside the model: no model to load, nothing to render.
    replay = cached_result(capture_args, ("report", fmt, not args.no_redact, sorted(REDACTED_HEADERS)))
    if replay.hit is not None:
        write_output(replay.replayed(binary=fmt == "png"), args.output, inputs=(path, replay.keylog))
        if replay.hit.meta.get("say"):
            say("report", str(replay.hit.meta["say"]))
        return int(replay.hit.meta.get("exit", Exit.OK))  # type: ignore[call-overload]
    try:
        return _report(capture_args, fmt, args, replay)
    finally:
        replay.close()


def _report(capture_args: CaptureArgs, fmt: str, args: argparse.Namespace, replay: Replay) -> int:
    path = capture_args.path
    capture, keys = load_capture_file(capture_args)
    data = _rendered(capture, fmt, args)
    write_output(replay.record(data), args.output, inputs=(path, keys.path))
    from pushscope.export.coverage import coverage_of_capture

    coverage = coverage_of_capture(capture)
    if coverage.nothing_decoded:
        say("report", coverage.headline() or "")
        replay.keep(exit=int(Exit.UNDECRYPTED), say=coverage.headline() or "")
        return Exit.UNDECRYPTED
    replay.keep(exit=int(Exit.OK))
    return Exit.OK


def _saved_session(path: str, fmt: str, args: argparse.Namespace) -> int:
    """A saved probe session: its recorded events folded and analysed like the probe's own stream, any format."""
    write_output(_rendered(saved_session(path), fmt, args), args.output, inputs=(path,))
    return Exit.OK


def _rendered(capture: Capture, fmt: str, args: argparse.Namespace) -> Any:
    from pushscope.export.formats import report_chunks
    from pushscope.export.png_report import ChromiumNotFound

    try:
        # JSON, HAR and qlog are written as they are made: a large report is never held whole.
        return report_chunks(capture, fmt, redact=not args.no_redact)
    except (ChromiumNotFound, RuntimeError) as exc:  # png only: no Chromium, or it drew nothing
        if fmt != "png":
            raise
        raise CliError(str(exc), Exit.OUTPUT_ERROR) from None
