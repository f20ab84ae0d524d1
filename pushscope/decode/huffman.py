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
    """Fold hpack's nibble machine into a byte machine: the row of a state is, for each high nibble, the step it
    takes followed by the 16 steps of the state it reaches (one list per state, built once)."""
    rows = [state * 256 for state in range(STATES + 1)]  # shared int objects: the table holds references only
    singles = [bytes([octet]) for octet in range(256)]
    shared: dict[bytes, bytes] = {}
    # Per state: its 16 nibble steps.
    low_next: list[list[int]] = []
    low_out: list[list[bytes]] = []
    low_accepting: list[bytes] = []
    for state in range(STATES):
        steps = HUFFMAN_TABLE[state * 16 : state * 16 + 16]
        low_next.append([SINK if flags & HUFFMAN_FAIL else rows[target] for target, flags, _ in steps])
        low_out.append([singles[out] if flags & HUFFMAN_EMIT_SYMBOL and not flags & HUFFMAN_FAIL else b""
                        for _, flags, out in steps])
        low_accepting.append(bytes(1 if flags & HUFFMAN_COMPLETE and not flags & HUFFMAN_FAIL else 0
                                   for _, flags, _ in steps))
    next_row: list[int] = []
    emitted: list[bytes] = []
    accepting = bytearray()
    failed = ([SINK] * 16, [b""] * 16, bytes(16))
    for state in range(STATES):
        for target, flags, out in HUFFMAN_TABLE[state * 16 : state * 16 + 16]:
            if flags & HUFFMAN_FAIL:
                next_step, out_step, accepting_step = failed
            else:
                next_step, out_step, accepting_step = low_next[target], low_out[target], low_accepting[target]
                if flags & HUFFMAN_EMIT_SYMBOL:  # one symbol or two from the byte: each pair kept once, shared
                    joined = [singles[out] + second for second in out_step]
                    out_step = [shared.setdefault(both, both) for both in joined]
            next_row += next_step
            emitted += out_step
            accepting += accepting_step
    next_row += [SINK] * 256  # the sink keeps every byte
    emitted += [b""] * 256
    accepting += bytes(256)
    _emitted[:] = emitted
    _accepting[:] = accepting
    _next[:] = next_row  # last: it is what says the table is built
