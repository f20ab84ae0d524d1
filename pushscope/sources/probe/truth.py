"""The probe's ground truth for every push, and its agreement with the capture-style verdicts.

The probe knows what it did with each push. It names what it knows with the verdict rules' own reason codes
(``pushscope/analysis/rules.py``), so truth and verdict compare on the outcome *and* the reason:

=======================  =================  ==========================================================
truth reason             outcome            what the probe knows
=======================  =================  ==========================================================
claimed                  used               a page request was satisfied by the push
cancelled-cached         cache-duplicated   held fresh, so reset as soon as promised (``--cancel-cached``)
already-cached           cache-duplicated   held fresh, accepted anyway (never used)
pushed-twice             cache-duplicated   the URL was already promised on this connection
rejected                 wasted             reset by the probe without holding a copy
server-cancelled         wasted             the server withdrew its own push (outranks the probe's own
                                            request, which is then its consequence)
client-requested-anyway  wasted             the probe sent its own request (in flight before the promise,
                                            or the pushed response varied on a header that differed)
connection-closed        wasted             the connection ended before the pushed response completed
not-referenced           wasted             nothing the probe loaded on this connection needed it (the
                                            detail says when a document elsewhere references it)
=======================  =================  ==========================================================

A verdict of ``claimed-late`` agrees with ``claimed``: lateness is measured against the byte that carried the
reference, which only the verdict times. Every push whose verdict differs from the truth, in outcome or in
reason, gets a Diagnostic (code ``probe-disagrees``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushscope.analysis import analyse
from pushscope.events import Diagnostic, Event
from pushscope.http.urls import normalize_url
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture, Push
from pushscope.pipeline import fold
from pushscope.sources.probe.connection import ProbeConnection, Transfer
from pushscope.sources.probe.page_loader import PageLoader

RunLabel = str | int
Item = Event | Diagnostic

TRUTH_OUTCOMES = {
    "claimed": "used",
    "cancelled-cached": "cache-duplicated",
    "already-cached": "cache-duplicated",
    "pushed-twice": "cache-duplicated",
    "rejected": "wasted",
    "client-requested-anyway": "wasted",
    "server-cancelled": "wasted",
    "connection-closed": "wasted",
    "not-referenced": "wasted",
}
# The verdict reasons that state the same fact as a truth reason, where the verdict is finer than the probe.
MATCHING_VERDICT_REASONS = {"claimed": ("claimed", "claimed-late")}
# Sessions saved before the probe used the verdict reason codes.
LEGACY_REASONS = {
    "cancelled": "cancelled-cached",
    "already-had-fresh-copy": "already-cached",
    "server-reset": "server-cancelled",
    "cancelled-uncached": "rejected",
    "requested-anyway": "client-requested-anyway",
    "ignored-not-referenced": "not-referenced",
    "ignored": "not-referenced",
}


@dataclass(slots=True)
class PushTruth:
    """What the probe itself knows happened to one push."""

    connection_id: str
    run: RunLabel
    url: str
    stream_id: int | None
    push_id: int | None
    promised_at: float
    outcome: str
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"connection": self.connection_id, "run": self.run, "url": self.url, "stream_id": self.stream_id,
                "push_id": self.push_id, "promised_at": round(self.promised_at, 6), "outcome": self.outcome,
                "reason": self.reason, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushTruth:
        reason = LEGACY_REASONS.get(data["reason"], data["reason"])
        return cls(data["connection"], data["run"], data["url"], data.get("stream_id"), data.get("push_id"),
                   float(data.get("promised_at") or 0.0), data["outcome"], reason, data.get("detail", ""))


@dataclass(frozen=True, slots=True)
class Agreement:
    """How a verdict compares with the probe's truth for the same push."""

    outcome: bool
    reason: bool

    @property
    def agrees(self) -> bool:
        return self.outcome and self.reason

    @property
    def difference(self) -> str:
        return "agrees" if self.agrees else ("the reason differs" if self.outcome else "the outcome differs")

    def as_dict(self) -> dict[str, bool]:
        return {"agrees": self.agrees, "outcome_agrees": self.outcome, "reason_agrees": self.reason}


def agreement(item: PushTruth, push: Push) -> Agreement:
    reasons = MATCHING_VERDICT_REASONS.get(item.reason, (item.reason,))
    return Agreement(item.outcome == push.outcome, push.reason in reasons)


