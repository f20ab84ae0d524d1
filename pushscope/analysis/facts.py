"""The facts each verdict rule reads, gathered once per push from the whole capture.

Keeping the gathering here lets ``rules.py`` be a short ordered table of predicates over these facts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pushscope.analysis.index import CaptureIndex, ReferenceSeen
from pushscope.analysis.links import PreloadLink, preload_links
from pushscope.analysis.order import response_arrived_before_promise
from pushscope.analysis.refusal import Refusal
from pushscope.analysis.stored_copies import STORED_COPIES_LOOKED_AT, received_at
from pushscope.http.freshness import Freshness, current_age, explain_age, freshness, vary_matches
from pushscope.model.entities import Connection, Exchange, Push, Reset

__all__ = ["CaptureIndex", "Excluding", "PushFacts", "ReferenceSeen", "gather_facts"]

T = TypeVar("T")
# Headers whose difference makes a browser refuse a pushed response for its own request.
MATCHED_REQUEST_HEADERS = ("accept-encoding", "accept", "accept-language", "user-agent")
CREDENTIAL_HEADERS = ("cookie", "authorization")


class Excluding(Sequence[T]):
    """A shared per-connection list seen without one item: every push on a connection reads the same documents,
    so each push gets this view instead of its own copy (10,000 pushes x 10,000 documents must stay linear)."""

    __slots__ = ("_items", "_skip")

    def __init__(self, items: list[T], skip: int | None) -> None:
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
    # Why the cache check stopped before it knew whether a stored copy served the push (see STORED_COPIES_LOOKED_AT).
    cache_undecided: str = ""
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
    # The documents on the push's connection that reference it: the first three, and the two earliest moments
    # any of them made it needed (only these are read, so a push costs the same however many documents there are).
    references: list[ReferenceSeen] = field(default_factory=list)
    needs: list[float] = field(default_factory=list)
    references_elsewhere: list[ReferenceSeen] = field(default_factory=list)
    unreadable_documents: Sequence[str] = field(default_factory=list)
    documents_checked: Sequence[Exchange] = field(default_factory=list)
    preload: PreloadLink | None = None

    @property
    def needed_at(self) -> float | None:
        return self.needs[0] if self.needs else None

    @property
    def late_by(self) -> float:
        if self.needed_at is None or self.completed_at is None:
            return 0.0
        return max(0.0, self.completed_at - self.needed_at)


def gather_facts(push: Push, index: CaptureIndex) -> PushFacts:
    capture = index.capture
    exchange = capture.exchange(push.exchange_id)
    facts = PushFacts(push, exchange, capture.connections.get(push.connection_id), index.key_of(push))
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
    copies = stored.copies
    reusable = None
    passed = 0  # copies at the promise's own moment, written after it
    for position in range(bisect_right(copies, push.promised_at, key=received_at) - 1, -1, -1):
        candidate = copies[position]
        if not response_arrived_before_promise(candidate, push):
            passed += 1  # same timestamp, but written after the promise on the same connection
            if passed > STORED_COPIES_LOOKED_AT:
                facts.cache_undecided = _undecided(STORED_COPIES_LOOKED_AT, "responses of it from the promise's "
                                                   "own moment, written after the promise (the clock stood still)")
                return
            continue
        varies, why = vary_matches(candidate.response_headers, candidate.request_headers, push.promise_headers)
        if why and len(facts.vary_notes) < 3:
            facts.vary_notes.append(f"{why}: {_where(candidate)}")
        if varies:
            reusable = candidate
            break
        if len(facts.vary_notes) >= 3:  # no more notes: the variant this request would use is looked up
            lookup = stored.latest_reusable(push, stored.order(candidate), response_arrived_before_promise,
                                            STORED_COPIES_LOOKED_AT - passed)
            if not lookup.decided:
                facts.cache_undecided = _undecided(STORED_COPIES_LOOKED_AT, "of its stored responses and Vary "
                                                   f"variants ({stored.variants} sets of Vary fields)")
                return
            reusable = lookup.copy
            break
    if reusable is None:
        return
    assert reusable.response_end is not None
    rule = freshness(reusable.status, reusable.response_headers, reusable.response_end)
    age = current_age(reusable.response_headers, reusable.response_end, push.promised_at)
    if rule.fresh_at_age(age):
        facts.fresh_copy = reusable
        facts.fresh_copy_why = _age_text(rule, reusable, age)
    else:
        facts.stale_copy = reusable
        facts.stale_copy_why = _age_text(rule, reusable, age)


def _undecided(looked_at: int, what: str) -> str:
    return (f"pushscope compared {looked_at} {what} and stopped there: whether the client held a fresh copy is "
            "not known")


def age_at_promise(copy: Exchange, push: Push) -> str:
    """How old a stored copy was at the promise, against its lifetime (the evidence renders it again from these)."""
    assert copy.response_end is not None
    rule = freshness(copy.status, copy.response_headers, copy.response_end)
    return _age_text(rule, copy, current_age(copy.response_headers, copy.response_end, push.promised_at))


def _age_text(rule: Freshness, copy: Exchange, age: float) -> str:
    return explain_age(rule, copy.response_headers, age) + " at the promise"


def _where(exchange: Exchange) -> str:
    return f"exchange #{exchange.id} on {exchange.connection_id} stream {exchange.stream_id}"


def _earlier_promise(facts: PushFacts, index: CaptureIndex) -> None:
    """The first earlier promise of the URL on the connection that was not refused (a refused one leaves this
    push to deliver the URL), other than a repeat of this push's own push ID."""
    push = facts.push
    place = index.promise_place(push)
    for other_place, other in index.delivering_promises(push, facts.url):
        if other_place >= place:
            return
        if other.push_id is not None and other.push_id == push.push_id:
            continue
        facts.earlier_promise = other
        return


