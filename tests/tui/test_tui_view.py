"""The inspector's pure parts: rows and their order, filters, the time axis, batching of load updates, export."""

from __future__ import annotations

import json
import threading
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from fake_capture import fake_analyse, fake_events

from pushscope.model.builder import CaptureBuilder
from pushscope.pipeline import Load
from pushscope.tui.export import available_formats, default_path, write_report
from pushscope.tui.loading import CaptureUpdated, LoadSession, SearchIndexed
from pushscope.tui.timeaxis import TimeWindow, axis_line, tick_step
from pushscope.tui.view import (
    SORTS,
    FilterState,
    ModelRows,
    build_view,
    exchange_ids_of,
    filter_rows,
    page_loads,
    protocols_of,
    row_set,
    rows_on_connection,
    search_texts,
)


def _capture(extra: int = 0, later_load_at: float | None = None):
    builder = CaptureBuilder("capture", "shop.pcapng")
    for item in fake_events(extra, later_load_at):
        if hasattr(item, "at") or type(item).__name__ == "Diagnostic":
            builder.apply(item)  # type: ignore[arg-type]
    return fake_analyse(builder.capture)


def test_pushes_sit_under_their_parent_request() -> None:
    view = build_view(_capture())
    paths = [(row.connection_id, row.depth, row.path) for row in view.rows]
    assert paths[:5] == [
        ("t0", 0, "/index.html"),
        ("t0", 1, "/style.css"),
        ("t0", 1, "/app.js"),
        ("t0", 1, "/unused.js"),
        ("t0", 1, "/logo.png"),
    ]
    # The HTTP/3 push (push ID, no promised stream) also lands under its parent on its own connection.
    h3 = [(row.depth, row.path, row.outcome) for row in view.rows if row.connection_id == "q1"]
    assert h3 == [(0, "/index.html", None), (1, "/style.css", "cache-duplicated"), (1, "/font.woff2", "unknown")]


def test_rows_carry_times_markers_and_wasted_bytes() -> None:
    view = build_view(_capture())
    unused = next(r for r in view.rows if r.path == "/unused.js")
    assert unused.outcome == "wasted" and unused.wasted_bytes > 0
    assert abs(unused.promised_at - 0.021) < 1e-6 and unused.start <= unused.response_start <= unused.end
    logo = next(r for r in view.rows if r.path == "/logo.png")
    assert logo.reset_at is not None and logo.end is None
    assert view.summary["pushes_by_outcome"] == {"used": 2, "wasted": 2, "cache-duplicated": 1, "unknown": 1}
    assert view.extent <= view.duration


def test_filters_keep_parents_of_kept_pushes() -> None:
    rows = build_view(_capture()).rows
    only_wasted = FilterState(outcomes=frozenset({"wasted"}), pushes_only=True)
    assert [r.path for r in filter_rows(rows, only_wasted)] == ["/index.html", "/unused.js", "/logo.png"]
    h3 = [r.path for r in filter_rows(rows, FilterState(protocol="h3"))]
    assert h3 == ["/index.html", "/style.css", "/font.woff2"]
    found = [r.path for r in filter_rows(rows, FilterState(search="UNUSED"))]
    assert found == ["/index.html", "/unused.js"]
    assert [r.path for r in filter_rows(rows, FilterState(connection_id="q1"))][0] == "/index.html"
    assert "hiding ✔used" in FilterState().toggle_outcome("used").describe()


def _plain_filter(rows, state: FilterState, texts=None) -> list:
    """The filters as they were written over a list of rows (each row kept): what ``filter_rows`` must equal."""
    if not state.active:
        return list(rows)
    needle = state.search.strip().lower()

    def matches(row) -> bool:
        if not needle or needle in row.path.lower():
            return True
        return texts.finder(needle)(row.exchange_id) if texts is not None else needle in row.url.lower()

    base = [r for r in rows
            if (state.connection_id is None or r.connection_id == state.connection_id)
            and (state.protocol is None or r.protocol == state.protocol)
            and (state.load is None or (r.start is not None and state.load.start <= r.start <= state.load.end))]
    kept_pushes = {r.exchange_id for r in base
                   if r.pushed and (r.outcome or "unknown") in state.outcomes and matches(r)}
    parents = {r.parent_exchange_id for r in base if r.exchange_id in kept_pushes}
    return [r for r in base if (r.exchange_id in kept_pushes if r.pushed else
                                r.exchange_id in parents or (not state.pushes_only and matches(r)))]


