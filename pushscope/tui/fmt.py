"""The inspector's formatting helpers: the shared units, so sizes and times read as in the reports."""

from __future__ import annotations

from pushscope.units import fmt_bytes, fmt_duration, fmt_offset

__all__ = ["fmt_bytes", "fmt_duration", "fmt_offset"]
