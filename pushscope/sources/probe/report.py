"""A probe session's reports: the capture's JSON and text reports plus runs and, per push, the probe's truth
beside the verdict (with whether outcome and reason agree)."""

from __future__ import annotations

from typing import Any

from pushscope.model.entities import Capture
from pushscope.safe_text import visible
from pushscope.sources.probe.session import RunInfo
from pushscope.sources.probe.truth import TRUTH_OUTCOMES, PushTruth, RunLabel, agreement, truth_for


def probe_report(capture: Capture, runs_by_connection: dict[str, RunLabel], truth: list[PushTruth],
                 runs: list[RunInfo] | None = None, *, redact: bool = True) -> dict[str, Any]:
    """``report_dict`` plus ``source: "probe"``, ``run`` on every exchange and push, and ``probe_truth``."""
    from pushscope.export.json_report import report_dict

    report = report_dict(capture, redact=redact)
    report["source"] = "probe"
    for exchange in report["exchanges"]:
        exchange["run"] = runs_by_connection.get(exchange["connection"])
    counts = {"agree": 0, "disagree": 0, "outcome_disagree": 0, "reason_disagree": 0}
    for entry, push in zip(report["pushes"], capture.pushes, strict=True):
        entry["run"] = runs_by_connection.get(entry["connection"])
        item = truth_for(push, truth)
        if item is None:
            entry["probe_truth"] = None
            continue
        found = agreement(item, push)
        counts["agree" if found.agrees else "disagree"] += 1
        counts["outcome_disagree"] += not found.outcome
        counts["reason_disagree"] += not found.reason
        entry["probe_truth"] = {"outcome": item.outcome, "reason": item.reason, "detail": item.detail,
                                **found.as_dict()}
    report["probe"] = {
        "runs": [run.as_dict() for run in runs or []],
        "agreement": {"pushes": len(capture.pushes), **counts},
    }
    return report


RUN_SCHEMA = {"type": ["string", "integer", "null"], "description": "the probe run: cold, warm, or a --repeat index"}
PROBE_TRUTH_SCHEMA = {
    "type": ["object", "null"], "additionalProperties": False,
    "required": ["outcome", "reason", "detail", "agrees", "outcome_agrees", "reason_agrees"],
    "properties": {
        "outcome": {"enum": ["used", "wasted", "cache-duplicated", "unknown"]},
        "reason": {"enum": sorted(TRUTH_OUTCOMES)},
        "detail": {"type": "string"},
        "agrees": {"type": "boolean", "description": "the capture-style verdict has the same outcome and reason"},
        "outcome_agrees": {"type": "boolean", "description": "the capture-style verdict has the same outcome"},
        "reason_agrees": {"type": "boolean",
                          "description": "the capture-style verdict has the same reason (claimed-late for claimed)"},
    },
}
PROBE_SECTION_SCHEMA = {
    "type": "object", "required": ["runs", "agreement"],
    "properties": {
        "runs": {"type": "array", "items": {"type": "object", "required": ["label", "index", "cold", "connections"]}},
        "agreement": {"type": "object",
                      "required": ["pushes", "agree", "disagree", "outcome_disagree", "reason_disagree"]},
    },
}


def probe_report_schema() -> dict[str, Any]:
    """``report.schema.json`` extended with what a probe report adds (``run``, ``probe_truth``, ``probe``)."""
    import copy
    import json
    from importlib.resources import files

    schema = copy.deepcopy(json.loads(files("pushscope.export").joinpath("report.schema.json").read_text()))
    schema["$id"] = schema.get("$id", "").replace("report-1", "probe-report-1")
    schema["title"] = "pushscope probe report"
    schema["properties"]["probe"] = PROBE_SECTION_SCHEMA
    schema["properties"]["source"] = {"const": "probe"}
    schema["$defs"]["exchange"]["properties"]["run"] = RUN_SCHEMA
    schema["$defs"]["push"]["properties"]["run"] = RUN_SCHEMA
    schema["$defs"]["push"]["properties"]["probe_truth"] = PROBE_TRUTH_SCHEMA
    return schema


def render_probe_text(capture: Capture, runs_by_connection: dict[str, RunLabel], truth: list[PushTruth],
                      runs: list[RunInfo] | None = None, *, redact: bool = True) -> str:
    """The text report plus the runs and, per push, the probe's truth beside the verdict: ``=`` agrees, ``~`` same
    outcome for another reason, ``≠`` another outcome."""
    from pushscope.export.text_report import render_text

    lines = [render_text(capture, redact=redact).rstrip("\n"), "", "Probe runs"]
    for run in runs or []:
        connections = ", ".join(f"{cid} ({run.protocols.get(cid, '?')})" for cid in run.connections) or "-"
        sources = ", ".join(f"{n} from {src}" for src, n in sorted(run.sources.items())) or "nothing fetched"
        state = "empty cache" if run.cold else f"{run.cached_at_start} cached"
        status = run.error or f"document {run.status}"
        lines.append(f"  {run.label!s:<6} {state:<14} {connections:<24} {status}; {sources}")
    lines += ["", "Probe truth vs. verdicts"]
    for push in capture.pushes:
        item = truth_for(push, truth)
        run = runs_by_connection.get(push.connection_id, "?")
        ident = f"push_id={push.push_id}" if push.push_id is not None else f"stream {push.promised_stream_id}"
        if item is None:
            lines.append(f"  ? {run!s:<5} {push.connection_id:<4} {ident:<12} {push.url}: no probe record")
            continue
        found = agreement(item, push)
        mark = "=" if found.agrees else ("~" if found.outcome else "≠")
        probe, verdict = f"{item.outcome}/{item.reason}", f"{push.outcome}/{push.reason}"
        lines.append(f"  {mark} {run!s:<5} {push.connection_id:<4} {ident:<12} probe {probe:<40} verdict "
                     f"{verdict:<34} {push.url}")
    if not capture.pushes:
        lines.append("  (no pushes)")
    # URLs, run errors and reasons come from the probed server: each line made visible (the report is already).
    return "\n".join([lines[0], *(visible(line) for line in lines[1:])]) + "\n"
