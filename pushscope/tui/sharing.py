"""How the loader shares the machine with the UI thread, so that keys are answered while a big capture loads.

What a slow key waited for (the 300 MB capture; per key, the UI thread's CPU time and its time runnable but off a
core from /proc's schedstat, its GIL waits counted with strace): the GIL, and a core. The loader asks for the GIL
back 1 ms (the switch interval) after the UI thread took it, so a key's 5-40 ms of UI work went in 1 ms turns, each
a futex wait and a wake-up (up to hundreds per slow key); and tshark and the loader keep both cores busy, so the
UI thread, woken, waited in the run queue. Hence:

- ``InputGate``: the loader stands aside (waits, not holding the GIL) from the moment an input event arrives until
  the screen has shown its effect; its tshark then blocks on a full pipe too, and the UI thread has the process.
  It costs the load what the UI spends on inputs, nothing without them.
- ``lower_thread_priority``: the loader thread, and tshark (which inherits it), run nicer than the UI thread:
  woken by a key, the UI thread takes a core from them at once. A nice value only weighs threads against each
  other within the process's scheduling group: an idle UI thread leaves them the same CPU as before.
- ``NormalPriority``: what the first screen waits for (a reopen's kept view) is read at the normal priority, on
  the thread that started the loader: nicer, and preempted by the other processes of its group while holding the
  GIL, the read held up the UI thread's start too (30 MB reopen beside two busy processes: fully loaded 0.87 ->
  0.61 s, medians of 8; the same on a quiet machine).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from textual import events

# Events a user waits to see answered (not mouse moves: those come in floods and need no answer).
INPUT_EVENTS = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)
MAX_PAUSE = 0.1  # seconds the loader stands aside for one input at most (an input the screen never shows)
LOADER_NICENESS = 10
T = TypeVar("T")


class InputGate:
    """Closed from an input's arrival until the first repaint after it was dispatched; the loader waits at it.

    ``input_arrived`` may be called from any thread; ``input_dispatched`` and ``painted`` on the UI thread."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._dispatched = False

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def input_arrived(self) -> None:
        self._open.clear()

    def input_dispatched(self) -> None:
        self._dispatched = True

    @property
    def dispatched(self) -> bool:
        """An input was handled since the last repaint (the next repaint shows it)."""
        return self._dispatched

    def painted(self) -> None:
        """A repaint: it shows what the inputs dispatched before it did (their handlers ran before it)."""
        if self._dispatched:
            self._dispatched = False
            self._open.set()

    def wait(self, timeout: float = MAX_PAUSE) -> None:
        if not self._open.is_set():
            self._open.wait(timeout)


def lower_thread_priority(niceness: int = LOADER_NICENESS) -> None:
    """Make the calling thread, and every thread and process it starts from now on, ``niceness`` nicer. Linux only:
    there a thread has a nice value of its own and passes it on. It cannot be undone without privileges: call it on
    a thread that ends with its work."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + niceness, 19))
    except OSError:  # a sandbox that forbids it: the load is the same, keys may wait longer
        pass


class QuickTurns:
    """While any of its users works (the loader, a filtering), the GIL is handed over every ``interval`` seconds
    instead of Python's 5 ms: the UI thread takes it back after each of its waits only when the worker is asked to
    let go, and a key takes tens of such turns (at 5 ms each that alone is over 100 ms; at 1 ms about 25 ms).
    Counted, so that the last user to finish puts back the interval the first one found."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.interval))
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


class Runner(Protocol):
    """Runs ``work`` somewhere (``NormalPriority.run``) and returns what it returned."""

    def __call__(self, work: Callable[[], T]) -> T: ...


class NormalPriority:
    """Runs work handed over by a nicer thread on the thread that serves it (``serve_until``), which keeps its
    priority. ``run`` may be called from any thread while it is served; it returns what the work returned."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()

    def run(self, work: Callable[[], T]) -> T:
        done: Future[T] = Future()
        self._calls.put((work, done))
        return done.result()

    def serve_until(self, finished: Future[T]) -> T:
        """Run what is handed over until ``finished`` is done; its result (or its exception)."""
        finished.add_done_callback(lambda _future: self._calls.put(None))
        while (call := self._calls.get()) is not None:
            work, done = call
            try:
                done.set_result(work())
            except BaseException as exc:  # (handed back to the caller, whatever it is)
                done.set_exception(exc)
        return finished.result()
