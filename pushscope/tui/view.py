"""The model folded into what the screen shows: waterfall rows, connection summaries, filters. No Textual here.

The loader thread builds a ``CaptureView`` snapshot from the capture it is still filling, and hands it to the UI
thread in a message; widgets then only ever read immutable snapshots, so they never race the builder.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

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
    rows: tuple[Row, ...] = ()
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


# One string per content type and per URL seen, for the rows (each row's was a new one: 884,000 at 1 GB, where
# 13 URLs were asked for on every connection). Bounded: each starts over when full.
_CONTENT_TYPES: dict[str, str] = {}
_CONTENT_TYPES_LIMIT = 4096
_URLS: dict[str, str] = {}
_URLS_LIMIT = 1 << 16
# One float per moment shown, per capture start: a row's times were new floats each (3.2 a row), though the frames
# of one packet share their moment (a push's start is its promise). By start, then by moment; bounded as above.
_RELATIVE: dict[float, dict[float, float]] = {}
_RELATIVE_LIMIT = 1 << 16
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


def _relative_times(t0: float) -> dict[float, float]:
    """The moments already made relative to ``t0`` (equal moments give equal results: sharing one is exact)."""
    times = _RELATIVE.get(t0)
    if times is None:
        if len(_RELATIVE) >= 8:
            _RELATIVE.clear()
        times = _RELATIVE[t0] = {}
    return times


def _shared_rel(at: float | None, t0: float, times: dict[float, float]) -> float | None:
    if at is None:
        return None
    if at == 0.0:  # (0.0 and -0.0 are one key, and t0 may be 0.0: their differences differ in sign)
        return at - t0
    return keep_one(times, at, at - t0, _RELATIVE_LIMIT)


def _row(exchange: Exchange, conn: Connection | None, push: Push | None, t0: float, depth: int,
         parent_id: int | None) -> Row:
    outcome = push.outcome if push is not None else None
    wasted = push.cost.wasted_bytes if push is not None and push.outcome == Outcome.WASTED else 0
    reset = (push.reset if push is not None else None) or exchange.reset
    url = visible(exchange.url or (push.url if push is not None else ""))
    url = keep_one(_URLS, url, url, _URLS_LIMIT)
    raw_path = exchange.path
    path = visible(raw_path) if raw_path else url or f"stream {exchange.stream_id}"
    content_type = visible(exchange.content_type or "")
    times = _relative_times(t0)
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
        start=_shared_rel(exchange.request_start if exchange.request_start is not None else
                          (push.promised_at if push is not None and push.promised_at else exchange.response_start),
                          t0, times),
        response_start=_shared_rel(exchange.response_start, t0, times),
        end=_shared_rel(exchange.response_end, t0, times),
        promised_at=_shared_rel(push.promised_at, t0, times) if push is not None and push.promised_at else None,
        reset_at=_shared_rel(reset.at, t0, times) if reset is not None else None,
        push_index=push.id if push is not None else None,
        outcome=outcome,
        wasted_bytes=wasted,
        parent_exchange_id=parent_id,
        content_type=keep_one(_CONTENT_TYPES, content_type, content_type, _CONTENT_TYPES_LIMIT),
    )


def _start_moment(exchange: Exchange, push: Push | None) -> float:
    """When a row starts, for ordering: its request, else its promise, else its response (inf: none known).

    A float the model already holds, not a (moment, id) pair: rows are sorted by it stably from exchange order, so
    equal moments keep id order, without a pair made for each of hundreds of thousands of rows at each snapshot."""
    for at in (exchange.request_start, push.promised_at if push else None, exchange.response_start):
        if at:
            return at
    return math.inf


class RowCache:
    """The rows of the previous snapshot, by exchange id, each with a hash of what it was built from: a snapshot
    builds again only the rows whose exchange, push or place changed, and shares the others' Row objects with the
    previous snapshot (so the UI thread, dropping that snapshot, frees almost no row either).

    For the snapshots shown while loading: the final view is built with ``ExactRows`` instead (a hash can collide,
    a header list replaced in between can reuse the old one's address: rare, and never in what the load ends
    with). Kept as two arrays indexed by exchange id (16 bytes a row), not a dict of tuples (about 130)."""

    def __init__(self) -> None:
        self._made_of = array("q")  # per exchange id: the hash its row was made of (0: none yet)
        self._rows: list[Row | None] = []

    def kept(self, exchange_id: int) -> Row | None:
        """The row last made for this exchange, if any."""
        return self._rows[exchange_id] if 0 <= exchange_id < len(self._rows) else None

    def row(self, exchange: Exchange, conn: Connection | None, push: Push | None, t0: float, depth: int,
            parent_id: int | None) -> Row:
        reset = (push.reset if push is not None else None) or exchange.reset
        made_of = hash((
            exchange.request_start, exchange.response_start, exchange.response_end, exchange.body_bytes,
            reset.at if reset is not None else None, id(exchange.request_headers), len(exchange.request_headers),
            id(exchange.response_headers), len(exchange.response_headers), exchange.unknown_fields,
            exchange.assumed_authority, conn.index if conn is not None else 0, t0, depth, parent_id,
            None if push is None else (push.id, push.outcome, push.promised_at, push.url, push.cost.wasted_bytes),
        ))
        exchange_id, rows = exchange.id, self._rows
        kept = rows[exchange_id] if 0 <= exchange_id < len(rows) else None  # (``kept``, inlined: once a row)
        if kept is not None and self._made_of[exchange_id] == made_of:
            return kept
        row = _row(exchange, conn, push, t0, depth, parent_id)
        if exchange_id >= 0:
            if exchange_id >= len(rows):
                grow = exchange_id + 1 - len(rows)
                rows += [None] * grow
                self._made_of += array("q", [0]) * grow
            rows[exchange_id] = row
            self._made_of[exchange_id] = made_of
        return row


class ExactRows:
    """For the final view: every row built again from the model, and where it equals the row a snapshot kept
    (``RowCache``), that one is used instead, so the final view shares the rows the UI already holds rather than
    holding a second set beside them until the snapshot is dropped (a gigabyte's rows are hundreds of MB)."""

    def __init__(self, kept: RowCache) -> None:
        self._kept = kept

    def row(self, exchange: Exchange, conn: Connection | None, push: Push | None, t0: float, depth: int,
            parent_id: int | None) -> Row:
        row = _row(exchange, conn, push, t0, depth, parent_id)
        kept = self._kept.kept(exchange.id)
        return kept if kept is not None and kept == row else row


def build_rows(capture: Capture, exchanges: Sequence[Exchange], pushes: Sequence[Push],
               cache: RowCache | ExactRows | None = None) -> list[Row]:
    """Requests in start order, each followed by the pushes promised on its stream (same connection)."""
    t0 = capture.started_at or 0.0
    connections = capture.connections
    push_of = {p.exchange_id: p for p in pushes if p.exchange_id is not None}
    # A pushed exchange goes under the first request on its promise's stream. Only the streams pushes were promised
    # on are looked up: a key per request would be a pair for each of hundreds of thousands of exchanges.
    promised_on: dict[tuple[str, int], Exchange | None] = {
        (push.connection_id, push.parent_stream_id): None for push in push_of.values()
        if push.parent_stream_id is not None}
    if promised_on:
        for exchange in exchanges:
            if not exchange.pushed and exchange.stream_id is not None:
                key = (exchange.connection_id, exchange.stream_id)
                if key in promised_on and promised_on[key] is None:
                    promised_on[key] = exchange
    children: dict[int, list[Exchange]] = {}
    top: list[Exchange] = []
    for exchange in exchanges:
        push = push_of.get(exchange.id)
        parent = None
        if exchange.pushed and push is not None and push.parent_stream_id is not None:
            parent = promised_on.get((exchange.connection_id, push.parent_stream_id))
        if parent is not None:
            children.setdefault(parent.id, []).append(exchange)
        else:
            top.append(exchange)
    top.sort(key=lambda e: _start_moment(e, push_of.get(e.id)))  # (stable: ``exchanges`` are in id order)
    make = cache.row if cache is not None else _row
    rows: list[Row] = []
    for exchange in top:
        conn = connections.get(exchange.connection_id)
        rows.append(make(exchange, conn, push_of.get(exchange.id), t0, 0, None))
        kids = children.get(exchange.id, ())
        for child in sorted(kids, key=lambda e: _start_moment(e, push_of.get(e.id))):
            rows.append(make(child, conn, push_of.get(child.id), t0, 1, exchange.id))
    return rows


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
    for row in rows:
        if row.start is None or row.pushed:
            continue
        i = _span_index(starts, row.start)
        if labels[i] is None:
            labels[i] = row.path
    return tuple(PageLoad(i, a, b, labels[i] or "(pushes only)") for i, (a, b) in enumerate(spans))


def _span_index(starts: list[float], at: float) -> int:
    return max(bisect.bisect_right(starts, at) - 1, 0)


def build_view(capture: Capture, cache: RowCache | ExactRows | None = None) -> CaptureView:
    """Snapshot the capture; safe to call from the loader thread while it is the capture's only writer.
    ``cache``: the rows kept from the previous snapshot (see ``RowCache``, ``ExactRows``)."""
    exchanges = list(capture.exchanges)
    pushes = list(capture.pushes)
    connections = sorted(list(capture.connections.values()), key=lambda c: c.index)
    rows = build_rows(capture, exchanges, pushes, cache)
    duration = max(0.0, (capture.ended_at or 0.0) - (capture.started_at or 0.0))
    latest = _latest_moment(rows)
    # The same numbers as report_dict(capture)["summary"]: both read analysis.summary.
    summary = summary_dict(capture)
    return CaptureView(
        name=capture.name or capture.source,
        rows=tuple(rows),
        connections=_connection_infos(connections, exchanges, pushes),
        summary=summary,
        diagnostics=tuple(capture.diagnostics),
        duration=duration,
        extent=(duration if latest is None else min(latest, duration)) if duration else
        (0.0 if latest is None else latest),
        analysed=capture.analysed,
        loads=page_loads(rows),
        probed=capture.probed,
    )


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


def _in_load(row: Row, load: PageLoad | None) -> bool:
    return load is None or (row.start is not None and load.start <= row.start <= load.end)


def filter_rows(rows: Iterable[Row], state: FilterState, texts: SearchTexts | None = None) -> list[Row]:
    """Apply the filters. A kept push keeps its parent request visible, so the push is never shown out of context.
    ``texts``: what the search looks in (``search_texts``); without them, the URL."""
    if not state.active:  # every row, in its order (a kept push's parent is kept anyway)
        return list(rows)
    matches = _matcher(state.search.strip().lower(), texts)
    base = [r for r in rows
            if (state.connection_id is None or r.connection_id == state.connection_id)
            and (state.protocol is None or r.protocol == state.protocol) and _in_load(r, state.load)]
    kept_pushes = {r.exchange_id for r in base
                   if r.pushed and (r.outcome or Outcome.UNKNOWN) in state.outcomes and matches(r)}
    needed_parents = {r.parent_exchange_id for r in base if r.exchange_id in kept_pushes}
    out: list[Row] = []
    for row in base:
        if row.pushed:
            if row.exchange_id in kept_pushes:
                out.append(row)
        elif row.exchange_id in needed_parents or (not state.pushes_only and matches(row)):
            out.append(row)
    return out


def sort_rows(rows: list[Row], by: str) -> list[Row]:
    """``start`` keeps the tree order (pushes under their request); the others are flat, biggest first."""
    if by == "duration":
        return sorted(rows, key=lambda r: -r.duration)
    if by == "size":
        return sorted(rows, key=lambda r: -r.body_bytes)
    if by == "outcome":
        return sorted(rows, key=lambda r: (ATTENTION_RANK.get(r.outcome if r.pushed else None, 4), -r.wasted_bytes))
    return rows


@dataclass(frozen=True, slots=True)
class RowSet:
    """What the waterfall shows for one snapshot, filter state and sort: the rows and what their axis needs.

    All of it is O(rows) to compute, so the loader thread computes it for each snapshot (with the filters and sort
    the user had then) and the UI thread only takes it over."""

    rows: tuple[Row, ...]
    filters: FilterState
    sort: str
    spans: tuple[tuple[float, float], ...]  # ``activity_spans`` of the rows: the axis with idle gaps collapsed
    tag_width: int  # the widest connection id, plus a space


def row_set(rows: Iterable[Row], filters: FilterState, sort: str, texts: SearchTexts | None = None) -> RowSet:
    shown = tuple(sort_rows(filter_rows(rows, filters, texts), sort))
    spans = _row_spans(shown)
    tag_width = max(map(len, {r.connection_id for r in shown}), default=2) + 1
    return RowSet(shown, filters, sort, tuple(spans), tag_width)


def _row_spans(rows: Iterable[Row]) -> list[tuple[float, float]]:
    """``activity_spans`` of each timed row's (start, last moment shown): ``Row.last`` inlined, as this runs over
    every row shown, and the starts and ends gathered apart (``spans_of``: no pair made per row)."""
    starts: list[float] = []
    ends: list[float] = []
    for row in rows:
        start = row.start
        if start is None:
            continue
        last = row.end
        if last is None:
            last = row.reset_at
            if last is None:
                last = row.response_start
                if last is None:
                    last = start
        last = last or start
        starts.append(start)
        ends.append(max(last, start))
    return spans_of(starts, ends)


def _latest_moment(rows: Iterable[Row]) -> float | None:
    """The last moment any row shows (start, first byte, end or reset); None: no row shows one."""
    latest: float | None = None
    for row in rows:
        for at in (row.start, row.response_start, row.end, row.reset_at):
            if at is not None and (latest is None or at > latest):
                latest = at
    return latest
