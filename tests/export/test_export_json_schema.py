"""Every JSON report validates against report.schema.json: hand-built models, our captures, the public ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from export_models import PUBLIC_H2, REPO, build_capture

from pushscope.analysis.truth import compare_truth
from pushscope.export.json_report import render_json, report_dict
from pushscope.model.entities import PushTruth, Run

SCHEMA_PATH = REPO / "pushscope" / "export" / "report.schema.json"
GOLDEN = Path(__file__).parent / "golden" / "hand_built_report.json"


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(report: dict) -> None:
    errors = sorted(validator().iter_errors(report), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_schema_is_valid_2020_12() -> None:
    validator()


@pytest.mark.parametrize("redact", [True, False])
def test_hand_built_report_validates(redact: bool) -> None:
    assert_valid(json.loads(render_json(build_capture(), redact=redact)))


def test_xss_capture_report_validates() -> None:
    assert_valid(json.loads(render_json(build_capture(xss=True))))


def test_schema_rejects_drift() -> None:
    report = json.loads(render_json(build_capture()))
    report["pushes"][0]["outcome"] = "maybe"
    assert list(validator().iter_errors(report))
    report = json.loads(render_json(build_capture()))
    report["pushes"][0]["surprise"] = 1
    assert list(validator().iter_errors(report)), "schema must list every field: additionalProperties is false"


# What only a probe report carries (the probe's runs and truth); a capture's report has every other key.
PROBE_ONLY = {"report": {"probe"}, "push": {"run", "probe_truth"}, "exchange": {"run"}}


def test_schema_covers_every_report_field() -> None:
    """Each key report_dict writes is declared in the schema (so the schema documents the whole contract)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    report = report_dict(build_capture())
    assert set(report) == set(schema["properties"]) - PROBE_ONLY["report"]
    assert set(report["pushes"][0]) == set(schema["$defs"]["push"]["properties"]) - PROBE_ONLY["push"]
    assert set(report["exchanges"][0]) == set(schema["$defs"]["exchange"]["properties"]) - PROBE_ONLY["exchange"]
    assert set(report["connections"][0]) == set(schema["$defs"]["connection"]["properties"])
    assert set(report["summary"]) == set(schema["$defs"]["summary"]["properties"])
    assert set(report["conversations"][0]) == set(schema["$defs"]["conversation"]["properties"])


def test_schema_covers_a_probe_reports_runs_and_truth() -> None:
    """A model that carries the probe's knowledge (runs, a push's truth) reports every key, probe-only ones too."""
    capture = build_capture()
    first = capture.pushes[0]
    capture.runs.append(Run("cold", 0, True, capture.started_at or 0.0, ended_at=capture.ended_at,
                            connections=tuple(capture.connections), fetched_from={"network": 2, "push": 1}))
    first.truth = PushTruth(first.connection_id, "cold", first.url, first.promised_stream_id, first.push_id,
                            first.promised_at, first.outcome, first.reason, "as the probe saw it")
    compare_truth(capture)
    report = report_dict(capture)
    assert_valid(json.loads(render_json(capture)))
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(report) == set(schema["properties"])
    assert set(report["pushes"][0]) == set(schema["$defs"]["push"]["properties"])
    assert set(report["exchanges"][0]) == set(schema["$defs"]["exchange"]["properties"])
    assert set(report["probe"]["runs"][0]) == set(schema["$defs"]["run"]["properties"])
    assert report["pushes"][0]["probe_truth"]["agrees"] and report["pushes"][1]["probe_truth"] is None
    assert report["probe"]["agreement"] == {"pushes": len(capture.pushes), "agree": 1, "disagree": 0,
                                            "outcome_disagree": 0, "reason_disagree": 0}


def test_golden_report_for_hand_built_model() -> None:
    """The whole JSON for a fixed model; set PUSHSCOPE_UPDATE_GOLDEN=1 to rewrite it after a deliberate change."""
    report = report_dict(build_capture())
    report["pushscope"] = "VERSION"
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    if os.environ.get("PUSHSCOPE_UPDATE_GOLDEN") or not GOLDEN.exists():
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def _real_captures() -> list[tuple[Path, Path | None]]:
    found = [(p, p.with_suffix(".keys") if p.with_suffix(".keys").exists() else None)
             for p in sorted((REPO / "captures").glob("*.pcapng"))]
    found += [(p, None) for p in PUBLIC_H2 if p.exists()]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("capture_path,keys", _real_captures() or [pytest.param(None, None, marks=pytest.mark.skip(
    reason="no capture files present"))], ids=lambda v: getattr(v, "name", str(v)))
def test_real_capture_reports_validate(capture_path: Path, keys: Path | None) -> None:
    from pushscope.pipeline import load_capture

    capture = load_capture(str(capture_path), str(keys) if keys else None)
    assert_valid(json.loads(render_json(capture)))
