"""Folding events into the model: exchanges, pushes, resets and kept bodies."""

from __future__ import annotations

import pytest

from pushscope.decode.frame_names import frame_name
from pushscope.decode.h2_names import FRAME_TYPES
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
from pushscope.model.entities import Capture, FrameRecord

H2 = {name: code for code, name in FRAME_TYPES.items()}


def names(frames: list[FrameRecord], protocol: str = "h2") -> list[str]:
    return [frame_name(protocol, f.frame_type, quic=f.quic) for f in frames]

CLIENT, SERVER = Endpoint("127.0.0.1", 50000), Endpoint("127.0.0.1", 443)


def req(path: str) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", path)]


def resp(content_type: str | None = "text/html", status: str = "200") -> list[tuple[str, str]]:
    return [(":status", status)] + ([("content-type", content_type)] if content_type else [])


def fold(*events, protocol: str = "h2") -> Capture:
    builder = CaptureBuilder("test")
    transport = "quic" if protocol == "h3" else "tls"
    builder.apply(ConnectionOpened(connection_id="c", at=1.0, client=CLIENT, server=SERVER, transport=transport,
                                   protocol=protocol, tls_version="1.3", sni="example.test", alpn=protocol))
    for event in events:
        builder.apply(event)
    return builder.capture


def test_h2_request_and_response() -> None:
    capture = fold(
        FrameReceived(connection_id="c", at=1.1, sender="client", stream_id=1, frame_type=H2["HEADERS"], length=20,
                      flags=("END_HEADERS", "END_STREAM")),
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        HeadersReceived(connection_id="c", at=1.2, sender="server", stream_id=1, headers=resp(), end_stream=False,
                        wire_length=15),
        FrameReceived(connection_id="c", at=1.3, sender="server", stream_id=1, frame_type=H2["DATA"], length=6),
        DataReceived(connection_id="c", at=1.3, sender="server", stream_id=1, data=b"<html>", length=6,
                     end_stream=False),
        FrameReceived(connection_id="c", at=1.4, sender="server", stream_id=1, frame_type=H2["DATA"], length=13,
                      flags=("END_STREAM", "PADDED")),
        DataReceived(connection_id="c", at=1.4, sender="server", stream_id=1, data=b"</html>", length=13,
                     end_stream=True),
        HeadersReceived(connection_id="c", at=1.5, sender="server", stream_id=1, headers=[("grpc-status", "0")],
                        end_stream=True, wire_length=5),
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
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        HeadersReceived(connection_id="c", at=1.2, sender="server", stream_id=1,
                        headers=[(":status", "103"), ("link", "</a.css>; rel=preload")], end_stream=False,
                        wire_length=9),
        HeadersReceived(connection_id="c", at=1.3, sender="server", stream_id=1, headers=resp(), end_stream=True,
                        wire_length=9),
    )
    (exchange,) = capture.exchanges
    assert exchange.informational == [[(":status", "103"), ("link", "</a.css>; rel=preload")]]
    assert exchange.status == 200 and exchange.response_start == 1.2


def test_h2_push_with_promise_and_response() -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        FrameReceived(connection_id="c", at=1.2, sender="server", stream_id=1, frame_type=H2["PUSH_PROMISE"], length=30,
                      flags=("END_HEADERS",)),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=1, promised_stream_id=2,
                            headers=req("/style.css"), wire_length=25),
        HeadersReceived(connection_id="c", at=1.3, sender="server", stream_id=2, headers=resp("text/css"),
                        end_stream=False, wire_length=10),
        FrameReceived(connection_id="c", at=1.4, sender="server", stream_id=2, frame_type=H2["DATA"], length=5,
                      flags=("END_STREAM",)),
        DataReceived(connection_id="c", at=1.4, sender="server", stream_id=2, data=b"a{b:c", length=5, end_stream=True),
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
    assert names(exchange.frames) == ["PUSH_PROMISE", "DATA"]
    assert capture.push_for_exchange(exchange) is push
    parent = capture.exchanges[0]
    assert names(parent.frames) == ["PUSH_PROMISE"]  # the frame travels on the parent stream


