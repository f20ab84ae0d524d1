"""Regenerate scenarios from today's real servers and judge them: the pipeline is proven on every run,
not only against old files. Verdicts read from the fresh capture must match the fresh client truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushscope.pipeline import load_capture

from .truth import CAPTURES, LIVE_STALL_TOLERANCE, compare_pushes, compare_requests, load_truth

LIVE = [
    ("make_captures.py", "nginx-push-basic"),
    ("make_captures.py", "nginx-second-connection"),
    ("make_h3_captures.py", "h3-push-claimed"),
]


@pytest.mark.servers
@pytest.mark.parametrize(("script", "scenario"), LIVE, ids=[s for _, s in LIVE])
def test_regenerated_capture_matches_its_truth(script: str, scenario: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(CAPTURES / script), "--out", str(tmp_path), "--only", scenario, "--retries", "2"],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    capture = load_capture(str(tmp_path / f"{scenario}.pcapng"), str(tmp_path / f"{scenario}.keys"))
    truth = load_truth(tmp_path / f"{scenario}.truth.json")
    problems, count = compare_pushes(capture, truth, stall_tolerance=LIVE_STALL_TOLERANCE)
    assert count > 0
    assert not problems, "\n".join(map(str, problems))
    assert not compare_requests(capture, truth)
