"""The inspector's final view of a capture, kept in the cache beside its model: a reopen shows it at once (rows,
connections, summary) and reads the search texts, then the model, which only the detail pane and exports need,
after the rows are painted. No Textual here.

Two entries, companions of the model's entry (``pushscope.cache``): the view, and its search texts (not needed for
the first paint; each distinct text once, and a number per exchange, see ``searching``). Their keys are derived
from the model's key and ``VIEW_FORMAT``, so they are stale exactly when the model is (capture, key log,
pushscope's code), and they are written, bounded, evicted and cleared as the model is. They are only kept for a
model the cache keeps (``cacheable``: not a cancelled or failed load), and only used while the model's entry is
there. A view whose texts are missing is still shown: its texts are built from the model once it is read.

The view keeps the waterfall's default row set (``row_set`` with the default filters and sort, as a reopen shows
first): its order, activity spans and tag width, so that a reopen shows it without a pass over the rows.

Written like the model, as a shell and its collections in pieces, each its own pickle (pickle's memo of a whole
view would double its memory). A piece of rows is written as its columns, one tuple per field, and each row is
made again by ``tuple.__new__(Row, fields)``: in C, where a named tuple's own ``__new__`` is a Python call per row.
Pickle writes numbers by value, so every time and size a row shows would come back as its own object (at 306 MB,
840,000 floats and 956,000 ints, 45 MiB of the view's 114): the numbers of a column are shared over the whole view
as it is read. (A load's own view holds no rows but their places in the model: ``view.ModelRows``. A view read here
has no model to make its rows from, so it holds them.)
"""

from __future__ import annotations

import pickle
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from itertools import repeat
from typing import Any, BinaryIO

from pushscope.cache import CaptureCache, cacheable, companion_key
from pushscope.model.entities import Capture
from pushscope.model.pickling import SharedNumbers, shareable_class
from pushscope.tui.searching import NUMBER, SearchTexts
from pushscope.tui.view import SORTS, CaptureView, ConnectionInfo, FilterState, Row, RowSet, exchange_ids_of, row_set

VIEW_FORMAT = 5  # raise when what is written below, or a type it holds, changes shape
PIECE = 5000
# The numbers most rows show and many repeat, whose equal values are one object when read back: nine tenths of the
# numbers the other columns would share (at 306 MB, sharing all ten numeric columns but ids read the rows in 0.53 s
# against 0.40 for these, for 3 MiB less).
_SHARED_COLUMNS = tuple(Row._fields.index(name) for name in (
    "connection_index", "body_bytes", "start", "response_start", "end"))

_TEXT_COLUMNS = tuple(Row._fields.index(name) for name in (
    "connection_id", "protocol", "url", "path", "method", "content_type"))


@dataclass(frozen=True, slots=True)
class KeptView:
    """A view read from the cache (without its search texts) and its default row set."""

    view: CaptureView
    default_rows: RowSet  # ``row_set(view.rows, FilterState(), SORTS[0])``


def view_key(model_key: str) -> str:
    return companion_key(model_key, "inspector-view", VIEW_FORMAT)


def texts_key(model_key: str) -> str:
    return companion_key(model_key, "inspector-search-texts", VIEW_FORMAT)


def default_rows(rows: Sequence[Row]) -> RowSet:
    """What the waterfall shows of ``rows`` before the user changes the filters or sort."""
    return row_set(rows, FilterState(), SORTS[0])


def store_view_in_background(cache: CaptureCache, model_key: str, capture: Capture, view: CaptureView) -> bool:
    """Keep ``view`` (the final one, with its search texts) in a forked writer; False when it is not to be kept."""
    if not _keepable(capture, view):
        return False
    cache.store_companion_in_background(view_key(model_key),
                                        lambda handle: _write_view_after_texts(cache, model_key, view, handle))
    return True


