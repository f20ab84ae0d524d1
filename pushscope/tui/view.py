"""The model folded into what the screen shows: waterfall rows, connection summaries, filters. No Textual here.

The loader thread builds a ``CaptureView`` snapshot from the capture it is still filling, and hands it to the UI
thread in a message; widgets then only ever read snapshots, whose order, axis, page loads and counts are fixed. A
row is made from the model as it is read (``ModelRows``), so while a load goes on it shows its exchange as it is then:
only ever more of it, as the model only grows.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import attrgetter
from typing import Any, NamedTuple, overload

from pushscope.analysis.summary import summary_dict
from pushscope.events import Diagnostic
from pushscope.model.compact import keep_one
from pushscope.model.entities import Capture, Connection, Exchange, Push
from pushscope.presentation import ATTENTION_RANK, OUTCOME_GLYPHS, OUTCOMES
from pushscope.safe_text import visible
from pushscope.timescale import spans_of
from pushscope.tui.searching import SearchTexts
from pushscope.tui.searching import search_texts as search_texts  # re-exported: the view's search index
from pushscope.vocabulary import Outcome

LEVEL_GLYPHS = {"error": ("✖", "$error"), "warning": ("⚠", "$warning"), "info": ("ℹ", "$text-muted")}
SORTS = ("start", "duration", "size", "outcome")


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
        for at in (self.end, self.reset_at, self.response_start, self.start):
            if at is not None:
                return at
        return None

    @property
    def duration(self) -> float:
        start, last = self.start, self.last
        return 0.0 if start is None or last is None else max(last - start, 0.0)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What the connections tree shows for one connection."""

    id: str
    index: int
    protocol: str
    transport: str
    server: str
    sni: str | None
    alpn: str | None
    tls_version: str | None
    decrypted: bool | None
    requests: int
    pushes_by_outcome: dict[str, int]
    page_loads: tuple[tuple[int, str], ...] = ()
    anomalies: tuple[str, ...] = ()

    @property
    def pushes(self) -> int:
        return sum(self.pushes_by_outcome.values())

    @property
    def protocol_label(self) -> str:
        """``h2``; ``h2 (no requests)`` for a connection that carried none (never "unknown" when ALPN says)."""
        protocol = self.protocol
        if protocol in ("", "unknown") and self.alpn in ("h2", "h3", "http/1.1"):
            protocol = self.alpn
        return f"{protocol} (no requests)" if self.requests == 0 and protocol != "unknown" else protocol


@dataclass(frozen=True, slots=True)
class PageLoad:
    """A burst of activity between idle gaps (see ``timescale.activity_spans``): one page load, as shown."""

    index: int
    start: float
    end: float
    label: str


