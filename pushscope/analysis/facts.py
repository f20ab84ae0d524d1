"""The facts each verdict rule reads, gathered once per push from the whole capture.

Keeping the gathering here lets ``rules.py`` be a short ordered table of predicates over these facts.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pushscope.analysis.links import PreloadLink, preload_links
from pushscope.analysis.order import response_arrived_before_promise
from pushscope.analysis.refusal import Refusal, RefusalIndex
from pushscope.analysis.unreadable import (
    UnreadableTraffic,
    known_authorities,
    resolve_unreadable_document,
    url_key,
)
from pushscope.decode.frame_names import DATA
from pushscope.http.bodies import MAX_DECODED, BodyUnavailable
from pushscope.http.freshness import current_age, explain_age, freshness, vary_matches
from pushscope.http.headers import header_value
from pushscope.http.references import Reference, references_in
from pushscope.model.bodies import decode_body
from pushscope.model.entities import Capture, Connection, Exchange, Push, Reset

DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "text/css")
# Headers whose difference makes a browser refuse a pushed response for its own request.
MATCHED_REQUEST_HEADERS = ("accept-encoding", "accept", "accept-language", "user-agent")
CREDENTIAL_HEADERS = ("cookie", "authorization")


@dataclass(slots=True)
class ReferenceSeen:
    document: Exchange
    reference: Reference
    needed_at: float | None
    assumed: str = ""  # what was assumed to read a document whose URL the capture cannot show


class Excluding(Sequence[str]):
    """A shared per-connection list seen without one item: every push on a connection reads the same documents,
    so each push gets this view instead of its own copy (10,000 pushes x 10,000 documents must stay linear)."""

    __slots__ = ("_items", "_skip")

    def __init__(self, items: list[str], skip: int | None) -> None:
        self._items, self._skip = items, skip

    def __len__(self) -> int:
        return len(self._items) - (self._skip is not None)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._items[index + (self._skip is not None and index >= self._skip)]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


@dataclass(slots=True)
class PushFacts:
    push: Push
    exchange: Exchange | None
    connection: Connection | None
    url: str
    client_reset: Reset | None = None
    server_reset: Reset | None = None
    fresh_copy: Exchange | None = None
    fresh_copy_why: str = ""
    # The latest stored copy that existed but could not serve the push (stale), and why, with the numbers.
    stale_copy: Exchange | None = None
    stale_copy_why: str = ""
    # What Vary compared when it decided which stored copy applies (header names and both values).
    vary_notes: list[str] = field(default_factory=list)
    earlier_promise: Push | None = None
    push_disabled: str = ""
    must_refuse: Refusal | None = None  # a push the client must refuse (RFC 9113 §8.4)
    own_request: Exchange | None = None
    own_request_detail: str = ""
    own_request_why: str = ""
    # A later request of the URL that is not evidence against the push (a new need, or after it was claimed).
    later_request: Exchange | None = None
    later_request_why: str = ""
    url_unknown: bool = False
    # The client's earlier traffic the capture holds but pushscope could not read (count, first few).
    unreadable_traffic: list[str] = field(default_factory=list)
    unreadable_traffic_count: int = 0
    complete: bool = False
    completed_at: float | None = None
    closed_before_complete: bool = False
    references: list[ReferenceSeen] = field(default_factory=list)
    references_elsewhere: list[ReferenceSeen] = field(default_factory=list)
    unreadable_documents: Sequence[str] = field(default_factory=list)
    documents_checked: Sequence[str] = field(default_factory=list)
    preload: PreloadLink | None = None

    @property
    def needed_at(self) -> float | None:
        times = [r.needed_at for r in self.references if r.needed_at is not None]
        return min(times) if times else None

    @property
    def late_by(self) -> float:
        if self.needed_at is None or self.completed_at is None:
            return 0.0
        return max(0.0, self.completed_at - self.needed_at)


class CaptureIndex:
    """Lookups over the whole capture that every push's facts need, built once so judging is linear."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        # One client, one HTTP cache: the source's cache scope where it named one, else the client's address.
        self.client_of = {cid: conn.cache_scope or conn.client.address for cid, conn in capture.connections.items()}
        urls: dict[str, str] = {}  # one string per distinct URL: there are far fewer URLs than exchanges
        self.url_of: dict[int, str] = {e.id: urls.setdefault(key, key) for e in capture.exchanges
                                       for key in (url_key(e),)}
        self.authorities = known_authorities(capture)
        self.unreadable_traffic = UnreadableTraffic(capture)
        self.refusals = RefusalIndex(capture)
        self.requests_by_url: dict[str, list[Exchange]] = {}
        self.exchanges_by_url: dict[str, list[Exchange]] = {}
        self.documents_by_client: dict[str | None, list[Exchange]] = {}
        self.requests_by_stream: dict[tuple[str, int | None], Exchange] = {}
        for exchange in capture.exchanges:
            url = self.url_of[exchange.id]
            self.exchanges_by_url.setdefault(url, []).append(exchange)
            if not exchange.pushed and exchange.request_headers:
                self.requests_by_url.setdefault(url, []).append(exchange)
            if not exchange.pushed:
                self.requests_by_stream[(exchange.connection_id, exchange.stream_id)] = exchange
            if _is_document(exchange) or _is_revalidated_document(exchange):
                self.documents_by_client.setdefault(self.client_of.get(exchange.connection_id), []).append(exchange)
        # A 304 reuses the client's stored copy: its references are those of the last full copy seen, if any.
        self.revalidated_from: dict[int, Exchange | None] = {}
        for documents in self.documents_by_client.values():
            latest: dict[str, Exchange] = {}
            for document in sorted(documents, key=lambda e: e.request_start or 0.0):
                url = self.url_of[document.id]
                if document.status == 304:
                    self.revalidated_from[document.id] = latest.get(url)
                elif not document.pushed:
                    latest[url] = document
        # What can sit in each client's HTTP cache: its own complete responses; claimed pushes join as judged.
        self.stored: dict[tuple[str | None, str], list[Exchange]] = {}
        for exchange in capture.exchanges:
            if not exchange.pushed and exchange.response_end is not None and exchange.reset is None:
                self.stored.setdefault(self._cache_key(exchange), []).append(exchange)
        for entries in self.stored.values():
            entries.sort(key=_received_at)
        self.pushes_by_connection_url: dict[tuple[str, str], list[Push]] = {}
        for push in capture.pushes:
            self.pushes_by_connection_url.setdefault((push.connection_id, url_key(push)), []).append(push)
        self.used_pushes: set[int] = set()
        self._references: dict[int, list[Reference]] = {}
        self._unreadable: dict[int, str] = {}
        self._decoded_length: dict[int, int] = {}
        self._assumed: dict[int, str] = {}
        self._data_frames: dict[int, tuple[list[float], list[int]]] = {}
        self._checked: dict[tuple[str | None, str], tuple[list[str], list[str], dict[int, int], dict[int, int]]] = {}
        self._loaded: dict[str | None, list[Exchange]] = {}
        self._referrers: dict[str | None, dict[str, dict[str, list[tuple[Exchange, Reference]]]]] = {}
        self._loaded_on: dict[str | None, dict[str, list[Exchange]]] = {}
        self._round_trip: dict[str, float | None] = {}

    def _cache_key(self, exchange: Exchange) -> tuple[str | None, str]:
        return self.client_of.get(exchange.connection_id), self.url_of[exchange.id]

    def stored_copies(self, push: Push, url: str) -> list[Exchange]:
        return self.stored.get((self.client_of.get(push.connection_id), url), [])

    def mark_used(self, push: Push) -> None:
        """A claimed push enters its client's HTTP cache, so later pushes of that URL may duplicate it."""
        exchange = self.capture.exchange(push.exchange_id)
        if exchange is None:
            return
        self.used_pushes.add(exchange.id)
        if exchange.response_end is not None and exchange.reset is None:
            insort(self.stored.setdefault(self._cache_key(exchange), []), exchange, key=_received_at)

    def same_client(self, a: Exchange | Push, b: Exchange | Push) -> bool:
        return self.client_of.get(a.connection_id) == self.client_of.get(b.connection_id)

    def references_of(self, document: Exchange) -> list[Reference]:
        if document.id in self.revalidated_from and document.id not in self._references:
            source = self.revalidated_from[document.id]
            if source is None:
                self._unreadable[document.id] = ("304 Not Modified: the document's body is in the client's cache, "
                                                 "not in this capture")
                self._references[document.id] = []
            else:
                self._references[document.id] = self.references_of(source)
        if document.id not in self._references:
            try:
                decoded = decode_body(document)
                body = decoded.data
                self._decoded_length[document.id] = len(body)
                self._references[document.id] = self._read_references(document, body)
                if decoded.truncated:  # references past the cap are unknown, so a missing one is not "none"
                    self._unreadable[document.id] = (f"decoded body over {MAX_DECODED} bytes: references were "
                                                     "read from its first part only")
            except BodyUnavailable as exc:
                self._unreadable[document.id] = str(exc)
                self._references[document.id] = []
        return self._references[document.id]

    def _read_references(self, document: Exchange, body: bytes) -> list[Reference]:
        if document.url_known:
            return references_in(document.content_type, body, document.url)
        resolved = resolve_unreadable_document(document, body, self.capture, self.authorities)
        self._assumed[document.id] = resolved.assumed
        if resolved.unresolved:
            self._unreadable[document.id] = resolved.assumed
        return resolved.references

    def assumed(self, document: Exchange) -> str:
        """What was assumed to read a document whose URL the capture cannot show ("" when nothing was)."""
        source = self.revalidated_from.get(document.id) or document
        return self._assumed.get(source.id, "")

    def needed_at(self, document: Exchange, reference: Reference) -> float | None:
        """When the bytes naming the reference arrived: its decoded offset mapped onto the DATA frames.

        Offsets are in the decoded body and frames carry encoded bytes, so with a Content-Encoding the
        position is mapped proportionally (compression is roughly even across a document).
        """
        times, ends = self._data_frames_of(document)
        if not times:
            return document.response_end  # e.g. a 304: usable once its headers are in
        decoded_length = self._decoded_length.get(document.id) or 1
        wire_offset = min(reference.offset, decoded_length) * document.body_bytes / decoded_length
        return times[min(bisect_left(ends, wire_offset), len(times) - 1)]

    def _data_frames_of(self, document: Exchange) -> tuple[list[float], list[int]]:
        """When each server DATA frame of the document arrived and the body offset it ends at (once per document:
        a page that promised 10,000 pushes has 10,000 frames on its stream)."""
        if document.id not in self._data_frames:
            times: list[float] = []
            ends: list[int] = []
            seen = 0
            for frame in document.frames:
                if frame.frame_type == DATA and not frame.quic and frame.sender == "server":
                    seen += frame.length
                    times.append(frame.at)
                    ends.append(seen)
            self._data_frames[document.id] = (times, ends)
        return self._data_frames[document.id]

    def unreadable_reason(self, document: Exchange) -> str | None:
        self.references_of(document)
        return self._unreadable.get(document.id)

    def loaded_documents(self, push: Push) -> list[Exchange]:
        """HTML and CSS the push's client loaded: its own requests, plus pushed ones that something references."""
        client = self.client_of.get(push.connection_id)
        if client not in self._loaded:
            self._loaded[client] = self._loaded_of(self.documents_by_client.get(client, []))
        return self._loaded[client]

    def _loaded_of(self, documents: list[Exchange]) -> list[Exchange]:
        """The client's own documents, then the pushed ones reachable from them by references (a worklist, so a
        long chain of pushed stylesheets stays linear), in capture order."""
        loaded = [e for e in documents if not e.pushed]
        pending: dict[str, list[Exchange]] = {}
        for doc in documents:
            if doc.pushed:
                pending.setdefault(self.url_of[doc.id], []).append(doc)
        referenced = {r.url for doc in loaded for r in self.references_of(doc)}
        queue = list(referenced)
        reached: set[int] = set()
        while queue:
            for doc in pending.pop(queue.pop(), []):
                reached.add(doc.id)
                for reference in self.references_of(doc):
                    if reference.url not in referenced:
                        referenced.add(reference.url)
                        queue.append(reference.url)
        return loaded + [doc for doc in documents if doc.id in reached]

    def checked_on_connection(self, push: Push) -> tuple[list[str], list[str], dict[int, int], dict[int, int]]:
        """The URLs of the documents loaded on the push's connection, why some are unreadable, and where each
        document sits in those two lists: computed once per connection, read by every push on it."""
        key = (self.client_of.get(push.connection_id), push.connection_id)
        if key not in self._checked:
            urls: list[str] = []
            unreadable: list[str] = []
            url_at: dict[int, int] = {}
            unreadable_at: dict[int, int] = {}
            for document in self.loaded_on_connection(push):
                url_at[document.id] = len(urls)
                urls.append(document.url)
                why = self.unreadable_reason(document)
                if why is not None:
                    unreadable_at[document.id] = len(unreadable)
                    unreadable.append(f"{document.url}: {why}")
            self._checked[key] = (urls, unreadable, url_at, unreadable_at)
        return self._checked[key]

    def loaded_on_connection(self, push: Push) -> list[Exchange]:
        client = self.client_of.get(push.connection_id)
        if client not in self._loaded_on:
            by_connection: dict[str, list[Exchange]] = {}
            for document in self.loaded_documents(push):
                by_connection.setdefault(document.connection_id, []).append(document)
            self._loaded_on[client] = by_connection
        return self._loaded_on[client].get(push.connection_id, [])

    def referrers(self, push: Push, url: str) -> dict[str, list[tuple[Exchange, Reference]]]:
        """Loaded documents of the push's client that reference ``url``, by connection, first reference each."""
        client = self.client_of.get(push.connection_id)
        if client not in self._referrers:
            by_url: dict[str, dict[str, list[tuple[Exchange, Reference]]]] = {}
            for document in self.loaded_documents(push):
                seen: set[str] = set()
                for reference in self.references_of(document):
                    if reference.url not in seen:
                        seen.add(reference.url)
                        by_connection = by_url.setdefault(reference.url, {})
                        by_connection.setdefault(document.connection_id, []).append((document, reference))
            self._referrers[client] = by_url
        return self._referrers[client].get(url, {})

    def parent_of(self, push: Push) -> Exchange | None:
        return self.requests_by_stream.get((push.connection_id, push.parent_stream_id))

    def request_round_trip(self, connection_id: str) -> float | None:
        """The quickest request-to-first-byte on the connection: a floor for what a request would have cost."""
        if connection_id not in self._round_trip:
            times = [
                e.response_start - e.request_start
                for (cid, _), e in self.requests_by_stream.items()
                if cid == connection_id and e.request_start is not None and e.response_start is not None
                and e.response_start >= e.request_start
            ]
            self._round_trip[connection_id] = min(times) if times else None
        return self._round_trip[connection_id]


