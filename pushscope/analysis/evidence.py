"""A push's evidence: the facts behind its verdict as sentences, each pointing at a moment in the capture.

The texts are rendered when read (``Explanation``) from the few facts the verdict's reason shows:
kept as strings they cost more than the rest of a push's verdict (about 1 KB a push), and most are never shown.
Rendering reads only the model's objects, which do not change once a capture is loaded, so the texts are the
ones the verdict was made with; a live capture's still-growing exchanges are judged again with each batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any, overload

from pushscope.analysis.facts import PushFacts, ReferenceSeen, age_at_promise
from pushscope.analysis.rules import Rule
from pushscope.model.entities import Evidence, Exchange
from pushscope.vocabulary import Reason

_CACHED = (Reason.CANCELLED_CACHED, Reason.ALREADY_CACHED)
# The facts the evidence may show whatever the reason, with their empty value; then those only some reasons show.
_ALWAYS = {"client_reset": None, "server_reset": None, "vary_notes": (), "push_disabled": "", "preload": None,
           "unreadable_documents": ()}
_BY_REASON: dict[Reason, dict[str, Any]] = {
    Reason.CANCELLED_CACHED: {"fresh_copy": None},
    Reason.ALREADY_CACHED: {"fresh_copy": None},
    Reason.PUSHED_TWICE: {"earlier_promise": None},
    Reason.MUST_REFUSE: {"must_refuse": None},
    Reason.CACHE_UNDECIDED: {"cache_undecided": ""},
    Reason.CLIENT_REQUESTED_ANYWAY: {"own_request": None, "own_request_detail": "", "own_request_why": ""},
    Reason.SERVER_CANCELLED: {"own_request": None},
    Reason.EARLIER_TRAFFIC_UNREADABLE: {"unreadable_traffic": (), "unreadable_traffic_count": 0},
    Reason.NOT_REFERENCED: {"references_elsewhere": (), "documents_checked": ()},
    Reason.CLAIMED_LATE: {"needs": (), "completed_at": None},
}
_STALE = {"stale_copy": None}  # shown unless the reason is a fresh copy
_LATER = {"later_request": None, "later_request_why": ""}  # shown unless the reason is the client's own request
_DEFAULTS: dict[str, Any] = {**_ALWAYS, **_STALE, **_LATER,
                             **{name: empty for shown in _BY_REASON.values() for name, empty in shown.items()}}
# How many of a list the evidence shows at most.
_SHOWN_ITEMS = {"vary_notes": 3, "unreadable_documents": 2, "references_elsewhere": 2, "needs": 1}


class Sample(Sequence[Exchange]):
    """The first few items of a longer list, and its length: what the evidence shows of the documents checked."""

    __slots__ = ("_first", "_count")

    def __init__(self, items: Sequence[Exchange], shown: int) -> None:
        self._first, self._count = tuple(items[:shown]), len(items)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Exchange: ...

    @overload
    def __getitem__(self, index: slice) -> list[Exchange]: ...

    def __getitem__(self, index: int | slice) -> Exchange | list[Exchange]:
        if isinstance(index, slice):
            wanted = range(*index.indices(self._count))
            if wanted and not 0 <= max(wanted) < len(self._first):
                raise IndexError("only the first items of the list were kept")
            return [self._first[i] for i in wanted]
        return self._first[index]


class Explanation(Sequence[Evidence]):
    """A push's evidence, rendered each time it is read from what it shows of the push's facts (a list of
    ``Evidence`` when pickled).

    Kept: references to the model's own objects and the few strings the judging made; the facts the verdict's
    reason does not show read as empty, and the age of a stored copy is computed again (``facts``)."""

    __slots__ = ("push", "exchange", "connection", "references", "_rule", "_origin", "_rest")

    def __init__(self, facts: PushFacts, rule: Rule, origin: float) -> None:
        reason = rule.reason
        self.push, self.exchange, self._rule, self._origin = facts.push, facts.exchange, rule, origin
        self.connection = facts.connection if reason == Reason.CONNECTION_CLOSED else None
        self.references: tuple[ReferenceSeen, ...] = tuple(facts.references[:3])
        shown = {**_ALWAYS, **_BY_REASON.get(reason, {}), **({} if reason in _CACHED else _STALE),
                 **({} if reason == Reason.CLIENT_REQUESTED_ANYWAY else _LATER)}
        rest: list[Any] = []
        for name in shown:
            value = getattr(facts, name)
            if not value:
                continue
            if name == "documents_checked":
                value = Sample(value, 4)
            elif isinstance(value, Sequence) and not isinstance(value, str):
                value = tuple(value[:_SHOWN_ITEMS.get(name, len(value))])
            rest += (name, value)
        self._rest = tuple(rest)

    def facts(self) -> SimpleNamespace:
        """The facts ``explain`` reads: the kept ones, the others empty, the age of a stored copy computed again."""
        facts = SimpleNamespace(**_DEFAULTS)
        rest = self._rest
        facts.__dict__.update(zip(rest[::2], rest[1::2], strict=True))
        facts.push, facts.exchange, facts.connection, facts.references = (self.push, self.exchange, self.connection,
                                                                          self.references)
        facts.fresh_copy_why = "" if facts.fresh_copy is None else age_at_promise(facts.fresh_copy, self.push)
        facts.stale_copy_why = "" if facts.stale_copy is None else age_at_promise(facts.stale_copy, self.push)
        needed_at, completed_at = facts.needs[0] if facts.needs else None, facts.completed_at
        facts.needed_at = needed_at
        facts.late_by = 0.0 if needed_at is None or completed_at is None else max(0.0, completed_at - needed_at)
        return facts

    def _items(self) -> list[Evidence]:
        return explain(self.facts(), self._rule, self._origin)

    def __len__(self) -> int:
        return len(self._items())

    @overload
    def __getitem__(self, index: int) -> Evidence: ...

    @overload
    def __getitem__(self, index: slice) -> list[Evidence]: ...

    def __getitem__(self, index: int | slice) -> Evidence | list[Evidence]:
        return self._items()[index]

    def __iter__(self) -> Iterator[Evidence]:
        return iter(self._items())

    def __bool__(self) -> bool:
        return True  # the promise, the response and the verdict are always there

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._items())

    def __reduce__(self) -> tuple[type[list[Evidence]], tuple[list[Evidence]]]:
        return list, (self._items(),)


def _ms(at: float | None, origin: float) -> str:
    return "?" if at is None else f"+{(at - origin) * 1000:.1f} ms"


def _where(exchange: Exchange) -> str:
    return f"{exchange.connection_id} stream {exchange.stream_id}"


def explain(facts: PushFacts | SimpleNamespace, rule: Rule, origin: float) -> list[Evidence]:
    items = [_promise_item(facts, origin), _response_item(facts, origin)]
    items += _reason_items(facts, rule.reason, origin)
    if facts.preload is not None:
        note = " (it says nopush, yet the server pushed)" if facts.preload.nopush else ""
        source = "103 Early Hints" if facts.preload.early_hint else "the parent response"
        items.append(Evidence("preload-link", f"caused by Link: {facts.preload.text} in {source}{note}"))
    items.append(Evidence("verdict", f"{rule.outcome} / {rule.reason}: {rule.summary}"))
    return items


def _pushed(facts: PushFacts | SimpleNamespace) -> tuple[int | None, int | None]:
    """The pushed exchange and its stream, which the promise and response evidence point at."""
    exchange = facts.exchange
    return (exchange.id, exchange.stream_id) if exchange is not None else (None, None)


def _promise_item(facts: PushFacts | SimpleNamespace, origin: float) -> Evidence:
    push = facts.push
    ident = f"push ID {push.push_id}" if push.push_id is not None else f"promised stream {push.promised_stream_id}"
    refs = f", promised on {len(push.references)} streams" if len(push.references) > 1 else ""
    text = f"PUSH_PROMISE for {push.url} on stream {push.parent_stream_id} ({ident}{refs})"
    text += f" at {_ms(push.promised_at, origin)}"
    return Evidence("promise", text, push.promised_at, *_pushed(facts))


def _response_item(facts: PushFacts | SimpleNamespace, origin: float) -> Evidence:
    exchange = facts.exchange
    if exchange is None or exchange.response_start is None:
        return Evidence("response", "no pushed response was seen", None, *_pushed(facts))
    size = f"{exchange.body_bytes} body bytes"
    if exchange.complete:
        return Evidence("response", f"pushed response {exchange.status}, {size}, complete at "
                        f"{_ms(exchange.response_end, origin)}", exchange.response_end, *_pushed(facts))
    return Evidence("response", f"pushed response {exchange.status or '(no status)'}, {size}, never completed",
                    exchange.response_start, *_pushed(facts))


def _reason_items(facts: PushFacts | SimpleNamespace, reason: Reason, origin: float) -> list[Evidence]:
    items: list[Evidence] = []
    reset = facts.client_reset or facts.server_reset
    if reset is not None:
        items.append(Evidence("reset", f"{reset.by} sent {reset.label} at {_ms(reset.at, origin)}",
                              reset.at))
    if facts.fresh_copy is not None and reason in (Reason.CANCELLED_CACHED, Reason.ALREADY_CACHED):
        copy = facts.fresh_copy
        kind = "a claimed push" if copy.pushed else "its own request"
        items.append(Evidence("cached-copy", f"the client already held {copy.url} from {kind} on {_where(copy)}, "
                              f"received at {_ms(copy.response_end, origin)}, {facts.fresh_copy_why}",
                              copy.response_end, copy.id, copy.stream_id))
    items += _cache_items(facts, reason, origin)
    if facts.earlier_promise is not None and reason == Reason.PUSHED_TWICE:
        earlier = facts.earlier_promise
        items.append(Evidence("earlier-promise", f"already promised at {_ms(earlier.promised_at, origin)} "
                              f"(push #{earlier.id})", earlier.promised_at, earlier.exchange_id))
    if facts.push_disabled:
        items.append(Evidence("push-disabled", facts.push_disabled))
    if facts.must_refuse is not None and reason == Reason.MUST_REFUSE:
        items.append(Evidence("must-refuse", facts.must_refuse.why))
    if reason == Reason.CACHE_UNDECIDED:
        items.append(Evidence("cache-undecided", facts.cache_undecided))
    if facts.own_request is not None and reason == Reason.CLIENT_REQUESTED_ANYWAY:
        req = facts.own_request
        items.append(Evidence(facts.own_request_detail, f"the client requested it itself on {_where(req)} at "
                              f"{_ms(req.request_start, origin)}: {facts.own_request_why}",
                              req.request_start, req.id, req.stream_id))
    if facts.own_request is not None and reason == Reason.SERVER_CANCELLED:
        req = facts.own_request
        items.append(Evidence("requested-after-cancel", f"the client then requested it itself on {_where(req)} at "
                              f"{_ms(req.request_start, origin)}: a consequence of the withdrawn promise",
                              req.request_start, req.id, req.stream_id))
    if facts.later_request is not None and reason != Reason.CLIENT_REQUESTED_ANYWAY:
        req = facts.later_request
        items.append(Evidence("later-request", f"the client requested it again on {_where(req)} at "
                              f"{_ms(req.request_start, origin)}, which is not evidence against this push: "
                              f"{facts.later_request_why}", req.request_start, req.id, req.stream_id))
    if reason == Reason.EARLIER_TRAFFIC_UNREADABLE:
        more = facts.unreadable_traffic_count - len(facts.unreadable_traffic)
        for text in facts.unreadable_traffic:
            items.append(Evidence("unreadable-traffic", f"before the promise, {text}"))
        if more > 0:
            items.append(Evidence("unreadable-traffic", f"and {more} more unreadable connections of this client"))
    if reason == Reason.URL_UNREADABLE:
        fields = ", ".join(facts.push.unknown_fields)
        items.append(Evidence("unreadable-url", f"the PUSH_PROMISE's {fields} refer to header-table entries from "
                              "before the capture began"))
    if facts.connection is not None and facts.connection.closed_at is not None and reason == Reason.CONNECTION_CLOSED:
        conn = facts.connection
        items.append(Evidence("connection-closed", f"connection {conn.id} closed ({conn.close_how}) at "
                              f"{_ms(conn.closed_at, origin)}", conn.closed_at))
    items += _reference_items(facts, reason, origin)
    return items


def _cache_items(facts: PushFacts | SimpleNamespace, reason: Reason, origin: float) -> list[Evidence]:
    """What the cache judgement used: Vary's comparisons, and a stored copy that was there but stale."""
    items = [Evidence("vary", note) for note in facts.vary_notes]
    copy = facts.stale_copy
    if copy is not None and reason not in (Reason.CANCELLED_CACHED, Reason.ALREADY_CACHED):
        items.append(Evidence("stale-copy", f"the client held {copy.url} from {_where(copy)}, received at "
                              f"{_ms(copy.response_end, origin)}, but it was {facts.stale_copy_why}",
                              copy.response_end, copy.id, copy.stream_id))
    return items


