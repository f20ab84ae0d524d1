"""The sans-IO HTTP/2 decoder on real frame bytes: hyperframe/hpack-built frames and h2's own client/server pair."""

from __future__ import annotations

import base64
import random

import h2.config
import h2.connection
import h2.settings
import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from pushscope.decode.h2 import PREFACE, H2ConnectionDecoder
from pushscope.decode.h2_names import frame_type_name
from pushscope.events import (
    DataReceived,
    Event,
    FrameReceived,
    GoAwayReceived,
    HeadersReceived,
    ProtocolAnomaly,
    PushPromiseReceived,
    SettingsReceived,
    StreamReset,
)

REQUEST = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/")]
PUSHED = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/style.css")]


def of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def frames(*items) -> bytes:
    return b"".join(item.serialize() for item in items)


def flagged(frame, *flags: str):
    for flag in flags:
        frame.flags.add(flag)
    return frame


def decoder(**kwargs) -> H2ConnectionDecoder:
    return H2ConnectionDecoder("c0", **kwargs)


def mid(sender: str, data: bytes, at: float = 1.0) -> list[Event]:
    """Decode one direction's frames with no preface expected."""
    return decoder(expect_preface=False).receive(sender, data, at)  # type: ignore[arg-type]


# --- a real session made by h2's own client and server --------------------------------------------------------


