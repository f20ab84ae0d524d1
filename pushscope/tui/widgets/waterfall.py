"""The waterfall: one line per exchange on a shared, zoomable time axis, pushes drawn under their parent request.

A Line API ``ScrollView``: ``render_line`` draws only the lines on screen, so ten thousand exchanges cost what
forty do. Line 0 is a sticky header (the time axis); content line ``n`` is row ``n - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pushscope.presentation import OUTCOME_SHORT, OUTCOME_STYLES, OUTCOMES, glyph
from pushscope.timescale import TimeScale
from pushscope.tui.fmt import fmt_bytes, unit_for
from pushscope.tui.timeaxis import BREAK, MIN_SPAN, TimeWindow, axis_line
from pushscope.tui.view import Row, RowSet, index_of_exchange
from pushscope.tui.widgets.scrolling import set_virtual_size

WAIT, RECEIVE, INCOMPLETE, PROMISE, RESET = "░", "█", "▒", "▾", "╳"
LEGEND = (
    (WAIT, "wait", "request (or promise) → first response byte"),
    (RECEIVE, "receive", "response headers → last byte"),
    (INCOMPLETE, "incomplete", "never completed in the capture"),
    (PROMISE, "promise", "the PUSH_PROMISE moment"),
    (RESET, "reset", "RST_STREAM / CANCEL_PUSH / STOP_SENDING"),
    (BREAK, "break", "an idle gap (over 0.5 s) collapsed on the axis"),
)
SIZE_WIDTH = 11


def legend_line() -> Content:
    """The one-line legend under the waterfall: bar characters, then outcome glyphs in their colours."""
    parts: list[str | tuple[str, str]] = []
    for char, name, _meaning in LEGEND:
        parts += [(char, "bold"), f"{name} "]
    parts.append(("│", "$text-muted"))
    for outcome in OUTCOMES:
        parts += [" ", (f"{glyph(outcome)}{OUTCOME_SHORT[outcome]}", OUTCOME_STYLES[outcome])]
    return Content.assemble(*parts)


class Waterfall(ScrollView, can_focus=True):
    """Exchanges as bars; pushed rows carry their outcome as a glyph and a colour."""

    COMPONENT_CLASSES = {
        "waterfall--axis",
        "waterfall--request",
        "waterfall--used",
        "waterfall--wasted",
        "waterfall--cache-duplicated",
        "waterfall--unknown",
        "waterfall--cursor",
        "waterfall--marker",
        "waterfall--dim",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to ``row`` (``None`` when the view is empty)."""

        def __init__(self, row: Row | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: Sequence[Row] = ()
        self.spans: tuple[tuple[float, float], ...] = ()  # the shown rows' activity spans (``row_set``)
        self.window = TimeWindow.fit(0.0)
        self.duration = 0.0
        self.extent = 0.0  # axis seconds: the last moment a shown row reaches
        self.first = 0.0  # axis seconds: the first moment a shown row starts
        self.collapse_gaps = True
        self.scale = TimeScale()
        self._fitted = True
        self._tag_width = 3
        self.cursor = 0
        self.empty_message = "loading…"
        self._announced: int | None = None
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)

    # --- data --------------------------------------------------------------------------------------------

    @property
    def selected(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def set_rows(self, shown: RowSet, duration: float, *, refit: bool = False) -> None:
        """Show ``shown`` (see ``view.row_set``), keeping the selected exchange selected if it is still shown.

        ``duration`` is the whole capture. The axis fits the rows given (what the filters show), with idle gaps
        collapsed when ``collapse_gaps`` is on; it keeps fitting them as they change until the user zooms or pans.
        Nothing here walks the rows but the search for the selected exchange (it stops where it finds it): a
        snapshot of a million rows costs the UI thread what a hundred do.
        """
        selected = self.selected
        rows = shown.rows
        self.rows = rows
        self.spans = shown.spans
        self.duration = duration
        self._tag_width = shown.tag_width
        self._rescale(refit=refit)
        if selected is not None:
            index = index_of_exchange(rows, selected.exchange_id)
            self.cursor = index if index is not None else min(self.cursor, max(len(rows) - 1, 0))
        else:
            self.cursor = 0
        set_virtual_size(self, Size(0, len(rows) + 1))  # (no layout of the whole screen at each snapshot)
        self._cache.clear()
        self.refresh()
        self._announce()
        self._scroll_to_cursor()

    def _rescale(self, *, refit: bool) -> None:
        spans = list(self.spans)
        self.scale = TimeScale.collapsing(spans) if self.collapse_gaps else TimeScale()
        to_axis = self.scale.to_axis
        self.first = to_axis(spans[0][0]) if spans else 0.0
        self.extent = to_axis(max(end for _start, end in spans)) if spans else 0.0
        if refit or self._fitted:
            self.window = self._fit_window()
            self._fitted = True

    def _fit_window(self) -> TimeWindow:
        return TimeWindow.fit(self.extent, self.first)

    @property
    def is_fitted(self) -> bool:
        """Still showing all the rows (not zoomed or panned): keep fitting them as the capture grows."""
        return self._fitted

    def axis_subtitle(self) -> str:
        """What the time axis shows and the keys that change it: fitted or zoomed (how wide), gaps collapsed."""
        gaps = ["gaps collapsed (g)"] if self.scale.collapses else []
        if self.is_fitted:
            return " · ".join(gaps + ["+/- zoom", "z row", "f fit"])
        span = self.window.span
        return " · ".join(gaps + ["zoomed", f"{unit_for([span]).duration(span)} wide", "f fit"])

    def set_collapse_gaps(self, collapse: bool) -> None:
        self.collapse_gaps = collapse
        self._rescale(refit=True)
        self._cache.clear()
        self.refresh()

    def select_exchange(self, exchange_id: int) -> bool:
        index = index_of_exchange(self.rows, exchange_id)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    def set_window(self, window: TimeWindow, *, fitted: bool = False) -> None:
        self.window = window
        self._fitted = fitted
        self._cache.clear()
        self.refresh()

    def zoom(self, factor: float) -> None:
        row = self.selected
        centre = None
        if row is not None and row.start is not None:
            at = self.scale.to_axis(row.start)
            centre = at if self.window.start <= at <= self.window.end else None
        self.set_window(self.window.zoom(factor, centre))

    def pan(self, fraction: float) -> None:
        self.set_window(self.window.pan(fraction, self.extent))

    def fit(self) -> None:
        """Fit the rows shown (what the filters leave), not the whole capture."""
        self.set_window(self._fit_window(), fitted=True)

    def zoom_to(self, rows: list[Row]) -> bool:
        """Fit the axis to ``rows`` (the selected row, or its connection's rows); False when they have no time."""
        moments = [(r.start, r.last or r.start) for r in rows if r.start is not None]
        if not moments:
            return False
        lo = self.scale.to_axis(min(a for a, _b in moments))
        hi = self.scale.to_axis(max(b for _a, b in moments))
        self.set_window(TimeWindow.fit(hi, lo, minimum=MIN_SPAN * 10))
        return True

    # --- cursor ------------------------------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        if not self.rows:
            return
        index = min(max(index, 0), len(self.rows) - 1)
        if index != self.cursor:
            self.refresh_line(self.cursor + 1)
            self.cursor = index
            self.refresh_line(index + 1)
        self._scroll_to_cursor()
        self._announce()

    def _announce(self) -> None:
        row = self.selected
        key = row.exchange_id if row is not None else None
        if key != self._announced or row is None:
            self._announced = key
            self.post_message(self.Highlighted(row))

    def _scroll_to_cursor(self) -> None:
        if self.rows:
            # Line cursor+1 in content; the sticky header line hides line scroll_y, so aim one line higher too.
            self.scroll_to_region(Region(0, self.cursor, 1, 2), animate=False, immediate=True, x_axis=False)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(self.size.height - 2, 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.rows) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self.rows):
            self.move_cursor(index)

    def on_resize(self, event: events.Resize) -> None:
        self._cache.clear()

    def on_focus(self, event: events.Focus) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self._cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # --- drawing -----------------------------------------------------------------------------------------

    def _columns(self, width: int) -> tuple[int, int, int]:
        """(tag, label, bar) widths; the size column and separators take the rest."""
        tag = self._tag_width
        label = min(max(int(width * 0.3), 14), 56)
        bar = max(width - 2 - tag - label - 1 - SIZE_WIDTH, 4)
        return tag, label, bar

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = round(self.scroll_offset.y) + y - 1
        if not self.rows:
            return self._message_line(y, width)
        if not 0 <= index < len(self.rows):
            return Strip.blank(width, self.rich_style)
        is_cursor = index == self.cursor
        key = (index, width, is_cursor, self.has_focus, self.window, self.scale)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._row_line(self.rows[index], width, is_cursor)
            self._cache[key] = strip
        return strip

    def _message_line(self, y: int, width: int) -> Strip:
        text = self.empty_message if y == 2 else ""
        style = self.get_component_rich_style("waterfall--dim")
        return Strip([Segment(f"  {text}".ljust(width)[:width], style)], width)

    def _header(self, width: int) -> Strip:
        tag, label, bar = self._columns(width)
        style = self.get_component_rich_style("waterfall--axis")
        title = f"{len(self.rows)} rows"
        left = (" " * (2 + tag) + title).ljust(2 + tag + label)[: 2 + tag + label] + "│"
        text = left + axis_line(self.window, bar, self.scale) + "size".rjust(SIZE_WIDTH)
        return Strip([Segment(text.ljust(width)[:width], style)], width)

    def _row_style(self, row: Row) -> Style:
        if row.pushed:
            return self.get_component_rich_style(f"waterfall--{row.outcome or 'unknown'}")
        return self.get_component_rich_style("waterfall--request")

    def _row_line(self, row: Row, width: int, is_cursor: bool) -> Strip:
        tag_w, label_w, bar_w = self._columns(width)
        base = self.rich_style
        colour = self._row_style(row)
        dim = self.get_component_rich_style("waterfall--dim")
        marker = self.get_component_rich_style("waterfall--marker")
        mark = glyph(row.outcome) if row.pushed else " "
        prefix = "  " * max(row.depth - 1, 0) + ("↳ " if row.depth else "")
        label = _fit(prefix + row.path, label_w)
        segments = [
            Segment(f"{mark} ", colour),
            Segment(row.connection_id.ljust(tag_w), dim),
            Segment(label, colour if row.pushed else base),
            Segment("│", dim),
        ]
        segments += self._bar(row, bar_w, colour, marker)
        segments.append(self._size_cell(row, colour))
        if is_cursor:
            # Only the cursor's background and weight: each cell keeps its outcome colour.
            cursor_style = self.get_component_rich_style("waterfall--cursor")
            cursor = Style(bgcolor=cursor_style.bgcolor, bold=cursor_style.bold)
            segments = [Segment(s.text, (s.style or base) + cursor) for s in segments]
        return Strip(segments).adjust_cell_length(width, base)

    def _size_cell(self, row: Row, colour: Style) -> Segment:
        if row.pushed and row.wasted_bytes:
            return Segment(f"✘{fmt_bytes(row.wasted_bytes)}".rjust(SIZE_WIDTH), colour)
        return Segment(fmt_bytes(row.body_bytes).rjust(SIZE_WIDTH), self.rich_style)

    def _bar(self, row: Row, width: int, colour: Style, marker: Style) -> list[Segment]:
        cells = [" "] * width
        window = self.window
        to_axis = self.scale.to_axis
        start = row.start if row.start is not None else row.response_start
        if start is None:
            return [Segment("".join(cells))]
        start = to_axis(start)
        first = None if row.response_start is None else to_axis(row.response_start)
        end = None if row.end is None else to_axis(row.end)
        limit = to_axis(row.reset_at if row.reset_at is not None else self.duration)

        def fill(a: float, b: float, char: str) -> None:
            lo = window.column(a, width)
            hi = window.column(b, width)
            i0 = max(int(math.floor(lo)), 0)
            i1 = min(max(int(math.ceil(hi)), int(math.floor(lo)) + 1), width)
            for i in range(i0, i1):
                cells[i] = char

        if first is not None and first > start:
            fill(start, first, WAIT)
        elif first is None:
            fill(start, end if end is not None else max(limit, start), WAIT if end is not None else INCOMPLETE)
        if first is not None:
            fill(first, end if end is not None else max(limit, first), RECEIVE if end is not None else INCOMPLETE)
        marks: list[tuple[int, str]] = []
        for at, char, step in ((row.promised_at, PROMISE, -1), (row.reset_at, RESET, 1)):
            if at is None:
                continue
            col = int(math.floor(window.column(to_axis(at), width)))
            # A marker sharing its cell with the bar would hide a short bar: nudge it into the free cell
            # before (promise) or after (reset). The detail pane has the exact times.
            if 0 <= col < width and cells[col] != " " and 0 <= col + step < width and cells[col + step] == " ":
                col += step
            if 0 <= col < width:
                marks.append((col, char))
        last = end if end is not None else max(limit, start)
        if width and window.column(last, width) < 0:
            cells[0] = "◂"
        elif width and window.column(start, width) >= width:
            cells[-1] = "▸"
        for axis_at, _gap_start, _gap_end in self.scale.break_marks():
            col = int(window.column(axis_at, width))
            if 0 <= col < width and cells[col] == " ":
                cells[col] = BREAK
        segments: list[Segment] = []
        marked = dict(marks)
        run = ""
        for i, char in enumerate(cells):
            if i in marked:
                if run:
                    segments.append(Segment(run, colour))
                    run = ""
                segments.append(Segment(marked[i], marker + Style(color=colour.color)))
            else:
                run += char
        if run:
            segments.append(Segment(run, colour))
        return segments


def _fit(text: str, width: int) -> str:
    """Pad or cut to exactly ``width`` cells (URLs may hold wide characters)."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, max(width - 1, 0)) + "…"
