"""Push verdicts (placeholder until the rules land): every push stays "unknown"."""

from __future__ import annotations

from pushscope.model.entities import Capture


def classify_all(capture: Capture) -> None:
    for push in capture.pushes:
        push.outcome = "unknown"