_SORT_KEYS = {
    "start": lambda r: 0,
    "duration": lambda r: -r.duration,
    "size": lambda r: -r.body_bytes,
    "outcome": lambda r: ({"wasted": 0, "cache-duplicated": 1, "unknown": 2, "used": 3}.get(
        r.outcome if r.pushed else None, 4), -r.wasted_bytes),
}


def test_model_rows_read_as_the_rows_they_stand_for() -> None:
    """A view's rows are made from the model as they are read: the same rows, filters, sorts, axis and page loads
    as the same rows held in a tuple (a view read from the cache), and as the filters written over a list."""
    capture = _capture(extra=3, later_load_at=30.0)
    view = build_view(capture)
    rows, texts = view.rows, search_texts(capture)
    assert isinstance(rows, ModelRows)
    held = tuple(rows)
    assert rows == held and held == rows and list(rows) == list(held) and len(rows) == len(held) > 10
    assert rows[1:4] == held[1:4] and rows[-1] == held[-1]
    assert [rows.index_of(r.exchange_id) for r in held] == list(range(len(held)))
    assert rows.index_of(10_000) is None and rows.subset([2, 0]).index_of(held[0].exchange_id) == 1
    assert exchange_ids_of(rows) == exchange_ids_of(held) == [r.exchange_id for r in held]
    assert protocols_of(rows) == protocols_of(held) == {"h2", "h3"}
    assert rows_on_connection(rows, "q1") == rows_on_connection(held, "q1") != []
    assert page_loads(rows) == page_loads(held) == view.loads and len(view.loads) == 2
    states = [FilterState(), FilterState(outcomes=frozenset({"wasted"}), pushes_only=True),
              FilterState(outcomes=frozenset({"used", "unknown"})), FilterState(protocol="h3"),
              FilterState(connection_id="t0", search="js"), FilterState(search="index"),
              FilterState(load=view.loads[-1]), FilterState(pushes_only=True, search="style"),
              FilterState(search="font/woff2")]
    for state in states:
        for search in (None, texts):
            expected = _plain_filter(held, state, search)
            assert filter_rows(rows, state, search) == filter_rows(held, state, search) == expected
            for sort in SORTS:
                made, plain = row_set(rows, state, sort, search), row_set(held, state, sort, search)
                assert made == plain
                assert list(made.rows) == sorted(expected, key=_SORT_KEYS[sort])


def test_a_snapshot_keeps_its_order_and_shows_its_exchanges_as_they_are_now() -> None:
    """The order, axis and page loads are the snapshot's; a row read later shows its exchange as the model has it
    then (a push judged since, an end seen since). Exchanges added after the snapshot are not among its rows."""
    capture = _capture()
    view = build_view(capture)
    order = exchange_ids_of(view.rows)
    push = next(p for p in capture.pushes if p.outcome == "used")
    push.outcome = "wasted"
    exchange = capture.exchanges[0]
    exchange.response_end = (exchange.response_end or 0.0) + 1.0
    capture.exchanges.append(replace(capture.exchanges[-1], id=len(capture.exchanges)))
    assert exchange_ids_of(view.rows) == order and len(view.rows) == len(order)
    now = {r.exchange_id: r for r in view.rows}
    assert now[push.exchange_id].outcome == "wasted"
    assert now[exchange.id].end == exchange.response_end - capture.started_at
    assert len(build_view(capture).rows) == len(order) + 1


