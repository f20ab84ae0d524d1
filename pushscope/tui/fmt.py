"""The inspector's formatting helpers: the shared units, so sizes and times read as in the reports.

``TimeUnit`` keeps one unit per line: a line that shows ``+2.02 s`` never shows ``+2017.3 ms`` beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pushscope.units import fmt_bytes, fmt_duration, fmt_offset

__all__ = ["TimeUnit", "fmt_bytes", "fmt_duration", "fmt_offset", "unit_for"]


@dataclass(frozen=True, slots=True)
class TimeUnit:
    """One of µs, ms or s, with how many of it make a second and the decimals it is shown with."""

    name: str
    per_second: float
    decimals: int

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "-"
        value = seconds * self.per_second
        return f"{value:.{self._decimals(value)}f} {self.name}"

    def offset(self, seconds: float | None) -> str:
        """A moment since the capture start, signed (``+2.02 s``)."""
        if seconds is None:
            return "-"
        value = seconds * self.per_second
        return f"{value:+.{self._decimals(value)}f} {self.name}"

    def _decimals(self, value: float) -> int:
        """More decimals for a small value in a big unit (4 ms beside 2.5 s reads 0.004 s, not 0.00 s)."""
        decimals = self.decimals
        while value and abs(value) < 10 ** -decimals and decimals < 6:
            decimals += 1
        return decimals


SECONDS, MILLISECONDS, MICROSECONDS = TimeUnit("s", 1.0, 2), TimeUnit("ms", 1e3, 1), TimeUnit("µs", 1e6, 0)


def unit_for(values: Iterable[float | None]) -> TimeUnit:
    """The unit that suits the largest of ``values``: all the times on one line are then written in it."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    if largest >= 1:
        return SECONDS
    if largest >= 0.001 or largest == 0:
        return MILLISECONDS
    return MICROSECONDS
