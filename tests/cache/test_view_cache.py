"""The inspector's final view kept beside the model: a reopen shows exactly what a fresh load shows, and a broken,
stale, cancelled or unwanted entry is never served."""

from __future__ import annotations

import io
import math
import os
import pickle
import random
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pushscope.cache import CaptureCache, cache_key, wait_for_writers
from pushscope.cli import main
from pushscope.events import Diagnostic
from pushscope.kept_model import KeptModel
from pushscope.pipeline import capture_file
from pushscope.tui.loading import CaptureUpdated, DetailsRead, LoadSession, SearchIndexed
from pushscope.tui.view import SORTS, CaptureView, FilterState, Row, filter_rows, row_set
from pushscope.tui.view_cache import (
    PIECE,
    load_texts,
    load_view,
    read_view,
    store_view,
    texts_key,
    view_key,
    write_view,
)
from pushscope.tui.widgets.detail import exchange_content

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NAME = "nginx-push-basic"




class Opened:
    """One inspector load, headless: what it posted, the view it ended with (search texts included)."""

    def __init__(self, capture: Path, keys: Path, *, use_cache: bool = True, cancel: bool = False) -> None:
        self.posted: list[object] = []
        stop = threading.Event()
        if cancel:
            stop.set()
        self.session = LoadSession(capture_file(str(capture), str(keys), use_cache=use_cache), self.posted.append,
                                   stop)
        self.session.run()
        wait_for_writers()
        final = [m for m in self.posted if isinstance(m, CaptureUpdated) and m.final][-1]
        texts = [m.texts for m in self.posted if isinstance(m, SearchIndexed)]
        self.final = final
        self.view: CaptureView = replace(final.view, search_texts=texts[-1]) if texts else final.view
        self.details = [m for m in self.posted if isinstance(m, DetailsRead)]

    @property
    def served_from_view(self) -> bool:
        return self.final.capture is None


def _key(capture: Path, keys: Path) -> str:
    return cache_key(str(capture), str(keys))


def _entries(cache_dir: Path, capture: Path, keys: Path) -> tuple[Path, Path]:
    """The kept view's entry and its search texts' entry."""
    key = _key(capture, keys)
    return cache_dir / f"{view_key(key)}.view", cache_dir / f"{texts_key(key)}.view"


