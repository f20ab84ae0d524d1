"""The waterfall's rows: a ``Row`` per exchange, made from the model as it is read (``ModelRows``), and what the views
ask of a sequence of rows (a snapshot's, made from the model, or a kept view's, held) without making every row.
No Textual here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, overload

from pushscope.model.entities import Capture, Connection, Exchange, Push, Reset
from pushscope.presentation import ATTENTION_RANK
from pushscope.safe_text import visible
from pushscope.timescale import spans_of
from pushscope.vocabulary import Outcome


class Row(NamedTuple):
    """One waterfall line: an exchange, times relative to the capture start (seconds).

    A named tuple, not a frozen dataclass: as immutable, and built and unpickled about twice as fast (no Python
    ``__init__`` or ``__setstate__`` per row; ``view_cache`` pickles it so that a tuple's own constructor in C
    makes it), which a reopen of hundreds of thousands of rows from the cache feels."""

    exchange_id: int
    connection_id: str
    connection_index: int
    protocol: str
    pushed: bool
    depth: int
    url: str
    path: str
    method: str
    status: int | None
    stream_id: int | None
    body_bytes: int
    start: float | None
    response_start: float | None
    end: float | None
    promised_at: float | None = None
    reset_at: float | None = None
    push_index: int | None = None
    outcome: str | None = None
    wasted_bytes: int = 0
    parent_exchange_id: int | None = None
    content_type: str = ""

    @property
    def last(self) -> float | None:
        """The last moment the row shows (end, else reset, else first byte, else start)."""
        return _last(self.start, self.response_start, self.end, self.reset_at)

    @property
    def duration(self) -> float:
        return _duration(self.start, self.response_start, self.end, self.reset_at)


def _rel(at: float | None, t0: float) -> float | None:
    return None if at is None else at - t0


def _start_of(exchange: Exchange, push: Push | None) -> float | None:
    """When a row starts: its request, else its promise, else its response (absolute)."""
    start = exchange.request_start
    if start is None:
        start = push.promised_at if push is not None and push.promised_at else exchange.response_start
    return start


def _reset_of(exchange: Exchange, push: Push | None) -> Reset | None:
    """The reset a row shows: its push's, else its exchange's."""
    return (push.reset if push is not None else None) or exchange.reset


def _row(exchange: Exchange, conn: Connection | None, push: Push | None, t0: float, depth: int,
         parent_id: int | None) -> Row:
    """One exchange's row (made as it is read: see ``ModelRows``)."""
    outcome = push.outcome if push is not None else None
    wasted = push.cost.wasted_bytes if push is not None and push.outcome == Outcome.WASTED else 0
    reset = _reset_of(exchange, push)
    url = visible(exchange.url or (push.url if push is not None else ""))
    raw_path = exchange.path
    path = visible(raw_path) if raw_path else url or f"stream {exchange.stream_id}"
    start = _start_of(exchange, push)
    return Row(
        exchange_id=exchange.id,
        connection_id=exchange.connection_id,
        connection_index=conn.index if conn is not None else 0,
        protocol=exchange.protocol,
        pushed=exchange.pushed,
        depth=depth,
        url=url,
        path=path,
        method=exchange.method,
        status=exchange.status,
        stream_id=exchange.stream_id,
        body_bytes=exchange.body_bytes,
        start=_rel(start, t0),
        response_start=_rel(exchange.response_start, t0),
        end=_rel(exchange.response_end, t0),
        promised_at=_rel(push.promised_at, t0) if push is not None and push.promised_at else None,
        reset_at=_rel(reset.at, t0) if reset is not None else None,
        push_index=push.id if push is not None else None,
        outcome=outcome,
        wasted_bytes=wasted,
        parent_exchange_id=parent_id,
        content_type=visible(exchange.content_type or ""),
    )


def _start_moment(exchange: Exchange, push: Push | None) -> float:
    """When a row starts, for ordering: its request, else its promise, else its response (inf: none known).

    A float the model already holds, not a (moment, id) pair: rows are sorted by it stably from exchange order, so
    equal moments keep id order, without a pair made for each of hundreds of thousands of rows at each snapshot."""
    for at in (exchange.request_start, push.promised_at if push else None, exchange.response_start):
        if at:
            return at
    return math.inf


_NONE = -1  # in a ``ModelRows`` column: no push, no parent


