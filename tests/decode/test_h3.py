"""H3ConnectionDecoder on real HTTP/3 bytes: aioquic's own H3Connection and QPACK encoder write them in memory.

A client and a server H3Connection talk through a fake QUIC layer that records every stream chunk; the decoder
then reads those chunks as a passive observer would: whole, reordered, or one byte at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import FrameType, H3Connection, encode_frame
from aioquic.quic.events import StreamDataReceived


class FakeQuic:
    """Just enough of QuicConnection for H3Connection: it hands out stream IDs and records what is sent."""

    def __init__(self, is_client: bool) -> None:
        self.configuration = SimpleNamespace(is_client=is_client)
        self._quic_logger = None
        self._next_uni = 2 if is_client else 3
        self._next_bidi = 0 if is_client else 1
        self.sent: list[tuple[int, bytes, bool]] = []

    def get_next_available_stream_id(self, is_unidirectional: bool = False) -> int:
        return self._next_uni if is_unidirectional else self._next_bidi

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        if stream_id == self._next_uni:
            self._next_uni += 4
        elif stream_id == self._next_bidi:
            self._next_bidi += 4
        self.sent.append((stream_id, data, end_stream))

    def reset_stream(self, stream_id: int, error_code: int) -> None:  # pragma: no cover - not used
        pass

    def close(self, error_code: int = 0, reason_phrase: str = "") -> None:  # pragma: no cover
        raise AssertionError(f"aioquic closed the connection: {error_code:#x} {reason_phrase}")


@dataclass
class Chunk:
    sender: str
    stream_id: int
    data: bytes
    fin: bool


@dataclass
class H3Pair:
    """A client and a server H3Connection wired together; ``wire`` keeps every chunk in sending order."""

    client_quic: FakeQuic = field(default_factory=lambda: FakeQuic(True))
    server_quic: FakeQuic = field(default_factory=lambda: FakeQuic(False))
    wire: list[Chunk] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = H3Connection(self.client_quic)  # type: ignore[arg-type]
        self.server = H3Connection(self.server_quic)  # type: ignore[arg-type]

    def exchange(self) -> list[Chunk]:
        """Deliver everything sent so far to the other side (until quiet); returns the new chunks."""
        new: list[Chunk] = []
        while self.client_quic.sent or self.server_quic.sent:
            for sender, quic, peer in (("client", self.client_quic, self.server),
                                       ("server", self.server_quic, self.client)):
                sent, quic.sent = quic.sent, []
                for stream_id, data, fin in sent:
                    new.append(Chunk(sender, stream_id, data, fin))
                    peer.handle_event(StreamDataReceived(data=data, end_stream=fin, stream_id=stream_id))
        self.wire += new
        return new

    def request(self, path: str) -> int:
        stream_id = self.client_quic.get_next_available_stream_id()
        self.client.send_headers(stream_id, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"127.0.0.1:4433"),
            (b":path", path.encode()), (b"user-agent", b"pushscope-test"),
        ], end_stream=True)
        return stream_id

    def push(self, parent: int, path: str, body: bytes) -> int:
        push_stream = self.server.send_push_promise(parent, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"127.0.0.1:4433"),
            (b":path", path.encode()),
        ])
        self.respond(push_stream, body, b"text/css" if path.endswith(".css") else b"text/javascript")
        return push_stream

    def respond(self, stream_id: int, body: bytes, content_type: bytes = b"text/html") -> None:
        self.server.send_headers(stream_id, [
            (b":status", b"200"), (b"content-type", content_type), (b"cache-control", b"max-age=3600"),
            (b"content-length", str(len(body)).encode()),
        ])
        self.server.send_data(stream_id, body, end_stream=True)

    def control_frame(self, sender: str, frame_type: int, value: int) -> None:
        h3, quic = (self.client, self.client_quic) if sender == "client" else (self.server, self.server_quic)
        quic.send_stream_data(h3._local_control_stream_id, encode_frame(frame_type, encode_uint_var(value)))


def cancel_push(pair: H3Pair, push_id: int) -> None:
    pair.control_frame("client", FrameType.CANCEL_PUSH, push_id)


def goaway(pair: H3Pair, stream_id: int) -> None:
    pair.control_frame("server", FrameType.GOAWAY, stream_id)


# -- the decoder under test ------------------------------------------------------------------------------

from pushscope.decode.h3 import H3ConnectionDecoder  # noqa: E402
from pushscope.decode.h3_frames import encode_varint, frame_type_name  # noqa: E402
from pushscope.events import (  # noqa: E402
    DataReceived,
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

CSS = b"body { color: #222; }\n" * 20
JS = b"function f(x) { return x * 2; }\n" * 30
HTML = b"<!doctype html><link rel=stylesheet href=/style.css><script src=/app.js></script>\n" * 5


def page_load() -> H3Pair:
    """GET /index.html with two pushes, then GET /logo.png (the second request reuses the QPACK table)."""
    pair = H3Pair()
    pair.exchange()
    page = pair.request("/index.html")
    pair.exchange()
    pair.push(page, "/style.css", CSS)
    pair.push(page, "/app.js", JS)
    pair.respond(page, HTML)
    pair.exchange()
    logo = pair.request("/logo.png")
    pair.exchange()
    pair.respond(logo, b"\x89PNG fake", b"image/png")
    cancel_push(pair, 1)
    goaway(pair, 8)
    pair.exchange()
    return pair


def decode(chunks: list[Chunk], *, alpn: str | None = "h3", byte_at_a_time: bool = False) -> list:
    decoder = H3ConnectionDecoder("q0", alpn=alpn)
    events: list = []
    for index, chunk in enumerate(chunks):
        pieces = [chunk.data[i : i + 1] for i in range(len(chunk.data))] if byte_at_a_time else [chunk.data]
        for position, piece in enumerate(pieces or [b""]):
            last = position == max(len(pieces), 1) - 1
            events += decoder.receive_stream_data(chunk.sender, chunk.stream_id, piece, chunk.fin and last,
                                                  float(index))
    return events + decoder.finish(float(len(chunks)))


def of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def summary(events: list) -> list:
    """What matters, independent of how the bytes were cut: headers, promises, bodies, control frames."""
    out: list = []
    bodies: dict = {}
    for e in events:
        if isinstance(e, HeadersReceived):
            out.append(("headers", e.sender, e.stream_id, e.push_id, tuple(e.headers), e.end_stream))
        elif isinstance(e, PushPromiseReceived):
            out.append(("promise", e.stream_id, e.push_id, tuple(e.headers)))
        elif isinstance(e, DataReceived):
            bodies[(e.sender, e.stream_id)] = bodies.get((e.sender, e.stream_id), b"") + e.data
        elif isinstance(e, FrameReceived):
            out.append(("frame", e.sender, e.stream_id, e.frame_type, e.length, e.push_id))
        elif not isinstance(e, ProtocolAnomaly):
            out.append(e.__class__.__name__)
    return sorted(map(repr, out)) + sorted(map(repr, bodies.items()))


def test_requests_responses_and_bodies() -> None:
    events = decode(page_load().wire)
    requests = [e for e in of(events, HeadersReceived) if e.sender == "client"]
    assert [dict(e.headers)[":path"] for e in requests] == ["/index.html", "/logo.png"]
    assert all(dict(e.headers)[":method"] == "GET" and e.end_stream for e in requests)
    responses = {e.stream_id: e for e in of(events, HeadersReceived) if e.sender == "server" and e.push_id is None}
    assert dict(responses[0].headers)[":status"] == "200"
    assert dict(responses[4].headers)["content-type"] == "image/png"
    body = b"".join(e.data for e in of(events, DataReceived) if e.stream_id == 0)
    assert body == HTML
    assert [e for e in of(events, DataReceived) if e.stream_id == 0][-1].end_stream
    assert not of(events, ProtocolAnomaly)


def test_push_promises_and_push_streams_carry_the_push_id() -> None:
    events = decode(page_load().wire)
    promises = of(events, PushPromiseReceived)
    assert [(p.stream_id, p.push_id, dict(p.headers)[":path"]) for p in promises] == [
        (0, 0, "/style.css"), (0, 1, "/app.js")]
    assert all(p.promised_stream_id is None and p.wire_length > 0 for p in promises)
    opened = {e.push_id: e.stream_id for e in of(events, PushStreamOpened)}
    assert set(opened) == {0, 1}
    pushed = [e for e in of(events, HeadersReceived) if e.push_id is not None]
    assert {(e.stream_id, e.push_id) for e in pushed} == {(opened[0], 0), (opened[1], 1)}
    css = b"".join(e.data for e in of(events, DataReceived) if e.push_id == 0)
    assert css == CSS
    frames = [(f.frame_type, f.push_id) for f in of(events, FrameReceived) if f.stream_id == 0 and f.sender == "server"]
    assert (FrameType.PUSH_PROMISE, 0) in frames and (FrameType.PUSH_PROMISE, 1) in frames


def test_control_frames_settings_max_push_id_cancel_push_goaway() -> None:
    events = decode(page_load().wire)
    settings = {e.sender: e.settings for e in of(events, SettingsReceived)}
    assert settings["client"]["QPACK_MAX_TABLE_CAPACITY"] == 4096
    assert settings["server"]["QPACK_BLOCKED_STREAMS"] == 16
    assert [(e.sender, e.push_id) for e in of(events, MaxPushIdReceived)] == [("client", 8)]
    assert [(e.sender, e.push_id) for e in of(events, PushCancelled)] == [("client", 1)]
    assert [(e.sender, e.last_stream_id) for e in of(events, GoAwayReceived)] == [("server", 8)]
    names = {frame_type_name(f.frame_type) for f in of(events, FrameReceived)}
    assert {"SETTINGS", "MAX_PUSH_ID", "CANCEL_PUSH", "GOAWAY", "HEADERS", "DATA", "PUSH_PROMISE"} <= names


def test_qpack_dynamic_table_blocked_header_blocks_resume_with_the_encoder_stream() -> None:
    pair = page_load()
    encoder_streams = {7, 6}  # the fake QUIC layer numbers aioquic's QPACK encoder streams so
    assert [c.data[:1] for c in pair.wire if c.stream_id in encoder_streams][:2] == [b"\x02", b"\x02"]
    first = [c for c in pair.wire if c.stream_id not in encoder_streams]
    last = [c for c in pair.wire if c.stream_id in encoder_streams]
    events = decode(first + last)
    boundary = float(len(first))
    resumed = [e for e in of(events, HeadersReceived) + of(events, PushPromiseReceived) if e.at >= boundary]
    assert resumed, "aioquic's encoder used the dynamic table, so some header blocks had to wait"
    assert summary(events) == summary(decode(pair.wire))
    assert not of(events, ProtocolAnomaly)


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    pair = page_load()
    assert summary(decode(pair.wire, byte_at_a_time=True)) == summary(decode(pair.wire))


def test_headers_with_fin_end_the_stream() -> None:
    pair = H3Pair()
    pair.exchange()
    stream = pair.request("/")
    pair.exchange()
    pair.server.send_headers(stream, [(b":status", b"204")], end_stream=True)
    pair.exchange()
    response = [e for e in of(decode(pair.wire), HeadersReceived) if e.sender == "server"]
    assert response[0].end_stream


def test_reset_and_stop_sending_name_the_push() -> None:
    pair = page_load()
    decoder = H3ConnectionDecoder("q0", alpn="h3")
    for chunk in pair.wire:
        decoder.receive_stream_data(chunk.sender, chunk.stream_id, chunk.data, chunk.fin, 1.0)
    push_stream = next(c.stream_id for c in pair.wire if c.sender == "server" and c.stream_id % 4 == 3
                       and c.data[:1] == b"\x01")
    [stop] = decoder.receive_stop_sending("client", push_stream, 0x10C, 2.0)
    [reset] = decoder.receive_reset_stream("server", push_stream, 0x10C, 2.5)
    assert isinstance(stop, StopSendingReceived) and isinstance(reset, StreamReset)
    assert (stop.push_id, stop.error_name) == (0, "H3_REQUEST_CANCELLED")
    assert (reset.push_id, reset.sender) == (0, "server")
    [plain] = decoder.receive_reset_stream("client", 4, 0x10C, 3.0)
    assert plain.push_id is None


def _frame(frame_type: int, payload: bytes) -> bytes:
    return encode_varint(frame_type) + encode_varint(len(payload)) + payload


def test_malformed_input_becomes_anomalies_not_exceptions() -> None:
    decoder = H3ConnectionDecoder("q0", alpn="h3")
    events = []
    events += decoder.receive_stream_data("client", 2, b"\x00" + _frame(0x4, b"\x01"), False, 1.0)  # odd SETTINGS
    events += decoder.receive_stream_data("client", 0, _frame(0x1, b"\x00\x00\xff\xff\xff\xff"), True, 1.0)
    events += decoder.receive_stream_data("server", 0, _frame(0x5, b""), False, 1.0)  # PUSH_PROMISE, no ID
    events += decoder.receive_stream_data("server", 0, _frame(0x1, b"\x05\x00\x51"), False, 1.0)  # needs table
    events += decoder.receive_stream_data("server", 4, encode_varint(0x1) + encode_varint(1 << 40), False, 1.0)
    events += decoder.receive_stream_data("client", 8, _frame(0x7, b"\x00"), True, 1.0)  # GOAWAY on a request
    events += decoder.receive_stream_data("server", 3, b"\x00" + _frame(0x1, b"\x00\x00"), True, 1.0)
    events += decoder.finish(2.0)
    messages = [e.message for e in of(events, ProtocolAnomaly)]
    assert any("malformed SETTINGS" in m for m in messages)
    assert any("QPACK" in m for m in messages)
    assert any("without a push ID" in m for m in messages)
    assert any("implausibly long" in m for m in messages)
    assert any("GOAWAY frame on a request stream" in m for m in messages)
    assert any("HEADERS frame on the control stream" in m for m in messages)
    assert any("never decoded" in m for m in messages)


def test_random_garbage_never_raises() -> None:
    import random

    rng = random.Random(3)
    for _ in range(200):
        decoder = H3ConnectionDecoder("q0", alpn=rng.choice(["h3", "h3-29", None]))
        for _ in range(8):
            stream_id = rng.choice([0, 1, 2, 3, 4, 6, 7, 10, 11, 15])
            data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
            decoder.receive_stream_data(rng.choice(["client", "server"]), stream_id, data, rng.random() < 0.2, 1.0)
        decoder.receive_reset_stream("server", rng.choice([0, 3, 15]), rng.randrange(0x300), 1.5)
        decoder.finish(2.0)


def test_grease_and_unknown_frames_and_stream_types_are_skipped() -> None:
    decoder = H3ConnectionDecoder("q0", alpn="h3")
    grease_frame = _frame(0x21 + 0x1F * 3, b"ignored bytes")
    events = decoder.receive_stream_data("client", 2, b"\x00" + _frame(0x4, b"") + grease_frame
                                         + _frame(0xF0700, b"\x00u=1"), False, 1.0)
    events += decoder.receive_stream_data("client", 6, encode_varint(0x21 + 0x1F) + b"anything at all", True, 1.0)
    events += decoder.receive_stream_data("client", 0, grease_frame + _frame(0x1, b"\x00\x00\xd1\xc1"), True, 1.0)
    assert [frame_type_name(f.frame_type) for f in of(events, FrameReceived)] == [
        "SETTINGS", "RESERVED_0x7e", "PRIORITY_UPDATE", "RESERVED_0x7e", "HEADERS"]
    [request] = of(events, HeadersReceived)
    assert request.headers == [(":method", "GET"), (":path", "/")] and request.end_stream
    assert not of(events, ProtocolAnomaly)


def test_draft_duplicate_push_repeats_the_original_promise() -> None:
    decoder = H3ConnectionDecoder("q0", alpn="h3-22")
    promise = _frame(0x5, b"\x03" + b"\x00\x00\xd1\xc1")  # push ID 3, GET / from the static table
    events = decoder.receive_stream_data("server", 4, _frame(0xE, b"\x03"), False, 1.0)  # before the original
    events += decoder.receive_stream_data("server", 0, promise, False, 2.0)
    events += decoder.receive_stream_data("server", 8, _frame(0xE, b"\x03"), False, 3.0)
    promises = [(p.stream_id, p.push_id, dict(p.headers)[":path"]) for p in of(events, PushPromiseReceived)]
    assert sorted(promises) == [(0, 3, "/"), (4, 3, "/"), (8, 3, "/")]
    names = [frame_type_name(f.frame_type) for f in of(events, FrameReceived)]
    assert names == ["DUPLICATE_PUSH", "PUSH_PROMISE", "DUPLICATE_PUSH"]
    final = H3ConnectionDecoder("q0", alpn="h3")  # RFC 9114 has no frame 0xe: skipped
    assert not of(final.receive_stream_data("server", 4, _frame(0xE, b"\x03"), False, 1.0), PushPromiseReceived)


def test_draft_error_names() -> None:
    decoder = H3ConnectionDecoder("q0", alpn="h3-22")
    [reset] = decoder.receive_reset_stream("server", 0, 0x5, 1.0)
    assert reset.error_name == "HTTP_REQUEST_CANCELLED"