@dataclass(frozen=True, slots=True)
class CaptureView:
    """An immutable snapshot of a (possibly still loading) capture, built off the UI thread."""

    name: str
    rows: Sequence[Row] = ()
    connections: tuple[ConnectionInfo, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    duration: float = 0.0
    extent: float = 0.0  # the last moment any row shows: the waterfall fits this, not a long idle tail
    analysed: bool = False
    loads: tuple[PageLoad, ...] = ()
    # Per exchange id, the URL and header lines the search looks in (``search_texts``); None until they are
    # built, after the last snapshot: until then the search looks in URLs only.
    search_texts: SearchTexts | None = None
    probed: bool = False  # ``Capture.probed``, a pass over every push: known here, not asked for each row shown


@dataclass(frozen=True, slots=True)
class FilterState:
    """What the waterfall shows: outcome toggles, pushes only, one connection, one protocol, a URL search."""

    outcomes: frozenset[str] = frozenset(OUTCOMES)
    pushes_only: bool = False
    connection_id: str | None = None
    protocol: str | None = None
    search: str = ""
    load: PageLoad | None = None

    @property
    def active(self) -> bool:
        return self != FilterState()

    def toggle_outcome(self, outcome: str) -> FilterState:
        outcomes = set(self.outcomes)
        outcomes.symmetric_difference_update({outcome})
        return replace(self, outcomes=frozenset(outcomes))

    def describe(self) -> str:
        """One line for the waterfall's title, so a filtered view never looks like the whole capture."""
        parts: list[str] = []
        if self.pushes_only:
            parts.append("pushes only")
        hidden = [o for o in OUTCOMES if o not in self.outcomes]
        if hidden:
            parts.append("hiding " + " ".join(f"{OUTCOME_GLYPHS[o]}{o}" for o in hidden))
        if self.connection_id is not None:
            parts.append(f"connection {self.connection_id}")
        if self.protocol is not None:
            parts.append(self.protocol)
        if self.load is not None:
            parts.append(f"load {self.load.index + 1}: {self.load.label}")
        if self.search:
            parts.append(f"search {visible(self.search)!r}")
        return " · ".join(parts)


_PATHS_LIMIT = 1 << 16  # paths a search remembers whether they match (bounded: it starts over when full)
# Equal push counts per outcome share one dict among a view's connections; bounded as above.
_COUNTS_LIMIT = 4096


def waterfall_title(filters: FilterState, sort: str, *, shown: int, total: int, headers_searchable: bool,
                    filtering: bool) -> str:
    """The waterfall's title: what it shows of the capture, so that a filtered view never looks like all of it."""
    parts = ["Waterfall"]
    if description := filters.describe():
        parts.append(description)
    if filters.search and not headers_searchable:
        parts.append("in URLs only until loaded")
    if sort != SORTS[0]:
        parts.append(f"by {sort}")
    if filtering:
        parts.append("filtering…")
    elif shown != total:
        parts.append(f"{shown} of {total}")
    return " · ".join(parts)


def _rel(at: float | None, t0: float) -> float | None:
    return None if at is None else at - t0


def _row(exchange: Exchange, conn: Connection | None, push: Push | None, t0: float, depth: int,
         parent_id: int | None) -> Row:
    """One exchange's row (made as it is read: see ``ModelRows``)."""
    outcome = push.outcome if push is not None else None
    wasted = push.cost.wasted_bytes if push is not None and push.outcome == Outcome.WASTED else 0
    reset = (push.reset if push is not None else None) or exchange.reset
    url = visible(exchange.url or (push.url if push is not None else ""))
    raw_path = exchange.path
    path = visible(raw_path) if raw_path else url or f"stream {exchange.stream_id}"
    start = exchange.request_start
    if start is None:
        start = push.promised_at if push is not None and push.promised_at else exchange.response_start
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

    __slots__ = ("_exchanges", "_pushes", "_connections", "_t0", "_order", "_push_at", "_parent", "timeline")

    def __init__(self, exchanges: Sequence[Exchange], pushes: Sequence[Push], connections: Mapping[str, Connection],
                 t0: float, order: array[int], push_at: array[int], parent: array[int]) -> None:
        self._exchanges, self._pushes, self._connections, self._t0 = exchanges, pushes, connections, t0
        self._order, self._push_at, self._parent = order, push_at, parent
        # The activity spans and last moment, once read (``_timeline``): the snapshot's, as its order is.
        self.timeline: tuple[tuple[tuple[float, float], ...], float | None] | None = None

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

    def protocols(self) -> set[str]:
        exchanges = self._exchanges
        return {exchanges[i].protocol for i in self._order}

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
            start = None
            if with_start:
                start = exchange.request_start
                if start is None:
                    start = push.promised_at if push is not None and push.promised_at else exchange.response_start
                if start is not None:
                    start -= t0
            yield (exchange.connection_id, exchange.protocol, start, exchange.pushed,
                   push.outcome if push is not None else None, exchange.id, None if parent == _NONE else parent)

    def sort_keys(self, by: str) -> list[Any]:
        """Each row's key for ``_sort_key(by)``, as its ``Row`` would give it, without making the row."""
        exchanges, pushes, t0, wasted = self._exchanges, self._pushes, self._t0, Outcome.WASTED
        if by == "size":
            return [-exchanges[i].body_bytes for i in self._order]
        keys: list[Any] = []
        for i, push_at in zip(self._order, self._push_at, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            if by == "duration":
                start = exchange.request_start
                if start is None:
                    start = push.promised_at if push is not None and push.promised_at else exchange.response_start
                last = exchange.response_end
                if last is None:
                    reset = (push.reset if push is not None else None) or exchange.reset
                    last = reset.at if reset is not None else exchange.response_start
                    if last is None:
                        last = start
                keys.append(-(0.0 if start is None or last is None else max((last - t0) - (start - t0), 0.0)))
            else:
                outcome = push.outcome if push is not None else None
                keys.append((ATTENTION_RANK.get(outcome if exchange.pushed else None, 4),
                             -(push.cost.wasted_bytes if outcome == wasted and push is not None else 0)))
        return keys

    def moments(self) -> Iterator[tuple[float | None, float | None, float | None, float | None, bool]]:
        """Each row's (start, first byte, end, reset, pushed), relative as its ``Row`` has them, without making the
        row: what the page loads read of every row at each snapshot."""
        exchanges, pushes, t0 = self._exchanges, self._pushes, self._t0
        for i, push_at in zip(self._order, self._push_at, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            start = exchange.request_start
            if start is None:
                start = push.promised_at if push is not None and push.promised_at else exchange.response_start
            first, end = exchange.response_start, exchange.response_end
            reset = (push.reset if push is not None else None) or exchange.reset
            yield (None if start is None else start - t0, None if first is None else first - t0,
                   None if end is None else end - t0, None if reset is None else reset.at - t0, exchange.pushed)

    def read_timeline(self) -> tuple[tuple[tuple[float, float], ...], float | None]:
        """``_timeline_of(self.moments())`` in one loop (it runs over every row at each snapshot and filter)."""
        exchanges, pushes, t0 = self._exchanges, self._pushes, self._t0
        starts: list[float] = []
        ends: list[float] = []
        latest: float | None = None
        for i, push_at in zip(self._order, self._push_at, strict=True):
            exchange = exchanges[i]
            push = pushes[push_at] if push_at != _NONE else None
            start = exchange.request_start
            if start is None:
                start = push.promised_at if push is not None and push.promised_at else exchange.response_start
            first, end = exchange.response_start, exchange.response_end
            reset = (push.reset if push is not None else None) or exchange.reset
            reset_at = None if reset is None else reset.at
            # Relative as the rows show them: the latest of the differences, as the spans are of them.
            for at in (start, first, end, reset_at):
                if at is not None:
                    at -= t0
                    if latest is None or at > latest:
                        latest = at
            if start is None:
                continue
            last = end if end is not None else reset_at if reset_at is not None else first if first is not None \
                else start
            start -= t0
            last -= t0
            last = last or start
            starts.append(start)
            ends.append(max(last, start))
        return tuple(spans_of(starts, ends)), latest


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
    for place, exchange in enumerate(exchanges):
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
    return ModelRows(exchanges, pushes, capture.connections, capture.started_at or 0.0, order, push_at, parents)


def _connection_infos(connections: Sequence[Connection], exchanges: Sequence[Exchange],
                      pushes: Sequence[Push]) -> tuple[ConnectionInfo, ...]:
    """One pass over the exchanges and pushes for all connections (not one per connection: that is quadratic).

    Counted in one row of numbers per connection, and equal counts share one dict: a dict and a set for each of a
    gigabyte's tens of thousands of connections made each snapshot's peak, and the counts repeat."""
    place = {c.id: i for i, c in enumerate(connections)}
    counted = {outcome: i for i, outcome in enumerate(OUTCOMES)}
    counts = [[0] * len(OUTCOMES) for _ in connections]
    others: dict[int, dict[str, int]] = {}  # counts of outcomes outside OUTCOMES (none, unless one is added)
    parent_streams: set[tuple[str, int]] = set()
    for push in pushes:
        i = place.get(push.connection_id)
        if i is None:
            continue
        column = counted.get(push.outcome)
        if column is not None:
            counts[i][column] += 1
        else:
            extra = others.setdefault(i, {})
            extra[push.outcome] = extra.get(push.outcome, 0) + 1
        if push.parent_stream_id is not None:
            parent_streams.add((push.connection_id, push.parent_stream_id))
    requests = [0] * len(connections)
    loads: dict[int, list[tuple[int, str]]] = {}
    for exchange in exchanges:
        conn_id = exchange.connection_id
        i = place.get(conn_id) if not exchange.pushed else None
        if i is None:
            continue
        requests[i] += 1
        is_page = exchange.content_type in ("text/html", "application/xhtml+xml")
        if is_page or (exchange.stream_id is not None and (conn_id, exchange.stream_id) in parent_streams):
            loads.setdefault(i, []).append((exchange.id, visible(exchange.path or exchange.url)))
    shared: dict[tuple[int, ...], dict[str, int]] = {}
    infos = []
    for i, conn in enumerate(connections):
        row = counts[i]
        if i in others:
            by_outcome = dict(zip(OUTCOMES, row, strict=True)) | others[i]
        else:
            by_outcome = keep_one(shared, tuple(row), dict(zip(OUTCOMES, row, strict=True)), _COUNTS_LIMIT)
        infos.append(_connection_info(conn, requests[i], by_outcome, loads.get(i, ())))
    return tuple(infos)


def _connection_info(conn: Connection, requests: int, by_outcome: dict[str, int],
                     loads: Sequence[tuple[int, str]]) -> ConnectionInfo:
    return ConnectionInfo(
        id=conn.id, index=conn.index, protocol=conn.protocol, transport=conn.transport,
        server=visible(str(conn.server)), sni=visible(conn.sni) if conn.sni else None,
        alpn=visible(conn.alpn) if conn.alpn else None, tls_version=conn.tls_version, decrypted=conn.decrypted,
        requests=requests, pushes_by_outcome=by_outcome, page_loads=tuple(loads),
        anomalies=tuple(visible(a.message) for a in conn.anomalies[:100]),
    )


def page_loads(rows: Sequence[Row]) -> tuple[PageLoad, ...]:
    """The bursts of activity in ``rows``, each named after its first request (a document, usually)."""
    spans = _row_spans(rows)
    if not spans:
        return ()
    starts = [span[0] for span in spans]
    labels: list[str | None] = [None] * len(spans)
    for place, (start, _first, _end, _reset, pushed) in enumerate(_moments(rows)):
        if start is None or pushed:
            continue
        i = _span_index(starts, start)
        if labels[i] is None:
            labels[i] = rows[place].path  # (a row made for each page load only)
    return tuple(PageLoad(i, a, b, labels[i] or "(pushes only)") for i, (a, b) in enumerate(spans))


def _span_index(starts: list[float], at: float) -> int:
    return max(bisect.bisect_right(starts, at) - 1, 0)


def build_view(capture: Capture) -> CaptureView:
    """Snapshot the capture; safe to call from the loader thread while it is the capture's only writer."""
    connections = sorted(list(capture.connections.values()), key=lambda c: c.index)
    rows = build_rows(capture)
    duration = max(0.0, (capture.ended_at or 0.0) - (capture.started_at or 0.0))
    latest = _latest_moment(rows)
    # The same numbers as report_dict(capture)["summary"]: both read analysis.summary.
    summary = summary_dict(capture)
    return CaptureView(
        name=capture.name or capture.source,
        rows=rows,
        connections=_connection_infos(connections, capture.exchanges, capture.pushes),
        summary=summary,
        diagnostics=tuple(capture.diagnostics),
        duration=duration,
        extent=(duration if latest is None else min(latest, duration)) if duration else
        (0.0 if latest is None else latest),
        analysed=capture.analysed,
        loads=page_loads(rows),
        probed=capture.probed,
    )


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


def _connection_ids(rows: Sequence[Row]) -> set[str]:
    if isinstance(rows, ModelRows):
        return rows.connection_ids()
    return {row.connection_id for row in rows}


def _moments(rows: Iterable[Row]) -> Iterable[tuple[float | None, float | None, float | None, float | None, bool]]:
    """Each row's (start, first byte, end, reset, pushed)."""
    if isinstance(rows, ModelRows):
        return rows.moments()
    return ((row.start, row.response_start, row.end, row.reset_at, row.pushed) for row in rows)


def _subset(rows: Sequence[Row], positions: Sequence[int]) -> Sequence[Row]:
    if isinstance(rows, ModelRows):
        return rows.subset(positions)
    return tuple(rows[place] for place in positions)


# --- filters and sorts --------------------------------------------------------------------------------------

def _matcher(needle: str, texts: SearchTexts | None) -> Callable[[Row], bool]:
    """Whether a row matches the search ``needle`` (lower case): in its path, else in its search text (each distinct
    text searched once), else, before the texts are built, in its URL."""
    if not needle:
        return lambda row: True
    found = texts.finder(needle) if texts is not None else None

    def matches(row: Row) -> bool:
        if needle in row.path.lower():
            return True
        return found(row.exchange_id) if found is not None else needle in row.url.lower()

    return matches


def _place_matcher(rows: Sequence[Row], needle: str, texts: SearchTexts | None) -> Callable[[int, int], bool]:
    """``_matcher`` for the row at a place (given with its exchange id), reading only the path, then the URL if
    need be, of a row made from the model (``ModelRows.path_at``), not the whole row."""
    if not needle:
        return lambda place, exchange_id: True
    if not isinstance(rows, ModelRows):
        row_matches = _matcher(needle, texts)
        return lambda place, exchange_id: row_matches(rows[place])
    found = texts.finder(needle) if texts is not None else None
    path_at, url_at, raw_path_at = rows.path_at, rows.url_at, rows.raw_path_at
    lowered: dict[str, bool] = {}  # per raw path: whether its path as shown holds the needle (paths repeat)

    def matches(place: int, exchange_id: int) -> bool:
        raw_path = raw_path_at(place)
        if raw_path:
            hit = lowered.get(raw_path)
            if hit is None:
                if len(lowered) >= _PATHS_LIMIT:
                    lowered.clear()
                hit = lowered[raw_path] = needle in visible(raw_path).lower()
        else:
            hit = needle in path_at(place).lower()
        if hit:
            return True
        return found(exchange_id) if found is not None else needle in url_at(place).lower()

    return matches


def _in_load(row: Row, load: PageLoad | None) -> bool:
    return load is None or (row.start is not None and load.start <= row.start <= load.end)


def _filter_facts(rows: Sequence[Row], with_start: bool) -> Iterable[FilterFacts]:
    if isinstance(rows, ModelRows):
        return rows.filter_facts(with_start)
    return map(_ROW_FILTER_FACTS, rows)


# A held row's ``FilterFacts``, read in C (a generator's tuple per row cost a third of a filter over held rows).
_ROW_FILTER_FACTS = attrgetter("connection_id", "protocol", "start", "pushed", "outcome", "exchange_id",
                               "parent_exchange_id")


def _kept_positions(rows: Sequence[Row], state: FilterState, texts: SearchTexts | None) -> Sequence[int] | None:
    """Where the rows the filters keep are, in order; None: every row (no filter, or all kept). A kept push keeps its
    parent request visible, so the push is never shown out of context. What is read of each row is its facts
    (``FilterFacts``) and, for a search, its path or URL; no row is kept: the second pass reads two numbers a row."""
    if not state.active:  # every row, in its order (a kept push's parent is kept anyway)
        return None
    matches = _place_matcher(rows, state.search.strip().lower(), texts)
    connection_id, protocol, load, outcomes = state.connection_id, state.protocol, state.load, state.outcomes
    pushes_only, unknown = state.pushes_only, Outcome.UNKNOWN
    kept = array("b")  # per candidate: 1 a kept push, 2 a request the search keeps, 0 a request kept only as a parent
    places, ids = array("q"), array("q")
    needed_parents: set[int | None] = set()
    for place, (connection, row_protocol, start, pushed, outcome, exchange_id, parent) in enumerate(
            _filter_facts(rows, load is not None)):
        if (connection_id is not None and connection != connection_id) or \
                (protocol is not None and row_protocol != protocol) or \
                (load is not None and (start is None or not load.start <= start <= load.end)):
            continue
        if pushed:
            if (outcome or unknown) not in outcomes or not matches(place, exchange_id):
                continue
            needed_parents.add(parent)
            kept.append(1)
        else:
            kept.append(2 if not pushes_only and matches(place, exchange_id) else 0)
        places.append(place)
        ids.append(exchange_id)
    if not needed_parents or needed_parents == {None}:
        wanted: Iterable[object] = kept
    else:
        wanted = (how or exchange_id in needed_parents for how, exchange_id in zip(kept, ids, strict=True))
    positions = array("q", compress(places, wanted))  # (8 bytes a row kept: no int object each)
    # Every row kept, in its order (a filter keeps the order): the rows themselves, whose spans a snapshot has read.
    return None if len(positions) == len(rows) else positions


def filter_rows(rows: Sequence[Row], state: FilterState, texts: SearchTexts | None = None) -> list[Row]:
    """The rows the filters keep (see ``_kept_positions``). ``texts``: what the search looks in (``search_texts``);
    without them, the URL."""
    positions = _kept_positions(rows, state, texts)
    return list(rows) if positions is None else [rows[place] for place in positions]


def _sort_key(by: str) -> Callable[[Row], Any]:
    if by == "duration":
        return lambda row: -row.duration
    if by == "size":
        return lambda row: -row.body_bytes
    return lambda row: (ATTENTION_RANK.get(row.outcome if row.pushed else None, 4), -row.wasted_bytes)


def sort_rows(rows: list[Row], by: str) -> list[Row]:
    """``start`` keeps the tree order (pushes under their request); the others are flat, biggest first."""
    return rows if by not in SORTS[1:] else sorted(rows, key=_sort_key(by))


def _sorted_positions(rows: Sequence[Row], positions: Sequence[int] | None, by: str) -> list[int]:
    """``positions`` (None: every row) in the order ``sort_rows`` gives their rows, stably; no row made."""
    keys = rows.sort_keys(by) if isinstance(rows, ModelRows) else list(map(_sort_key(by), rows))
    if positions is None:
        return sorted(range(len(keys)), key=keys.__getitem__)
    return sorted(positions, key=keys.__getitem__)


@dataclass(frozen=True, slots=True)
class RowSet:
    """What the waterfall shows for one snapshot, filter state and sort: the rows and what their axis needs.

    All of it is O(rows) to compute, so the loader thread computes it for each snapshot (with the filters and sort
    the user had then) and the UI thread only takes it over."""

    rows: Sequence[Row]
    filters: FilterState
    sort: str
    spans: tuple[tuple[float, float], ...]  # ``activity_spans`` of the rows: the axis with idle gaps collapsed
    tag_width: int  # the widest connection id, plus a space


def row_set(rows: Sequence[Row], filters: FilterState, sort: str, texts: SearchTexts | None = None) -> RowSet:
    positions = _kept_positions(rows, filters, texts)
    if sort in SORTS[1:]:
        positions = _sorted_positions(rows, positions, sort)
    if positions is not None:
        shown = _subset(rows, positions)
    else:
        shown = rows if isinstance(rows, ModelRows | tuple) else tuple(rows)
    spans = _row_spans(shown)
    tag_width = max(map(len, _connection_ids(shown)), default=2) + 1
    return RowSet(shown, filters, sort, tuple(spans), tag_width)


def _row_spans(rows: Iterable[Row]) -> list[tuple[float, float]]:
    """``activity_spans`` of each timed row's (start, last moment shown)."""
    return list(_timeline(rows)[0])


def _latest_moment(rows: Iterable[Row]) -> float | None:
    """The last moment any row shows (start, first byte, end or reset); None: no row shows one."""
    return _timeline(rows)[1]


def _timeline(rows: Iterable[Row]) -> tuple[tuple[tuple[float, float], ...], float | None]:
    """The rows' activity spans and last moment, in one pass; a snapshot's rows keep theirs (``ModelRows``: its
    page loads, its extent and its default row set read them, and each pass reads every exchange)."""
    if isinstance(rows, ModelRows):
        if rows.timeline is None:
            rows.timeline = rows.read_timeline()
        return rows.timeline
    return _timeline_of((row.start, row.response_start, row.end, row.reset_at, row.pushed) for row in rows)


def _timeline_of(moments: Iterable[tuple[float | None, float | None, float | None, float | None, bool]]
                 ) -> tuple[tuple[tuple[float, float], ...], float | None]:
    """``Row.last`` inlined, as this runs over every row shown, and the starts and ends gathered apart
    (``spans_of``: no pair made per row)."""
    starts: list[float] = []
    ends: list[float] = []
    latest: float | None = None
    for start, first, end, reset, _pushed in moments:
        for at in (start, first, end, reset):
            if at is not None and (latest is None or at > latest):
                latest = at
        if start is None:
            continue
        last = end
        if last is None:
            last = reset
            if last is None:
                last = first
                if last is None:
                    last = start
        last = last or start
        starts.append(start)
        ends.append(max(last, start))
    return tuple(spans_of(starts, ends)), latest
