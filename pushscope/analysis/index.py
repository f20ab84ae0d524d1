"""Lookups over the whole capture that every push's facts need, built once so judging is linear.

Memory: what only one connection's pushes read (its parents, its documents and what they reference, its promises
by URL) is built when its first push is judged and let go after its last; what one client's pushes read (its
loaded documents, their references) likewise per client. What spans the capture (the HTTP caches, requests by URL)
holds references to the model's own objects, keyed by the model's own strings.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from pushscope.analysis.refusal import RefusalIndex
from pushscope.analysis.stored_copies import StoredCopies
from pushscope.analysis.unreadable import (
    UnreadableTraffic,
    known_authorities,
    resolve_unreadable_document,
    url_key,
)
from pushscope.analysis.url_requests import UrlRequests
from pushscope.decode.frame_names import DATA
from pushscope.http.bodies import MAX_DECODED, BodyUnavailable
from pushscope.http.freshness import freshness
from pushscope.http.headers import header_value
from pushscope.http.references import Reference, references_in
from pushscope.http.urls import normalize_url
from pushscope.model.bodies import decode_body
from pushscope.model.compact import SharedValues
from pushscope.model.entities import Capture, Exchange, Push

DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "text/css")
_NORMALIZED_LIMIT = 1 << 16  # URLs kept normalized at once (a hostile capture can make every URL different)
_NOT_YET = -1.0  # a round trip not computed yet (a computed one is a float >= 0 or None)
_NO_REQUESTS = UrlRequests([])


@dataclass(slots=True)
class ReferenceSeen:
    document: Exchange
    reference: Reference
    needed_at: float | None
    assumed: str = ""  # what was assumed to read a document whose URL the capture cannot show


@dataclass(slots=True)
class Referrers:
    """The documents on one connection that reference one URL (each document's first reference), summed up so a
    push reads them in constant time whatever the number of documents: the first four (a push excludes at most its
    own exchange and shows three) and the three earliest moments they made it needed (a push reads two)."""

    first: list[ReferenceSeen]
    earliest: list[tuple[float, int]]  # (needed at, document id)

    def seen_by(self, exchange_id: int | None) -> tuple[list[ReferenceSeen], list[float]]:
        """The references and the two earliest needs, without the push's own exchange (a document may reference
        its own URL)."""
        first = [seen for seen in self.first if seen.document.id != exchange_id][:3]
        return first, [at for at, document_id in self.earliest if document_id != exchange_id][:2]


class _ClientState:
    """One client's loaded documents and, per URL, the first connections whose documents reference it."""

    __slots__ = ("loaded", "loaded_on", "elsewhere", "pushes_left")

    def __init__(self, loaded: list[Exchange], pushes_left: int) -> None:
        self.loaded = loaded
        self.loaded_on: dict[str, list[Exchange]] = {}
        for document in loaded:
            self.loaded_on.setdefault(document.connection_id, []).append(document)
        self.elsewhere: dict[str, list[tuple[Exchange, Reference]]] | None = None
        self.pushes_left = pushes_left


class _ConnectionState:
    """What the pushes of one connection read and nothing else does."""

    __slots__ = ("requests_by_stream", "requests_by_url", "round_trip", "pushes_by_url", "promise_order",
                 "delivering", "checked", "referrers", "summaries", "data_frames", "pushes_left")

    def __init__(self, requests: list[Exchange], pushes: list[Push], index: CaptureIndex) -> None:
        self.requests_by_stream: dict[int | None, Exchange] = {}
        self.requests_by_url: dict[str, list[Exchange]] = {}  # in start order, as UrlRequests keeps them
        for exchange in requests:
            self.requests_by_stream[exchange.stream_id] = exchange
            if exchange.request_headers and exchange.request_start is not None:
                self.requests_by_url.setdefault(index.url_of[exchange.id], []).append(exchange)
        for same_url in self.requests_by_url.values():
            same_url.sort(key=lambda e: e.request_start)  # type: ignore[arg-type, return-value]
        self.round_trip: float | None = _NOT_YET
        self.pushes_by_url: dict[str, list[Push]] = {}
        self.promise_order: dict[int, int] = {}  # push id -> its place among its URL's promises
        for push in pushes:
            promises = self.pushes_by_url.setdefault(index.key_of(push), [])
            self.promise_order[push.id] = len(promises)
            promises.append(push)
        self.delivering: dict[str, list[tuple[int, Push]]] = {}  # see CaptureIndex.delivering_promises
        self.checked: tuple[list[Exchange], list[str], dict[int, int], dict[int, int]] | None = None
        self.referrers: dict[str, list[tuple[Exchange, Reference]]] | None = None
        self.summaries: dict[str, Referrers] = {}
        self.data_frames: dict[int, tuple[list[float], list[int]]] = {}
        self.pushes_left = len(pushes)


