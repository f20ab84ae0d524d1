"""How a model is laid out in its cache entry: a shell, then its lists in pieces, each its own pickle, the
exchanges indexed so that one piece can be read alone (``kept_model``).

``write_model`` writes the payload (the cache frames it: magic, length); ``read_model`` reads it whole.
"""

from __future__ import annotations

import copy
import io
import pickle
import struct
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

from pushscope.model.entities import Capture
from pushscope.model.pickling import Columns, ModelPickler, SharedNumbers, columns_of, rows_from_columns

# The model is written as a shell and its lists in pieces, each its own pickle: pickle keeps every object it wrote
# or read (the per-object state dicts too) until the end of one pickle, which for a whole model made writing and
# reading it cost about 2.5 times its size. Objects shared between pieces (header fields, kinds of frames) are
# written once per piece instead.
MODEL_PIECE = 1000
# The exchanges come after the connections and pushes and are indexed, so that the inspector reads only what it
# shows (``kept_model``): their pieces' places and checksums in a pickled ``ExchangeIndex`` after the last list,
# whose own place ends the entry.
TRAILER = struct.Struct(">Q")
_SECTIONS = ("connections", "pushes", "exchanges", "conversations")


@dataclass(frozen=True, slots=True)
class ExchangeIndex:
    """Where each piece of a kept model's exchanges lies in its entry (offsets from the payload's start), with a
    CRC-32 of its bytes; ``end``: where the last piece ends."""

    count: int
    piece: int
    offsets: tuple[int, ...]
    checksums: tuple[int, ...]
    end: int

    def as_written(self) -> tuple[object, ...]:
        return ("exchange pieces", self.count, self.piece, self.offsets, self.checksums, self.end)

    @classmethod
    def read(cls, value: object, index_at: int) -> ExchangeIndex:
        """The index a model's entry holds, checked (ValueError): pieces in order, each where the last ended,
        as many as its exchanges fill, all before the index itself."""
        if type(value) is not tuple or len(value) != 6 or value[0] != "exchange pieces":
            raise ValueError("no exchange index")
        _, count, piece, offsets, checksums, end = value
        numbers = (count, piece, end, *offsets, *checksums) if type(offsets) is type(checksums) is tuple else ()
        if not numbers or any(type(number) is not int or number < 0 for number in numbers):
            raise ValueError("an exchange index that is not numbers")
        if piece < 1 or len(offsets) != -(-count // piece) or len(checksums) != len(offsets):
            raise ValueError("an exchange index that does not fit its exchanges")
        places = (*offsets, end)
        if any(later <= earlier for earlier, later in zip(places, places[1:], strict=False)) or end >= index_at:
            raise ValueError("exchange pieces out of order")
        return cls(count, piece, offsets, checksums, end)

    def span(self, number: int) -> tuple[int, int]:
        """Where piece ``number`` starts and ends."""
        return self.offsets[number], self.offsets[number + 1] if number + 1 < len(self.offsets) else self.end


def write_model(capture: Capture, handle: BinaryIO) -> None:
    from pushscope.analysis.evidence import Explanation
    from pushscope.analysis.kept_evidence import keep_explanation

    parts: dict[str, list[Any]] = {"connections": list(capture.connections.items()), "pushes": capture.pushes,
                                   "exchanges": capture.exchanges, "conversations": capture.conversations}
    shell = copy.copy(capture)
    shell.connections, shell.exchanges, shell.pushes, shell.conversations = {}, [], [], []
    shell._push_by_exchange, shell._pushes_indexed = {}, 0  # indexes, rebuilt on use
    shell._pushes_by_stream, shell._pushes_unplaced, shell._pushes_placed = {}, [], 0
    # Streamed, a piece at a time. A push's evidence is kept as its facts, not rendered (``kept_evidence``).
    buffer = io.BytesIO()
    pickler = ModelPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL, reducers={Explanation: keep_explanation})
    base = handle.tell()

    def dump(piece: object) -> int:
        """Write one pickle; its CRC-32."""
        buffer.seek(0)
        buffer.truncate()
        pickler.dump(piece)
        pickler.clear_memo()  # each piece is read by a fresh unpickler
        data = buffer.getbuffer()
        handle.write(data)
        checksum = zlib.crc32(data)
        data.release()
        return checksum

    dump(shell)
    offsets: list[int] = []
    checksums: list[int] = []
    end = 0
    for name in _SECTIONS:
        items = parts[name]
        for start in range(0, len(items), MODEL_PIECE):
            piece = items[start:start + MODEL_PIECE]
            at = handle.tell() - base
            checksum = dump(columns_of(piece) or piece)  # as columns: equal numbers are one object when read back
            if name == "exchanges":
                offsets.append(at)
                checksums.append(checksum)
        if name == "exchanges":
            end = handle.tell() - base
        dump(None)
    index_at = handle.tell() - base
    dump(ExchangeIndex(len(capture.exchanges), MODEL_PIECE, tuple(offsets), tuple(checksums), end).as_written())
    handle.write(TRAILER.pack(index_at))


