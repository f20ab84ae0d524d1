"""A saved probe session is just its recorded events: the inspector, ``report --format json`` and the HTML report
fold the same events and show the same runs and the same truth beside each verdict, disagreements included."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path

import pytest
from probe_inprocess import InProcessH2Server

from pushscope.cli import main
from pushscope.cli.probe import run_probe
from pushscope.cli.tui import saved_session_load
from pushscope.tui.app import PushscopeApp

TRUTH_ROW = re.compile(r"<tr><td class=n>(\d+)</td><td>(.*?)</td><td class=url>(.*?)</td><td>(.*?)(?:<div|</td>)")
RUN_ROW = re.compile(r"<tr><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A cold and a warm run against the in-process push server, saved; then one truth edited so that the probe
    and the verdict disagree on a reason (every view must say so)."""
    path = tmp_path_factory.mktemp("session") / "s.jsonl"
    with InProcessH2Server() as server:
        assert run_probe([server.url, "--runs", "cold,warm", "--format", "json", "-o",
                          str(path.with_suffix(".json")), "--save", str(path)]) == 0
    probe_report = json.loads(path.with_suffix(".json").read_text())
    lines = path.read_text().splitlines()
    edited = next(i for i, line in enumerate(lines) if '"PushTruthRecorded"' in line and '"already-cached"' in line)
    record = json.loads(lines[edited])
    record["reason"] = "pushed-twice"  # same outcome (cache-duplicated), another reason
    lines[edited] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    return path, probe_report


def _report(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _table(page: str, table_id: str) -> str:
    start = page.index(f"<table id={table_id}>")
    return page[start:page.index("</table>", start)]


def _truths(report: dict) -> list[tuple]:
    return [(p["id"], p["run"], p["url"], p["probe_truth"]["outcome"], p["probe_truth"]["reason"],
             p["probe_truth"]["agrees"]) for p in report["pushes"]]


def test_json_and_html_show_the_same_truth_and_runs(session: tuple[Path, dict], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path, probe_report = session
    report = json.loads(_report(capsys, "report", str(path), "--format", "json"))
    assert report["source"] == "probe" and len(report["pushes"]) == 6
    # the saved session says what the probe said, except the one edited truth
    assert [run["label"] for run in report["probe"]["runs"]] == ["cold", "warm"]
    assert report["probe"]["runs"] == probe_report["probe"]["runs"]
    changed = [(a, b) for a, b in zip(_truths(report), _truths(probe_report), strict=True) if a != b]
    assert [(a[4], a[5], b[4], b[5]) for a, b in changed] == [("pushed-twice", False, "already-cached", True)]
    assert report["probe"]["agreement"]["reason_disagree"] == 1
    assert sum(d["code"] == "probe-disagrees" for d in report["diagnostics"]) == 1

    page = tmp_path / "s.html"
    assert main(["report", str(path), "--format", "html", "-o", str(page)]) == 0
    text = page.read_text()
    runs_table, truth_table = _table(text, "probe-runs"), _table(text, "probe-truth")
    assert [html.unescape(label) for label, _ in RUN_ROW.findall(runs_table)] == ["cold", "warm"]
    rows = [(int(i), html.unescape(run), html.unescape(url), html.unescape(saw))
            for i, run, url, saw in TRUTH_ROW.findall(truth_table)]
    assert rows == [(p[0], p[1], p[2], f"{p[3]}/{p[4]}") for p in _truths(report)]
    assert truth_table.count("the reason differs") == 1

    text_report = _report(capsys, "report", str(path))
    assert "Probe runs" in text_report and text_report.count("\n  ~ ") == 1  # same outcome, another reason


async def test_the_inspector_shows_the_same_truth_and_runs(session: tuple[Path, dict],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = session
    report = json.loads(_report(capsys, "report", str(path), "--format", "json"))
    app = PushscopeApp(saved_session_load(str(path)))  # what `pushscope s.jsonl` opens
    async with app.run_test(size=(140, 50)) as pilot:
        await asyncio.wait_for(app.load_finished.wait(), 60)
        await pilot.pause()
        capture = app.capture
        assert capture is not None
        assert [(run.label, run.connections) for run in capture.runs] == [
            (run["label"], tuple(run["connections"])) for run in report["probe"]["runs"]]
        assert [(p.id, capture.runs_by_connection[p.connection_id], p.url, p.truth.outcome, p.truth.reason,
                 p.truth.agreement.agrees) for p in capture.pushes] == _truths(report)
        for push in capture.pushes:
            row = next(r for r in app.waterfall.rows if r.push_index == push.id)
            app.waterfall.select_exchange(row.exchange_id)
            await pilot.pause()
            text = app.detail.content.plain
            expected = f"probe saw {push.truth.outcome}/{push.truth.reason} (run {push.truth.run})"
            assert expected in text, text
            verdict = "= the verdict agrees" if push.truth.agreement.agrees else "≠ the reason differs"
            assert verdict in text