class CaptureIndex:
    """Lookups over the whole capture that every push's facts need, built once so judging is linear."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        # One client, one HTTP cache: the source's cache scope where it named one, else the client's address.
        self.client_of = {cid: conn.cache_scope or conn.client.address for cid, conn in capture.connections.items()}
        self._normalized: dict[str, str] = {}  # one string per distinct URL: far fewer URLs than exchanges
        self.url_of: list[str] | dict[int, str] = [self.key_of(e) for e in capture.exchanges]
        if any(e.id != position for position, e in enumerate(capture.exchanges)):
            self.url_of = {e.id: url for e, url in zip(capture.exchanges, self.url_of, strict=True)}
        self.authorities = known_authorities(capture)
        self.unreadable_traffic = UnreadableTraffic(capture)
        self.refusals = RefusalIndex(capture)
        self._pushes_on: dict[str, list[Push]] = {}
        self._pushes_of_client: dict[str | None, int] = {}
        for push in capture.pushes:
            self._pushes_on.setdefault(push.connection_id, []).append(push)
            client = self.client_of.get(push.connection_id)
            self._pushes_of_client[client] = self._pushes_of_client.get(client, 0) + 1
        self._requests_on: dict[str, list[Exchange]] = {}
        # Per client: its requests by URL (in capture order), and what can sit in its HTTP cache (its own complete
        # responses, by arrival; claimed pushes join as judged).
        self._requests: dict[str | None, dict[str, list[Exchange] | UrlRequests]] = {}
        self._stored: dict[str | None, dict[str, list[Exchange] | StoredCopies]] = {}
        self.documents_by_client: dict[str | None, list[Exchange]] = {}
        for exchange in capture.exchanges:
            self._index_exchange(exchange)
        self.revalidated_from = self._revalidations()
        self._clients: dict[str | None, _ClientState] = {}
        self._connections: dict[str, _ConnectionState] = {}
        self._references: dict[int, list[Reference]] = {}
        self._unreadable: dict[int, str] = {}
        self._decoded_length: dict[int, int] = {}
        self._assumed: dict[int, str] = {}
        # Equal byte counts of the pushes' costs (the same resource pushed on every connection) are one int each.
        self._numbers = SharedValues()

    def shared_number(self, value: int) -> int:
        """``value``, as one int object for all equal ones the pushes' costs count."""
        return self._numbers.number(value)

    def key_of(self, thing: Exchange | Push) -> str:
        """``url_key``, with each distinct URL normalized once and kept as one string."""
        if not thing.url_known:
            return url_key(thing)
        raw = thing.url
        key = self._normalized.get(raw)
        if key is None:
            if len(self._normalized) >= _NORMALIZED_LIMIT:
                self._normalized.clear()
            key = self._normalized[raw] = normalize_url(raw)
        return key

    def _index_exchange(self, exchange: Exchange) -> None:
        client = self.client_of.get(exchange.connection_id)
        url = self.url_of[exchange.id]
        if not exchange.pushed:
            if exchange.request_headers:
                self._requests.setdefault(client, {}).setdefault(url, []).append(exchange)  # type: ignore[union-attr]
            if exchange.connection_id in self._pushes_on:  # only the pushes' own connections need their requests
                self._requests_on.setdefault(exchange.connection_id, []).append(exchange)
            if exchange.response_end is not None and exchange.reset is None:
                self._stored.setdefault(client, {}).setdefault(url, []).append(exchange)  # type: ignore[union-attr]
        if _is_document(exchange) or _is_revalidated_document(exchange):
            self.documents_by_client.setdefault(client, []).append(exchange)

    def _revalidations(self) -> dict[int, Exchange | None]:
        """A 304 reuses the client's stored copy: its references are those of the last full copy seen, if any."""
        revalidated_from: dict[int, Exchange | None] = {}
        for documents in self.documents_by_client.values():
            latest: dict[str, Exchange] = {}
            for document in sorted(documents, key=lambda e: e.request_start or 0.0):
                url = self.url_of[document.id]
                if document.status == 304:
                    revalidated_from[document.id] = latest.get(url)
                elif not document.pushed:
                    latest[url] = document
        return revalidated_from

    # --- what a push's client and connection hold, built on first use and let go once judged -----------------

    def _client(self, push: Push) -> _ClientState:
        client = self.client_of.get(push.connection_id)
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _ClientState(self._loaded_of(self.documents_by_client.get(client, [])),
                                                         self._pushes_of_client.get(client, 0))
        return state

    def _connection(self, push: Push) -> _ConnectionState:
        state = self._connections.get(push.connection_id)
        if state is None:
            state = self._connections[push.connection_id] = _ConnectionState(
                self._requests_on.get(push.connection_id, []), self._pushes_on.get(push.connection_id, []), self)
        return state

    def judged(self, push: Push) -> None:
        """The push has its verdict: what only its connection's (or client's) pushes read goes once they all do."""
        state = self._connections.get(push.connection_id)
        if state is not None:
            state.pushes_left -= 1
            if state.pushes_left <= 0:
                del self._connections[push.connection_id]
                self._requests_on.pop(push.connection_id, None)
        client = self.client_of.get(push.connection_id)
        client_state = self._clients.get(client)
        if client_state is not None:
            client_state.pushes_left -= 1
            if client_state.pushes_left <= 0:
                del self._clients[client]
                for document in self.documents_by_client.pop(client, []):
                    for cache in (self._references, self._unreadable, self._decoded_length, self._assumed):
                        cache.pop(document.id, None)

    # --- the HTTP cache and requests of a client -----------------------------------------------------------------

    def stored_copies(self, push: Push, url: str) -> StoredCopies:
        """What the push's client may hold for ``url`` in its HTTP cache, by arrival: only storable responses, so
        that a client polling a no-store URL thousands of times is not walked again for every push of it."""
        by_url = self._stored.get(self.client_of.get(push.connection_id))
        copies = by_url.get(url) if by_url is not None else None
        if copies is None:
            return StoredCopies([])
        if not isinstance(copies, StoredCopies):  # (made on first use: only pushed URLs need it)
            copies = by_url[url] = StoredCopies([c for c in copies if _storable(c)])  # type: ignore[index]
        return copies

    def requests_of(self, push: Push, url: str) -> UrlRequests:
        """The push's client's own requests for ``url``, in start order."""
        by_url = self._requests.get(self.client_of.get(push.connection_id))
        found = by_url.get(url) if by_url is not None else None
        if found is None:
            return _NO_REQUESTS
        if not isinstance(found, UrlRequests):
            found = by_url[url] = UrlRequests(found)  # type: ignore[index]
        return found

    def requests_on_connection(self, push: Push, url: str) -> list[Exchange]:
        """The requests for ``url`` on the push's own connection, in start order."""
        return self._connection(push).requests_by_url.get(url, [])

    def mark_used(self, push: Push) -> None:
        """A claimed push enters its client's HTTP cache, so later pushes of that URL may duplicate it."""
        exchange = self.capture.exchange(push.exchange_id)
        if exchange is None:
            return
        if exchange.response_end is not None and exchange.reset is None and _storable(exchange):
            by_url = self._stored.setdefault(self.client_of.get(exchange.connection_id), {})
            copies = by_url.setdefault(self.url_of[exchange.id], [])
            if isinstance(copies, StoredCopies):
                copies.add(exchange)
            else:  # (sorted, stably, when first used: after the copies that arrived at the same moment)
                copies.append(exchange)

    def same_client(self, a: Exchange | Push, b: Exchange | Push) -> bool:
        return self.client_of.get(a.connection_id) == self.client_of.get(b.connection_id)

    # --- documents and their references ------------------------------------------------------------------------

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
        """When each server DATA frame of the document arrived and the body offset it ends at (once per document
        while its connection's pushes are judged: a page that promised 10,000 pushes has 10,000 frames on its
        stream)."""
        state = self._connections.get(document.connection_id)
        found = state.data_frames.get(document.id) if state is not None else None
        if found is None:
            times: list[float] = []
            ends: list[int] = []
            seen = 0
            for frame in document.frames:
                if frame.frame_type == DATA and not frame.quic and frame.sender == "server":
                    seen += frame.length
                    times.append(frame.at)
                    ends.append(seen)
            found = (times, ends)
            if state is not None:
                state.data_frames[document.id] = found
        return found

    def unreadable_reason(self, document: Exchange) -> str | None:
        self.references_of(document)
        return self._unreadable.get(document.id)

    def loaded_documents(self, push: Push) -> list[Exchange]:
        """HTML and CSS the push's client loaded: its own requests, plus pushed ones that something references."""
        return self._client(push).loaded

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

    def loaded_on_connection(self, push: Push) -> list[Exchange]:
        return self._client(push).loaded_on.get(push.connection_id, [])

    def checked_on_connection(self, push: Push) -> tuple[list[Exchange], list[str], dict[int, int], dict[int, int]]:
        """The documents loaded on the push's connection, why some are unreadable, and where each document sits in
        those two lists: computed once per connection, read by every push on it."""
        state = self._connection(push)
        if state.checked is None:
            documents = self.loaded_on_connection(push)
            unreadable: list[str] = []
            unreadable_at: dict[int, int] = {}
            for document in documents:
                why = self.unreadable_reason(document)
                if why is not None:
                    unreadable_at[document.id] = len(unreadable)
                    unreadable.append(f"{document.url}: {why}")
            state.checked = (documents, unreadable, {document.id: at for at, document in enumerate(documents)},
                             unreadable_at)
        return state.checked

    def referrers(self, push: Push, url: str) -> Referrers:
        """The loaded documents on the push's connection that reference ``url`` (see ``Referrers``)."""
        state = self._connection(push)
        summary = state.summaries.get(url)
        if summary is None:
            if state.referrers is None:
                state.referrers = _first_references(self.loaded_on_connection(push), self)
            pairs = state.referrers.pop(url, [])  # summed up once: the pairs are not needed again
            first = [ReferenceSeen(document, reference, self.needed_at(document, reference), self.assumed(document))
                     for document, reference in pairs[:4]]
            needs = ((self.needed_at(document, reference), document.id) for document, reference in pairs)
            earliest = heapq.nsmallest(3, ((at, did) for at, did in needs if at is not None), key=lambda n: n[0])
            summary = state.summaries[url] = Referrers(first, earliest)
        return summary

    def referrers_elsewhere(self, push: Push, url: str) -> list[tuple[Exchange, Reference]]:
        """The first documents of the push's client on two other connections that reference ``url`` (the first
        reference of the first such document on each)."""
        state = self._client(push)
        if state.elsewhere is None:
            state.elsewhere = _first_connections(state.loaded, self)
        found = state.elsewhere.get(url, [])
        return [pair for pair in found if pair[0].connection_id != push.connection_id][:2]

    def parent_of(self, push: Push) -> Exchange | None:
        return self._connection(push).requests_by_stream.get(push.parent_stream_id)

    def pushes_of(self, push: Push, url: str) -> list[Push]:
        """The promises of ``url`` on the push's connection, in the model's order."""
        return self._connection(push).pushes_by_url.get(url, [])

    def promise_place(self, push: Push) -> int:
        """The push's place among the promises of its URL on its connection (``pushes_of``)."""
        return self._connection(push).promise_order[push.id]

    def delivering_promises(self, push: Push, url: str) -> list[tuple[int, Push]]:
        """Among the promises of ``url`` on the push's connection, with their places: the first one not refused
        (refused: reset before its response was complete) and, when it carries a push ID, the first one not
        refused with another push ID. Whatever earlier promise a push looks for is one of these two, so a push
        never walks the others (a server that pushes one URL thousands of times, each refused)."""
        state = self._connection(push)
        found = state.delivering.get(url)
        if found is None:
            found = state.delivering[url] = []
            for place, other in enumerate(state.pushes_by_url.get(url, [])):
                earlier = self.capture.exchange(other.exchange_id)
                if other.reset is not None and (earlier is None or not earlier.complete):
                    continue
                if not found:
                    found.append((place, other))
                    if other.push_id is None:
                        break
                elif other.push_id != found[0][1].push_id:
                    found.append((place, other))
                    break
        return found

    def request_round_trip(self, push: Push) -> float | None:
        """The quickest request-to-first-byte on the push's connection: a floor for what a request would have
        cost."""
        state = self._connection(push)
        if state.round_trip == _NOT_YET:
            times = [
                e.response_start - e.request_start for e in state.requests_by_stream.values()
                if e.request_start is not None and e.response_start is not None
                and e.response_start >= e.request_start
            ]
            state.round_trip = min(times) if times else None
        return state.round_trip


