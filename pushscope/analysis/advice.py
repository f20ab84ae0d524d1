"""One recommendation per push: keep it, drop it, preload or Early Hints instead, or make it cache-aware."""

from __future__ import annotations

from pushscope.model.entities import Push
from pushscope.vocabulary import Outcome, Reason

ADVICE_TEXT = {
    "keep": "keep: the push was used and saved a round trip",
    "drop": "drop: nothing used it; remove the push (and its Link rel=preload, or add nopush)",
    "preload": "send Link: rel=preload or 103 Early Hints instead: the client decides, and asks in time",
    "cache-aware": "make it cache-aware: push only to clients without a fresh copy (a cookie or cache digest, "
                   "as h2o's casper does)",
}


def advise(push: Push) -> tuple[str, str]:
    outcome, reason = push.outcome, push.reason
    if outcome == Outcome.CACHE_DUPLICATED:
        code = "cache-aware"
    elif outcome == Outcome.USED:
        code = "keep" if reason == Reason.CLAIMED or (push.cost.saved_time or 0) > 0 else "preload"
    elif reason in (Reason.NOT_REFERENCED, Reason.PUSH_DISABLED, Reason.MUST_REFUSE):
        code = "drop"
    elif outcome == Outcome.WASTED:
        code = "preload"
    else:
        return "", ""
    return code, ADVICE_TEXT[code]
