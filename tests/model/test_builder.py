"""Folding events into the model: exchanges, pushes, resets and kept bodies."""

from __future__ import annotations

import pytest

from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    DataReceived,
    Diagnostic,
    Endpoint,
    FrameReceived,
    GoAwayReceived,
    HeadersReceived,
    MaxPushIdReceived,
    ProtocolAnomaly,
    PushCancelled,
    PushPromiseReceived,
    PushStreamOpened,
    SettingsReceived,
    StopSendingReceived,
    StreamReset,
)
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture

CLIENT, SERVER = Endpoint("127.0.0.1", 50000), Endpoint("127.0.0.1", 443)


def req(path: str) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", path)]


def resp(content_type: str | None = "text/html", status: str = "200") -> list[tuple[str, str]]:
    return [(":status", status)] + ([("content-type", content_type)] if content_type else [])


def fold(*events, protocol: str = "h2") -> Capture:
    builder = CaptureBuilder("test")
    transport = "quic" if protocol == "h3" else "tls"
    builder.apply(ConnectionOpened("c", 1.0, CLIENT, SERVER, transport, protocol, "1.3", "example.test", protocol))
    for event in events:
        builder.apply(event)
    return builder.capture


def test_h2_request_and_response() -> None:
    capture = fold(
        FrameReceived("c", 1.1, "client", 1, "HEADERS", 20, ("END_HEADERS", "END_STREAM")),
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        HeadersReceived("c", 1.2, "server", 1, resp(), False, 15),
        FrameReceived("c", 1.3, "server", 1, "DATA", 6),
        DataReceived("c", 1.3, "server", 1, b"<html>", 6, False),
        FrameReceived("c", 1.4, "server", 1, "DATA", 13, ("END_STREAM", "PADDED")),
        DataReceived("c", 1.4, "server", 1, b"</html>", 13, True),
        HeadersReceived("c", 1.5, "server", 1, [("grpc-status", "0")], True, 5),
    )
    (exchange,) = capture.exchanges
    assert (exchange.method, exchange.url, exchange.status) == ("GET", "https://example.test/", 200)
    assert exchange.request_start == exchange.request_end == 1.1
    assert (exchange.response_start, exchange.first_data_at, exchange.response_end) == (1.2, 1.3, 1.5)
    assert exchange.body_bytes == 19  # flow-controlled, padding included
    assert bytes(exchange.body) == b"<html></html>"
    assert exchange.response_header_bytes == 20 and exchange.request_header_bytes == 20
    assert exchange.trailers == [("grpc-status", "0")]
    assert not exchange.pushed and capture.pushes == []
    assert capture.started_at == 1.0 and capture.ended_at == 1.5


def test_informational_response_kept_apart() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        HeadersReceived("c", 1.2, "server", 1, [(":status", "103"), ("link", "</a.css>; rel=preload")], False, 9),
        HeadersReceived("c", 1.3, "server", 1, resp(), True, 9),
    )
    (exchange,) = capture.exchanges
    assert exchange.informational == [[(":status", "103"), ("link", "</a.css>; rel=preload")]]
    assert exchange.status == 200 and exchange.response_start == 1.2


def test_h2_push_with_promise_and_response() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        FrameReceived("c", 1.2, "server", 1, "PUSH_PROMISE", 30, ("END_HEADERS",)),
        PushPromiseReceived("c", 1.2, "server", 1, 2, req("/style.css"), 25),
        HeadersReceived("c", 1.3, "server", 2, resp("text/css"), False, 10),
        FrameReceived("c", 1.4, "server", 2, "DATA", 5, ("END_STREAM",)),
        DataReceived("c", 1.4, "server", 2, b"a{b:c", 5, True),
    )
    (push,) = capture.pushes
    assert (push.protocol, push.parent_stream_id, push.promised_stream_id, push.push_id) == ("h2", 1, 2, None)
    assert push.url == "https://example.test/style.css"
    assert push.promised_at == 1.2 and push.promise_wire_bytes == 25
    assert push.references == [(1, 1.2)]
    exchange = capture.exchange(push.exchange_id)
    assert exchange is not None and exchange.pushed and exchange.stream_id == 2
    assert exchange.request_headers == req("/style.css") and exchange.request_start == 1.2
    assert exchange.status == 200 and exchange.response_end == 1.4 and bytes(exchange.body) == b"a{b:c"
    assert [f.frame_type for f in exchange.frames] == ["PUSH_PROMISE", "DATA"]
    assert capture.push_for_exchange(exchange) is push
    parent = capture.exchanges[0]
    assert [f.frame_type for f in parent.frames] == ["PUSH_PROMISE"]  # the frame travels on the parent stream