def judge(push: Transfer, connection: ProbeConnection, loader: PageLoader, run: RunLabel) -> PushTruth:
    """The probe's own account of one push, from what it did and knew."""
    key = normalize_url(push.url)
    own = [t for t in loader.requested.get(key, []) if t is not push]
    requested_after = [t for t in own if t.started_at >= push.started_at]
    referenced_by = loader.referenced.get(key)
    if push.state == "cancelled":
        if push.had_fresh_copy:
            reason = "cancelled-cached"
            detail = "the probe held a fresh copy and reset the push as soon as it was promised"
        else:
            reason, detail = "rejected", "the probe reset the push without holding a copy"
    elif push.had_fresh_copy:
        reason, detail = "already-cached", "the probe held a fresh copy when it was promised and never used it"
    elif push.pushed_twice:
        reason, detail = "pushed-twice", "the same URL was already promised on this connection"
    elif push.reset_by == "server":
        reason, detail = "server-cancelled", f"the server withdrew the push (code {push.reset_code})"
    elif push.requested_before or (push.state != "claimed" and requested_after):
        when = "before the promise arrived" if push.requested_before else "after the promise (not claimable)"
        reason, detail = "client-requested-anyway", f"the probe sent its own request for it {when}"
    elif not push.complete:
        reason, detail = "connection-closed", "the connection ended before the pushed response completed"
    elif push.state == "claimed":
        reason, detail = "claimed", f"claimed for a page request (referenced by {referenced_by or '?'})"
    elif referenced_by is None:
        reason, detail = "not-referenced", "no loaded document or stylesheet references it"
    else:
        reason, detail = "not-referenced", f"referenced by {referenced_by} but never claimed on this connection"
    return PushTruth(connection.connection_id, run, push.url, push.stream_id, push.push_id, push.started_at,
                     TRUTH_OUTCOMES[reason], reason, detail)


def build_capture(items: list[Item], name: str, truth: list[PushTruth]) -> Capture:
    """Fold the session's events like a capture's, analyse, and add a Diagnostic per verdict/truth disagreement."""
    builder = CaptureBuilder(source="probe", name=name)
    fold(items, builder)
    capture = analyse(builder.capture)
    capture.diagnostics.extend(compare_truth(capture, truth))
    return capture


def truth_for(push: Push, truth: list[PushTruth]) -> PushTruth | None:
    for item in truth:
        if item.connection_id != push.connection_id:
            continue
        if push.push_id is not None:
            if item.push_id == push.push_id:
                return item
        elif item.stream_id is not None and item.stream_id == push.promised_stream_id:
            return item
    return None


def compare_truth(capture: Capture, truth: list[PushTruth]) -> list[Diagnostic]:
    """A Diagnostic for every push whose capture-style verdict (outcome or reason) differs from the probe's truth."""
    diagnostics: list[Diagnostic] = []
    matched: set[int] = set()
    for push in capture.pushes:
        item = truth_for(push, truth)
        if item is None:
            diagnostics.append(Diagnostic(level="warning",
                                          message=f"push of {push.url} on {push.connection_id} is in the model "
                                          "but the probe has no record of it", connection_id=push.connection_id,
                                          code="probe-disagrees"))
            continue
        matched.add(id(item))
        found = agreement(item, push)
        if not found.agrees:
            diagnostics.append(Diagnostic(
                level="warning", message=f"run {item.run}: push of {push.url} on {push.connection_id}: the verdict is "
                f"{push.outcome}/{push.reason} but the probe saw {item.outcome}/{item.reason} ({item.detail}): "
                f"{found.difference}", connection_id=push.connection_id, code="probe-disagrees"))
    for item in truth:
        if id(item) not in matched:
            diagnostics.append(Diagnostic(level="warning", message=f"run {item.run}: the probe's push of {item.url} on "
                                          f"{item.connection_id} is missing from the model",
                                          connection_id=item.connection_id, code="probe-disagrees"))
    return diagnostics


def match_capture(truth: list[PushTruth], probe_capture: Capture,
                  capture: Capture) -> list[tuple[PushTruth, Push | None]]:
    """Each of the probe's pushes with the same push in a capture of the same traffic (found by the client's
    port, then the promised stream or push ID), or None when the capture does not show it."""
    ports = {cid: conn.client.port for cid, conn in probe_capture.connections.items()}
    by_port = {conn.client.port: cid for cid, conn in capture.connections.items()}
    pairs: list[tuple[PushTruth, Push | None]] = []
    for item in truth:
        captured = by_port.get(ports.get(item.connection_id, -1))
        found = None
        for push in capture.pushes:
            if push.connection_id != captured:
                continue
            if (item.push_id is not None and push.push_id == item.push_id) or (
                    item.push_id is None and push.promised_stream_id == item.stream_id):
                found = push
                break
        pairs.append((item, found))
    return pairs


def compare_with_capture(truth: list[PushTruth], probe_capture: Capture, capture: Capture) -> list[Diagnostic]:
    """Diagnostics for every push where a capture's verdict (e.g. ``load_capture`` of a dumpcap taken with the
    probe's key log) differs from the probe's truth in outcome or reason, or where the capture misses the push."""
    out = []
    for item, push in match_capture(truth, probe_capture, capture):
        if push is None:
            out.append(Diagnostic(level="warning",
                                  message=f"run {item.run}: push of {item.url} ({item.connection_id}) is not in "
                                  "the capture", connection_id=item.connection_id, code="probe-capture-missing"))
            continue
        found = agreement(item, push)
        if not found.agrees:
            out.append(Diagnostic(level="warning", message=f"run {item.run}: push of {item.url}: the capture says "
                                  f"{push.outcome}/{push.reason}, the probe saw {item.outcome}/{item.reason}: "
                                  f"{found.difference}", connection_id=item.connection_id,
                                  code="probe-capture-disagrees"))
    return out
