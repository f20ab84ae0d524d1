"""``pushscope live -i IFACE``: live capture through tshark, headless or in the inspector.

``live_events`` yields the source's items (events, diagnostics, progress) as they happen, so the inspector can
fold them while the traffic flows.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from pushscope.cli.args import add_output, add_redaction
from pushscope.cli.errors import command, say
from pushscope.cli.exitcodes import Exit
from pushscope.cli.output import check_output_path, write_output
from pushscope.cli.probe import open_inspector, resolve_format
from pushscope.events import Diagnostic, Event, SourceFinished, SourceProgress
from pushscope.safe_text import visible


def live_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope live",
        description="Capture through tshark and fold HTTP/2 and HTTP/3 push traffic as it arrives. Stop with "
                    "Ctrl-C or --duration; everything seen so far is reported.")
    parser.add_argument("-i", "--interface", required=True, help="interface to capture on (tshark -D lists them)")
    parser.add_argument("--keylog", metavar="FILE",
                        help="NSS key log a client keeps writing (SSLKEYLOGFILE); default: $SSLKEYLOGFILE")
    parser.add_argument("-f", "--filter", dest="capture_filter", metavar="FILTER",
                        help="capture filter (BPF), e.g. 'tcp port 443 or udp port 443'")
    parser.add_argument("-w", "--write", dest="write_to", metavar="FILE", help="also write the packets to FILE")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--quic-port", type=int, action="append", default=[], metavar="PORT",
                        help="decode UDP PORT as QUIC (443 always is; repeatable)")
    parser.add_argument("--format", choices=["tui", "text", "json"], default=None,
                        help="tui: the inspector, filling in live (default on a terminal without -o); text or "
                             "json: headless (default: from the -o extension, else text)")
    add_output(parser)
    add_redaction(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on standard error")
    return parser


def live_events(interface: str, *, keylog: str | None = None, capture_filter: str | None = None,
                write_to: str | None = None, duration: float | None = None, quic_ports: Sequence[int] = (),
                stop: threading.Event | None = None) -> Iterator[Event | Diagnostic | SourceProgress | SourceFinished]:
    """Live capture as a source (see :func:`pushscope.sources.live.live_events`)."""
    from pushscope.sources.live import live_events as _live_events

    return _live_events(interface, keylog=keylog, capture_filter=capture_filter, write_to=write_to,
                        duration=duration, quic_ports=quic_ports, stop=stop)


@command("live")
def run_live(argv: list[str]) -> int:
    args = live_parser().parse_args(argv)
    keylog_for_tui = args.keylog or os.environ.get("SSLKEYLOGFILE") or None
    if resolve_format(args) == "tui":
        def read(cancel: threading.Event) -> Any:
            return live_events(args.interface, keylog=keylog_for_tui, capture_filter=args.capture_filter,
                               write_to=args.write_to, duration=args.duration, quic_ports=args.quic_port,
                               stop=cancel)

        return open_inspector(f"live {args.interface}", read, "live")
    from pushscope.analysis import analyse
    from pushscope.model.builder import CaptureBuilder

    if args.output:
        check_output_path(args.output, (args.write_to,))  # before capturing, not after
    stop = threading.Event()
    keylog = args.keylog or os.environ.get("SSLKEYLOGFILE") or None
    builder = CaptureBuilder(source="live", name=f"live capture on {args.interface}")
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    failed = False
    tty = sys.stderr.isatty()
    try:
        for item in live_events(args.interface, keylog=keylog, capture_filter=args.capture_filter,
                                write_to=args.write_to, duration=args.duration, quic_ports=args.quic_port, stop=stop):
            if isinstance(item, SourceProgress):
                if args.quiet:
                    continue
                if tty:
                    print(f"\r\x1b[Kpushscope live: {visible(item.detail)}", end="", file=sys.stderr, flush=True)
                elif item.detail.startswith("capturing on") and ":" not in item.detail:
                    print(f"pushscope live: {visible(item.detail)} (Ctrl-C stops)", file=sys.stderr, flush=True)
                elif item.detail.startswith("stopped"):
                    print(f"pushscope live: {visible(item.detail)}", file=sys.stderr, flush=True)
                continue
            if isinstance(item, SourceFinished):
                continue
            if isinstance(item, Diagnostic) and item.code.startswith("live-") and item.level == "error":
                failed = True
                if tty and not args.quiet:
                    print(file=sys.stderr)
                say("live", item.message)
            builder.apply(item)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if tty and not args.quiet:
        print(file=sys.stderr)
    capture = analyse(builder.capture)
    if failed and not capture.connections:
        return Exit.INPUT_ERROR
    redact = not args.no_redact
    from pushscope.export.json_report import redact_more

    redact_more(args.redact)
    if args.format == "json":
        from pushscope.export.json_report import render_json

        text = render_json(capture, redact=redact)
    else:
        from pushscope.export.text_report import render_text

        text = render_text(capture, redact=redact)
    write_output(text, args.output, inputs=(keylog, args.write_to))
    return Exit.OK
