"""Classifying every push: gather its facts, apply the first rule that holds, explain it, cost it, advise.

Each push keeps only what its evidence shows (``evidence.Explanation``); its texts are rendered when read.
Pushes are judged in promise order so that a push judged "used" counts as a cached copy for later pushes of
the same URL (a claimed push enters the client's HTTP cache; an unclaimed one dies with its connection).
"""

from __future__ import annotations

from pushscope.analysis.advice import advise
from pushscope.analysis.cost import push_cost
from pushscope.analysis.evidence import Explanation
from pushscope.analysis.facts import CaptureIndex, PushFacts, gather_facts
from pushscope.analysis.rules import first_rule
from pushscope.model.entities import Capture
from pushscope.vocabulary import Outcome, Reason


def classify_all(capture: Capture) -> None:
    index = CaptureIndex(capture)
    origin = capture.started_at or 0.0
    for push in sorted(capture.pushes, key=lambda p: (p.promised_at, p.id)):
        facts = gather_facts(push, index)
        rule = first_rule(facts)
        push.outcome, push.reason = rule.outcome, rule.reason
        push.reason_detail = _detail(facts, rule.reason)
        push.evidence = Explanation(facts, rule, origin)
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


