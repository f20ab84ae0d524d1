"""RFC 7541 Huffman decoding a byte at a time, with the same results and errors as the ``hpack`` library's.

hpack walks its state machine (nghttp2's) a nibble at a time; here two nibble steps are folded into one table
entry per (state, byte), built on first use from hpack's own table, so the two cannot disagree. A failed step
leads to a sink state that every byte keeps, so the loop needs no test: the state after the last byte says
whether the string was invalid, and the last step's flag whether it ended where a string may end.

Short strings (the same header values come back on every exchange) are memoised; the memo is bounded and starts
over when full, since a hostile capture can make every string different.
"""

from __future__ import annotations

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import HUFFMAN_COMPLETE, HUFFMAN_EMIT_SYMBOL, HUFFMAN_FAIL, HUFFMAN_TABLE

STATES = 256  # hpack's machine; state 256 is the sink a failed step leads to
SINK = STATES * 256  # the sink's row offset
MEMO_ENTRIES = 4096
MEMO_STRING = 48  # encoded bytes: longer strings are rarely repeated

# Per (state * 256 + byte): the next state's row offset, the bytes emitted, whether the string may end there.
_next: list[int] = []
_emitted: list[bytes] = []
_accepting = bytearray()
_memo: dict[bytes, bytes] = {}


def decode_huffman(encoded: bytes) -> bytes:
    """The octets that ``encoded`` codes; raises HPACKDecodingError for an invalid or incomplete string."""
    if not encoded:
        return b""
    short = len(encoded) <= MEMO_STRING
    if short:
        known = _memo.get(encoded)
        if known is not None:
            return known
    if not _next:
        _build()
    next_row, emitted = _next, _emitted
    row = index = 0
    parts: list[bytes] = []
    append = parts.append
    for byte in encoded:
        index = row + byte
        row = next_row[index]
        append(emitted[index])
    if row == SINK:
        raise HPACKDecodingError("Invalid Huffman string")
    if not _accepting[index]:
        raise HPACKDecodingError("Incomplete Huffman string")
    decoded = b"".join(parts)
    if short:
        if len(_memo) >= MEMO_ENTRIES:
            _memo.clear()
        _memo[encoded] = decoded
    return decoded


def _build() -> None:
    rows = [state * 256 for state in range(STATES + 1)]  # shared int objects: the table holds references only
    singles = [bytes([octet]) for octet in range(256)]
    pairs: dict[tuple[int, int], bytes] = {}
    next_row: list[int] = []
    emitted: list[bytes] = []
    accepting = bytearray()
    for state in range(STATES):
        for byte in range(256):
            high_state, high_flags, high_out = HUFFMAN_TABLE[state * 16 + (byte >> 4)]
            low_state, low_flags, low_out = HUFFMAN_TABLE[high_state * 16 + (byte & 0x0F)]
            failed = (high_flags | low_flags) & HUFFMAN_FAIL
            high = high_out if high_flags & HUFFMAN_EMIT_SYMBOL else -1
            low = low_out if low_flags & HUFFMAN_EMIT_SYMBOL else -1
            if failed:
                out = b""
            elif high >= 0 and low >= 0:
                out = pairs.setdefault((high, low), singles[high] + singles[low])
            else:
                out = singles[high] if high >= 0 else singles[low] if low >= 0 else b""
            next_row.append(SINK if failed else rows[low_state])
            emitted.append(out)
            accepting.append(1 if not failed and low_flags & HUFFMAN_COMPLETE else 0)
    next_row.extend([SINK] * 256)  # the sink keeps every byte
    emitted.extend([b""] * 256)
    accepting.extend(bytes(256))
    _emitted[:] = emitted
    _accepting[:] = accepting
    _next[:] = next_row  # last: it is what says the table is built
