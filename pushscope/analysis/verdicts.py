"""Classifying every push: gather its facts, apply the first rule that holds, explain it, cost it, advise.

Pushes are judged in promise order so that a push judged "used" counts as a cached copy for later pushes of
the same URL (a claimed push enters the client's HTTP cache; an unclaimed one dies with its connection).
"""

from __future__ import annotations

from pushscope.analysis.advice import advise
from pushscope.analysis.cost import push_cost
from pushscope.analysis.facts import CaptureIndex, PushFacts, gather_facts
from pushscope.analysis.rules import Rule, first_rule
from pushscope.model.entities import Capture, Evidence, Exchange
from pushscope.vocabulary import Outcome, Reason


def classify_all(capture: Capture) -> None:
    index = CaptureIndex(capture)
    origin = capture.started_at or 0.0
    for push in sorted(capture.pushes, key=lambda p: (p.promised_at, p.id)):
        facts = gather_facts(push, index)
        rule = first_rule(facts)
        push.outcome, push.reason = rule.outcome, rule.reason
        push.reason_detail = _detail(facts, rule.reason)
        push.evidence = explain(facts, rule, origin)
        push.cost = push_cost(facts, index)
        push.advice, push.advice_text = advise(push)
        push.preload_link = facts.preload.text if facts.preload else None
        if push.outcome == Outcome.USED:
            index.mark_used(push)
        index.judged(push)


def _detail(facts: PushFacts, reason: Reason) -> str:
    if reason == Reason.CLIENT_REQUESTED_ANYWAY:
        return facts.own_request_detail
    if reason == Reason.MUST_REFUSE and facts.must_refuse is not None:
        return facts.must_refuse.detail
    return ""


def _ms(at: float | None, origin: float) -> str:
    return "?" if at is None else f"+{(at - origin) * 1000:.1f} ms"


def _where(exchange: Exchange) -> str:
    return f"{exchange.connection_id} stream {exchange.stream_id}"


def explain(facts: PushFacts, rule: Rule, origin: float) -> list[Evidence]:
    items = [_promise_item(facts, origin), _response_item(facts, origin)]
    items += _reason_items(facts, rule.reason, origin)
    if facts.preload is not None:
        note = " (it says nopush, yet the server pushed)" if facts.preload.nopush else ""
        source = "103 Early Hints" if facts.preload.early_hint else "the parent response"
        items.append(Evidence("preload-link", f"caused by Link: {facts.preload.text} in {source}{note}"))
    items.append(Evidence("verdict", f"{rule.outcome} / {rule.reason}: {rule.summary}"))
    return items


def _pushed(facts: PushFacts) -> tuple[int | None, int | None]:
    """The pushed exchange and its stream, which the promise and response evidence point at."""
    exchange = facts.exchange
    return (exchange.id, exchange.stream_id) if exchange is not None else (None, None)


def _promise_item(facts: PushFacts, origin: float) -> Evidence:
    push = facts.push
    ident = f"push ID {push.push_id}" if push.push_id is not None else f"promised stream {push.promised_stream_id}"
    refs = f", promised on {len(push.references)} streams" if len(push.references) > 1 else ""
    text = f"PUSH_PROMISE for {push.url} on stream {push.parent_stream_id} ({ident}{refs})"
    text += f" at {_ms(push.promised_at, origin)}"
    return Evidence("promise", text, push.promised_at, *_pushed(facts))


def _response_item(facts: PushFacts, origin: float) -> Evidence:
    exchange = facts.exchange
    if exchange is None or exchange.response_start is None:
        return Evidence("response", "no pushed response was seen", None, *_pushed(facts))
    size = f"{exchange.body_bytes} body bytes"
    if exchange.complete:
        return Evidence("response", f"pushed response {exchange.status}, {size}, complete at "
                        f"{_ms(exchange.response_end, origin)}", exchange.response_end, *_pushed(facts))
    return Evidence("response", f"pushed response {exchange.status or '(no status)'}, {size}, never completed",
                    exchange.response_start, *_pushed(facts))


def _reason_items(facts: PushFacts, reason: Reason, origin: float) -> list[Evidence]:
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


def _cache_items(facts: PushFacts, reason: Reason, origin: float) -> list[Evidence]:
    """What the cache judgement used: Vary's comparisons, and a stored copy that was there but stale."""
    items = [Evidence("vary", note) for note in facts.vary_notes]
    copy = facts.stale_copy
    if copy is not None and reason not in (Reason.CANCELLED_CACHED, Reason.ALREADY_CACHED):
        items.append(Evidence("stale-copy", f"the client held {copy.url} from {_where(copy)}, received at "
                              f"{_ms(copy.response_end, origin)}, but it was {facts.stale_copy_why}",
                              copy.response_end, copy.id, copy.stream_id))
    return items


def _reference_items(facts: PushFacts, reason: Reason, origin: float) -> list[Evidence]:
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
        listed = ", ".join(checked[:4]) + (f" and {len(checked) - 4} more" if len(checked) > 4 else "")
        items.append(Evidence("documents-checked", f"checked {len(checked)} documents loaded on this connection"
                              + (f": {listed}" if checked else "")))
        items.append(Evidence("never-requested", "the client never requested it"))
    for why in facts.unreadable_documents[:2]:
        items.append(Evidence("unreadable-document", why))
    return items
