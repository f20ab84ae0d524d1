"""``PushscopeApp``: the inspector's composition, key bindings and actions.

Loading runs in a thread worker (``LoadSession``) that posts ``CaptureUpdated`` snapshots at most every 0.25 s;
this class only ever touches widgets on the UI thread, in the message handlers. A snapshot brings the waterfall's
rows already filtered and sorted and only the connections that changed, so handling one does not walk the
capture: keys are answered while a gigabyte loads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from pushscope.kept_model import KeptModel
from pushscope.model.details import ModelDetails
from pushscope.model.entities import Capture
from pushscope.pipeline import Analyser, Load
from pushscope.presentation import OUTCOME_GLYPHS, OUTCOMES
from pushscope.safe_text import visible
from pushscope.tui import timer_guard
from pushscope.tui.commands import palette_commands
from pushscope.tui.export import available_formats, write_shown
from pushscope.tui.filtering import BACKGROUND_FILTER_ROWS, BackgroundFiltering, RowsFiltered
from pushscope.tui.loading import CaptureUpdated, DetailsRead, LoadSession, SearchIndexed, default_analyser
from pushscope.tui.rows import exchange_ids_of, protocols_of, rows_on_connection
from pushscope.tui.screens import CopyScreen, DiagnosticsScreen, ExportScreen, HelpScreen
from pushscope.tui.sharing import INPUT_EVENTS, InputGate, NormalPriority, QuickTurns, lower_thread_priority
from pushscope.tui.view import SORTS, CaptureView, FilterState, RowSet, row_set, waterfall_title
from pushscope.tui.widgets.connections import ConnectionsTree
from pushscope.tui.widgets.detail import DetailPane, copied_verdict, overview_content, row_content
from pushscope.tui.widgets.summary import DiagnosticsPanel, LoadStatus, SummaryBar, diagnostics_content
from pushscope.tui.widgets.waterfall import Waterfall, legend_line
from pushscope.vocabulary import Outcome

PROTOCOLS = ("h2", "h3", "http/1.1")  # the order the protocol filter steps through those present
OUTCOME_KEYS = Binding.Group("".join(OUTCOME_GLYPHS[o] for o in OUTCOMES) + " filter", compact=True)
ZOOM_KEYS = Binding.Group("zoom", compact=True)
COPY_KEYS = Binding.Group("copy", compact=True)
LOAD_KEYS = Binding.Group("load", compact=True)
QUICK_SWITCH_INTERVAL = 0.001  # seconds: the GIL's turns while the loader or a filtering works (tui.sharing)
MAX_DEFERRAL = 0.5  # seconds a snapshot waits at most for the inputs being answered (see on_capture_updated)


class PushscopeApp(App[None]):
    """Inspect one capture: connections, the push waterfall, and each push's verdict, evidence and cost."""

    TITLE = "pushscope"
    # Focused from the start: focusing it later (on mount) composes the footer once more.
    AUTO_FOCUS = "#waterfall"
    CSS_PATH = Path(__file__).with_name("pushscope.tcss")  # absolute: subclasses live elsewhere
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (90, "-wide"), (180, "-huge")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="Help: every key and the legend (esc closes it)"),
        Binding("slash", "search", "Search", tooltip="Search URLs and header values"),
        Binding("1", f"toggle_outcome('{Outcome.USED}')", f"{OUTCOME_GLYPHS[Outcome.USED]}used", group=OUTCOME_KEYS,
                tooltip="Show/hide used pushes"),
        Binding("2", f"toggle_outcome('{Outcome.WASTED}')", f"{OUTCOME_GLYPHS[Outcome.WASTED]}wasted",
                group=OUTCOME_KEYS, tooltip="Show/hide wasted pushes"),
        Binding("3", f"toggle_outcome('{Outcome.CACHE_DUPLICATED}')", f"{OUTCOME_GLYPHS[Outcome.CACHE_DUPLICATED]}dup",
                group=OUTCOME_KEYS, tooltip="Show/hide cache-duplicated pushes"),
        Binding("4", f"toggle_outcome('{Outcome.UNKNOWN}')", f"{OUTCOME_GLYPHS[Outcome.UNKNOWN]}unknown",
                group=OUTCOME_KEYS, tooltip="Show/hide pushes of unknown outcome"),
        Binding("p", "pushes_only", "Pushes only", tooltip="Pushes only (with their parent requests)"),
        Binding("h", "cycle_protocol", "Protocol",
                tooltip="Protocol filter: all, then h2, h3, http/1.1 (those in the capture)"),
        Binding("o", "cycle_sort", "Sort", tooltip="Sort rows by start, duration, size or outcome"),
        Binding("0", "clear_filters", "Clear filters", tooltip="Clear all filters (and the page-load view)"),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", key_display="+", group=ZOOM_KEYS,
                tooltip="Zoom in on the time axis"),
        Binding("minus", "zoom(2)", "Zoom out", key_display="-", group=ZOOM_KEYS,
                tooltip="Zoom out on the time axis"),
        Binding("z", "zoom_to_row", "Zoom to row", group=ZOOM_KEYS, tooltip="Zoom the time axis to the selected row"),
        Binding("Z", "zoom_to_connection", "Zoom to connection", group=ZOOM_KEYS,
                tooltip="Zoom the time axis to the selected row's connection"),
        Binding("f", "fit", "Fit", group=ZOOM_KEYS, tooltip="Fit the time axis to the rows the filters show"),
        Binding("left_square_bracket,less_than_sign", "pan(-0.25)", "Pan left", key_display="[", group=ZOOM_KEYS,
                tooltip="Pan the time axis left"),
        Binding("right_square_bracket,greater_than_sign", "pan(0.25)", "Pan right", key_display="]",
                group=ZOOM_KEYS, tooltip="Pan the time axis right"),
        Binding("g", "toggle_gaps", "Gaps", tooltip="Collapse idle gaps between page loads on the axis, or show them"),
        Binding("l", "page_load(1)", "Next load", group=LOAD_KEYS, tooltip="Show the next page load on its own"),
        Binding("L", "page_load(-1)", "Previous load", group=LOAD_KEYS,
                tooltip="Show the previous page load on its own"),
        Binding("y", "copy('url')", "Copy URL", group=COPY_KEYS, tooltip="Copy the selected row's URL"),
        Binding("v", "copy('verdict')", "Copy verdict", group=COPY_KEYS,
                tooltip="Copy the selected push's verdict and reason"),
        Binding("e", "export", "Export", tooltip="Export a report"),
        Binding("d", "diagnostics", "Diagnostics", tooltip="Show all diagnostics"),
        Binding("s", "toggle_sidebar", "Sidebar", tooltip="Show/hide the connections sidebar"),
        Binding("c", "focus('connections')", "Connections", tooltip="Focus the connections tree (enter filters)"),
        Binding("w", "focus('waterfall')", "Waterfall", tooltip="Focus the waterfall"),
        Binding("escape", "escape", "Back", show=False, tooltip="Cancel loading / close the search"),
        Binding("q", "quit", "Quit", tooltip="Quit pushscope"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit pushscope"),
    ]

    def __init__(self, load: Load, *, analyser: Analyser | None = None) -> None:
        """``load``: what to show, handed over by the front end (``pushscope.pipeline.capture_file`` for a
        capture file); ``analyser`` judges the pushes (the real rules unless a test chooses)."""
        timer_guard.install()  # before any timer exists: see timer_guard for the freeze it prevents
        super().__init__()
        self._load = load
        self.capture_name = load.name
        self.sub_title = self.capture_name
        self._analyser = analyser or default_analyser
        self._cancel = threading.Event()
        self.capture: Capture | None = None  # the whole model, when it is in memory
        # What the detail pane reads: the capture, or a kept model read as rows are shown (a reopen).
        self.details: ModelDetails | None = None
        self.view = CaptureView(name=self.capture_name)
        self.filters = FilterState()
        self.sort = SORTS[0]
        self.loading = True
        self.cancelled = False
        self.load_finished = asyncio.Event()
        self.search_ready = asyncio.Event()  # header values searchable (built after the last snapshot)
        # The model is there (exchange details, exports): with the first snapshot, or on a reopen after the view kept
        # in the cache was shown (``DetailsRead``).
        self.details_ready = asyncio.Event()
        self._shown = threading.Event()  # the loader's view of load_finished, once painted
        self._searchable = threading.Event()  # the loader's view of search_ready
        self._shown_at_next_paint = False
        self._input_gate = InputGate()  # the loader waits at it while an input is answered (see tui.sharing)
        self._detail_pending = False  # the detail pane is to show the selected row after the next repaint
        # Snapshots that came while an input was being answered: shown after its repaint (see on_capture_updated).
        self._deferred: list[CaptureUpdated] = []
        self._deferred_since = 0.0
        self._quick_turns = QuickTurns(QUICK_SWITCH_INTERVAL)  # while the loader or a filtering works
        self.background_filter_rows = BACKGROUND_FILTER_ROWS  # (a test lowers it)
        self._filtering = BackgroundFiltering(self.post_message, self._quick_turns)  # a big view's (tui.filtering)

    # --- composition -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: message handlers must reach them even while a modal screen is on top.
        self.summary_bar = SummaryBar("loading…", id="summary")
        self.load_status = LoadStatus(id="load-status")
        self.sidebar = Vertical(id="sidebar")
        self.connections_tree = ConnectionsTree(id="connections")
        self.diagnostics_panel = DiagnosticsPanel(id="diagnostics")
        self.search_input = Input(placeholder="search URLs and header values (enter: keep, esc: clear)",
                                  id="search")
        self.waterfall = Waterfall(id="waterfall")
        self.detail = DetailPane(id="detail")
        yield self.summary_bar
        yield self.load_status
        with Horizontal(id="body"):
            with self.sidebar:
                yield self.connections_tree
                yield self.diagnostics_panel
            with Horizontal(id="main"):
                with Vertical(id="waterfall-column"):
                    yield self.search_input
                    yield self.waterfall
                    yield Static(legend_line(), id="legend")
                yield self.detail
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.connections_tree.border_title = "Connections"
        self.diagnostics_panel.border_title = "Diagnostics"
        self.detail.border_title = "Detail"
        self._update_waterfall_titles()
        self.detail.show(overview_content(self.view))
        self.waterfall.focus()
        self.load()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    # --- loading -----------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, name="load capture")
    def load(self) -> None:
        """Runs in a thread: folds the source and posts snapshots; never touches a widget."""
        normal = NormalPriority()  # served by this thread, which keeps the UI's priority
        session = LoadSession(self._load, self.post_message, self._cancel, analyser=self._analyser,
                              shown_for=lambda: (self.filters, self.sort), shown=self._shown,
                              searchable=self._searchable, input_gate=self._input_gate, first_screen=normal.run)

        def run_nicer() -> None:
            lower_thread_priority()  # see tui.sharing
            session.run()

        # The loader keeps the GIL busy: quick turns (see tui.sharing). A thread of its own: this worker's belongs
        # to the event loop's pool, which would keep it, nicer, for later work (its nice value cannot be raised
        # back without privileges).
        with self._quick_turns, ThreadPoolExecutor(max_workers=1, thread_name_prefix="pushscope-load") as pool:
            normal.serve_until(pool.submit(run_nicer))

    def post_message(self, message: Message) -> bool:
        if self.loading and isinstance(message, INPUT_EVENTS) and not message.is_forwarded:  # (not bubbling back)
            self._input_gate.input_arrived()
        return super().post_message(message)

    async def on_event(self, event: events.Event) -> None:
        await super().on_event(event)  # an input is handled (or forwarded to its widget's queue) by now
        if isinstance(event, INPUT_EVENTS):
            self._input_gate.input_dispatched()

    def _display(self, screen: Screen, renderable: object) -> None:
        # Textual's one call per repaint (headless too). Private: tests.tui.test_tui_responsive fails if it is gone.
        super()._display(screen, renderable)  # type: ignore[arg-type]
        if self._deferred and self._input_gate.dispatched:
            # The input's effect is on the screen: the snapshots that waited for it are shown next, the loader
            # still standing aside (the gate opens at the repaint after them), as it did while an input's snapshot
            # was handled before its repaint.
            self.call_later(self._show_deferred, force=True)
        else:
            self._input_gate.painted()
        if self._shown_at_next_paint:
            self._shown_at_next_paint = False
            self._shown.set()

    def on_capture_updated(self, message: CaptureUpdated) -> None:
        # A snapshot redraws every visible row (the axis grows with the capture): handled between an input and its
        # repaint, it made that input wait for it. So while an input is being answered it waits, and only the
        # latest of those waiting is shown (with all their connection changes), after the input's repaint.
        if self._deferred or (not message.final and not self._input_gate.is_open):
            if not self._deferred:
                self._deferred_since = time.monotonic()
                # (An input whose answer changes nothing on the screen is followed by no repaint.)
                since = self._deferred_since
                self.set_timer(MAX_DEFERRAL, lambda: self._show_deferred(force=self._deferred_since == since))
            self._deferred.append(message)
            if message.final:
                self._show_deferred(force=True)
            return
        self._show_update(message)

    def _show_deferred(self, *, force: bool = False) -> None:
        waiting = self._deferred
        if not waiting:
            return
        # (A flood of inputs does not hold the load's progress back for longer than MAX_DEFERRAL.)
        if not force and not self._input_gate.is_open and time.monotonic() - self._deferred_since < MAX_DEFERRAL:
            return
        self._deferred = []
        latest = waiting[-1]
        if len(waiting) > 1:
            changes = {info.id: info for message in waiting for info in message.connection_changes}
            latest.connection_changes = tuple(changes.values())
        self._show_update(latest)
        # Its repaint opens the gate (see _display): made sure of with the smallest widget, not the whole screen.
        self.summary_bar.refresh()

    def _show_update(self, message: CaptureUpdated) -> None:
        previous = self.view
        self.capture, self.view = message.capture, message.view
        view = self.view
        if message.capture is not None:
            self._set_details(message.capture)
        else:  # a view kept in the cache, shown before its details (after the first rows of a read, maybe)
            self._set_details(None)
        self.summary_bar.show(view.summary, loading=not message.final)
        self.connections_tree.update_connections(view.name, message.connection_changes, len(view.connections),
                                                 message.requests, final=message.final)
        if view.diagnostics != previous.diagnostics:
            self.diagnostics_panel.show(view.diagnostics)
        if message.progress is not None:
            progress = message.progress
            self.load_status.show_progress(progress.done, progress.total, progress.detail, progress.unit)
        shown = message.shown
        if shown is not None and (shown.filters, shown.sort) == (self.filters, self.sort):
            self._show_rows(shown)
        else:  # the user changed the filters or sort since the loader built it
            self._apply_filters()
        if message.final:
            self._finish(message)

    def on_details_read(self, message: DetailsRead) -> None:
        details = message.details
        self.capture = details if isinstance(details, Capture) else None
        self._set_details(details)
        self._show_detail()
        self.refresh_bindings()

    def _set_details(self, details: ModelDetails | None) -> None:
        previous, self.details = self.details, details
        if isinstance(previous, KeptModel) and previous is not details:
            previous.close()
        if details is not None:
            self.details_ready.set()
        else:
            self.details_ready.clear()

    def on_unmount(self) -> None:
        if isinstance(self.details, KeptModel):
            self.details.close()

    def on_search_indexed(self, message: SearchIndexed) -> None:
        self.view = replace(self.view, search_texts=message.texts)
        if self.filters.search:
            self._apply_filters()
        self.search_ready.set()
        self._searchable.set()

    def _finish(self, message: CaptureUpdated) -> None:
        self.loading = False
        self.cancelled = message.cancelled
        self.load_status.display = False
        waterfall = self.waterfall
        waterfall.empty_message = "no exchanges in this capture: see the diagnostics" if not self.view.rows \
            else "no row matches the filters (0 clears them)"
        waterfall.refresh()
        self._show_detail()
        errors = [d for d in self.view.diagnostics if d.level == "error"]
        if errors:
            self.notify("\n".join(d.message for d in errors[:3]), title="Capture problem", severity="error",
                        timeout=10, markup=False)
        if message.cancelled:
            self.notify(f"Loading cancelled: showing {len(self.view.rows)} exchanges read so far",
                        severity="warning", markup=False)
        if self.details is not None:  # export is available now (a kept view waits for its details: DetailsRead)
            self.refresh_bindings()  # (the footer is composed again: tens of ms of the UI thread)
        if self.view.search_texts is not None:  # a live source's snapshots carry them
            self.search_ready.set()
        # Fully loaded once the connections tree shows every connection too (it is fed in steps).
        self.connections_tree.after_updates(self._fully_loaded)

    def _fully_loaded(self) -> None:
        self.load_finished.set()
        # The loader's next step (the search index, or a kept view's model) holds the GIL for long stretches: it
        # waits until the final rows are on the screen (the next repaint), not only handed to the widgets.
        self._shown_at_next_paint = True
        self.refresh()

    def exit(self, *args: object, **kwargs: object) -> None:
        # Quitting mid-load: stop the loader (and its tshark) so the process does not wait for it at exit.
        self._cancel.set()
        self._shown.set()
        self._searchable.set()
        super().exit(*args, **kwargs)  # type: ignore[arg-type]

    def action_cancel_load(self) -> None:
        self._cancel.set()
        self.load_status.cancelling()

    # --- filters -----------------------------------------------------------------------------------------

    def _apply_filters(self, *, refit: bool = False) -> None:
        view = self.view
        if len(view.rows) < self.background_filter_rows:
            self._show_rows(row_set(view.rows, self.filters, self.sort, view.search_texts), refit=refit)
            return
        start = self._filtering.ask(view, self.filters, self.sort, refit)
        self._update_waterfall_titles()
        if start:  # after the repaint that answers the key (its title says filtering…), which it would slow down
            self.call_after_refresh(self.run_worker, self._filtering.run, thread=True, group="filter",
                                    name="filter rows")

    def on_rows_filtered(self, message: RowsFiltered) -> None:
        if self._filtering.current(message):
            self._show_rows(message.shown, refit=message.refit)

    @property
    def filtering(self) -> bool:
        """A filter or sort change is being made off the UI thread (the rows shown are the previous ones)."""
        return self._filtering.pending

    def _show_rows(self, shown: RowSet, *, refit: bool = False) -> None:
        self._filtering.rows_shown()
        self.waterfall.set_rows(shown, self.view.duration, refit=refit)
        self._update_waterfall_titles()

    def _update_waterfall_titles(self) -> None:
        waterfall = self.waterfall
        title = waterfall_title(self.filters, self.sort, shown=len(waterfall.rows), total=len(self.view.rows),
                                headers_searchable=self.view.search_texts is not None,
                                filtering=self._filtering.pending)
        # A str title would be read as markup; the parts may hold capture text (a page load's path).
        waterfall.border_title = Content(title)
        waterfall.border_subtitle = waterfall.axis_subtitle()

    def _set_filters(self, filters: FilterState) -> None:
        self.filters = filters
        self._apply_filters()

    def action_toggle_outcome(self, outcome: str) -> None:
        self._set_filters(self.filters.toggle_outcome(outcome))

    def action_pushes_only(self) -> None:
        self._set_filters(replace(self.filters, pushes_only=not self.filters.pushes_only))

    def action_cycle_protocol(self) -> None:
        present = protocols_of(self.view.rows)
        cycle: list[str | None] = [None, *(p for p in PROTOCOLS if p in present)]
        index = cycle.index(self.filters.protocol) if self.filters.protocol in cycle else 0
        self._set_filters(replace(self.filters, protocol=cycle[(index + 1) % len(cycle)]))

    def action_clear_filters(self) -> None:
        search = self.search_input
        search.value = ""
        search.display = False
        self.filters = FilterState()
        self._apply_filters(refit=True)

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._apply_filters()
        self.notify(f"Rows sorted by {self.sort}", timeout=2, markup=False)

    def action_page_load(self, step: int) -> None:
        """Show one page load on its own (the next or previous), its time axis fitted to it."""
        loads = self.view.loads
        if not loads:
            self.notify("No page loads to step through yet", severity="warning", markup=False)
            return
        current = self.filters.load
        index = (current.index + step) % len(loads) if current is not None else (0 if step > 0 else len(loads) - 1)
        self.filters = replace(self.filters, load=loads[index])
        self._apply_filters(refit=True)

    def action_toggle_gaps(self) -> None:
        waterfall = self.waterfall
        waterfall.set_collapse_gaps(not waterfall.collapse_gaps)
        self._update_waterfall_titles()

    def filter_connection(self, connection_id: str | None) -> None:
        self.filters = replace(self.filters, connection_id=connection_id)
        self._apply_filters(refit=True)

    @on(ConnectionsTree.Chosen)
    def _connection_chosen(self, message: ConnectionsTree.Chosen) -> None:
        self.filter_connection(message.connection_id)
        if message.exchange_id is not None:
            waterfall = self.waterfall
            waterfall.select_exchange(message.exchange_id)
            waterfall.focus()

    # --- search ------------------------------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.search_input
        search.display = True
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._set_filters(replace(self.filters, search=event.value))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.waterfall.focus()

    def action_escape(self) -> None:
        search = self.search_input
        if self.loading:
            self.action_cancel_load()
        elif search.has_focus or (search.display and search.value):
            search.value = ""
            search.display = False
            self.waterfall.focus()

    # --- time axis ---------------------------------------------------------------------------------------

    def action_zoom(self, factor: float) -> None:
        self.waterfall.zoom(factor)
        self._update_waterfall_titles()

    def action_pan(self, fraction: float) -> None:
        self.waterfall.pan(fraction)
        self._update_waterfall_titles()

    def action_fit(self) -> None:
        self.waterfall.fit()
        self._update_waterfall_titles()

    def action_zoom_to_row(self) -> None:
        row = self.waterfall.selected
        if row is None or not self.waterfall.zoom_to([row]):
            self.notify("The selected row has no time to zoom to", severity="warning", markup=False)
        self._update_waterfall_titles()

    def action_zoom_to_connection(self) -> None:
        row = self.waterfall.selected
        if row is not None:
            self.waterfall.zoom_to(rows_on_connection(self.view.rows, row.connection_id))
        self._update_waterfall_titles()

    # --- copy --------------------------------------------------------------------------------------------

    def action_copy(self, what: str) -> None:
        """Copy through OSC 52 (terminals that allow it), and show the text so it can be selected by hand."""
        row = self.waterfall.selected
        if row is None:
            self.notify("Select a row first", severity="warning", markup=False)
            return
        if what == "verdict":
            text, problem, severity = copied_verdict(self.details, row)
            if problem:
                self.notify(problem, severity=severity, markup=False)
                return
        else:
            text = row.url or row.path
        self.copy_to_clipboard(text)
        self.push_screen(CopyScreen("verdict" if what == "verdict" else "URL", text))

    # --- selection and detail ----------------------------------------------------------------------------

    @on(Waterfall.Highlighted)
    def _row_highlighted(self, message: Waterfall.Highlighted) -> None:
        # The detail pane after the repaint that moves the cursor: its new content costs a layout and a repaint of
        # the pane, most of a key's work on the UI thread, and rows a held key passes over are never shown in it.
        if not self._detail_pending:
            self._detail_pending = True
            self.call_after_refresh(self._show_pending_detail)

    def _show_pending_detail(self) -> None:
        # (Not behind the input gate: holding the loader for it too cost the load twice as much, about 5 %
        # with a key every 0.5 s at 300 MB, for a pane that is not the key's answer.)
        self._detail_pending = False
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.waterfall.selected
        detail = self.detail
        if row is None or (self.details is None and self.loading):
            detail.show(overview_content(self.view))
            detail.border_title = "Detail"
            return
        # A reopen shows the rows kept in the cache before their details are read: they follow (DetailsRead).
        detail.show(row_content(self.details, row, probed=self.view.probed))
        kind = f"push · {row.outcome or 'unknown'}" if row.pushed else "request"
        detail.border_title = f"Detail · {kind} #{row.exchange_id}"

    # --- screens and panels ------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_diagnostics(self) -> None:
        self.push_screen(DiagnosticsScreen(diagnostics_content(self.view.diagnostics)))

    def action_toggle_sidebar(self) -> None:
        screen = self.waterfall.screen
        shown = self.sidebar.display
        screen.set_class(shown, "-sidebar-off")
        screen.set_class(not shown, "-sidebar-on")

    async def action_focus(self, widget_id: str) -> None:
        widget = self.connections_tree if widget_id == "connections" else self.waterfall
        if widget is self.connections_tree and not self.sidebar.display:
            self.action_toggle_sidebar()
        widget.focus()

    def action_export(self) -> None:
        if self.details is None or self.loading:
            self.notify("The capture is still loading" if self.loading else
                        "The capture's details are still being read: export waits for them", severity="warning")
            return
        self.push_screen(ExportScreen(self.capture_name, available_formats()), self._export_chosen)

    def _export_chosen(self, choice: tuple[str, Path] | None) -> None:
        if choice is None or self.details is None:
            return
        if self.capture is None:
            self.notify(f"Reading the capture's details from the cache, then writing the {choice[0]} report…",
                        markup=False, timeout=4)
        else:
            self.notify(f"Writing the {choice[0]} report…", markup=False, timeout=2)
        self._export(self.capture or self.details, exchange_ids_of(self.waterfall.rows), *choice)

    @work(thread=True, group="export", exit_on_error=False, name="export report")
    def _export(self, details: ModelDetails, shown: list[int], fmt: str, path: Path) -> None:
        """In a thread: some formats (html, png) take a while to render, and a kept model is read whole first.
        ``notify`` is thread-safe."""
        try:
            written = write_shown(details, shown, fmt, path, self._load.inputs)
        except Exception as exc:  # any exporter failure is a message, never a crash
            self.notify(f"Export failed: {visible(str(exc))}", severity="error", markup=False)
            return
        self.notify(f"{fmt} report written to {written}", title="Exported", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return None if self.loading or self.details is None else True
        return True
