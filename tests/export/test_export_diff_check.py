"""``pushscope diff`` and ``pushscope check``: results, output formats and exit codes (0 / 1 / 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_models import PUBLIC_H2, XSS_URL_PAYLOAD, build_capture

from pushscope.cli.check import run_check
from pushscope.cli.diff import run_diff
from pushscope.export.check import Budgets, CheckResult, check_report
from pushscope.export.diff import diff_reports
from pushscope.export.json_report import render_json, report_dict


def _after():
    """The 'fixed' run: app.js no longer pushed, the image push now used, and the document 20 ms faster."""
    capture = build_capture()
    capture.pushes = [p for p in capture.pushes if not p.url.endswith("/app.js")]
    for i, push in enumerate(capture.pushes):
        push.id = i
    capture.exchanges[2].pushed = False  # app.js: now an ordinary request
    capture.exchanges[1].response_end -= 0.02
    for push in capture.pushes:
        if push.url.endswith("/logo.png"):
            push.outcome, push.reason = "used", "claimed"
    return capture


@pytest.fixture
def reports(tmp_path: Path) -> tuple[Path, Path]:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(render_json(build_capture()), encoding="utf-8")
    after.write_text(render_json(_after()), encoding="utf-8")
    return before, after


def test_diff_per_resource_and_summary() -> None:
    diff = diff_reports(report_dict(build_capture()), report_dict(_after()), ("before", "after"))
    rows = {r["resource"]: r for r in diff["resources"]}
    assert rows["example.test/logo.png"]["changes"] == ["push cache-duplicated → used"]
    js = rows["example.test/app.js"]
    assert js["before"]["outcome"] == "wasted" and js["after"]["outcome"] == "not pushed"
    assert rows["example.test/style.css"]["ready_delta"] == pytest.approx(-0.02)
    assert rows["example.test/h3.css"]["changes"] == []
    s = diff["summary"]
    assert (s["pushes"]["delta"], s["pushes_wasted"]["delta"], s["pushes_used"]["delta"]) == (-1, -1, 1)
    assert s["wasted_bytes"]["delta"] == -3030
    assert s["cache_duplicated_bytes"]["after"] == 0


@pytest.mark.parametrize("fmt", ["text", "html", "json"])
def test_run_diff_formats(reports: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"diff.{fmt}"
    # The model holds one conversation that could not be decrypted: a comparison says so and fails closed.
    assert run_diff([str(reports[0]), str(reports[1]), "--format", fmt, "-o", str(out)]) == 3
    assert run_diff([str(reports[0]), str(reports[1]), "--format", fmt, "-o", str(out), "--allow-undecrypted"]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)["summary"]["pushes"] == {"before": 6, "after": 5, "delta": -1}
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "<script" not in text and "cache-duplicated</span>" in text
    else:
        assert "push cache-duplicated → used" in text and "wasted_bytes" in text


def test_diff_html_escapes(tmp_path: Path) -> None:
    from pushscope.export.diff import render_diff_html

    page = render_diff_html(diff_reports(report_dict(build_capture(xss=True)), report_dict(build_capture())))
    assert XSS_URL_PAYLOAD not in page and "&lt;script&gt;" in page


def test_run_diff_unreadable(tmp_path: Path, reports: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    assert run_diff([str(tmp_path / "missing.pcapng"), str(reports[1])]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert run_diff([str(reports[0]), str(bad)]) == 2
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}', encoding="utf-8")
    assert run_diff([str(reports[0]), str(other)]) == 2
    assert "not a pushscope report" in capsys.readouterr().err


def test_check_budgets() -> None:
    report = report_dict(build_capture())
    assert check_report(report, Budgets()).exit_code == 3  # one conversation was not decrypted

    def judge(budgets: Budgets) -> CheckResult:
        return check_report(report, budgets, allow_undecrypted=True)

    assert judge(Budgets()).exit_code == 0
    assert judge(Budgets(max_wasted_bytes=3030, max_cache_duplicated=1, max_unknown=1)).ok
    result = judge(Budgets(max_wasted_bytes=3029))
    assert [v.budget for v in result.violations] == ["max-wasted-bytes"]
    assert {p.url for p in result.violations[0].pushes} == {"https://example.test/app.js",
                                                               "https://example.test/h3.js"}
    ratio = judge(Budgets(max_wasted_ratio=0.05)).measured["wasted_ratio"]
    assert ratio == pytest.approx(3030 / sum(p["pushed_bytes"] for p in report["pushes"]))
    assert not judge(Budgets(max_wasted_ratio=0.05)).ok
    assert not judge(Budgets(max_cache_duplicated=0)).ok
    assert not judge(Budgets(max_unknown=0)).ok


def test_run_check_exit_codes(reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = str(reports[0])
    assert run_check([before, "--max-wasted-bytes", "100000"]) == 3
    assert "PARTLY DECODED: 1 of 3 connections" in capsys.readouterr().out
    before = "--allow-undecrypted", before
    assert run_check([*before, "--max-wasted-bytes", "100000"]) == 0
    assert "OK" in capsys.readouterr().out
    assert run_check([*before, "--max-wasted-bytes", "0", "--max-unknown", "0"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "--max-wasted-bytes" in out and "--max-unknown" in out
    assert "https://example.test/app.js" in out and "rejected" in out and "font.woff2" in out
    assert run_check([str(tmp_path / "nope.pcapng")]) == 2
    assert "does not exist" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pcapng"
    garbage.write_bytes(b"this is not a capture")
    assert run_check([str(garbage)]) == 2
    assert run_check([*before, "--max-unknown", "5", "-q"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.slow
@pytest.mark.skipif(not PUBLIC_H2[0].exists(), reason="public capture not present")
def test_run_check_and_diff_on_a_capture_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    capture = str(PUBLIC_H2[0])
    assert run_check([capture, "--max-wasted-bytes", "0"]) == 0
    out = tmp_path / "self.json"
    assert run_diff([capture, capture, "--format", "json", "-o", str(out)]) == 0
    diff = json.loads(out.read_text(encoding="utf-8"))
    assert diff["resources"] and all(not row["changes"] for row in diff["resources"])


def test_slim_entries_are_the_full_ones_cut_down() -> None:
    from pushscope.export.check import CHECK_PUSH_FIELDS
    from pushscope.export.diff import EXCHANGE_FIELDS, PUSH_FIELDS
    from pushscope.export.json_report import exchange_dict, push_dict

    capture = build_capture()
    capture_after = _after()
    for model in (capture, capture_after):
        for push in model.pushes:
            full = push_dict(push, model)
            for fields in (CHECK_PUSH_FIELDS, PUSH_FIELDS):
                assert push_dict(push, model, fields) == {k: v for k, v in full.items() if k in fields}
        for exchange in model.exchanges:
            full = exchange_dict(exchange)
            assert exchange_dict(exchange, True, EXCHANGE_FIELDS) == {k: v for k, v in full.items()
                                                                     if k in EXCHANGE_FIELDS}


def test_a_diff_of_captures_equals_the_diff_of_their_json_reports(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Captures are compared side by side from slim generators over their models; their saved JSON reports from
    whole dicts: the same comparison either way."""
    captures = Path(__file__).resolve().parents[2] / "captures"
    pairs = [captures / "nginx-push-basic.pcapng", captures / "nginx-preload-twoloads.pcapng"]
    jsons = []
    for capture in pairs:
        saved = tmp_path / f"{capture.stem}.json"
        from pushscope.cli.report import run_report

        assert run_report([str(capture), "--format", "json", "-o", str(saved), "--quiet", "--no-cache"]) == 0
        jsons.append(saved)
    capsys.readouterr()
    outputs = []
    for left, right in (pairs, jsons):
        run_diff([str(left), str(right), "--format", "json", "--no-cache"])
        outputs.append(json.loads(capsys.readouterr().out))
    for result in outputs:  # the names are the files compared
        for side in ("before", "after"):
            result[side].pop("name", None)
    assert outputs[0]["resources"] and outputs[0]["summary"]["pushed_bytes"]["before"] > 0
    assert outputs[0] == outputs[1]
