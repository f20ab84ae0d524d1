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
from collections.abc import Callable, Iterable, Iterator, Sequence

from pushscope.cli.args import add_output, add_redaction
from pushscope.cli.errors import command, say
from pushscope.cli.exitcodes import Exit
from pushscope.cli.output import check_output_path, resolve_format, write_output
from pushscope.cli.tui import open_inspector
from pushscope.events import Diagnostic, SourceItem, SourceProgress
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
                stop: threading.Event | None = None) -> Iterator[SourceItem]:
    """Live capture as a source (see :func:`pushscope.sources.live.live_events`)."""
    from pushscope.sources.live import live_events as _live_events

    return _live_events(interface, keylog=keylog, capture_filter=capture_filter, write_to=write_to,
                        duration=duration, quic_ports=quic_ports, stop=stop)


@command("live")
def run_live(argv: list[str]) -> int:
    args = live_parser().parse_args(argv)
    keylog_for_tui = args.keylog or os.environ.get("SSLKEYLOGFILE") or None
    if resolve_format(args) == "tui":
        def read_until_cancelled(cancel: threading.Event) -> Iterator[SourceItem]:
            return live_events(args.interface, keylog=keylog_for_tui, capture_filter=args.capture_filter,
                               write_to=args.write_to, duration=args.duration, quic_ports=args.quic_port,
                               stop=cancel)

        return open_inspector(f"live {args.interface}", read_until_cancelled, "live")
    if args.output:
        check_output_path(args.output, (args.write_to,))  # before capturing, not after
    from pushscope.pipeline import Load, Loader

    stop = threading.Event()
    keylog = args.keylog or os.environ.get("SSLKEYLOGFILE") or None
    tty = sys.stderr.isatty()
    failed: list[Diagnostic] = []

    def read(_cancel: threading.Event) -> Iterator[SourceItem]:
        items = live_events(args.interface, keylog=keylog, capture_filter=args.capture_filter,
                            write_to=args.write_to, duration=args.duration, quic_ports=args.quic_port, stop=stop)
        return _saying_failures(items, failed, tty and not args.quiet)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        load = Load(read, f"live capture on {args.interface}", "live", live=True)
        capture = Loader(load, on_progress=None if args.quiet else _progress_printer(tty)).run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if tty and not args.quiet:
        print(file=sys.stderr)
    if failed and not capture.connections:
        return Exit.INPUT_ERROR
    redact = not args.no_redact
    from pushscope.http.redaction import redact_more

    redact_more(args.redact)
    if args.format == "json":
        from pushscope.export.json_report import render_json

        text = render_json(capture, redact=redact)
    else:
        from pushscope.export.text_report import render_text

        text = render_text(capture, redact=redact)
    write_output(text, args.output, inputs=(keylog, args.write_to))
    return Exit.OK


def _progress_printer(tty: bool) -> Callable[[SourceProgress], None]:
    """Progress on stderr: one rewritten line on a terminal; else only when capturing starts and stops."""

    def show(item: SourceProgress) -> None:
        if tty:
            print(f"\r\x1b[Kpushscope live: {visible(item.detail)}", end="", file=sys.stderr, flush=True)
        elif item.detail.startswith("capturing on") and ":" not in item.detail:
            print(f"pushscope live: {visible(item.detail)} (Ctrl-C stops)", file=sys.stderr, flush=True)
        elif item.detail.startswith("stopped"):
            print(f"pushscope live: {visible(item.detail)}", file=sys.stderr, flush=True)

    return show


def _saying_failures(items: Iterable[SourceItem], failed: list[Diagnostic], newline: bool) -> Iterator[SourceItem]:
    """The items, passed on; a failure to capture is also said on stderr (and kept in ``failed``) as it comes."""
    for item in items:
        if isinstance(item, Diagnostic) and item.code.startswith("live-") and item.level == "error":
            failed.append(item)
            if newline:
                print(file=sys.stderr)
            say("live", item.message)
        yield item
