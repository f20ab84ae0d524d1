"""HPACK decoding that keeps what it can when the dynamic table is only partly known.

A capture that starts mid-connection (or a connection whose header state broke) has header blocks that refer to
dynamic-table entries inserted before what the capture shows. The hpack library refuses such a block whole; this
decoder reads it field by field (RFC 7541): every field that uses the static table or a literal is kept, and
only the fields that need a missing entry are reported as unknown.

Why positions stay right: a dynamic-table index counts from the newest entry, and eviction only ever removes
the oldest. So the entries inserted since the decoder started are exactly indices 62, 63 ... whatever came
before; an index past them refers to the unknown older part. An insertion whose *name* refers to an unknown
entry still takes a slot (its value is a literal), so it is kept as an entry with an unknown name and later
indices stay aligned. Only bytes that cannot be parsed (a bad integer or Huffman string) make the rest of the
block and the table unknown; the table is then treated as unknown again from that point ("lost"), which is
the same situation as a capture that starts mid-connection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from hpack.table import HeaderTable

from pushscope.decode.field_primitives import Unreadable as _Unreadable
from pushscope.decode.field_primitives import prefix_integer, prefixed_string

STATIC = HeaderTable.STATIC_TABLE
STATIC_COUNT = len(STATIC)  # 61
ENTRY_OVERHEAD = 32
# Without a table size update in the capture the encoder's limit is unknown: keep this much, which is more
# than browsers allow (64 KiB). Keeping extra old entries never misplaces newer ones.
UNKNOWN_LIMIT = 64 * 1024
DEFAULT_LIMIT = 4096
UNKNOWN_NAME = "?"


@dataclass(slots=True)
class TolerantResult:
    """The fields read, in order, and the names of the fields that could not be (``?`` when even that is unknown)."""

    headers: list[tuple[bytes, bytes]]
    unknown_fields: list[str]
    unreadable: bool = False  # part of the block could not be parsed at all


class TolerantHpackDecoder:
    """One direction's HPACK state, as far as the capture shows it."""

    def __init__(self, *, state_known: bool = False) -> None:
        # Newest first; a name of None is an entry whose name the capture never showed.
        self._entries: deque[tuple[bytes | None, bytes, int]] = deque()
        self._size = 0
        # True when the table holds entries from before the capture (or before a loss) that we cannot see.
        self.older_unknown = not state_known
        self.limit = DEFAULT_LIMIT if state_known else UNKNOWN_LIMIT

    def decode(self, block: bytes) -> TolerantResult:
        result = TolerantResult([], [])
        data = memoryview(block)
        offset = 0
        try:
            while offset < len(data):
                offset = self._field(data, offset, result)
        except _Unreadable:
            result.unreadable = True
            result.unknown_fields.append(UNKNOWN_NAME)
            self._lose()
        return result

    # -- representations ---------------------------------------------------------------------------------

    def _field(self, data: memoryview, offset: int, result: TolerantResult) -> int:
        first = data[offset]
        if first & 0x80:  # indexed field
            index, offset = _integer(data, offset, 7)
            if index == 0:
                raise _Unreadable
            self._emit(self._lookup(index), result)
            return offset
        if first & 0xC0 == 0x40:  # literal with incremental indexing
            name, value, offset = self._literal(data, offset, 6)
            self._insert(name, value)
            self._emit((name, value), result)
            return offset
        if first & 0xE0 == 0x20:  # dynamic table size update
            size, offset = _integer(data, offset, 5)
            self._resize(size)
            return offset
        name, value, offset = self._literal(data, offset, 4)  # without indexing / never indexed
        self._emit((name, value), result)
        return offset

    def _literal(self, data: memoryview, offset: int, prefix: int) -> tuple[bytes | None, bytes | None, int]:
        index, offset = _integer(data, offset, prefix)
        if index:
            name = self._lookup(index)[0]
        else:
            name, offset = _string(data, offset)
        value, offset = _string(data, offset)
        return name, value, offset

    def _emit(self, field: tuple[bytes | None, bytes | None], result: TolerantResult) -> None:
        name, value = field
        if name is not None and value is not None:
            result.headers.append((name, value))
        else:
            result.unknown_fields.append(name.decode("latin-1") if name is not None else UNKNOWN_NAME)

    # -- the table -----------------------------------------------------------------------------------------

    def _lookup(self, index: int) -> tuple[bytes | None, bytes | None]:
        if index <= STATIC_COUNT:
            return STATIC[index - 1]
        position = index - STATIC_COUNT - 1
        if position < len(self._entries):
            name, value, _ = self._entries[position]
            return name, value
        if not self.older_unknown:
            raise _Unreadable  # past the end of a table we know whole: the encoder and we disagree
        return None, None

    def _insert(self, name: bytes | None, value: bytes | None) -> None:
        if value is None:
            value = b""  # cannot happen (values are literal), but keep the slot
        size = (len(name) if name is not None else 0) + len(value) + ENTRY_OVERHEAD
        if size > self.limit:
            # RFC 7541 4.4: an entry larger than the table empties it.
            self._entries.clear()
            self._size = 0
            return
        self._entries.appendleft((name, value, size))
        self._size += size
        self._evict()

    def _resize(self, size: int) -> None:
        if size == 0:
            self.older_unknown = False  # an empty table: everything after this is known
        self.limit = min(size, UNKNOWN_LIMIT)
        self._evict()

    def _evict(self) -> None:
        while self._size > self.limit and self._entries:
            _, _, size = self._entries.pop()
            self._size -= size

    def _lose(self) -> None:
        """The table can no longer be trusted: what follows sees it as a capture starting now would."""
        self._entries.clear()
        self._size = 0
        self.older_unknown = True
        self.limit = UNKNOWN_LIMIT


def _integer(data: memoryview, offset: int, prefix: int) -> tuple[int, int]:
    return prefix_integer(data, offset, prefix, max_shift=28)


def _string(data: memoryview, offset: int) -> tuple[bytes, int]:
    return prefixed_string(data, offset, 7, max_shift=28)


REQUEST_PSEUDO = (":method", ":scheme", ":authority", ":path")
RESPONSE_PSEUDO = (":status",)


def unknown_field_names(names: set[str], unknown: list[str], *, request: bool) -> tuple[str, ...]:
    """The names to report as unknown: those read, plus every pseudo-header the block lacks when some field's
    name itself is unknown (it may be that one). Saying ":path is unknown" is safe; guessing which is not."""
    anonymous = unknown.count(UNKNOWN_NAME)
    named = [name for name in unknown if name != UNKNOWN_NAME]
    if not anonymous:
        return tuple(named)
    present = names | set(named) | ({":authority"} if "host" in names else set())
    missing = [name for name in (REQUEST_PSEUDO if request else RESPONSE_PSEUDO) if name not in present]
    return tuple(named + missing + [UNKNOWN_NAME] * max(0, anonymous - len(missing)))
