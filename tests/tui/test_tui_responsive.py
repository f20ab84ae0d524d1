"""The inspector answers keys while a big capture loads, and a reopen from the cache shows what the first open did.

The load here is a source of many connections whose reader keeps the GIL busy between items, as the decoders do:
a snapshot handler that walked every row or every connection on the UI thread (or a loader that never let go of
the GIL) would leave a key unanswered for seconds. The bound is generous (a loaded CI machine renders slowly too);
when it is missed on a machine whose timers are visibly late, the test skips instead of failing.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_capture import T0, fake_analyse
from textual import events
from tui_helpers import real_capture, wait_loaded

from pushscope.cache import wait_for_writers
from pushscope.events import ConnectionOpened, DataReceived, Endpoint, HeadersReceived, SourceProgress
from pushscope.pipeline import Load, capture_file
from pushscope.tui.app import PushscopeApp
from pushscope.tui.widgets.connections import ConnectionsTree

CONNECTIONS = 1500
BUSY_PER_CONNECTION = 0.003  # seconds of pure Python between connections: the load lasts about 5 s
STARTUP = 0.5  # seconds after the first rows before timing keys: Textual is still mounting the screen's widgets
WORST_KEY = 1.0  # seconds: an unblocked UI answers in tens of ms; a handler walking the capture takes seconds


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def many_connections(cancel: threading.Event) -> Iterator[object]:
    """One request and response on each of CONNECTIONS connections, the reader busy (holding the GIL) in between."""
    for i in range(CONNECTIONS):
        if cancel.is_set():
            return
        conn, at = f"t{i}", T0 + i * 0.01
        yield ConnectionOpened(connection_id=conn, at=at, client=Endpoint("127.0.0.1", 20000 + i),
                               server=Endpoint("127.0.0.1", 8443), transport="tls", protocol="h2",
                               tls_version="1.3", sni=f"host{i}.example", alpn="h2")
        request = [(":method", "GET"), (":scheme", "https"), (":authority", f"host{i}.example"), (":path", "/")]
        yield HeadersReceived(connection_id=conn, at=at, sender="client", stream_id=1, headers=request,
                              end_stream=True, wire_length=40)
        yield HeadersReceived(connection_id=conn, at=at + 0.002, sender="server", stream_id=1,
                              headers=[(":status", "200"), ("content-type", "text/html")], end_stream=False,
                              wire_length=30)
        yield DataReceived(connection_id=conn, at=at + 0.004, sender="server", stream_id=1, data=b"<html>",
                           length=6, end_stream=True)
        yield SourceProgress(done=i + 1, total=CONNECTIONS, unit="bytes", detail=f"{i + 1} connections")
        _busy(BUSY_PER_CONNECTION)


async def _answer(app: PushscopeApp, key: str) -> float:
    """Send ``key`` as the terminal would; seconds until its action ran and the screen was repainted after it."""
    waterfall, screen = app.waterfall, app.screen
    acted = asyncio.Event()
    painted = asyncio.Event()
    action, refresh = waterfall.action_cursor, screen._compositor_refresh

    def watched_action(delta: int) -> None:
        action(delta)
        acted.set()

    def watched_refresh() -> None:
        refresh()
        if acted.is_set():
            painted.set()

    waterfall.action_cursor = watched_action  # type: ignore[method-assign]
    screen._compositor_refresh = watched_refresh  # type: ignore[method-assign]
    try:
        sent = time.monotonic()
        event = events.Key(key, None)
        event.set_sender(app)
        assert app._driver is not None
        app._driver.send_message(event)
        await asyncio.wait_for(painted.wait(), 60)
        return time.monotonic() - sent
    finally:
        del waterfall.action_cursor, screen._compositor_refresh  # back to the class's methods


async def test_keys_are_answered_while_a_big_capture_loads() -> None:
    app = PushscopeApp(Load(many_connections, "many.pcapng"), analyser=fake_analyse)
    answers: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        while app.loading and len(app.waterfall.rows) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(STARTUP)
        while app.loading:
            answers.append(await _answer(app, "down" if len(answers) % 2 == 0 else "up"))
            await asyncio.sleep(0.1)
        _check_answers(answers)
        await wait_loaded(pilot)
        tree = app.query_one(ConnectionsTree)
        assert str(tree.root.label).endswith(f"{CONNECTIONS} conn · {CONNECTIONS} req")
        unlisted = [str(node.label) for node in tree.root.children if node.data is None]
        assert unlisted and "more connections, not listed here" in unlisted[0]
        assert len(app.view.rows) == CONNECTIONS


def _check_answers(answers: list[float]) -> None:
    assert len(answers) >= 3, f"the load ended before keys could be timed: {answers}"
    worst = max(answers)
    if worst > WORST_KEY:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiment"))  # the shared timing check
        from timekeeping import fail_unless_the_machine_was_too_busy

        fail_unless_the_machine_was_too_busy(f"a key took {worst:.2f} s while loading (answers: "
                                             f"{[round(a, 3) for a in answers]})")


def _shown(app: PushscopeApp) -> tuple[object, ...]:
    tree = app.query_one(ConnectionsTree)
    labels = [str(node.label) for node in tree.root.children]
    return app.view.rows, app.view.summary, app.view.connections, tuple(labels), str(app.summary_bar.content)


async def test_a_reopen_from_the_cache_shows_what_the_first_open_showed(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pcap, keys = real_capture("nginx-second-connection")  # two connections, pushes
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(tmp_path))
    shown = []
    for _ in range(2):
        app = PushscopeApp(capture_file(pcap, keys, use_cache=True))
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_loaded(pilot)
            shown.append(_shown(app))
        wait_for_writers()  # the first open keeps its model in a forked child
    assert list(tmp_path.glob("*.model")), "the first open kept nothing"
    assert shown[1] == shown[0]
    assert shown[0][0], "no rows"


def test_the_load_status_estimates_the_time_left_to_read_from_the_rate_so_far() -> None:
    from pushscope.tui.widgets.summary import LoadStatus

    now = [100.0]
    status = LoadStatus(clock=lambda: now[0])
    mib = 1024 * 1024
    assert status._estimate(10 * mib, 100 * mib) == ""  # the first report: no rate yet
    now[0] += 2.0
    text = status._estimate(30 * mib, 100 * mib)  # 20 MiB in 2 s: 10 MiB/s, 70 MiB left
    assert "10.0 MiB/s" in text and "7s left to read, then the analysis" in text
    now[0] += 7.0
    assert status._estimate(100 * mib, 100 * mib) == " · analysing"
