"""A snapshot of a loading capture is shown without laying the whole screen out again: Textual lays out every
widget for any one that asks (40-60 ms of the UI thread at each snapshot of a 30 MB load), and a snapshot changes
no widget's size. The summary bar, the progress line and the waterfall's scrollbar still follow it."""

from __future__ import annotations

import threading

import pytest
from fake_capture import fake_analyse, fake_events
from textual.app import App, ComposeResult
from textual.content import Content
from textual.geometry import Offset
from textual.widgets import Label
from tui_helpers import HeldLoad, full_layouts, real_capture, wait_loaded

from pushscope.pipeline import Load, capture_file
from pushscope.tui import loading
from pushscope.tui.app import PushscopeApp
from pushscope.tui.loading import LoadSession
from pushscope.tui.widgets.detail import DetailPane
from pushscope.tui.widgets.summary import LoadStatus


def _growing_snapshots() -> list[loading.CaptureUpdated]:
    posted: list[object] = []
    # A clock that never moves: a snapshot after every item.
    session = LoadSession(Load(lambda _cancel: fake_events(extra_requests=40), "shop.pcapng"), posted.append,
                          threading.Event(), analyser=fake_analyse, interval=0.0, clock=lambda: 0.0)
    session.run()
    return [message for message in posted if isinstance(message, loading.CaptureUpdated) and not message.final]


async def test_a_snapshot_lays_nothing_out_and_the_scrollbar_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    layouts = full_layouts(monkeypatch)
    # Two snapshots whose connections and diagnostics are the same (a new line in the sidebar or among the
    # diagnostics is a layout of its own): more rows, times, counts.
    snapshots = _growing_snapshots()
    second = snapshots[-1]
    first = next(message for message in snapshots if len(message.view.rows) > 30
                 and message.view.diagnostics == second.view.diagnostics
                 and len(message.view.connections) == len(second.view.connections))
    assert len(first.view.rows) < len(second.view.rows)
    second.connection_changes = tuple(info for info in second.connection_changes if info not in first.view.connections)
    held = HeldLoad()
    app = PushscopeApp(Load(held, "shop.pcapng"), analyser=fake_analyse)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.post_message(first)
        for _ in range(5):
            await pilot.pause()
        waterfall = app.waterfall
        assert waterfall.show_vertical_scrollbar  # more rows than lines
        layouts.clear()
        app.post_message(second)
        for _ in range(5):
            await pilot.pause()
        assert waterfall.rows == second.shown.rows
        assert layouts == []
        rows = len(second.shown.rows)
        assert waterfall.virtual_size.height == rows + 1
        assert waterfall.vertical_scrollbar.window_virtual_size == rows + 1
        assert waterfall.max_scroll_y == rows + 1 - waterfall.scrollable_content_region.height
        held.released.set()


async def test_the_progress_line_says_everything_in_a_width_of_its_own() -> None:
    app = PushscopeApp(Load(HeldLoad(), "shop.pcapng"), analyser=fake_analyse)
    async with app.run_test(size=(120, 30)) as pilot:
        status = app.query_one(LoadStatus)
        label = status.query_one("#load-label", Label)
        status.show_progress(1_000, 10_000_000, "")
        await pilot.pause()
        width, short = label.size.width, str(label.render())
        status.show_progress(9_000_000, 10_000_000, "tshark reading")
        await pilot.pause()
        assert label.size.width == width  # the stylesheet's, whatever the text
        assert short.startswith("Loading") and "8.6 MiB of 9.5 MiB · tshark reading" in str(label.render())
        app.exit()


async def test_a_cursor_key_lays_nothing_out_and_the_detail_pane_keeps_its_text(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The detail pane is drawn line by line: a row's details set its scrollable height in place (a ``Static`` in
    a scrolling container laid the whole screen out twice a key), and its text can still be selected."""
    layouts = full_layouts(monkeypatch)
    pcap, keys = real_capture("nginx-second-connection")
    app = PushscopeApp(capture_file(pcap, keys))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_loaded(pilot)
        for _ in range(3):
            await pilot.pause()
        detail = app.detail
        heights, laid_out = set(), []
        layouts.clear()
        for _ in range(6):
            await pilot.press("down")
            await pilot.pause()
            await pilot.pause()
            laid_out.append(len(layouts))
            heights.add(detail.virtual_size.height)
        assert len(heights) > 1  # (rows whose details differ in height)
        assert laid_out == [0] * 6
        for _ in range(6):
            await pilot.press("up")
            await pilot.pause()
            await pilot.pause()
            lines = detail._wrapped()
            assert detail.virtual_size.height == len(lines) == len(detail.content.wrap(detail._width))
            assert detail.max_scroll_y == max(len(lines) - detail.scrollable_content_region.height, 0)
        # The text can be selected (Textual's selection reads the pane's content).
        await pilot.mouse_down(detail, offset=Offset(2, 1))
        await pilot.hover(detail, offset=Offset(30, 3))
        await pilot.mouse_up(detail, offset=Offset(30, 3))
        await pilot.pause()
        selected = app.screen.get_selected_text()
        assert selected and selected.splitlines()[1] in detail.content.plain


class DetailPaneApp(App[None]):
    CSS = "DetailPane { height: 10; width: 40; }"

    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


async def test_the_detail_pane_scrolls_over_every_line_when_its_scrollbar_narrows_it() -> None:
    """Lines as wide as the pane wrap once its scrollbar takes a column: the scrollable height follows the new
    wrapping (every line can be scrolled to), and the pane never gets a horizontal scrollbar."""
    app = DetailPaneApp()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(DetailPane)
        for content in (Content("short"), Content("\n".join("x" * 39 + str(i % 10) for i in range(12))),
                        Content("short again")):
            pane.show(content)
            for _ in range(3):
                await pilot.pause()
            region = pane.scrollable_content_region
            wrapped = content.wrap(region.width)
            assert pane.virtual_size.height == len(wrapped) == len(pane._wrapped())
            assert pane.max_scroll_y == max(len(wrapped) - region.height, 0)
            assert not pane.show_horizontal_scrollbar
        assert len(Content("x" * 39 + "0").wrap(region.width)) == 1  # (the short one: no scrollbar, no wrapping)
