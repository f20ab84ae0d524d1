"""`pushscope report --format json` on every bundled capture equals the reviewed expected file."""

from __future__ import annotations

import importlib.util
import json

import pytest

from .truth import CAPTURES

_spec = importlib.util.spec_from_file_location("expected_report", CAPTURES / "expected_report.py")
assert _spec is not None and _spec.loader is not None
expected_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(expected_report)


@pytest.mark.parametrize("name", expected_report.names())
def test_report_matches_expected(name: str) -> None:
    expected_file = CAPTURES / "expected" / f"{name}.json"
    assert expected_file.exists(), f"run captures/expected_report.py --write after regenerating {name}"
    assert expected_report.stable_report(name) == json.loads(expected_file.read_text())