@pytest.mark.parametrize(("code", "name"), [(8, "CANCEL"), (7, "REFUSED_STREAM")])
def test_reset_of_promised_stream_is_attributed_to_push(code: int, name: str) -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=1, promised_stream_id=2,
                            headers=req("/a.js"), wire_length=25),
        StreamReset(connection_id="c", at=1.25, sender="client", stream_id=2, error_code=code, error_name=name),
        # a second reset does not replace the first
        StreamReset(connection_id="c", at=1.3, sender="server", stream_id=2, error_code=0, error_name="NO_ERROR"),
    )
    (push,) = capture.pushes
    assert push.reset is not None
    assert (push.reset.by, push.reset.code, push.reset.name, push.reset.at, push.reset.kind) == (
        "client", code, name, 1.25, "RST_STREAM")
    assert capture.exchange(push.exchange_id).reset is push.reset
    assert capture.exchanges[0].reset is None


def test_reset_of_request_stream_is_not_a_push_reset() -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=1, promised_stream_id=2,
                            headers=req("/a.js"), wire_length=25),
        StreamReset(connection_id="c", at=1.3, sender="client", stream_id=1, error_code=8, error_name="CANCEL"),
    )
    assert capture.pushes[0].reset is None
    assert capture.exchanges[0].reset is not None and capture.exchanges[0].reset.name == "CANCEL"


def test_h2_rst_stream_appears_once_on_the_timeline() -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=1, promised_stream_id=2,
                            headers=req("/a.js"), wire_length=25),
        FrameReceived(connection_id="c", at=1.3, sender="client", stream_id=2, frame_type=H2["RST_STREAM"], length=4),
        StreamReset(connection_id="c", at=1.3, sender="client", stream_id=2, error_code=8, error_name="CANCEL"),
    )
    pushed = capture.exchange(capture.pushes[0].exchange_id)
    assert names(pushed.frames).count("RST_STREAM") == 1


def test_request_headers_frame_is_on_the_exchange_timeline() -> None:
    capture = fold(
        FrameReceived(connection_id="c", at=1.1, sender="client", stream_id=1, frame_type=H2["HEADERS"], length=20,
                      flags=("END_HEADERS", "END_STREAM")),
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"), end_stream=True,
                        wire_length=20),
        FrameReceived(connection_id="c", at=1.2, sender="server", stream_id=1, frame_type=H2["HEADERS"], length=9,
                      flags=("END_HEADERS",)),
        HeadersReceived(connection_id="c", at=1.2, sender="server", stream_id=1, headers=resp(), end_stream=True,
                        wire_length=9),
    )
    (exchange,) = capture.exchanges
    assert [(frame_name("h2", f.frame_type), f.sender, f.stream_id) for f in exchange.frames] == [
        ("HEADERS", "client", 1), ("HEADERS", "server", 1)]
    assert capture.connections["c"].frames == []


def test_h3_push_stream_before_push_promise() -> None:
    capture = fold(
        MaxPushIdReceived(connection_id="c", at=1.05, sender="client", push_id=10),
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=0, headers=req("/"), end_stream=True,
                        wire_length=20),
        PushStreamOpened(connection_id="c", at=1.2, sender="server", stream_id=15, push_id=3),
        HeadersReceived(connection_id="c", at=1.21, sender="server", stream_id=15, headers=resp("text/css"),
                        end_stream=False, wire_length=10, push_id=3),
        DataReceived(connection_id="c", at=1.22, sender="server", stream_id=15, data=b"p{}", length=3, end_stream=True,
                     push_id=3),
        PushPromiseReceived(connection_id="c", at=1.3, sender="server", stream_id=0, promised_stream_id=None,
                            headers=req("/late.css"), wire_length=12, push_id=3),
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
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=0, headers=req("/"), end_stream=True,
                        wire_length=20),
        HeadersReceived(connection_id="c", at=1.11, sender="client", stream_id=4, headers=req("/other"),
                        end_stream=True, wire_length=20),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=0, promised_stream_id=None,
                            headers=req("/shared.js"), wire_length=12, push_id=0),
        PushPromiseReceived(connection_id="c", at=1.25, sender="server", stream_id=4, promised_stream_id=None,
                            headers=req("/shared.js"), wire_length=3, push_id=0),
        PushStreamOpened(connection_id="c", at=1.3, sender="server", stream_id=3, push_id=0),
        protocol="h3",
    )
    (push,) = capture.pushes
    assert push.references == [(0, 1.2), (4, 1.25)]
    assert push.parent_stream_id == 0 and push.promised_at == 1.2 and push.promise_wire_bytes == 12
    assert names(capture.exchange(push.exchange_id).frames) == ["PUSH_PROMISE", "PUSH_PROMISE"]


