"""``pushscope diff A B``: what changed in server push between two captures (say, before and after a fix).

Works on report dicts (``report_dict`` output or a JSON report read back), so captures and saved reports mix.
Resources are matched by authority + path: stream IDs, push IDs and connection IDs differ between runs, the
resource does not. For each resource: push outcome before and after, pushed bytes, and when it was complete
(ms after the capture started); then the summary deltas.
"""

from __future__ import annotations

import json
from typing import Any

from pushscope.export.html_report import badge, esc, html_page
from pushscope.safe_text import json_visible, visible_tree
from pushscope.units import fmt_bytes, fmt_ms
from pushscope.vocabulary import OUTCOMES

SUMMARY_KEYS = ("connections", "requests", "pushes", "wasted_bytes", "cache_duplicated_bytes", "time_saved",
                "time_added", "duration")


def resource_key(url: str) -> str:
    """``authority/path?query`` without the scheme: the same resource across runs."""
    return url.split("://", 1)[-1] if url else ""


def _resources(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    t0 = report.get("started_at") or 0.0
    out: dict[str, dict[str, Any]] = {}
    for ex in report["exchanges"]:
        key = resource_key(ex["url"])
        if not key:
            continue
        entry = out.setdefault(key, {"requests": 0, "pushes": [], "pushed_bytes": 0, "ready_at": None,
                                     "duration": None, "status": None})
        entry["requests"] += 0 if ex["pushed"] else 1
        if ex["response_end"] is not None and (entry["ready_at"] is None or ex["response_end"] - t0
                                               < entry["ready_at"]):
            entry["ready_at"] = ex["response_end"] - t0
            start = ex["request_start"] if ex["request_start"] is not None else ex["response_start"]
            entry["duration"] = None if start is None else ex["response_end"] - start
            entry["status"] = ex["status"]
    for push in report["pushes"]:
        entry = out.setdefault(resource_key(push["url"]), {"requests": 0, "pushes": [], "pushed_bytes": 0,
                                                           "ready_at": None, "duration": None, "status": None})
        entry["pushes"].append({"outcome": push["outcome"], "reason": push["reason"],
                                "wasted_bytes": push["cost"]["wasted_bytes"]})
        entry["pushed_bytes"] += push["pushed_bytes"]
    for entry in out.values():
        outcomes = [p["outcome"] for p in entry["pushes"]]
        entry["outcome"] = "+".join(outcomes) if outcomes else "not pushed"
        entry["reason"] = "; ".join(p["reason"] for p in entry["pushes"] if p["reason"])
    return out


def _delta(before: float | int | None, after: float | int | None) -> float | int | None:
    if before is None or after is None:
        return None
    return round(after - before, 6) if isinstance(before, float) or isinstance(after, float) else after - before


# What a comparison reads of each exchange and push: a capture's report is made with only these.
EXCHANGE_FIELDS = ("url", "pushed", "status", "request_start", "response_start", "response_end")
PUSH_FIELDS = ("url", "outcome", "reason", "cost", "pushed_bytes")


def side_of(report: dict[str, Any]) -> dict[str, Any]:
    """What a comparison keeps of one report: its resources, summary and names. The report's exchanges and pushes
    are read once, in order (they may be generators over a capture's model), so one side is reduced before the
    other is read: two gigabyte captures are never held as dicts at once."""
    resources = _resources(report)
    return {"name": report.get("name"), "source": report.get("source"), "summary": report["summary"],
            "resources": resources, "pushed_bytes": sum(entry["pushed_bytes"] for entry in resources.values())}


def diff_reports(before: dict[str, Any], after: dict[str, Any],
                 names: tuple[str, str] = ("before", "after")) -> dict[str, Any]:
    """Per-resource and summary differences between two report dicts."""
    return diff_sides(side_of(before), side_of(after), names)


def diff_sides(before: dict[str, Any], after: dict[str, Any],
               names: tuple[str, str] = ("before", "after")) -> dict[str, Any]:
    """``diff_reports`` on two reports already reduced by ``side_of``."""
    a, b = before["resources"], after["resources"]
    rows = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key), b.get(key)
        changes = []
        if old is None or new is None:
            changes.append("only in " + (names[1] if old is None else names[0]))
        else:
            if old["outcome"] != new["outcome"]:
                changes.append(f"push {old['outcome']} → {new['outcome']}")
            if old["pushed_bytes"] != new["pushed_bytes"]:
                changes.append(f"pushed bytes {new['pushed_bytes'] - old['pushed_bytes']:+d}")
            moved = _delta(old["ready_at"], new["ready_at"])
            if moved is not None and abs(moved) >= 0.001:
                changes.append(f"ready {fmt_ms(moved, signed=True)}")
        rows.append({"resource": key, "before": old, "after": new, "changes": changes,
                     "ready_delta": _delta(old["ready_at"] if old else None, new["ready_at"] if new else None)})
    sa, sb = before["summary"], after["summary"]
    summary = {k: {"before": sa.get(k), "after": sb.get(k), "delta": _delta(sa.get(k), sb.get(k))}
               for k in SUMMARY_KEYS}
    for outcome in OUTCOMES:
        old_n, new_n = sa["pushes_by_outcome"].get(outcome, 0), sb["pushes_by_outcome"].get(outcome, 0)
        summary[f"pushes_{outcome}"] = {"before": old_n, "after": new_n, "delta": new_n - old_n}
    pushed_a, pushed_b = before["pushed_bytes"], after["pushed_bytes"]
    summary["pushed_bytes"] = {"before": pushed_a, "after": pushed_b, "delta": pushed_b - pushed_a}
    return {"before": {"name": names[0], "source": before.get("name") or before.get("source")},
            "after": {"name": names[1], "source": after.get("name") or after.get("source")},
            "resources": rows, "summary": summary}


