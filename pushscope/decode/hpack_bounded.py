"""HPACK decoding (RFC 7541) with bounds a hostile encoder cannot push past, for a passive reader.

It decodes what the ``hpack`` library's Decoder decodes, raising its error types with its messages (tested
against it), but without three of its problems for a capture from an untrusted server:

* A header list limit that raises half-way through a block, leaving the dynamic table out of step with the
  encoder, so every later block of the connection decodes wrongly. Here the block is decoded to its end (the
  table stays in step) and only the headers past the limit are dropped: a 1-byte indexed field naming a 4 KiB
  table entry, repeated, can no longer turn a 200 kB block into gigabytes of header list.
* Each literal copies the rest of the block (``memoryview.tobytes()``): quadratic in the number of literals
  in a block. Here a literal's extent is read from its length prefixes first, and only that is copied.
* A dynamic table size update up to whatever ``max_allowed_table_size`` allows. Here a size above the bound is
  clamped (an encoder really using a larger table will then decode wrongly, and the anomaly says why).

Huffman-coded literals expand by at most 8/5, so a literal's decoded size is bounded by the block's size, which
the HTTP/2 decoder bounds in turn (``MAX_HEADER_BLOCK``). It is written for speed (a field is a few steps, no
per-field objects, no logging): it decodes every header block of every connection.
"""

from __future__ import annotations

from collections import deque

from hpack.exceptions import HPACKDecodingError, InvalidTableIndex
from hpack.table import HeaderTable

from pushscope.decode.huffman import decode_huffman

# Like SETTINGS_MAX_HEADER_LIST_SIZE: the decoded size (RFC 7541 entry sizes: name + value + 32) we keep per block.
MAX_HEADER_LIST_SIZE = 256 * 1024
# The largest dynamic table we let an encoder ask for; real ones use 4 KiB to 64 KiB.
MAX_TABLE_SIZE = 1024 * 1024
DEFAULT_TABLE_SIZE = 4096  # RFC 9113 SETTINGS_HEADER_TABLE_SIZE's initial value
ENTRY_OVERHEAD = 32
# Continuation bytes an integer may have (as hpack allows): enough for any real length or index.
MAX_CONTINUATION_SHIFT = 35

STATIC: tuple[tuple[bytes, bytes], ...] = tuple((name, value) for name, value in HeaderTable.STATIC_TABLE)
STATIC_COUNT = len(STATIC)  # 61

RawHeaders = list[tuple[bytes, bytes]]
Field = tuple[bytes, bytes]