def test_h3_cancel_push() -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=0, headers=req("/"), end_stream=True,
                        wire_length=20),
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=0, promised_stream_id=None,
                            headers=req("/x.js"), wire_length=12, push_id=1),
        PushCancelled(connection_id="c", at=1.3, sender="client", push_id=1),
        PushCancelled(connection_id="c", at=1.4, sender="server", push_id=1),
        protocol="h3",
    )
    (push,) = capture.pushes
    assert push.reset is not None
    assert (push.reset.by, push.reset.kind, push.reset.name, push.reset.at) == ("client", "CANCEL_PUSH",
                                                                                 "CANCEL_PUSH", 1.3)


def test_h3_cancel_push_for_unseen_push_creates_it() -> None:
    capture = fold(PushCancelled(connection_id="c", at=1.3, sender="client", push_id=7), protocol="h3")
    (push,) = capture.pushes
    assert push.push_id == 7 and push.reset is not None and push.url == ""


def test_h3_reset_stream_and_stop_sending_on_push_stream() -> None:
    capture = fold(
        PushPromiseReceived(connection_id="c", at=1.2, sender="server", stream_id=0, promised_stream_id=None,
                            headers=req("/x.js"), wire_length=12, push_id=2),
        PushStreamOpened(connection_id="c", at=1.3, sender="server", stream_id=7, push_id=2),
        StopSendingReceived(connection_id="c", at=1.4, sender="client", stream_id=7, error_code=0x10C,
                            error_name="H3_REQUEST_CANCELLED", push_id=2),
        StreamReset(connection_id="c", at=1.5, sender="server", stream_id=7, error_code=0x10C,
                    error_name="H3_REQUEST_CANCELLED", push_id=2),
        protocol="h3",
    )
    push = capture.pushes[0]
    assert push.reset is not None and (push.reset.kind, push.reset.by) == ("STOP_SENDING", "client")
    kinds = names(capture.exchange(push.exchange_id).frames, "h3")
    assert "STOP_SENDING" in kinds and "RESET_STREAM" in kinds


@pytest.mark.parametrize(
    ("content_type", "path", "kept"),
    [("text/html", "/", True), ("text/html; charset=utf-8", "/a", True), ("text/css", "/s", True),
     ("application/xhtml+xml", "/x", True), ("image/png", "/i.png", False),
     ("application/javascript", "/app.js", False), (None, "/page.html", True), (None, "/blob", False)],
)
def test_body_kept_only_for_html_and_css(content_type: str | None, path: str, kept: bool) -> None:
    capture = fold(
        HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req(path), end_stream=True,
                        wire_length=20),
        HeadersReceived(connection_id="c", at=1.2, sender="server", stream_id=1, headers=resp(content_type),
                        end_stream=False, wire_length=10),
        DataReceived(connection_id="c", at=1.3, sender="server", stream_id=1, data=b"0123456789", length=10,
                     end_stream=True),
    )
    exchange = capture.exchanges[0]
    assert exchange.body_bytes == 10
    assert bytes(exchange.body) == (b"0123456789" if kept else b"")


