"""The verdict rules, in one place and in order: the first rule whose predicate holds decides.

Precedence: cache-duplicated, then wasted, then used; ``unknown`` rules sit where the evidence a later rule
would need is missing, so a verdict is never guessed. Each rule is (outcome, reason, predicate, explain):
change a rule here without reading the rest of the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pushscope.analysis.facts import PushFacts
from pushscope.vocabulary import Outcome, Reason

# Scheduling noise on the capturing host: a push that completes this soon after it was needed was not late.
LATE_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class Rule:
    outcome: Outcome
    reason: Reason
    holds: Callable[[PushFacts], bool]
    summary: str


RULES: tuple[Rule, ...] = (
    Rule(Outcome.WASTED, Reason.MUST_REFUSE,
         lambda f: f.must_refuse is not None,
         "the client must refuse this push (RFC 9113 §8.4), so it cannot have been used or cached"),
    Rule(Outcome.UNKNOWN, Reason.CACHE_UNDECIDED,
         lambda f: bool(f.cache_undecided),
         "whether the client already held a copy was not decided: the capture holds more responses of this URL "
         "to compare than one push's cache check looks at"),
    Rule(Outcome.CACHE_DUPLICATED, Reason.CANCELLED_CACHED,
         lambda f: f.client_reset is not None and f.fresh_copy is not None,
         "the client reset the push because it already held a fresh copy"),
    Rule(Outcome.CACHE_DUPLICATED, Reason.ALREADY_CACHED,
         lambda f: f.fresh_copy is not None,
         "the client already held a fresh copy of this URL"),
    Rule(Outcome.CACHE_DUPLICATED, Reason.PUSHED_TWICE,
         lambda f: f.earlier_promise is not None,
         "the same URL was already promised on this connection"),
    Rule(Outcome.WASTED, Reason.PUSH_DISABLED,
         lambda f: bool(f.push_disabled),
         "the client had not allowed push (protocol violation by the server)"),
    Rule(Outcome.WASTED, Reason.REJECTED,
         lambda f: f.client_reset is not None,
         "the client refused or cancelled the push and held no copy"),
    Rule(Outcome.WASTED, Reason.SERVER_CANCELLED,
         lambda f: f.server_reset is not None,
         "the server withdrew its own push (CANCEL_PUSH, or a reset of the promised stream)"),
    Rule(Outcome.WASTED, Reason.CLIENT_REQUESTED_ANYWAY,
         lambda f: f.own_request is not None,
         "the client sent its own request for the URL"),
    Rule(Outcome.WASTED, Reason.CONNECTION_CLOSED,
         lambda f: f.closed_before_complete,
         "the connection closed before the pushed response was complete"),
    Rule(Outcome.UNKNOWN, Reason.INCOMPLETE_AT_CAPTURE_END,
         lambda f: not f.complete,
         "the capture ended before the pushed response completed"),
    Rule(Outcome.UNKNOWN, Reason.EARLIER_TRAFFIC_UNREADABLE,
         lambda f: f.unreadable_traffic_count > 0,
         "earlier traffic between this client and server could not be read: it may already have held a copy"),
    Rule(Outcome.UNKNOWN, Reason.URL_UNREADABLE,
         lambda f: f.url_unknown,
         "the promised URL is not in the capture, so no document can be matched against it"),
    Rule(Outcome.UNKNOWN, Reason.DOCUMENTS_UNREADABLE,
         lambda f: not f.references and bool(f.unreadable_documents),
         "a loaded document could not be read, so whether it references the push is unknown"),
    Rule(Outcome.WASTED, Reason.NOT_REFERENCED,
         lambda f: not f.references,
         "no document or stylesheet loaded on this connection references it, and it was never requested"),
    Rule(Outcome.USED, Reason.CLAIMED_LATE,
         lambda f: f.late_by > LATE_TOLERANCE,
         "referenced and used, but it completed after the document made it needed"),
    Rule(Outcome.USED, Reason.CLAIMED,
         lambda f: True,
         "referenced by a loaded document and never re-requested"),
)


def first_rule(facts: PushFacts) -> Rule:
    for rule in RULES:
        if rule.holds(facts):
            return rule
    raise AssertionError("the last rule always holds")
