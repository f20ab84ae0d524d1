"""The one-line summary bar, the load progress row and the diagnostics panel: the capture at a glance."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static

from pushscope.events import Diagnostic
from pushscope.presentation import OUTCOME_GLYPHS, OUTCOME_SHORT, OUTCOME_STYLES, OUTCOMES
from pushscope.progress import duration_text
from pushscope.safe_text import visible
from pushscope.tui.fmt import fmt_bytes, unit_for
from pushscope.tui.view import LEVEL_GLYPHS


def _keep(text: str) -> str:
    """Non-breaking spaces inside a value, so a wrapped summary never splits "8.0 | ms"."""
    return text.replace(" ", "\u00a0")


def summary_content(summary: dict[str, Any], *, loading: bool = False) -> Content:
    """Pushes by outcome, wasted bytes, time saved/added: the numbers of ``report_dict(capture)["summary"]``."""
    if not summary:
        return Content("loading…" if loading else "no capture")
    by_outcome = summary.get("pushes_by_outcome", {})
    requests, pushes = summary.get("requests", 0), summary.get("pushes", 0)
    parts: list[str | tuple[str, str]] = [
        (_keep(f"{requests} {'request' if requests == 1 else 'requests'}"), "bold"), " · ",
    ]
    if not pushes:
        parts.append(("no pushes", "bold"))
        if loading:
            parts.append(("  (loading…)", "$text-muted"))
        return Content.assemble(*parts)
    parts.append((_keep(f"{pushes} {'push' if pushes == 1 else 'pushes'}:"), "bold"))
    for outcome in OUTCOMES:
        text = _keep(f"{OUTCOME_GLYPHS[outcome]}{OUTCOME_SHORT[outcome]} {by_outcome.get(outcome, 0)}")
        parts += [" ", (text, OUTCOME_STYLES[outcome])]
    parts += [(" │ ", "$text-muted"), "wasted ", (_keep(fmt_bytes(summary.get("wasted_bytes", 0))), "bold $error")]
    if summary.get("cache_duplicated_bytes"):
        parts += [" · cache-dup ", (_keep(fmt_bytes(summary["cache_duplicated_bytes"])), "bold $warning")]
    saved, added = summary.get("time_saved") or 0.0, summary.get("time_added") or 0.0
    unit = unit_for([saved, added])  # one unit on the line
    parts += [" · saved ", (_keep(unit.duration(saved)), "bold $success"),
              " · added ", (_keep(unit.duration(added)), "bold $error")]
    if loading:
        parts.append(("  (loading…)", "$text-muted"))
    return Content.assemble(*parts)


class SummaryBar(Static):
    """Pushes by outcome and what they cost, always visible."""

    def show(self, summary: dict[str, Any], *, loading: bool = False) -> None:
        # Not laid out with it: a layout is of the whole screen (40-60 ms of the UI thread while a capture loads,
        # at every snapshot); only when the height the text needs changes (``_fit_height``).
        self.update(summary_content(summary, loading=loading), layout=False)
        self.call_after_refresh(self._fit_height)

    def _fit_height(self) -> None:
        """An update that lands while the screen is being arranged can keep the height measured for the previous
        text (one line for a text that now wraps to two on a narrow terminal): arranged again only then, not after
        every snapshot (a layout of the whole screen, about 13 ms of the UI thread while a capture loads)."""
        region = self.content_region
        if region.width and self.get_content_height(region.size, self.app.size, region.width) != region.height:
            self.refresh(layout=True)


class LoadStatus(Horizontal):
    """Bytes read so far, the rate and the time left to read, while the loader runs; hidden once the capture is
    analysed. The figures are tshark's read position in the file: the time left covers the read, and the label
    says that the analysis follows it."""

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(id=id)
        self.clock = clock
        self._first: tuple[float, int] | None = None  # (time, bytes) of the first report: the rate starts there

    def compose(self) -> ComposeResult:
        yield Label("Loading", id="load-label")
        yield ProgressBar(total=None, show_eta=False, id="load-bar")
        yield Label("esc cancels", id="load-hint")

    def show_progress(self, done: int, total: int | None, detail: str, unit: str = "bytes") -> None:
        bar = self.query_one(ProgressBar)
        if total:
            bar.update(total=total, progress=min(done, total))
        if unit != "bytes":  # a live source: there is no end to measure against, the detail says it all
            self._say(detail or f"{done} {unit}")
            return
        label = f"Loading {fmt_bytes(done)}" + (f" of {fmt_bytes(total)}" if total else "")
        label += f" · {detail}" if detail else ""
        self._say(label + self._estimate(done, total))

    def _say(self, text: str) -> None:
        # The label's size is the stylesheet's, whatever it says: no layout of the whole screen at every snapshot.
        self.query_one("#load-label", Label).update(text, layout=False)

    def _estimate(self, done: int, total: int | None) -> str:
        now = self.clock()
        if self._first is None:
            self._first = (now, done)
        elapsed, read = now - self._first[0], done - self._first[1]
        if not total or elapsed < 1.0 or read <= 0:
            return ""
        if done >= total:
            return " · analysing"
        rate = read / elapsed
        return f" · {fmt_bytes(int(rate))}/s, {duration_text((total - done) / rate)} left to read, then the analysis"

    def cancelling(self) -> None:
        self._say("Cancelling…")


def diagnostics_content(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> Content:
    if not diagnostics:
        return Content.assemble(("no diagnostics", "$text-muted"))
    lines = []
    for item in diagnostics:
        glyph, style = LEVEL_GLYPHS.get(item.level, ("•", ""))
        lines.append(Content.assemble((f"{glyph} ", style), visible(item.message, keep="\n")))
    return Content("\n").join(lines)


class DiagnosticsPanel(VerticalScroll):
    """Capture-level messages: what was decrypted, what is missing, what went wrong."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Held, not queried: the first snapshot can come before this panel's children are mounted.
        self._body = Static(diagnostics_content(()), id="diagnostics-body")

    def compose(self) -> ComposeResult:
        yield self._body

    def show(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        self._body.update(diagnostics_content(diagnostics))
        errors = sum(1 for d in diagnostics if d.level == "error")
        warnings = sum(1 for d in diagnostics if d.level == "warning")
        title = "Diagnostics"
        if errors or warnings:
            title += f" ✖{errors} ⚠{warnings}"
        self.border_title = title
        self.set_class(bool(errors), "-error")
