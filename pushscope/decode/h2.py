"""Sans-IO HTTP/2 decoder for a passive observer.

One :class:`H2ConnectionDecoder` per TCP connection takes the decrypted bytes of each direction, in order, with
the time they were seen, and returns typed events. Frames are read by ``h2_frames`` (as hyperframe reads them)
and header blocks by ``hpack_bounded``, but there is no endpoint state machine: a passive inspector records what
a broken peer did (``ProtocolAnomaly``) and carries on instead of refusing it.

h2c is handled too: prior knowledge (the client starts with the connection preface) and Upgrade (an HTTP/1.1
request with ``Upgrade: h2c`` answered by ``101 Switching Protocols``; that request becomes stream 1).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import Enum

import hpack

from pushscope.decode.h2_frames import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    FRAME_HEADER,
    GOAWAY,
    HEADERS,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    MalformedFrame,
    check_other,
    check_stream,
    data_payload,
    flag_names,
    goaway_fields,
    header_fragment,
    rst_stream_code,
    settings_values,
)
from pushscope.decode.h2_names import error_name, frame_type_name, settings_by_name
from pushscope.decode.hpack_bounded import MAX_HEADER_LIST_SIZE, BoundedHpackDecoder, bounded_header_list
from pushscope.decode.hpack_tolerant import TolerantHpackDecoder, unknown_field_names
from pushscope.events import (
    DataReceived,
    Event,
    FrameReceived,
    GoAwayReceived,
    HeadersReceived,
    ProtocolAnomaly,
    PushPromiseReceived,
    SettingsReceived,
    Side,
    StreamReset,
)
from pushscope.safe_text import visible

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER_LENGTH = 9
# The default SETTINGS_MAX_FRAME_SIZE: a first frame this small is a plausible mid-connection start.
DEFAULT_MAX_FRAME = 16384
LAST_KNOWN_FRAME_TYPE = 0x10  # a longer frame of a type past this one means the stream is not HTTP/2 frames
MAX_UNKNOWN_FRAME = 2**20
HEADER_BLOCK_TYPES = frozenset({HEADERS, PUSH_PROMISE, CONTINUATION})
FRAME_TYPE_CODES = range(0, 0x0A)  # the RFC 9113 frame types a mid-connection capture may start with
HTTP1_HEADER_LIMIT = 64 * 1024
# A header block (HEADERS or PUSH_PROMISE plus its CONTINUATIONs) larger than this is dropped undecoded: an
# endless CONTINUATION run must not grow memory without bound.
MAX_HEADER_BLOCK = 4 * 1024 * 1024


@dataclass(slots=True)
class _PendingHeaderBlock:
    """A HEADERS or PUSH_PROMISE whose header block continues in CONTINUATION frames."""

    kind: str  # "HEADERS" or "PUSH_PROMISE"
    stream_id: int
    end_stream: bool
    promised_stream_id: int | None
    fragments: list[bytes] = field(default_factory=list)
    size: int = 0
    over_limit: bool = False


class H2DirectionDecoder:
    """Decodes the frames one side sends. The HPACK state belongs to the sender's encoder, so it lives here."""

    def __init__(self, connection_id: str, sender: Side) -> None:
        self.connection_id = connection_id
        self.sender = sender
        self._buffer = bytearray()
        # Bounded: a header list limit that keeps the table in step, linear literals, a clamped table size.
        self._hpack = BoundedHpackDecoder()
        self._pending: _PendingHeaderBlock | None = None
        self._lost_sync = False
        # Field-by-field HPACK once the dynamic table is known to be incomplete (mid-connection, or broken).
        self._tolerant: TolerantHpackDecoder | None = None
        # Bytes of this direction's frame stream consumed so far: the wire order of its events.
        self.offset = 0

    def start_mid_connection(self) -> None:
        """The capture began after this connection did: header blocks may refer to entries never seen."""
        if self._tolerant is None:
            self._tolerant = TolerantHpackDecoder()

    def receive(self, data: bytes, at: float) -> list[Event]:
        if self._lost_sync or not self._whole_frame_in(data):
            return []
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        events: list[Event] = []
        position, end = 0, len(data)
        while end - position >= FRAME_HEADER_LENGTH:
            high, low, frame_type, flag_byte, stream_id = FRAME_HEADER.unpack_from(data, position)
            length = high << 8 | low
            if frame_type > LAST_KNOWN_FRAME_TYPE and length > MAX_UNKNOWN_FRAME:
                header = data[position : position + FRAME_HEADER_LENGTH].hex()
                events.append(self._lose_sync(at, f"implausible frame header {header}"))
                return events
            frame_end = position + FRAME_HEADER_LENGTH + length
            if frame_end > end:
                break
            body = data[position + FRAME_HEADER_LENGTH : frame_end]
            self.offset += frame_end - position
            position = frame_end
            decoded = self._decode_frame(frame_type, flag_byte, stream_id & 0x7FFFFFFF, body, at)
            for event in decoded:
                event.position = self.offset
            events += decoded
        if position < end:
            self._buffer += memoryview(data)[position:]
        return events

    def _whole_frame_in(self, data: bytes) -> bool:
        """Whether the bytes buffered so far plus ``data`` hold a whole frame (or a header that loses sync); if
        not, ``data`` is buffered. Frames that span many records are copied once, when whole."""
        buffer = self._buffer
        if not buffer:
            return True
        buffer += data
        if len(buffer) < FRAME_HEADER_LENGTH:
            return False
        high, low, frame_type = FRAME_HEADER.unpack_from(buffer)[:3]
        length = high << 8 | low
        implausible = frame_type > LAST_KNOWN_FRAME_TYPE and length > MAX_UNKNOWN_FRAME
        return implausible or len(buffer) >= FRAME_HEADER_LENGTH + length

    @property
    def unparsed_bytes(self) -> int:
        return len(self._buffer)

    def _lose_sync(self, at: float, why: str) -> ProtocolAnomaly:
        self._lost_sync = True
        self._buffer.clear()
        return self._anomaly(at, f"lost HTTP/2 frame sync ({why}); the rest of this direction is skipped")

    def _anomaly(self, at: float, message: str, stream_id: int | None = None) -> ProtocolAnomaly:
        return ProtocolAnomaly(connection_id=self.connection_id, at=at, sender=self.sender, message=message,
                               stream_id=stream_id)

    def _decode_frame(self, frame_type: int, flag_byte: int, stream_id: int, body: bytes, at: float) -> list[Event]:
        promised, fragment, typed = 0, b"", None
        try:
            check_stream(frame_type, stream_id)
            if frame_type in HEADER_BLOCK_TYPES:
                promised, fragment = header_fragment(frame_type, flag_byte, body)
            else:
                typed = self._simple_events(frame_type, flag_byte, stream_id, body, at)
        except MalformedFrame as exc:
            return [self._anomaly(at, f"malformed {frame_type_name(frame_type)} frame: {exc}", stream_id)]
        events: list[Event] = [
            FrameReceived(connection_id=self.connection_id, at=at, sender=self.sender, stream_id=stream_id or None,
                          frame_type=frame_type, length=len(body), flags=flag_names(frame_type, flag_byte))
        ]
        if self._pending is not None and frame_type != CONTINUATION:
            events.append(self._anomaly(at, "header block interrupted by another frame", self._pending.stream_id))
            self._pending = None
        if typed is None:
            events += self._header_block(frame_type, flag_byte, stream_id, promised, fragment, at)
        else:
            events += typed
        return events

    def _simple_events(self, frame_type: int, flag_byte: int, stream_id: int, body: bytes,
                       at: float) -> list[Event]:
        """The typed events of a frame that is not part of a header block (after checking it: it may raise)."""
        if frame_type == DATA:
            # The flow-controlled length (data plus padding) is the whole body.
            return [DataReceived(connection_id=self.connection_id, at=at, sender=self.sender, stream_id=stream_id,
                                 data=data_payload(body, flag_byte), length=len(body),
                                 end_stream=bool(flag_byte & END_STREAM))]
        if frame_type == RST_STREAM:
            code = rst_stream_code(body)
            return [StreamReset(connection_id=self.connection_id, at=at, sender=self.sender, stream_id=stream_id,
                                error_code=code, error_name=error_name(code))]
        if frame_type == SETTINGS:
            values = settings_values(body, flag_byte)
            if values is None:  # an ACK
                return []
            named = {settings_by_name(code): value for code, value in values.items()}
            return [SettingsReceived(connection_id=self.connection_id, at=at, sender=self.sender, settings=named)]
        if frame_type == GOAWAY:
            last_stream_id, code = goaway_fields(body)
            return [GoAwayReceived(connection_id=self.connection_id, at=at, sender=self.sender,
                                   last_stream_id=last_stream_id, error_code=code, error_name=error_name(code))]
        check_other(frame_type, body)
        return []

    def _header_block(self, frame_type: int, flag_byte: int, stream_id: int, promised: int, fragment: bytes,
                      at: float) -> list[Event]:
        if frame_type == CONTINUATION:
            return self._continue_block(stream_id, fragment, flag_byte, at)
        if frame_type == HEADERS:
            pending = _PendingHeaderBlock("HEADERS", stream_id, bool(flag_byte & END_STREAM), None)
        else:
            pending = _PendingHeaderBlock("PUSH_PROMISE", stream_id, False, promised)
        self._add_fragment(pending, fragment)
        if flag_byte & END_HEADERS:
            return self._finish_block(pending, at)
        self._pending = pending
        return []

    def _continue_block(self, stream_id: int, fragment: bytes, flag_byte: int, at: float) -> list[Event]:
        pending = self._pending
        if pending is None or pending.stream_id != stream_id:
            return [self._anomaly(at, "CONTINUATION without a header block to continue", stream_id)]
        self._add_fragment(pending, fragment)
        if flag_byte & END_HEADERS:
            self._pending = None
            return self._finish_block(pending, at)
        return []

    @staticmethod
    def _add_fragment(pending: _PendingHeaderBlock, fragment: bytes) -> None:
        pending.size += len(fragment)
        if pending.size > MAX_HEADER_BLOCK:
            pending.over_limit = True
            pending.fragments.clear()
        elif not pending.over_limit:
            pending.fragments.append(fragment)

    def _finish_block(self, pending: _PendingHeaderBlock, at: float) -> list[Event]:
        block = b"".join(pending.fragments)
        events: list[Event] = []
        unknown: tuple[str, ...] = ()
        headers: list[tuple[str, str]] = []
        if pending.over_limit:
            # Not decoded at all: the table may now be out of step, so later blocks go field by field.
            events.append(self._anomaly(at, f"{pending.kind} header block of {pending.size} bytes is over the "
                                        f"{MAX_HEADER_BLOCK}-byte limit: not decoded", pending.stream_id))
            self._tolerant = self._tolerant or TolerantHpackDecoder()
        elif self._tolerant is None:
            try:
                # Raw octets: header bytes need not be UTF-8; a stray byte must not cost the whole block.
                raw_headers, notes = self._hpack.decode_block(block)
                headers, not_utf8 = _text_headers(raw_headers)
                events += [self._anomaly(at, note, pending.stream_id) for note in notes + not_utf8]
            except (hpack.HPACKError, ValueError, IndexError, UnicodeDecodeError) as exc:
                # The dynamic table is out of step with the encoder: from here on, field by field.
                message = (f"HPACK could not decode a {pending.kind} header block ({exc}); the capture may have "
                           "started mid-connection (HPACK state unknown): header fields that need dynamic-table "
                           "entries it did not show are listed as unknown")
                self._tolerant = TolerantHpackDecoder()
                events.append(self._anomaly(at, message, pending.stream_id))
        if self._tolerant is not None and not pending.over_limit:
            headers, unknown = self._tolerant_block(pending, block, at, events)
        if pending.kind == "PUSH_PROMISE":
            events.append(
                PushPromiseReceived(
                    connection_id=self.connection_id,
                    at=at,
                    sender=self.sender,
                    stream_id=pending.stream_id,
                    promised_stream_id=pending.promised_stream_id,
                    headers=headers,
                    wire_length=len(block),
                    unknown_fields=unknown,
                )
            )
        else:
            events.append(
                HeadersReceived(
                    connection_id=self.connection_id,
                    at=at,
                    sender=self.sender,
                    stream_id=pending.stream_id,
                    headers=headers,
                    end_stream=pending.end_stream,
                    wire_length=len(block),
                    unknown_fields=unknown,
                )
            )
        return events

    def _tolerant_block(self, pending: _PendingHeaderBlock, block: bytes, at: float,
                        events: list[Event]) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        assert self._tolerant is not None
        result = self._tolerant.decode(block)
        kept = bounded_header_list(result.headers)
        if len(kept) < len(result.headers):
            events.append(self._anomaly(at, f"header list over {MAX_HEADER_LIST_SIZE} bytes: "
                                        f"{len(result.headers) - len(kept)} header fields past the limit not kept",
                                        pending.stream_id))
        headers = [(_text(name), _text(value)) for name, value in kept]
        if result.unreadable:
            events.append(self._anomaly(at, f"part of a {pending.kind} header block could not be parsed; the rest "
                                        "of it is unknown", pending.stream_id))
        request = pending.kind == "PUSH_PROMISE" or self.sender == "client"
        unknown = unknown_field_names({name for name, _ in headers}, result.unknown_fields, request=request)
        return headers, unknown


