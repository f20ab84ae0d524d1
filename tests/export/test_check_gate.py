"""``check`` on a capture reads its pushes and connections as dicts made again from the model on each pass
(``json_report.gate_sections``): it says exactly what it says over the whole report dict, and holds a dict only
for the pushes a broken budget names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pushscope.export.check import CHECK_PUSH_FIELDS, CHECK_READS, Budgets, check_report, render_check
from pushscope.export.coverage import coverage_of_capture
from pushscope.export.json_report import gate_sections, report_dict
from pushscope.pipeline import load_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
EVERY_BUDGET_BROKEN = Budgets(max_wasted_bytes=0, max_wasted_ratio=0.0, max_cache_duplicated=0, max_unknown=0,
                              max_anomalies=0)

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.mark.parametrize("name", ["nginx-push-basic", "nginx-cut-after-first-load", "h2o-casper-on",
                                  "apache-cancel", "h3-two-connections", "h3-push-not-authoritative"])
@pytest.mark.parametrize("budgets", [EVERY_BUDGET_BROKEN, Budgets(max_wasted_ratio=0.25, max_unknown=0)])
def test_the_gate_says_what_the_whole_report_says(name: str, budgets: Budgets) -> None:
    capture = load_capture(str(CAPTURES / f"{name}.pcapng"), str(CAPTURES / f"{name}.keys"),
                           keylog_origin="--keylog")
    assert capture.pushes
    coverage = coverage_of_capture(capture)
    whole = check_report(report_dict(capture, only=CHECK_READS, push_fields=CHECK_PUSH_FIELDS), budgets, coverage)
    gated = check_report(gate_sections(capture, push_fields=CHECK_PUSH_FIELDS), budgets, coverage)
    assert render_check(gated, name) == render_check(whole, name)
    assert (gated.exit_code, gated.measured) == (whole.exit_code, whole.measured)


def test_the_gate_keeps_only_the_pushes_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    import pushscope.export.json_report as json_report

    capture = load_capture(str(CAPTURES / "nginx-push-basic.pcapng"), str(CAPTURES / "nginx-push-basic.keys"),
                           keylog_origin="--keylog")
    made = [0]
    push_dict = json_report.push_dict

    def counted(*args: object, **kwargs: object) -> dict:
        made[0] += 1
        return push_dict(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json_report, "push_dict", counted)
    sections = gate_sections(capture, push_fields=CHECK_PUSH_FIELDS)
    passing = check_report(sections, Budgets(max_wasted_bytes=10**12), coverage_of_capture(capture))
    assert passing.ok and made[0] == len(capture.pushes)  # one pass for the totals; nothing named
    made[0] = 0
    failing = check_report(sections, Budgets(max_unknown=-1), coverage_of_capture(capture))
    assert made[0] == 2 * len(capture.pushes)  # a second pass for the pushes the broken budget names
    named = failing.violations[0].pushes
    assert len(named) == sum(1 for p in capture.pushes if p.outcome == "unknown")
    wasted = check_report(sections, Budgets(max_wasted_bytes=-1), coverage_of_capture(capture))
    expected = [p.url for p in capture.pushes if p.outcome == "wasted" or p.cost.wasted_bytes > 0]
    assert expected and [p.url for p in wasted.violations[0].pushes] == expected
