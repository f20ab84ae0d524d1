"""The frames of one stream (or of a connection's own streams), packed: the detail pane's frame timeline.

A capture holds millions of frames and a record object per frame cost ~200 bytes; here a frame is 17 bytes (time,
length, and the index of its kind), and what repeats within a log (sender, frame type, flags, stream) is kept once
per log as a kind. ``FrameRecord`` objects are made on reading, so a log reads like the list it replaces.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

from pushscope.events import Side

_RECORD = struct.Struct("<dqB")  # at, length, kind index
_T = TypeVar("_T")
_SPILLED = 0xFF  # kind index of a record kept whole in ``_spilled`` (a log with more kinds than an index holds)
_EMPTY = b""
_pack = _RECORD.pack
# Kinds, and the tuples of kinds a compacted log holds, recur across streams and connections (stream 1's HEADERS
# and DATA on every connection): one shared object each. Bounded: the memo starts over when full.
_SHARED: dict[object, object] = {}
SHARED_ENTRIES = 1 << 16

Kind = tuple[Side, int, tuple[str, ...], "int | None", bool]  # sender, frame type, flags, stream, a QUIC frame?


@dataclass(slots=True)
class FrameRecord:
    """One frame on the per-stream timeline shown in the detail pane.

    ``frame_type`` is the connection protocol's integer type (see ``FrameReceived``), named only by the views
    (``decode.frame_names``); ``quic`` marks a QUIC frame (RESET_STREAM, STOP_SENDING) on an HTTP/3 stream's
    timeline, whose type is QUIC's.
    """

    at: float
    sender: Side
    frame_type: int
    length: int
    flags: tuple[str, ...] = ()
    stream_id: int | None = None
    quic: bool = False


class FrameLog(Sequence[FrameRecord]):
    """An append-only sequence of frame records in packed form; equal to a list holding the same records."""

    __slots__ = ("_packed", "_kinds", "_spilled")

    def __init__(self, records: Iterable[FrameRecord] = ()) -> None:
        self._packed: bytes | bytearray = _EMPTY
        self._kinds: list[Kind] | tuple[Kind, ...] = ()
        self._spilled: dict[int, FrameRecord] | None = None
        for record in records:
            self.append(record)

    def add(self, at: float, sender: Side, frame_type: int, length: int, flags: tuple[str, ...] = (),
            stream_id: int | None = None, quic: bool = False) -> None:
        # This runs for every frame of a capture: the common case (a kind the log has seen) is one index() call.
        kind = (sender, frame_type, flags, stream_id, quic)
        try:
            index = self._kinds.index(kind)
        except ValueError:
            index = self._new_kind(kind)
        packed = self._packed
        if type(packed) is not bytearray:
            packed = self._packed = bytearray(packed)
        if index == _SPILLED:
            if self._spilled is None:
                self._spilled = {}
            self._spilled[len(packed) // _RECORD.size] = FrameRecord(at, sender, frame_type, length, flags, stream_id,
                                                                     quic)
        packed += _pack(at, length, index)

    def _new_kind(self, kind: Kind) -> int:
        kinds = self._kinds
        if type(kinds) is not list:
            kinds = self._kinds = list(kinds)
        if len(kinds) >= _SPILLED:
            return _SPILLED
        kinds.append(_shared(kind))
        return len(kinds) - 1

    def append(self, record: FrameRecord) -> None:
        self.add(record.at, record.sender, record.frame_type, record.length, record.flags, record.stream_id,
                 record.quic)

    def compact(self) -> None:
        """Done growing: no spare room kept for appends (an append still works, at the cost of a copy)."""
        if type(self._packed) is bytearray:
            self._packed = bytes(self._packed)
        if type(self._kinds) is list:
            self._kinds = _shared(tuple(self._kinds))

    def _record(self, position: int) -> FrameRecord:
        at, length, index = _RECORD.unpack_from(self._packed, position * _RECORD.size)
        if index == _SPILLED:
            assert self._spilled is not None
            return self._spilled[position]
        sender, frame_type, flags, stream_id, quic = self._kinds[index]
        return FrameRecord(at, sender, frame_type, length, flags, stream_id, quic)

    def __len__(self) -> int:
        return len(self._packed) // _RECORD.size

    @overload
    def __getitem__(self, index: int) -> FrameRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[FrameRecord]: ...

    def __getitem__(self, index: int | slice) -> FrameRecord | list[FrameRecord]:
        count = len(self)
        if isinstance(index, slice):
            return [self._record(position) for position in range(*index.indices(count))]
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("frame log index out of range")
        return self._record(index)

    def __iter__(self) -> Iterator[FrameRecord]:
        return (self._record(position) for position in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self._packed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (FrameLog, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrameLog({list(self)!r})"

    def __reduce__(self) -> tuple[object, tuple[bytes, tuple[Kind, ...], dict[int, FrameRecord] | None]]:
        return _restore, (bytes(self._packed), tuple(self._kinds), self._spilled)


def _restore(packed: bytes, kinds: tuple[Kind, ...], spilled: dict[int, FrameRecord] | None) -> FrameLog:
    log = FrameLog()
    log._packed, log._kinds, log._spilled = packed, kinds, spilled
    return log


def _shared(value: _T) -> _T:
    shared: _T | None = _SHARED.get(value)  # type: ignore[assignment]
    if shared is None:
        if len(_SHARED) >= SHARED_ENTRIES:
            _SHARED.clear()
        shared = _SHARED[value] = value
    return shared
