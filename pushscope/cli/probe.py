"""``pushscope probe URL``: the active probe, headless or in the inspector.

It prints the same report as ``pushscope report`` (``--format text|json``): the session's items (events, run
records, the probe's truth for each push, diagnostics) folded and analysed by the one pipeline. For the inspector,
``probe_events`` yields the same items as they happen, like a capture source, so it folds them while the page loads.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pushscope.cli.args import add_output, add_redaction
from pushscope.cli.errors import command, say
from pushscope.cli.exitcodes import Exit
from pushscope.cli.output import check_output_path, resolve_format, write_output
from pushscope.cli.tui import open_inspector

PROBE_EPILOG = """\
runs: every run loads the page on new connections; the HTTP cache (RFC 9111) is kept between runs, so a
"warm" run shows which pushes duplicate what the client already holds. "cold" empties it first.
  pushscope probe https://example.test/ --runs cold,warm
  pushscope probe https://127.0.0.1:8443/index.html --cacert cert.pem --runs cold,warm --cancel-cached
  pushscope probe http://127.0.0.1:8080/ --h2c upgrade --format json --save session.jsonl
"""


# --------------------------------------------------------------------------------------------------------
# probe
# --------------------------------------------------------------------------------------------------------
def probe_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope probe", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=PROBE_EPILOG,
        description="Load a page like a browser that accepts server push, and report what every push did.")
    parser.add_argument("url", help="the page to load (https:// for h2 or h3, http:// for h2c)")
    parser.add_argument("--http", choices=["2", "3", "auto"], default="auto",
                        help="HTTP version: 2, 3, or auto = HTTP/2 first, then HTTP/3 if Alt-Svc offers it "
                             "(for later connections, as browsers do). Default: auto")
    parser.add_argument("--h2c", choices=["prior-knowledge", "upgrade"], default="prior-knowledge",
                        help="for http:// URLs: start HTTP/2 directly, or with an HTTP/1.1 Upgrade")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--runs", default="cold", help="comma-separated runs: cold, warm (default: cold)")
    runs.add_argument("--repeat", type=int, metavar="N", help="N runs, the first cold, the others warm")
    parser.add_argument("--cancel-cached", action="store_true",
                        help="reset pushes for URLs already held fresh (RST_STREAM CANCEL / CANCEL_PUSH), as "
                             "soon as their PUSH_PROMISE arrives")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    parser.add_argument("--cacert", metavar="FILE", help="trust the CA (or self-signed certificate) in FILE")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append TLS and QUIC secrets to FILE (NSS key log) so a capture taken at the same "
                             "time can be decrypted; default: $SSLKEYLOGFILE")
    parser.add_argument("--save", metavar="FILE", help="save the session (JSON lines) for `pushscope FILE`")
    parser.add_argument("--format", choices=["tui", "text", "json"], default=None,
                        help="tui: the inspector, filling in live (default on a terminal without -o); text or "
                             "json: headless (default: from the -o extension, else text)")
    add_output(parser)
    add_redaction(parser)
    parser.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="an extra request header (repeatable)")
    parser.add_argument("--user-agent", help="User-Agent to send")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a connection or a "
                        "response (default 10)")
    limits = parser.add_argument_group("limits (a hostile server cannot push the probe past these; hitting one "
                                       "exits 5 and reports everything seen)")
    limits.add_argument("--max-body-bytes", type=int, default=32 * 1024 * 1024, metavar="N",
                        help="bytes kept per response body; the stream is cancelled past it (default 32 MiB)")
    limits.add_argument("--max-requests", type=int, default=1000, metavar="N",
                        help="subresources fetched per page load (default 1000)")
    limits.add_argument("--max-redirects", type=int, default=5, metavar="N", help="redirect hops (default 5)")
    limits.add_argument("--max-import-depth", type=int, default=8, metavar="N",
                        help="stylesheets nested through stylesheets (default 8)")
    limits.add_argument("--max-pushes", type=int, default=1000, metavar="N",
                        help="pushes accepted per connection; later ones are refused (default 1000)")
    limits.add_argument("--max-total-bytes", type=int, default=1024**3, metavar="N",
                        help="response bytes kept over the whole run (default 1 GiB)")
    limits.add_argument("--deadline", type=float, default=300.0, metavar="S",
                        help="seconds for the whole probe, all runs (default 300)")
    parser.add_argument("--linger", type=float, default=0.5,
                        help="seconds to keep each run's connections open for pushes still arriving (default 0.5)")
    parser.add_argument("--concurrency", type=int, default=6, help="requests in flight at once (default 6)")
    return parser


def parse_runs(text: str | None, repeat: int | None) -> list[str | int]:
    if repeat is not None:
        if repeat < 1:
            raise ValueError("--repeat needs at least 1")
        return list(range(1, repeat + 1))
    labels = [part.strip().lower() for part in (text or "cold").split(",") if part.strip()]
    unknown = [label for label in labels if label not in ("cold", "warm")]
    if unknown or not labels:
        raise ValueError(f"--runs takes cold and warm, comma-separated (got {text!r})")
    return list(labels)


def probe_options(args: argparse.Namespace) -> Any:
    from pushscope.sources.probe.connection import USER_AGENT, Origin, ProbeError, ProbeLimits, ProbeOptions

    try:
        Origin.of(args.url)
    except ProbeError as exc:
        raise ValueError(str(exc)) from exc
    headers = []
    for text in args.header:
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--header wants 'Name: value', got {text!r}")
        headers.append((name.strip().lower(), value.strip()))
    if args.cacert and not Path(args.cacert).is_file():
        raise ValueError(f"--cacert {args.cacert}: no such file")
    return ProbeOptions(
        url=args.url, http=args.http, h2c=args.h2c, runs=parse_runs(args.runs, args.repeat),
        cancel_cached=args.cancel_cached, insecure=args.insecure, cacert=args.cacert,
        keylog=args.keylog or os.environ.get("SSLKEYLOGFILE") or None, timeout=args.timeout, linger=args.linger,
        concurrency=args.concurrency, user_agent=args.user_agent or USER_AGENT, extra_headers=headers,
        limits=ProbeLimits(body_bytes=args.max_body_bytes, requests=args.max_requests, redirects=args.max_redirects,
                           import_depth=args.max_import_depth, pushes=args.max_pushes,
                           total_bytes=args.max_total_bytes, deadline=args.deadline))


def _options_dict(options: Any) -> dict[str, Any]:
    return {"http": options.http, "h2c": options.h2c, "runs": options.runs, "cancel_cached": options.cancel_cached,
            "insecure": options.insecure, "concurrency": options.concurrency, "linger": options.linger}


@command("probe")
def run_probe(argv: list[str]) -> int:
    parser = probe_parser()
    args = parser.parse_args(argv)
    try:
        options = probe_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    if resolve_format(args) == "tui":
        def read(cancel: threading.Event) -> Any:
            stream = probe_events(options)
            for item in stream:
                if cancel.is_set():
                    stream.cancel()
                    break
                yield item

        return open_inspector(f"probe {options.url}", read, "probe")
    from pushscope.pipeline import analysed
    from pushscope.sources.probe.session import run_session

    if args.output:
        check_output_path(args.output, (args.keylog,))  # before the page loads, not after
    result = run_session(options)
    capture = analysed(result.items, source="probe", name=result.name)
    if args.save:
        from pushscope.sources.probe.recording import write_session

        write_session(args.save, result.items, url=options.url, options=_options_dict(options))
    redact = not args.no_redact
    from pushscope.export.json_report import render_json
    from pushscope.export.text_report import render_text
    from pushscope.http.redaction import redact_more

    redact_more(args.redact)
    text = render_json(capture, redact=redact) if args.format == "json" else render_text(capture, redact=redact)
    write_output(text, args.output, inputs=(args.keylog, args.save))
    if not result.loaded:
        for diagnostic in capture.diagnostics:
            if diagnostic.level == "error":
                say("probe", diagnostic.message)
        return Exit.PROBE_LIMIT if options.limits.hit else Exit.INPUT_ERROR
    return Exit.PROBE_LIMIT if options.limits.hit else Exit.OK


def probe_events(args: argparse.Namespace | Sequence[str] | Any) -> Any:
    """The probe as a source for the inspector: pass ``pushscope probe`` arguments (a list or parsed Namespace) or
    ProbeOptions; iterate the returned ProbeEventStream for its items and progress (then SourceFinished)."""
    from pushscope.sources.probe.connection import ProbeOptions
    from pushscope.sources.probe.stream import ProbeEventStream

    if isinstance(args, ProbeOptions):
        return ProbeEventStream(args)
    if not isinstance(args, argparse.Namespace):
        args = probe_parser().parse_args(list(args))
    return ProbeEventStream(probe_options(args))