def _own_request(facts: PushFacts, index: CaptureIndex) -> None:
    """The client's own request for the URL that shows it did not use the push, if any.

    In flight when the promise came: too late. Sent after it: evidence only while the push could still have
    been claimed (another connection: its own still open and the push not yet needed there), and not when a
    later load needed the URL afresh because the pushed copy could not be reused (no-store, stale).
    """
    push = facts.push
    requests = index.requests_of(push, facts.url)
    in_flight = requests.in_flight_at(push, response_arrived_before_promise)
    if in_flight is not None:
        facts.own_request, facts.own_request_detail = in_flight, "too-late"
        facts.own_request_why = "the client had already requested it when the promise arrived"
        return
    # Whether a later request says nothing of the push only grows truer with time, on the push's own connection
    # (the push could no longer be reused) as on another (closed, or claimed): so only the first request after
    # the promise on each can be evidence, and one that is not is the later request to show.
    after = requests.first_after(push.promised_at, push.connection_id,
                                 index.requests_on_connection(push, facts.url))
    for request in after:
        not_evidence = _not_evidence_against(facts, request, facts.needs)
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
    documents, unreadable, document_at, unreadable_at = index.checked_on_connection(push)
    exchange_id = push.exchange_id if push.exchange_id is not None else -1  # -1: no exchange, nothing excluded
    facts.documents_checked = Excluding(documents, document_at.get(exchange_id))
    facts.unreadable_documents = Excluding(unreadable, unreadable_at.get(exchange_id))
    facts.references, facts.needs = index.referrers(push, facts.url).seen_by(push.exchange_id)
    if not facts.references:
        # Only the evidence of a not-referenced verdict reads these: a few suffice.
        for document, reference in index.referrers_elsewhere(push, facts.url):
            facts.references_elsewhere.append(ReferenceSeen(document, reference, index.needed_at(document, reference)))


def _preload(facts: PushFacts, index: CaptureIndex) -> None:
    parent = index.parent_of(facts.push)
    if parent is None:
        return
    for link in preload_links(parent):
        if link.url == facts.url:
            facts.preload = link
            return
