"""The summary numbers of a capture: pushes by outcome, what they cost and saved. The reports and the inspector
show these same numbers, so both read them from here."""

from __future__ import annotations

from typing import Any

from pushscope.model.entities import Capture, Push
from pushscope.vocabulary import OUTCOMES, Outcome


def push_summary(pushes: list[Push]) -> dict[str, Any]:
    """Pushes by outcome with what they cost and saved: for the capture, and for each connection."""
    by_outcome = {outcome: 0 for outcome in OUTCOMES}
    bytes_by_outcome = {outcome: 0 for outcome in OUTCOMES}
    saved = added = 0.0
    for push in pushes:
        by_outcome[push.outcome] += 1
        bytes_by_outcome[push.outcome] += push.cost.pushed_bytes
        saved += push.cost.saved_time or 0.0
        added += push.cost.competed_delay or 0.0
    return {
        "pushes": len(pushes),
        "pushes_by_outcome": by_outcome,
        "pushed_bytes_by_outcome": bytes_by_outcome,
        "wasted_bytes": sum(p.cost.wasted_bytes for p in pushes if p.outcome == Outcome.WASTED),
        "cache_duplicated_bytes": bytes_by_outcome[Outcome.CACHE_DUPLICATED],
        "time_saved": round(saved, 6),
        "time_added": round(added, 6),
    }


def summary_dict(capture: Capture) -> dict[str, Any]:
    """The capture's summary: connections by protocol, exchanges, requests, ``push_summary`` and the duration."""
    protocols: dict[str, int] = {}
    for conn in capture.connections.values():
        protocols[conn.protocol] = protocols.get(conn.protocol, 0) + 1
    return {
        "connections": len(capture.connections),
        "connections_by_protocol": protocols,
        "exchanges": len(capture.exchanges),
        "requests": sum(1 for e in capture.exchanges if not e.pushed),
        **push_summary(capture.pushes),
        "duration": round((capture.ended_at or 0) - (capture.started_at or 0), 6),
    }