@pytest.mark.parametrize(("code", "name"), [(8, "CANCEL"), (7, "REFUSED_STREAM")])
def test_reset_of_promised_stream_is_attributed_to_push(code: int, name: str) -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        PushPromiseReceived("c", 1.2, "server", 1, 2, req("/a.js"), 25),
        StreamReset("c", 1.25, "client", 2, code, name),
        StreamReset("c", 1.3, "server", 2, 0, "NO_ERROR"),  # a second reset does not replace the first
    )
    (push,) = capture.pushes
    assert push.reset is not None
    assert (push.reset.by, push.reset.code, push.reset.name, push.reset.at, push.reset.kind) == (
        "client", code, name, 1.25, "RST_STREAM")
    assert capture.exchange(push.exchange_id).reset is push.reset
    assert capture.exchanges[0].reset is None


def test_reset_of_request_stream_is_not_a_push_reset() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        PushPromiseReceived("c", 1.2, "server", 1, 2, req("/a.js"), 25),
        StreamReset("c", 1.3, "client", 1, 8, "CANCEL"),
    )
    assert capture.pushes[0].reset is None
    assert capture.exchanges[0].reset is not None and capture.exchanges[0].reset.name == "CANCEL"


def test_h2_rst_stream_appears_once_on_the_timeline() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        PushPromiseReceived("c", 1.2, "server", 1, 2, req("/a.js"), 25),
        FrameReceived("c", 1.3, "client", 2, "RST_STREAM", 4),
        StreamReset("c", 1.3, "client", 2, 8, "CANCEL"),
    )
    pushed = capture.exchange(capture.pushes[0].exchange_id)
    assert [f.frame_type for f in pushed.frames].count("RST_STREAM") == 1


def test_request_headers_frame_is_on_the_exchange_timeline() -> None:
    capture = fold(
        FrameReceived("c", 1.1, "client", 1, "HEADERS", 20, ("END_HEADERS", "END_STREAM")),
        HeadersReceived("c", 1.1, "client", 1, req("/"), True, 20),
        FrameReceived("c", 1.2, "server", 1, "HEADERS", 9, ("END_HEADERS",)),
        HeadersReceived("c", 1.2, "server", 1, resp(), True, 9),
    )
    (exchange,) = capture.exchanges
    assert [(f.frame_type, f.sender, f.stream_id) for f in exchange.frames] == [
        ("HEADERS", "client", 1), ("HEADERS", "server", 1)]
    assert capture.connections["c"].frames == []


def test_h3_push_stream_before_push_promise() -> None:
    capture = fold(
        MaxPushIdReceived("c", 1.05, "client", 10),
        HeadersReceived("c", 1.1, "client", 0, req("/"), True, 20),
        PushStreamOpened("c", 1.2, "server", 15, 3),
        HeadersReceived("c", 1.21, "server", 15, resp("text/css"), False, 10, push_id=3),
        DataReceived("c", 1.22, "server", 15, b"p{}", 3, True, push_id=3),
        PushPromiseReceived("c", 1.3, "server", 0, None, req("/late.css"), 12, push_id=3),
        protocol="h3",
    )
    (push,) = capture.pushes
    assert (push.protocol, push.push_id, push.promised_stream_id, push.parent_stream_id) == ("h3", 3, 15, 0)
    assert push.promised_at == 1.3 and push.url == "https://example.test/late.css"
    exchange = capture.exchange(push.exchange_id)
    assert exchange.protocol == "h3" and exchange.push_id == 3 and exchange.stream_id == 15
    assert exchange.status == 200 and exchange.response_end == 1.22 and bytes(exchange.body) == b"p{}"
    assert exchange.request_headers == req("/late.css")
    assert capture.connections["c"].max_push_id == 10


