"""One client's storable responses for one URL, by arrival: what its HTTP cache may hold when a push comes, and
the latest of them a request like the push's may reuse (RFC 9111 §4.1, Vary) without walking the others.

A client asked for a URL thousands of times, each request varying on a header the response names in Vary (a
hostile client, or server): walking back over every stored variant for every push of it is quadratic. The copies
are grouped by the fields they vary on and the values their requests had: a push looks in the group of each set
of fields with its own values, a dictionary lookup and a bisection each. The groups are built on first use (a URL
that is never pushed twice needs none) and kept in step as claimed pushes join.

What a hostile capture can still make long is bounded, and a lookup that reaches the bound says so rather than
answer: the groups (a server can name a new set of Vary fields in every response), and the copies passed over
because they were written after the promise at its own moment (a capture whose clock stands still has every
response at the promise's moment).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from typing import NamedTuple

from pushscope.http.freshness import vary_fields, vary_values
from pushscope.model.entities import Exchange, Push

# The stored copies (and groups) one push's cache check looks at, at most: each costs a comparison, and without a
# bound a capture could make every push of a URL look at every response of it (quadratic in the URL's copies).
STORED_COPIES_LOOKED_AT = 256

Order = tuple[float, int]  # arrival, then the order in which copies joined: their order in ``copies``
Group = dict[tuple[str, ...], list[tuple[Order, Exchange]]]  # per request values, in order


class Lookup(NamedTuple):
    copy: Exchange | None
    decided: bool  # False: the bound was reached first, and a copy may have been missed


class StoredCopies:
    __slots__ = ("copies", "_order", "_joined", "_groups")

    def __init__(self, copies: list[Exchange]) -> None:
        self.copies = sorted(copies, key=received_at)
        self._order = {c.id: (received_at(c), n) for n, c in enumerate(self.copies)}
        self._joined = len(self.copies)
        self._groups: dict[tuple[str, ...], Group] | None = None  # per Vary fields

    def add(self, copy: Exchange) -> None:
        """A copy joins (a claimed push): after those that arrived at the same moment, as ``insort`` puts it."""
        insort(self.copies, copy, key=received_at)
        order = self._order[copy.id] = (received_at(copy), self._joined)
        self._joined += 1
        if self._groups is not None:
            self._group(copy, order)

    def order(self, copy: Exchange) -> Order:
        return self._order[copy.id]

    @property
    def variants(self) -> int:
        """How many sets of Vary fields the copies name (known once a lookup has grouped them)."""
        return len(self._groups or ())

    def latest_reusable(self, push: Push, before: Order, arrived: Callable[[Exchange, Push], bool],
                        looks: int = STORED_COPIES_LOOKED_AT) -> Lookup:
        """The latest copy before ``before`` that had arrived at the promise (``arrived``) and whose Vary fields
        had the same values in its request as in the push's promise, looking at ``looks`` groups and copies at
        most (undecided past that)."""
        if self._groups is None:
            self._groups = {}
            for copy in self.copies:
                self._group(copy, self._order[copy.id])
        best: tuple[Order, Exchange] | None = None
        for fields, group in self._groups.items():
            looks -= 1
            if looks < 0:
                return Lookup(None, False)
            members = group.get(vary_values(push.promise_headers, fields))
            if not members:
                continue
            position = bisect_left(members, before, key=_first)
            while position > 0:  # (back over those at the promise's own moment, written after it)
                position -= 1
                order, copy = members[position]
                if arrived(copy, push):
                    if best is None or order > best[0]:
                        best = order, copy
                    break
                looks -= 1
                if looks < 0:
                    return Lookup(None, False)
        return Lookup(None if best is None else best[1], True)

    def _group(self, copy: Exchange, order: Order) -> None:
        assert self._groups is not None
        fields = vary_fields(copy.response_headers)
        if fields is None:  # Vary: * serves no other request
            return
        members = self._groups.setdefault(fields, {}).setdefault(vary_values(copy.request_headers, fields), [])
        insort(members, (order, copy), key=_first)


def received_at(exchange: Exchange) -> float:
    return exchange.response_end or 0.0


def _first(member: tuple[Order, Exchange]) -> Order:
    return member[0]