class ModelRows(Sequence[Row]):
    """A snapshot's rows in waterfall order, each made from the model when it is read (``_row``).

    The snapshot keeps three numbers a row: where its exchange and its push are in the model's lists, and the id of
    the request it is shown under. A gigabyte's 880,000 rows held as ``Row`` objects were 190 MiB beside the model
    they repeat (each snapshot shared the previous one's unchanged rows, and the final view those equal to them); a
    row is now made only when it is shown or written (a filter, a sort or a search reads only what it needs). The
    order, the axis and the page loads are the snapshot's; a row read while a load still fills the model shows its
    exchange as it is then (its end, once known), as the detail pane always did. The model's lists only grow: a
    snapshot reads none of what came later."""

    __slots__ = ("_exchanges", "_pushes", "_connections", "_t0", "_order", "_push_at", "_parent", "_timeline",
                 "_protocols")

    def __init__(self, exchanges: Sequence[Exchange], pushes: Sequence[Push], connections: Mapping[str, Connection],
                 t0: float, order: array[int], push_at: array[int], parent: array[int],
                 protocols: set[str] | None = None) -> None:
        self._exchanges, self._pushes, self._connections, self._t0 = exchanges, pushes, connections, t0
        self._order, self._push_at, self._parent = order, push_at, parent
        self._timeline: tuple[tuple[tuple[float, float], ...], float | None] | None = None  # (``timeline``)
        self._protocols = protocols

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> ModelRows: ...

    def __getitem__(self, index: int | slice) -> Row | ModelRows:
        if isinstance(index, slice):
            return self.subset(range(*index.indices(len(self._order))))
        exchange = self._exchanges[self._order[index]]
        push_at, parent = self._push_at[index], self._parent[index]
        return _row(exchange, self._connections.get(exchange.connection_id),
                    self._pushes[push_at] if push_at != _NONE else None, self._t0, 0 if parent == _NONE else 1,
                    None if parent == _NONE else parent)

    def __iter__(self) -> Iterator[Row]:
        return map(self.__getitem__, range(len(self._order)))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same rows (a tuple of them, as a view read from the cache holds)."""
        if not isinstance(other, ModelRows | tuple | list):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ModelRows({len(self)} rows)"

    def subset(self, positions: Sequence[int]) -> ModelRows:
        """The rows at ``positions``, in that order (what a filter or a sort leaves)."""
        order, push_at, parent = self._order, self._push_at, self._parent
        return ModelRows(self._exchanges, self._pushes, self._connections, self._t0,
                         array("i", map(order.__getitem__, positions)),
                         array("i", map(push_at.__getitem__, positions)),
                         array("i", map(parent.__getitem__, positions)))

    def url_at(self, place: int) -> str:
        """``self[place].url``, without the rest of the row."""
        exchange = self._exchanges[self._order[place]]
        url = exchange.url
        if not url:
            push_at = self._push_at[place]
            url = self._pushes[push_at].url if push_at != _NONE else ""
        return visible(url)

    def raw_path_at(self, place: int) -> str:
        """The path its exchange shows, as the capture has it (``path_at`` shows it, or stands in for none)."""
        return self._exchanges[self._order[place]].path

    def path_at(self, place: int) -> str:
        """``self[place].path``, without the rest of the row."""
        exchange = self._exchanges[self._order[place]]
        raw_path = exchange.path
        return visible(raw_path) if raw_path else self.url_at(place) or f"stream {exchange.stream_id}"

    def exchange_ids(self) -> list[int]:
        exchanges = self._exchanges
        return [exchanges[i].id for i in self._order]

    def index_of(self, exchange_id: int) -> int | None:
        """Where the row of this exchange is (None: not among these rows), without making any row."""
        exchanges, order = self._exchanges, self._order
        if 0 <= exchange_id < len(exchanges) and exchanges[exchange_id].id == exchange_id:
            try:  # (the model's exchanges are in id order: the id is the place)
                return order.index(exchange_id)
            except ValueError:
                return None
        return next((n for n, i in enumerate(order) if exchanges[i].id == exchange_id), None)

    def connection_ids(self) -> set[str]:
        exchanges = self._exchanges
        return {exchanges[i].connection_id for i in self._order}

    def positions_on(self, connection_id: str) -> list[int]:
        exchanges = self._exchanges
        return [n for n, i in enumerate(self._order) if exchanges[i].connection_id == connection_id]

    def filter_facts(self, with_start: bool) -> Iterator[FilterFacts]:
        """Each row's ``FilterFacts``, as its ``Row`` would show them, without making the row (a row made is several
        times the cost); its start only ``with_start`` (a page load's filter)."""
        exchanges, pushes, t0 = self._exchanges, self._pushes, self._t0
        for i, push_at, parent in zip(self._order, self._push_at, self._parent, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            start = _start_of(exchange, push) if with_start else None
            if start is not None:
                start -= t0
            yield (exchange.connection_id, exchange.protocol, start, exchange.pushed,
                   push.outcome if push is not None else None, exchange.id, None if parent == _NONE else parent)

    def sort_keys(self, by: str) -> list[Any]:
        """Each row's key for the sort ``by`` (``view._sort_key``), as its ``Row`` would give it, without making it."""
        exchanges, pushes, wasted = self._exchanges, self._pushes, Outcome.WASTED
        if by == "size":
            return [-exchanges[i].body_bytes for i in self._order]
        if by == "duration":
            return [-_duration(start, first, end, reset) for start, first, end, reset, _pushed in self.moments()]
        keys: list[Any] = []
        for i, push_at in zip(self._order, self._push_at, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            outcome = push.outcome if push is not None else None
            keys.append((ATTENTION_RANK.get(outcome if exchange.pushed else None, 4),
                         -(push.cost.wasted_bytes if outcome == wasted and push is not None else 0)))
        return keys

    def moments(self) -> Iterator[tuple[float | None, float | None, float | None, float | None, bool]]:
        """Each row's (start, first byte, end, reset, pushed), relative as its ``Row`` has them, without making the
        row: what the axis, the extent, the page loads and a sort by duration read of every row."""
        exchanges, pushes, t0 = self._exchanges, self._pushes, self._t0
        for i, push_at in zip(self._order, self._push_at, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            start = _start_of(exchange, push)
            first, end = exchange.response_start, exchange.response_end
            reset = _reset_of(exchange, push)
            yield (None if start is None else start - t0, None if first is None else first - t0,
                   None if end is None else end - t0, None if reset is None else reset.at - t0, exchange.pushed)

    def timeline(self) -> tuple[tuple[tuple[float, float], ...], float | None]:
        """The rows' activity spans and last moment (``_timeline_of``), read once: the snapshot's, as its order is
        (its page loads, its extent and its default row set read them)."""
        if self._timeline is None:
            self._timeline = _timeline_of(self.moments())
        return self._timeline

    def protocols(self) -> set[str]:
        """The protocols of these rows; a snapshot's are gathered as it is built (``build_rows``), off the UI thread
        that asks for them (the protocol filter's key)."""
        if self._protocols is None:
            exchanges = self._exchanges
            self._protocols = {exchanges[i].protocol for i in self._order}
        return self._protocols


FilterFacts = tuple[str, str, "float | None", bool, "str | None", int, "int | None"]
# (connection id, protocol, start or None, pushed, outcome, exchange id, parent exchange id): a filter's reading


def build_rows(capture: Capture) -> ModelRows:
    """Requests in start order, each followed by the pushes promised on its stream (same connection)."""
    exchanges, pushes = capture.exchanges, capture.pushes
    push_of = {p.exchange_id: n for n, p in enumerate(pushes) if p.exchange_id is not None}  # exchange id: place
    # A pushed exchange goes under the first request on its promise's stream. Only the streams pushes were promised
    # on are looked up: a key per request would be a pair for each of hundreds of thousands of exchanges.
    promised_on: dict[tuple[str, int], Exchange | None] = {}
    for n in push_of.values():
        push = pushes[n]
        if push.parent_stream_id is not None:
            promised_on[(push.connection_id, push.parent_stream_id)] = None
    if promised_on:
        for exchange in exchanges:
            if not exchange.pushed and exchange.stream_id is not None:
                key = (exchange.connection_id, exchange.stream_id)
                if key in promised_on and promised_on[key] is None:
                    promised_on[key] = exchange
    children: dict[int, list[int]] = {}  # request id: the places of the pushed exchanges shown under it
    top: list[int] = []
    protocols: set[str] = set()
    for place, exchange in enumerate(exchanges):
        protocols.add(exchange.protocol)
        parent = None
        if exchange.pushed:
            at = push_of.get(exchange.id)
            stream = pushes[at].parent_stream_id if at is not None else None
            if stream is not None:
                parent = promised_on.get((exchange.connection_id, stream))
        if parent is not None:
            children.setdefault(parent.id, []).append(place)
        else:
            top.append(place)

    def start_of(place: int) -> float:
        exchange = exchanges[place]
        at = push_of.get(exchange.id)
        return _start_moment(exchange, pushes[at] if at is not None else None)

    top.sort(key=start_of)  # (stable: ``exchanges`` are in id order)
    order, push_at, parents = array("i"), array("i"), array("i")
    for place in top:
        exchange = exchanges[place]
        order.append(place)
        push_at.append(push_of.get(exchange.id, _NONE))
        parents.append(_NONE)
        kids = children.get(exchange.id)
        if kids:
            for child in sorted(kids, key=start_of):
                order.append(child)
                push_at.append(push_of.get(exchanges[child].id, _NONE))
                parents.append(exchange.id)
    return ModelRows(exchanges, pushes, capture.connections, capture.started_at or 0.0, order, push_at, parents,
                     protocols)


# --- what the UI asks of a view's rows, without making every row (see ``ModelRows``) ------------------------------

def index_of_exchange(rows: Sequence[Row], exchange_id: int) -> int | None:
    """Where the row of this exchange is among ``rows``; None: not there."""
    if isinstance(rows, ModelRows):
        return rows.index_of(exchange_id)
    return next((i for i, row in enumerate(rows) if row.exchange_id == exchange_id), None)


def exchange_ids_of(rows: Sequence[Row]) -> list[int]:
    if isinstance(rows, ModelRows):
        return rows.exchange_ids()
    return [row.exchange_id for row in rows]


def protocols_of(rows: Sequence[Row]) -> set[str]:
    if isinstance(rows, ModelRows):
        return rows.protocols()
    return {row.protocol for row in rows}


def rows_on_connection(rows: Sequence[Row], connection_id: str) -> list[Row]:
    if isinstance(rows, ModelRows):
        return [rows[place] for place in rows.positions_on(connection_id)]
    return [row for row in rows if row.connection_id == connection_id]


def connection_ids_of(rows: Sequence[Row]) -> set[str]:
    if isinstance(rows, ModelRows):
        return rows.connection_ids()
    return {row.connection_id for row in rows}


def moments_of(rows: Iterable[Row]) -> Iterable[tuple[float | None, float | None, float | None, float | None, bool]]:
    """Each row's (start, first byte, end, reset, pushed)."""
    if isinstance(rows, ModelRows):
        return rows.moments()
    return ((row.start, row.response_start, row.end, row.reset_at, row.pushed) for row in rows)


def subset_of(rows: Sequence[Row], positions: Sequence[int]) -> Sequence[Row]:
    if isinstance(rows, ModelRows):
        return rows.subset(positions)
    return tuple(rows[place] for place in positions)


def row_spans(rows: Iterable[Row]) -> list[tuple[float, float]]:
    """``activity_spans`` of each timed row's (start, last moment shown)."""
    return list(_timeline(rows)[0])


def latest_moment(rows: Iterable[Row]) -> float | None:
    """The last moment any row shows (start, first byte, end or reset); None: no row shows one."""
    return _timeline(rows)[1]


def _timeline(rows: Iterable[Row]) -> tuple[tuple[tuple[float, float], ...], float | None]:
    """The rows' activity spans and last moment, in one pass; a snapshot's rows keep theirs (``ModelRows``: its
    page loads, its extent and its default row set read them, and each pass reads every exchange)."""
    if isinstance(rows, ModelRows):
        return rows.timeline()
    return _timeline_of((row.start, row.response_start, row.end, row.reset_at, row.pushed) for row in rows)


def _timeline_of(moments: Iterable[tuple[float | None, float | None, float | None, float | None, bool]]
                 ) -> tuple[tuple[tuple[float, float], ...], float | None]:
    """The starts and ends gathered apart (``spans_of``: no pair made per row)."""
    starts: list[float] = []
    ends: list[float] = []
    latest: float | None = None
    for start, first, end, reset, _pushed in moments:
        for at in (start, first, end, reset):
            if at is not None and (latest is None or at > latest):
                latest = at
        if start is None:
            continue
        starts.append(start)
        ends.append(max(_last(start, first, end, reset) or start, start))
    return tuple(spans_of(starts, ends)), latest


def _last(start: float | None, first: float | None, end: float | None, reset: float | None) -> float | None:
    """``Row.last``: the end, else the reset, else the first byte, else the start."""
    return end if end is not None else reset if reset is not None else first if first is not None else start


def _duration(start: float | None, first: float | None, end: float | None, reset: float | None) -> float:
    """``Row.duration``."""
    last = _last(start, first, end, reset)
    return 0.0 if start is None or last is None else max(last - start, 0.0)
