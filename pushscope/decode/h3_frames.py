"""HTTP/3 wire vocabulary: variable-length integers, frame and stream types, error codes and settings names.

Names follow RFC 9114 / RFC 9204 and, for the frame types that only the drafts had (PRIORITY, DUPLICATE_PUSH),
the draft that defined them, so a timeline of an h3-22 capture reads like the spec of its day.
"""

from __future__ import annotations

from enum import IntEnum


class FrameType(IntEnum):
    DATA = 0x0
    HEADERS = 0x1
    CANCEL_PUSH = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    GOAWAY = 0x7
    MAX_PUSH_ID = 0xD
    DUPLICATE_PUSH = 0xE  # drafts up to h3-26 only


class StreamType(IntEnum):
    CONTROL = 0x0
    PUSH = 0x1
    QPACK_ENCODER = 0x2
    QPACK_DECODER = 0x3


FRAME_NAMES = {
    0x0: "DATA",
    0x1: "HEADERS",
    0x2: "PRIORITY",  # drafts; reserved (HTTP/2's) in RFC 9114
    0x3: "CANCEL_PUSH",
    0x4: "SETTINGS",
    0x5: "PUSH_PROMISE",
    0x6: "PING",  # HTTP/2's, reserved
    0x7: "GOAWAY",
    0x8: "WINDOW_UPDATE",  # HTTP/2's, reserved
    0x9: "CONTINUATION",  # HTTP/2's, reserved
    0xC: "ORIGIN",
    0xD: "MAX_PUSH_ID",
    0xE: "DUPLICATE_PUSH",
    0x41: "WEBTRANSPORT_STREAM",
    0xF0700: "PRIORITY_UPDATE",
    0xF0701: "PRIORITY_UPDATE_PUSH",
}

# HTTP/2 frame types with no HTTP/3 meaning: a final-version peer must not send them (RFC 9114 §7.2.8).
RESERVED_HTTP2_FRAME_TYPES = frozenset({0x2, 0x6, 0x8, 0x9})

ERROR_NAMES = {
    0x33: "H3_DATAGRAM_ERROR",
    0x100: "H3_NO_ERROR",
    0x101: "H3_GENERAL_PROTOCOL_ERROR",
    0x102: "H3_INTERNAL_ERROR",
    0x103: "H3_STREAM_CREATION_ERROR",
    0x104: "H3_CLOSED_CRITICAL_STREAM",
    0x105: "H3_FRAME_UNEXPECTED",
    0x106: "H3_FRAME_ERROR",
    0x107: "H3_EXCESSIVE_LOAD",
    0x108: "H3_ID_ERROR",
    0x109: "H3_SETTINGS_ERROR",
    0x10A: "H3_MISSING_SETTINGS",
    0x10B: "H3_REQUEST_REJECTED",
    0x10C: "H3_REQUEST_CANCELLED",
    0x10D: "H3_REQUEST_INCOMPLETE",
    0x10E: "H3_MESSAGE_ERROR",
    0x10F: "H3_CONNECT_ERROR",
    0x110: "H3_VERSION_FALLBACK",
    0x200: "QPACK_DECOMPRESSION_FAILED",
    0x201: "QPACK_ENCODER_STREAM_ERROR",
    0x202: "QPACK_DECODER_STREAM_ERROR",
}

# draft-ietf-quic-http-22 §8.1 (h3-22 and earlier).
DRAFT_ERROR_NAMES = {
    0x0: "HTTP_NO_ERROR",
    0x1: "HTTP_WRONG_SETTING_DIRECTION",
    0x2: "HTTP_PUSH_REFUSED",
    0x3: "HTTP_INTERNAL_ERROR",
    0x4: "HTTP_PUSH_ALREADY_IN_CACHE",
    0x5: "HTTP_REQUEST_CANCELLED",
    0x6: "HTTP_INCOMPLETE_REQUEST",
    0x7: "HTTP_CONNECT_ERROR",
    0x8: "HTTP_EXCESSIVE_LOAD",
    0x9: "HTTP_VERSION_FALLBACK",
    0xA: "HTTP_WRONG_STREAM",
    0xB: "HTTP_ID_ERROR",
    0xD: "HTTP_STREAM_CREATION_ERROR",
    0xF: "HTTP_CLOSED_CRITICAL_STREAM",
    0x10: "HTTP_EARLY_RESPONSE",
    0x11: "HTTP_MISSING_SETTINGS",
    0x12: "HTTP_UNEXPECTED_FRAME",
    0x13: "HTTP_REQUEST_REJECTED",
    0xFF: "HTTP_GENERAL_PROTOCOL_ERROR",
}

