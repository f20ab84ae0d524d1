"""The probe's ground truth for every push, emitted as a ``PushTruthRecorded`` event.

The probe knows what it did with each push. It names what it knows with the verdict rules' own reason codes
(``pushscope/analysis/rules.py``), so truth and verdict compare on the outcome *and* the reason:

=======================  =================  ==========================================================
truth reason             outcome            what the probe knows
=======================  =================  ==========================================================
claimed                  used               a page request was satisfied by the push
cancelled-cached         cache-duplicated   held fresh, so reset as soon as promised (``--cancel-cached``)
already-cached           cache-duplicated   held fresh, accepted anyway (never used)
pushed-twice             cache-duplicated   the URL was already promised on this connection
rejected                 wasted             reset by the probe without holding a copy
server-cancelled         wasted             the server withdrew its own push (outranks the probe's own
                                            request, which is then its consequence)
client-requested-anyway  wasted             the probe sent its own request (in flight before the promise,
                                            or the pushed response varied on a header that differed)
connection-closed        wasted             the connection ended before the pushed response completed
not-referenced           wasted             nothing the probe loaded on this connection needed it (the
                                            detail says when a document elsewhere references it)
=======================  =================  ==========================================================

The analysis (``pushscope/analysis/truth.py``), not the probe, compares this truth with the verdict.
"""

from __future__ import annotations

from pushscope.events import PushTruthRecorded
from pushscope.http.urls import normalize_url
from pushscope.sources.probe.connection import ProbeConnection, Transfer
from pushscope.sources.probe.page_loader import PageLoader
from pushscope.vocabulary import Outcome, Reason

RunLabel = str | int

TRUTH_OUTCOMES: dict[Reason, Outcome] = {
    Reason.CLAIMED: Outcome.USED,
    Reason.CANCELLED_CACHED: Outcome.CACHE_DUPLICATED,
    Reason.ALREADY_CACHED: Outcome.CACHE_DUPLICATED,
    Reason.PUSHED_TWICE: Outcome.CACHE_DUPLICATED,
    Reason.REJECTED: Outcome.WASTED,
    Reason.CLIENT_REQUESTED_ANYWAY: Outcome.WASTED,
    Reason.SERVER_CANCELLED: Outcome.WASTED,
    Reason.CONNECTION_CLOSED: Outcome.WASTED,
    Reason.NOT_REFERENCED: Outcome.WASTED,
}
def judge(push: Transfer, connection: ProbeConnection, loader: PageLoader, run: RunLabel) -> PushTruthRecorded:
    """The probe's own account of one push, from what it did and knew."""
    key = normalize_url(push.url)
    own = [t for t in loader.requested.get(key, []) if t is not push]
    requested_after = [t for t in own if t.started_at >= push.started_at]
    referenced_by = loader.referenced.get(key)
    if push.state == "cancelled":
        if push.had_fresh_copy:
            reason = Reason.CANCELLED_CACHED
            detail = "the probe held a fresh copy and reset the push as soon as it was promised"
        else:
            reason, detail = Reason.REJECTED, "the probe reset the push without holding a copy"
    elif push.had_fresh_copy:
        reason, detail = Reason.ALREADY_CACHED, "the probe held a fresh copy when it was promised and never used it"
    elif push.pushed_twice:
        reason, detail = Reason.PUSHED_TWICE, "the same URL was already promised on this connection"
    elif push.reset_by == "server":
        reason, detail = Reason.SERVER_CANCELLED, f"the server withdrew the push (code {push.reset_code})"
    elif push.requested_before or (push.state != "claimed" and requested_after):
        when = "before the promise arrived" if push.requested_before else "after the promise (not claimable)"
        reason, detail = Reason.CLIENT_REQUESTED_ANYWAY, f"the probe sent its own request for it {when}"
    elif not push.complete:
        reason, detail = Reason.CONNECTION_CLOSED, "the connection ended before the pushed response completed"
    elif push.state == "claimed":
        reason, detail = Reason.CLAIMED, f"claimed for a page request (referenced by {referenced_by or '?'})"
    elif referenced_by is None:
        reason, detail = Reason.NOT_REFERENCED, "no loaded document or stylesheet references it"
    else:
        reason, detail = Reason.NOT_REFERENCED, f"referenced by {referenced_by} but never claimed on this connection"
    return PushTruthRecorded(connection_id=connection.connection_id, at=push.started_at, run=run, url=push.url,
                             stream_id=push.stream_id, push_id=push.push_id, outcome=TRUTH_OUTCOMES[reason],
                             reason=reason, detail=detail)
