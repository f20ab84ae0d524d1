"""The text report: the JSON report's content as readable tables for a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pushscope.export.coverage import coverage_of
from pushscope.export.json_report import report_dict, report_sections
from pushscope.export.wording import cost_phrases
from pushscope.model.entities import Capture
from pushscope.presentation import glyph
from pushscope.safe_text import visible, visible_tree
from pushscope.units import fmt_bytes, fmt_ms, fmt_offset

ANOMALIES_SHOWN = 10  # per connection; the JSON report has them all
# What the report is of, in its own words: a probe is not a capture.
SOURCE_WORDS = {"capture": "capture", "probe": "probe", "live": "live capture"}


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 connection``, ``2 connections``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def render_text(capture: Capture, *, redact: bool = True) -> str:
    # Every string of the report comes from a capture or a key log: made visible before any is formatted. The
    # long lists (exchanges, pushes) are read one entry at a time, so the whole report is never held as dicts;
    # a probe's report is small and its own section reads the pushes again, so it is built whole.
    report = visible_tree(report_dict(capture, redact=redact)) if capture.probed else _streamed_report(capture, redact)
    start = capture.started_at or 0.0
    headline = coverage_of(report).headline()  # first, so nobody reads the zeros below as a clean result
    lines = [headline] if headline else []
    source = SOURCE_WORDS.get(capture.source, "capture")
    title = visible(capture.name or capture.source)
    lines += [f"pushscope {'probe' if capture.source == 'probe' else 'report'}: {title}", ""]
    lines.append("Connections")
    for conn in report["connections"]:
        tls = f"TLS {conn['tls_version']}" if conn["tls_version"] else conn["transport"]
        lines.append(
            f"  {conn['id']:<6} {conn['protocol']:<7} {conn['client']} -> {conn['server']}  {tls}"
            f"  SNI={conn['sni'] or '-'} ALPN={conn['alpn'] or '-'}"
            f"  sent c/s={fmt_bytes(conn['bytes_sent']['client'])}/{fmt_bytes(conn['bytes_sent']['server'])}"
        )
        pushes = conn["push_summary"]
        if pushes["pushes"]:
            counts = ", ".join(f"{k} {v}" for k, v in pushes["pushes_by_outcome"].items() if v)
            lines.append(f"         pushes: {counts}; wasted {fmt_bytes(pushes['wasted_bytes'])}, cache-duplicated "
                         f"{fmt_bytes(pushes['cache_duplicated_bytes'])}, saved {fmt_ms(pushes['time_saved'])}, "
                         f"added {fmt_ms(pushes['time_added'])}")
    lines += ["", "Exchanges"]
    lines.append(f"  {'conn':<6} {'stream':>6} {'':1} {'method':<7} {'status':>6} {'body':>10} {'start':>10}  url")
    for ex in report["exchanges"]:
        # Clamped: the JSON rounds times to the microsecond, which can put the first request a hair before the start.
        rel = "-" if ex["request_start"] is None else fmt_offset(max(0.0, ex["request_start"] - start))
        sid = ex["stream_id"] if ex["stream_id"] is not None else "-"
        mark = "P" if ex["pushed"] else " "
        lines.append(
            f"  {ex['connection']:<6} {sid!s:>6} {mark:1} {ex['method']:<7} {ex['status'] or '-'!s:>6} "
            f"{fmt_bytes(ex['body_bytes']):>10} {rel:>10}  {ex['url']}"
        )
    lines += ["", "Pushes"]
    any_push = False
    for push in report["pushes"]:
        any_push = True
        ident = f"push_id={push['push_id']}" if push["push_id"] is not None else f"stream {push['promised_stream_id']}"
        reset = ""
        if push["reset"]:
            reset = f"  reset by {push['reset']['by']} {push['reset']['code']}"
        mark = glyph(push["outcome"])
        lines.append(
            f"  {mark} {push['outcome']:<16} {push['reason']:<24} {push['connection']:<6} {ident:<12} "
            f"{fmt_bytes(push['pushed_bytes']):>10}  {push['url']}{reset}"
        )
        for item in push["evidence"]:
            lines.append(f"        - {item['text']}")
        extras = cost_phrases(push)[1:]  # the pushed size is already on the row
        if push["advice"]:
            extras.append(f"advice: {push['advice']}")
        if extras:
            lines.append("        " + "; ".join(extras))
    if not any_push:
        lines.append(f"  (no PUSH_PROMISE in this {source})")
    summary = report["summary"]
    lines += ["", "Summary"]
    lines.append(
        f"  {counted(summary['connections'], 'connection')}, {counted(summary['requests'], 'request')}, "
        f"{counted(summary['pushes'], 'push', 'pushes')}"
        + "".join(f"{': ' if i == 0 else ', '}{k} {v}"
                  for i, (k, v) in enumerate((k, v) for k, v in summary["pushes_by_outcome"].items() if v))
    )
    lines.append(
        f"  wasted {fmt_bytes(summary['wasted_bytes'])}, "
        f"cache-duplicated {fmt_bytes(summary['cache_duplicated_bytes'])}, "
        f"time saved {fmt_ms(summary['time_saved'])}, time added {fmt_ms(summary['time_added'])}"
    )
    lines += _conversation_lines(report["conversations"])
    if report["diagnostics"]:
        lines += ["", "Diagnostics"]
        for diag in report["diagnostics"]:
            lines.append(f"  [{diag['level']}] {diag['message']}")
    lines += anomaly_lines(report["connections"])
    if "probe" in report:
        from pushscope.export.probe_report import probe_text_lines

        lines += probe_text_lines(report)
    return "\n".join(lines) + "\n"


def _streamed_report(capture: Capture, redact: bool) -> dict[str, Any]:
    """The report's sections with the short ones materialised and the long ones as generators of visible entries."""
    sections = report_sections(capture, redact=redact)
    for key in ("connections", "conversations", "diagnostics", "summary"):
        sections[key] = visible_tree(list(sections[key]) if isinstance(sections[key], Iterator) else sections[key])
    for key in ("exchanges", "pushes"):
        sections[key] = (visible_tree(entry) for entry in sections[key])
    return sections


def _conversation_lines(conversations: list[dict[str, Any]]) -> list[str]:
    """Counts by status; each undecoded one is a diagnostic (with packets and bytes, biggest first)."""
    if not conversations:
        return []
    counts: dict[str, int] = {}
    for conv in conversations:
        counts[conv["status"]] = counts.get(conv["status"], 0) + 1
    lines = ["", "Conversations",
             f"  {len(conversations)} TCP/UDP conversations: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    if counts.get("undecodable"):
        lines.append("  (the undecoded ones are listed under Diagnostics, biggest first)")
    return lines


def anomaly_lines(connections: list[dict[str, Any]]) -> list[str]:
    """The protocol anomalies of each connection (what a broken or hostile peer did), a few per connection."""
    if not any(conn["anomalies"] for conn in connections):
        return []
    lines = ["", "Anomalies"]
    for conn in connections:
        anomalies = conn["anomalies"]
        for item in anomalies[:ANOMALIES_SHOWN]:
            stream = f" stream {item['stream_id']}" if item["stream_id"] is not None else ""
            lines.append(f"  {conn['id']:<6} {item['by']}{stream}: {item['message']}")
        if len(anomalies) > ANOMALIES_SHOWN:
            lines.append(f"  {conn['id']:<6} ... and {len(anomalies) - ANOMALIES_SHOWN} more (all in the JSON report)")
    return lines