def _first_references(documents: list[Exchange], index: CaptureIndex) -> dict[str, list[tuple[Exchange, Reference]]]:
    """Per URL, the documents that reference it and the first reference of each, in the documents' order."""
    by_url: dict[str, list[tuple[Exchange, Reference]]] = {}
    for document, reference in _each_first_reference(documents, index):
        by_url.setdefault(reference.url, []).append((document, reference))
    return by_url


def _first_connections(documents: list[Exchange], index: CaptureIndex) -> dict[str, list[tuple[Exchange, Reference]]]:
    """Per URL, the first three connections whose documents reference it: the first such document and its first
    reference on each (a push leaves out its own connection and reads two)."""
    by_url: dict[str, list[tuple[Exchange, Reference]]] = {}
    for document, reference in _each_first_reference(documents, index):
        found = by_url.setdefault(reference.url, [])
        if len(found) < 3 and all(other.connection_id != document.connection_id for other, _ in found):
            found.append((document, reference))
    return by_url


def _each_first_reference(documents: list[Exchange], index: CaptureIndex) -> Iterator[tuple[Exchange, Reference]]:
    """Each document with the first reference it makes to each URL, in the documents' order."""
    for document in documents:
        seen: set[str] = set()
        for reference in index.references_of(document):
            if reference.url not in seen:
                seen.add(reference.url)
                yield document, reference


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


def _storable(exchange: Exchange) -> bool:
    return freshness(exchange.status, exchange.response_headers).storable
