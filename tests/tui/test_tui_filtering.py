"""A big view's filter changes made off the UI thread: only the latest change is made, and rows made for a change
that was overtaken are never current."""

from __future__ import annotations

import sys

from test_tui_view import _capture

from pushscope.tui.filtering import BackgroundFiltering, RowsFiltered
from pushscope.tui.sharing import QuickTurns
from pushscope.tui.view import FilterState, build_view


def test_only_the_latest_change_is_made_and_overtaken_rows_are_not_current() -> None:
    view = build_view(_capture())
    posted: list[RowsFiltered] = []
    filtering = BackgroundFiltering(posted.append, QuickTurns(0.001))
    assert not filtering.pending
    assert filtering.ask(view, FilterState(pushes_only=True), "start", False)  # a thread is to be started
    assert not filtering.ask(view, FilterState(search="unused"), "start", True)  # the same thread takes it
    assert filtering.pending
    switch = sys.getswitchinterval()
    filtering.run()
    assert sys.getswitchinterval() == switch
    (made,) = posted  # the first change, overtaken before the thread took it, was never made
    assert made.refit and [row.path for row in made.shown.rows] == ["/index.html", "/unused.js"]
    assert filtering.current(made)
    filtering.rows_shown()  # e.g. a snapshot's rows, shown before these
    assert not filtering.current(made) and not filtering.pending
    assert filtering.ask(view, FilterState(), "size", False)  # the thread ended: a new one is to be started
