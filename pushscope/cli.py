"""Command line: ``pushscope [CAPTURE]`` opens the inspector; ``pushscope report`` and friends run headless.

Headless commands must never import textual (a test checks it), so the TUI is imported only on its path.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

DEMO_CAPTURE = "nginx-push-basic"


def captures_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "captures"


def demo_capture() -> tuple[str, str | None]:
    folder = captures_dir()
    capture = folder / f"{DEMO_CAPTURE}.pcapng"
    keys = folder / f"{DEMO_CAPTURE}.keys"
    return str(capture), (str(keys) if keys.exists() else None)


def _add_capture_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", nargs="?", help="pcap, pcapng or gzipped capture")
    parser.add_argument("--keylog", help="TLS key log (SSLKEYLOGFILE format); default: $SSLKEYLOGFILE")
    parser.add_argument("--quic-port", type=int, action="append", default=[], metavar="PORT",
                        help="decode UDP PORT as QUIC when tshark does not recognise it (repeatable)")
    parser.add_argument("--no-cache", action="store_true",
                        help="read the capture again instead of reusing (and keeping) its analysis in the cache")


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pushscope report", description="Print a push report, headless.")
    _add_capture_args(parser)
    from pushscope.export.commands import FORMATS

    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("-o", "--output", help="write to FILE instead of standard output")
    parser.add_argument("--no-redact", action="store_true", help="keep Cookie/Set-Cookie/Authorization values")
    return parser


def run_report(argv: list[str]) -> int:
    args = _report_parser().parse_args(argv)
    if args.capture:
        from pushscope.sources.probe.recording import is_saved_session, render_saved_session

        if is_saved_session(args.capture):
            text = render_saved_session(args.capture, args.format, redact=not args.no_redact)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return 0
    capture_path, keylog = (args.capture, args.keylog) if args.capture else demo_capture()
    from pushscope.pipeline import load_capture

    capture = load_capture(capture_path, args.keylog or (None if args.capture else keylog), quic_ports=args.quic_port,
                           use_cache=not args.no_cache)
    from pushscope.export.commands import emit_report

    status = emit_report(capture, args.format, args.output, redact=not args.no_redact)
    if status:
        return status
    errors = [d for d in capture.diagnostics if d.level == "error"]
    return 2 if errors and not capture.connections else 0


def run_tui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pushscope", description="Inspect HTTP/2 and HTTP/3 server push.")
    _add_capture_args(parser)
    args = parser.parse_args(argv)
    capture_path, keylog = (args.capture, args.keylog) if args.capture else demo_capture()
    from pushscope.sources.probe.recording import is_saved_session, read_saved_session
    from pushscope.tui.app import PushscopeApp
    from pushscope.tui.loading import capture_file_reader

    source = "capture"
    if Path(capture_path).is_file() and is_saved_session(capture_path):
        reader, source = (lambda _cancel: read_saved_session(capture_path)), "probe"
    else:
        reader = capture_file_reader(capture_path, keylog, args.quic_port, use_cache=not args.no_cache)
    PushscopeApp(capture_path, keylog, reader=reader, source=source).run()
    return 0


def _lazy(module: str, function: str) -> Callable[[list[str]], int]:
    """A command whose module is imported only when it runs (keeps `report` free of textual, probe of aioquic)."""

    def run(argv: list[str]) -> int:
        return int(getattr(importlib.import_module(module), function)(argv))

    return run


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "report": run_report,
    "tui": run_tui,
    "probe": _lazy("pushscope.probe_cli", "run_probe"),
    "live": _lazy("pushscope.probe_cli", "run_live"),
    "diff": _lazy("pushscope.export.commands", "run_diff"),
    "check": _lazy("pushscope.export.commands", "run_check"),
    "cache": _lazy("pushscope.cache_cli", "run_cache"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return run_tui(argv)