def test_a_view_holds_no_row_object_per_exchange() -> None:
    """What a view keeps per row is a few numbers (a 22-field Row, its times and its URL were about 290 bytes)."""
    capture = _capture(extra=3000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        view = build_view(capture)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(view.rows) > 3000
    assert kept / len(view.rows) < 40, kept / len(view.rows)


def test_search_looks_in_header_values_once_they_are_indexed() -> None:
    capture = _capture()
    rows, texts = build_view(capture).rows, search_texts(capture)
    assert set(texts) == {e.id for e in capture.exchanges}
    by_type = FilterState(search="font/woff2")  # a content-type: in no URL
    assert [r.path for r in filter_rows(rows, by_type)] == []  # before the index: URLs only
    assert "/font.woff2" in [r.path for r in filter_rows(rows, by_type, texts)]
    assert filter_rows(rows, FilterState(search="secret"), texts) == []  # redacted values are not searchable
    assert filter_rows(rows, FilterState(search="x0a"), texts) == []  # nor the escape of a line break
    assert row_set(rows, by_type, "start", texts).rows == tuple(filter_rows(rows, by_type, texts))


def test_time_window_zoom_pan_and_ticks() -> None:
    window = TimeWindow.fit(0.1)
    assert window.start == 0 and 0.1 < window.end  # never before the capture start: no negative ticks
    zoomed = window.zoom(0.5, centre=0.05)
    assert abs(zoomed.span - window.span / 2) < 1e-12 and zoomed.start < 0.05 < zoomed.end
    assert zoomed.pan(0.25, 0.1).start > zoomed.start
    assert window.pan(-10, 0.1).start == 0.0  # never before the capture start
    assert window.zoom(4, centre=0.0).start == 0.0
    assert tick_step(1.0, 100) in (0.1, 0.2, 0.25)
    line = axis_line(TimeWindow(0, 0.3), 60)
    assert len(line) == 60 and line.startswith("┆0") and "100ms" in line


def test_load_session_batches_updates_and_finishes() -> None:
    posted: list = []
    ticks = iter(float(i) * 0.1 for i in range(10_000))
    session = LoadSession(Load(lambda cancel: fake_events(20), "shop.pcapng"), posted.append, threading.Event(),
                          analyser=fake_analyse, interval=0.25, clock=lambda: next(ticks))
    capture = session.run()
    *updates, indexed = posted
    assert isinstance(indexed, SearchIndexed) and len(indexed.texts) == len(capture.exchanges)
    assert updates[-1].final and not updates[-1].cancelled
    assert not any(update.final for update in updates[:-1])
    assert 1 < len(updates) < 100  # batched, not one message per event
    assert len(updates[-1].view.rows) == len(capture.exchanges) == 9 + 20
    listed = [info.id for update in updates for info in update.connection_changes]
    assert sorted(set(listed)) == sorted(capture.connections)  # each connection sent when new or changed
    assert updates[-1].shown is not None and updates[-1].shown.rows == updates[-1].view.rows


def test_load_session_posts_the_first_exchange_at_once() -> None:
    """The first rows do not wait for the interval: the first snapshot with an exchange goes out as soon as it
    exists, the next ones when the interval has passed (here it never does before the end)."""
    posted: list = []
    session = LoadSession(Load(lambda cancel: fake_events(20), "shop.pcapng"), posted.append, threading.Event(),
                          analyser=fake_analyse, interval=0.25, clock=lambda: 0.0)
    session.run()
    updates = [message for message in posted if isinstance(message, CaptureUpdated)]
    assert [len(update.view.rows) for update in updates[:-1]] == [1]
    assert updates[-1].final and len(updates[-1].view.rows) == 29


def test_load_session_cancel_and_broken_source() -> None:
    cancel = threading.Event()
    posted: list = []

    def reader(event: threading.Event):
        for n, item in enumerate(fake_events()):
            if n == 5:
                cancel.set()
            yield item

    LoadSession(Load(reader, "x"), posted.append, cancel, analyser=fake_analyse).run()
    final = posted[-2]
    assert isinstance(final, CaptureUpdated) and final.final and final.cancelled
    assert any(d.code == "cancelled" for d in final.view.diagnostics)

    def broken(event: threading.Event):
        yield from list(fake_events())[:10]
        raise RuntimeError("tshark exploded")

    posted.clear()
    LoadSession(Load(broken, "x"), posted.append, threading.Event(), analyser=fake_analyse).run()
    assert any("tshark exploded" in d.message for d in posted[-2].view.diagnostics)


def test_export_writes_json_named_after_the_capture(tmp_path: Path) -> None:
    assert "json" in available_formats()
    path = default_path("nginx-push-basic.pcapng", "json", tmp_path)
    assert path == tmp_path / "nginx-push-basic.json"
    written = write_report(_capture(), "json", path)
    report = json.loads(written.read_text())
    assert report["summary"]["pushes"] == 6
    cookies = [v for ex in report["exchanges"] for k, v in ex["request_headers"] if k == "cookie"]
    assert cookies == ["[redacted]"]


def test_every_offered_format_writes_a_file(tmp_path: Path) -> None:
    capture = _capture()
    for fmt in available_formats():
        if fmt == "png":  # seconds to render; the export tests cover it, and the TUI writes it in a thread
            continue
        path = write_report(capture, fmt, default_path("shop.pcapng", fmt, tmp_path))
        assert path.stat().st_size > 0, fmt


def test_the_export_is_streamed_and_writes_what_the_report_renders(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pushscope.export.formats import render_report
    from pushscope.tui import export

    capture = _capture()
    written: list[object] = []
    real_write = export.write_output
    monkeypatch.setattr(export, "write_output", lambda data, *a, **k: (written.append(data), real_write(data, *a, **k)))
    for fmt in ("json", "har", "qlog", "html"):
        path = write_report(capture, fmt, default_path("shop.pcapng", fmt, tmp_path))
        assert not isinstance(written[-1], (str, bytes)), fmt  # pieces, never the whole document at once
        assert path.read_text() == render_report(capture, fmt, redact=True), fmt


def test_the_view_knows_whether_a_probe_made_the_capture_and_the_detail_pane_asks_it_not_the_pushes() -> None:
    from pushscope.model.entities import PushTruth
    from pushscope.tui.widgets.detail import exchange_content

    capture = _capture()
    view = build_view(capture)
    assert view.probed is capture.probed is False
    push_row = next(row for row in view.rows if row.pushed)
    assert "no record of this push" not in exchange_content(capture, push_row, probed=False).plain
    # The flag it is handed decides: the pane never makes its own pass over every push.
    assert "no record of this push" in exchange_content(capture, push_row, probed=True).plain
    other = next(p for p in capture.pushes if p.id != push_row.push_index)
    other.truth = PushTruth(other.connection_id, "cold", other.url, other.promised_stream_id, other.push_id,
                            other.promised_at, "used", "claimed")
    assert capture.probed and build_view(capture).probed
    assert "no record of this push" in exchange_content(capture, push_row).plain  # (not handed: asks the capture)


def test_the_final_view_and_search_texts_are_built_with_the_collector_paused(monkeypatch) -> None:
    """Built after the load, with the collector on, their hundreds of thousands of objects set off full
    collections that held the GIL for up to a second at a gigabyte: the UI's keys waited."""
    import gc

    import pushscope.tui.loading as loading

    seen: dict[str, list[bool]] = {"view": [], "texts": []}
    build, texts = loading.build_view, loading.search_texts

    def watched_build(*args, **kwargs):
        seen["view"].append(gc.isenabled())
        return build(*args, **kwargs)

    def watched_texts(*args, **kwargs):
        seen["texts"].append(gc.isenabled())
        return texts(*args, **kwargs)

    monkeypatch.setattr(loading, "build_view", watched_build)
    monkeypatch.setattr(loading, "search_texts", watched_texts)
    assert gc.isenabled()
    posted: list = []
    LoadSession(Load(lambda cancel: fake_events(20), "shop.pcapng"), posted.append, threading.Event(),
                analyser=fake_analyse).run()
    assert seen["view"] and seen["texts"] and not any(seen["view"]) and not any(seen["texts"])
    assert gc.isenabled()  # and on again afterwards


def test_the_detail_pane_lists_the_start_and_end_of_a_long_frame_log_not_all_of_it() -> None:
    """A big download is tens of thousands of DATA frames: listed whole, each key that showed it took seconds."""
    from pushscope.tui.fmt import fmt_bytes
    from pushscope.tui.widgets.detail import FRAMES_FIRST, FRAMES_LAST, exchange_content

    capture = _capture()
    row = build_view(capture).rows[0]
    frames = capture.exchange(row.exchange_id).frames
    before = len(frames)
    count = 10_000
    for i in range(count):
        frames.add(5.0 + i / 1000, "server", 0, 1000 + i, (), row.stream_id)
    text = exchange_content(capture, row, probed=False).plain
    listed = [line for line in text.splitlines() if line.rstrip().endswith(("KiB", " B")) and "DATA" in line]
    assert len(listed) == FRAMES_FIRST + FRAMES_LAST - before
    total = before + count
    assert f"{total - FRAMES_FIRST - FRAMES_LAST:,} frames not listed here" in text
    # The end is there: the last frame's size is the last listed, the first DATA frame's the first.
    assert fmt_bytes(1000 + count - 1) in listed[-1] and fmt_bytes(1000) in listed[0]


def test_rows_show_each_exchange_s_own_content_type() -> None:
    capture = _capture(extra=300)
    for i, exchange in enumerate(capture.exchanges):  # a flood of content types, each new
        exchange.response_headers = [(":status", "200"), ("content-type", f"x/{i}")]
    rows = build_view(capture).rows
    assert sorted(row.content_type for row in rows) == sorted(f"x/{i}" for i in range(len(rows)))


def test_the_spans_pass_reads_each_row_as_row_last_does() -> None:
    """``row_spans`` reads each row as ``Row.last`` does (both through ``rows._last``): every combination of missing
    moments, each row alone and all of them together, gives the spans of (start, last moment shown); and the last
    moment is the end, else the reset, else the first byte, else the start, whichever is set, even at 0.0."""
    from itertools import product

    from pushscope.timescale import activity_spans
    from pushscope.tui.rows import row_spans

    base = build_view(_capture()).rows[0]
    rows = [base._replace(start=start, response_start=first, end=end, reset_at=reset)
            for start, first, end, reset in product((None, 0.0, 1.0), (None, 0.0, 2.0), (None, 0.0, 4.0),
                                                    (None, 0.0, 3.0))]
    for row in rows:
        last = next((at for at in (row.end, row.reset_at, row.response_start, row.start) if at is not None), None)
        assert row.last == last and row.duration == (0.0 if row.start is None else max(last - row.start, 0.0))
        expected = [] if row.start is None else [(row.start, max(row.last or row.start, row.start))]
        assert row_spans([row]) == expected
    assert row_spans(rows) == activity_spans((r.start, r.last or r.start) for r in rows if r.start is not None)
    assert row_spans(rows) == [(0.0, 4.0)]


def test_the_view_extent_is_the_last_moment_a_row_shows() -> None:
    from pushscope.tui.rows import latest_moment

    base = build_view(_capture()).rows[0]
    assert latest_moment([]) is None
    assert latest_moment([base._replace(start=None, response_start=None, end=None, reset_at=None)]) is None
    rows = [base._replace(start=1.0, response_start=None, end=2.0, reset_at=None),
            base._replace(start=0.5, response_start=0.7, end=None, reset_at=9.0),
            base._replace(start=3.0, response_start=None, end=None, reset_at=None)]
    assert latest_moment(rows) == 9.0
    assert latest_moment(rows[:1] + rows[2:]) == 3.0


def test_rows_times_are_exact_when_the_start_moves() -> None:
    from dataclasses import replace

    capture = _capture(extra=30)
    rows = build_view(capture).rows
    pushed = [row for row in rows if row.promised_at is not None]
    assert pushed and all(row.start == row.promised_at for row in pushed)
    t0 = capture.started_at
    for row in rows:  # every time as it was: the moment minus the capture's start
        exchange = capture.exchanges[row.exchange_id]
        assert row.response_start == (None if exchange.response_start is None else exchange.response_start - t0)
        assert row.end == (None if exchange.response_end is None else exchange.response_end - t0)
    moved = build_view(replace(capture, started_at=t0 - 1.0)).rows  # another start: other differences
    assert [row.end for row in moved] == [None if row.end is None else pytest.approx(row.end + 1.0) for row in rows]