def _cell(side: dict[str, Any] | None) -> tuple[str, str, str]:
    if side is None:
        return "-", "-", "-"
    ready = "-" if side["ready_at"] is None else fmt_ms(side["ready_at"])
    return side["outcome"], fmt_bytes(side["pushed_bytes"]) if side["pushes"] else "-", ready


def _fmt_summary(key: str, value: float | int | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if key in ("time_saved", "time_added", "duration"):
        return fmt_ms(float(value), signed=signed)
    if key.endswith("bytes"):
        text = fmt_bytes(int(value))
        return ("+" + text if value > 0 else text) if signed else text
    return f"{value:+d}" if signed else str(value)


def render_diff_text(diff: dict[str, Any]) -> str:
    diff = visible_tree(diff)  # resource names, reasons and file names come from the captures
    a, b = diff["before"], diff["after"]
    notes = [f"{side['name']}: {side['coverage']}" for side in (a, b) if side.get("coverage")]
    lines = notes + [f"pushscope diff: {a['name']} = {a['source']}  →  {b['name']} = {b['source']}", "", "Resources"]
    lines.append(f"  {'push before':<20} {'push after':<20} {'bytes before':>12} {'bytes after':>12} "
                 f"{'ready before':>13} {'ready after':>13}  resource")
    for row in diff["resources"]:
        ob, pb, rb = _cell(row["before"])
        oa, pa, ra = _cell(row["after"])
        mark = "*" if row["changes"] else " "
        lines.append(f"{mark} {ob:<20} {oa:<20} {pb:>12} {pa:>12} {rb:>13} {ra:>13}  {row['resource']}")
        if row["changes"]:
            lines.append(f"      {'; '.join(row['changes'])}")
    lines += ["", "Summary", f"  {'':<24} {'before':>12} {'after':>12} {'delta':>12}"]
    for key, value in diff["summary"].items():
        lines.append(f"  {key:<24} {_fmt_summary(key, value['before']):>12} {_fmt_summary(key, value['after']):>12}"
                     f" {_fmt_summary(key, value['delta'], signed=True):>12}")
    return "\n".join(lines) + "\n"


def render_diff_html(diff: dict[str, Any]) -> str:
    a, b = diff["before"], diff["after"]
    rows = []
    for row in diff["resources"]:
        cells = []
        for side in (row["before"], row["after"]):
            outcome, pushed, ready = _cell(side)
            shown = "".join(badge(o) if o in OUTCOMES else esc(o) for o in outcome.split("+"))
            cells.append(f"<td>{shown}</td><td class=n>{esc(pushed)}</td><td class=n>{esc(ready)}</td>")
        rows.append(f"<tr><td class=url>{esc(row['resource'])}</td>{''.join(cells)}"
                    f"<td>{esc('; '.join(row['changes']) or '-')}</td></tr>")
    head = (f"<tr><th rowspan=2>resource</th><th colspan=3>{esc(a['name'])}</th><th colspan=3>{esc(b['name'])}</th>"
            "<th rowspan=2>changes</th></tr><tr><th>push</th><th>pushed</th><th>ready</th><th>push</th>"
            "<th>pushed</th><th>ready</th></tr>")
    summary = "".join(
        f"<tr><td>{esc(key)}</td><td class=n>{esc(_fmt_summary(key, v['before']))}</td>"
        f"<td class=n>{esc(_fmt_summary(key, v['after']))}</td>"
        f"<td class=n>{esc(_fmt_summary(key, v['delta'], signed=True))}</td></tr>"
        for key, v in diff["summary"].items()
    )
    title = f"pushscope diff: {a['source']} → {b['source']}"
    notes = "".join(f"<p class=warning><strong>{esc(side['name'])}: {esc(side['coverage'])}</strong></p>"
                    for side in (a, b) if side.get("coverage"))
    body = (f"<h1>{esc(title)}</h1>{notes}<p class=muted>{esc(a['name'])} = {esc(a['source'])}, {esc(b['name'])} = "
            f"{esc(b['source'])}; resources matched by authority and path; ready = ms after the capture started."
            f"</p><h2>Summary</h2><table id=diff-summary><tr><th></th><th>{esc(a['name'])}</th>"
            f"<th>{esc(b['name'])}</th><th>delta</th></tr>{summary}</table>"
            f"<h2>Resources</h2><table id=diff-resources>{head}{''.join(rows)}</table>")
    return html_page(title, body)


def render_diff_json(diff: dict[str, Any]) -> str:
    return json_visible(json.dumps(diff, indent=2, ensure_ascii=False)) + "\n"
