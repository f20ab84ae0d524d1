"""The lab's ground truth: what became of each push, decided from what the recording client itself did and knew.

This is the oracle the product's verdicts are tested against, so it must not lean on the product's reasoning:
the words are the product's (``Outcome``, ``Reason`` from ``pushscope.vocabulary``), the decisions are the
client's own, written out here from the client's facts. No lab module imports ``pushscope.analysis``,
``model``, ``export`` or ``pipeline`` (``tests/lab/test_lab_independence.py`` checks it).

Every lab client (the HTTP/2 one, the HTTP/3 one, the runners of nghttp and curl) states its facts about a push
as :class:`PushFacts` and gets its verdict from :func:`judge`; a capture cut so that the traffic which decided a
push is gone keeps the client's verdict beside ``unknown`` (:func:`unknown_after_cut`).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pushscope.vocabulary import Outcome, Reason

# A claimed push the client waited for longer than this is "claimed-late"; below it is scheduling noise on
# loopback. The product documents the same 5 ms tolerance.
LATE_THRESHOLD_MS = 5.0


@dataclass(frozen=True, kw_only=True)
class PushFacts:
    """What the client itself did and knew of one promised push."""

    must_refuse: bool = False  # promised for a host the server's certificate does not name (RFC 9114 §4.6)
    refused: bool = False  # the client refused it: RST_STREAM(CANCEL), CANCEL_PUSH or STOP_SENDING
    had_fresh_copy: bool = False  # its HTTP cache held a fresh copy of the URL when the promise came
    pushed_twice: bool = False  # the same URL had already been promised on this connection
    push_disabled: bool = False  # promised although the client sent SETTINGS_ENABLE_PUSH=0
    server_cancelled: bool = False  # the server reset or withdrew its own push before completing it
    requested_anyway: bool = False  # the client requested the URL itself although it was promised
    completed: bool = False  # the pushed response ended before the connection closed
    claimed: bool = False  # a page the client loaded needed the URL and took the push
    wait_ms: float | None = None  # how long the client waited for the claimed push to finish

    @property
    def late(self) -> bool:
        return (self.wait_ms or 0.0) > LATE_THRESHOLD_MS


# The first rule that applies decides, in the product's precedence (README: "Outcome / reason vocabulary").
RULES: tuple[tuple[Callable[[PushFacts], bool], Outcome, Reason], ...] = (
    (lambda f: f.must_refuse, Outcome.WASTED, Reason.MUST_REFUSE),
    (lambda f: f.refused and f.had_fresh_copy, Outcome.CACHE_DUPLICATED, Reason.CANCELLED_CACHED),
    (lambda f: f.had_fresh_copy, Outcome.CACHE_DUPLICATED, Reason.ALREADY_CACHED),
    (lambda f: f.pushed_twice, Outcome.CACHE_DUPLICATED, Reason.PUSHED_TWICE),
    (lambda f: f.push_disabled, Outcome.WASTED, Reason.PUSH_DISABLED),
    (lambda f: f.refused, Outcome.WASTED, Reason.REJECTED),
    # the client's own request is then the consequence of the withdrawal, not a mismatch
    (lambda f: f.server_cancelled, Outcome.WASTED, Reason.SERVER_CANCELLED),
    (lambda f: f.requested_anyway, Outcome.WASTED, Reason.CLIENT_REQUESTED_ANYWAY),
    (lambda f: not f.completed, Outcome.WASTED, Reason.CONNECTION_CLOSED),
    (lambda f: f.claimed and f.late, Outcome.USED, Reason.CLAIMED_LATE),
    (lambda f: f.claimed, Outcome.USED, Reason.CLAIMED),
)


def judge(facts: PushFacts) -> tuple[Outcome, Reason]:
    """The push's outcome and reason: the first rule that applies, else nothing the client loaded referenced it."""
    for applies, outcome, reason in RULES:
        if applies(facts):
            return outcome, reason
    return Outcome.WASTED, Reason.NOT_REFERENCED


def unknown_after_cut(push: dict) -> dict:
    """A push whose verdict the cut capture cannot support: what the client held may have come from traffic that is
    no longer in it. ``unknown``, with the client's own outcome and reason kept beside it."""
    return {**push, "client_outcome": push["outcome"], "client_reason": push["reason"],
            "outcome": Outcome.UNKNOWN, "reason": Reason.EARLIER_TRAFFIC_UNREADABLE}


def outcome_counts(pushes: list[dict]) -> str:
    """``"\\n  outcomes: used/claimed x2, ..."`` for a truth's pushes (empty without pushes)."""
    counts: dict[str, int] = {}
    for push in pushes:
        key = f"{push['outcome']}/{push['reason']}"
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return ""
    return "\n  outcomes: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))


def stamped(truth: dict) -> dict:
    """The truth document with the moment it was written (``generated_at``, UTC) as its last field."""
    return {**truth, "generated_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def write_outputs(out: Path, name: str, pcap: Path, keys: Path, truth: dict) -> int:
    """Copy ``NAME.pcapng`` and ``NAME.keys`` to ``out`` and write ``NAME.truth.json``; the capture's size."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pcap, out / f"{name}.pcapng")
    shutil.copyfile(keys, out / f"{name}.keys")
    (out / f"{name}.truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return (out / f"{name}.pcapng").stat().st_size
