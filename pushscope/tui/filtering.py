"""A big view's filter, sort and search changes, made off the UI thread. No widget here.

At 300 MB a filter key cost the UI thread 0.3-0.7 s (1-3 s at a gigabyte, per character typed in the search): the
rows a change shows are made in a worker thread instead, one at a time, for the latest change only. Each change
and each set of rows shown takes a new epoch: rows made for a change that was overtaken (by another change, or by
a snapshot's rows) are never shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual.message import Message

from pushscope.tui.sharing import QuickTurns
from pushscope.tui.view import CaptureView, FilterState, RowSet, row_set

# A view with this many rows is filtered and sorted off the UI thread (about 0.1-0.2 s per 100,000 rows there).
BACKGROUND_FILTER_ROWS = 50_000


class RowsFiltered(Message):
    """The rows for a filter or sort change, made off the UI thread."""

    def __init__(self, epoch: int, shown: RowSet, refit: bool) -> None:
        super().__init__()
        self.epoch = epoch
        self.shown = shown
        self.refit = refit


class BackgroundFiltering:
    """The UI thread asks (``ask``) and is told which rows to show (``RowsFiltered``, if ``current``); ``run`` is
    the worker thread's, started by the UI when ``ask`` says none is at work."""

    def __init__(self, post: Callable[[Message], object], turns: QuickTurns) -> None:
        self._post = post
        self._turns = turns  # the GIL's quick turns while it works (see tui.sharing)
        self._lock = threading.Lock()
        self._request: tuple[int, CaptureView, FilterState, str, bool] | None = None
        self._running = False
        self._epoch = 0
        self._awaited: int | None = None  # the change whose rows are not shown yet

    @property
    def pending(self) -> bool:
        """A change is being made (the rows shown are the previous ones)."""
        return self._awaited is not None

    def ask(self, view: CaptureView, filters: FilterState, sort: str, refit: bool) -> bool:
        """On the UI thread: make the rows of this change. True when a worker thread is to be started for it."""
        self._epoch += 1
        self._awaited = self._epoch
        with self._lock:
            self._request = (self._epoch, view, filters, sort, refit)
            running, self._running = self._running, True
        return not running  # (else the thread at work takes it next)

    def rows_shown(self) -> None:
        """On the UI thread, whenever rows are shown: a change asked for before them is overtaken."""
        self._epoch += 1
        self._awaited = None

    def current(self, message: RowsFiltered) -> bool:
        return message.epoch == self._epoch

    def run(self) -> None:
        """In a worker thread: make the rows of the latest change, until none is waiting."""
        with self._turns:
            while True:
                with self._lock:
                    request, self._request = self._request, None
                    if request is None:
                        self._running = False
                        return
                epoch, view, filters, sort, refit = request
                self._post(RowsFiltered(epoch, row_set(view.rows, filters, sort, view.search_texts), refit))