def _is_revalidated_document(exchange: Exchange) -> bool:
    """A 304 answer to a request for a page or stylesheet (by its Accept, Sec-Fetch-Dest or path)."""
    if exchange.pushed or exchange.status != 304:
        return False
    accept = header_value(exchange.request_headers, "accept") or ""
    destination = header_value(exchange.request_headers, "sec-fetch-dest") or ""
    path = exchange.path.split("?")[0]
    return ("text/html" in accept or accept.startswith("text/css") or destination in ("document", "style", "iframe")
            or path.endswith(("/", ".html", ".htm", ".css")))


def _is_document(exchange: Exchange) -> bool:
    status = exchange.status
    return exchange.content_type in DOCUMENT_TYPES and status is not None and 200 <= status < 300


def gather_facts(push: Push, index: CaptureIndex) -> PushFacts:
    capture = index.capture
    exchange = capture.exchange(push.exchange_id)
    facts = PushFacts(push, exchange, capture.connections.get(push.connection_id), url_key(push))
    facts.url_unknown = not push.url_known
    _resets(facts)
    _completion(facts)
    _push_permission(facts)
    facts.must_refuse = index.refusals.refusal(push, facts.connection)
    _fresh_copy(facts, index)
    _earlier_promise(facts, index)
    _references(facts, index)
    _own_request(facts, index)
    _unreadable_traffic(facts, index)
    _preload(facts, index)
    return facts


