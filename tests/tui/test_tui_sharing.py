"""The loader shares the machine with the UI thread (see ``pushscope.tui.sharing``): it stands aside while an input
is answered, and it and its tshark run at a lower priority than the UI thread."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_capture import fake_analyse, fake_events
from textual import events
from tui_helpers import HeldLoad, real_capture, wait_loaded

from pushscope.cache import CaptureCache, wait_for_writers
from pushscope.kept_model import KeptModel
from pushscope.pipeline import Load, capture_file
from pushscope.sources.tshark import TsharkRun
from pushscope.tui import loading
from pushscope.tui.app import PushscopeApp
from pushscope.tui.loading import LoadSession
from pushscope.tui.sharing import LOADER_NICENESS, InputGate, NormalPriority
from pushscope.tui.view_cache import KeptView

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")


class CountingGate(InputGate):
    """The real gate, counting how often the loader came to it and how often it found it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals = 0
        self.waits = 0
        self.closed_waits = 0

    def input_arrived(self) -> None:
        self.arrivals += 1
        super().input_arrived()

    def wait(self, timeout: float = 0.0) -> None:
        self.waits += 1
        self.closed_waits += not self.is_open
        super().wait(timeout)


def test_the_gate_opens_at_the_first_repaint_after_the_input_was_dispatched() -> None:
    gate = InputGate()
    assert gate.is_open
    gate.input_arrived()
    assert not gate.is_open
    gate.painted()  # a repaint before the input was handled does not show it
    assert not gate.is_open
    gate.input_dispatched()
    gate.painted()
    assert gate.is_open
    gate.painted()  # no input since: stays open
    assert gate.is_open


def test_the_loader_comes_to_the_gate_after_every_item() -> None:
    items = list(fake_events())
    gate = CountingGate()
    posted: list[object] = []
    session = LoadSession(Load(lambda _cancel: iter(items), "shop.pcapng"), posted.append, threading.Event(),
                          analyser=fake_analyse, input_gate=gate)
    session.run()
    assert gate.waits == len(items) and gate.closed_waits == 0
    gate.input_arrived()  # closed: a wait there lasts its timeout at most (an input the screen never shows)
    gate.wait(0.01)
    assert gate.closed_waits == 1 and not gate.is_open


async def test_a_key_pressed_while_loading_closes_the_gate_until_its_effect_is_shown() -> None:
    slow = threading.Event()

    def read(cancel: threading.Event):
        for item in fake_events(extra_requests=50):
            if slow.is_set() and not cancel.is_set():
                cancel.wait(0.01)  # still loading while the key is answered
            yield item

    app = PushscopeApp(Load(read, "shop.pcapng"), analyser=fake_analyse)
    gate = app._input_gate = CountingGate()
    slow.set()
    async with app.run_test(size=(120, 36)) as pilot:
        while len(app.waterfall.rows) < 3:
            await asyncio.sleep(0.01)
        assert app.loading
        event = events.Key("down", None)
        event.set_sender(app)
        assert app._driver is not None
        app._driver.send_message(event)  # as the terminal does
        shown = f"#{app.waterfall.rows[1].exchange_id}"
        for _ in range(3000):  # the repaint after the key reopens it (left closed, it would slow the load)
            if app.waterfall.cursor == 1 and gate.is_open and shown in str(app.detail.border_title):
                break
            await asyncio.sleep(0.01)
        assert gate.arrivals == 1 and gate.is_open and app.waterfall.cursor == 1
        assert shown in str(app.detail.border_title)  # the detail pane follows the cursor's repaint
        assert app.loading
        slow.clear()
        await wait_loaded(pilot)
    assert gate.closed_waits >= 1  # the loader came to it while it was closed


