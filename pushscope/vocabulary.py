"""The words a verdict is made of: outcomes and reason codes, one typed list shared by every layer.

The verdict rules (``analysis/rules.py``), the probe's own account of each push, the lab clients' ground truth,
the JSON schema and every view use these values. They are ``StrEnum`` members, so they compare equal to, and
serialise as, the plain strings the reports have always carried ("used", "claimed-late", ...).
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What became of a pushed resource."""

    USED = "used"
    WASTED = "wasted"
    CACHE_DUPLICATED = "cache-duplicated"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    """Why a push has its outcome: one code per verdict rule, plus the probe's own ``rejected``.

    ``NONE`` is the empty reason a push carries before it is judged.
    """

    NONE = ""
    MUST_REFUSE = "must-refuse"
    CACHE_UNDECIDED = "cache-undecided"
    CANCELLED_CACHED = "cancelled-cached"
    ALREADY_CACHED = "already-cached"
    PUSHED_TWICE = "pushed-twice"
    PUSH_DISABLED = "push-disabled"
    REJECTED = "rejected"
    SERVER_CANCELLED = "server-cancelled"
    CLIENT_REQUESTED_ANYWAY = "client-requested-anyway"
    CONNECTION_CLOSED = "connection-closed"
    INCOMPLETE_AT_CAPTURE_END = "incomplete-at-capture-end"
    EARLIER_TRAFFIC_UNREADABLE = "earlier-traffic-unreadable"
    URL_UNREADABLE = "url-unreadable"
    DOCUMENTS_UNREADABLE = "documents-unreadable"
    NOT_REFERENCED = "not-referenced"
    CLAIMED_LATE = "claimed-late"
    CLAIMED = "claimed"


# Display order of outcomes everywhere (summaries, filters, legends).
OUTCOMES: tuple[Outcome, ...] = (Outcome.USED, Outcome.WASTED, Outcome.CACHE_DUPLICATED, Outcome.UNKNOWN)
