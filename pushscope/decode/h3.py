"""Sans-IO HTTP/3 decoder for a passive observer.

One :class:`H3ConnectionDecoder` per QUIC connection takes each stream's bytes in order (the QUIC layer below
has already put retransmitted and reordered STREAM frames back together) with the capture time, and returns
typed events. Like the HTTP/2 decoder it has no endpoint state machine: what a conforming peer would refuse
becomes a ``ProtocolAnomaly`` and decoding carries on.

Push is the point of the tool, so it is followed closely: PUSH_PROMISE (with its push ID and decoded request
headers), the push stream that announces the same push ID, CANCEL_PUSH, MAX_PUSH_ID, and resets or
STOP_SENDING on push streams all carry ``push_id``. The drafts' DUPLICATE_PUSH (h3-26 and earlier) repeats an
earlier promise on another request stream, so it is reported as a second PushPromiseReceived for that push ID
carrying the original promise's headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pushscope.decode.h3_frames import (
    RESERVED_HTTP2_FRAME_TYPES,
    SETTING_QPACK_MAX_TABLE_CAPACITY,
    FrameType,
    StreamType,
    error_name,
    frame_type_name,
    parse_settings,
    parse_varints,
    read_varint,
    setting_name,
)
from pushscope.decode.hpack_bounded import MAX_HEADER_LIST_SIZE
from pushscope.decode.qpack import QpackDirection, QpackError
from pushscope.events import (
    DataReceived,
    Event,
    FrameReceived,
    GoAwayReceived,
    Headers,
    HeadersReceived,
    MaxPushIdReceived,
    ProtocolAnomaly,
    PushCancelled,
    PushPromiseReceived,
    PushStreamOpened,
    SettingsReceived,
    Side,
    StopSendingReceived,
    StreamReset,
)

# Frames we buffer whole (HEADERS, PUSH_PROMISE, control frames). Longer ones are skipped with an anomaly:
# a length like that means lost framing, not a real header block.
MAX_BUFFERED_FRAME = 1 << 20
H3_NO_ERROR = 0x100


def _other(side: Side) -> Side:
    return "server" if side == "client" else "client"


def stream_initiator(stream_id: int) -> Side:
    return "server" if stream_id & 1 else "client"


def is_unidirectional(stream_id: int) -> bool:
    return bool(stream_id & 2)


class StreamKind(Enum):
    """What one stream direction carries, once known (a unidirectional stream says so in its first bytes)."""

    REQUEST = "request"
    UNI = "uni"  # unidirectional, its stream type not read yet
    CONTROL = "control"
    PUSH = "push"
    ENCODER = "encoder"  # QPACK encoder stream
    DECODER = "decoder"  # QPACK decoder stream
    IGNORED = "ignored"  # a type HTTP/3 does not define, or a server-initiated bidirectional stream


@dataclass(slots=True)
class _HeaderWait:
    """A HEADERS or PUSH_PROMISE frame read off the stream whose header block QPACK has not decoded yet."""

    frame_type: int
    wire_length: int
    push_id: int | None  # the promised push ID, for PUSH_PROMISE
    block: bytes = b""  # kept so that a block still waiting when the capture ends can be read field by field
    at: float = 0.0


@dataclass(slots=True)
class _Stream:
    """One direction of one stream: what kind it is, and where its frame parser stands."""

    sender: Side
    stream_id: int
    kind: StreamKind
    buffer: bytearray = field(default_factory=bytearray)
    fin: bool = False
    ended: bool = False
    push_id: int | None = None
    body_left: int = 0
    skip_left: int = 0
    waiting: _HeaderWait | None = None
    frames: int = 0
    last_at: float = 0.0  # when its last bytes came


class H3ConnectionDecoder:
    """Decodes every stream of one HTTP/3 connection, in both directions."""

    def __init__(self, connection_id: str, *, alpn: str | None = None) -> None:
        self.connection_id = connection_id
        # "h3" means RFC 9114; "h3-NN" (or unknown) lets the drafts' frame types through.
        self.alpn = alpn
        self._streams: dict[tuple[Side, int], _Stream] = {}
        self._qpack: dict[Side, QpackDirection] = {"client": QpackDirection(), "server": QpackDirection()}
        self._control: dict[Side, int] = {}
        self._promises: dict[int, Headers] = {}
        self._duplicates: dict[int, list[tuple[int, float]]] = {}

    def assume_started_before_capture(self, max_table_capacity: int) -> None:
        """The capture missed the connection's start (and so both SETTINGS): size both QPACK tables with a
        guess instead of waiting for SETTINGS that will never come."""
        for direction in self._qpack.values():
            direction.configure(max_table_capacity)

    def control_stream_id(self, sender: Side) -> int | None:
        """The stream ``sender`` opened as its control stream, once that stream's type byte has been read."""
        return self._control.get(sender)

    # -- input -------------------------------------------------------------------------------------------

    def receive_stream_data(self, sender: Side, stream_id: int, data: bytes, fin: bool, at: float) -> list[Event]:
        """The next in-order bytes of ``stream_id`` as sent by ``sender``; ``fin`` when they end the stream."""
        stream = self._stream(sender, stream_id)
        stream.fin = stream.fin or fin
        if stream.ended or stream.kind == StreamKind.IGNORED:
            return []
        stream.buffer += data
        stream.last_at = at
        return self._pump(stream, at)

    def receive_reset_stream(self, sender: Side, stream_id: int, error_code: int, at: float) -> list[Event]:
        """``sender`` sent RESET_STREAM: it abandoned its half of the stream."""
        stream = self._streams.get((sender, stream_id))
        push_id = stream.push_id if stream is not None else None
        if stream is not None:
            stream.ended = True
            stream.buffer.clear()
            if stream.waiting is not None:
                stream.waiting = None
                self._qpack[sender].cancel(stream_id)
        name = error_name(error_code, self.alpn)
        return [StreamReset(connection_id=self.connection_id, at=at, sender=sender, stream_id=stream_id,
                            error_code=error_code, error_name=name, push_id=push_id)]

    def receive_stop_sending(self, sender: Side, stream_id: int, error_code: int, at: float) -> list[Event]:
        """``sender`` sent STOP_SENDING: it asks the peer to stop sending on the stream."""
        stream = self._streams.get((_other(sender), stream_id))
        push_id = stream.push_id if stream is not None else None
        return [
            StopSendingReceived(connection_id=self.connection_id, at=at, sender=sender, stream_id=stream_id,
                                error_code=error_code, error_name=error_name(error_code, self.alpn), push_id=push_id)
        ]

    def start_mid_connection(self) -> None:
        """The connection began before the capture: QPACK encoder streams are not readable from their start, so
        header blocks that use the dynamic table are read field by field (those fields unknown) instead of
        waiting for entries that will never come."""
        for direction in self._qpack.values():
            direction.mid_connection = True

    def finish(self, at: float) -> list[Event]:
        """The capture ended: report what was left half-done (blocked header blocks, frames cut short)."""
        out: list[Event] = []
        for stream in self._streams.values():
            if stream.waiting is not None:
                out += self._read_blocked_block(stream, at)
            elif stream.buffer and stream.kind not in (StreamKind.IGNORED, StreamKind.DECODER):
                out.append(self._anomaly(at, stream, f"{len(stream.buffer)} bytes of an incomplete frame left"))
        for push_id in self._duplicates:
            out.append(ProtocolAnomaly(connection_id=self.connection_id, at=at, sender="server",
                                       message=f"DUPLICATE_PUSH for push ID {push_id} that was never promised"))
        return out

    def _read_blocked_block(self, stream: _Stream, at: float) -> list[Event]:
        """A header block still waiting at the end (its dynamic-table entries never came, e.g. an encoder stream
        that began before the capture): read it field by field, those fields unknown, and let the frames that
        waited behind it through (timed by the stream's last bytes: when they arrived is not known better)."""
        wait = stream.waiting
        assert wait is not None
        direction = self._qpack[stream.sender]
        why = ("its encoder stream never delivered the entries it needs" if direction.configured
               else "the peer's SETTINGS (QPACK table size) were never seen")
        direction.cancel(stream.stream_id)
        request = wait.frame_type == FrameType.PUSH_PROMISE or stream.sender == "client"
        headers, unknown = direction.decode_partial(wait.block, request=request)
        out: list[Event] = [self._anomaly(at, stream, f"header block never decoded in full: {why}; read field by "
                                          f"field, {len(unknown)} of its fields unknown")]
        self._header_block_done(stream, headers, wait.at, out, unknown)
        return out + self._pump(stream, max(stream.last_at, wait.at))

    # -- streams -----------------------------------------------------------------------------------------

    def _stream(self, sender: Side, stream_id: int) -> _Stream:
        key = (sender, stream_id)
        stream = self._streams.get(key)
        if stream is None:
            if is_unidirectional(stream_id):
                kind = StreamKind.UNI
            elif stream_id & 1:
                kind = StreamKind.IGNORED  # server-initiated bidirectional: not used by HTTP/3
            else:
                kind = StreamKind.REQUEST
            stream = self._streams[key] = _Stream(sender, stream_id, kind)
        return stream

    def _pump(self, stream: _Stream, at: float) -> list[Event]:
        out: list[Event] = []
        if stream.kind == StreamKind.UNI and not self._read_stream_type(stream, at, out):
            return out
        if stream.kind == StreamKind.ENCODER:
            data, stream.buffer = bytes(stream.buffer), bytearray()
            out += self._feed_encoder(stream.sender, data, at)
        elif stream.kind in (StreamKind.DECODER, StreamKind.IGNORED):
            stream.buffer.clear()
        elif stream.kind in (StreamKind.REQUEST, StreamKind.PUSH, StreamKind.CONTROL):
            self._parse_frames(stream, at, out)
        if stream.fin and not stream.ended and stream.waiting is None and not stream.buffer:
            self._end(stream, at, out)
        return out

    def _read_stream_type(self, stream: _Stream, at: float, out: list[Event]) -> bool:
        """Unidirectional streams start with a type (and a push stream with its push ID); True once known."""
        parsed = read_varint(stream.buffer, 0)
        if parsed is None:
            return False
        stream_type, position = parsed
        if stream_type == StreamType.PUSH:
            push = read_varint(stream.buffer, position)
            if push is None:
                return False
            stream.push_id, position = push
        del stream.buffer[:position]
        if stream.sender != stream_initiator(stream.stream_id):
            out.append(self._anomaly(at, stream, f"unidirectional stream {stream.stream_id} "
                                                  f"seen from the {stream.sender}, not its initiator"))
        if stream_type == StreamType.CONTROL:
            stream.kind = StreamKind.CONTROL
            if stream.sender in self._control:
                out.append(self._anomaly(at, stream, "a second control stream"))
            self._control[stream.sender] = stream.stream_id
        elif stream_type == StreamType.PUSH:
            assert stream.push_id is not None
            stream.kind = StreamKind.PUSH
            if stream.sender != "server":
                out.append(self._anomaly(at, stream, "a client opened a push stream"))
            out.append(PushStreamOpened(connection_id=self.connection_id, at=at, sender=stream.sender,
                                        stream_id=stream.stream_id, push_id=stream.push_id))
        elif stream_type == StreamType.QPACK_ENCODER:
            stream.kind = StreamKind.ENCODER
        elif stream_type == StreamType.QPACK_DECODER:
            stream.kind = StreamKind.DECODER
        else:
            # Reserved (grease) and extension stream types (WebTransport...) are skipped, as RFC 9114 §6.2 says.
            stream.kind = StreamKind.IGNORED
            stream.buffer.clear()
        return True

    def _end(self, stream: _Stream, at: float, out: list[Event]) -> None:
        stream.ended = True
        if stream.kind == StreamKind.CONTROL:
            out.append(self._anomaly(at, stream, "control stream closed (H3_CLOSED_CRITICAL_STREAM)"))
        elif stream.kind in (StreamKind.REQUEST, StreamKind.PUSH):
            out.append(DataReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                    stream_id=stream.stream_id, data=b"", length=0, end_stream=True,
                                    push_id=stream.push_id))

    # -- frames ------------------------------------------------------------------------------------------

    def _parse_frames(self, stream: _Stream, at: float, out: list[Event]) -> None:
        buffer = stream.buffer
        while stream.waiting is None and not stream.ended:
            if stream.body_left:
                if not buffer:
                    return
                chunk = bytes(buffer[: stream.body_left])
                del buffer[: len(chunk)]
                stream.body_left -= len(chunk)
                end = stream.fin and not buffer and not stream.body_left
                out.append(DataReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                        stream_id=stream.stream_id, data=chunk, length=len(chunk), end_stream=end,
                                        push_id=stream.push_id))
                stream.ended = end
                continue
            if stream.skip_left:
                skipped = min(stream.skip_left, len(buffer))
                if not skipped:
                    return
                del buffer[:skipped]
                stream.skip_left -= skipped
                continue
            header = read_varint(buffer, 0)
            length = read_varint(buffer, header[1]) if header is not None else None
            if header is None or length is None:
                return
            frame_type, (frame_length, payload_at) = header[0], length
            if frame_type == FrameType.DATA and stream.kind != StreamKind.CONTROL:
                del buffer[:payload_at]
                out.append(self._frame(at, stream, frame_type, frame_length))
                stream.body_left = frame_length
                continue
            if not self._wants_payload(stream, frame_type):
                del buffer[:payload_at]
                out.append(self._frame(at, stream, frame_type, frame_length))
                self._check_skipped(stream, frame_type, at, out)
                stream.skip_left = frame_length
                continue
            if frame_length > MAX_BUFFERED_FRAME:
                del buffer[:payload_at]
                out.append(self._anomaly(at, stream, f"{frame_type_name(frame_type)} frame of {frame_length} "
                                                      "bytes is implausibly long; skipped"))
                stream.skip_left = frame_length
                continue
            if len(buffer) < payload_at + frame_length:
                return
            payload = bytes(buffer[payload_at : payload_at + frame_length])
            del buffer[: payload_at + frame_length]
            stream.frames += 1
            if stream.kind == StreamKind.CONTROL:
                self._control_frame(stream, frame_type, payload, at, out)
            else:
                self._message_frame(stream, frame_type, payload, at, out)

    def _wants_payload(self, stream: _Stream, frame_type: int) -> bool:
        if stream.kind == StreamKind.CONTROL:
            return frame_type in (FrameType.SETTINGS, FrameType.GOAWAY, FrameType.MAX_PUSH_ID, FrameType.CANCEL_PUSH)
        if frame_type == FrameType.DUPLICATE_PUSH:
            return stream.kind == StreamKind.REQUEST and stream.sender == "server" and self._drafts_allowed()
        return frame_type in (FrameType.HEADERS, FrameType.PUSH_PROMISE)

    def _drafts_allowed(self) -> bool:
        return self.alpn is None or self.alpn != "h3"

    def _check_skipped(self, stream: _Stream, frame_type: int, at: float, out: list[Event]) -> None:
        name = frame_type_name(frame_type)
        control = stream.kind == StreamKind.CONTROL
        if control and frame_type in (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE):
            out.append(self._anomaly(at, stream, f"{name} frame on the control stream"))
        elif not control and frame_type in (FrameType.SETTINGS, FrameType.GOAWAY, FrameType.MAX_PUSH_ID,
                                            FrameType.CANCEL_PUSH):
            out.append(self._anomaly(at, stream, f"{name} frame on a {stream.kind.value} stream"))
        elif frame_type in RESERVED_HTTP2_FRAME_TYPES and not self._drafts_allowed():
            out.append(self._anomaly(at, stream, f"HTTP/2 frame type {name} is reserved in HTTP/3"))

    def _frame(self, at: float, stream: _Stream, frame_type: int, length: int, push_id: int | None = None) -> Event:
        return FrameReceived(connection_id=self.connection_id, at=at, sender=stream.sender, stream_id=stream.stream_id,
                             frame_type=frame_type, length=length, flags=(),
                             push_id=push_id if push_id is not None else stream.push_id)

    def _control_frame(self, stream: _Stream, frame_type: int, payload: bytes, at: float, out: list[Event]) -> None:
        values = parse_varints(payload) if frame_type != FrameType.SETTINGS else None
        push_id = values[0] if values and frame_type in (FrameType.CANCEL_PUSH, FrameType.MAX_PUSH_ID) else None
        out.append(self._frame(at, stream, frame_type, len(payload), push_id))
        if stream.frames == 1 and frame_type != FrameType.SETTINGS:
            out.append(self._anomaly(at, stream, "control stream does not start with SETTINGS"))
        if frame_type == FrameType.SETTINGS:
            settings = parse_settings(payload)
            if settings is None:
                out.append(self._anomaly(at, stream, "malformed SETTINGS frame"))
                return
            out.append(SettingsReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                        settings={setting_name(key): value for key, value in settings.items()}))
            # These SETTINGS size the table that decodes the *peer's* header blocks.
            peer = _other(stream.sender)
            ready = self._qpack[peer].configure(settings.get(SETTING_QPACK_MAX_TABLE_CAPACITY, 0))
            encoder_error = self._qpack[peer].encoder_error
            if encoder_error is not None:
                out.append(self._anomaly(at, stream, encoder_error))
            out += self._resume(peer, ready, at)
            return
        if not values or len(values) != 1:
            out.append(self._anomaly(at, stream, f"malformed {frame_type_name(frame_type)} frame"))
            return
        value = values[0]
        if frame_type == FrameType.GOAWAY:
            out.append(GoAwayReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                      last_stream_id=value, error_code=H3_NO_ERROR, error_name="H3_NO_ERROR"))
        elif frame_type == FrameType.MAX_PUSH_ID:
            if stream.sender != "client":
                out.append(self._anomaly(at, stream, "MAX_PUSH_ID sent by the server"))
            out.append(MaxPushIdReceived(connection_id=self.connection_id, at=at, sender=stream.sender, push_id=value))
        else:
            out.append(PushCancelled(connection_id=self.connection_id, at=at, sender=stream.sender, push_id=value))

    def _message_frame(self, stream: _Stream, frame_type: int, payload: bytes, at: float, out: list[Event]) -> None:
        """HEADERS, PUSH_PROMISE or DUPLICATE_PUSH on a request or push stream, payload complete."""
        push_id = None
        block = payload
        if frame_type in (FrameType.PUSH_PROMISE, FrameType.DUPLICATE_PUSH):
            parsed = read_varint(payload, 0)
            if parsed is None:
                out.append(self._frame(at, stream, frame_type, len(payload)))
                out.append(self._anomaly(at, stream, f"{frame_type_name(frame_type)} without a push ID"))
                return
            push_id, position = parsed
            block = payload[position:]
        out.append(self._frame(at, stream, frame_type, len(payload), push_id))
        if frame_type == FrameType.DUPLICATE_PUSH:
            self._duplicate_push(stream, push_id, at, out)
            return
        if frame_type == FrameType.PUSH_PROMISE and (stream.sender != "server" or stream.kind != StreamKind.REQUEST):
            where = f"{stream.kind.value} stream"
            out.append(self._anomaly(at, stream, f"PUSH_PROMISE from the {stream.sender} on a {where}"))
        stream.waiting = _HeaderWait(frame_type, len(block), push_id, block, at)
        direction = self._qpack[stream.sender]
        if direction.needs_missing_entries(block):
            request = frame_type == FrameType.PUSH_PROMISE or stream.sender == "client"
            partial, unknown = direction.decode_partial(block, request=request)
            self._header_block_done(stream, partial, at, out, unknown)
            return
        try:
            headers = direction.decode(stream.stream_id, block)
        except QpackError as exc:
            stream.waiting = None
            out.append(self._anomaly(at, stream, str(exc)))
            return
        if headers is not None:
            self._header_block_done(stream, headers, at, out)

    def _header_block_done(self, stream: _Stream, headers: Headers, at: float, out: list[Event],
                           unknown: tuple[str, ...] = ()) -> None:
        wait = stream.waiting
        assert wait is not None
        stream.waiting = None
        headers = self._bounded(stream, headers, at, out)
        if wait.frame_type == FrameType.PUSH_PROMISE:
            assert wait.push_id is not None
            out.append(PushPromiseReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                           stream_id=stream.stream_id, promised_stream_id=None, headers=headers,
                                           wire_length=wait.wire_length, push_id=wait.push_id, unknown_fields=unknown))
            if wait.push_id not in self._promises:
                self._promises[wait.push_id] = headers
                for parent, when in self._duplicates.pop(wait.push_id, []):
                    out.append(PushPromiseReceived(connection_id=self.connection_id, at=max(when, at),
                                                   sender=stream.sender, stream_id=parent, promised_stream_id=None,
                                                   headers=headers, wire_length=0, push_id=wait.push_id))
            return
        end = stream.fin and not stream.buffer
        out.append(HeadersReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                   stream_id=stream.stream_id, headers=headers, end_stream=end,
                                   wire_length=wait.wire_length, push_id=stream.push_id, unknown_fields=unknown))
        stream.ended = stream.ended or end

    def _bounded(self, stream: _Stream, headers: Headers, at: float, out: list[Event]) -> Headers:
        """The header list up to MAX_HEADER_LIST_SIZE (RFC 9204 entry sizes); an anomaly says what was dropped."""
        size, kept = 0, 0
        for name, value in headers:
            size += len(name) + len(value) + 32
            if size > MAX_HEADER_LIST_SIZE:
                break
            kept += 1
        if kept == len(headers):
            return headers
        out.append(self._anomaly(at, stream, f"header list over {MAX_HEADER_LIST_SIZE} bytes: "
                                 f"{len(headers) - kept} header fields past the limit not kept"))
        return headers[:kept]

    def _duplicate_push(self, stream: _Stream, push_id: int | None, at: float, out: list[Event]) -> None:
        assert push_id is not None
        headers = self._promises.get(push_id)
        if headers is None:
            self._duplicates.setdefault(push_id, []).append((stream.stream_id, at))
            return
        out.append(PushPromiseReceived(connection_id=self.connection_id, at=at, sender=stream.sender,
                                       stream_id=stream.stream_id, promised_stream_id=None, headers=headers,
                                       wire_length=0, push_id=push_id))

    # -- QPACK -------------------------------------------------------------------------------------------

    def _feed_encoder(self, sender: Side, data: bytes, at: float) -> list[Event]:
        direction = self._qpack[sender]
        had_error = direction.encoder_error is not None
        ready = direction.feed_encoder(data)
        out: list[Event] = []
        if direction.encoder_error is not None and not had_error:
            out.append(ProtocolAnomaly(connection_id=self.connection_id, at=at, sender=sender,
                                       message=direction.encoder_error))
        return out + self._resume(sender, ready, at)

    def _resume(self, sender: Side, keys: list[int], at: float) -> list[Event]:
        """Header blocks of ``sender`` that QPACK can now decode: finish them and carry on with their streams."""
        out: list[Event] = []
        for stream_id in keys:
            stream = self._streams.get((sender, stream_id))
            direction = self._qpack[sender]
            try:
                headers = direction.take(stream_id)
            except QpackError as exc:
                if stream is not None and stream.waiting is not None:
                    stream.waiting = None
                    out.append(self._anomaly(at, stream, str(exc)))
                    out += self._pump(stream, at)
                continue
            except KeyError:
                continue
            if stream is None or stream.waiting is None:
                continue
            self._header_block_done(stream, headers, at, out)
            out += self._pump(stream, at)
        return out

    def _anomaly(self, at: float, stream: _Stream, message: str) -> ProtocolAnomaly:
        where = f"{stream.kind.value} stream {stream.stream_id}"
        if stream.push_id is not None:
            where += f" (push ID {stream.push_id})"
        return ProtocolAnomaly(connection_id=self.connection_id, at=at, sender=stream.sender,
                               message=f"{where}: {message}", stream_id=stream.stream_id)
