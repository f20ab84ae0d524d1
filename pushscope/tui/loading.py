"""The loader's side of the thread boundary: run the pipeline's loader, post batched snapshots.

Everything here runs in the worker thread. It only talks to the UI through ``post`` (``App.post_message``, which
is thread-safe), at most every ``interval`` seconds, so a capture with thousands of exchanges fills the
waterfall progressively without flooding the message queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.message import Message

from pushscope.events import SourceProgress
from pushscope.model.entities import Capture
from pushscope.pipeline import Analyser, Load, Loader
from pushscope.tui.view import CaptureView, build_view

UPDATE_INTERVAL = 0.25


class CaptureUpdated(Message):
    """A new snapshot of the capture being loaded (``final`` once analysed, or after cancel/failure)."""

    def __init__(self, capture: Capture, view: CaptureView, progress: SourceProgress | None, final: bool = False,
                 cancelled: bool = False) -> None:
        super().__init__()
        self.capture = capture  # the UI reads exchange details from it; only the loader thread writes to it
        self.view = view
        self.progress = progress
        self.final = final
        self.cancelled = cancelled


def default_analyser(capture: Capture) -> object:
    from pushscope.analysis import analyse

    return analyse(capture)


class LoadSession:
    """Loads one source into a new capture; posts a snapshot when ``interval`` has passed since the last one."""

    def __init__(self, load: Load, post: Callable[[Message], object], cancel: threading.Event, *,
                 analyser: Analyser | None = None, interval: float = UPDATE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.post = post
        self.cancel = cancel
        self.interval = interval
        self.clock = clock
        self.progress: SourceProgress | None = None
        self.analyser = analyser or default_analyser
        # Live sources (probe, live capture) never "finish loading": judge the pushes on every snapshot.
        self.live = load.live
        self.loader = Loader(load, cancel=cancel, analyser=self.analyser, on_progress=self._progress,
                             after_item=self._after_item, tolerant=True, keep_now=True)
        self._last_post = clock()
        self._gap = interval

    @property
    def capture(self) -> Capture:
        return self.loader.capture

    def run(self) -> Capture:
        """Read everything (or until cancelled), analyse, post the final snapshot. Never raises."""
        capture = self.loader.run()
        self.post(CaptureUpdated(capture, build_view(capture), self.progress, final=True,
                                 cancelled=self.loader.cancelled))
        return capture

    def _progress(self, item: SourceProgress) -> None:
        self.progress = item

    def _after_item(self) -> bool:
        """True stops the fold (cancelled); else a snapshot when it is time for one."""
        if self.cancel.is_set():
            return True
        if self.clock() - self._last_post >= self._gap:
            self._publish()
        return False

    def _publish(self) -> None:
        started = self.clock()
        if self.live:
            try:
                self.analyser(self.capture)
            except Exception:  # an early, partial capture may not analyse yet; the final pass reports errors
                pass
        view = build_view(self.capture)
        cost = self.clock() - started
        # Snapshots cost O(exchanges): space them out as the capture grows so they never take more than
        # about a fifth of the loader's time (and the UI thread is not flooded with big updates).
        self._gap = max(self.interval, cost * 4)
        self._last_post = self.clock()
        self.post(CaptureUpdated(self.capture, view, self.progress))
