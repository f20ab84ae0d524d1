"""HTTP/2 frame bodies (RFC 9113 §6) read straight from the bytes, without a frame object per frame.

It accepts and refuses exactly what hyperframe 6 does, with hyperframe's messages (the decoder turns them into
"malformed X frame: ..." anomalies), and names the flags hyperframe defines for each type: the differential
tests hold it to that. What it returns is only what the HTTP/2 decoder uses.
"""

from __future__ import annotations

import struct

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION, ALTSVC = (
    range(11))
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x01, 0x01, 0x04, 0x08, 0x20

# The 9-byte frame header: length (24 bits as 16 + 8), type, flags, reserved bit + stream id.
FRAME_HEADER = struct.Struct(">HBBBL")
_U32 = struct.Struct(">L")
_TWO_U32 = struct.Struct(">LL")
_SETTING = struct.Struct(">HL")

# hyperframe's class names, which its stream-id messages quote.
_CLASS_NAMES = {DATA: "DataFrame", HEADERS: "HeadersFrame", PRIORITY: "PriorityFrame", RST_STREAM: "RstStreamFrame",
                SETTINGS: "SettingsFrame", PUSH_PROMISE: "PushPromiseFrame", PING: "PingFrame",
                GOAWAY: "GoAwayFrame", CONTINUATION: "ContinuationFrame"}
NEEDS_STREAM = frozenset({DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE, CONTINUATION})
NO_STREAM = frozenset({SETTINGS, PING, GOAWAY})
_FLAGS = {
    DATA: (("END_STREAM", END_STREAM), ("PADDED", PADDED)),
    HEADERS: (("END_STREAM", END_STREAM), ("END_HEADERS", END_HEADERS), ("PADDED", PADDED),
              ("PRIORITY", PRIORITY_FLAG)),
    SETTINGS: (("ACK", ACK),),
    PUSH_PROMISE: (("END_HEADERS", END_HEADERS), ("PADDED", PADDED)),
    PING: (("ACK", ACK),),
    CONTINUATION: (("END_HEADERS", END_HEADERS),),
}
_flag_names: dict[int, tuple[str, ...]] = {}  # type << 8 | flag byte, for the types above: at most 1,536 entries


class MalformedFrame(Exception):
    """A frame hyperframe would refuse; the message is hyperframe's."""


def flag_names(frame_type: int, flag_byte: int) -> tuple[str, ...]:
    """The names of the flags set that the frame type defines, sorted (an unknown type defines none)."""
    key = frame_type << 8 | flag_byte
    names = _flag_names.get(key)
    if names is None:
        defined = _FLAGS.get(frame_type)
        if defined is None:
            return ()
        names = tuple(sorted(name for name, bit in defined if flag_byte & bit))
        _flag_names[key] = names
    return names


def check_stream(frame_type: int, stream_id: int) -> None:
    if not stream_id:
        if frame_type in NEEDS_STREAM:
            raise MalformedFrame(f"Stream ID must be non-zero for {_CLASS_NAMES[frame_type]}")
    elif frame_type in NO_STREAM:
        raise MalformedFrame(f"Stream ID must be zero for {_CLASS_NAMES[frame_type]} with stream_id={stream_id}")


def _padding(body: bytes, flag_byte: int) -> tuple[int, int]:
    """(pad length, bytes the pad length field takes) of a frame type that may be PADDED."""
    if not flag_byte & PADDED:
        return 0, 0
    if not body:
        raise MalformedFrame("Invalid Padding data")
    return body[0], 1


def data_payload(body: bytes, flag_byte: int) -> bytes:
    """A DATA frame's data, without padding. Its flow-controlled length is always ``len(body)``."""
    if not flag_byte & PADDED:
        return body
    pad, start = _padding(body, flag_byte)
    if pad and pad >= len(body):
        raise MalformedFrame("Padding is too long.")
    return body[start : len(body) - pad]


def header_fragment(frame_type: int, flag_byte: int, body: bytes) -> tuple[int, bytes]:
    """(promised stream id, or 0; header block fragment) of a HEADERS, PUSH_PROMISE or CONTINUATION frame."""
    if frame_type == CONTINUATION or (frame_type == HEADERS and not flag_byte & (PADDED | PRIORITY_FLAG)):
        return 0, body
    pad, start = _padding(body, flag_byte)
    if frame_type == PUSH_PROMISE:
        if len(body) < start + 4:
            raise MalformedFrame("Invalid PUSH_PROMISE body")
        promised = _U32.unpack_from(body, start)[0]
        fragment = body[start + 4 : len(body) - pad]
        if promised == 0 or promised % 2 != 0:
            raise MalformedFrame(f"Invalid PUSH_PROMISE promised stream id: {promised}")
        if pad and pad >= len(body):
            raise MalformedFrame("Padding is too long.")
        return promised, fragment
    after_pad_length = len(body) - start  # hyperframe compares the padding with this
    priority = 0
    if flag_byte & PRIORITY_FLAG:
        if after_pad_length < 5:
            raise MalformedFrame("Invalid Priority data")
        priority = 5
    if pad and pad >= after_pad_length:
        raise MalformedFrame("Padding is too long.")
    return 0, body[start + priority : len(body) - pad]


def rst_stream_code(body: bytes) -> int:
    if len(body) != 4:
        raise MalformedFrame(f"RST_STREAM must have 4 byte body: actual length {len(body)}.")
    return int.from_bytes(body, "big")


def settings_values(body: bytes, flag_byte: int) -> dict[int, int] | None:
    """The settings by code (a repeated code keeps its first place and its last value); None for an ACK."""
    if flag_byte & ACK:
        if body:
            raise MalformedFrame(f"SETTINGS ack frame must not have payload: got {len(body)} bytes")
        return None
    if len(body) % 6:
        raise MalformedFrame("Invalid SETTINGS body")
    return {code: value for code, value in _SETTING.iter_unpack(body)}


def goaway_fields(body: bytes) -> tuple[int, int]:
    """(last stream id, error code); hyperframe keeps the reserved bit in the stream id, and so does this."""
    if len(body) < 8:
        raise MalformedFrame("Invalid GOAWAY body.")
    last_stream_id, code = _TWO_U32.unpack_from(body)
    return last_stream_id, code


def check_other(frame_type: int, body: bytes) -> None:
    """Validate a frame whose body the decoder does not use (PRIORITY, PING, WINDOW_UPDATE, ALTSVC, extensions)."""
    length = len(body)
    if frame_type == PRIORITY:
        if length > 5:
            raise MalformedFrame(f"PRIORITY must have 5 byte body: actual length {length}.")
        if length < 5:
            raise MalformedFrame("Invalid Priority data")
    elif frame_type == PING:
        if length != 8:
            raise MalformedFrame(f"PING frame must have 8 byte length: got {length}")
    elif frame_type == WINDOW_UPDATE:
        if length > 4:
            raise MalformedFrame(f"WINDOW_UPDATE frame must have 4 byte length: got {length}")
        if length < 4:
            raise MalformedFrame("Invalid WINDOW_UPDATE body")
        if not 1 <= int.from_bytes(body, "big") <= 2**31 - 1:
            raise MalformedFrame("WINDOW_UPDATE increment must be between 1 to 2^31-1")
    elif frame_type == ALTSVC and (length < 2 or length - 2 < int.from_bytes(body[:2], "big")):
        raise MalformedFrame("Invalid ALTSVC frame body.")