class ClientStart(Enum):
    """How far the client's first bytes have shown what this connection is."""

    PREFACE = "preface"  # waiting for the connection preface (or an h2c Upgrade request)
    AWAIT_101 = "await-101"  # an h2c Upgrade request was sent: the server's answer decides
    AFTER_UPGRADE = "after-upgrade"  # 101 Switching Protocols: the client's preface follows
    FRAMES = "frames"  # HTTP/2 frames
    NOT_H2 = "not-h2"  # not HTTP/2: nothing more is decoded


class H2ConnectionDecoder:
    """Both directions of one connection, plus the preface and the h2c Upgrade handshake."""

    def __init__(self, connection_id: str, *, expect_preface: bool = True) -> None:
        self.connection_id = connection_id
        self.client = H2DirectionDecoder(connection_id, "client")
        self.server = H2DirectionDecoder(connection_id, "server")
        # Until the client's first bytes show the preface (or an h2c Upgrade), we are not sure this is HTTP/2.
        self._client_state = ClientStart.PREFACE if expect_preface else ClientStart.FRAMES
        self._client_prelude = bytearray()
        self._server_prelude = bytearray()
        self.is_http2: bool | None = None if expect_preface else True
        self.upgrade_request: HeadersReceived | None = None

    @property
    def waiting_for_client(self) -> bool:
        """True until the client's first bytes say whether this is HTTP/2; server bytes must wait for that."""
        return self._client_state == ClientStart.PREFACE and self.is_http2 is None

    def receive(self, sender: Side, data: bytes, at: float) -> list[Event]:
        if sender == "client":
            return self._receive_client(data, at)
        return self._receive_server(data, at)

    def _receive_client(self, data: bytes, at: float) -> list[Event]:
        if self._client_state == ClientStart.FRAMES:
            return self.client.receive(data, at)
        if self._client_state == ClientStart.NOT_H2:
            return []
        self._client_prelude += data
        prelude = bytes(self._client_prelude)
        if self._client_state == ClientStart.PREFACE:
            if prelude.startswith(PREFACE):
                return self._enter_client_frames(prelude[len(PREFACE) :], at)
            if PREFACE.startswith(prelude):
                return []  # preface split across records
            return self._maybe_upgrade_request(prelude, at)
        if self._client_state == ClientStart.AFTER_UPGRADE:
            if prelude.startswith(PREFACE):
                return self._enter_client_frames(prelude[len(PREFACE) :], at)
            if PREFACE.startswith(prelude):
                return []
            self._client_state = ClientStart.FRAMES
            self._client_prelude.clear()
            anomaly = ProtocolAnomaly(connection_id=self.connection_id, at=at, sender="client",
                                      message="h2c Upgrade without a client preface")
            return [anomaly, *self.client.receive(prelude, at)]
        return []

    def _enter_client_frames(self, rest: bytes, at: float) -> list[Event]:
        self._client_state = ClientStart.FRAMES
        self._client_prelude.clear()
        self.is_http2 = True
        return self.client.receive(rest, at) if rest else []

    def _maybe_upgrade_request(self, prelude: bytes, at: float) -> list[Event]:
        if not _looks_like_http1_request(prelude) and _looks_like_frame_header(prelude):
            self._client_state = ClientStart.FRAMES
            self._client_prelude.clear()
            self.is_http2 = True
            message = "no connection preface: the capture started mid-connection (HPACK state unknown)"
            self.client.start_mid_connection()
            self.server.start_mid_connection()
            anomaly = ProtocolAnomaly(connection_id=self.connection_id, at=at, sender="client", message=message)
            return [anomaly, *self.client.receive(prelude, at)]
        end = prelude.find(b"\r\n\r\n")
        if end < 0:
            if len(prelude) > HTTP1_HEADER_LIMIT or not _looks_like_http1_request(prelude):
                self._give_up_client()
            return []
        request = _parse_http1_head(prelude[:end].decode("latin-1"))
        if request is None or "h2c" not in request.get("upgrade", "").lower():
            self._give_up_client()
            return []
        self._client_state = ClientStart.AWAIT_101
        self._client_prelude = bytearray(prelude[end + 4 :])
        return self._upgrade_request_events(request, at)

    def _give_up_client(self) -> None:
        self._client_state = ClientStart.NOT_H2
        self._client_prelude.clear()
        self.is_http2 = False

    def _upgrade_request_events(self, request: dict[str, str], at: float) -> list[Event]:
        method, target = request["_method"], request["_target"]
        headers = [(":method", method), (":scheme", "http"), (":authority", request.get("host", "")),
                   (":path", target)]
        skip = {"host", "connection", "upgrade", "http2-settings", "keep-alive", "transfer-encoding"}
        headers += [(k, v) for k, v in request.items() if not k.startswith("_") and k not in skip]
        event = HeadersReceived(connection_id=self.connection_id, at=at, sender="client", stream_id=1, headers=headers,
                                end_stream=True, wire_length=0)
        self.upgrade_request = event
        events: list[Event] = [event]
        settings = _decode_http2_settings(request.get("http2-settings", ""))
        if settings is not None:
            events.insert(0, SettingsReceived(connection_id=self.connection_id, at=at, sender="client",
                                              settings=settings))
        return events

    def _receive_server(self, data: bytes, at: float) -> list[Event]:
        if self._client_state == ClientStart.NOT_H2:
            return []
        if self._client_state != ClientStart.AWAIT_101:
            return self.server.receive(data, at)
        self._server_prelude += data
        prelude = bytes(self._server_prelude)
        end = prelude.find(b"\r\n\r\n")
        if end < 0:
            return []
        status_line = prelude[: prelude.find(b"\r\n")].decode("latin-1")
        rest = prelude[end + 4 :]
        self._server_prelude.clear()
        if " 101" not in status_line:
            self._give_up_client()  # the server answered in HTTP/1.1: not an HTTP/2 connection
            return []
        self._client_state = ClientStart.AFTER_UPGRADE
        self.is_http2 = True
        pending_client = bytes(self._client_prelude)
        self._client_prelude.clear()
        events = self.server.receive(rest, at) if rest else []
        if pending_client:
            events += self._receive_client(pending_client, at)
        return events


