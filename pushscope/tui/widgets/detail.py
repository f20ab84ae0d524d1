"""The detail pane: everything about the selected exchange, and for a push why it got its verdict and what it cost.

Built as Textual ``Content`` with theme variables ($success, $error, ...) so it reads in light and dark themes;
header values are plain text (never markup), with Cookie / Set-Cookie / Authorization redacted.
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.visual import Visual

from pushscope.decode.frame_names import frame_name
from pushscope.http.redaction import redact_headers
from pushscope.kept_model import KeptModelError
from pushscope.model.details import ModelDetails
from pushscope.model.entities import Exchange, Push
from pushscope.presentation import OUTCOME_STYLES, glyph
from pushscope.safe_text import visible
from pushscope.tui.fmt import fmt_bytes, fmt_duration, unit_for
from pushscope.tui.view import LEVEL_GLYPHS, CaptureView, Row
from pushscope.tui.widgets.scrolling import set_virtual_size

HEADING = "bold $accent"
MUTED = "$text-muted"
ANOMALY_LIMIT = 20
FRAMES_FIRST, FRAMES_LAST = 200, 100  # frames listed of a longer log: its start and its end

Part = str | tuple[str, str]


def _line(*parts: Part) -> Content:
    """One line; every ``str`` part is plain text (``Content.assemble`` never reads markup from it)."""
    return Content.assemble(*parts)


def _heading(title: str) -> list[Content]:
    return [Content(""), _line((title, HEADING))]


def _headers(title: str, headers: list[tuple[str, str]]) -> list[Content]:
    lines = _heading(title)
    if not headers:
        return lines + [_line(("  (none in the capture)", MUTED))]
    for name, value in redact_headers(headers):
        lines.append(_line("  ", (visible(name), "bold"), ": ", visible(value)))
    return lines


def _rel(at: float | None, t0: float) -> float | None:
    return None if at is None else at - t0


def _timing(exchange: Exchange, t0: float) -> Content:
    moments = [_rel(at, t0) for at in (exchange.request_start, exchange.response_start, exchange.response_end)]
    took = None
    if exchange.request_start is not None and exchange.response_end is not None:
        took = exchange.response_end - exchange.request_start
    unit = unit_for([*moments, took])
    first = "promised" if exchange.pushed else "request"
    return _line("  ", (f"{first} ", MUTED), unit.offset(moments[0]), (" → response ", MUTED),
                 unit.offset(moments[1]), (" → end ", MUTED), unit.offset(moments[2]),
                 (" · took ", MUTED), unit.duration(took))


def verdict_text(push: Push) -> str:
    """The verdict as one line of plain text: what ``copy verdict`` puts on the clipboard."""
    reason = push.reason or "no reason given (analysis pending)"
    cost = push.cost
    wasted = f"; wasted {fmt_bytes(cost.wasted_bytes)}" if cost.wasted_bytes else ""
    return visible(f"{push.outcome} — {reason}{wasted}: {push.url}")


def _verdict_head(push: Push, t0: float) -> list[Content]:
    """Verdict, reason and cost: the first lines of a push's detail, above the fold at any size."""
    style = OUTCOME_STYLES.get(push.outcome, MUTED)
    lines = [_line((f"{glyph(push.outcome)} {push.outcome}", f"bold {style}"), (" — ", MUTED),
                   visible(push.reason or "no reason given (analysis pending)"))]
    if push.reason_detail:
        lines.append(_line("  ", (visible(push.reason_detail), MUTED)))
    cost = push.cost
    unit = unit_for([cost.competed_delay, cost.saved_time, cost.late_by])
    parts: list[Part] = ["  ", ("cost ", MUTED), (fmt_bytes(cost.pushed_bytes), "bold"), " pushed"]
    if cost.wasted_bytes:
        parts += [" · ", (f"{fmt_bytes(cost.wasted_bytes)} wasted", "bold $error")]
    if cost.saved_time:
        parts += [" · ", (f"saved {unit.duration(cost.saved_time)}", "$success")]
    if cost.competed_delay:
        parts += [" · ", (f"delay added {unit.duration(cost.competed_delay)}", "$error")]
    if cost.late_by:
        parts += [" · ", f"late by {unit.duration(cost.late_by)}"]
    lines.append(_line(*parts))
    if push.reset is not None:
        reset = push.reset
        lines.append(_line("  ", ("reset ", MUTED), f"{reset.label} by the {reset.by} at ",
                           unit_for([reset.at - t0]).offset(reset.at - t0)))
    return lines


