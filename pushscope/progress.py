"""Progress of a headless load on stderr: bytes read of the total, rate and time left, on one rewritten line.

Only when stderr is a terminal (a pipe or a file gets nothing) and not ``--quiet``. The figures are tshark's read
position in the capture file, so the time left covers the read; the analysis after it is announced as its own step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from pushscope.events import SourceProgress
from pushscope.safe_text import visible

MIB = 1024 * 1024
REDRAW_EVERY = 0.2  # seconds


def duration_text(seconds: float) -> str:
    """``42s``, ``3m05s``: a time left, to the second."""
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class StderrProgress:
    """Call it with each SourceProgress; ``step`` names what follows the read; ``done`` clears the line."""

    def __init__(self, label: str, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = visible(label)  # a file name is outside input: no control sequences reach the terminal
        self.stream = stream or sys.stderr
        self.clock = clock
        self._first: tuple[float, int] | None = None  # (time, bytes) of the first report: the rate starts there
        self._last_draw = 0.0
        self._width = 0

    def __call__(self, item: SourceProgress) -> None:
        now = self.clock()
        if now - self._last_draw < REDRAW_EVERY and item.done < (item.total or 0):
            return
        self._last_draw = now
        if self._first is None:
            self._first = (now, item.done)
        self._draw(self.line(item, now - self._first[0], item.done - self._first[1]))

    def line(self, item: SourceProgress, elapsed: float, read: int) -> str:
        """``read`` bytes in ``elapsed`` seconds since the first report: the rate, and from it the time left."""
        if item.unit != "bytes" or not item.total:
            return f"{self.label}: {visible(item.detail)}"
        done, total = min(item.done, item.total), item.total
        text = f"{self.label}: {done / MIB:.1f} of {total / MIB:.1f} MiB ({done * 100 // total}%)"
        if elapsed >= 1.0 and read > 0:
            rate = read / elapsed
            text += f", {rate / MIB:.1f} MiB/s, {duration_text((total - done) / rate)} left"
        return text

    def step(self, text: str) -> None:
        self._draw(f"{self.label}: {text}")

    def done(self) -> None:
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def _draw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)


def stderr_progress(label: str, quiet: bool = False) -> StderrProgress | None:
    """A progress line for ``label``, or None when stderr is not a terminal or the user asked for quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    return StderrProgress(label)
