"""The probe as an iterable source, like a capture's: the session runs on a background thread and its items
(events, run records, truths, diagnostics, progress, then a SourceFinished) are yielded as they happen."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator

from pushscope.events import Diagnostic, PushTruthRecorded, RunFinished, SourceFinished, SourceProgress
from pushscope.sources.probe.connection import ProbeOptions
from pushscope.sources.probe.session import Item, ProbeSession, SessionResult


class ProbeEventStream:
    """Iterate to run the probe and receive its items as they happen; ``cancel()`` stops it (from any thread).

    After the iteration ``result`` holds every item the session produced (the same ones, without progress)."""

    _DONE = object()

    def __init__(self, options: ProbeOptions) -> None:
        self.options = options
        self.result: SessionResult | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[SessionResult] | None = None
        self._session: ProbeSession | None = None
        self._error: BaseException | None = None

    def cancel(self) -> None:
        if self._session is not None:
            self._session.cancelled = True
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._session = session = ProbeSession(self.options, sink=self._queue.put)
        try:
            self._task = loop.create_task(session.run())
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            self._queue.put(Diagnostic(level="warning", message="probe cancelled", code="cancelled"))
        except BaseException as exc:  # reported as a diagnostic: the inspector must not die with the probe
            self._error = exc
        finally:
            self.result = session.result
            loop.close()
            self._queue.put(self._DONE)

    def __iter__(self) -> Iterator[Item | SourceProgress | SourceFinished]:
        thread = threading.Thread(target=self._run, name="pushscope-probe", daemon=True)
        thread.start()
        while True:
            item = self._queue.get()
            if item is self._DONE:
                break
            yield item  # type: ignore[misc]
        thread.join()
        if self._error is not None:
            yield Diagnostic(level="error", message=f"the probe failed: {self._error!r}", code="probe-failed")
        items = self.result.items if self.result is not None else []
        runs = sum(1 for item in items if isinstance(item, RunFinished))
        truths = sum(1 for item in items if isinstance(item, PushTruthRecorded))
        yield SourceFinished(summary={"runs": runs, "pushes": truths})
