"""A reopen from the cache: the kept view (rows, tree, summary, search) is shown before the details are opened;
the detail pane says its details are being read and fills in by itself once they are; export waits for them, and
then reads the whole kept model for the report."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path

import pytest
from tui_helpers import LOAD_TIMEOUT, detail_text, real_capture

from pushscope.cache import CaptureCache, wait_for_writers
from pushscope.export.json_report import render_json
from pushscope.kept_model import KeptModel, open_kept_model
from pushscope.pipeline import capture_file
from pushscope.tui import loading
from pushscope.tui.app import PushscopeApp
from pushscope.tui.loading import LoadSession
from pushscope.tui.widgets.detail import exchange_content

original_load = CaptureCache.load


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

    fresh = LoadSession(capture_file(str(capture), str(keylog), use_cache=False), lambda _message: None,
                        threading.Event()).run()
    go = threading.Event()  # the details are opened only once the test says so
    searchable_before_model: list[bool] = []

    def held_open(cache: CaptureCache, key: str) -> KeptModel | None:
        searchable_before_model.append(app.search_ready.is_set())  # (its read would slow the UI's turns)
        go.wait(LOAD_TIMEOUT)
        return open_kept_model(cache, key)

    def no_whole_model(*_args: object) -> None:
        raise AssertionError("a reopen read the whole model")

    monkeypatch.setattr(loading, "open_kept_model", held_open)
    monkeypatch.setattr(CaptureCache, "load", no_whole_model)
    # The footer is composed again on each refresh of the bindings (tens of ms): only when export becomes available.
    refreshed_with_details: list[bool] = []
    refresh_bindings = PushscopeApp.refresh_bindings

    def noted_refresh(self: PushscopeApp) -> None:
        refreshed_with_details.append(self.details is not None)
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
            # The highlighted row's details, without a key pressed: read from the cache, not the whole model.
            assert isinstance(app.details, KeptModel) and app.capture is None and app.waterfall.selected == row
            text = detail_text(app)
            assert "Reading this capture's details" not in text and "Response headers" in text
            assert text == exchange_content(fresh, row, probed=app.view.probed).plain
            assert app.check_action("export", ()) is True
            assert refreshed_with_details == [True]
            # Export reads the whole kept model, for the report only: the same report as the capture's own.
            monkeypatch.setattr(CaptureCache, "load", original_load)
            exported = tmp_path / "reopened.json"
            app._export_chosen(("json", exported))
            await app.workers.wait_for_complete()
            assert json.loads(exported.read_text()) == json.loads(render_json(fresh, redact=True))
            assert app.capture is None
    finally:
        go.set()


async def test_a_reopen_whose_kept_exchanges_are_damaged_says_so_in_the_detail_pane(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pcap, keys = real_capture("nginx-push-basic")
    assert keys is not None
    monkeypatch.setenv("PUSHSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    LoadSession(capture_file(pcap, keys, use_cache=True), lambda _message: None, threading.Event()).run()
    wait_for_writers()
    cache = CaptureCache()
    (path,) = (tmp_path / "cache").glob("*.model")
    details = open_kept_model(cache, path.stem)
    assert details is not None
    start, end = details._index.span(0)
    place = details._base + (start + end) // 2
    details.close()
    data = bytearray(path.read_bytes())
    data[place] ^= 0x01  # the rows, connections and pushes are whole: the reopen shows them
    path.write_bytes(bytes(data))
    app = PushscopeApp(capture_file(pcap, keys, use_cache=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await asyncio.wait_for(app.details_ready.wait(), LOAD_TIMEOUT)
        await pilot.press("down")
        await pilot.pause()
        assert isinstance(app.details, KeptModel) and app.waterfall.selected is not None
        text = detail_text(app)
        assert "could not be read from the cache" in text and "--no-cache" in text
        assert app.waterfall.selected.path in text and "Response headers" not in text
