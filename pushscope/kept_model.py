"""A kept model read as its rows are shown: the inspector's reopen without the model's exchanges in memory.

A reopened gigabyte showed its kept view in a second, then read the whole model beside it (700 MiB of exchanges)
for the detail pane, which shows one exchange at a time. Here the connections and pushes are read (what the pane
lists for any row), and an exchange's piece of ``MODEL_PIECE`` only when one of them is asked for, found through the
entry's ``ExchangeIndex`` and checked against its CRC-32. A report of the whole capture (export) reads the whole
model then (``whole``).

The entry is held open: another run evicting or replacing it meanwhile changes nothing of what this one reads.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pushscope.analysis.kept_evidence import KeptExplanation
from pushscope.cache import MAGIC, CaptureCache, entry_length
from pushscope.model.entities import Capture, Connection, Exchange, Push
from pushscope.model.pickling import Columns, SharedNumbers, rows_from_columns
from pushscope.model_entry import ExchangeIndex, read_exchange_index, read_model, read_section, read_shell

READ_BUFFER = 1 << 20  # bytes read at a time by ``whole``
PIECES_KEPT = 8  # exchange pieces kept read (a pushed exchange, its document and their neighbours)


class KeptModelError(Exception):
    """Part of a kept model could not be read (the entry is damaged, or its disk failed)."""


class KeptModel:
    """A model kept in the cache, read on demand: answers ``ModelDetails`` as the capture it was made from does."""

    def __init__(self, descriptor: int, base: int, shell: Capture, index: ExchangeIndex) -> None:
        self._descriptor = descriptor
        self._base = base  # where the entry's payload starts
        self._shell = shell  # connections and pushes; no exchanges
        self._index = index
        self._pieces: OrderedDict[int, list[Exchange]] = OrderedDict()
        self._lock = threading.Lock()  # (over the pieces kept and the descriptor: ``close`` waits for a read)

    @classmethod
    def open(cls, path: Path) -> KeptModel:
        """The entry at ``path``, its connections, pushes and exchange index read and checked (ValueError or
        OSError when it is not a whole entry of this version)."""
        descriptor = os.open(path, os.O_RDONLY)
        try:
            with os.fdopen(os.dup(descriptor), "rb") as handle:
                length = entry_length(handle, MAGIC)
                base = handle.tell()
                if os.fstat(descriptor).st_size != base + length:
                    raise ValueError("truncated entry")
                shell = read_shell(handle)
                numbers = SharedNumbers()
                connections = read_section(handle, numbers)
                shell.pushes = read_section(handle, numbers)
                exchanges_at = handle.tell() - base
                index, _ = read_exchange_index(handle, base, length)
            if (index.offsets[0] if index.offsets else index.end) != exchanges_at:
                raise ValueError("an exchange index that does not start where the exchanges do")
            shell.connections = dict(connections)
            if not all(type(conn) is Connection for conn in shell.connections.values()) or \
                    not all(type(push) is Push for push in shell.pushes):
                raise ValueError("connections or pushes that are not")
            return cls(descriptor, base, shell, index)
        except BaseException:
            os.close(descriptor)
            raise

    # --- ModelDetails -------------------------------------------------------------------------------------

    @property
    def started_at(self) -> float | None:
        return self._shell.started_at

    @property
    def connections(self) -> Mapping[str, Connection]:
        return self._shell.connections

    @property
    def pushes(self) -> Sequence[Push]:
        return self._shell.pushes

    @property
    def probed(self) -> bool:
        return self._shell.probed

    def exchange(self, exchange_id: int | None) -> Exchange | None:
        if type(exchange_id) is not int or not 0 <= exchange_id < self._index.count:
            return None
        number, place = divmod(exchange_id, self._index.piece)
        exchange = self._piece(number)[place]
        if exchange.id != exchange_id:
            raise KeptModelError(f"the kept model's exchange {exchange_id} is not in its place")
        return exchange

    def push(self, push_id: int | None) -> Push | None:
        push = self._shell.push(push_id)
        if push is not None:
            evidence: object = push.evidence
            if type(evidence) is KeptExplanation:
                try:
                    push.evidence = evidence.restored(push, self)
                except ValueError as exc:
                    raise KeptModelError(f"the kept evidence of push {push_id} names what the model lacks: {exc}"
                                         ) from exc
        return push

    def pushes_on_stream(self, connection_id: str, stream_id: int | None) -> list[Push]:
        return self._shell.pushes_on_stream(connection_id, stream_id)

    # --- the rest -----------------------------------------------------------------------------------------

    @property
    def exchange_count(self) -> int:
        return self._index.count

    def whole(self) -> Capture:
        """The whole model, read from the entry this was opened on (seconds at a gigabyte); KeptModelError when it
        does not read. Not under the lock: the detail pane goes on reading pieces meanwhile."""
        try:
            with io.BufferedReader(_PositionedReader(self._descriptor, self._base), READ_BUFFER) as handle:
                return read_model(handle)
        except Exception as exc:  # (unpickling damaged bytes can raise nearly anything)
            raise KeptModelError(f"the kept model could not be read: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._pieces.clear()
            if self._descriptor >= 0:
                os.close(self._descriptor)
                self._descriptor = -1

    def _piece(self, number: int) -> list[Exchange]:
        with self._lock:
            piece = self._pieces.get(number)
            if piece is not None:
                self._pieces.move_to_end(number)
                return piece
            piece = self._read_piece(number)
            self._pieces[number] = piece
            if len(self._pieces) > PIECES_KEPT:
                self._pieces.popitem(last=False)
            return piece

    def _read_piece(self, number: int) -> list[Exchange]:
        if self._descriptor < 0:
            raise KeptModelError("the kept model is closed")
        start, end = self._index.span(number)
        expected = min(self._index.piece, self._index.count - number * self._index.piece)
        try:
            data = os.pread(self._descriptor, end - start, self._base + start)
            if len(data) != end - start or zlib.crc32(data) != self._index.checksums[number]:
                raise ValueError("its bytes are not those kept")
            piece = pickle.loads(data)
            items = rows_from_columns(piece, SharedNumbers()) if type(piece) is Columns else piece
        except Exception as exc:  # (unpickling damaged bytes can raise nearly anything)
            raise KeptModelError(f"exchanges {number * self._index.piece}-"
                                 f"{number * self._index.piece + expected - 1} could not be read from the cache: "
                                 f"{exc}") from exc
        if type(items) is not list or len(items) != expected or not all(type(item) is Exchange for item in items):
            raise KeptModelError(f"the cache's piece {number} of exchanges is not {expected} exchanges")
        return items


class _PositionedReader(io.RawIOBase):
    """A file read from ``start`` with ``os.pread``, at a position of its own: readers sharing one descriptor never
    move each other's place (a ``dup`` shares it)."""

    def __init__(self, descriptor: int, start: int) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._position = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += os.fstat(self._descriptor).st_size
        if offset < 0:
            raise ValueError("a negative place in the file")
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._descriptor, len(buffer), self._position)
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


def open_kept_model(cache: CaptureCache, key: str) -> KeptModel | None:
    """The kept model of ``key`` read on demand, or None when there is none or it is broken (then the whole model's
    read decides: it deletes a broken entry and reads the capture again)."""
    path = cache.model_path(key)
    if not hasattr(os, "pread") or not path.is_file() or not cache.usable():  # (no pread: the whole model is read)
        return None
    try:
        model = KeptModel.open(path)
    except Exception:  # (unpickling a damaged entry can raise nearly anything)
        return None
    os.utime(path)  # eviction goes by last use
    return model

