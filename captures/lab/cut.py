"""A capture that starts after the first page load: cut with ``editcap -A``, and the truth that still holds.

The client knows what it did during the load that was cut away; the capture no longer shows it. What the
client held after that load may have decided every later push (a fresh copy makes a push cache-duplicated,
and a cached stylesheet hides a reference), so the only verdict this capture can support for the later pushes
is ``unknown`` / ``earlier-traffic-unreadable``. The client's own outcome is kept beside it
(``client_outcome``, ``client_reason``) so the file still says what really happened.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CUT_REASON = "earlier-traffic-unreadable"


def cut_time(truth: dict, load_index: int) -> float:
    """Just after the last response of ``load_index`` ended (wall clock, as the capture's timestamps)."""
    ended = [r["ended_ms"] for r in truth["requests"] if r["load_index"] == load_index and r.get("ended_ms")]
    return truth["client_t0_epoch"] + max(ended) / 1000 + 0.001


def cut_capture(pcap: Path, truth: dict, load_index: int) -> dict:
    """Drop every packet before the end of ``load_index``; return the truth for what remains."""
    start = cut_time(truth, load_index)
    cut = pcap.with_suffix(".cut.pcapng")
    subprocess.run(["editcap", "-A", f"{start:.6f}", str(pcap), str(cut)], check=True, capture_output=True)
    cut.replace(pcap)
    later = {c["index"] for c in truth["connections"]
             if any(r["connection_index"] == c["index"] and r["load_index"] > load_index for r in truth["requests"])}
    # A connection that carries loads on both sides of the cut is itself read without its handshake.
    mid_connection = any(
        any(r["connection_index"] == index and r["load_index"] <= load_index for r in truth["requests"])
        for index in later)
    truth = dict(truth)
    truth["cut"] = {"tool": "editcap -A", "after_load": load_index, "start_epoch": round(start, 6),
                    "mid_connection": mid_connection,
                    "why": "the capture starts after the first page load: the rest of its connection is "
                           "in the capture, without its handshake"}
    truth["connections"] = [c for c in truth["connections"] if c["index"] in later]
    truth["requests"] = [r for r in truth["requests"] if r["load_index"] > load_index]
    truth["cache_hits"] = [h for h in truth.get("cache_hits", []) if h["load_index"] > load_index]
    pushes = []
    for push in truth["pushes"]:
        if push["load_index"] > load_index:  # promised after the cut (the cut load's own pushes are gone)
            pushes.append({**push, "client_outcome": push["outcome"], "client_reason": push["reason"],
                           "outcome": "unknown", "reason": CUT_REASON})
    truth["pushes"] = pushes
    return truth