def read_section(handle: BinaryIO, numbers: SharedNumbers, offsets: list[int] | None = None,
                 base: int = 0) -> list[Any]:
    """One of a kept model's lists, piece after piece up to its end mark; ``offsets``: where each piece began
    (from ``base``) is added to it."""
    items: list[Any] = []
    while True:
        at = handle.tell() - base
        piece = pickle.load(handle)
        if piece is None:
            return items
        if offsets is not None:
            offsets.append(at)
        if type(piece) is Columns:
            items += rows_from_columns(piece, numbers)
        elif type(piece) is list:
            items += piece
        else:
            raise ValueError("a piece of a model that is not a list")


def read_shell(handle: BinaryIO) -> Capture:
    capture = pickle.load(handle)
    if not isinstance(capture, Capture):
        raise ValueError("not a capture")
    return capture


def read_exchange_index(handle: BinaryIO, base: int, length: int) -> tuple[ExchangeIndex, int]:
    """The index that ends an entry of ``length`` bytes from ``base``, and where it starts (ValueError: broken)."""
    if length < TRAILER.size:
        raise ValueError("no exchange index")
    handle.seek(base + length - TRAILER.size)
    index_at: int = TRAILER.unpack(handle.read(TRAILER.size))[0]
    if index_at >= length - TRAILER.size:
        raise ValueError("an exchange index past the entry's end")
    handle.seek(base + index_at)
    index = ExchangeIndex.read(pickle.load(handle), index_at)
    if handle.tell() - base != length - TRAILER.size:
        raise ValueError("an exchange index that does not end where the entry does")
    handle.seek(base + length)
    return index, index_at


def read_model(handle: BinaryIO) -> Capture:
    base = handle.tell()
    capture = read_shell(handle)
    numbers = SharedNumbers()  # (a moment shown by exchanges of two pieces is one float, as when it was built)
    offsets: list[int] = []
    connections, capture.pushes, capture.exchanges, capture.conversations = [
        read_section(handle, numbers, offsets if name == "exchanges" else None, base) for name in _SECTIONS]
    capture.connections = dict(connections)
    index_at = handle.tell() - base
    index = ExchangeIndex.read(pickle.load(handle), index_at)
    trailer = handle.read(TRAILER.size)
    if len(trailer) != TRAILER.size or TRAILER.unpack(trailer)[0] != index_at:
        raise ValueError("an entry that does not end with its exchange index's place")
    if index.count != len(capture.exchanges) or index.offsets != tuple(offsets):
        raise ValueError("an exchange index that is not the exchanges'")
    if capture.pushes:
        from pushscope.analysis.kept_evidence import restore_explanations

        restore_explanations(capture)
    return capture
