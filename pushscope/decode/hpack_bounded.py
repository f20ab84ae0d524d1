"""HPACK decoding with bounds a hostile encoder cannot push past, for a passive reader.

The ``hpack`` library's decoder has three problems for a capture from an untrusted server:

* A header list limit that raises half-way through a block, leaving the dynamic table out of step with the
  encoder, so every later block of the connection decodes wrongly. Here the block is decoded to its end (the
  table stays in step) and only the headers past the limit are dropped: a 1-byte indexed field naming a 4 KiB
  table entry, repeated, can no longer turn a 200 kB block into gigabytes of header list.
* Each literal copies the rest of the block (``memoryview.tobytes()``): quadratic in the number of literals
  in a block. Here a literal's extent is read from its length prefixes first, and only that is copied.
* A dynamic table size update up to whatever ``max_allowed_table_size`` allows. Here a size above the bound is
  clamped (an encoder really using a larger table will then decode wrongly, and the anomaly says why).

Huffman-coded literals expand by at most 8/5, so a literal's decoded size is bounded by the block's size, which
the HTTP/2 decoder bounds in turn (``MAX_HEADER_BLOCK``).
"""

from __future__ import annotations

import hpack
from hpack.hpack import decode_integer, table_entry_size

# Like SETTINGS_MAX_HEADER_LIST_SIZE: the decoded size (RFC 7541 entry sizes: name + value + 32) we keep per block.
MAX_HEADER_LIST_SIZE = 256 * 1024
# The largest dynamic table we let an encoder ask for; real ones use 4 KiB to 64 KiB.
MAX_TABLE_SIZE = 1024 * 1024

RawHeaders = list[tuple[bytes, bytes]]


class BoundedHpackDecoder(hpack.Decoder):
    """``decode_block`` returns the headers kept and the notes (anomalies) the block caused; it raises
    ``hpack.HPACKError`` (or ValueError/IndexError) only for a block that is not valid HPACK at all."""

    def __init__(self, max_header_list_size: int = MAX_HEADER_LIST_SIZE,
                 max_table_size: int = MAX_TABLE_SIZE) -> None:
        super().__init__(max_header_list_size)
        self.max_allowed_table_size = max_table_size
        self._notes: list[str] = []

    def decode_block(self, data: bytes) -> tuple[RawHeaders, list[str]]:
        self._notes = []
        view = memoryview(data)
        headers: RawHeaders = []
        inflated = dropped = 0
        index, end = 0, len(data)
        while index < end:
            first = data[index]
            if first & 0x80:
                header, consumed = self._decode_indexed(view[index:])
            elif first & 0x40:
                consumed = _literal_extent(view, index, 6, end)
                header, _ = self._decode_literal(view[index:index + consumed].tobytes(), should_index=True)
            elif first & 0x20:
                if headers or dropped:
                    raise hpack.HPACKDecodingError("Table size update not at the start of the block")
                consumed = self._update_encoding_context(view[index:])
                header = None
            else:
                consumed = _literal_extent(view, index, 4, end)
                header, _ = self._decode_literal(view[index:index + consumed].tobytes(), should_index=False)
            index += consumed
            if header is None:
                continue
            inflated += table_entry_size(header[0], header[1])
            if inflated > self.max_header_list_size:
                dropped += 1  # decoded (the table stays in step) but not kept
            else:
                headers.append((bytes(header[0]), bytes(header[1])))
        if dropped:
            self._notes.append(f"header list over {self.max_header_list_size} bytes (decoded size {inflated}): "
                               f"{dropped} header fields past the limit not kept")
        return headers, self._notes

    def _update_encoding_context(self, data: bytes | memoryview) -> int:
        new_size, consumed = decode_integer(data, 5)
        if new_size > self.max_allowed_table_size:
            self._notes.append(f"HPACK dynamic table size update to {new_size} bytes clamped to "
                               f"{self.max_allowed_table_size}: later header blocks may decode wrongly")
            new_size = self.max_allowed_table_size
        self.header_table_size = new_size
        return consumed


def _literal_extent(view: memoryview, start: int, name_prefix: int, end: int) -> int:
    """How many bytes the literal field at ``start`` spans, from its length prefixes, without copying it."""
    name_index, consumed = decode_integer(view[start:], name_prefix)
    position = start + consumed
    if not name_index:  # a literal name follows the first byte
        length, consumed = decode_integer(view[position:], 7)
        position += consumed + length
    if position >= end:
        raise hpack.HPACKDecodingError("Truncated header block")
    length, consumed = decode_integer(view[position:], 7)
    position += consumed + length
    if position > end:
        raise hpack.HPACKDecodingError("Truncated header block")
    return position - start


def bounded_header_list(headers: RawHeaders, limit: int = MAX_HEADER_LIST_SIZE) -> RawHeaders:
    """The leading fields of ``headers`` whose RFC 7541 sizes (name + value + 32) add up to at most ``limit``."""
    size = 0
    for count, (name, value) in enumerate(headers):
        size += len(name) + len(value) + 32
        if size > limit:
            return headers[:count]
    return headers
