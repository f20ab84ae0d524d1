"""Reassembling one direction of a byte stream (a QUIC stream, or cleartext TCP) as a capture shows it.

A capture sees every frame or segment the sender put on the wire, not what the receiver accepted: retransmissions repeat
ranges, a repacketised retransmission overlaps earlier frames at other boundaries, frames arrive out of order,
and a capture that dropped a packet leaves a hole. The HTTP/2 and HTTP/3 decoders need each stream's bytes once, in
order, so this sits between the two. Sans-IO: offsets and bytes in, contiguous bytes out; it never raises on odd input
(a conflict or data past the final size is counted and reported, and the first copy of each byte wins).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(slots=True)
class Delivery:
    """What one STREAM frame made newly readable.

    ``data`` is the next contiguous run of the stream (possibly empty); ``fin`` is true once every byte up to
    the final size has been delivered (reported once); ``at`` is the time of the frame that completed the run.
    """

    data: bytes
    fin: bool
    at: float
    duplicate_bytes: int = 0
    conflict: bool = False
    beyond_final_size: bool = False


@dataclass(slots=True)
class Gap:
    """A range the capture never showed: ``end`` is None when nothing after it was seen and the end is unknown."""

    start: int
    end: int | None


@dataclass(slots=True)
class StreamReassembler:
    """Orders the bytes of one stream direction by offset and hands out the contiguous prefix."""

    delivered: int = 0
    final_size: int | None = None
    fin_delivered: bool = False
    # Buffered runs past the delivered prefix, sorted by offset, never overlapping each other.
    _starts: list[int] = field(default_factory=list)
    _runs: list[bytes] = field(default_factory=list)

    @property
    def buffered_bytes(self) -> int:
        return sum(len(run) for run in self._runs)

    def receive(self, offset: int, data: bytes, fin: bool, at: float) -> Delivery:
        """Take one STREAM frame (``offset``, ``data``, FIN bit) seen at ``at``."""
        delivery = Delivery(b"", False, at)
        end = offset + len(data)
        if fin:
            if self.final_size is not None and self.final_size != end:
                delivery.conflict = True
            elif self.final_size is None:
                self.final_size = end
        if self.final_size is not None and end > self.final_size:
            delivery.beyond_final_size = True
            data = data[: max(0, self.final_size - offset)]
            end = offset + len(data)
        if offset < self.delivered:
            delivery.duplicate_bytes += min(end, self.delivered) - offset
            data = data[self.delivered - offset :]
            offset = self.delivered
        if data:
            self._insert(offset, data, delivery)
        delivery.data = self._take_contiguous()
        if not self.fin_delivered and self.final_size is not None and self.delivered >= self.final_size:
            self.fin_delivered = True
            delivery.fin = True
        return delivery

    def gaps(self) -> list[Gap]:
        """The holes still open: between runs, and from the last byte seen to a known final size."""
        holes: list[Gap] = []
        position = self.delivered
        for start, run in zip(self._starts, self._runs, strict=True):
            if start > position:
                holes.append(Gap(position, start))
            position = max(position, start + len(run))
        if self.final_size is not None and position < self.final_size:
            holes.append(Gap(position, self.final_size))
        return holes

    def _insert(self, offset: int, data: bytes, delivery: Delivery) -> None:
        """Add the parts of [offset, offset+len) not already buffered; existing bytes win on overlap."""
        end = offset + len(data)
        index = bisect.bisect_right(self._starts, offset) - 1
        index = max(index, 0)
        position = offset
        new_starts: list[int] = []
        new_runs: list[bytes] = []
        while index < len(self._starts) and position < end:
            start, run = self._starts[index], self._runs[index]
            run_end = start + len(run)
            if run_end <= position:
                index += 1
                continue
            if start >= end:
                break
            if start > position:
                new_starts.append(position)
                new_runs.append(data[position - offset : start - offset])
            overlap_start, overlap_end = max(start, position), min(run_end, end)
            delivery.duplicate_bytes += overlap_end - overlap_start
            if run[overlap_start - start : overlap_end - start] != data[overlap_start - offset : overlap_end - offset]:
                delivery.conflict = True
            position = run_end
            index += 1
        if position < end:
            new_starts.append(position)
            new_runs.append(data[position - offset :])
        for start, run in zip(new_starts, new_runs, strict=True):
            where = bisect.bisect_left(self._starts, start)
            self._starts.insert(where, start)
            self._runs.insert(where, run)

    def _take_contiguous(self) -> bytes:
        taken: list[bytes] = []
        while self._starts and self._starts[0] <= self.delivered:
            start, run = self._starts.pop(0), self._runs.pop(0)
            fresh = run[self.delivered - start :]
            if fresh:
                taken.append(fresh)
                self.delivered += len(fresh)
        return b"".join(taken)