def h2_session(*, client_settings: dict[int, int] | None = None, big_headers: int = 0) -> list[tuple[str, bytes]]:
    """(sender, bytes) in wire order: preface+settings both ways, a GET /, a push of /style.css, two responses."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    wire: list[tuple[str, bytes]] = []

    def pump(src, dst, name):
        data = src.data_to_send()
        if data:
            wire.append((name, data))
            dst.receive_data(data)

    client.initiate_connection()
    if client_settings:
        client.update_settings(client_settings)
    pump(client, server, "client")
    server.initiate_connection()
    pump(server, client, "server")
    pump(client, server, "client")  # SETTINGS ACK
    pump(server, client, "server")
    extra = [(f"x-filler-{i}", f"{i:04d}" + "v" * 200) for i in range(big_headers)]
    client.send_headers(1, REQUEST + extra, end_stream=True)
    pump(client, server, "client")
    server.push_stream(1, 2, PUSHED)  # h2 (4.x) cannot split a PUSH_PROMISE into CONTINUATION frames
    server.send_headers(1, [(":status", "200"), ("content-type", "text/html")] + extra)
    server.send_data(1, b"<link rel=stylesheet href=/style.css>", end_stream=True)
    server.send_headers(2, [(":status", "200"), ("content-type", "text/css")] + extra)
    server.send_data(2, b"body{color:red}", end_stream=True)
    pump(server, client, "server")
    client.increment_flow_control_window(65535)
    client.ping(b"pingpong")
    client.send_headers(3, REQUEST[:3] + [(":path", "/again")] + extra, end_stream=True)
    pump(client, server, "client")
    server.send_headers(3, [(":status", "204")] + extra, end_stream=True)
    pump(server, client, "server")
    return wire


def decode_session(wire: list[tuple[str, bytes]], chunk: int | None = None, seed: int | None = None) -> list[Event]:
    """Feed the session whole per record, in fixed-size chunks, or in random chunks."""
    dec = decoder()
    rng = random.Random(seed)
    events: list[Event] = []
    for sender, data in wire:
        pos = 0
        while pos < len(data):
            size = len(data) if chunk is None and seed is None else (chunk or rng.randint(1, 40))
            events += dec.receive(sender, data[pos : pos + size], 1.0)  # type: ignore[arg-type]
            pos += size
    assert dec.is_http2 is True
    return events


def test_h2_library_session_decodes_request_push_and_responses() -> None:
    events = decode_session(h2_session())
    assert not of(events, ProtocolAnomaly)
    requests = [e for e in of(events, HeadersReceived) if e.sender == "client"]
    assert [e.headers for e in requests][0] == REQUEST
    assert requests[0].end_stream is True
    (promise,) = of(events, PushPromiseReceived)
    assert (promise.stream_id, promise.promised_stream_id, promise.sender) == (1, 2, "server")
    assert promise.headers == PUSHED
    assert promise.wire_length > 0
    responses = {e.stream_id: e for e in of(events, HeadersReceived) if e.sender == "server"}
    assert responses[2].headers == [(":status", "200"), ("content-type", "text/css")]
    assert responses[3].end_stream is True
    bodies = {e.stream_id: e.data for e in of(events, DataReceived)}
    assert bodies == {1: b"<link rel=stylesheet href=/style.css>", 2: b"body{color:red}"}
    kinds = [frame_type_name(e.frame_type) for e in of(events, FrameReceived)]
    assert kinds.count("PUSH_PROMISE") == 1 and "WINDOW_UPDATE" in kinds and "PING" in kinds


def test_every_frame_gets_a_frame_event_before_its_typed_event() -> None:
    events = decode_session(h2_session())
    for i, event in enumerate(events):
        if isinstance(event, (HeadersReceived, DataReceived, PushPromiseReceived, SettingsReceived)):
            assert isinstance(events[i - 1], FrameReceived)


# --- preface ------------------------------------------------------------------------------------------------


def test_preface_split_across_records() -> None:
    dec = decoder()
    settings = SettingsFrame(0, {2: 0}).serialize()
    assert dec.receive("client", PREFACE[:3], 1.0) == []
    assert dec.is_http2 is None
    assert dec.receive("client", PREFACE[3:20], 1.1) == []
    events = dec.receive("client", PREFACE[20:] + settings[:5], 1.2)
    assert events == [] and dec.is_http2 is True
    events = dec.receive("client", settings[5:], 1.3)
    assert of(events, SettingsReceived)[0].settings == {"ENABLE_PUSH": 0}
    assert events[0].at == 1.3  # the time of the record that completed the frame


def test_preface_and_frames_in_one_record() -> None:
    events = decoder().receive("client", PREFACE + frames(SettingsFrame(0, {3: 7})), 1.0)
    assert of(events, SettingsReceived)[0].settings == {"MAX_CONCURRENT_STREAMS": 7}


# --- header blocks ------------------------------------------------------------------------------------------


def test_headers_with_continuation() -> None:
    block = hpack.Encoder().encode(REQUEST + [("user-agent", "test/1.0"), ("accept", "*/*")])
    parts = [block[:5], block[5:12], block[12:]]
    data = frames(
        flagged(HeadersFrame(1, parts[0]), "END_STREAM"),
        ContinuationFrame(1, parts[1]),
        flagged(ContinuationFrame(1, parts[2]), "END_HEADERS"),
    )
    events = mid("client", data)
    kinds = [frame_type_name(e.frame_type) for e in of(events, FrameReceived)]
    assert kinds == ["HEADERS", "CONTINUATION", "CONTINUATION"]
    (headers,) = of(events, HeadersReceived)
    assert headers.headers[:4] == REQUEST and ("accept", "*/*") in headers.headers
    assert headers.end_stream is True
    assert headers.wire_length == len(block)
    assert isinstance(events[-1], HeadersReceived)  # only once the block is complete


def test_push_promise_with_continuation() -> None:
    block = hpack.Encoder().encode(PUSHED + [("accept-encoding", "gzip, br")])
    data = frames(
        PushPromiseFrame(1, promised_stream_id=4, data=block[:6]),
        flagged(ContinuationFrame(1, block[6:]), "END_HEADERS"),
    )
    (promise,) = of(mid("server", data), PushPromiseReceived)
    assert promise.stream_id == 1 and promise.promised_stream_id == 4
    assert promise.headers == PUSHED + [("accept-encoding", "gzip, br")]
    assert promise.wire_length == len(block)


def test_headers_continuation_from_h2_library() -> None:
    # Header blocks above the peer's 16 KiB frame size are split by h2 into CONTINUATION frames.
    events = decode_session(h2_session(big_headers=100))
    kinds = [frame_type_name(e.frame_type) for e in of(events, FrameReceived)]
    assert kinds.count("CONTINUATION") >= 4
    blocks = of(events, HeadersReceived)
    assert all(len(b.headers) >= 100 for b in blocks)
    assert blocks[0].headers[:4] == REQUEST and blocks[0].headers[-1] == ("x-filler-99", "0099" + "v" * 200)
    assert of(events, PushPromiseReceived)[0].headers == PUSHED
    assert not of(events, ProtocolAnomaly)


def test_padded_data_counts_padding_in_flow_controlled_length() -> None:
    frame = flagged(DataFrame(1, b"hello", pad_length=10), "PADDED", "END_STREAM")
    events = mid("server", frame.serialize())
    (data,) = of(events, DataReceived)
    assert data.data == b"hello"
    assert data.length == 5 + 10 + 1  # payload, padding, and the pad-length byte
    assert data.end_stream is True
    assert of(events, FrameReceived)[0].length == 16
    assert "PADDED" in of(events, FrameReceived)[0].flags


def test_padded_headers_with_priority() -> None:
    block = hpack.Encoder().encode([(":status", "200")])
    frame = flagged(HeadersFrame(1, block, pad_length=7, depends_on=0, stream_weight=15), "PADDED", "PRIORITY",
                    "END_HEADERS")
    events = mid("server", frame.serialize())
    (headers,) = of(events, HeadersReceived)
    assert headers.headers == [(":status", "200")]
    assert headers.wire_length == len(block)
    assert of(events, FrameReceived)[0].length == 1 + 5 + len(block) + 7


def test_padded_push_promise() -> None:
    block = hpack.Encoder().encode(PUSHED)
    frame = flagged(PushPromiseFrame(1, promised_stream_id=2, data=block, pad_length=3), "PADDED", "END_HEADERS")
    (promise,) = of(mid("server", frame.serialize()), PushPromiseReceived)
    assert promise.headers == PUSHED and promise.promised_stream_id == 2


# --- control frames -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "name"), [(0x8, "CANCEL"), (0x7, "REFUSED_STREAM"), (0x0, "NO_ERROR"),
                                            (0xFF, "UNKNOWN_0xff")])
def test_rst_stream_codes_are_named(code: int, name: str) -> None:
    events = mid("client", RstStreamFrame(2, error_code=code).serialize())
    (reset,) = of(events, StreamReset)
    assert (reset.sender, reset.stream_id, reset.error_code, reset.error_name) == ("client", 2, code, name)
    assert frame_type_name(of(events, FrameReceived)[0].frame_type) == "RST_STREAM"


def test_settings_named_and_ack_ignored() -> None:
    data = frames(SettingsFrame(0, {2: 0, 3: 100, 0x99: 5}), flagged(SettingsFrame(0), "ACK"))
    events = mid("client", data)
    (settings,) = of(events, SettingsReceived)
    assert settings.settings == {"ENABLE_PUSH": 0, "MAX_CONCURRENT_STREAMS": 100, "UNKNOWN_0x99": 5}
    acks = [e for e in of(events, FrameReceived) if "ACK" in e.flags]
    assert len(acks) == 1 and frame_type_name(acks[0].frame_type) == "SETTINGS" and acks[0].stream_id is None


def test_goaway() -> None:
    events = mid("server", GoAwayFrame(0, last_stream_id=5, error_code=0xB, additional_data=b"calm").serialize())
    (goaway,) = of(events, GoAwayReceived)
    assert (goaway.last_stream_id, goaway.error_code, goaway.error_name) == (5, 0xB, "ENHANCE_YOUR_CALM")


def test_window_update_priority_and_ping_are_frame_events_only() -> None:
    data = frames(WindowUpdateFrame(0, 1000), WindowUpdateFrame(3, 50), PriorityFrame(5, depends_on=3,
                  stream_weight=200), PingFrame(0, b"12345678"))
    events = mid("client", data)
    assert all(isinstance(e, FrameReceived) for e in events)
    assert [(frame_type_name(e.frame_type), e.stream_id, e.length) for e in events] == [
        ("WINDOW_UPDATE", None, 4), ("WINDOW_UPDATE", 3, 4), ("PRIORITY", 5, 5), ("PING", None, 8)]


def test_unknown_frame_type_is_reported_and_skipped() -> None:
    unknown = (3).to_bytes(3, "big") + bytes([0xEE, 0]) + (1).to_bytes(4, "big") + b"abc"
    events = mid("client", unknown + RstStreamFrame(1, error_code=8).serialize())
    assert frame_type_name(events[0].frame_type) == "UNKNOWN_0xee"
    assert of(events, StreamReset)[0].error_name == "CANCEL"


# --- HPACK --------------------------------------------------------------------------------------------------


def test_hpack_dynamic_table_eviction_with_small_table() -> None:
    encoder = hpack.Encoder()
    encoder.header_table_size = 256  # the encoder emits a table size update in its next block
    blocks = [
        [(":status", "200"), ("x-a", "a" * 100), ("x-b", "b" * 100)],
        [(":status", "200"), ("x-c", "c" * 100), ("x-d", "d" * 100)],  # evicts x-a and x-b
        [(":status", "200"), ("x-a", "a" * 100), ("x-c", "c" * 100), ("x-d", "d" * 100)],
        [(":status", "200"), ("x-d", "d" * 100), ("x-d", "d" * 100)],
    ]
    data = b""
    for stream, block in enumerate(blocks, start=1):
        data += flagged(HeadersFrame(2 * stream, encoder.encode(block)), "END_HEADERS").serialize()
    events = mid("server", data)
    assert not of(events, ProtocolAnomaly)
    assert [e.headers for e in of(events, HeadersReceived)] == blocks


def test_hpack_eviction_many_large_headers_default_table() -> None:
    encoder = hpack.Encoder()
    blocks = [[(":status", "200")] + [(f"x-h{i % 40}", f"{i % 40}" * 300) for i in range(j, j + 25)]
              for j in range(0, 100, 25)]
    data = b"".join(flagged(HeadersFrame(2 * n + 2, encoder.encode(b)), "END_HEADERS").serialize()
                    for n, b in enumerate(blocks))
    events = mid("server", data)
    assert [e.headers for e in of(events, HeadersReceived)] == blocks


def test_client_header_table_size_setting_followed_by_server_encoder() -> None:
    wire = h2_session(client_settings={h2.settings.SettingCodes.HEADER_TABLE_SIZE: 64}, big_headers=3)
    events = decode_session(wire)
    assert not of(events, ProtocolAnomaly)
    client_settings = [e.settings for e in of(events, SettingsReceived) if e.sender == "client"]
    assert {"HEADER_TABLE_SIZE": 64} in client_settings
    responses = [e.headers for e in of(events, HeadersReceived) if e.sender == "server"]
    assert responses[-1][0] == (":status", "204") and responses[-1][1][0] == "x-filler-0"


# --- chunking -----------------------------------------------------------------------------------------------


def test_header_block_split_across_records_any_chunking_gives_identical_events() -> None:
    wire = h2_session(big_headers=2)
    whole = decode_session(wire)
    assert decode_session(wire, chunk=1) == whole
    for seed in range(5):
        assert decode_session(wire, seed=seed) == whole


def test_event_time_is_the_record_that_completed_the_frame() -> None:
    data = flagged(HeadersFrame(1, hpack.Encoder().encode(REQUEST)), "END_HEADERS").serialize()
    dec = decoder(expect_preface=False)
    assert dec.receive("client", data[:4], 1.0) == []
    assert dec.receive("client", data[4:12], 2.0) == []
    assert dec.client.unparsed_bytes == 12
    events = dec.receive("client", data[12:], 3.0)
    assert {e.at for e in events} == {3.0}
    assert dec.client.unparsed_bytes == 0


# --- malformed input ----------------------------------------------------------------------------------------


def _bad_padding(frame) -> bytes:
    raw = bytearray(frame.serialize())
    raw[9] = 250  # pad length beyond the frame
    return bytes(raw)


def test_bad_padding_is_an_anomaly_and_decoding_continues() -> None:
    bad_data = _bad_padding(flagged(DataFrame(1, b"abc", pad_length=2), "PADDED"))
    bad_headers = _bad_padding(flagged(HeadersFrame(3, b"\x88", pad_length=2), "PADDED", "END_HEADERS"))
    good = flagged(DataFrame(1, b"ok"), "END_STREAM").serialize()
    events = mid("server", bad_data + bad_headers + good)
    anomalies = of(events, ProtocolAnomaly)
    assert [a.stream_id for a in anomalies] == [1, 3]
    assert "malformed DATA" in anomalies[0].message and "malformed HEADERS" in anomalies[1].message
    assert all(a.sender == "server" for a in anomalies)
    assert of(events, DataReceived)[0].data == b"ok"


def test_rst_stream_of_wrong_length_is_an_anomaly() -> None:
    raw = RstStreamFrame(1, error_code=8).serialize()
    bad = (5).to_bytes(3, "big") + raw[3:] + b"\x00"
    events = mid("client", bad + RstStreamFrame(3, error_code=7).serialize())
    (anomaly,) = of(events, ProtocolAnomaly)
    assert "RST_STREAM" in anomaly.message and anomaly.stream_id == 1
    assert [r.stream_id for r in of(events, StreamReset)] == [3]


@pytest.mark.parametrize("body", [b"\x00\x02\x00", b"\x00\x00\x00\x00\x00"])  # SETTINGS not a multiple of 6
def test_settings_of_wrong_length_is_an_anomaly(body: bytes) -> None:
    bad = len(body).to_bytes(3, "big") + b"\x04\x00" + b"\x00" * 4 + body
    events = mid("client", bad + PingFrame(0, b"8bytes!!").serialize())
    assert len(of(events, ProtocolAnomaly)) == 1 and not of(events, SettingsReceived)
    assert frame_type_name(events[-1].frame_type) == "PING"


def test_data_on_stream_zero_is_an_anomaly() -> None:
    bad = (2).to_bytes(3, "big") + b"\x00\x00" + b"\x00" * 4 + b"hi"
    events = mid("server", bad)
    assert len(of(events, ProtocolAnomaly)) == 1 and not of(events, DataReceived)


def test_continuation_without_header_block() -> None:
    events = mid("client", flagged(ContinuationFrame(1, b"\x82"), "END_HEADERS").serialize())
    (anomaly,) = of(events, ProtocolAnomaly)
    assert "CONTINUATION" in anomaly.message


def test_header_block_interrupted_by_another_frame() -> None:
    block = hpack.Encoder().encode(REQUEST)
    data = frames(HeadersFrame(1, block), DataFrame(1, b"x"))
    events = mid("client", data)
    assert "interrupted" in of(events, ProtocolAnomaly)[0].message
    assert not of(events, HeadersReceived) and of(events, DataReceived)


def test_capture_starting_mid_connection_unknown_hpack_entries() -> None:
    encoder = hpack.Encoder()
    encoder.encode([(":status", "200"), ("x-seen-before", "earlier")])  # never captured: fills the dynamic table
    block = encoder.encode([(":status", "200"), ("x-seen-before", "earlier")])  # refers to dynamic entries
    data = frames(flagged(HeadersFrame(5, block), "END_HEADERS"), flagged(DataFrame(5, b"body"), "END_STREAM"),
                  flagged(HeadersFrame(7, block), "END_HEADERS"))
    dec = decoder(expect_preface=False)
    events = dec.receive("server", data, 1.0)
    anomalies = of(events, ProtocolAnomaly)
    # One anomaly: from the failing block on, HPACK is decoded field by field.
    assert len(anomalies) == 1 and "HPACK" in anomalies[0].message and "mid-connection" in anomalies[0].message
    headers = of(events, HeadersReceived)
    assert [h.stream_id for h in headers] == [5, 7]
    # :status 200 is in the static table: kept; the other field needs the unseen entry: unknown.
    assert [h.headers for h in headers] == [[(":status", "200")]] * 2
    assert [h.unknown_fields for h in headers] == [("?",)] * 2
    assert of(events, DataReceived)[0].data == b"body"


def test_mid_connection_request_keeps_its_static_and_literal_fields() -> None:
    encoder = hpack.Encoder()
    encoder.encode([(":authority", "www.example.test"), ("user-agent", "b/1")])  # before the capture
    block = encoder.encode([(":method", "GET"), (":scheme", "https"), (":authority", "www.example.test"),
                            (":path", "/late.js"), ("user-agent", "b/1")])
    dec = decoder()
    events = dec.receive("client", frames(flagged(HeadersFrame(9, block), "END_HEADERS", "END_STREAM")), 1.0)
    request = of(events, HeadersReceived)[0]
    assert dict(request.headers) == {":method": "GET", ":scheme": "https", ":path": "/late.js"}
    assert request.unknown_fields == (":authority", "?")  # the name of an indexed unknown entry is unknown too


def test_default_decoder_on_mid_connection_frames_reports_instead_of_dropping() -> None:
    dec = decoder()  # how TcpRowReader constructs it
    client = frames(flagged(HeadersFrame(9, hpack.Encoder().encode(REQUEST)), "END_HEADERS", "END_STREAM"))
    events = dec.receive("client", client, 1.0)
    assert dec.is_http2 is True
    assert of(events, ProtocolAnomaly) and of(events, HeadersReceived)


def test_lost_frame_sync() -> None:
    dec = decoder()
    dec.receive("client", PREFACE + frames(SettingsFrame(0, {2: 0})), 1.0)
    events = dec.receive("client", b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n", 2.0)
    (anomaly,) = of(events, ProtocolAnomaly)
    assert "lost HTTP/2 frame sync" in anomaly.message and anomaly.sender == "client"
    # The rest of the direction is skipped, even frames that would parse; the other direction carries on.
    assert dec.receive("client", RstStreamFrame(1, error_code=8).serialize(), 3.0) == []
    assert dec.client.unparsed_bytes == 0
    assert of(dec.receive("server", SettingsFrame(0, {3: 1}).serialize(), 3.0), SettingsReceived)


def test_server_answering_http1_to_prior_knowledge_loses_sync() -> None:
    dec = decoder()
    dec.receive("client", PREFACE + frames(SettingsFrame(0)), 1.0)
    events = dec.receive("server", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 1.1)
    assert "lost HTTP/2 frame sync" in of(events, ProtocolAnomaly)[0].message


# --- h2c ----------------------------------------------------------------------------------------------------


def _upgrade_request(settings_b64: bytes) -> bytes:
    return (b"GET /page?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: " + settings_b64 + b"\r\nAccept: text/html\r\n\r\n")


def test_h2c_upgrade() -> None:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.local_settings = h2.settings.Settings(client=True, initial_values={3: 10, 4: 1000})
    settings_b64 = client.initiate_upgrade_connection()
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_upgrade_connection(settings_b64)
    server.push_stream(1, 2, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1:8080"),
                              (":path", "/style.css")])
    server.send_headers(1, [(":status", "200"), ("content-type", "text/html")])
    server.send_data(1, b"<p>hi", end_stream=True)
    server_bytes = server.data_to_send()
    client_bytes = client.data_to_send()  # the preface and SETTINGS the client sends after the 101
    assert client_bytes.startswith(PREFACE)

    dec = decoder()
    events = dec.receive("client", _upgrade_request(settings_b64), 1.0)
    assert dec.is_http2 is None
    settings, request = events
    assert isinstance(settings, SettingsReceived) and settings.sender == "client"
    assert settings.settings["MAX_CONCURRENT_STREAMS"] == 10 and settings.settings["INITIAL_WINDOW_SIZE"] == 1000
    assert isinstance(request, HeadersReceived) and request.stream_id == 1 and request.end_stream
    assert request.headers == [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1:8080"),
                               (":path", "/page?x=1"), ("accept", "text/html")]
    assert dec.upgrade_request is request

    switching = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    events = dec.receive("server", switching + server_bytes, 1.1)
    assert dec.is_http2 is True
    assert of(events, PushPromiseReceived)[0].promised_stream_id == 2
    assert of(events, HeadersReceived)[0].headers[0] == (":status", "200")
    assert of(events, DataReceived)[0].data == b"<p>hi"
    events = dec.receive("client", client_bytes[:10], 1.2) + dec.receive("client", client_bytes[10:], 1.3)
    assert of(events, SettingsReceived) and not of(events, ProtocolAnomaly)


def test_h2c_upgrade_settings_padding_tolerated() -> None:
    payload = (2).to_bytes(2, "big") + (0).to_bytes(4, "big")
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=")
    events = decoder().receive("client", _upgrade_request(encoded), 1.0)
    assert of(events, SettingsReceived)[0].settings == {"ENABLE_PUSH": 0}


def test_h2c_upgrade_without_client_preface_is_an_anomaly() -> None:
    dec = decoder()
    dec.receive("client", _upgrade_request(b""), 1.0)
    dec.receive("server", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 1.1)
    events = dec.receive("client", SettingsFrame(0, {2: 0}).serialize(), 1.2)
    assert "preface" in of(events, ProtocolAnomaly)[0].message
    assert of(events, SettingsReceived)


def test_h2c_upgrade_declined_is_not_http2() -> None:
    dec = decoder()
    dec.receive("client", _upgrade_request(b""), 1.0)
    assert dec.receive("server", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1.1) == []
    assert dec.is_http2 is False
    assert dec.receive("client", b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", 1.2) == []


@pytest.mark.parametrize("chunk", [None, 1])
def test_http1_connection_is_not_http2(chunk: int | None) -> None:
    request = b"GET / HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
    dec = decoder()
    events: list[Event] = []
    for sender, data in (("client", request), ("server", response)):
        step = chunk or len(data)
        for pos in range(0, len(data), step):
            events += dec.receive(sender, data[pos : pos + step], 1.0)  # type: ignore[arg-type]
    assert events == []
    assert dec.is_http2 is False


def test_non_http_bytes_are_not_http2() -> None:
    dec = decoder()
    assert dec.receive("client", b"\x16\x03\x01\x02\x00garbage", 1.0) == []
    assert dec.is_http2 is False


def test_events_carry_their_position_in_the_senders_byte_stream() -> None:
    """Frames fed in one piece (one segment, one timestamp) are still ordered by where they sit on the wire."""
    events = decode_session(h2_session())
    server = [e for e in events if e.sender == "server" and not isinstance(e, FrameReceived)]
    positions = [e.position for e in server]
    assert all(p is not None for p in positions) and positions == sorted(positions)
    (promise,) = of(events, PushPromiseReceived)
    response = next(e for e in of(events, HeadersReceived) if e.sender == "server" and e.stream_id == 1)
    assert promise.position is not None and response.position is not None and promise.position < response.position
    chunked = decode_session(h2_session(), chunk=7)
    assert [e.position for e in chunked] == [e.position for e in events]
