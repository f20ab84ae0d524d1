"""Pilot tests for reading any capture: no freeze, fit and zoom, collapsed gaps, page loads, sort, search, copy,
and capture text that is never markup nor a control sequence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import TextArea
from tui_helpers import detail_text, fake_app, row_paths, wait_loaded

from pushscope.tui.screens import CopyScreen
from pushscope.tui.timeaxis import BREAK

HERE = Path(__file__).parent


def test_export_toast_then_ctrl_p_never_freezes(tmp_path: Path) -> None:
    # In a child process: a frozen event loop could not time itself out. Typically 5-10 s; a freeze never ends.
    result = subprocess.run([sys.executable, str(HERE / "freeze_sequence.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "responsive /style.css quit" in result.stdout
    assert (tmp_path / "shop.json").exists()


def test_timer_guard_is_installed_by_the_app() -> None:
    from textual.timer import Timer

    from pushscope.tui import timer_guard

    class Target:
        pass

    fake_app()
    assert timer_guard.installed()
    assert Timer(Target(), -0.5)._interval == timer_guard.MIN_INTERVAL  # type: ignore[arg-type]
    assert Timer(Target(), 0.25)._interval == 0.25  # type: ignore[arg-type]


async def test_fit_fits_what_the_filters_show_and_never_goes_negative() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        waterfall = app.waterfall
        everything = waterfall.window
        assert everything.start >= 0
        assert "-" not in waterfall.render_line(0).text.split("│", 1)[1]
        await pilot.press("plus", "plus", "h", "h")  # zoomed, then h3 only: the zoom stays until f
        assert not waterfall.is_fitted
        await pilot.press("f")
        fitted = waterfall.window
        h3_starts = [r.start for r in waterfall.rows]
        assert fitted.span < everything.span / 2
        assert fitted.start <= min(h3_starts) and fitted.start > 0.15
        await pilot.press(*["left_square_bracket"] * 20)
        assert waterfall.window.start == 0.0


async def test_zoom_to_the_selected_row_and_its_connection() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("down", "down", "down", "z")  # /unused.js: promised 21 ms, done 48 ms
        row = app.waterfall.selected
        window = app.waterfall.window
        assert row.path == "/unused.js"
        assert window.start <= row.start and row.end <= window.end and window.span < 0.04
        await pilot.press("Z")  # its connection, t0: 10 ms .. 90 ms
        window = app.waterfall.window
        assert window.start <= 0.010 and window.end >= 0.090 and window.span < 0.1
        await pilot.press("f")
        assert app.waterfall.is_fitted


async def test_idle_gap_collapses_and_each_page_load_shows_on_its_own() -> None:
    app = fake_app(later_load_at=600.0)  # a second page load ten minutes later
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_loaded(pilot)
        waterfall = app.waterfall
        assert waterfall.scale.collapses and len(app.view.loads) == 2
        axis = waterfall.render_line(0).text
        assert BREAK in axis and "600" in axis.replace("\u00a0", "")
        first_load = waterfall.render_line(1).text
        assert "█" in first_load or "░" in first_load  # not squeezed into a sliver by ten idle minutes
        await pilot.press("g")  # gaps shown: the first load's bars shrink to a cell or so
        assert not waterfall.scale.collapses and BREAK not in waterfall.render_line(0).text
        await pilot.press("g", "l")
        assert {r.connection_id for r in waterfall.rows} == {"t0", "q1"}
        assert "load 1: /index.html" in str(waterfall.border_title)
        await pilot.press("l")
        assert {r.connection_id for r in waterfall.rows} == {"t2"}
        assert waterfall.window.start > 0 and waterfall.window.span < 1.0
        await pilot.press("0")
        assert len(waterfall.rows) == 12


async def test_sort_by_duration_size_and_outcome() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("o")
        rows = app.waterfall.rows
        assert app.sort == "duration" and rows[0].duration == max(r.duration for r in rows)
        await pilot.press("o")
        assert [r.body_bytes for r in app.waterfall.rows][:2] == [30000, 15360]
        await pilot.press("o")
        assert app.waterfall.rows[0].outcome == "wasted" and "by outcome" in str(app.waterfall.border_title)
        await pilot.press("o")
        assert row_paths(app)[:2] == ["/index.html", "/style.css"]


async def test_search_covers_header_values() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash", *"font/woff2")
        assert "/font.woff2" in row_paths(app)
        assert "/style.css" not in row_paths(app)
        await pilot.press("escape")
        await pilot.press("slash", *"secret")  # redacted values are not searchable
        assert row_paths(app) == []


async def test_copy_url_and_verdict() -> None:
    app = fake_app()
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("down", "down", "down", "y")
        assert copied == ["https://shop.example/unused.js"]
        assert isinstance(app.screen, CopyScreen)
        assert app.screen.query_one(TextArea).text == copied[0]  # shown for selection too
        await pilot.press("escape", "v")
        assert copied[1].startswith("wasted — never referenced by the page")
        await pilot.press("escape", "home", "v")  # a request has no verdict: said, nothing copied
        assert len(copied) == 2 and not isinstance(app.screen, CopyScreen)


async def test_capture_text_is_never_markup_nor_a_control_sequence() -> None:
    app = fake_app(later_load_at=1.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_loaded(pilot)
        paths = row_paths(app)
        assert "/[bold red]x[/]" in paths  # shown as written, brackets and all
        assert "/osc\\x1b]52;c;cHduZWQ=\\x07" in paths  # ESC and BEL shown, never sent
        app.waterfall.select_exchange(next(r.exchange_id for r in app.waterfall.rows if "bold" in r.path))
        await pilot.pause()
        text = detail_text(app)
        assert "/[bold red]x[/]" in text and "never referenced by /next.html: /[bold red]x[/]" in text
        app.waterfall.select_exchange(next(r.exchange_id for r in app.waterfall.rows if r.path == "/next.html"))
        await pilot.pause()
        assert "x-note: [link=https://evil.example]y[/link]" in detail_text(app)
        for y in range(len(app.waterfall.rows) + 1):
            assert "\x1b" not in app.waterfall.render_line(y).text
        assert "\x1b" not in detail_text(app)


async def test_verdict_reason_and_cost_come_first() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("down", "down", "down")
        lines = detail_text(app).splitlines()
        assert lines[0] == "✘ wasted — never referenced by the page"
        assert lines[1].startswith("  cost 15.") and "wasted" in lines[1] and "delay added 4.0 ms" in lines[1]
        assert lines[2].startswith("GET https://shop.example/unused.js")
        headers_at = lines.index("Promised request headers")
        assert headers_at > lines.index("Evidence")


async def test_header_counts_and_connection_ids() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        from tui_helpers import text_of

        summary = text_of(app.summary_bar).replace("\u00a0", " ")
        assert summary.startswith("3 requests · 6 pushes:")
        from pushscope.tui.commands import palette_commands

        titles = [c.title for c in palette_commands(app)]
        assert any(t.startswith("Show connection t0 h2") for t in titles)
        assert any(t.startswith("Show connection q1 h3") for t in titles)


async def test_real_capture_two_page_loads_one_at_a_time() -> None:
    from tui_helpers import real_capture

    from pushscope.pipeline import capture_file
    from pushscope.tui.app import PushscopeApp

    pcap, keys = real_capture("nginx-second-connection")  # the page loaded twice, ~0.66 s apart
    app = PushscopeApp(capture_file(pcap, keys))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        assert len(app.view.loads) == 2 and app.waterfall.scale.collapses
        await pilot.press("l", "l")
        rows = app.waterfall.rows
        assert {r.connection_id for r in rows} == {"t1"} and rows[0].path == "/index.html"
        window = app.waterfall.window
        assert window.start > 0.5 and window.span < 0.05  # the second load fills the axis
        await pilot.press("0")
        assert len(app.waterfall.rows) == len(app.view.rows)


async def test_a_cut_tree_label_ends_in_an_ellipsis() -> None:
    from pushscope.tui.widgets.connections import ConnectionsTree

    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("s")  # the narrow sidebar
        tree = app.query_one(ConnectionsTree)
        texts = [tree.render_line(y).text.rstrip() for y in range(tree.size.height)]
        cut = [t for t in texts if t.endswith("…")]
        assert cut, texts
        assert all(len(t) <= tree.size.width for t in texts)


async def test_a_bulk_fill_of_the_connections_tree_lays_it_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reopen adds hundreds of connections at once: Textual's Tree invalidates its lines and asks for a layout
    after every node added (``Tree._invalidate``, private); the tree defers that to the end of its step. This fails
    if Tree drops or renames it (the fill would then pay it per node again) or if the deferred one is missed."""
    from textual.app import App, ComposeResult
    from textual.widgets import Tree

    from pushscope.tui.view import ConnectionInfo
    from pushscope.tui.widgets.connections import UNFOLDED_CONNECTIONS, ConnectionsTree

    calls: list[object] = []
    invalidate = Tree._invalidate
    monkeypatch.setattr(Tree, "_invalidate", lambda tree: (calls.append(tree), invalidate(tree))[1])
    infos = tuple(ConnectionInfo(id=f"c{i}", index=i, protocol="h2", transport="tls", server="127.0.0.1:8443",
                                 sni=f"host{i}.example", alpn="h2", tls_version="1.3", decrypted=True, requests=1,
                                 pushes_by_outcome={"used": i % 3}) for i in range(60))

    class TreeApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ConnectionsTree(id="connections")

    app = TreeApp()
    async with app.run_test(size=(80, 40)) as pilot:
        tree = app.query_one(ConnectionsTree)
        await pilot.pause()
        calls.clear()
        tree.update_connections("shop", infos, 80, 60, final=True)
        assert len(calls) == 1
        await pilot.pause()
        details = sum(len(tree._details(info)) for info in infos[:UNFOLDED_CONNECTIONS])
        assert tree.last_line + 1 == 1 + len(infos) + details + 1  # root, connections, unfolded details, the rest
        children = list(tree.root.children)
        assert [node.data for node in children[:-1]] == [("connection", info.id, None) for info in infos]
        assert "20 more connections" in str(children[-1].label)
        lines = [tree.render_line(y).text for y in range(tree.size.height)]
        assert "c0 h2 host0.example  no push" in lines[1] and "c1 h2 host1.example  ✔1" in lines[4]
