"""A reopen from the cache: the kept view (rows, tree, summary, search) is shown before the model is read; the
detail pane says its details are being read and fills in by itself once they are; export waits for them."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from tui_helpers import LOAD_TIMEOUT, detail_text, real_capture

from pushscope.cache import CaptureCache, wait_for_writers
from pushscope.model.entities import Capture
from pushscope.pipeline import capture_file
from pushscope.tui.app import PushscopeApp
from pushscope.tui.loading import LoadSession


async def test_a_reopen_shows_the_kept_rows_before_the_model_and_details_follow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pcap, keys = real_capture("nginx-push-basic")
    assert keys is not None
    capture, keylog = tmp_path / Path(pcap).name, tmp_path / Path(keys).name
    shutil.copy(pcap, capture)
    shutil.copy(keys, keylog)
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    load = capture_file(str(capture), str(keylog), use_cache=True)
    LoadSession(load, lambda _message: None, threading.Event()).run()  # the first open keeps model and view
    wait_for_writers()

    go = threading.Event()  # the model is read only once the test says so
    original = CaptureCache.load
    searchable_before_model: list[bool] = []

    def held_load(cache: CaptureCache, key: str) -> Capture | None:
        searchable_before_model.append(app.search_ready.is_set())  # (its read would slow the UI's turns)
        go.wait(LOAD_TIMEOUT)
        return original(cache, key)

    monkeypatch.setattr(CaptureCache, "load", held_load)
    # The footer is composed again on each refresh of the bindings (tens of ms): only when export becomes available.
    refreshed_with_details: list[bool] = []
    refresh_bindings = PushscopeApp.refresh_bindings

    def noted_refresh(self: PushscopeApp) -> None:
        refreshed_with_details.append(self.capture is not None)
        refresh_bindings(self)

    monkeypatch.setattr(PushscopeApp, "refresh_bindings", noted_refresh)
    app = PushscopeApp(capture_file(str(capture), str(keylog), use_cache=True))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await asyncio.wait_for(app.load_finished.wait(), LOAD_TIMEOUT)
            await asyncio.wait_for(app.search_ready.wait(), LOAD_TIMEOUT)
            await pilot.pause()
            # Everything the view holds is there (its search texts read after its rows), and the model is not.
            assert app.waterfall.rows and not app.loading and app.capture is None
            assert app.view.search_texts and len(app.view.search_texts) == len(app.view.rows)
            assert not app.details_ready.is_set()
            assert app.view.summary.get("pushes") and app.view.connections
            assert app.check_action("export", ()) is None  # disabled until the details are read
            await pilot.press("down")
            row = app.waterfall.selected
            assert row is not None
            assert "Reading this capture's details" in detail_text(app) and row.path in detail_text(app)
            go.set()
            await asyncio.wait_for(app.details_ready.wait(), LOAD_TIMEOUT)
            assert searchable_before_model == [True]
            await pilot.pause()
            # The highlighted row's details, without a key pressed.
            assert app.capture is not None and app.waterfall.selected == row
            text = detail_text(app)
            assert "Reading this capture's details" not in text and "Response headers" in text
            assert app.check_action("export", ()) is True
            assert refreshed_with_details == [True]
    finally:
        go.set()
