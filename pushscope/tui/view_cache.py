"""The inspector's final view of a capture, kept in the cache beside its model: a reopen shows it at once (rows,
connections, summary, search) and reads the model, which only the detail pane and exports need, afterwards.
No Textual here.

The entry is a companion of the model's entry (``pushscope.cache``): its key is derived from the model's key and
``VIEW_FORMAT``, so it is stale exactly when the model is (capture, key log, pushscope's code), and it is written,
bounded, evicted and cleared as the model is. It is only kept for a model the cache keeps (``cacheable``: not a
cancelled or failed load), and only used while the model's entry is there.

Written like the model, as a shell and its collections in pieces, each its own pickle (pickle's memo of a whole
view would double its memory). Rows are named tuples: unpickled by the tuple constructor in C, no Python per row.
"""

from __future__ import annotations

import pickle
from dataclasses import fields, replace
from typing import BinaryIO

from pushscope.cache import CaptureCache, cacheable, companion_key
from pushscope.model.entities import Capture
from pushscope.tui.view import CaptureView, ConnectionInfo, Row

VIEW_FORMAT = 1  # raise when what is written below, or a type it holds, changes shape
PIECE = 5000


def view_key(model_key: str) -> str:
    return companion_key(model_key, "inspector-view", VIEW_FORMAT)


def store_view_in_background(cache: CaptureCache, model_key: str, capture: Capture, view: CaptureView) -> bool:
    """Keep ``view`` (the final one, with its search texts) in a forked writer; False when it is not to be kept."""
    if not cacheable(capture) or not view.analysed or view.search_texts is None:
        return False
    cache.store_companion_in_background(view_key(model_key), lambda handle: write_view(view, handle))
    return True


def store_view(cache: CaptureCache, model_key: str, capture: Capture, view: CaptureView) -> bool:
    """``store_view_in_background``, written here (tests)."""
    if not cacheable(capture) or not view.analysed or view.search_texts is None:
        return False
    return cache.store_companion(view_key(model_key), lambda handle: write_view(view, handle))


def has_view(cache: CaptureCache, model_key: str) -> bool:
    """Whether a view and its model are kept (whether they load is known only by loading them)."""
    return cache.has(model_key) and cache.has_companion(view_key(model_key))


def load_view(cache: CaptureCache, model_key: str) -> CaptureView | None:
    """The kept view, when both it and the model's entry are there; a broken one is deleted and None."""
    if not cache.has(model_key):
        return None
    view = cache.load_companion(view_key(model_key), read_view)
    return view if isinstance(view, CaptureView) else None


def write_view(view: CaptureView, handle: BinaryIO) -> None:
    pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)

    def dump(piece: object) -> None:
        pickler.dump(piece)
        pickler.clear_memo()

    texts = view.search_texts or {}
    dump(replace(view, rows=(), connections=(), search_texts=None))
    dump((len(view.rows), len(view.connections), len(texts)))
    rows = view.rows
    for start in range(0, len(rows), PIECE):
        dump(rows[start:start + PIECE])
    connections = [_connection_fields(c) for c in view.connections]
    for start in range(0, len(connections), PIECE):
        dump(connections[start:start + PIECE])
    items = list(texts.items())
    for start in range(0, len(items), PIECE):
        dump(items[start:start + PIECE])


def read_view(handle: BinaryIO) -> CaptureView:
    shell = pickle.load(handle)
    counts = pickle.load(handle)
    if not isinstance(shell, CaptureView) or not isinstance(counts, tuple) or len(counts) != 3:
        raise ValueError("not an inspector view")
    rows: list[Row] = []
    while len(rows) < counts[0]:
        rows += pickle.load(handle)
    fields: list[tuple[object, ...]] = []
    while len(fields) < counts[1]:
        fields += pickle.load(handle)
    texts: dict[int, str] = {}
    while len(texts) < counts[2]:
        texts.update(pickle.load(handle))
    if (len(rows), len(fields), len(texts)) != counts or (rows and not isinstance(rows[0], Row)):
        raise ValueError("a view cut short")
    connections = tuple(ConnectionInfo(*f) for f in fields)  # type: ignore[arg-type]
    return replace(shell, rows=tuple(rows), connections=connections, search_texts=texts)


def _connection_fields(info: ConnectionInfo) -> tuple[object, ...]:
    """A connection's fields in order, as plain values (a frozen slotted dataclass pickles through Python)."""
    return tuple(getattr(info, name) for name in _CONNECTION_FIELDS)


_CONNECTION_FIELDS = tuple(f.name for f in fields(ConnectionInfo))
