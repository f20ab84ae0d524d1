"""Pilot tests: the inspector driven by keys and clicks, on the synthetic capture and on real ones."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Input, Static
from tui_helpers import detail_text, fake_app, real_capture, row_paths, text_of, wait_loaded

from pushscope.pipeline import capture_file
from pushscope.tui.app import PushscopeApp
from pushscope.tui.screens import DiagnosticsScreen, ExportScreen, HelpScreen
from pushscope.tui.widgets.connections import ConnectionsTree


async def test_loading_completes_and_shows_rows() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        assert not app.loading and not app.load_status.display
        assert row_paths(app)[:3] == ["/index.html", "/style.css", "/app.js"]
        assert len(app.waterfall.rows) == 9
        summary = text_of(app.summary_bar).replace("\u00a0", " ")
        assert "6 pushes" in summary and "✘wasted 2" in summary and "◆cache-dup 1" in summary
        tree = app.query_one(ConnectionsTree)
        labels = [str(node.label) for node in tree.root.children]
        assert labels[0].startswith("t0 h2 shop.example") and "✔2" in labels[0] and "✘2" in labels[0]
        assert labels[1].startswith("q1 h3") and "◆1" in labels[1]


async def test_waterfall_fills_in_while_loading() -> None:
    app = fake_app(extra_requests=60, delay=0.003)
    seen: list[int] = []
    async with app.run_test(size=(100, 30)) as pilot:
        while app.loading:
            seen.append(len(app.view.rows))
            await pilot.pause(0.1)
        await wait_loaded(pilot)
    partial = [n for n in seen if 0 < n < 69]
    assert partial, f"no intermediate snapshot: {seen}"


async def test_selection_shows_detail_with_verdict_evidence_and_redaction() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        text = detail_text(app)
        assert "GET https://shop.example/index.html" in text
        assert "Pushes promised on this stream (4)" in text
        assert "cookie: [redacted]" in text and "secret" not in text
        assert "set-cookie: [redacted]" in text
        await pilot.press("down", "down", "down")  # /unused.js
        assert app.waterfall.selected.path == "/unused.js"
        text = detail_text(app)
        assert "✘ wasted — never referenced by the page" in text
        assert "Evidence" in text and "not-referenced" in text and "+40.0 ms" in text
        assert "wasted 15.0 KiB" in text and "Remove the push of /unused.js." in text
        assert "PUSH_PROMISE" in text and "DATA" in text
        await pilot.press("down")  # /logo.png was reset by the client
        assert "RST_STREAM CANCEL by the client" in detail_text(app)


async def test_click_selects_a_row() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        # Line 0 of the waterfall's content is the axis; the waterfall has a 1-line top border.
        await pilot.click("#waterfall", offset=(10, 1 + 1 + 7))
        assert app.waterfall.selected.path == "/style.css"
        assert app.waterfall.selected.connection_id == "q1"
        assert "◆ cache-duplicated" in detail_text(app)


async def test_outcome_protocol_and_pushes_only_filters() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("p")
        assert "/api/cart.json" not in row_paths(app)
        await pilot.press("1", "4")  # hide used and unknown
        assert row_paths(app) == ["/index.html", "/unused.js", "/logo.png", "/index.html", "/style.css"]
        assert "hiding ✔used ?unknown" in str(app.waterfall.border_title)
        await pilot.press("h")  # h2 only
        assert row_paths(app) == ["/index.html", "/unused.js", "/logo.png"]
        await pilot.press("h", "h")  # h3, then back to all protocols (only h2 and h3 are present)
        await pilot.press("0")
        assert len(app.waterfall.rows) == 9


async def test_choosing_a_connection_filters_the_waterfall() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        tree = app.query_one(ConnectionsTree)
        tree.focus()
        tree.select_node(tree.root.children[1])
        await pilot.pause()
        assert {row.connection_id for row in app.waterfall.rows} == {"q1"}
        assert "connection q1" in str(app.waterfall.border_title)
        tree.select_node(tree.root)
        await pilot.pause()
        assert len(app.waterfall.rows) == 9


async def test_search_filters_urls_and_escape_clears() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash")
        search = app.query_one("#search", Input)
        assert search.display and search.has_focus
        await pilot.press(*"unused")
        assert row_paths(app) == ["/index.html", "/unused.js"]
        await pilot.press("enter")
        assert app.waterfall.has_focus and row_paths(app) == ["/index.html", "/unused.js"]
        await pilot.press("escape")
        assert not search.display and len(app.waterfall.rows) == 9


async def test_zoom_and_pan_move_the_time_axis() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        fitted = app.waterfall.window
        await pilot.press("plus")
        assert app.waterfall.window.span == pytest.approx(fitted.span / 2)
        assert "zoomed" in str(app.waterfall.border_subtitle)
        before = app.waterfall.window.start
        await pilot.press("right_square_bracket")
        assert app.waterfall.window.start > before
        await pilot.press("minus", "f")
        assert app.waterfall.window == fitted


async def test_export_writes_a_report(tmp_path: Path) -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        path_input = app.screen.query_one("#export-path", Input)
        assert path_input.value.endswith("shop.json")
        target = tmp_path / "report.json"
        path_input.value = str(target)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        report = json.loads(target.read_text())
        assert report["summary"]["pushes"] == 6 and report["name"] == "shop.pcapng"
        assert any(str(target) in n.message for n in app._notifications)
        # A bad path is a message, not a crash.
        await pilot.press("e")
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "no" / "such" / "dir.json")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(n.severity == "error" and "Export failed" in n.message for n in app._notifications)


async def test_export_writes_the_filtered_view(tmp_path: Path) -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("p")  # pushes only (their parents stay)
        await pilot.pause()
        shown = {row.url for row in app.waterfall.rows}
        assert 0 < len(shown) < len(app.capture.exchanges)
        await pilot.press("e")
        target = tmp_path / "view.json"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = json.loads(target.read_text())
        assert {e["url"] for e in report["exchanges"]} == shown
        assert report["summary"]["pushes"] == 6 and report["name"].endswith("(filtered view)")
        assert all(report["exchanges"][p["exchange"]]["url"] == p["url"] for p in report["pushes"])


async def test_missing_capture_shows_a_message_and_does_not_crash(tmp_path: Path) -> None:
    app = PushscopeApp(capture_file(str(tmp_path / "missing.pcapng")))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, clear_notifications=False)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "does not exist" in errors[0].message
        assert "does not exist" in text_of(app.diagnostics_panel.query_one("#diagnostics-body", Static))
        assert "does not exist" in detail_text(app)  # also visible when the sidebar is hidden (80 columns)
        assert not app.waterfall.rows
        await pilot.press("d")
        assert isinstance(app.screen, DiagnosticsScreen)
        await pilot.press("escape")
        await pilot.press("down", "plus", "p", "e")  # nothing to act on: still no crash
        assert app.is_running


async def test_not_a_capture_and_a_wrong_key_log(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcapng"
    bogus.write_text("this is not a capture\n")
    app = PushscopeApp(capture_file(str(bogus), str(bogus)))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_loaded(pilot, clear_notifications=False)
        messages = " ".join(d.message for d in app.view.diagnostics)
        assert "not an NSS key log" in messages and "not a capture file" in messages
        assert app.is_running


async def test_cancel_loading_keeps_what_was_read() -> None:
    app = fake_app(extra_requests=2000, delay=0.002)
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.view.rows:
            await pilot.pause(0.05)
        assert app.loading and app.load_status.display
        await pilot.press("escape")
        await asyncio.wait_for(app.load_finished.wait(), 10)
        await pilot.pause()
        assert app.cancelled and not app.loading
        assert any(d.code == "cancelled" for d in app.view.diagnostics)
        assert 0 < len(app.waterfall.rows) < 2009
        assert any(n.severity == "warning" and "cancelled" in n.message for n in app._notifications)
        await pilot.press("down")  # still usable
        assert app.is_running


async def test_ctrl_c_quits_even_mid_load_and_from_the_search() -> None:
    app = fake_app(extra_requests=2000, delay=0.002)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    app = fake_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash", "x", "ctrl+c")
        await pilot.pause()
        assert not app.is_running


async def test_help_screen_lists_keys_and_legend() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app.screen.query_one("#help-keys", Static))
        legend = text_of(app.screen.query_one("#help-legend", Static))
        assert "Search URLs" in keys and "Export a report" in keys and "Zoom in" in keys
        assert "✘ wasted" in legend and "◆ cache-duplicated" in legend and "PUSH_PROMISE" in legend
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_every_action_is_in_the_command_palette() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for binding in app.BINDINGS:
            assert binding.tooltip in titles, binding.action
        assert "Show connection q1 h3 shop.example" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


async def test_narrow_terminal_hides_then_shows_the_sidebar() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        assert not app.sidebar.display and app.waterfall.size.width >= 78
        assert app.waterfall.size.height >= 8  # axis + every synthetic row fits
        await pilot.press("s")
        assert app.sidebar.display
        await pilot.press("s")
        assert not app.sidebar.display


async def test_thousands_of_exchanges_load_and_scroll() -> None:
    app = fake_app(extra_requests=5000)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        assert len(app.waterfall.rows) == 5009
        await pilot.press("end")
        assert app.waterfall.selected.path == "/img/item-04999.webp"  # rows are in start order
        assert app.waterfall.scroll_offset.y > 4900


async def test_real_capture_nginx_push_basic() -> None:
    pcap, keys = real_capture("nginx-push-basic")
    app = PushscopeApp(capture_file(pcap, keys))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        rows = app.waterfall.rows
        pushed = [r for r in rows if r.pushed]
        assert {r.path for r in pushed} >= {"/style.css", "/app.js", "/unused.js"}
        parent = rows[rows.index(pushed[0]) - 1]
        assert not parent.pushed and pushed[0].parent_exchange_id == parent.exchange_id
        assert not any(d.level == "error" for d in app.view.diagnostics)
        await pilot.press("p")
        assert all(r.pushed or r.exchange_id == parent.exchange_id for r in app.waterfall.rows)


async def test_quitting_mid_load_stops_the_loader() -> None:
    app = fake_app(extra_requests=5000, delay=0.002)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert app.loading
        await pilot.press("q")
    assert app._cancel.is_set()


async def test_a_big_view_is_filtered_off_the_ui_thread_and_only_the_latest_request_is_shown() -> None:
    """Over ``background_filter_rows`` rows (here: any), a filter key or a search character is answered at once and
    the rows follow from a worker thread; rows asked for and overtaken by a later request are never shown."""
    import threading

    import pushscope.tui.app as app_module
    import pushscope.tui.filtering as filtering_module

    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        app.background_filter_rows = 0
        made_on: list[bool] = []
        shown: list[tuple[str, ...]] = []
        row_set, show_rows = app_module.row_set, app._show_rows

        def watched_row_set(*args, **kwargs):
            made_on.append(threading.current_thread() is threading.main_thread())
            return row_set(*args, **kwargs)

        def watched_show_rows(rows, **kwargs):
            shown.append(tuple(row.path for row in rows.rows))
            show_rows(rows, **kwargs)

        app_module.row_set = filtering_module.row_set = watched_row_set  # (the UI thread's and the worker's)
        app._show_rows = watched_show_rows
        try:
            app.action_pushes_only()  # as the key p does, seen before the worker can answer
            assert app.filtering and "filtering…" in str(app.waterfall.border_title)
            while app.filtering:
                await pilot.pause(0.01)
            assert "/api/cart.json" not in row_paths(app) and len(app.waterfall.rows) < 9
            assert "filtering…" not in str(app.waterfall.border_title)
            assert made_on and not any(made_on)  # never on the UI thread
            shown.clear()
            # Two requests in one turn of the UI: the first one's rows, overtaken, are never shown.
            app.action_toggle_outcome("wasted")
            app.action_toggle_outcome("used")
            while app.filtering:
                await pilot.pause(0.01)
            assert len(shown) == 1 and "/unused.js" not in shown[0]
            assert list(shown[0]) == row_paths(app)
            await pilot.press("0")
            while app.filtering:
                await pilot.pause(0.01)
            assert len(app.waterfall.rows) == 9
        finally:
            app_module.row_set = filtering_module.row_set = row_set
