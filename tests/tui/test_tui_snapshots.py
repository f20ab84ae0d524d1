"""Snapshot tests (pytest-textual-snapshot) of the inspector's main states, on the synthetic capture.

The synthetic capture has fixed times and verdicts, and each state is taken after loading finished with
notifications cleared, so the SVGs are deterministic. Regenerate with ``pytest tests/tui --snapshot-update``
after checking the change is intended.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from textual.pilot import Pilot
from tui_helpers import fake_app, wait_loaded

SIZE = (120, 36)


def after_load(keys: Iterable[str] = (), theme: str | None = None) -> Callable[[Pilot], Awaitable[None]]:
    async def run_before(pilot: Pilot) -> None:
        if theme is not None:
            pilot.app.theme = theme
        await wait_loaded(pilot)
        if keys:
            await pilot.press(*keys)
        await pilot.pause()
        await pilot.pause(0.1)  # on a busy machine, the last key's messages (Input.Changed) may still be queued
        await pilot.pause()

    return run_before


def test_main_screen(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load())


def test_wasted_push_selected(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["down"] * 3))


def test_cache_duplicated_push_selected(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["down"] * 7))


def test_filtered_pushes_only_without_used(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["p", "1"]))


def test_search(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["slash", *"css"]))


def test_zoomed(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["down", "plus", "plus"]))


def test_help_screen(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["question_mark"]))


def test_light_theme(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=after_load(["down"] * 3, theme="textual-light"))


def test_verdict_above_the_fold_80x24(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=(80, 24), run_before=after_load(["down"] * 3))


def test_large_200x50(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=(200, 50), run_before=after_load(["down"] * 3))


def test_verdict_above_the_fold_160x45(snap_compare) -> None:
    assert snap_compare(fake_app(), terminal_size=(160, 45), run_before=after_load(["down"] * 3))


def test_collapsed_gap_between_page_loads(snap_compare) -> None:
    assert snap_compare(fake_app(later_load_at=600.0), terminal_size=SIZE, run_before=after_load(["down"] * 3))
