"""QPACK header blocks read field by field when the dynamic table is unknown (RFC 9204 4.5).

For a connection whose encoder stream began before the capture (its handshake and first requests are not in
it), the dynamic table cannot be rebuilt: its start is missing and encoder instructions cannot be parsed from
the middle of the stream. A header block is still mostly readable: fields that use the static table or a
literal are kept; those that refer to the dynamic table (directly or for their name) are reported as unknown.
pylsqpack would instead block the whole block forever (or refuse it).
"""

from __future__ import annotations

from functools import cache

import pylsqpack

from pushscope.decode.field_primitives import Unreadable as _Unreadable
from pushscope.decode.field_primitives import prefix_integer, prefixed_string
from pushscope.decode.hpack_tolerant import UNKNOWN_NAME, TolerantResult

STATIC_ENTRIES = 99


@cache
def static_table() -> tuple[tuple[bytes, bytes], ...]:
    """The QPACK static table, read from ls-qpack itself (one indexed field line per entry)."""
    entries = []
    for index in range(STATIC_ENTRIES):
        line = bytes([0xC0 | index]) if index < 63 else bytes([0xFF, index - 63])
        _, headers = pylsqpack.Decoder(0, 0).feed_header(0, b"\x00\x00" + line)
        entries.append(headers[0])
    return tuple(entries)




def decode_without_dynamic_table(block: bytes) -> TolerantResult:
    """Every field line of ``block``; dynamic-table references become unknown fields."""
    static = static_table()
    result = TolerantResult([], [])
    data = memoryview(block)
    try:
        _, offset = _integer(data, 0, 8)  # Required Insert Count (encoded)
        _, offset = _integer(data, offset, 7)  # sign bit + Delta Base
        while offset < len(data):
            offset = _field_line(data, offset, static, result)
    except (_Unreadable, IndexError):
        result.unreadable = True
        result.unknown_fields.append(UNKNOWN_NAME)
    return result


def _field_line(data: memoryview, offset: int, static: tuple[tuple[bytes, bytes], ...],
                result: TolerantResult) -> int:
    first = data[offset]
    if first & 0x80:  # indexed field line: 1 T index(6)
        index, offset = _integer(data, offset, 6)
        if first & 0x40:
            result.headers.append(_static(static, index))
        else:
            result.unknown_fields.append(UNKNOWN_NAME)
        return offset
    if first & 0x40:  # literal with name reference: 01 N T index(4)
        index, offset = _integer(data, offset, 4)
        value, offset = _string(data, offset, 7)
        if first & 0x10:
            result.headers.append((_static(static, index)[0], value))
        else:
            result.unknown_fields.append(UNKNOWN_NAME)
        return offset
    if first & 0x20:  # literal with literal name: 001 N H namelen(3)
        name, offset = _string(data, offset, 3)
        value, offset = _string(data, offset, 7)
        result.headers.append((name, value))
        return offset
    if first & 0x10:  # indexed field line with post-base index: 0001 index(4)
        _, offset = _integer(data, offset, 4)
        result.unknown_fields.append(UNKNOWN_NAME)
        return offset
    _, offset = _integer(data, offset, 3)  # literal with post-base name reference: 0000 N index(3)
    _, offset = _string(data, offset, 7)
    result.unknown_fields.append(UNKNOWN_NAME)
    return offset


def _static(static: tuple[tuple[bytes, bytes], ...], index: int) -> tuple[bytes, bytes]:
    if index >= len(static):
        raise _Unreadable
    return static[index]


def _integer(data: memoryview, offset: int, prefix: int) -> tuple[int, int]:
    return prefix_integer(data, offset, prefix, max_shift=56)


def _string(data: memoryview, offset: int, prefix: int) -> tuple[bytes, int]:
    return prefixed_string(data, offset, prefix, max_shift=56)