def _nice_of(pid: int) -> int:
    """The nice value in /proc/PID/stat (field 19; the command name before it may hold spaces and parentheses)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


@linux_only
async def test_tshark_runs_nicer_than_the_inspector(monkeypatch: pytest.MonkeyPatch) -> None:
    pcap, keys = real_capture("nginx-second-connection")
    started: list[int] = []
    start = TsharkRun.start

    def watched_start(run: TsharkRun) -> None:
        start(run)
        assert run.process is not None
        started.append(_nice_of(run.process.pid))

    monkeypatch.setattr(TsharkRun, "start", watched_start)
    own = _nice_of(os.getpid())
    app = PushscopeApp(capture_file(pcap, keys))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        assert app.view.rows
    assert started == [min(own + LOADER_NICENESS, 19)]
    assert _nice_of(os.getpid()) == own  # the UI thread's own priority is untouched


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_work_handed_to_the_normal_priority_runs_on_the_serving_thread() -> None:
    normal = NormalPriority()

    def nicer_thread() -> tuple[int, str]:
        try:
            normal.run(lambda: 1 / 0)
        except ZeroDivisionError:
            return normal.run(lambda: (threading.get_native_id(), "done"))
        raise AssertionError("the work's exception was not handed back")

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert normal.serve_until(pool.submit(nicer_thread)) == (threading.get_native_id(), "done")
        with pytest.raises(KeyError):
            normal.serve_until(pool.submit(lambda: {}["missing"]))


@linux_only
async def test_a_reopen_reads_its_kept_view_at_the_uis_priority_and_its_details_nicer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pcap, keys = real_capture("nginx-second-connection")
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(tmp_path))
    LoadSession(capture_file(pcap, keys, use_cache=True), lambda _message: None, threading.Event()).run()
    wait_for_writers()
    nices: dict[str, int] = {}
    load_view, open_details = loading.load_view, loading.open_kept_model

    def watched_load_view(cache: CaptureCache, key: str) -> KeptView | None:
        nices["view"] = _own_nice()
        return load_view(cache, key)

    def watched_open_details(cache: CaptureCache, key: str) -> KeptModel | None:
        nices["details"] = _own_nice()
        return open_details(cache, key)

    monkeypatch.setattr(loading, "load_view", watched_load_view)
    monkeypatch.setattr(loading, "open_kept_model", watched_open_details)
    app = PushscopeApp(capture_file(pcap, keys, use_cache=True))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await asyncio.wait_for(app.details_ready.wait(), 60)
        assert app.view.rows and app.details is not None
    own = _own_nice()
    assert nices["view"] == own
    assert nices["details"] == min(own + LOADER_NICENESS, 19)  # (the loader is nicer: the test tells them apart)


def _snapshots() -> list[loading.CaptureUpdated]:
    """The snapshots a load of the synthetic capture posts, one after each of its items, the final one last."""
    posted: list[object] = []
    session = LoadSession(Load(lambda _cancel: fake_events(extra_requests=20), "shop.pcapng"), posted.append,
                          threading.Event(), analyser=fake_analyse, interval=0.0)
    session.run()
    return [message for message in posted if isinstance(message, loading.CaptureUpdated)]


async def test_snapshots_that_come_while_an_input_is_answered_are_shown_after_its_repaint() -> None:
    snapshots = _snapshots()
    partial = [message for message in snapshots if not message.final and message.view.rows]
    first, second = partial[len(partial) // 3], partial[-1]
    assert len(first.view.rows) < len(second.view.rows) and first.connection_changes
    second.connection_changes = ()  # (nothing new on the connections since the first)
    held = HeldLoad()
    app = PushscopeApp(Load(held, "shop.pcapng"), analyser=fake_analyse)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        gate = app._input_gate
        gate.input_arrived()  # a key on its way: it is answered first
        app.post_message(first)
        app.post_message(second)
        await pilot.pause()
        assert app.waterfall.rows == () and len(app._deferred) == 2
        gate.input_dispatched()
        app.refresh()  # the key's repaint
        await pilot.pause()
        await pilot.pause()
        assert not app._deferred
        assert app.waterfall.rows == second.shown.rows  # only the latest is drawn
        for _ in range(100):  # ...and the gate opens at its repaint: the loader goes on
            if gate.is_open:
                break
            await pilot.pause()
        assert gate.is_open
        listed = app.connections_tree._infos | app.connections_tree._pending
        # ...with the connection changes of those that waited (each snapshot carries only its own).
        assert [listed[info.id] for info in first.connection_changes] == list(first.connection_changes)
        held.released.set()
        await wait_loaded(pilot)


async def test_a_waiting_snapshot_is_shown_without_a_repaint_and_at_once_before_the_final_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pushscope.tui import app as app_module

    monkeypatch.setattr(app_module, "MAX_DEFERRAL", 0.05)
    snapshots = _snapshots()
    partial = [message for message in snapshots if not message.final and message.view.rows]
    held = HeldLoad()
    app = PushscopeApp(Load(held, "shop.pcapng"), analyser=fake_analyse)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app._input_gate.input_arrived()  # an input that is never followed by a repaint
        app.post_message(partial[0])
        await pilot.pause()
        assert app.waterfall.rows == ()
        await asyncio.sleep(0.2)
        await pilot.pause()
        assert app.waterfall.rows == partial[0].shown.rows  # shown when the wait ran out
        app.post_message(partial[1])
        await pilot.pause()
        assert app.waterfall.rows == partial[0].shown.rows  # the gate is still closed
        app.post_message(snapshots[-1])  # the final snapshot waits for nothing, and follows the waiting ones
        await pilot.pause()
        assert snapshots[-1].final and app.waterfall.rows == snapshots[-1].shown.rows and not app.loading
        held.released.set()
        await wait_loaded(pilot)


def test_quick_turns_are_counted_and_the_last_user_puts_back_what_the_first_found() -> None:
    import sys

    from pushscope.tui.sharing import QuickTurns

    before = sys.getswitchinterval()
    turns = QuickTurns(0.001)
    with turns:
        assert sys.getswitchinterval() == 0.001
        with turns:  # a filtering while the loader works
            assert sys.getswitchinterval() == 0.001
        assert sys.getswitchinterval() == 0.001  # the loader still works
    assert sys.getswitchinterval() == before