def _resets(facts: PushFacts) -> None:
    reset = facts.push.reset
    if reset is None and facts.exchange is not None:
        reset = facts.exchange.reset
    if reset is None:
        return
    if reset.by == "client":
        facts.client_reset = reset
    else:
        facts.server_reset = reset


def _completion(facts: PushFacts) -> None:
    exchange, conn = facts.exchange, facts.connection
    facts.complete = exchange is not None and exchange.complete and facts.push.reset is None
    facts.completed_at = exchange.response_end if exchange is not None else None
    if not facts.complete and conn is not None and conn.ended_cleanly and facts.push.reset is None:
        facts.closed_before_complete = True


def _push_permission(facts: PushFacts) -> None:
    conn = facts.connection
    if conn is None:
        return
    if conn.protocol == "h3" or facts.push.push_id is not None:
        if conn.max_push_id is None and conn.settings["client"]:
            # Only said when the client's control stream was seen (its SETTINGS come first on it).
            facts.push_disabled = "the client sent no MAX_PUSH_ID on its control stream, so no push was allowed"
        elif conn.max_push_id is not None and facts.push.push_id is not None and facts.push.push_id > conn.max_push_id:
            facts.push_disabled = f"push ID {facts.push.push_id} is beyond the client's MAX_PUSH_ID {conn.max_push_id}"
    elif conn.settings["client"].get("ENABLE_PUSH", 1) == 0:
        facts.push_disabled = "the client sent SETTINGS_ENABLE_PUSH=0, yet the server pushed"


