"""Captures that start late, made by cutting a full one, and the truth that still holds for what remains.

Two cuts: after the handshake (``editcap -r`` from the first packet after the client's quiet moment ``cut_at``,
see the clients' ``settle`` option), so the capture starts on an established connection; and after a page load
(``editcap -A``), as if the capture had started later. The client knows what it did before the cut; the capture
no longer shows it. What the client held then may have decided every later push (a fresh copy makes a push
cache-duplicated, and a cached stylesheet hides a reference), so the only verdict such a capture can support for
those pushes is ``unknown`` / ``earlier-traffic-unreadable`` (``truth.unknown_after_cut``), with the client's own
outcome kept beside it (``client_outcome``, ``client_reason``) so the file still says what really happened.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .capture import CaptureError
from .truth import unknown_after_cut


def cut_before(pcap: Path, cut_at: float) -> None:
    """Keep only the packets from ``cut_at`` (epoch seconds) on, in place (editcap -r on frame numbers): the
    capture then starts with the connection already established."""
    times = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                           capture_output=True, text=True, check=True).stdout.split()
    first = next((number for number, at in enumerate(times, start=1) if float(at) >= cut_at), None)
    if first is None or first == 1:
        raise CaptureError(f"no quiet moment to cut the capture at ({first=})")
    cut = pcap.with_suffix(".cut.pcapng")
    subprocess.run(["editcap", "-r", str(pcap), str(cut), f"{first}-{len(times)}"], check=True)
    cut.replace(pcap)


def truth_after_handshake_cut(truth: dict, cut_at: float) -> dict:
    """The truth a capture cut at ``cut_at`` can support: its connection began before the capture, so every push's
    verdict can only be unknown."""
    truth = dict(truth)
    truth["cut"] = {"tool": "editcap -r", "start_epoch": round(cut_at, 6),
                    "why": "the capture starts after the handshake: pushscope decrypts it by trying the key log's "
                           "secrets, but what the connection carried before is not in the capture"}
    truth["pushes"] = [unknown_after_cut(push) for push in truth["pushes"]]
    return truth


def cut_time(truth: dict, load_index: int) -> float:
    """Just after the last response of ``load_index`` ended (wall clock, as the capture's timestamps)."""
    ended = [r["ended_ms"] for r in truth["requests"] if r["load_index"] == load_index and r.get("ended_ms")]
    return truth["client_t0_epoch"] + max(ended) / 1000 + 0.001


def cut_after_load(pcap: Path, truth: dict, load_index: int) -> dict:
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
    # promised after the cut (the cut load's own pushes are gone)
    truth["pushes"] = [unknown_after_cut(push) for push in truth["pushes"] if push["load_index"] > load_index]
    return truth
