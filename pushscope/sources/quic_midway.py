"""Where to start reading a QUIC stream that began before the capture did (a connection decrypted without its
handshake), so that HTTP/3 can still be decoded from it.

A unidirectional stream starts with its type, a varint of one byte for the three streams every HTTP/3 endpoint
opens first: control (0x00), QPACK encoder (0x02) and QPACK decoder (0x03). aioquic, Chrome, quiche, nginx and
h2o open them in that order, so a peer's first three unidirectional streams (stream IDs 2/3, 6/7, 10/11) are
taken to be those. When the first byte we see is at offset 1, only the type byte is missing and the rest is
read exactly.

An encoder's first instruction is always Set Dynamic Table Capacity (the table starts at capacity 0, so no
insertion can come before it), written in 1 to 4 bytes; an encoder stream first seen at offset 2 to 5 is
therefore missing exactly its type and that instruction, and every insertion after it is seen: the dynamic
table is rebuilt from there with a capacity we choose (large enough for any real one: entries are addressed by
absolute index, so keeping more of them changes nothing). Both endpoints' SETTINGS are missing too, so the
tables' maximum is that same guess (:data:`MIDWAY_TABLE_CAPACITY`); a header block's Required Insert Count
decodes right with it as long as the connection made fewer insertions than the real maximum allows entries.

Anything else that began before the capture (a stream missing more, a request under way) is left waiting for
bytes that never come: its gap is reported at the end, and nothing is guessed.
"""

from __future__ import annotations

CONTROL, QPACK_ENCODER, QPACK_DECODER = 0x00, 0x02, 0x03
UNIDIRECTIONAL_TYPE_BY_INDEX = {0: CONTROL, 1: QPACK_ENCODER, 2: QPACK_DECODER}
MIDWAY_TABLE_CAPACITY = 1 << 16
SET_CAPACITY_MAX_LENGTH = 4


def midway_stream_start(stream_id: int, first_offset: int) -> tuple[int, bytes] | None:
    """(offset to read from, the bytes taken to precede it) for a stream first seen at ``first_offset``, or
    None to read it from offset 0 as usual."""
    if first_offset < 1 or not stream_id & 0x02:
        return None
    stream_type = UNIDIRECTIONAL_TYPE_BY_INDEX.get(stream_id >> 2)
    if stream_type is None:
        return None
    if first_offset == 1:
        return 1, bytes([stream_type])
    if stream_type == QPACK_ENCODER and first_offset <= 1 + SET_CAPACITY_MAX_LENGTH:
        return first_offset, bytes([stream_type]) + set_dynamic_table_capacity(MIDWAY_TABLE_CAPACITY)
    return None


def set_dynamic_table_capacity(capacity: int) -> bytes:
    """The QPACK encoder instruction (RFC 9204 4.3.1): 001 and a 5-bit-prefix integer."""
    if capacity < 31:
        return bytes([0x20 | capacity])
    out = bytearray([0x20 | 31])
    capacity -= 31
    while capacity >= 128:
        out.append(capacity & 0x7F | 0x80)
        capacity >>= 7
    out.append(capacity)
    return bytes(out)