def _write_view_after_texts(cache: CaptureCache, model_key: str, view: CaptureView, handle: BinaryIO) -> None:
    """In the forked writer (one fork for both): the search texts' entry first, then the view into ``handle``. The
    view is kept even if its texts are not (a reopen makes them from the model)."""
    texts = view.search_texts
    if texts is not None:
        cache.store_companion(texts_key(model_key), lambda texts_handle: write_texts(texts, texts_handle))
    write_view(view, handle)


def store_view(cache: CaptureCache, model_key: str, capture: Capture, view: CaptureView) -> bool:
    """``store_view_in_background``, written here (tests)."""
    if not _keepable(capture, view):
        return False
    texts = view.search_texts
    assert texts is not None  # (_keepable)
    return cache.store_companion(texts_key(model_key), lambda handle: write_texts(texts, handle)) and \
        cache.store_companion(view_key(model_key), lambda handle: write_view(view, handle))


def store_texts_in_background(cache: CaptureCache, model_key: str, texts: SearchTexts) -> None:
    """Keep the search texts again (a kept view's were missing or broken)."""
    cache.store_companion_in_background(texts_key(model_key), lambda texts_handle: write_texts(texts, texts_handle))


def _keepable(capture: Capture, view: CaptureView) -> bool:
    return cacheable(capture) and view.analysed and view.search_texts is not None


def has_view(cache: CaptureCache, model_key: str) -> bool:
    """Whether a view and its model are kept (whether they load is known only by loading them)."""
    return cache.has(model_key) and cache.has_companion(view_key(model_key))


def load_view(cache: CaptureCache, model_key: str) -> KeptView | None:
    """The kept view, when both it and the model's entry are there; a broken one is deleted and None."""
    if not cache.has(model_key):
        return None
    kept = cache.load_companion(view_key(model_key), read_view)
    return kept if isinstance(kept, KeptView) else None


def load_texts(cache: CaptureCache, model_key: str) -> SearchTexts | None:
    """The kept view's search texts; None when absent or broken (then deleted)."""
    texts = cache.load_companion(texts_key(model_key), read_texts)
    return texts if isinstance(texts, SearchTexts) else None


def _pickler(handle: BinaryIO) -> pickle.Pickler:
    return pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)


def _dump(pickler: pickle.Pickler, piece: object) -> None:
    pickler.dump(piece)
    pickler.clear_memo()  # each piece is read by a fresh unpickler


def _dump_pieces(pickler: pickle.Pickler, items: Sequence[object]) -> None:
    for start in range(0, len(items), PIECE):
        _dump(pickler, items[start:start + PIECE])


def _dump_row_pieces(pickler: pickle.Pickler, rows: Sequence[Row]) -> None:
    """Each piece as its columns; equal texts of a column one object, so pickle writes each once a piece and they
    are read back as one (rows made from the model make each row's URL anew)."""
    for start in range(0, len(rows), PIECE):
        columns = list(zip(*rows[start:start + PIECE], strict=True))
        for index in _TEXT_COLUMNS:
            seen: dict[str, str] = {}
            columns[index] = tuple(map(seen.setdefault, columns[index], columns[index]))
        _dump(pickler, tuple(columns))


def _load_row_pieces(handle: BinaryIO, count: int) -> list[Row]:
    """The rows ``_dump_row_pieces`` wrote; equal numbers of a class are one object over the whole view (a moment
    is one float whether it starts a row or ends another)."""
    width = len(Row._fields)
    numbers = SharedNumbers()  # (bounded)
    rows: list[Row] = []
    while len(rows) < count:
        piece = pickle.load(handle)
        if not (isinstance(piece, tuple) and len(piece) == width and all(type(c) is tuple for c in piece)
                and len({len(column) for column in piece}) == 1 and piece[0]):
            raise ValueError("not a piece of a view's rows")
        columns: list[Iterable[Any]] = list(piece)
        for index in _SHARED_COLUMNS:
            column = piece[index]
            kind = shareable_class(column, however_many=True)
            if kind is not None:
                values = numbers.of(kind)
                columns[index] = map(values.setdefault, column, column)  # (consumed by the zip below)
        rows += map(tuple.__new__, repeat(Row), zip(*columns, strict=True))
    if len(rows) != count:
        raise ValueError("a view cut short")
    return rows