def _truth(push: Push, probed: bool) -> list[Content]:
    """What the probe itself knew of the push, and whether the verdict agrees (sources that know: the probe)."""
    truth = push.truth
    if truth is None:
        return [_line("  ", ("probe ", MUTED), ("no record of this push", "$warning"))] if probed else []
    found = truth.agreement
    if found is None:
        verdict: Part = ("not compared yet", MUTED)
    elif found.agrees:
        verdict = ("= the verdict agrees", "$success")
    else:
        verdict = (f"≠ {found.difference}", "bold $error" if not found.outcome else "bold $warning")
    lines = [_line("  ", ("probe saw ", MUTED), (visible(f"{truth.outcome}/{truth.reason}"), "bold"),
                   f" (run {visible(truth.run)}) ", verdict)]
    if truth.detail:
        lines.append(_line("  ", (visible(truth.detail), MUTED)))
    return lines


def _verdict_body(push: Push, t0: float) -> list[Content]:
    """Evidence, the full cost, advice and the preload header: after the request's own facts."""
    lines: list[Content] = []
    if push.evidence:
        lines += _heading("Evidence")
        unit = unit_for([_rel(item.at, t0) for item in push.evidence])
        for item in push.evidence:
            when = unit.offset(_rel(item.at, t0)) if item.at is not None else "-"
            lines.append(_line("  ", (when.rjust(11), MUTED), "  ", (visible(item.kind), "bold"), "  ",
                               visible(item.text)))
    cost = push.cost
    lines += _heading("Cost")
    lines.append(_line("  pushed ", (fmt_bytes(cost.pushed_bytes), "bold"),
                       f" (headers {fmt_bytes(cost.header_bytes)} + body {fmt_bytes(cost.body_bytes)})",
                       ("  wasted ", MUTED), (fmt_bytes(cost.wasted_bytes), "$error" if cost.wasted_bytes else "")))
    unit = unit_for([cost.duration, cost.competed_delay])
    lines.append(_line("  ", ("duration ", MUTED), unit.duration(cost.duration),
                       ("  competed with ", MUTED), fmt_bytes(cost.competed_bytes),
                       ("  delay added ", MUTED), unit.duration(cost.competed_delay)))
    unit = unit_for([cost.saved_time, cost.late_by])
    lines.append(_line("  ", ("time saved ", MUTED), unit.duration(cost.saved_time),
                       ("  late by ", MUTED), unit.duration(cost.late_by)))
    if push.advice or push.advice_text:
        lines += _heading("Advice")
        if push.advice:
            lines.append(_line("  ", (visible(push.advice), "bold")))
        if push.advice_text:
            lines.append(_line("  ", visible(push.advice_text)))
    lines += _heading("Link preload header")
    lines.append(_line("  ", visible(push.preload_link) if push.preload_link else ("(none for this URL)", MUTED)))
    return lines


def _frames(exchange: Exchange, t0: float) -> list[Content]:
    lines = _heading(f"Frames on {_stream_words(exchange)}")
    if not exchange.frames:
        return lines + [_line(("  (none recorded)", MUTED))]
    log = exchange.frames
    skipped = max(len(log) - FRAMES_FIRST - FRAMES_LAST, 0)
    if skipped:  # a big download: tens of thousands of DATA frames, which the pane would lay out on every key
        frames = sorted(log[:FRAMES_FIRST], key=lambda f: f.at) + sorted(log[-FRAMES_LAST:], key=lambda f: f.at)
    else:
        frames = sorted(log, key=lambda f: f.at)
    unit = unit_for([frames[-1].at - t0])
    for index, frame in enumerate(frames):
        if skipped and index == FRAMES_FIRST:
            lines.append(_line(("  … ", MUTED), f"{skipped:,} frames not listed here",
                               (f" (the first {FRAMES_FIRST} and the last {FRAMES_LAST} of {len(log):,} are)",
                                MUTED)))
        flags = " ".join(frame.flags)
        name = frame_name(exchange.protocol, frame.frame_type, quic=frame.quic)
        lines.append(_line("  ", (unit.offset(frame.at - t0).rjust(11), MUTED), f"  {frame.sender:<6} ",
                           (f"{name:<13}", "bold"), f"{fmt_bytes(frame.length):>10}  ", (visible(flags), MUTED)))
    return lines


def _children(capture: ModelDetails, exchange: Exchange) -> list[Content]:
    if exchange.pushed:
        return []
    pushes = capture.pushes_on_stream(exchange.connection_id, exchange.stream_id)
    if not pushes:
        return []
    lines = _heading(f"Pushes promised on this stream ({len(pushes)})")
    for push in pushes:
        style = OUTCOME_STYLES.get(push.outcome, MUTED)
        lines.append(_line("  ", (f"{glyph(push.outcome)} {push.outcome:<16}", style),
                           " ", visible(push.url)))
    return lines


