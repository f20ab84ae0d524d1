"""The model folded into what the screen shows: waterfall rows, connection summaries, filters. No Textual here.

The loader thread builds a ``CaptureView`` snapshot from the capture it is still filling, and hands it to the UI
thread in a message; widgets then only ever read snapshots, whose order, axis, page loads and counts are fixed. A
row is made from the model as it is read (``rows.ModelRows``), so while a load goes on it shows its exchange as it
is now: only ever more of it, as the model only grows.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import attrgetter
from typing import Any

from pushscope.analysis.summary import summary_dict
from pushscope.events import Diagnostic
from pushscope.model.compact import keep_one
from pushscope.model.entities import Capture, Connection, Exchange, Push
from pushscope.presentation import ATTENTION_RANK, OUTCOME_GLYPHS, OUTCOMES
from pushscope.safe_text import visible
from pushscope.tui.rows import (
    FilterFacts,
    ModelRows,
    Row,
    build_rows,
    connection_ids_of,
    latest_moment,
    moments_of,
    row_spans,
    subset_of,
)
from pushscope.tui.rows import exchange_ids_of as exchange_ids_of  # re-exported, as the rows themselves are
from pushscope.tui.rows import index_of_exchange as index_of_exchange
from pushscope.tui.rows import protocols_of as protocols_of
from pushscope.tui.rows import rows_on_connection as rows_on_connection
from pushscope.tui.searching import SearchTexts
from pushscope.tui.searching import search_texts as search_texts  # re-exported: the view's search index
from pushscope.vocabulary import Outcome

LEVEL_GLYPHS = {"error": ("✖", "$error"), "warning": ("⚠", "$warning"), "info": ("ℹ", "$text-muted")}
SORTS = ("start", "duration", "size", "outcome")


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
    spans = row_spans(rows)
    if not spans:
        return ()
    starts = [span[0] for span in spans]
    labels: list[str | None] = [None] * len(spans)
    for place, (start, _first, _end, _reset, pushed) in enumerate(moments_of(rows)):
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
    latest = latest_moment(rows)
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
    needed_parents.discard(None)  # (a push shown under no request needs none)
    if not needed_parents:
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
        shown = subset_of(rows, positions)
    else:
        shown = rows if isinstance(rows, ModelRows | tuple) else tuple(rows)
    spans = row_spans(shown)
    tag_width = max(map(len, connection_ids_of(shown)), default=2) + 1
    return RowSet(shown, filters, sort, tuple(spans), tag_width)