# The same header fields come back on every exchange: one shared (name, value) pair for each, decoded once, with
# the anomaly note it causes (bytes that are not UTF-8), if any. Bounded: short fields only, and the memo starts
# over when full (hostile captures can make every field different).
_PAIRS: dict[tuple[bytes, bytes], tuple[tuple[str, str], str | None]] = {}
PAIR_MEMO_ENTRIES = 1 << 16
PAIR_MEMO_FIELD = 256


def _text_headers(raw_headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The fields as text (UTF-8, else Latin-1), and a note for each field whose bytes are not UTF-8."""
    headers: list[tuple[str, str]] = []
    notes: list[str] = []
    known = _PAIRS.get
    for raw in raw_headers:
        decoded = known(raw) or _decoded_field(raw)
        headers.append(decoded[0])
        if decoded[1] is not None:
            notes.append(decoded[1])
    return headers, notes


def _decoded_field(raw: tuple[bytes, bytes]) -> tuple[tuple[str, str], str | None]:
    name, value = raw
    pair = (_text(name), _text(value))
    note = None
    if not (name.isascii() and value.isascii()):
        try:
            name.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:  # shown as Latin-1, control bytes escaped
            note = f"header field with bytes that are not UTF-8: {visible(pair[0])[:100]}: {visible(pair[1])[:200]}"
    decoded = (pair, note)
    if len(name) + len(value) <= PAIR_MEMO_FIELD:
        if len(_PAIRS) >= PAIR_MEMO_ENTRIES:
            _PAIRS.clear()
        _PAIRS[raw] = decoded
    return decoded


def _text(octets: bytes) -> str:
    try:
        return octets.decode("utf-8")
    except UnicodeDecodeError:
        return octets.decode("latin-1")


def _looks_like_frame_header(prelude: bytes) -> bool:
    if len(prelude) < FRAME_HEADER_LENGTH:
        return False
    length, frame_type = int.from_bytes(prelude[:3], "big"), prelude[3]
    reserved_bit_clear = not prelude[5] & 0x80
    return frame_type in FRAME_TYPE_CODES and length <= DEFAULT_MAX_FRAME and reserved_bit_clear


def _looks_like_http1_request(prelude: bytes) -> bool:
    first = prelude.split(b" ", 1)[0]
    return first.isalpha() and first.isupper() and len(first) <= 16


def _parse_http1_head(head: str) -> dict[str, str] | None:
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1"):
        return None
    fields: dict[str, str] = {"_method": parts[0], "_target": parts[1]}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def _decode_http2_settings(value: str) -> dict[str, int] | None:
    if not value:
        return None
    try:
        payload = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    settings: dict[str, int] = {}
    for offset in range(0, len(payload) - 5, 6):
        code = int.from_bytes(payload[offset : offset + 2], "big")
        settings[settings_by_name(code)] = int.from_bytes(payload[offset + 2 : offset + 6], "big")
    return settings