def _anomalies(capture: ModelDetails, exchange: Exchange) -> list[Content]:
    """Protocol anomalies on this exchange's stream: what a conforming peer would not have sent."""
    conn = capture.connections.get(exchange.connection_id)
    if conn is None or exchange.stream_id is None:
        return []
    found = [a for a in conn.anomalies if a.stream_id == exchange.stream_id]
    if not found:
        return []
    lines = _heading(f"Protocol anomalies on this stream ({len(found)})")
    for anomaly in found[:ANOMALY_LIMIT]:
        sender = f"{anomaly.sender}: " if anomaly.sender else ""
        lines.append(_line("  ", ("⚠ ", "$warning"), sender, visible(anomaly.message)))
    if len(found) > ANOMALY_LIMIT:
        lines.append(_line(("  … and more: see the JSON report", MUTED)))
    return lines


def _stream_words(exchange: Exchange) -> str:
    """``stream 5``; HTTP/1.1 has no streams: its requests are numbered 1, 3, 5 … on the connection."""
    if exchange.stream_id is None:
        return "stream -"
    if exchange.protocol == "http/1.1":
        return f"request {(exchange.stream_id + 1) // 2} on the connection"
    return f"stream {exchange.stream_id}"


def _facts(capture: ModelDetails, exchange: Exchange, row: Row, push: Push | None, t0: float) -> list[Content]:
    """The request line, status, where it travelled, when it was promised, its timing and any reset."""
    title_style = OUTCOME_STYLES.get(push.outcome, MUTED) if push is not None else "bold"
    method = visible(exchange.method or "GET")
    lines = [_line((f"{method} ", "bold"), (row.url or visible(exchange.url) or row.path, title_style))]
    conn = capture.connections.get(exchange.connection_id)
    where = f"{conn.id} {exchange.protocol}" if conn is not None else exchange.protocol
    lines.append(_line("  ", (str(exchange.status or "no status"), "bold"), " · ",
                       visible(exchange.content_type or "-"), " · body ", fmt_bytes(exchange.body_bytes),
                       " · ", where, f" {_stream_words(exchange)}"))
    if push is not None:
        extra = f" · push id {push.push_id}" if push.push_id is not None else ""
        promised = _rel(push.promised_at, t0) if push.promised_at else None
        lines.append(_line("  ", ("pushed", "bold"), f" · promised on stream {push.parent_stream_id} at ",
                           unit_for([promised]).offset(promised), extra))
    lines.append(_timing(exchange, t0))
    if exchange.reset is not None and (push is None or push.reset is None):
        reset = exchange.reset
        lines.append(_line("  ", ("reset ", "$error"), f"{reset.label} by the {reset.by} at ",
                           unit_for([reset.at - t0]).offset(reset.at - t0)))
    return lines


def exchange_content(capture: ModelDetails, row: Row, *, probed: bool | None = None) -> Content:
    """The full story of one row: for a push its verdict, reason and cost first, headers and frames last.
    ``probed``: ``capture.probed`` if known (asking the capture is a pass over every push)."""
    exchange = capture.exchange(row.exchange_id)
    if exchange is None:
        return Content("exchange not found")
    t0 = capture.started_at or 0.0
    push = capture.push(row.push_index)
    lines: list[Content] = []
    if push is not None:
        lines += _verdict_head(push, t0)
        lines += _truth(push, capture.probed if probed is None else probed)
    lines += _facts(capture, exchange, row, push, t0)
    if push is not None:
        lines += _verdict_body(push, t0)
    lines += _children(capture, exchange)
    lines += _anomalies(capture, exchange)
    lines += _headers("Request headers" if not exchange.pushed else "Promised request headers",
                      exchange.request_headers)
    lines += _headers("Response headers", exchange.response_headers)
    lines += _frames(exchange, t0)
    return Content("\n").join(lines)


def pending_details_content(row: Row) -> Content:
    """A row shown from the cache before its capture's details are read: what the row says, and that the rest
    follows by itself."""
    lines = [_line((row.method or "", "bold"), " ", row.url or row.path)]
    if row.pushed:
        lines.append(_line("  ", (f"{glyph(row.outcome)} {row.outcome or 'unknown'}", OUTCOME_STYLES.get(
            row.outcome or "unknown", ""))))
    lines += [Content(""), _line(("  Reading this capture's details (headers, frames, evidence) from the cache: "
                                   "they show here as soon as they are read.", MUTED))]
    return Content("\n").join(lines)


def row_content(details: ModelDetails | None, row: Row, *, probed: bool | None = None) -> Content:
    """What the pane shows for a row: its details; that they are being read (a reopen's kept rows come first); or
    that the cache could not give them back (never another exchange's)."""
    if details is None:
        return pending_details_content(row)
    try:
        return exchange_content(details, row, probed=probed)
    except KeptModelError as exc:
        return unreadable_details_content(row, str(exc))


