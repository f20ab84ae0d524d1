"""Scale check for hostile sizes: each step must grow linearly (or n log n), never quadratically.

    .venv/bin/python bench/hostile_scale.py

For each workload it times a size n and 4n and prints the ratio: about 4 is linear, about 16 would be
quadratic. Workloads: reference extraction from a page with 100,000 links; the analysis of one URL pushed
10,000 times on one connection, and of 4,000 page loads on one connection that each push what they all
reference; of one URL pushed and requested 4,000 times at one frozen moment, and with a new set of Vary
fields in every response; the probe's bookkeeping for 10,000 pushes; HPACK decoding of a block of 300,000
literals. Exit 1 when a ratio is over 8.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pushscope.analysis import analyse
from pushscope.decode.hpack_bounded import BoundedHpackDecoder
from pushscope.events import ConnectionOpened, DataReceived, Endpoint, HeadersReceived, PushPromiseReceived
from pushscope.http.references import references_in
from pushscope.model.builder import CaptureBuilder

LIMIT = 8.0


def page_with_links(links: int) -> Callable[[], object]:
    body = "".join(f"<img src=/i{n}.png>\n" for n in range(links)).encode()
    return lambda: references_in("text/html", body, "https://example.test/")


def one_url_pushed(pushes: int) -> Callable[[], object]:
    def run() -> object:
        builder = CaptureBuilder("bench")
        builder.apply(ConnectionOpened(connection_id="c", at=0.0, client=Endpoint("10.0.0.1", 5000),
                                       server=Endpoint("10.0.0.2", 443), transport="tls", protocol="h2"))
        request = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/")]
        builder.apply(HeadersReceived(connection_id="c", at=0.0, sender="client", stream_id=1, headers=request,
                                      end_stream=True, wire_length=20))
        builder.apply(HeadersReceived(connection_id="c", at=0.01, sender="server", stream_id=1,
                                      headers=[(":status", "200"), ("content-type", "text/html")], end_stream=False,
                                      wire_length=10))
        promised = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/same.css")]
        for n in range(pushes):
            builder.apply(PushPromiseReceived(connection_id="c", at=0.02, sender="server", stream_id=1,
                                              promised_stream_id=2 + 2 * n, headers=promised, wire_length=10))
            builder.apply(HeadersReceived(connection_id="c", at=0.03, sender="server", stream_id=2 + 2 * n,
                                          headers=[(":status", "200"), ("content-type", "text/css")], end_stream=False,
                                          wire_length=5))
            builder.apply(DataReceived(connection_id="c", at=0.03, sender="server", stream_id=2 + 2 * n, data=b"a{}",
                                       length=3, end_stream=True))
        body = b"<link rel=stylesheet href=/same.css>"
        builder.apply(DataReceived(connection_id="c", at=0.04, sender="server", stream_id=1, data=body,
                                   length=len(body), end_stream=True))
        analyse(builder.capture)
        return builder.capture
    return run


def pages_on_one_connection(pages: int) -> Callable[[], object]:
    """Many page loads on one connection, each pushing the stylesheet every page references: every push is
    referenced by every page on its connection (the analysis must not read them all for each push)."""
    def run() -> object:
        builder = CaptureBuilder("bench")
        builder.apply(ConnectionOpened(connection_id="c", at=0.0, client=Endpoint("10.0.0.1", 5000),
                                       server=Endpoint("10.0.0.2", 443), transport="tls", protocol="h2"))
        request = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/")]
        promised = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/same.css")]
        body = b"<link rel=stylesheet href=/same.css>"
        for n in range(pages):
            at, page, pushed = n * 0.01, 1 + 2 * n, 2 + 2 * n
            builder.apply(HeadersReceived(connection_id="c", at=at, sender="client", stream_id=page, headers=request,
                                          end_stream=True, wire_length=20))
            builder.apply(HeadersReceived(connection_id="c", at=at + 0.001, sender="server", stream_id=page,
                                          headers=[(":status", "200"), ("content-type", "text/html")],
                                          end_stream=False, wire_length=10))
            builder.apply(PushPromiseReceived(connection_id="c", at=at + 0.002, sender="server", stream_id=page,
                                              promised_stream_id=pushed, headers=promised, wire_length=10))
            builder.apply(DataReceived(connection_id="c", at=at + 0.003, sender="server", stream_id=page, data=body,
                                       length=len(body), end_stream=True))
            builder.apply(HeadersReceived(connection_id="c", at=at + 0.004, sender="server", stream_id=pushed,
                                          headers=[(":status", "200"), ("content-type", "text/css")],
                                          end_stream=False, wire_length=5))
            builder.apply(DataReceived(connection_id="c", at=at + 0.005, sender="server", stream_id=pushed,
                                       data=b"a{}", length=3, end_stream=True))
        analyse(builder.capture)
        return builder.capture
    return run


def clock_standing_still(loads: int, *, vary: bool = False) -> Callable[[], object]:
    """One URL pushed ``loads`` times, then requested as often, every event at one moment (a capture whose
    timestamps were zeroed): each response was written after every promise (its position says so), so a cache
    check that walked back over the copies at the promise's moment would pass them all, for every push. With
    ``vary``: the responses at distinct moments instead, each varying on a header of its own name."""
    def run() -> object:
        builder = CaptureBuilder("bench")
        builder.apply(ConnectionOpened(connection_id="c", at=0.0, client=Endpoint("10.0.0.1", 5000),
                                       server=Endpoint("10.0.0.2", 443), transport="tls", protocol="h2"))
        page = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/")]
        asked = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/a.js")]
        html = [(":status", "200"), ("content-type", "text/html")]
        written = 0  # the server's position

        def server(event: type, at: float, **fields: object) -> None:
            nonlocal written
            written += 1
            builder.apply(event(connection_id="c", at=at, sender="server", position=written, **fields))

        for n in range(loads):
            stream, at = 1 + 4 * n, 0.0 if not vary else 10.0 + n * 0.01
            builder.apply(HeadersReceived(connection_id="c", at=at, sender="client", stream_id=stream, headers=page,
                                          end_stream=True, wire_length=20))
            server(HeadersReceived, at, stream_id=stream, headers=html, end_stream=True, wire_length=10)
            server(PushPromiseReceived, at, stream_id=stream, promised_stream_id=2 + 2 * n, headers=asked,
                   wire_length=10)
            server(HeadersReceived, at, stream_id=2 + 2 * n, headers=[(":status", "200")], end_stream=True,
                   wire_length=5)
        for n in range(loads):
            stream, at = 3 + 4 * n, 0.0 if not vary else n * 0.01
            extra = [(f"x-v{n}", "1")] if vary else []
            builder.apply(HeadersReceived(connection_id="c", at=at, sender="client", stream_id=stream,
                                          headers=asked + extra, end_stream=True, wire_length=20))
            answer = [(":status", "200"), ("cache-control", "max-age=600")] + ([("vary", f"x-v{n}")] if vary else [])
            server(HeadersReceived, at, stream_id=stream, headers=answer, end_stream=True, wire_length=10)
        analyse(builder.capture)
        return builder.capture
    return run


def vary_per_response(loads: int) -> Callable[[], object]:
    return clock_standing_still(loads, vary=True)


def probe_accepting_pushes(pushes: int) -> Callable[[], object]:
    """The probe's bookkeeping for each PUSH_PROMISE (pushed twice? requested before?) and claiming them."""
    from pushscope.sources.probe.connection import Origin, ProbeConnection, ProbeLimits, ProbeOptions, Transfer

    def run() -> object:
        options = ProbeOptions("https://example.test/", limits=ProbeLimits(pushes=pushes + 1))
        connection = ProbeConnection("p1", Origin.of(options.url), options, lambda item: None,
                                     lambda conn, push: None)
        for n in range(pushes):
            url = f"https://example.test/p{n % 100}.css"  # 100 URLs, each pushed many times
            connection.record_promise(Transfer("p1", url, [(":method", "GET")], 2 + 2 * n, 0.0, pushed=True))
        for n in range(100):
            connection.unclaimed_push(f"https://example.test/p{n}.css", "GET")
        return connection
    return run


def hpack_literals(literals: int) -> Callable[[], object]:
    block = b"\x00\x00\x00" * literals
    return lambda: BoundedHpackDecoder(max_header_list_size=2**40).decode_block(block)


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> int:
    workloads = [("references, 100,000 links", page_with_links, 100_000),
                 ("analysis, one URL pushed 10,000 times", one_url_pushed, 10_000),
                 ("analysis, 4,000 page loads on a connection", pages_on_one_connection, 4_000),
                 ("analysis, 4,000 pushes, the clock still", clock_standing_still, 4_000),
                 ("analysis, 4,000 Vary field sets", vary_per_response, 4_000),
                 ("probe, accepting 10,000 pushes", probe_accepting_pushes, 10_000),
                 ("HPACK, 300,000 literals in one block", hpack_literals, 300_000)]
    worst = 0.0
    for name, make, size in workloads:
        small, large = seconds(make(size // 4)), seconds(make(size))
        ratio = large / max(small, 1e-6)
        worst = max(worst, ratio)
        print(f"{name:<40} n/4 {small:7.2f}s   n {large:7.2f}s   ratio {ratio:5.1f}")
    print(f"worst ratio {worst:.1f} (linear ~4, quadratic ~16; limit {LIMIT:g})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