def _fresh_copy(facts: PushFacts, index: CaptureIndex) -> None:
    """The client's cache holds the latest stored response for the URL (per Vary variant): is it fresh?"""
    push = facts.push
    stored = index.stored_copies(push, facts.url)
    position = bisect_right(stored, push.promised_at, key=_received_at)
    for candidate in _backwards(stored, position):
        if not response_arrived_before_promise(candidate, push):
            continue  # same timestamp, but written after the promise on the same connection
        rule = freshness(candidate.status, candidate.response_headers, candidate.response_end)
        if not rule.storable:
            continue
        varies, why = vary_matches(candidate.response_headers, candidate.request_headers, push.promise_headers)
        if why and len(facts.vary_notes) < 3:
            facts.vary_notes.append(f"{why}: {_where(candidate)}")
        if not varies:
            continue  # another variant: look further back for the one this request would use
        assert candidate.response_end is not None
        age = current_age(candidate.response_headers, candidate.response_end, push.promised_at)
        if rule.fresh_at_age(age):
            facts.fresh_copy = candidate
            facts.fresh_copy_why = explain_age(rule, candidate.response_headers, age) + " at the promise"
        else:
            facts.stale_copy = candidate
            facts.stale_copy_why = explain_age(rule, candidate.response_headers, age) + " at the promise"
        return