def test_h3_same_push_id_promised_on_two_streams_is_one_push() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 0, req("/"), True, 20),
        HeadersReceived("c", 1.11, "client", 4, req("/other"), True, 20),
        PushPromiseReceived("c", 1.2, "server", 0, None, req("/shared.js"), 12, push_id=0),
        PushPromiseReceived("c", 1.25, "server", 4, None, req("/shared.js"), 3, push_id=0),
        PushStreamOpened("c", 1.3, "server", 3, 0),
        protocol="h3",
    )
    (push,) = capture.pushes
    assert push.references == [(0, 1.2), (4, 1.25)]
    assert push.parent_stream_id == 0 and push.promised_at == 1.2 and push.promise_wire_bytes == 12
    assert [f.frame_type for f in capture.exchange(push.exchange_id).frames] == ["PUSH_PROMISE", "PUSH_PROMISE"]


def test_h3_cancel_push() -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 0, req("/"), True, 20),
        PushPromiseReceived("c", 1.2, "server", 0, None, req("/x.js"), 12, push_id=1),
        PushCancelled("c", 1.3, "client", 1),
        PushCancelled("c", 1.4, "server", 1),
        protocol="h3",
    )
    (push,) = capture.pushes
    assert push.reset is not None
    assert (push.reset.by, push.reset.kind, push.reset.name, push.reset.at) == ("client", "CANCEL_PUSH",
                                                                                 "CANCEL_PUSH", 1.3)


def test_h3_cancel_push_for_unseen_push_creates_it() -> None:
    capture = fold(PushCancelled("c", 1.3, "client", 7), protocol="h3")
    (push,) = capture.pushes
    assert push.push_id == 7 and push.reset is not None and push.url == ""


def test_h3_reset_stream_and_stop_sending_on_push_stream() -> None:
    capture = fold(
        PushPromiseReceived("c", 1.2, "server", 0, None, req("/x.js"), 12, push_id=2),
        PushStreamOpened("c", 1.3, "server", 7, 2),
        StopSendingReceived("c", 1.4, "client", 7, 0x10C, "H3_REQUEST_CANCELLED", push_id=2),
        StreamReset("c", 1.5, "server", 7, 0x10C, "H3_REQUEST_CANCELLED", push_id=2),
        protocol="h3",
    )
    push = capture.pushes[0]
    assert push.reset is not None and (push.reset.kind, push.reset.by) == ("STOP_SENDING", "client")
    kinds = [f.frame_type for f in capture.exchange(push.exchange_id).frames]
    assert "STOP_SENDING" in kinds and "RESET_STREAM" in kinds


@pytest.mark.parametrize(
    ("content_type", "path", "kept"),
    [("text/html", "/", True), ("text/html; charset=utf-8", "/a", True), ("text/css", "/s", True),
     ("application/xhtml+xml", "/x", True), ("image/png", "/i.png", False),
     ("application/javascript", "/app.js", False), (None, "/page.html", True), (None, "/blob", False)],
)
def test_body_kept_only_for_html_and_css(content_type: str | None, path: str, kept: bool) -> None:
    capture = fold(
        HeadersReceived("c", 1.1, "client", 1, req(path), True, 20),
        HeadersReceived("c", 1.2, "server", 1, resp(content_type), False, 10),
        DataReceived("c", 1.3, "server", 1, b"0123456789", 10, True),
    )
    exchange = capture.exchanges[0]
    assert exchange.body_bytes == 10
    assert bytes(exchange.body) == (b"0123456789" if kept else b"")


