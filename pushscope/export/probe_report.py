"""What a report adds when its source knew what it did with each push (the active probe): the runs, and per
push the probe's truth beside the verdict with whether outcome and reason agree.

The JSON report gets ``run`` on every exchange and push, ``probe_truth`` on every push and a ``probe`` section
(see ``report.schema.json``); the text and HTML reports render those parts of the JSON, so all three say the same.
"""

from __future__ import annotations

from typing import Any

from pushscope.model.entities import Capture, Push, Run


def run_dict(run: Run) -> dict[str, Any]:
    return {"label": run.label, "index": run.index, "cold": run.cold, "started_at": round(run.started_at, 6),
            "ended_at": None if run.ended_at is None else round(run.ended_at, 6),
            "connections": list(run.connections), "protocols": dict(run.protocols), "document": run.document,
            "status": run.status, "fetched_from": dict(run.fetched_from), "cached_at_start": run.cached_at_start,
            "error": run.error}


def truth_dict(push: Push) -> dict[str, Any] | None:
    truth = push.truth
    if truth is None or truth.agreement is None:
        return None
    found = truth.agreement
    return {"outcome": truth.outcome, "reason": truth.reason, "detail": truth.detail, "agrees": found.agrees,
            "outcome_agrees": found.outcome, "reason_agrees": found.reason}


def probe_section(capture: Capture) -> dict[str, Any]:
    """The runs, and how many verdicts agree with the probe's truth."""
    counts = {"agree": 0, "disagree": 0, "outcome_disagree": 0, "reason_disagree": 0}
    for push in capture.pushes:
        found = push.truth.agreement if push.truth is not None else None
        if found is None:
            continue
        counts["agree" if found.agrees else "disagree"] += 1
        counts["outcome_disagree"] += not found.outcome
        counts["reason_disagree"] += not found.reason
    return {"runs": [run_dict(run) for run in capture.runs],
            "agreement": {"pushes": len(capture.pushes), **counts}}


# --- text -------------------------------------------------------------------------------------------------------


def probe_text_lines(report: dict[str, Any]) -> list[str]:
    """The runs and, per push, the probe's truth beside the verdict: ``=`` agrees, ``~`` same outcome for another
    reason, ``≠`` another outcome. ``report`` is the JSON report, already made visible."""
    lines = ["", "Probe runs"]
    for run in report["probe"]["runs"]:
        connections = ", ".join(f"{cid} ({run['protocols'].get(cid, '?')})" for cid in run["connections"]) or "-"
        sources = ", ".join(f"{n} from {src}" for src, n in sorted(run["fetched_from"].items())) or "nothing fetched"
        state = "empty cache" if run["cold"] else f"{run['cached_at_start']} cached"
        status = run["error"] or f"document {run['status']}"
        lines.append(f"  {run['label']!s:<6} {state:<14} {connections:<24} {status}; {sources}")
    lines += ["", "Probe truth vs. verdicts"]
    for push in report["pushes"]:
        truth, run = push["probe_truth"], push["run"] if push["run"] is not None else "?"
        ident = f"push_id={push['push_id']}" if push["push_id"] is not None else f"stream {push['promised_stream_id']}"
        if truth is None:
            lines.append(f"  ? {run!s:<5} {push['connection']:<4} {ident:<12} {push['url']}: no probe record")
            continue
        mark = "=" if truth["agrees"] else ("~" if truth["outcome_agrees"] else "≠")
        probe, verdict = f"{truth['outcome']}/{truth['reason']}", f"{push['outcome']}/{push['reason']}"
        lines.append(f"  {mark} {run!s:<5} {push['connection']:<4} {ident:<12} probe {probe:<40} verdict "
                     f"{verdict:<34} {push['url']}")
    if not report["pushes"]:
        lines.append("  (no pushes)")
    return lines


# --- HTML -------------------------------------------------------------------------------------------------------


def probe_html(report: dict[str, Any], esc: Any) -> str:
    """The runs table and the truth-vs-verdict table; ``esc`` escapes every value (they come from the server)."""
    head = ("<tr><th>run</th><th>cache</th><th>connections</th><th>document</th><th>fetched</th></tr>")
    rows = []
    for run in report["probe"]["runs"]:
        connections = ", ".join(f"{cid} ({run['protocols'].get(cid, '?')})" for cid in run["connections"]) or "-"
        fetched = ", ".join(f"{n} from {src}" for src, n in sorted(run["fetched_from"].items())) or "nothing"
        state = "empty" if run["cold"] else f"{run['cached_at_start']} cached"
        document = run["error"] or f"{run['document'] or '-'} ({run['status']})"
        rows.append(f"<tr><td>{esc(run['label'])}</td><td>{esc(state)}</td><td>{esc(connections)}</td>"
                    f"<td class=url>{esc(document)}</td><td>{esc(fetched)}</td></tr>")
    runs = f"<table id=probe-runs>{head}{''.join(rows)}</table>"
    head = ("<tr><th>#</th><th>run</th><th>URL</th><th>the probe saw</th><th>the verdict</th>"
            "<th>agreement</th></tr>")
    rows = []
    for push in report["pushes"]:
        truth = push["probe_truth"]
        saw = "no probe record" if truth is None else f"{truth['outcome']}/{truth['reason']}"
        detail = "" if truth is None else f"<div class=muted>{esc(truth['detail'])}</div>"
        if truth is None:
            agreement = "-"
        else:
            agreement = "agrees" if truth["agrees"] else (
                "the reason differs" if truth["outcome_agrees"] else "the outcome differs")
        rows.append(f"<tr><td class=n>{push['id']}</td><td>{esc(push['run'] if push['run'] is not None else '-')}"
                    f"</td><td class=url>{esc(push['url'])}</td><td>{esc(saw)}{detail}</td>"
                    f"<td>{esc(push['outcome'] + '/' + push['reason'])}</td><td>{esc(agreement)}</td></tr>")
    truths = f"<table id=probe-truth>{head}{''.join(rows)}</table>"
    agreement = report["probe"]["agreement"]
    line = (f"<p>{agreement['agree']} of {agreement['pushes']} verdicts agree with what the probe saw; "
            f"{agreement['outcome_disagree']} differ in outcome, {agreement['reason_disagree']} in reason.</p>")
    return f"<h2>Probe runs</h2>{runs}<h2>Probe truth vs. verdicts</h2>{line}{truths}"
