"""RFC 7541 §5.1 prefix integers and §5.2 string literals, shared by the field-by-field HPACK and QPACK readers
(QPACK reuses both, with other prefix widths)."""

from __future__ import annotations

from hpack.huffman_table import decode_huffman


class Unreadable(Exception):
    """A field line that cannot be read: cut short, or an integer too long to be a real one."""


def prefix_integer(data: memoryview, offset: int, prefix: int, max_shift: int) -> tuple[int, int]:
    """The integer with a ``prefix``-bit prefix at ``offset``, and the offset after it. ``max_shift`` bounds the
    continuation bytes (a hostile encoder could otherwise make a number of any size)."""
    mask = (1 << prefix) - 1
    value = data[offset] & mask
    offset += 1
    if value < mask:
        return value, offset
    shift = 0
    while True:
        if offset >= len(data) or shift > max_shift:
            raise Unreadable
        byte = data[offset]
        offset += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def prefixed_string(data: memoryview, offset: int, prefix: int, max_shift: int) -> tuple[bytes, int]:
    """A string literal whose length has a ``prefix``-bit prefix, the Huffman flag being the bit just above it;
    returns (octets, next offset)."""
    if offset >= len(data):
        raise Unreadable
    huffman = bool(data[offset] & (1 << prefix))
    length, offset = prefix_integer(data, offset, prefix, max_shift)
    end = offset + length
    if end > len(data):
        raise Unreadable
    raw = bytes(data[offset:end])
    if huffman:
        try:
            raw = decode_huffman(raw)
        except Exception as exc:  # hpack raises its own decoding error type
            raise Unreadable from exc
    return raw, end
