"""Experiment pieces without servers: what blocks rendering, Link preloads, the metrics of a run, the JSON report
against its schema, the HTML escaping every byte from the server, and the command line's refusals."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from pushscope.cli import main
from pushscope.experiment.html import render_experiment_html
from pushscope.experiment.metrics import measure_run, render_blocking_urls
from pushscope.experiment.path_check import PathMeasurement
from pushscope.experiment.profiles import parse_profile
from pushscope.experiment.report import experiment_dict, render_text
from pushscope.experiment.runner import ExperimentOptions, ExperimentResult, profile_statistics
from pushscope.http.links import link_preloads

SCHEMA = json.loads((Path(__file__).parents[2] / "pushscope" / "experiment" / "experiment.schema.json").read_text())
HOSTILE = "https://127.0.0.1/<script>alert(1)</script>\x1b]52;c;aGk=\x07.css"


def test_render_blocking_is_stylesheets_and_synchronous_head_scripts() -> None:
    html = b"""<html><head><link rel="stylesheet" href="/a.css"><link rel=stylesheet media=print href=/p.css>
    <script src="/sync.js"></script><script async src="/async.js"></script><script defer src="/defer.js"></script>
    <script type=module src="/module.js"></script><link rel=preload href=/font.woff2 as=font></head>
    <body><script src="/body.js"></script><link rel=stylesheet href="/late.css"></body></html>"""
    found = render_blocking_urls(html, "https://example.test/page/index.html")
    assert found == ["https://example.test/a.css", "https://example.test/sync.js", "https://example.test/late.css"]
    assert render_blocking_urls(b"<html><head><script src='\x00<<'>" * 1000, "https://e.test/") is not None


def test_link_preloads_take_the_as_attribute() -> None:
    values = ['</s.css>; rel=preload; as=style, </f.woff2>; rel="preload"; as=font; crossorigin',
              '</next.html>; rel=prefetch', '</x>; rel=preload; as=weird']
    assert link_preloads(values, "https://e.test/dir/") == [("https://e.test/s.css", "style"),
                                                            ("https://e.test/f.woff2", "font"),
                                                            ("https://e.test/x", "empty")]


def _transfer(url: str, *, pushed: bool, size: int, start: float, end: float,
              push_id: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(connection_id="p1", url=url, pushed=pushed, received_bytes=size, started_at=start,
                           ended_at=end, push_id=push_id, stream_id=2 if pushed else 1, status=200)


def _session(start: float, document_end: float, style_end: float, *, pushed_unused: bool) -> SimpleNamespace:
    """A probe session's record of one run: the document, its stylesheet, maybe an unused push."""
    doc = _transfer("https://e.test/", pushed=False, size=5000, start=start + 0.1, end=document_end)
    style = _transfer("https://e.test/s.css", pushed=False, size=800, start=document_end, end=style_end)
    body = b"<html><head><link rel=stylesheet href=/s.css></head><body></body></html>"
    fetched = [SimpleNamespace(url=doc.url, destination="document", source="network", status=200, ok=True,
                               body=body, transfer=doc, completed_at=document_end),
               SimpleNamespace(url=style.url, destination="style", source="network", status=200, ok=True,
                               body=b"", transfer=style, completed_at=style_end)]
    transfers = [doc, style]
    truth = []
    if pushed_unused:
        transfers.append(_transfer(HOSTILE, pushed=True, size=4096, start=start + 0.2, end=start + 0.25, push_id=0))
        truth.append(SimpleNamespace(connection_id="p1", url=HOSTILE, push_id=0, stream_id=2, run="cold",
                                     outcome="wasted", reason="not-referenced"))
    run = SimpleNamespace(error=None, label="cold")
    return SimpleNamespace(started=[SimpleNamespace(at=start)], runs=[run], fetched=[fetched], transfers=[transfers],
                           truth=truth)


def synthetic_result() -> ExperimentResult:
    profile = parse_profile("rtt=100ms,down=5mbit")
    options = ExperimentOptions(url="https://e.test/", profiles=[profile], runs=6, strategies=["push", "no-push"])
    result = ExperimentResult(options)
    result.paths[profile.name] = PathMeasurement(profile, "tcp", rtt=0.101, down=5e6, up=None)
    rng = random.Random(1)
    for round_number in range(6):
        for strategy in ("push", "no-push"):
            start = 1000.0 + round_number
            document_end = start + 0.4 + rng.uniform(-0.005, 0.005)
            style_end = document_end + (0.01 if strategy == "push" else 0.11)
            session = _session(start, document_end, style_end, pushed_unused=strategy == "push")
            result.runs.append(measure_run(session, 0, profile.name, strategy, round_number))
    result.statistics.append(profile_statistics(result, profile))
    return result


def test_run_metrics_from_the_probe_record() -> None:
    result = synthetic_result()
    push = result.runs[0]
    assert push.ok and push.strategy == "push"
    assert push.render_blocking == pytest.approx(push.document + 0.01)
    assert push.bytes_received == 5000 + 800 + 4096 and push.pushed_bytes == push.wasted_push_bytes == 4096
    assert push.pushes[0].outcome == "wasted" and "\x1b" not in push.pushes[0].url
    stats = result.statistics[0]
    assert re.match(r"push saves (9[5-9]|10[0-5]) ms \(95 % CI ", stats.sentence) and ", wastes 4 KiB" in stats.sentence
    assert stats.winners["render_blocking"] == "push" and stats.winners["document"] is None


def test_json_report_follows_its_schema_and_text_names_the_measured_path() -> None:
    result = synthetic_result()
    report = experiment_dict(result)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert len(report["runs"]) == 12 and report["profiles"][0]["winner"]["render_blocking"] == "push"
    text = render_text(result)
    assert "TCP measured: RTT 101.0 ms, 5 Mbit/s/? down/up, no loss" in text and "push saves " in text
    assert "\x1b" not in text  # the hostile URL's escape is shown as text


def test_html_escapes_everything_from_the_server() -> None:
    page = render_experiment_html(experiment_dict(synthetic_result()))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count("Plotly.newPlot(") == 1 and "\x1b" not in page


@pytest.mark.parametrize("argv, message", [
    (["https://e.test/", "--strategies", "push,server-push"], "--strategies"),
    (["https://e.test/", "--network", "5g"], "unknown network profile"),
    (["https://e.test/", "--runs", "0"], "--runs"),
    (["http://e.test/", "--http", "3"], "--http 3 needs"),
    (["ftp://e.test/"], "not an http"),
])
def test_command_line_refusals(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_path_off_its_profile_stops_the_experiment_before_any_run(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The measurement itself is tested in test_shaper.py; here, what the command does with one that is off."""
    import pushscope.experiment.runner as runner

    def measured(profile, protocol, **_):  # type: ignore[no-untyped-def]
        return PathMeasurement(profile, protocol, rtt=profile.rtt * 1.3, down=profile.down, up=profile.up)

    monkeypatch.setattr(runner, "measure_path", measured)
    monkeypatch.setattr(runner, "one_run", lambda *args: pytest.fail("a run was made on a refused path"))
    assert main(["experiment", "https://127.0.0.1:9/", "--network", "4g", "--runs", "1"]) == 2
    err = capsys.readouterr().err
    assert "more than 10 % off its profile, so no run was made: 4g: RTT 110.5 ms, set 85 ms" in err