def test_connection_facts() -> None:
    capture = fold(
        ConnectionUpdated("c", 1.01, alpn="h2", decrypted=True),
        SettingsReceived("c", 1.02, "client", {"ENABLE_PUSH": 0}),
        SettingsReceived("c", 1.03, "client", {"MAX_CONCURRENT_STREAMS": 5}),
        BytesSeen("c", 1.04, "client", 100),
        BytesSeen("c", 1.05, "server", 300),
        BytesSeen("c", 1.06, "client", 20),
        GoAwayReceived("c", 1.07, "server", 3, 0, "NO_ERROR"),
        ProtocolAnomaly("c", 1.08, "server", "odd"),
        FrameReceived("c", 1.09, "server", None, "PING", 8),
        ConnectionClosed("c", 1.1, "rst-by-server"),
        ConnectionClosed("c", 1.2, "fin"),
        Diagnostic("warning", "something", "c", "x"),
    )
    conn = capture.connections["c"]
    assert conn.settings["client"] == {"ENABLE_PUSH": 0, "MAX_CONCURRENT_STREAMS": 5}
    assert not conn.push_enabled_by_client
    assert conn.bytes_sent == {"client": 120, "server": 300}
    assert conn.goaways == [("server", 3, "NO_ERROR", 1.07)]
    assert [a.message for a in conn.anomalies] == ["odd"]
    assert conn.frame_count == 1 and conn.frames[0].frame_type == "PING"
    assert (conn.closed_at, conn.close_how, conn.ended_cleanly) == (1.1, "rst-by-server", True)
    assert conn.decrypted is True and conn.alpn == "h2" and conn.sni == "example.test"
    assert capture.diagnostics[0].message == "something"


def test_event_before_connection_opened_creates_a_placeholder() -> None:
    builder = CaptureBuilder("test")
    builder.apply(BytesSeen("late", 2.0, "client", 10))
    builder.apply(ConnectionOpened("late", 1.0, CLIENT, SERVER, "tls"))
    conn = builder.capture.connections["late"]
    assert conn.client == CLIENT and conn.bytes_sent["client"] == 10
    assert builder.capture.started_at == 1.0


def test_unreadable_url_takes_the_authority_the_connection_shows_and_equals_no_other() -> None:
    builder = CaptureBuilder("capture")
    builder.apply(ConnectionOpened("t0", 1.0, CLIENT, SERVER, "tls", "h2", "1.3", "sni.example.test", "h2"))
    unknown = (":authority", ":path")
    builder.apply(HeadersReceived("t0", 1.1, "client", 1, [(":method", "GET"), (":scheme", "https")], True, 9,
                                  unknown_fields=unknown))
    builder.apply(HeadersReceived("t0", 1.2, "client", 3, req("/known.css"), True, 20))
    builder.apply(HeadersReceived("t0", 1.3, "client", 5, [(":method", "GET"), (":scheme", "https")], True, 9,
                                  unknown_fields=unknown))
    first, known, later = builder.capture.exchanges
    assert first.url == "https://sni.example.test/<unknown path>" and first.assumed_authority == "sni.example.test"
    assert later.url == "https://example.test/<unknown path>" and later.assumed_authority == "example.test"
    assert known.url == "https://example.test/known.css" and not known.assumed_authority and known.url_known
    assert not first.url_known and not later.url_known
    builder.apply(PushPromiseReceived("t0", 1.4, "server", 3, 2, [(":method", "GET")], 5, unknown_fields=unknown))
    push = builder.capture.pushes[0]
    assert push.url == "https://example.test/<unknown path>" and not push.url_known


def test_a_tls_handshake_seen_after_the_opening_segment_makes_the_connection_tls() -> None:
    builder = CaptureBuilder("capture")
    builder.apply(ConnectionOpened("t0", 1.0, CLIENT, SERVER, "tcp"))  # its first segment showed no TLS field
    builder.apply(ConnectionUpdated("t0", 1.1, sni="example.test", alpn="h2"))
    assert builder.capture.connections["t0"].transport == "tls"
    builder.apply(ConnectionOpened("t1", 1.0, CLIENT, SERVER, "tcp"))
    builder.apply(ConnectionUpdated("t1", 1.1, protocol="h2"))  # cleartext h2c stays tcp
    assert builder.capture.connections["t1"].transport == "tcp"
