"""CLI entry points for the export formats, ``pushscope diff`` and ``pushscope check``; ``cli.py`` wires them.

Everything heavy (plotly, the capture pipeline) is imported inside functions, so ``pushscope --help`` and the
other headless commands stay fast and never pull in more than they use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pushscope.model.entities import Capture

FORMATS = ("text", "json", "html", "har", "qlog", "png")
REPORT_KEYS = ("exchanges", "pushes", "summary", "connections")


class InputError(Exception):
    """A capture or report that cannot be read: exit status 2."""


def render_report(capture: Capture, fmt: str, *, redact: bool = True) -> str | bytes:
    """The report in ``fmt`` (one of FORMATS); bytes for png, text otherwise."""
    if fmt == "text":
        from pushscope.export.text_report import render_text

        return render_text(capture, redact=redact)
    if fmt == "json":
        from pushscope.export.json_report import render_json

        return render_json(capture, redact=redact)
    if fmt == "html":
        from pushscope.export.html_report import render_html

        return render_html(capture, redact=redact)
    if fmt == "har":
        from pushscope.export.har import render_har

        return render_har(capture, redact=redact)
    if fmt == "qlog":
        from pushscope.export.qlog import render_qlog

        return render_qlog(capture, redact=redact)
    if fmt == "png":
        from pushscope.export.png_report import render_png

        return render_png(capture, redact=redact)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_output(data: str | bytes, path: str | None) -> None:
    """Write to ``path``, or to standard output (binary data only when it is not a terminal)."""
    if path:
        if isinstance(data, bytes):
            Path(path).write_bytes(data)
        else:
            Path(path).write_text(data, encoding="utf-8")
        return
    if isinstance(data, bytes):
        if sys.stdout.isatty():
            raise InputError("refusing to write a PNG to a terminal: use -o FILE")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(data)


def emit_report(capture: Capture, fmt: str, output: str | None, *, redact: bool = True) -> int:
    """Render and write; 0 on success, 2 when the format cannot be produced here (no Chromium for png)."""
    from pushscope.export.png_report import ChromiumNotFound

    try:
        write_output(render_report(capture, fmt, redact=redact), output)
    except (ChromiumNotFound, InputError) as exc:
        print(f"pushscope report: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # Chromium ran but drew nothing
        if fmt != "png":
            raise
        print(f"pushscope report: {exc}", file=sys.stderr)
        return 2
    return 0


def load_report(path: str, keylog: str | None = None, *, redact: bool = True,
                use_cache: bool = False) -> dict[str, Any]:
    """A report dict from a JSON report (``*.json``) or from a capture (analysed now). Raises InputError."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{path}: no such file")
    if source.suffix.lower() == ".json":
        try:
            report = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a readable JSON report ({exc})") from exc
        if not isinstance(report, dict) or any(key not in report for key in REPORT_KEYS):
            raise InputError(f"{path}: JSON without {', '.join(REPORT_KEYS)}: not a pushscope report")
        return report
    from pushscope.export.json_report import report_dict
    from pushscope.pipeline import load_capture

    try:
        capture = load_capture(path, keylog, use_cache=use_cache)
    except Exception as exc:  # a broken file must give exit 2 and a message, whatever the reader raised
        raise InputError(f"{path}: cannot read the capture ({exc})") from exc
    errors = [d.message for d in capture.diagnostics if d.level == "error"]
    if errors and not capture.connections:
        raise InputError(f"{path}: " + "; ".join(errors))
    return report_dict(capture, redact=redact)


def _diff_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope diff",
        description="Compare server push between two captures or JSON reports (before/after), per resource.")
    parser.add_argument("before", help="capture or JSON report written by 'pushscope report --format json'")
    parser.add_argument("after", help="capture or JSON report")
    parser.add_argument("--keylog", help="TLS key log for both captures")
    parser.add_argument("--keylog-a", help="TLS key log for the first capture")
    parser.add_argument("--keylog-b", help="TLS key log for the second capture")
    parser.add_argument("--format", choices=("text", "html", "json"), default="text")
    parser.add_argument("-o", "--output", help="write to FILE instead of standard output")
    parser.add_argument("--no-cache", action="store_true", help="read captures again instead of using the cache")
    return parser


def run_diff(argv: list[str]) -> int:
    """``pushscope diff A B``: 0 when compared (whatever changed), 2 when an input cannot be read."""
    args = _diff_parser().parse_args(argv)
    from pushscope.export import diff

    try:
        before = load_report(args.before, args.keylog_a or args.keylog, use_cache=not args.no_cache)
        after = load_report(args.after, args.keylog_b or args.keylog, use_cache=not args.no_cache)
    except InputError as exc:
        print(f"pushscope diff: {exc}", file=sys.stderr)
        return 2
    result = diff.diff_reports(before, after, ("before", "after"))
    renderers = {"text": diff.render_diff_text, "html": diff.render_diff_html, "json": diff.render_diff_json}
    write_output(renderers[args.format](result), args.output)
    return 0


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope check",
        description="Fail (exit 1) when server push breaks a budget; exit 2 when the input cannot be read.")
    parser.add_argument("capture", help="capture, or JSON report written by 'pushscope report --format json'")
    parser.add_argument("--keylog", help="TLS key log (SSLKEYLOGFILE format); default: $SSLKEYLOGFILE")
    parser.add_argument("--max-wasted-bytes", type=int, metavar="N", help="most wasted push bytes allowed")
    parser.add_argument("--max-wasted-ratio", type=float, metavar="R",
                        help="most wasted bytes allowed as a share of all pushed bytes (0..1)")
    parser.add_argument("--max-cache-duplicated", type=int, metavar="N",
                        help="most pushes of resources the client already had cached")
    parser.add_argument("--max-unknown", type=int, metavar="N", help="most pushes without a verdict")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only when a budget is exceeded")
    parser.add_argument("--no-cache", action="store_true", help="read the capture again instead of using the cache")
    return parser


def run_check(argv: list[str]) -> int:
    args = _check_parser().parse_args(argv)
    from pushscope.export.check import Budgets, check_report, render_check

    try:
        report = load_report(args.capture, args.keylog, use_cache=not args.no_cache)
    except InputError as exc:
        print(f"pushscope check: {exc}", file=sys.stderr)
        return 2
    budgets = Budgets(args.max_wasted_bytes, args.max_wasted_ratio, args.max_cache_duplicated, args.max_unknown)
    result = check_report(report, budgets)
    if not (args.quiet and result.ok):
        sys.stdout.write(render_check(result, args.capture))
    return result.exit_code
