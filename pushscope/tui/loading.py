"""The loader's side of the thread boundary: fold source items into a builder, post batched snapshots.

Everything here runs in the worker thread. It only talks to the UI through ``post`` (``App.post_message``, which
is thread-safe), at most every ``interval`` seconds, so a capture with thousands of exchanges fills the
waterfall progressively without flooding the message queue.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass

from textual.message import Message

from pushscope.cache import CachedCapture, CacheSlot
from pushscope.events import Diagnostic, SourceFinished, SourceProgress
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture
from pushscope.pipeline import collector_paused
from pushscope.tui.view import CaptureView, build_view

# A source: given the cancel Event, yields events, diagnostics, progress and a final SourceFinished.
Reader = Callable[[threading.Event], Iterable[object]]
Analyser = Callable[[Capture], object]
UPDATE_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int | None
    unit: str = "bytes"
    detail: str = ""


class CaptureUpdated(Message):
    """A new snapshot of the capture being loaded (``final`` once analysed, or after cancel/failure)."""

    def __init__(self, capture: Capture, view: CaptureView, progress: Progress | None, final: bool = False,
                 cancelled: bool = False) -> None:
        super().__init__()
        self.capture = capture  # the UI reads exchange details from it; only the loader thread writes to it
        self.view = view
        self.progress = progress
        self.final = final
        self.cancelled = cancelled


def capture_file_reader(path: str, keylog: str | None, quic_ports: list[int] | None = None,
                        use_cache: bool = False) -> Reader:
    """The real source: tshark over a capture file (imported lazily; it starts a subprocess); with ``use_cache``
    the analysed capture from the cache when it is there (a CachedCapture item), else a CacheSlot item first."""

    def read(cancel: threading.Event) -> Iterable[object]:
        from pushscope.sources.capture_file import read_capture

        if use_cache:
            from pushscope.pipeline import cache_lookup

            cache, key = cache_lookup(path, keylog, quic_ports)
            if cache is not None and key is not None:
                cached = cache.load(key)
                if cached is not None:
                    return [CachedCapture(cached), SourceFinished()]
                return itertools.chain([CacheSlot(cache, key)], read_capture(path, keylog, cancel=cancel,
                                                                             quic_ports=quic_ports))
        return read_capture(path, keylog, cancel=cancel, quic_ports=quic_ports)

    return read


def default_analyser(capture: Capture) -> object:
    from pushscope.analysis import analyse

    return analyse(capture)


class LoadSession:
    """Folds one source into a new capture; posts a snapshot when ``interval`` has passed since the last one."""

    def __init__(self, name: str, post: Callable[[Message], object], cancel: threading.Event,
                 interval: float = UPDATE_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 analyser: Analyser | None = None, source: str = "capture") -> None:
        self.builder = CaptureBuilder(source=source, name=name)
        self.post = post
        self.cancel = cancel
        self.interval = interval
        self.clock = clock
        self.progress: Progress | None = None
        self.cancelled = False
        self._last_post = clock()
        self._gap = interval
        self._dirty = False
        # Live sources (probe, live capture) never "finish loading": judge the pushes on every snapshot.
        self._live_analyser = analyser
        self._cache_slot: CacheSlot | None = None
        self._from_cache = False

    @property
    def capture(self) -> Capture:
        return self.builder.capture

    def run(self, reader: Reader, analyser: Analyser) -> Capture:
        """Read everything (or until cancelled), analyse, post the final snapshot. Never raises."""
        # A file is loaded once, with the collector paused (see pipeline); a live source runs for as long as it likes.
        with collector_paused() if self._live_analyser is None else nullcontext():
            self._read_and_analyse(reader, analyser)
        if self._cache_slot is not None and not self.cancelled:
            self._cache_slot.keep(self.capture)
        self.post(CaptureUpdated(self.capture, build_view(self.capture), self.progress, final=True,
                                  cancelled=self.cancelled))
        return self.capture

    def _read_and_analyse(self, reader: Reader, analyser: Analyser) -> None:
        items: Iterable[object] = ()
        try:
            items = reader(self.cancel)
            self._fold(items)
        except Exception as exc:  # a broken source must not take the UI down: report it and show what we have
            self._diagnose("error", f"loading stopped: {type(exc).__name__}: {exc}", "load-failed")
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator source stops tshark in its ``finally``
        try:
            if not self._from_cache:  # a capture from the cache comes analysed
                analyser(self.capture)
        except Exception as exc:
            self._diagnose("error", f"analysis failed: {type(exc).__name__}: {exc}", "analysis-failed")

    def _fold(self, items: Iterable[object]) -> None:
        apply = self.builder.apply
        for item in items:
            if isinstance(item, SourceProgress):
                self.progress = Progress(item.done, item.total, item.unit, item.detail)
                self._dirty = True
            elif isinstance(item, SourceFinished):
                continue
            elif isinstance(item, CachedCapture):
                self.builder.capture = item.capture
                self._from_cache = True
                self._dirty = True
            elif isinstance(item, CacheSlot):
                self._cache_slot = item
            else:
                apply(item)  # type: ignore[arg-type]
                self._dirty = True
            if isinstance(item, Diagnostic) and item.code == "cancelled":
                self.cancelled = True
            if self.cancel.is_set():
                self._cancelled()
                return
            if self._dirty and self.clock() - self._last_post >= self._gap:
                self._publish()

    def _cancelled(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            count = self.builder.events_applied
            self._diagnose("warning", f"loading cancelled after {count} events: showing what was read", "cancelled")

    def _diagnose(self, level: str, message: str, code: str) -> None:
        self.capture.diagnostics.append(Diagnostic(level=level, message=message, code=code))  # type: ignore[arg-type]

    def _publish(self) -> None:
        started = self.clock()
        if self._live_analyser is not None:
            try:
                self._live_analyser(self.capture)
            except Exception:  # an early, partial capture may not analyse yet; the final pass reports errors
                pass
        view = build_view(self.capture)
        cost = self.clock() - started
        # Snapshots cost O(exchanges): space them out as the capture grows so they never take more than
        # about a fifth of the loader's time (and the UI thread is not flooded with big updates).
        self._gap = max(self.interval, cost * 4)
        self._last_post = self.clock()
        self._dirty = False
        self.post(CaptureUpdated(self.capture, view, self.progress))

