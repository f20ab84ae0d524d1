"""A synthetic, fully deterministic capture for the TUI tests: typed events plus hand-written verdicts.

The real captures come from real servers (``captures/``) and the real rules decide their verdicts; these tests
check the *inspector*, so they feed it events with every outcome present and fixed times, which keeps snapshot
tests stable whatever the analysis rules become.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from pushscope.decode.frame_names import DATA, HEADERS
from pushscope.events import (
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    DataReceived,
    Diagnostic,
    Endpoint,
    FrameReceived,
    HeadersReceived,
    MaxPushIdReceived,
    PushPromiseReceived,
    PushStreamOpened,
    SourceFinished,
    SourceProgress,
    StreamReset,
)
from pushscope.model.entities import Capture, Evidence, PushCost

T0 = 1_700_000_000.0
HOST = "shop.example"


def _request(conn: str, at: float, stream: int, path: str, extra: list[tuple[str, str]] | None = None):
    headers = [(":method", "GET"), (":scheme", "https"), (":authority", HOST), (":path", path)] + (extra or [])
    yield HeadersReceived(connection_id=conn, at=T0 + at, sender="client", stream_id=stream, headers=headers,
                          end_stream=True, wire_length=40)
    yield FrameReceived(connection_id=conn, at=T0 + at, sender="client", stream_id=stream, frame_type=HEADERS,
                        length=40, flags=("END_STREAM", "END_HEADERS"))


def _response(conn: str, at: float, done: float, stream: int, ctype: str, size: int, push_id: int | None = None,
              extra: list[tuple[str, str]] | None = None):
    headers = [(":status", "200"), ("content-type", ctype), ("content-length", str(size))] + (extra or [])
    yield HeadersReceived(connection_id=conn, at=T0 + at, sender="server", stream_id=stream, headers=headers,
                          end_stream=False, wire_length=30, push_id=push_id)
    yield FrameReceived(connection_id=conn, at=T0 + at, sender="server", stream_id=stream, frame_type=HEADERS,
                        length=30, flags=("END_HEADERS",), push_id=push_id)
    yield DataReceived(connection_id=conn, at=T0 + done, sender="server", stream_id=stream, data=b"x" * min(size, 64),
                       length=size, end_stream=True, push_id=push_id)
    yield FrameReceived(connection_id=conn, at=T0 + done, sender="server", stream_id=stream, frame_type=DATA,
                        length=size, flags=("END_STREAM",), push_id=push_id)


def _promise(conn: str, at: float, parent: int, promised: int | None, path: str, push_id: int | None = None):
    headers = [(":method", "GET"), (":scheme", "https"), (":authority", HOST), (":path", path)]
    yield PushPromiseReceived(connection_id=conn, at=T0 + at, sender="server", stream_id=parent,
                              promised_stream_id=promised, headers=headers, wire_length=24, push_id=push_id)


def later_load(at: float, paths: tuple[str, ...] = ("/[bold red]x[/]", "/osc\x1b]52;c;cHduZWQ=\x07")):
    """A second page load ``at`` seconds in, on a new connection t2, with hostile paths (markup, OSC 52)."""
    conn = "t2"
    yield ConnectionOpened(connection_id=conn, at=T0 + at, client=Endpoint("127.0.0.1", 50002),
                           server=Endpoint("127.0.0.1", 8443), transport="tls", protocol="h2", tls_version="1.3",
                           sni=HOST, alpn="h2")
    yield ConnectionUpdated(connection_id=conn, at=T0 + at + 0.002, decrypted=True)
    yield from _request(conn, at + 0.010, 1, "/next.html", [("x-note", "[link=https://evil.example]y[/link]")])
    for i, path in enumerate(paths):
        yield from _promise(conn, at + 0.012 + i * 0.001, 1, 2 + 2 * i, path)
    yield from _response(conn, at + 0.020, at + 0.050, 1, "text/html", 3000)
    for i in range(len(paths)):
        yield from _response(conn, at + 0.022 + i * 0.002, at + 0.060, 2 + 2 * i, "text/css", 900)
    yield ConnectionClosed(connection_id=conn, at=T0 + at + 0.1, how="fin")


def fake_events(extra_requests: int = 0, later_load_at: float | None = None) -> Iterator[object]:
    """Two connections (h2 over TLS, h3 over QUIC) with used, wasted, reset, cache-duplicated and unknown pushes.

    ``later_load_at``: a second page load that many seconds later (an idle gap to collapse), see ``later_load``.
    """
    h2, h3 = "t0", "q1"
    yield ConnectionOpened(connection_id=h2, at=T0, client=Endpoint("127.0.0.1", 50000),
                           server=Endpoint("127.0.0.1", 8443), transport="tls", protocol="h2", tls_version="1.3",
                           sni=HOST, alpn="h2")
    yield ConnectionUpdated(connection_id=h2, at=T0 + 0.004, decrypted=True)
    yield Diagnostic(level="info", message="2 TLS/QUIC sessions with application data, 2 decrypted", code="decryption")
    yield from _request(h2, 0.010, 1, "/index.html", [("cookie", "session=secret")])
    yield from _promise(h2, 0.020, 1, 2, "/style.css")
    yield from _promise(h2, 0.0205, 1, 4, "/app.js")
    yield from _promise(h2, 0.021, 1, 6, "/unused.js")
    yield from _promise(h2, 0.0215, 1, 8, "/logo.png")
    yield from _response(h2, 0.022, 0.040, 1, "text/html", 4200, extra=[("set-cookie", "session=other")])
    yield from _response(h2, 0.023, 0.030, 2, "text/css", 2100)
    yield from _response(h2, 0.024, 0.034, 4, "application/javascript", 8800)
    yield StreamReset(connection_id=h2, at=T0 + 0.026, sender="client", stream_id=8, error_code=8, error_name="CANCEL")
    yield from _response(h2, 0.028, 0.048, 6, "application/javascript", 15360)
    yield SourceProgress(done=40_000, total=100_000, unit="bytes", detail="120 packets")
    yield from _request(h2, 0.060, 3, "/api/cart.json")
    yield from _response(h2, 0.075, 0.090, 3, "application/json", 512)
    for i in range(extra_requests):
        stream = 5 + 2 * i
        at = 0.1 + i * 0.001
        yield from _request(h2, at, stream, f"/img/item-{i:05d}.webp")
        yield from _response(h2, at + 0.002, at + 0.004, stream, "image/webp", 1000 + i)
    yield ConnectionOpened(connection_id=h3, at=T0 + 0.2, client=Endpoint("127.0.0.1", 50001),
                           server=Endpoint("127.0.0.1", 8443), transport="quic", protocol="h3", tls_version="1.3",
                           sni=HOST, alpn="h3")
    yield ConnectionUpdated(connection_id=h3, at=T0 + 0.202, decrypted=True)
    yield MaxPushIdReceived(connection_id=h3, at=T0 + 0.205, sender="client", push_id=8)
    yield from _request(h3, 0.210, 0, "/index.html")
    yield from _promise(h3, 0.215, 0, None, "/style.css", push_id=0)
    yield from _promise(h3, 0.216, 0, None, "/font.woff2", push_id=1)
    yield from _response(h3, 0.218, 0.240, 0, "text/html", 4200)
    yield PushStreamOpened(connection_id=h3, at=T0 + 0.219, sender="server", stream_id=15, push_id=0)
    yield from _response(h3, 0.220, 0.226, 15, "text/css", 2100, push_id=0)
    yield PushStreamOpened(connection_id=h3, at=T0 + 0.221, sender="server", stream_id=19, push_id=1)
    yield from _response(h3, 0.222, 0.250, 19, "font/woff2", 30000, push_id=1)
    yield ConnectionClosed(connection_id=h2, at=T0 + 0.3, how="fin")
    yield ConnectionClosed(connection_id=h3, at=T0 + 0.3, how="capture-end")
    if later_load_at is not None:
        yield from later_load(later_load_at)
    yield SourceProgress(done=100_000, total=100_000, unit="bytes", detail="300 packets")
    yield SourceFinished(summary={"packets": 300})


def fake_reader(extra_requests: int = 0, delay: float = 0.0, later_load_at: float | None = None):
    """A source for ``PushscopeApp(Load(read, name))``; ``delay`` (seconds per item) makes loading slow to cancel."""

    def read(cancel: threading.Event) -> Iterator[object]:
        for item in fake_events(extra_requests, later_load_at):
            if delay:
                time.sleep(delay)
            yield item

    return read


def fake_analyse(capture: Capture) -> Capture:
    """Verdicts chosen by URL, with reasons, evidence, cost and advice, as the real rules will fill them."""
    for push in capture.pushes:
        exchange = capture.exchange(push.exchange_id)
        size = (exchange.body_bytes + exchange.response_header_bytes) if exchange else 0
        path = push.url.rsplit(HOST, 1)[-1]
        push.cost = PushCost(pushed_bytes=size, header_bytes=30, body_bytes=size - 30 if size else 0,
                             duration=0.01)
        if push.protocol == "h3" and path == "/style.css":
            push.outcome, push.reason = "cache-duplicated", "already in the client cache from connection t0"
            push.evidence = [Evidence("cached", "fresh copy received on t0 at +30.0 ms", T0 + 0.030)]
            push.advice, push.advice_text = "use-cache-digest", "Skip pushing resources the client has cached."
        elif path in ("/style.css", "/app.js"):
            push.outcome, push.reason = "used", "referenced by /index.html and consumed"
            push.evidence = [Evidence("referenced", f"<link> to {path} in /index.html", T0 + 0.040)]
            push.cost.saved_time = 0.012
            push.preload_link = f"<{path}>; rel=preload"
        elif path in ("/unused.js", "/logo.png"):
            push.outcome = "wasted"
            push.reason = "reset by the client" if path == "/logo.png" else "never referenced by the page"
            push.evidence = [Evidence("not-referenced", f"{path} does not appear in /index.html", T0 + 0.040)]
            push.cost.wasted_bytes = size
            push.cost.competed_bytes, push.cost.competed_delay = 4200, 0.004
            push.advice, push.advice_text = "stop-pushing", f"Remove the push of {path}."
        elif exchange is not None and exchange.connection_id == "t2":
            push.outcome, push.reason = "wasted", f"never referenced by /next.html: {path}"
            push.cost.wasted_bytes = size
        else:
            push.outcome, push.reason = "unknown", "the capture ends before the page could use it"
    capture.analysed = True
    return capture
