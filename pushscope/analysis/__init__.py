"""Pure analysis of the model: push verdicts with evidence, cost and advice. No I/O, no UI."""

from __future__ import annotations

from pushscope.model.entities import Capture


def analyse(capture: Capture) -> Capture:
    """Fill in every push's outcome, reason, evidence, cost and advice."""
    from pushscope.analysis.verdicts import classify_all

    classify_all(capture)
    capture.analysed = True
    return capture
