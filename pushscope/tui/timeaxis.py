"""The waterfall's shared time axis: a zoomable, pannable window over the capture, and its tick labels.

The window is in *axis* seconds (capture time after ``TimeScale`` collapsed the idle gaps); it never starts
before the capture does, so no tick reads a negative time. Kept free of Textual so the arithmetic (which decides
where every bar and marker lands) is easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pushscope.timescale import TimeScale
from pushscope.tui.fmt import TimeUnit, unit_for

MIN_SPAN = 1e-5  # 10 µs: zooming further shows nothing new
FIT_MIN_SPAN = 0.001  # fitting a whole capture never shows less than 1 ms
NICE_STEPS = (1, 2, 2.5, 5)
BREAK = "≈"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``start`` .. ``start + span`` axis seconds after the capture start, drawn over ``width`` cells."""

    start: float = 0.0
    span: float = 1.0

    @classmethod
    def fit(cls, end: float, start: float = 0.0, minimum: float = FIT_MIN_SPAN) -> TimeWindow:
        """``start`` .. ``end`` with a little room on both sides (never before 0), so every marker shows."""
        width = max(end - start, 0.0)
        span = max(width * 1.06, minimum)
        return cls(max(start - (span - width) / 2, 0.0), span)

    @property
    def end(self) -> float:
        return self.start + self.span

    def zoom(self, factor: float, centre: float | None = None) -> TimeWindow:
        """Scale the span by ``factor`` (<1 zooms in), keeping ``centre`` (default: the middle) in place."""
        centre = self.start + self.span / 2 if centre is None else centre
        span = max(self.span * factor, MIN_SPAN)
        fraction = (centre - self.start) / self.span if self.span else 0.5
        fraction = min(max(fraction, 0.0), 1.0)
        return replace(self, start=max(centre - span * fraction, 0.0), span=span)

    def pan(self, fraction: float, extent: float) -> TimeWindow:
        """Move by ``fraction`` of the span, never before the capture start nor past its ``extent``."""
        start = self.start + self.span * fraction
        start = min(max(start, 0.0), max(extent - self.span * 0.5, 0.0))
        return replace(self, start=start)

    def column(self, at: float, width: int) -> float:
        """Fractional cell position of an axis moment; may lie outside ``0 .. width``."""
        return (at - self.start) / self.span * width


def tick_step(span: float, width: int, min_gap: int = 10) -> float:
    """A 1/2/2.5/5 x 10^n step so tick labels are at least ``min_gap`` cells apart."""
    if width <= 0 or span <= 0:
        return span or 1.0
    raw = span * min_gap / width
    exponent = math.floor(math.log10(raw))
    for step in NICE_STEPS:
        candidate = step * 10**exponent
        if candidate >= raw:
            return candidate
    return 10 ** (exponent + 1)


def axis_line(window: TimeWindow, width: int, scale: TimeScale | None = None) -> str:
    """The tick-label line above the bars (``┆0ms   ┆250ms   ┆500ms``), one unit on the whole line.

    With collapsed gaps, each activity span gets its own ticks (in capture time) and each break shows as ``≈``.
    """
    if width <= 0:
        return ""
    scale = scale or TimeScale()
    cells = [" "] * width
    for axis_at, _start, _end in scale.break_marks():
        col = int(window.column(axis_at, width))
        if 0 <= col < width:
            cells[col] = BREAK
    step = tick_step(window.span, width)
    unit = unit_for([scale.to_time(window.end)])
    for n, (lo, hi) in enumerate(_visible_spans(window, scale)):
        if n or scale.to_time(window.start) < lo:  # resuming after a break: say when, even off the step
            _place(cells, int(window.column(scale.to_axis(lo), width)), "┆" + _tick_label(lo, unit))
        index = math.ceil(lo / step - 1e-9)
        while (tick := index * step) <= hi + 1e-12:
            index += 1
            _place(cells, int(window.column(scale.to_axis(tick), width)), "┆" + _tick_label(tick, unit))
    return "".join(cells)


def _visible_spans(window: TimeWindow, scale: TimeScale) -> list[tuple[float, float]]:
    """The capture-time ranges the window shows, one per activity span (the breaks between them left out)."""
    lo, hi = scale.to_time(window.start), scale.to_time(window.end)
    spans, start = [], lo
    for gap_start, gap_end in scale.breaks:
        if gap_end <= lo or gap_start >= hi:
            continue
        if gap_start > start:
            spans.append((start, gap_start))
        start = max(gap_end, start)
    if start < hi:
        spans.append((start, hi))
    return spans


def _place(cells: list[str], col: int, label: str) -> None:
    """Write ``label`` at ``col`` if it fits and keeps a space from the label before (a break mark may touch)."""
    width = len(cells)
    before = cells[col - 1] if col > 0 else " "
    if 0 <= col and col + len(label) <= width and before in (" ", BREAK) \
            and all(c == " " for c in cells[col:col + len(label)]):
        cells[col:col + len(label)] = label


def _tick_label(at: float, unit: TimeUnit) -> str:
    if abs(at) < 1e-12:
        return "0"
    return f"{at * unit.per_second:.5g}{unit.name}"