def test_connection_facts() -> None:
    capture = fold(
        ConnectionUpdated(connection_id="c", at=1.01, alpn="h2", decrypted=True),
        SettingsReceived(connection_id="c", at=1.02, sender="client", settings={"ENABLE_PUSH": 0}),
        SettingsReceived(connection_id="c", at=1.03, sender="client", settings={"MAX_CONCURRENT_STREAMS": 5}),
        BytesSeen(connection_id="c", at=1.04, sender="client", length=100),
        BytesSeen(connection_id="c", at=1.05, sender="server", length=300),
        BytesSeen(connection_id="c", at=1.06, sender="client", length=20),
        GoAwayReceived(connection_id="c", at=1.07, sender="server", last_stream_id=3, error_code=0,
                       error_name="NO_ERROR"),
        ProtocolAnomaly(connection_id="c", at=1.08, sender="server", message="odd"),
        FrameReceived(connection_id="c", at=1.09, sender="server", stream_id=None, frame_type=H2["PING"], length=8),
        ConnectionClosed(connection_id="c", at=1.1, how="rst-by-server"),
        ConnectionClosed(connection_id="c", at=1.2, how="fin"),
        Diagnostic(level="warning", message="something", connection_id="c", code="x"),
    )
    conn = capture.connections["c"]
    assert conn.settings["client"] == {"ENABLE_PUSH": 0, "MAX_CONCURRENT_STREAMS": 5}
    assert not conn.push_enabled_by_client
    assert conn.bytes_sent == {"client": 120, "server": 300}
    assert conn.goaways == [("server", 3, "NO_ERROR", 1.07)]
    assert [a.message for a in conn.anomalies] == ["odd"]
    assert conn.frame_count == 1 and names(conn.frames) == ["PING"]
    assert (conn.closed_at, conn.close_how, conn.ended_cleanly) == (1.1, "rst-by-server", True)
    assert conn.decrypted is True and conn.alpn == "h2" and conn.sni == "example.test"
    assert capture.diagnostics[0].message == "something"


def test_event_before_connection_opened_creates_a_placeholder() -> None:
    builder = CaptureBuilder("test")
    builder.apply(BytesSeen(connection_id="late", at=2.0, sender="client", length=10))
    builder.apply(ConnectionOpened(connection_id="late", at=1.0, client=CLIENT, server=SERVER, transport="tls"))
    conn = builder.capture.connections["late"]
    assert conn.client == CLIENT and conn.bytes_sent["client"] == 10
    assert builder.capture.started_at == 1.0


def test_unreadable_url_takes_the_authority_the_connection_shows_and_equals_no_other() -> None:
    builder = CaptureBuilder("capture")
    builder.apply(ConnectionOpened(connection_id="t0", at=1.0, client=CLIENT, server=SERVER, transport="tls",
                                   protocol="h2", tls_version="1.3", sni="sni.example.test", alpn="h2"))
    unknown = (":authority", ":path")
    builder.apply(HeadersReceived(connection_id="t0", at=1.1, sender="client", stream_id=1,
                                  headers=[(":method", "GET"), (":scheme", "https")], end_stream=True, wire_length=9,
                                  unknown_fields=unknown))
    builder.apply(HeadersReceived(connection_id="t0", at=1.2, sender="client", stream_id=3, headers=req("/known.css"),
                                  end_stream=True, wire_length=20))
    builder.apply(HeadersReceived(connection_id="t0", at=1.3, sender="client", stream_id=5,
                                  headers=[(":method", "GET"), (":scheme", "https")], end_stream=True, wire_length=9,
                                  unknown_fields=unknown))
    first, known, later = builder.capture.exchanges
    assert first.url == "https://sni.example.test/<unknown path>" and first.assumed_authority == "sni.example.test"
    assert later.url == "https://example.test/<unknown path>" and later.assumed_authority == "example.test"
    assert known.url == "https://example.test/known.css" and not known.assumed_authority and known.url_known
    assert not first.url_known and not later.url_known
    builder.apply(PushPromiseReceived(connection_id="t0", at=1.4, sender="server", stream_id=3, promised_stream_id=2,
                                      headers=[(":method", "GET")], wire_length=5, unknown_fields=unknown))
    push = builder.capture.pushes[0]
    assert push.url == "https://example.test/<unknown path>" and not push.url_known


def test_a_tls_handshake_seen_after_the_opening_segment_makes_the_connection_tls() -> None:
    builder = CaptureBuilder("capture")
    # its first segment showed no TLS field
    builder.apply(ConnectionOpened(connection_id="t0", at=1.0, client=CLIENT, server=SERVER, transport="tcp"))
    builder.apply(ConnectionUpdated(connection_id="t0", at=1.1, sni="example.test", alpn="h2"))
    assert builder.capture.connections["t0"].transport == "tls"
    builder.apply(ConnectionOpened(connection_id="t1", at=1.0, client=CLIENT, server=SERVER, transport="tcp"))
    builder.apply(ConnectionUpdated(connection_id="t1", at=1.1, protocol="h2"))  # cleartext h2c stays tcp
    assert builder.capture.connections["t1"].transport == "tcp"