def _reference_items(facts: PushFacts | SimpleNamespace, reason: Reason, origin: float) -> list[Evidence]:
    items = []
    for seen in facts.references[:3]:
        doc, ref = seen.document, seen.reference
        assumed = f" ({seen.assumed})" if seen.assumed else ""
        items.append(Evidence("reference", f"{doc.url}{assumed} references it ({ref.kind}) at byte {ref.offset}, "
                              f"needed at {_ms(seen.needed_at, origin)}", seen.needed_at, doc.id, doc.stream_id))
    if reason == Reason.CLAIMED_LATE:
        items.append(Evidence("late", f"it completed {facts.late_by * 1000:.1f} ms after it was needed",
                              facts.completed_at))
    if reason == Reason.NOT_REFERENCED:
        for seen in facts.references_elsewhere[:2]:
            items.append(Evidence("reference-elsewhere", f"referenced only by {seen.document.url} on another "
                                  f"connection ({seen.document.connection_id})", seen.needed_at, seen.document.id))
        checked = facts.documents_checked
        listed = ", ".join(document.url for document in checked[:4])
        listed += f" and {len(checked) - 4} more" if len(checked) > 4 else ""
        items.append(Evidence("documents-checked", f"checked {len(checked)} documents loaded on this connection"
                              + (f": {listed}" if checked else "")))
        items.append(Evidence("never-requested", "the client never requested it"))
    for why in facts.unreadable_documents[:2]:
        items.append(Evidence("unreadable-document", why))
    return items