def _load_pieces(handle: BinaryIO, count: int) -> list[Any]:
    items: list[Any] = []
    while len(items) < count:
        piece = pickle.load(handle)
        if not isinstance(piece, list | tuple):
            raise ValueError("not a piece of a view")
        items += piece
    if len(items) != count:
        raise ValueError("a view cut short")
    return items


def write_view(view: CaptureView, handle: BinaryIO) -> None:
    pickler = _pickler(handle)
    _dump(pickler, replace(view, rows=(), connections=(), search_texts=None))
    _dump(pickler, (len(view.rows), len(view.connections)))
    _dump_row_pieces(pickler, view.rows)
    _dump_pieces(pickler, [_connection_fields(c) for c in view.connections])
    shown = default_rows(view.rows)
    order = None
    if shown.rows is not view.rows:  # (a view whose rows are all shown, in order, is its own default row set)
        place = {exchange_id: index for index, exchange_id in enumerate(exchange_ids_of(view.rows))}
        order = [place[exchange_id] for exchange_id in exchange_ids_of(shown.rows)]
        if order == list(range(len(view.rows))):
            order = None
    _dump(pickler, (order, shown.spans, shown.tag_width))


def read_view(handle: BinaryIO) -> KeptView:
    shell = pickle.load(handle)
    counts = pickle.load(handle)
    if not isinstance(shell, CaptureView) or not isinstance(counts, tuple) or len(counts) != 2:
        raise ValueError("not an inspector view")
    rows: tuple[Row, ...] = tuple(_load_row_pieces(handle, counts[0]))
    connections = tuple(ConnectionInfo(*f) for f in _load_pieces(handle, counts[1]))
    order, spans, tag_width = pickle.load(handle)
    if not isinstance(spans, tuple) or not isinstance(tag_width, int):
        raise ValueError("not a row set")
    shown = rows if order is None else tuple(rows[index] for index in order)
    view = replace(shell, rows=rows, connections=connections)
    return KeptView(view, RowSet(shown, FilterState(), SORTS[0], spans, tag_width))


def write_texts(texts: SearchTexts, handle: BinaryIO) -> None:
    pickler = _pickler(handle)
    _dump(pickler, (len(texts.distinct), sys.byteorder, texts.numbers.itemsize))
    _dump_pieces(pickler, texts.distinct)
    _dump(pickler, texts.numbers.tobytes())


def read_texts(handle: BinaryIO) -> SearchTexts:
    head = pickle.load(handle)
    numbers = array(NUMBER)
    # The numbers are kept as this machine writes them: a cache read on another machine is a miss, never misread.
    if not (isinstance(head, tuple) and len(head) == 3 and isinstance(head[0], int)) or \
            head[1:] != (sys.byteorder, numbers.itemsize):
        raise ValueError("not search texts, or not this machine's")
    distinct = _load_pieces(handle, head[0])
    packed = pickle.load(handle)
    if not isinstance(packed, bytes) or not all(type(text) is str for text in distinct):
        raise ValueError("not search texts")
    numbers.frombytes(packed)  # (a length that is not a multiple of the item size raises ValueError)
    return SearchTexts(distinct, numbers)  # (and so does a number past the texts' end)


def _connection_fields(info: ConnectionInfo) -> tuple[object, ...]:
    """A connection's fields in order, as plain values (a frozen slotted dataclass pickles through Python)."""
    return tuple(getattr(info, name) for name in _CONNECTION_FIELDS)


_CONNECTION_FIELDS = tuple(f.name for f in fields(ConnectionInfo))
