"""Phrases several report formats share, so a push's cost reads the same in text and HTML."""

from __future__ import annotations

from typing import Any

from pushscope.units import fmt_bytes, fmt_ms


def cost_phrases(push: dict[str, Any]) -> list[str]:
    """A push's cost from its JSON-report entry: only what is non-zero, most important first."""
    cost = push["cost"]
    phrases = [f"pushed {fmt_bytes(push['pushed_bytes'])}"]
    if cost["wasted_bytes"]:
        phrases.append(f"wasted {fmt_bytes(cost['wasted_bytes'])}")
    if cost["saved_time"]:
        phrases.append(f"saved {fmt_ms(cost['saved_time'])}")
    if cost["late_by"]:
        phrases.append(f"late by {fmt_ms(cost['late_by'])}")
    if cost["competed_bytes"]:
        phrases.append(f"competed with the document: {fmt_bytes(cost['competed_bytes'])}, "
                       f"~{fmt_ms(cost['competed_delay'])} added")
    return phrases
