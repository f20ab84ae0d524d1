"""How sizes and times read, the same in the text report, the HTML report, the CI gate and the inspector."""

from __future__ import annotations


def fmt_bytes(n: int | None) -> str:
    """``1.2 KiB``-style sizes; ``-`` when unknown."""
    if n is None:
        return "-"
    if abs(n) < 1024:
        return f"{n} B"
    if abs(n) < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def fmt_ms(seconds: float | None, signed: bool = False) -> str:
    """Milliseconds with one decimal, the unit of web-performance tables; ``-`` when unknown."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:+.1f} ms" if signed else f"{seconds * 1000:.1f} ms"


def fmt_duration(seconds: float | None) -> str:
    """A duration in the unit that keeps it short: µs, ms or s."""
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0 ms"
    value = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if value < 0.001:
        return f"{sign}{value * 1e6:.0f} µs"
    if value < 1:
        return f"{sign}{value * 1000:.1f} ms"
    return f"{sign}{value:.2f} s"


def fmt_offset(seconds: float | None) -> str:
    """A moment relative to the capture start, always signed so it reads as a time offset."""
    if seconds is None:
        return "-"
    text = fmt_duration(seconds)
    return text if text.startswith("-") else f"+{text}"