def _where(exchange: Exchange) -> str:
    return f"exchange #{exchange.id} on {exchange.connection_id} stream {exchange.stream_id}"


def _backwards(items: list[Exchange], end: int) -> Iterator[Exchange]:
    """items[end-1], items[end-2], ... without copying the list."""
    for position in range(end - 1, -1, -1):
        yield items[position]


def _received_at(exchange: Exchange) -> float:
    return exchange.response_end or 0.0


def _earlier_promise(facts: PushFacts, index: CaptureIndex) -> None:
    push, capture = facts.push, index.capture
    for other in index.pushes_by_connection_url.get((push.connection_id, facts.url), []):
        if other is push:
            break
        if other.push_id is not None and other.push_id == push.push_id:
            continue
        earlier = capture.exchange(other.exchange_id)
        if other.reset is not None and (earlier is None or not earlier.complete):
            continue  # the earlier promise was refused: this push is the one that delivers the URL
        facts.earlier_promise = other
        return


def _own_request(facts: PushFacts, index: CaptureIndex) -> None:
    """The client's own request for the URL that shows it did not use the push, if any.

    In flight when the promise came: too late. Sent after it: evidence only while the push could still have
    been claimed (another connection: its own still open and the push not yet needed there), and not when a
    later load needed the URL afresh because the pushed copy could not be reused (no-store, stale).
    """
    push = facts.push
    needs: list[float] | None = None
    for request in index.requests_by_url.get(facts.url, []):
        if not index.same_client(request, push) or request.request_start is None:
            continue
        if request.request_start <= push.promised_at:
            if not response_arrived_before_promise(request, push):
                facts.own_request, facts.own_request_detail = request, "too-late"
                facts.own_request_why = "the client had already requested it when the promise arrived"
                return
            continue
        if needs is None:  # once per push: the first two moments a document on its connection needed the URL
            needs = heapq.nsmallest(2, (r.needed_at for r in facts.references if r.needed_at is not None))
        not_evidence = _not_evidence_against(facts, request, needs)
        if not_evidence:
            if facts.later_request is None:
                facts.later_request, facts.later_request_why = request, not_evidence
            continue
        facts.own_request, facts.own_request_detail = request, "mismatch"
        facts.own_request_why = _mismatch_reason(push, request)
        return


