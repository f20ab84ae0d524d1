"""A large JSON report is written piece by piece; the text must be exactly what one json.dumps would give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushscope.cli.output import write_output
from pushscope.export import json_report
from pushscope.model.entities import Capture


def test_streamed_report_is_the_compact_dump(capture: Capture, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_report, "LARGE_REPORT", 0)  # this small model takes the large-report path
    monkeypatch.setattr(json_report, "CHUNK_ITEMS", 4)  # a few exchanges or pushes per piece
    expected = json.dumps(json_report.report_dict(capture)) + "\n"
    pieces = list(json_report.json_chunks(capture))
    assert len(pieces) > (len(capture.exchanges) + len(capture.pushes)) // 2  # written a few entries at a time
    assert "".join(pieces) == expected
    out = tmp_path / "report.json"
    write_output(json_report.json_chunks(capture), str(out))  # how `report --format json -o FILE` writes it
    assert out.read_text(encoding="utf-8") == expected


def test_empty_lists_stream_as_empty_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_report, "LARGE_REPORT", -1)
    empty = Capture(source="capture", name="empty")
    assert json_report.render_json(empty) == json.dumps(json_report.report_dict(empty)) + "\n"


def test_small_report_stays_indented(capture: Capture) -> None:
    assert json_report.render_json(capture) == json.dumps(json_report.report_dict(capture), indent=2) + "\n"
