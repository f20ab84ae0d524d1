"""What each push cost (bytes, time, competition with the document) and what a used push saved."""

from __future__ import annotations

from pushscope.analysis.facts import CaptureIndex, PushFacts
from pushscope.decode.frame_names import DATA
from pushscope.model.entities import Exchange, PushCost
from pushscope.vocabulary import Outcome


def push_cost(facts: PushFacts, index: CaptureIndex) -> PushCost:
    push, exchange = facts.push, facts.exchange
    cost = PushCost()
    number = index.shared_number
    cost.header_bytes = number(push.promise_wire_bytes + (exchange.response_header_bytes if exchange else 0))
    cost.body_bytes = exchange.body_bytes if exchange else 0
    cost.pushed_bytes = number(cost.header_bytes + cost.body_bytes)
    end = _end_time(facts)
    cost.duration = None if end is None else max(0.0, end - push.promised_at)
    parent = index.parent_of(push)
    if exchange is not None and parent is not None:
        competed, cost.competed_delay = _competition(exchange, parent)
        cost.competed_bytes = number(competed)
    if push.outcome == Outcome.USED:
        cost.late_by = facts.late_by or None
        cost.saved_time = _saved_time(facts, index)
    if push.outcome in (Outcome.WASTED, Outcome.CACHE_DUPLICATED):
        cost.wasted_bytes = cost.pushed_bytes
    return cost


def _end_time(facts: PushFacts) -> float | None:
    exchange = facts.exchange
    if exchange is not None and exchange.response_end is not None:
        return exchange.response_end
    if facts.push.reset is not None:
        return facts.push.reset.at
    if exchange is not None and exchange.frames:
        return exchange.frames[-1].at
    return None


def _competition(pushed: Exchange, parent: Exchange) -> tuple[int, float | None]:
    """Pushed DATA sent while the document was still arriving, and the delay it likely added to it."""
    if parent.response_end is None or parent.response_start is None:
        return 0, None
    competed = sum(
        f.length for f in pushed.frames
        if f.frame_type == DATA and not f.quic and f.sender == "server" and f.at <= parent.response_end
    )
    if not competed:
        return 0, 0.0
    transfer = parent.response_end - parent.response_start
    share = competed / (competed + max(parent.body_bytes, 1))
    return competed, transfer * share


def _saved_time(facts: PushFacts, index: CaptureIndex) -> float | None:
    """A used push saved the round trip the client would have spent asking: needed + rtt - available."""
    needed, completed = facts.needed_at, facts.completed_at
    rtt = index.request_round_trip(facts.push)
    if needed is None or completed is None or rtt is None:
        return None
    return max(0.0, needed + rtt - max(completed, needed))