def _not_evidence_against(facts: PushFacts, request: Exchange, needs: list[float]) -> str:
    """Why a request sent after the promise says nothing about the push ("" when it does)."""
    assert request.request_start is not None
    at = request.request_start
    if request.connection_id != facts.push.connection_id:
        conn = facts.connection
        if conn is not None and conn.closed_at is not None and conn.closed_at <= at:
            return f"sent on {request.connection_id} after the push's connection {conn.id} had closed"
        if needs and needs[0] <= at:
            return f"sent on {request.connection_id} after the push was claimed on {facts.push.connection_id}"
        return ""
    if len(needs) > 1 and needs[1] <= at and not _reusable_at(facts.exchange, at):
        return "a later load needed it afresh: the pushed response could not be reused then (" + \
               _reuse_why(facts.exchange, at) + ")"
    return ""


def _reusable_at(exchange: Exchange | None, at: float) -> bool:
    if exchange is None or exchange.response_end is None:
        return True  # nothing says it could not be reused: the request stays evidence
    rule = freshness(exchange.status, exchange.response_headers, exchange.response_end)
    return rule.fresh_at_age(current_age(exchange.response_headers, exchange.response_end, at))


def _reuse_why(exchange: Exchange | None, at: float) -> str:
    assert exchange is not None and exchange.response_end is not None
    rule = freshness(exchange.status, exchange.response_headers, exchange.response_end)
    if not rule.storable:
        return f"not storable: {rule.why}"
    return explain_age(rule, exchange.response_headers, current_age(exchange.response_headers,
                                                                     exchange.response_end, at))


def _unreadable_traffic(facts: PushFacts, index: CaptureIndex) -> None:
    conn = facts.connection
    if conn is None:
        return
    count, shown = index.unreadable_traffic.before(conn.client.address, conn.server.address, facts.push.promised_at)
    facts.unreadable_traffic_count, facts.unreadable_traffic = count, shown


def _mismatch_reason(push: Push, request: Exchange) -> str:
    if request.connection_id != push.connection_id:
        return "requested on another connection: a push can only be claimed on its own connection"
    promised = {name: value for name, value in push.promise_headers}
    asked = {name: value for name, value in request.request_headers}
    differing = [h for h in MATCHED_REQUEST_HEADERS if h in promised and h in asked and promised[h] != asked[h]]
    credentials = [h for h in CREDENTIAL_HEADERS if (h in promised) != (h in asked)]
    if differing or credentials:
        parts = [f"{h} differs" for h in differing] + [f"{h} present on one side only" for h in credentials]
        return "request headers did not match the promise: " + ", ".join(parts)
    return "the client did not match the promise (no header difference is visible in the capture)"


def _references(facts: PushFacts, index: CaptureIndex) -> None:
    push = facts.push
    urls, unreadable, url_at, unreadable_at = index.checked_on_connection(push)
    exchange_id = push.exchange_id if push.exchange_id is not None else -1  # -1: no exchange, nothing excluded
    facts.documents_checked = Excluding(urls, url_at.get(exchange_id))
    facts.unreadable_documents = Excluding(unreadable, unreadable_at.get(exchange_id))
    by_connection = index.referrers(push, facts.url)
    for document, reference in by_connection.get(push.connection_id, []):
        if document.id != push.exchange_id:
            facts.references.append(ReferenceSeen(document, reference, index.needed_at(document, reference),
                                                  index.assumed(document)))
    if not facts.references:
        # Only the evidence of a not-referenced verdict reads these: a few suffice.
        others = [pair for cid, pairs in by_connection.items() if cid != push.connection_id for pair in pairs[:1]]
        for document, reference in others[:2]:
            facts.references_elsewhere.append(ReferenceSeen(document, reference, index.needed_at(document, reference)))


def _preload(facts: PushFacts, index: CaptureIndex) -> None:
    parent = index.parent_of(facts.push)
    if parent is None:
        return
    for link in preload_links(parent):
        if link.url == facts.url:
            facts.preload = link
            return