def test_connections_share_equal_facts_and_start_without_lists_of_their_own() -> None:
    """Tens of thousands of connections repeat their client's address, their server, SNI, ALPN and certificate:
    one object each. A conversation takes its connection's endpoints. Goaways and anomalies start as the shared
    empty list, and the first of either makes the connection a list of its own."""
    from pushscope.events import ConversationAccounted
    from pushscope.model.compact import EMPTY

    builder = CaptureBuilder(source="capture")
    for number in range(3):
        # Equal values, distinct objects, as a source makes them from each packet's fields.
        client = Endpoint("".join(["127.0.0.", "1"]), 50000 + number)
        server = Endpoint("".join(["127.0.0.", "1"]), 443)
        builder.apply(ConnectionOpened(connection_id=f"t{number}", at=1.0 + number, client=client, server=server,
                                       transport="tls", sni="".join(["shop.", "example"]), alpn="".join(["h", "2"])))
        builder.apply(ConnectionUpdated(connection_id=f"t{number}", at=1.5 + number,
                                        certificate_names=["".join(["shop.", "example"])]))
    builder.apply(ProtocolAnomaly(connection_id="t1", at=2.0, sender="server", message="odd"))
    builder.apply(GoAwayReceived(connection_id="t2", at=3.0, sender="server", last_stream_id=1, error_code=0,
                                 error_name="NO_ERROR"))
    builder.apply(ConversationAccounted(transport="tcp", client=Endpoint("127.0.0.1", 50000),
                                        server=Endpoint("127.0.0.1", 443), status="decoded", connection_id="t0"))
    conns = list(builder.capture.connections.values())
    first, second, third = conns
    assert second.server is first.server and third.server is first.server
    assert second.client.address is first.client.address and second.client.port == 50001
    assert second.sni is first.sni and second.alpn is first.alpn
    assert second.certificate_names is first.certificate_names == ("shop.example",)
    assert first.anomalies is EMPTY and first.goaways is EMPTY
    assert [a.message for a in second.anomalies] == ["odd"] and third.goaways == [("server", 1, "NO_ERROR", 3.0)]
    assert second.goaways is EMPTY and third.anomalies is EMPTY
    conversation = builder.capture.conversations[0]
    assert conversation.client is first.client and conversation.server is first.server


def test_a_finished_builder_lets_go_of_its_indexes_and_refuses_more_events() -> None:
    """Once the source is read, what placed its events on streams is let go (the analysis and the views read the
    model alone); an event after that would be misplaced, so it is refused, not folded."""
    builder = CaptureBuilder("test")
    builder.apply(ConnectionOpened(connection_id="c", at=1.0, client=CLIENT, server=SERVER, transport="tls",
                                   protocol="h2", tls_version="1.3", sni="example.test", alpn="h2"))
    headers = HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"),
                              end_stream=True, wire_length=20)
    builder.apply(headers)
    assert builder._streams["c"]  # (the stream placed the request)
    builder.finish()
    assert builder.finished and not builder._streams and not builder._authorities
    with pytest.raises(RuntimeError, match="HeadersReceived after the capture builder was finished"):
        builder.apply(headers)
    assert len(builder.capture.exchanges) == 1 and builder.capture.exchanges[0].url == "https://example.test/"


def test_a_load_finishes_its_builder_before_the_analysis(tmp_path) -> None:
    from pushscope.pipeline import Load, Loader

    seen: list[bool] = []

    def analyser(capture: Capture) -> Capture:
        seen.append(loader.builder.finished)
        return capture

    events = [ConnectionOpened(connection_id="c", at=1.0, client=CLIENT, server=SERVER, transport="tls",
                               protocol="h2", tls_version="1.3", sni="example.test", alpn="h2"),
              HeadersReceived(connection_id="c", at=1.1, sender="client", stream_id=1, headers=req("/"),
                              end_stream=True, wire_length=20)]
    loader = Loader(Load(kind="test", name="t", read=lambda cancel: iter(events)), analyser=analyser)
    capture = loader.run()
    assert seen == [True] and len(capture.exchanges) == 1 and not loader.builder._streams