class BoundedHpackDecoder:
    """One direction's HPACK decoder. ``decode_block`` returns the headers kept and the notes (anomalies) the
    block caused; it raises ``hpack.HPACKDecodingError`` only for a block that is not valid HPACK at all."""

    def __init__(self, max_header_list_size: int = MAX_HEADER_LIST_SIZE,
                 max_table_size: int = MAX_TABLE_SIZE) -> None:
        self.max_header_list_size = max_header_list_size
        self.max_allowed_table_size = max_table_size
        self._table: deque[Field] = deque()  # newest first: index 62 is self._table[0]
        self._table_size = 0  # RFC 7541 sizes of the entries held
        self._table_limit = DEFAULT_TABLE_SIZE

    @property
    def header_table_size(self) -> int:
        """The dynamic table's maximum size, as the encoder last set it (clamped)."""
        return self._table_limit

    def decode_block(self, data: bytes) -> tuple[RawHeaders, list[str]]:
        notes: list[str] = []
        headers: RawHeaders = []
        keep = headers.append
        table = self._table
        limit = self.max_header_list_size
        inflated = dropped = 0
        index, end = 0, len(data)
        field: Field
        while index < end:
            first = data[index]
            index += 1
            if first & 0x80:  # indexed field
                number = first & 0x7F
                if number == 0x7F:
                    number, index = _continued(data, index, number)
                if 0 < number <= STATIC_COUNT:
                    field = STATIC[number - 1]
                elif STATIC_COUNT < number <= STATIC_COUNT + len(table):
                    field = table[number - STATIC_COUNT - 1]
                else:
                    raise InvalidTableIndex(f"Invalid table index {number}")
            elif first & 0x40:  # literal with incremental indexing
                field, index = self._literal(data, index, first & 0x3F, 0x3F)
                self._insert(field)
            elif first & 0x20:  # dynamic table size update
                if headers or dropped:
                    raise HPACKDecodingError("Table size update not at the start of the block")
                size = first & 0x1F
                if size == 0x1F:
                    size, index = _continued(data, index, size)
                self._resize(size, notes)
                continue
            else:  # literal without indexing, or never indexed
                field, index = self._literal(data, index, first & 0x0F, 0x0F)
            inflated += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if inflated > limit:
                dropped += 1  # decoded (the table stays in step) but not kept
            else:
                keep(field)
        if dropped:
            notes.append(f"header list over {limit} bytes (decoded size {inflated}): "
                         f"{dropped} header fields past the limit not kept")
        return headers, notes

    def _literal(self, data: bytes, index: int, name_index: int, mask: int) -> tuple[Field, int]:
        """The literal field whose first byte (holding ``name_index``'s prefix) is just before ``index``.
        Its extent is read first (lengths, truncation), then its name and value, as hpack does."""
        end = len(data)
        if name_index == mask:
            name_index, index = _continued(data, index, name_index)
        name_start = name_end = 0
        if not name_index:  # a literal name
            name_start, index = _length(data, index)
            name_end = index
        if index >= end:
            raise HPACKDecodingError("Truncated header block")
        first = data[index]  # the value's length prefix, read here rather than by _length: most fields have one
        length = first & 0x7F
        index += 1
        if length == 0x7F:
            length, index = _continued(data, index, length)
        value_start = index
        index += length
        if index > end:
            raise HPACKDecodingError("Truncated header block")
        if name_index:
            name = self._name(name_index)
        else:
            name = _string(data, name_start, name_end)
        value = decode_huffman(data[value_start:index]) if first & 0x80 else data[value_start:index]
        return (name, value), index

    def _name(self, index: int) -> bytes:
        if 0 < index <= STATIC_COUNT:
            return STATIC[index - 1][0]
        position = index - STATIC_COUNT - 1
        if 0 <= position < len(self._table):
            return self._table[position][0]
        raise InvalidTableIndex(f"Invalid table index {index}")

    def _insert(self, field: Field) -> None:
        size = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
        if size > self._table_limit:  # RFC 7541 4.4: an entry larger than the table empties it
            self._table.clear()
            self._table_size = 0
            return
        self._table.appendleft(field)
        self._table_size += size
        self._evict()

    def _resize(self, size: int, notes: list[str]) -> None:
        if size > self.max_allowed_table_size:
            notes.append(f"HPACK dynamic table size update to {size} bytes clamped to "
                         f"{self.max_allowed_table_size}: later header blocks may decode wrongly")
            size = self.max_allowed_table_size
        self._table_limit = size
        self._evict()

    def _evict(self) -> None:
        table, limit = self._table, self._table_limit
        while self._table_size > limit:
            name, value = table.pop()
            self._table_size -= len(name) + len(value) + ENTRY_OVERHEAD


def _continued(data: bytes, index: int, number: int) -> tuple[int, int]:
    """An integer whose prefix was full (``number``): add its continuation bytes from ``index`` on."""
    shift = 0
    end = len(data)
    while True:
        if index >= end:
            raise HPACKDecodingError("Unable to decode HPACK integer representation: the block ends inside it")
        byte = data[index]
        index += 1
        number += (byte & 0x7F) << shift
        if byte < 0x80:
            return number, index
        shift += 7
        if shift >= MAX_CONTINUATION_SHIFT:
            raise HPACKDecodingError("Variable integer representation is too long")


def _length(data: bytes, index: int) -> tuple[int, int]:
    """A string literal's start (with its Huffman flag as a sign: negative when Huffman-coded) and end."""
    if index >= len(data):
        raise HPACKDecodingError("Unable to decode HPACK integer representation: the block ends inside it")
    first = data[index]
    length = first & 0x7F
    index += 1
    if length == 0x7F:
        length, index = _continued(data, index, length)
    return (-index if first & 0x80 else index), index + length


def _string(data: bytes, start: int, end: int) -> bytes:
    """The octets of the literal at ``start`` (negative: Huffman-coded, at ``-start``) to ``end``."""
    if start >= 0:
        return data[start:end]
    return decode_huffman(data[-start:end])


def bounded_header_list(headers: RawHeaders, limit: int = MAX_HEADER_LIST_SIZE) -> RawHeaders:
    """The leading fields of ``headers`` whose RFC 7541 sizes (name + value + 32) add up to at most ``limit``."""
    size = 0
    for count, (name, value) in enumerate(headers):
        size += len(name) + len(value) + 32
        if size > limit:
            return headers[:count]
    return headers
