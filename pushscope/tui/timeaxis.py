"""The waterfall's shared time axis: a zoomable, pannable window over the capture, and its tick labels.

Kept free of Textual so the arithmetic (which decides where every bar and marker lands) is easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

MIN_SPAN = 1e-5  # 10 µs: zooming further shows nothing new
NICE_STEPS = (1, 2, 2.5, 5)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``start`` .. ``start + span`` seconds after the capture start, drawn over ``width`` cells."""

    start: float = 0.0
    span: float = 1.0

    @classmethod
    def fit(cls, duration: float) -> TimeWindow:
        """The whole capture, with a little room on both sides so the first marker and the last bar show."""
        span = max(duration * 1.06, MIN_SPAN * 10, 0.001)
        return cls(-span * 0.02, span)

    @property
    def end(self) -> float:
        return self.start + self.span

    def zoom(self, factor: float, centre: float | None = None) -> TimeWindow:
        """Scale the span by ``factor`` (<1 zooms in), keeping ``centre`` (default: the middle) in place."""
        centre = self.start + self.span / 2 if centre is None else centre
        span = max(self.span * factor, MIN_SPAN)
        fraction = (centre - self.start) / self.span if self.span else 0.5
        fraction = min(max(fraction, 0.0), 1.0)
        return replace(self, start=centre - span * fraction, span=span)

    def pan(self, fraction: float, duration: float) -> TimeWindow:
        """Move by ``fraction`` of the span, never leaving the capture entirely."""
        start = self.start + self.span * fraction
        start = min(max(start, -self.span * 0.5), max(duration - self.span * 0.5, 0.0))
        return replace(self, start=start)

    def column(self, at: float, width: int) -> float:
        """Fractional cell position of a moment; may lie outside ``0 .. width``."""
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


def axis_line(window: TimeWindow, width: int) -> str:
    """The tick-label line above the bars: ``0 ms      250 ms     500 ms``, each label left-aligned on its tick."""
    if width <= 0:
        return ""
    cells = [" "] * width
    step = tick_step(window.span, width)
    index = math.ceil(window.start / step)
    while (tick := index * step) <= window.end:
        index += 1
        col = int(window.column(tick, width))
        label = "┆" + _tick_label(tick)
        if 0 <= col and col + len(label) <= width and all(c == " " for c in cells[max(col - 1, 0):col + len(label)]):
            cells[col:col + len(label)] = label
    return "".join(cells)


def _tick_label(at: float) -> str:
    if abs(at) < 1e-12:
        return "0"
    value = abs(at)
    sign = "-" if at < 0 else ""
    if value < 0.001:
        return f"{sign}{value * 1e6:.4g}µs"
    if value < 1:
        return f"{sign}{value * 1e3:.4g}ms"
    return f"{sign}{value:.4g}s"