def copied_verdict(details: ModelDetails | None, row: Row) -> tuple[str, str, SeverityLevel]:
    """What copying a row's verdict copies: (text, "", _) or ("", why not, its severity)."""
    if row.push_index is None:
        return "", "The selected row is a request, not a push: it has no verdict", "warning"
    if details is None:
        return "", "The capture's details are still being read: copy the verdict once they are", "warning"
    try:
        push = details.push(row.push_index)
    except KeptModelError as exc:
        return "", visible(str(exc)), "error"
    if push is None:
        return "", "The capture holds no such push", "error"
    return verdict_text(push), "", "information"


def unreadable_details_content(row: Row, problem: str) -> Content:
    """A row whose details the cache could not give back: what the row says, what went wrong, and the way out."""
    lines = [_line((row.method or "", "bold"), " ", row.url or row.path), Content(""),
             _line(("⚠ ", "$error"), visible(problem)),
             _line(("  Open the capture again with --no-cache to read it anew (pushscope cache clear empties the "
                    "cache).", MUTED))]
    return Content("\n").join(lines)


def overview_content(view: CaptureView) -> Content:
    """What the pane shows before anything is selected: the capture's headline numbers."""
    summary = view.summary
    lines = [_line((visible(view.name), "bold"))]
    if summary:
        pushes = summary.get("pushes", 0)
        lines.append(_line(f"  {summary.get('connections', 0)} connections · {summary.get('requests', 0)} requests"
                           f" · {pushes} {'push' if pushes == 1 else 'pushes'} · {fmt_duration(view.duration)}"))
    if len(view.loads) > 1:
        lines.append(_line(f"  {len(view.loads)} page loads (l shows one at a time, g collapses idle gaps)"))
    if not view.rows:
        lines.append(_line(("  No exchanges to show. The diagnostics say why:", MUTED)))
    else:
        lines.append(_line(("  Select a row in the waterfall to see its verdict, headers and frames.", MUTED)))
    anomalous = [c for c in view.connections if c.anomalies]
    if anomalous:
        lines += _heading("Protocol anomalies")
        for info in anomalous:
            lines.append(_line("  ", ("⚠ ", "$warning"), f"{info.id}: {len(info.anomalies)}", " · ",
                               info.anomalies[0]))
    problems = [d for d in view.diagnostics if d.level != "info"]
    if problems or not view.rows:
        lines += _heading("Diagnostics")
        for item in problems or view.diagnostics:
            mark, style = LEVEL_GLYPHS.get(item.level, ("•", ""))
            lines.append(_line("  ", (f"{mark} ", style), visible(item.message, keep="\n")))
    return Content("\n").join(lines)


class DetailPane(ScrollView, can_focus=True):
    """A scrolling view of one ``Content``; focusable so long details can be scrolled with the keyboard.

    Drawn line by line, the content wrapped once per width: a new content sets the scrollable height in place
    (``set_virtual_size``). A ``Static`` in a scrolling container laid the whole screen out twice for each
    cursor key (its new height, then the sizes that follow from it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._content = Content("")
        self._lines: list[Strip] | None = None  # the content wrapped at ``_width``
        self._width = 0

    @property
    def content(self) -> Content:
        return self._content

    def render(self) -> Content:
        return self._content  # (what Textual's text selection reads: ``Widget.get_selection``)

    def show(self, content: Content) -> None:
        self._content = content
        self._lines = None
        self.scroll_home(animate=False)
        self._fit()
        self.refresh()

    def _wrapped(self) -> list[Strip]:
        width = self.scrollable_content_region.width
        if self._lines is None or width != self._width:
            self._width = width
            self._lines = Visual.to_strips(self, self._content, width, None, self.visual_style) if width > 0 else []
            if len(self._lines) != self.virtual_size.height:  # (a new width: a scrollbar shown or hidden)
                self.call_later(self._fit)
        return self._lines

    def _fit(self) -> None:
        """The scrollable height: the content's lines at the width it is wrapped to (never wider: no horizontal
        scrollbar)."""
        if self.scrollable_content_region.width > 0:
            set_virtual_size(self, Size(0, len(self._wrapped())))

    def on_resize(self) -> None:
        self._lines = None
        self._fit()

    def selection_updated(self, selection: Selection | None) -> None:
        self._lines = None  # (drawn again with the selection's style)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = None  # (a new theme: the content's $variables resolve anew)

    def render_line(self, y: int) -> Strip:
        lines = self._wrapped()
        index = y + self.scroll_offset.y
        if 0 <= index < len(lines):
            return lines[index]
        return Strip.blank(self.scrollable_content_region.width, self.visual_style.rich_style)