def test_a_reopen_shows_what_a_fresh_load_shows(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    fresh = Opened(capture, keys, use_cache=False)
    first = Opened(capture, keys)
    assert not first.served_from_view and all(entry.is_file() for entry in _entries(cache_dir, capture, keys))
    assert len(list(cache_dir.glob("*.view"))) == 2  # the view and its search texts
    reopened = Opened(capture, keys)
    assert reopened.served_from_view and reopened.session.loader.from_cache
    view = reopened.view
    assert view.rows and view.search_texts
    for name in ("rows", "connections", "summary", "diagnostics", "search_texts", "loads", "duration", "extent",
                 "analysed", "name"):
        assert getattr(view, name) == getattr(fresh.view, name), name
    assert view == fresh.view
    # The default row set came with the view (no pass over the rows), and is the one a fresh load shows.
    assert reopened.final.shown == fresh.final.shown == row_set(fresh.view.rows, FilterState(), SORTS[0])
    for needle in ("push", "text/css", "nginx", "no such text"):  # header values, not only URLs
        search = FilterState(search=needle)
        assert filter_rows(view.rows, search, view.search_texts) == \
            filter_rows(fresh.view.rows, search, fresh.view.search_texts)
    assert filter_rows(view.rows, FilterState(search="nginx"), view.search_texts)
    # The rows first (without the search texts), then the texts, then the model.
    kinds = [type(m) for m in reopened.posted]
    assert kinds == [CaptureUpdated, SearchIndexed, DetailsRead], kinds
    assert reopened.final.view.search_texts is None
    # The details are read from the kept model as each row is shown: every row's are those of a fresh load.
    details = reopened.details[0].details
    capture = fresh.final.capture
    assert isinstance(details, KeptModel) and capture is not None
    assert details.exchange_count == len(capture.exchanges)
    for row in view.rows:
        assert exchange_content(details, row, probed=view.probed) == \
            exchange_content(capture, row, probed=fresh.view.probed)


def test_a_reopen_with_filters_set_filters_the_kept_rows(cache_dir: Path, files: tuple[Path, Path]) -> None:
    """The kept default row set is only for the default filters: filters set before the view arrives apply."""
    capture, keys = files
    first = Opened(capture, keys)
    pushes_only = FilterState(pushes_only=True)
    posted: list[object] = []
    session = LoadSession(capture_file(str(capture), str(keys), use_cache=True), posted.append, threading.Event(),
                          shown_for=lambda: (pushes_only, "size"))
    session.run()
    (final,) = [m for m in posted if isinstance(m, CaptureUpdated)]
    assert final.capture is None and final.shown is not None
    assert final.shown == row_set(first.view.rows, pushes_only, "size")
    assert final.shown != first.final.shown and final.shown.rows


def test_a_reopen_whose_search_texts_are_broken_or_gone_makes_them_from_the_model(
        cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    first = Opened(capture, keys)
    _, texts = _entries(cache_dir, capture, keys)
    for damage in ("gone", "payload"):
        if damage == "gone":
            texts.unlink()
        else:
            data = texts.read_bytes()
            texts.write_bytes(data[:40] + random.Random(3).randbytes(len(data) - 40))
        reopened = Opened(capture, keys)
        assert reopened.served_from_view
        # The model first (the details), then the texts made from it; they are kept again.
        assert [type(m) for m in reopened.posted] == [CaptureUpdated, DetailsRead, SearchIndexed]
        assert reopened.view == first.view
        assert texts.is_file() and load_texts(CaptureCache(), _key(capture, keys)) == first.view.search_texts


@pytest.mark.parametrize("damage", ["truncated", "magic", "payload"])
def test_a_broken_view_is_a_miss_and_goes(cache_dir: Path, files: tuple[Path, Path], damage: str) -> None:
    capture, keys = files
    first = Opened(capture, keys)
    entry, _ = _entries(cache_dir, capture, keys)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[:-100])
    elif damage == "magic":
        entry.write_bytes(b"X" + data[1:])
    else:  # the header and its length intact, the pickles not
        entry.write_bytes(data[:40] + random.Random(7).randbytes(len(data) - 40))
    key = _key(capture, keys)
    assert load_view(CaptureCache(), key) is None and not entry.exists()
    # The next open builds the view from the kept model (no tshark) and keeps it again.
    reopened = Opened(capture, keys)
    assert not reopened.served_from_view and reopened.session.loader.from_cache
    assert reopened.view == first.view
    kept = load_view(CaptureCache(), key)
    assert kept is not None and kept.view == replace(first.view, search_texts=None)


def test_a_view_whose_model_does_not_load_gives_way_to_the_capture_read(cache_dir: Path,
                                                                         files: tuple[Path, Path]) -> None:
    capture, keys = files
    first = Opened(capture, keys)
    (model,) = cache_dir.glob("*.model")
    model.write_bytes(model.read_bytes()[:-50])
    reopened = Opened(capture, keys)
    # Shown at once, then the model turns out broken: the capture is read (no partial snapshots in between, the
    # kept rows stay up) and its final view and model replace the kept one.
    updates = [m for m in reopened.posted if isinstance(m, CaptureUpdated)]
    assert updates[0].capture is None and updates[-1] is reopened.final and len(updates) == 2
    assert not reopened.session.loader.from_cache and reopened.final.capture is not None
    assert reopened.view == first.view
    model.unlink()
    assert load_view(CaptureCache(), _key(capture, keys)) is None  # no model entry: no view either


def test_changed_capture_or_keylog_never_meets_a_stale_view(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    decrypted = Opened(capture, keys)
    original = keys.read_bytes()
    stat = keys.stat()
    keys.write_bytes(original.replace(b"TRAFFIC_SECRET_0", b"TRAFFIC_SECRET_9"))
    os.utime(keys, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and mtime: only the content tells
    without_keys = Opened(capture, keys)
    assert not without_keys.served_from_view and not without_keys.view.rows and decrypted.view.rows
    keys.write_bytes(original)
    capture.write_bytes(capture.read_bytes()[:-200])
    cut = Opened(capture, keys)
    assert not cut.served_from_view and cut.view != decrypted.view
    assert len(list(cache_dir.glob("*.view"))) == 3 * 2  # a view and its search texts each
    assert view_key(_key(capture, keys)) != _key(capture, keys)


def test_a_cancelled_load_keeps_no_view(cache_dir: Path, files: tuple[Path, Path]) -> None:
    capture, keys = files
    cancelled = Opened(capture, keys, cancel=True)
    assert cancelled.final.cancelled
    assert not list(cache_dir.glob("*.view")) and not list(cache_dir.glob("*.model"))
    # Nor would a view of a capture whose load was cancelled or failed ever be written.
    whole = Opened(capture, keys, use_cache=False)
    model = whole.session.capture
    model.diagnostics.append(Diagnostic(level="warning", message="cancelled", code="cancelled"))
    assert not store_view(CaptureCache(), "k", model, whole.view)


def test_no_cache_keeps_and_reads_no_view(cache_dir: Path, files: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    capture, keys = files
    Opened(capture, keys, use_cache=False)
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    Opened(capture, keys)
    assert len(list(cache_dir.glob("*.view"))) == 2
    assert not Opened(capture, keys, use_cache=False).served_from_view
    assert main(["cache", "clear"]) == 0
    capsys.readouterr()
    assert not list(cache_dir.iterdir())


def _rows_over_pieces(count: int) -> tuple[Row, ...]:
    """Rows of ten connections whose times and sizes repeat, as a page's requests sharing packets do."""
    return tuple(Row(exchange_id=n, connection_id=f"c{n % 10}", connection_index=1000 + n % 10, protocol="h2",
                     pushed=n % 3 == 0, depth=0, url=f"https://a.test/{n % 7}", path=f"/{n % 7}", method="GET",
                     status=200, stream_id=2 * n + 1, body_bytes=5000 + n % 4, start=0.5 + n % 50 / 8,
                     response_start=0.5 + (n + 1) % 50 / 8, end=None if n % 5 == 0 else 0.5 + (n + 2) % 50 / 8,
                     content_type="text/css")
                 for n in range(count))


def test_read_back_rows_share_their_numbers_over_the_whole_view() -> None:
    """Pickle writes numbers by value: without sharing, each row's times and sizes come back as objects of their
    own. Read back, a moment is one float in every row and column that shows it, across pieces."""
    rows = _rows_over_pieces(2 * PIECE + 17)
    handle = io.BytesIO()
    write_view(CaptureView(name="shared", rows=rows), handle)
    handle.seek(0)
    read = read_view(handle).view.rows
    assert read == rows and all(type(row) is Row for row in read)
    floats = {id(value) for row in read for value in (row.start, row.response_start, row.end) if value is not None}
    assert len(floats) == len({row.start for row in rows})  # 50 moments, whichever column and piece
    assert len({id(row.connection_index) for row in read}) == 10
    assert len({id(row.body_bytes) for row in read}) == 4
    assert len({id(row.exchange_id) for row in read}) == len(rows)  # ids are not worth a dict
    # Each row's URL and path were made anew (as rows made from the model are): equal texts are one a piece.
    assert len({id(row.url) for row in rows}) == len(rows)
    assert len({id(row.url) for row in read}) == len({id(row.path) for row in read}) == 7 * 3


def test_read_back_rows_keep_one_and_one_point_zero_and_minus_zero_apart() -> None:
    """Equal numbers of another class or sign are not the same number: a piece of floats after a piece of ints, and
    -0.0 after 0.0, in the same columns, come back as they were written."""
    rows = list(_rows_over_pieces(2 * PIECE))
    for n in range(PIECE, 2 * PIECE):
        rows[n] = rows[n]._replace(body_bytes=float(rows[n].body_bytes), start=-0.0)  # type: ignore[arg-type]
    for n in range(PIECE):
        rows[n] = rows[n]._replace(start=0.0)
    handle = io.BytesIO()
    write_view(CaptureView(name="apart", rows=tuple(rows)), handle)
    handle.seek(0)
    read = read_view(handle).view.rows
    assert read == tuple(rows)
    for old, new in zip(rows, read, strict=True):
        for name in ("body_bytes", "start"):
            assert type(getattr(new, name)) is type(getattr(old, name))
            assert math.copysign(1, getattr(new, name)) == math.copysign(1, getattr(old, name))


@pytest.mark.parametrize("piece", [(), ((1,),) * 3, tuple(((1, 2),) * (len(Row._fields) - 1)) + ((1,),),
                                   ([1],) * len(Row._fields), "rows"])
def test_a_piece_that_is_not_rows_is_refused(piece: object) -> None:
    handle = io.BytesIO()
    write_view(CaptureView(name="one", rows=_rows_over_pieces(1)), handle)
    data = handle.getvalue()
    good = pickle.dumps(tuple(zip(*_rows_over_pieces(1), strict=True)), protocol=pickle.HIGHEST_PROTOCOL)
    assert good in data
    with pytest.raises(ValueError):
        read_view(io.BytesIO(data.replace(good, pickle.dumps(piece, protocol=pickle.HIGHEST_PROTOCOL))))