SETTING_NAMES = {
    0x1: "QPACK_MAX_TABLE_CAPACITY",
    0x6: "MAX_FIELD_SECTION_SIZE",
    0x7: "QPACK_BLOCKED_STREAMS",
    0x8: "ENABLE_CONNECT_PROTOCOL",
    0x9: "NUM_PLACEHOLDERS",  # drafts h3-20..h3-23
    0x33: "H3_DATAGRAM",
    0xFFD277: "H3_DATAGRAM_DRAFT",
    0x2B603742: "ENABLE_WEBTRANSPORT",
}

SETTING_QPACK_MAX_TABLE_CAPACITY = 0x1
SETTING_QPACK_BLOCKED_STREAMS = 0x7


def is_reserved(code: int) -> bool:
    """Grease values (0x1f * N + 0x21) that peers send to keep extension points open; they mean nothing."""
    return code >= 0x21 and (code - 0x21) % 0x1F == 0


def frame_type_name(code: int) -> str:
    if code in FRAME_NAMES:
        return FRAME_NAMES[code]
    return f"RESERVED_0x{code:x}" if is_reserved(code) else f"UNKNOWN_0x{code:x}"


def is_draft(alpn: str | None) -> bool:
    """``h3-NN``: a pre-RFC draft, with draft frame types and (before h3-23) draft error codes."""
    return bool(alpn) and alpn.startswith("h3-")  # type: ignore[union-attr]


def draft_number(alpn: str | None) -> int | None:
    if not is_draft(alpn):
        return None
    try:
        return int(alpn[3:])  # type: ignore[index]
    except ValueError:
        return None


def error_name(code: int, alpn: str | None = None) -> str:
    """HTTP/3 application error name; drafts before h3-23 numbered them from 0 (HTTP_NO_ERROR = 0x0)."""
    number = draft_number(alpn)
    if number is not None and number < 23 and code in DRAFT_ERROR_NAMES:
        return DRAFT_ERROR_NAMES[code]
    if code in ERROR_NAMES:
        return ERROR_NAMES[code]
    return f"H3_RESERVED_0x{code:x}" if is_reserved(code) else f"UNKNOWN_0x{code:x}"


def setting_name(code: int) -> str:
    if code in SETTING_NAMES:
        return SETTING_NAMES[code]
    return f"RESERVED_0x{code:x}" if is_reserved(code) else f"UNKNOWN_0x{code:x}"


def read_varint(buffer: bytes | bytearray | memoryview, position: int) -> tuple[int, int] | None:
    """QUIC variable-length integer at ``position``: (value, next position), or None if it is incomplete."""
    if position >= len(buffer):
        return None
    first = buffer[position]
    length = 1 << (first >> 6)
    if position + length > len(buffer):
        return None
    value = first & 0x3F
    for index in range(1, length):
        value = (value << 8) | buffer[position + index]
    return value, position + length


def encode_varint(value: int) -> bytes:
    """The shortest encoding; used by tests and to rebuild nothing on the decode path."""
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    return (value | 0xC000000000000000).to_bytes(8, "big")


def parse_varints(payload: bytes) -> list[int] | None:
    """A payload made only of varints (SETTINGS, GOAWAY, MAX_PUSH_ID, CANCEL_PUSH); None if one is cut short."""
    values: list[int] = []
    position = 0
    while position < len(payload):
        parsed = read_varint(payload, position)
        if parsed is None:
            return None
        value, position = parsed
        values.append(value)
    return values


def parse_settings(payload: bytes) -> dict[int, int] | None:
    values = parse_varints(payload)
    if values is None or len(values) % 2:
        return None
    return dict(zip(values[0::2], values[1::2], strict=True))
