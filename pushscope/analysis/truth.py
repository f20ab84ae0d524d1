"""The verdicts beside what the client itself knew: where a capture-style verdict and the probe's truth differ.

The probe names what it knows with the verdict rules' own reason codes, so truth and verdict compare on the outcome
*and* the reason. A verdict of ``claimed-late`` agrees with ``claimed``: lateness is measured against the byte that
carried the reference, which only the verdict times. Every push whose verdict differs from the truth, every push
with no truth once its run finished, and every truth that matches no push gets a Diagnostic
(code ``probe-disagrees``).
"""

from __future__ import annotations

from pushscope.events import Diagnostic
from pushscope.model.entities import Capture, Push, PushTruth, TruthAgreement

CODE = "probe-disagrees"
# The verdict reasons that state the same fact as a truth reason, where the verdict is finer than the probe.
MATCHING_VERDICT_REASONS = {"claimed": ("claimed", "claimed-late")}


def agreement(truth: PushTruth, push: Push) -> TruthAgreement:
    reasons = MATCHING_VERDICT_REASONS.get(truth.reason, (truth.reason,))
    return TruthAgreement(truth.outcome == push.outcome, push.reason in reasons)


def compare_truth(capture: Capture) -> None:
    """Set each push's agreement and replace the disagreement diagnostics (it runs again on every live snapshot)."""
    if not capture.probed:
        return
    found: list[Diagnostic] = []
    for push in capture.pushes:
        found += _push_diagnostics(push, capture)
    for truth in capture.unmatched_truth:
        found.append(_warning(f"run {truth.run}: the probe's push of {truth.url} on {truth.connection_id} is "
                              "missing from the model", truth.connection_id))
    capture.diagnostics = [d for d in capture.diagnostics if d.code != CODE] + found


def _push_diagnostics(push: Push, capture: Capture) -> list[Diagnostic]:
    truth = push.truth
    if truth is None:
        if _awaiting_truth(push, capture):
            return []
        return [_warning(f"push of {push.url} on {push.connection_id} is in the model but the probe has no record "
                         "of it", push.connection_id)]
    truth.agreement = found = agreement(truth, push)
    if found.agrees:
        return []
    return [_warning(f"run {truth.run}: push of {push.url} on {push.connection_id}: the verdict is "
                     f"{push.outcome}/{push.reason} but the probe saw {truth.outcome}/{truth.reason} "
                     f"({truth.detail}): {found.difference}", push.connection_id)]


def _warning(message: str, connection_id: str, code: str = CODE) -> Diagnostic:
    return Diagnostic(level="warning", message=message, connection_id=connection_id, code=code)


def _awaiting_truth(push: Push, capture: Capture) -> bool:
    """While a run is under way its pushes have no truth yet (the probe judges them when the run ends)."""
    if all(run.finished for run in capture.runs):
        return False
    return not any(push.connection_id in run.connections for run in capture.runs if run.finished)


def match_capture(probe_capture: Capture, capture: Capture) -> list[tuple[PushTruth, Push | None]]:
    """Each of the probe's truths with the same push in a capture of the same traffic (found by the client's
    port, then the promised stream or push ID), or None when the capture does not show it."""
    ports = {cid: conn.client.port for cid, conn in probe_capture.connections.items()}
    by_port = {conn.client.port: cid for cid, conn in capture.connections.items()}
    pairs: list[tuple[PushTruth, Push | None]] = []
    for truth in all_truth(probe_capture):
        captured = by_port.get(ports.get(truth.connection_id, -1))
        found = None
        for push in capture.pushes:
            if push.connection_id != captured:
                continue
            if (truth.push_id is not None and push.push_id == truth.push_id) or (
                    truth.push_id is None and push.promised_stream_id == truth.stream_id):
                found = push
                break
        pairs.append((truth, found))
    return pairs


def all_truth(capture: Capture) -> list[PushTruth]:
    """Every truth the source recorded, in the order of the model's pushes, then the unmatched ones."""
    return [push.truth for push in capture.pushes if push.truth is not None] + capture.unmatched_truth


def compare_with_capture(probe_capture: Capture, capture: Capture) -> list[Diagnostic]:
    """Diagnostics for every push where a capture's verdict (e.g. ``load_capture`` of a dumpcap taken with the
    probe's key log) differs from the probe's truth in outcome or reason, or where the capture misses the push."""
    out = []
    for truth, push in match_capture(probe_capture, capture):
        if push is None:
            out.append(_warning(f"run {truth.run}: push of {truth.url} ({truth.connection_id}) is not in the "
                                "capture", truth.connection_id, "probe-capture-missing"))
            continue
        found = agreement(truth, push)
        if not found.agrees:
            out.append(_warning(f"run {truth.run}: push of {truth.url}: the capture says {push.outcome}/"
                                f"{push.reason}, the probe saw {truth.outcome}/{truth.reason}: {found.difference}",
                                truth.connection_id, "probe-capture-disagrees"))
    return out
