"""Helpers for the inspector's tests: build an app on the synthetic capture or a real one, wait for the load."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from fake_capture import fake_analyse, fake_reader
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from pushscope.pipeline import Load
from pushscope.tui.app import PushscopeApp

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
LOAD_TIMEOUT = 60.0


class HeldLoad:
    """A source that reads nothing until released (the test posts the snapshots itself): the app stays loading.
    It lets itself go after ``HOLD`` seconds, so that a failing test ends."""

    HOLD = 10.0

    def __init__(self) -> None:
        self.released = threading.Event()

    def __call__(self, cancel: threading.Event):
        self.released.wait(self.HOLD)
        return iter(())


def full_layouts(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """A list that gets an item for each layout of the whole screen from now on (Textual's ``_refresh_layout``
    but for a scroll, which lays out only what it brings into view)."""
    layouts: list[None] = []
    refresh_layout = Screen._refresh_layout

    def counted(screen: Screen, size: object = None, scroll: bool = False) -> None:
        if not scroll:
            layouts.append(None)
        refresh_layout(screen, size, scroll)  # type: ignore[arg-type]

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return layouts


def fake_app(extra_requests: int = 0, delay: float = 0.0, later_load_at: float | None = None) -> PushscopeApp:
    """The app on the synthetic capture, with fixed verdicts (independent of the real rules)."""
    return PushscopeApp(Load(fake_reader(extra_requests, delay, later_load_at), "shop.pcapng"), analyser=fake_analyse)


def real_capture(name: str) -> tuple[str, str | None]:
    """A capture made by ``captures/make_captures.py`` from real servers; skips when it (or tshark) is missing."""
    pcap = CAPTURES / f"{name}.pcapng"
    if not pcap.exists():
        pytest.skip(f"{pcap.name} not generated")
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    keys = pcap.with_suffix(".keys")
    return str(pcap), (str(keys) if keys.exists() else None)


async def wait_loaded(pilot: Pilot, *, clear_notifications: bool = True) -> None:
    app = pilot.app
    assert isinstance(app, PushscopeApp)
    await asyncio.wait_for(app.load_finished.wait(), LOAD_TIMEOUT)
    await asyncio.wait_for(app.search_ready.wait(), LOAD_TIMEOUT)
    await pilot.pause()
    if clear_notifications:
        app.clear_notifications()
        await pilot.pause()


def text_of(static: Static) -> str:
    content = static.content
    return content.plain if isinstance(content, Content) else str(content)


def detail_text(app: PushscopeApp) -> str:
    return app.detail.content.plain


def row_paths(app: PushscopeApp) -> list[str]:
    return [row.path for row in app.waterfall.rows]
