"""The loader's side of the thread boundary: run the pipeline's loader, post batched snapshots.

Everything here runs in the worker thread. It only talks to the UI through ``post`` (``App.post_message``, which
is thread-safe), at most every ``interval`` seconds, so a capture with thousands of exchanges fills the
waterfall progressively without flooding the message queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from textual.message import Message

from pushscope.events import SourceProgress
from pushscope.kept_model import KeptModel, open_kept_model
from pushscope.model.entities import Capture
from pushscope.pipeline import Analyser, CacheEntry, Load, Loader, Served, collector_paused
from pushscope.tui.searching import SearchTexts
from pushscope.tui.sharing import InputGate, Runner
from pushscope.tui.view import (
    SORTS,
    CaptureView,
    ConnectionInfo,
    FilterState,
    RowSet,
    build_view,
    row_set,
    search_texts,
)
from pushscope.tui.view_cache import (
    has_view,
    load_texts,
    load_view,
    store_texts_in_background,
    store_view_in_background,
)
from pushscope.tui.widgets.connections import LISTED_CONNECTIONS

UPDATE_INTERVAL = 0.25
INDEX_WAIT = 10.0  # seconds the search index waits for the UI to show the final rows (see ``run``)
# What the waterfall shows now (filters, sort): read from the UI's attributes, immutable values.
ShownFor = Callable[[], tuple[FilterState, str]]
T = TypeVar("T")


class CaptureUpdated(Message):
    """A new snapshot of the capture being loaded (``final`` once analysed, or after cancel/failure)."""

    def __init__(self, capture: Capture | None, view: CaptureView, progress: SourceProgress | None, final: bool = False,
                 cancelled: bool = False, *, shown: RowSet | None = None,
                 connection_changes: tuple[ConnectionInfo, ...] = (), requests: int = 0) -> None:
        super().__init__()
        # The UI reads exchange details from it; only the loader thread writes to it. None: a view kept in the cache,
        # shown before its details (``DetailsRead`` brings them).
        self.capture = capture
        self.view = view
        self.progress = progress
        self.final = final
        self.cancelled = cancelled
        self.shown = shown  # the waterfall's rows for the filters and sort the UI had when this was built
        # The listed connections (the first LISTED_CONNECTIONS) new or changed since the previous snapshot.
        self.connection_changes = connection_changes
        self.requests = requests  # over all connections


class SearchIndexed(Message):
    """What the search looks in, built after the final snapshot (see ``view.search_texts``)."""

    def __init__(self, texts: SearchTexts) -> None:
        super().__init__()
        self.texts = texts


class DetailsRead(Message):
    """The details behind a view that was shown from the cache before them: its whole model (a ``Capture``), or the
    kept model read as each row is shown (``KeptModel``: an export reads the whole model first)."""

    def __init__(self, details: Capture | KeptModel) -> None:
        super().__init__()
        self.details = details


def _run_here(work: Callable[[], T]) -> T:
    return work()


def default_analyser(capture: Capture) -> object:
    from pushscope.analysis import analyse

    return analyse(capture)


class LoadSession:
    """Loads one source into a new capture; posts a snapshot when ``interval`` has passed since the last one."""

    def __init__(self, load: Load, post: Callable[[Message], object], cancel: threading.Event, *,
                 analyser: Analyser | None = None, interval: float = UPDATE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, shown_for: ShownFor | None = None,
                 shown: threading.Event | None = None, input_gate: InputGate | None = None,
                 first_screen: Runner | None = None, searchable: threading.Event | None = None) -> None:
        self.post = post
        self.cancel = cancel
        self.interval = interval
        self.clock = clock
        self.progress: SourceProgress | None = None
        self.analyser = analyser or default_analyser
        # Live sources (probe, live capture) never "finish loading": judge the pushes on every snapshot.
        self.live = load.live
        self.loader = Loader(load, cancel=cancel, analyser=self.analyser, on_progress=self._progress,
                             after_item=self._after_item, tolerant=True, keep_now=True, read_while_looking_up=True,
                             peek=None if load.live else self._serve_kept_view)
        self._kept: CaptureView | None = None  # the view served from the cache, shown before its details
        self._texts_for: CacheEntry | None = None  # a kept view's entry whose search texts did not load
        self._posting = threading.Lock()  # snapshots (loader thread) never follow the kept view (lookup thread)
        self.shown_for = shown_for or (lambda: (FilterState(), SORTS[0]))
        self.shown = shown  # set by the UI once it shows the final rows: the search index is built after that
        self.searchable = searchable  # set by the UI once its search looks in the texts (see _serve_kept_view)
        self.input_gate = input_gate  # where the fold waits while the UI answers an input (see tui.sharing)
        # Runs what the first screen waits for (a reopen's kept view) at the UI's priority (see tui.sharing).
        self.first_screen: Runner = first_screen or _run_here
        self._listed: dict[str, ConnectionInfo] = {}  # what the UI was sent for each listed connection
        self._last_post = clock()
        self._gap = interval
        self._exchanges_posted = False  # until a snapshot holds exchanges, the first one is posted at once

    @property
    def capture(self) -> Capture:
        return self.loader.capture

    def run(self) -> Capture:
        """Read everything (or until cancelled), analyse, post the final snapshot. Never raises."""
        capture = self.loader.run()
        if self._kept is not None and self.loader.from_cache:
            if self.loader.details_served:  # (posted with the kept view: ``_serve_kept_view``)
                return capture
            self.post(DetailsRead(capture))
            if self._texts_for is not None:  # made again from the model, and kept again
                with collector_paused():
                    texts = search_texts(capture)
                self.post(SearchIndexed(texts))
                store_texts_in_background(*self._texts_for, texts)
            return capture
        self._kept = None  # (a kept view whose model did not load: the capture was read instead, and is shown now)
        # Hundreds of thousands of rows' places and texts, and no cycle among them: with the collector on (the load
        # is over), building them set off full collections that held the GIL for up to a second, and the UI waited.
        with collector_paused():
            view = self._view()
        self.post(self._update(view, final=True, cancelled=self.loader.cancelled))
        if not self.live:  # (a live source's snapshots carry them)
            if self.shown is not None:  # the UI builds its last screen first, without sharing the GIL with this
                self.shown.wait(INDEX_WAIT)
            with collector_paused():
                texts = search_texts(capture)
            self.post(SearchIndexed(texts))
            entry = self.loader.keep_unseen()  # (a file read before it was looked up is hashed only now)
            if entry is not None and not self.loader.cancelled:
                store_view_in_background(entry[0], entry[1], capture, replace(view, search_texts=texts))
        return capture

    def _serve_kept_view(self, entry: CacheEntry, stop_reading: Callable[[], None]) -> Served:
        """In the cache lookup's thread: show the view kept for this capture, if there is one (see ``view_cache``),
        and its details as they are asked for (``kept_model``). The read stops as soon as the entry is seen: reading
        it (seconds at a gigabyte) goes faster without tshark."""
        if not has_view(*entry):
            return Served.NOTHING
        stop_reading()
        kept = self.first_screen(lambda: load_view(*entry))
        if kept is None:  # broken (and gone): the model decides, a hit is shown as it is, a miss read again
            return Served.NOTHING
        with self._posting:
            self._kept = kept.view
            self.post(self._update(kept.view, final=True, details=False, default_rows=kept.default_rows))
        if self.shown is not None:  # the texts and the model are read once the rows are up: unpickling holds the GIL
            self.shown.wait(INDEX_WAIT)
        texts = load_texts(*entry)
        if texts is None:  # made again from the whole model, once it is read
            self._texts_for = entry
            return Served.VIEW
        self.post(SearchIndexed(texts))
        if self.searchable is not None:  # before the details' read holds the GIL: then the UI's turns are slow
            self.searchable.wait(INDEX_WAIT)
        details = open_kept_model(*entry)
        if details is None or details.exchange_count < len(kept.view.rows):  # (a row per exchange at most)
            if details is not None:
                details.close()
            return Served.VIEW  # the whole model's read decides (a broken one is deleted, the capture read again)
        self.post(DetailsRead(details))
        return Served.VIEW_AND_DETAILS

    def _view(self) -> CaptureView:
        view = build_view(self.capture)
        # A live capture is judged and searched as it goes; a file's search texts wait for the end.
        return replace(view, search_texts=search_texts(self.capture)) if self.live else view

    def _update(self, view: CaptureView, *, final: bool = False, cancelled: bool = False, details: bool = True,
                default_rows: RowSet | None = None) -> CaptureUpdated:
        """The snapshot message, with everything the UI thread would otherwise walk all the rows for.
        ``default_rows``: the view's row set for the default filters and sort, known already (a kept view's)."""
        filters, sort = self.shown_for()
        if default_rows is not None and (filters, sort) == (default_rows.filters, default_rows.sort):
            shown = default_rows
        else:
            shown = row_set(view.rows, filters, sort, view.search_texts)
        changes = []
        for info in view.connections[:LISTED_CONNECTIONS]:
            if self._listed.get(info.id) != info:
                self._listed[info.id] = info
                changes.append(info)
        requests = sum(info.requests for info in view.connections)
        return CaptureUpdated(self.capture if details else None, view, self.progress, final, cancelled,
                              shown=shown,
                              connection_changes=tuple(changes),
                              requests=requests)

    def _progress(self, item: SourceProgress) -> None:
        self.progress = item

    def _after_item(self) -> bool:
        """True stops the fold (cancelled); else a snapshot when it is time for one."""
        if self.cancel.is_set():
            return True
        if self.input_gate is not None:
            self.input_gate.wait()
        if self.clock() - self._last_post >= self._gap or (not self._exchanges_posted and self.capture.exchanges):
            self._publish()
        return False

    def _publish(self) -> None:
        with self._posting:
            if self._kept is None:
                self._publish_snapshot()

    def _publish_snapshot(self) -> None:
        started = self.clock()
        if self.live:
            try:
                self.analyser(self.capture)
            except Exception:  # an early, partial capture may not analyse yet; the final pass reports errors
                pass
        self._exchanges_posted = bool(self.capture.exchanges)
        update = self._update(self._view())
        cost = self.clock() - started
        # Snapshots cost O(exchanges): space them out as the capture grows so they never take more than
        # about a fifth of the loader's time (and the UI thread is not flooded with big updates).
        self._gap = max(self.interval, cost * 4)
        self._last_post = self.clock()
        self.post(update)
