"""Collapsing idle time: a capture of several page loads minutes apart still gives each load room on the axis.

``TimeScale`` maps capture time (seconds since the capture start) to axis time: time inside an activity span
maps one to one; every idle gap longer than ``GAP`` shrinks to a fixed width and is drawn as a break (``≈``).
``activity_spans`` finds those spans (the page loads, as the waterfall counts them). Pure: no Textual here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

GAP = 0.5  # seconds with nothing in flight: longer than a wait inside one page load, short for a user
SHOWN_GAP_SHARE = 0.1  # all the breaks together take at most this share of the collapsed axis
SHOWN_GAP_MAX_SHARE = 0.03  # and one break at most this share


def activity_spans(intervals: Iterable[tuple[float, float]], gap: float = GAP) -> list[tuple[float, float]]:
    """Merge ``(start, end)`` intervals into spans separated by more than ``gap`` idle seconds (n log n)."""
    starts: list[float] = []
    ends: list[float] = []
    for start, end in intervals:
        starts.append(start)
        ends.append(max(end, start))
    return spans_of(starts, ends, gap)


def spans_of(starts: list[float], ends: list[float], gap: float = GAP) -> list[tuple[float, float]]:
    """``activity_spans`` of the intervals whose starts and ends (each at least its start) are given apart; both
    lists are sorted in place.

    Sorting the two lists of moments, not a list of (start, end) pairs, costs no object per interval: the
    waterfall made a pair per row twice at each snapshot (its row set and its page loads), the peak of what a
    snapshot holds for a moment (at 30 MB, 26,000 rows: 1.9 and 1.5 MiB, now 0.6 and 0.4). A sweep over both
    lists: a span goes on while an interval is open (more starts than ends seen), and across an idle gap of at
    most ``gap``."""
    if len(starts) != len(ends):
        raise ValueError("as many starts as ends")
    starts.sort()
    ends.sort()
    spans: list[tuple[float, float]] = []
    # The k-th smallest end is never before the k-th smallest start (each interval ends after it starts): when no
    # interval is open, the next moment is a start, and an end never comes before every start.
    opened = started = ended = 0
    span_start = 0.0
    count = len(starts)
    while started < count:
        start = starts[started]
        if opened and start - ends[ended] > gap:
            opened -= 1
            if not opened:
                spans.append((span_start, ends[ended]))
            ended += 1
            continue
        if not opened:
            span_start = start
        opened += 1
        started += 1
    if count:
        spans.append((span_start, ends[-1]))
    return spans


@dataclass(frozen=True, slots=True)
class TimeScale:
    """Capture time → axis time, with each idle gap in ``breaks`` shown ``shown_gap`` seconds wide."""

    breaks: tuple[tuple[float, float], ...] = ()
    shown_gap: float = 0.0
    _removed: tuple[float, ...] = ()  # axis seconds removed by the breaks up to and including break i

    @classmethod
    def collapsing(cls, spans: list[tuple[float, float]]) -> TimeScale:
        """The scale that collapses the gaps between ``spans`` (as ``activity_spans`` returns them)."""
        breaks = tuple((a[1], b[0]) for a, b in zip(spans, spans[1:], strict=False))
        if not breaks:
            return cls()
        active = sum(end - start for start, end in spans) or 1e-3
        shown = min(active * SHOWN_GAP_SHARE / len(breaks), active * SHOWN_GAP_MAX_SHARE)
        removed, total = [], 0.0
        for start, end in breaks:
            total += max(end - start - shown, 0.0)
            removed.append(total)
        return cls(breaks, shown, tuple(removed))

    @property
    def collapses(self) -> bool:
        return bool(self.breaks)

    def to_axis(self, at: float) -> float:
        if not self.breaks:
            return at
        i = bisect.bisect_right(self.breaks, (at, float("inf"))) - 1  # the last break starting at or before ``at``
        if i < 0:
            return at
        start, end = self.breaks[i]
        before = self._removed[i - 1] if i else 0.0
        if at >= end:
            return at - self._removed[i]
        # Inside a collapsed gap: squeeze it proportionally into its shown width.
        fraction = (at - start) / (end - start) if end > start else 1.0
        return start - before + fraction * min(self.shown_gap, end - start)

    def to_time(self, axis: float) -> float:
        """The inverse of ``to_axis`` (a moment inside a break maps into the gap proportionally)."""
        for i, (start, end) in enumerate(self.breaks):
            before = self._removed[i - 1] if i else 0.0
            break_axis = start - before
            if axis < break_axis:
                return axis + before
            shown = min(self.shown_gap, end - start)
            if axis < break_axis + shown:
                return start + (axis - break_axis) / shown * (end - start) if shown else end
        return axis + (self._removed[-1] if self._removed else 0.0)

    def break_marks(self) -> list[tuple[float, float, float]]:
        """``(axis position, gap start, gap end)`` of each break, for drawing and labelling."""
        return [(self.to_axis(start), start, end) for start, end in self.breaks]
