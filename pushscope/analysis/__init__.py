"""Pure analysis of the model: push verdicts with evidence, cost and advice. No I/O, no UI."""

from __future__ import annotations

from pushscope.model.entities import Capture


def analyse(capture: Capture) -> Capture:
    """Fill in every push's outcome, reason, evidence, cost and advice, and compare them with the client's own truth
    where the source knew it (the probe); then pack the model (``model.compact``), since a capture is analysed once
    it is loaded (a live one after each batch)."""
    from pushscope.analysis.truth import compare_truth
    from pushscope.analysis.verdicts import classify_all
    from pushscope.model.compact import compact

    compact(capture)  # first: the analysis' own indexes come on top of the model
    classify_all(capture)
    compare_truth(capture)
    capture.analysed = True
    return capture
