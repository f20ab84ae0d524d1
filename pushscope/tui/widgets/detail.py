"""The detail pane: everything about the selected exchange, and for a push why it got its verdict and what it cost.

Built as Textual ``Content`` with theme variables ($success, $error, ...) so it reads in light and dark themes;
header values are plain text (never markup), with Cookie / Set-Cookie / Authorization redacted.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from pushscope.export.json_report import redact_headers
from pushscope.model.entities import Capture, Exchange, Push
from pushscope.tui.fmt import fmt_bytes, fmt_duration, fmt_offset
from pushscope.tui.view import LEVEL_GLYPHS, OUTCOME_GLYPHS, OUTCOME_STYLES, CaptureView, Row

HEADING = "bold $accent"
MUTED = "$text-muted"

Part = str | tuple[str, str]


def _line(*parts: Part) -> Content:
    return Content.assemble(*parts)


def _heading(title: str) -> list[Content]:
    return [Content(""), _line((title, HEADING))]


def _headers(title: str, headers: list[tuple[str, str]]) -> list[Content]:
    lines = _heading(title)
    if not headers:
        return lines + [_line(("  (none in the capture)", MUTED))]
    for name, value in redact_headers(headers):
        lines.append(_line("  ", (name, "bold"), ": ", value))
    return lines


def _timing(exchange: Exchange, t0: float) -> Content:
    def rel(at: float | None) -> str:
        return fmt_offset(None if at is None else at - t0)

    took = None
    if exchange.request_start is not None and exchange.response_end is not None:
        took = exchange.response_end - exchange.request_start
    first = "promised" if exchange.pushed else "request"
    return _line("  ", (f"{first} ", MUTED), rel(exchange.request_start), (" → response ", MUTED),
                 rel(exchange.response_start), (" → end ", MUTED), rel(exchange.response_end),
                 (" · took ", MUTED), fmt_duration(took))


def _verdict(push: Push, t0: float) -> list[Content]:
    style = OUTCOME_STYLES.get(push.outcome, MUTED)
    lines = _heading("Verdict")
    lines.append(_line("  ", (f"{OUTCOME_GLYPHS.get(push.outcome, '?')} {push.outcome}", f"bold {style}"),
                       (" — ", MUTED), push.reason or "no reason given (analysis pending)"))
    if push.reset is not None:
        reset = push.reset
        lines.append(_line("  ", ("reset ", MUTED), f"{reset.label} by the {reset.by} at ",
                           fmt_offset(reset.at - t0)))
    if push.evidence:
        lines += _heading("Evidence")
        for item in push.evidence:
            when = fmt_offset(item.at - t0) if item.at is not None else "-"
            lines.append(_line("  ", (when.rjust(11), MUTED), "  ", (item.kind, "bold"), "  ", item.text))
    cost = push.cost
    lines += _heading("Cost")
    lines.append(_line("  pushed ", (fmt_bytes(cost.pushed_bytes), "bold"),
                       f" (headers {fmt_bytes(cost.header_bytes)} + body {fmt_bytes(cost.body_bytes)})",
                       ("  wasted ", MUTED), (fmt_bytes(cost.wasted_bytes), "$error" if cost.wasted_bytes else "")))
    lines.append(_line("  ", ("duration ", MUTED), fmt_duration(cost.duration),
                       ("  competed with ", MUTED), fmt_bytes(cost.competed_bytes),
                       ("  delay added ", MUTED), fmt_duration(cost.competed_delay)))
    lines.append(_line("  ", ("time saved ", MUTED), fmt_duration(cost.saved_time),
                       ("  late by ", MUTED), fmt_duration(cost.late_by)))
    if push.advice or push.advice_text:
        lines += _heading("Advice")
        if push.advice:
            lines.append(_line("  ", (push.advice, "bold")))
        if push.advice_text:
            lines.append(_line("  ", push.advice_text))
    lines += _heading("Link preload header")
    lines.append(_line("  ", push.preload_link or ("(none for this URL)", MUTED)))
    return lines


def _frames(exchange: Exchange, t0: float) -> list[Content]:
    lines = _heading(f"Frames on stream {exchange.stream_id if exchange.stream_id is not None else '-'}")
    if not exchange.frames:
        return lines + [_line(("  (none recorded)", MUTED))]
    for frame in sorted(exchange.frames, key=lambda f: f.at):
        flags = " ".join(frame.flags)
        lines.append(_line("  ", (fmt_offset(frame.at - t0).rjust(11), MUTED), f"  {frame.sender:<6} ",
                           (f"{frame.frame_type:<13}", "bold"), f"{fmt_bytes(frame.length):>10}  ", (flags, MUTED)))
    return lines


def _children(capture: Capture, exchange: Exchange) -> list[Content]:
    pushes = [p for p in capture.pushes
              if p.connection_id == exchange.connection_id and p.parent_stream_id == exchange.stream_id]
    if exchange.pushed or not pushes:
        return []
    lines = _heading(f"Pushes promised on this stream ({len(pushes)})")
    for push in pushes:
        style = OUTCOME_STYLES.get(push.outcome, MUTED)
        lines.append(_line("  ", (f"{OUTCOME_GLYPHS.get(push.outcome, '?')} {push.outcome:<16}", style), push.url))
    return lines


def exchange_content(capture: Capture, row: Row) -> Content:
    """The full story of one row."""
    exchange = capture.exchange(row.exchange_id)
    if exchange is None:
        return Content("exchange not found")
    t0 = capture.started_at or 0.0
    push = capture.pushes[row.push_index] if row.push_index is not None else None
    title_style = OUTCOME_STYLES.get(push.outcome, MUTED) if push is not None else "bold"
    lines = [_line((f"{exchange.method or 'GET'} ", "bold"), (row.url or exchange.url or row.path, title_style))]
    conn = capture.connections.get(exchange.connection_id)
    where = f"{conn.id} {exchange.protocol}" if conn is not None else exchange.protocol
    lines.append(_line("  ", (str(exchange.status or "no status"), "bold"), " · ",
                       exchange.content_type or "-", " · body ", fmt_bytes(exchange.body_bytes),
                       " · ", where, f" stream {exchange.stream_id if exchange.stream_id is not None else '-'}"))
    if push is not None:
        extra = f" · push id {push.push_id}" if push.push_id is not None else ""
        lines.append(_line("  ", ("pushed", "bold"), f" — promised on stream {push.parent_stream_id} at ",
                           fmt_offset(push.promised_at - t0 if push.promised_at else None), extra))
    lines.append(_timing(exchange, t0))
    if exchange.reset is not None and (push is None or push.reset is None):
        reset = exchange.reset
        lines.append(_line("  ", ("reset ", "$error"), f"{reset.label} by the {reset.by} at ",
                           fmt_offset(reset.at - t0)))
    if push is not None:
        lines += _verdict(push, t0)
    lines += _children(capture, exchange)
    lines += _headers("Request headers" if not exchange.pushed else "Promised request headers",
                      exchange.request_headers)
    lines += _headers("Response headers", exchange.response_headers)
    lines += _frames(exchange, t0)
    return Content("\n").join(lines)


def overview_content(view: CaptureView) -> Content:
    """What the pane shows before anything is selected: the capture's headline numbers."""
    summary = view.summary
    lines = [_line((view.name, "bold"))]
    if summary:
        lines.append(_line(f"  {summary.get('connections', 0)} connections · {summary.get('requests', 0)} requests"
                           f" · {summary.get('pushes', 0)} pushes · {fmt_duration(view.duration)}"))
    if not view.rows:
        lines.append(_line(("  No exchanges to show. The diagnostics say why:", MUTED)))
    else:
        lines.append(_line(("  Select a row in the waterfall to see its headers, frames and verdict.", MUTED)))
    problems = [d for d in view.diagnostics if d.level != "info"]
    if problems or not view.rows:
        lines += _heading("Diagnostics")
        for item in problems or view.diagnostics:
            glyph, style = LEVEL_GLYPHS.get(item.level, ("•", ""))
            lines.append(_line("  ", (f"{glyph} ", style), item.message))
    return Content("\n").join(lines)


class DetailPane(VerticalScroll, can_focus=True):
    """A scrolling view of one ``Content``; focusable so long details can be scrolled with the keyboard."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="detail-body")

    def show(self, content: Content) -> None:
        self.query_one("#detail-body", Static).update(content)
        self.scroll_home(animate=False)
