"""One client's requests for one URL, in start order, answering what a push asks of them without walking them all.

A push asks which of these requests was in flight when it was promised (the client had asked first: too late), and
which came first after the promise, on the push's own connection and on another one. Walking every request for the
URL for every push is quadratic when a client asks for one URL thousands of times (a poller, a beacon, a hostile
peer) while the server pushes it as often. A short list is walked; a long one gets two small indexes, built on
first use: a max-tree over the responses' ends and, per request, the next one on a different connection.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable

from pushscope.model.entities import Exchange, Push

SHORT = 32  # requests walked as they are: fewer than this cost less than building the indexes
_NO_END = float("inf")  # a response that never ended is in flight at any later moment


class UrlRequests:
    """``requests``: in start order (capture order among equal starts); requests without a start are left out,
    as no question a push asks can place them."""

    __slots__ = ("requests", "_starts", "_ends", "_leaves", "_next_other")

    def __init__(self, requests: list[Exchange]) -> None:
        self.requests = sorted((r for r in requests if r.request_start is not None),
                               key=_start)
        self._starts: array[float] = array("d", map(_start, self.requests))
        self._ends: array[float] | None = None  # the max-tree, built on first use by a long list
        self._leaves = 0
        self._next_other: array[int] | None = None

    def in_flight_at(self, push: Push, arrived: Callable[[Exchange, Push], bool]) -> Exchange | None:
        """The first request started at or before the promise whose response had not arrived by then
        (``arrived`` decides, as ``order.response_arrived_before_promise``)."""
        started = bisect_right(self._starts, push.promised_at)
        requests = self.requests
        if len(requests) < SHORT:
            return next((r for r in requests[:started] if not arrived(r, push)), None)
        # Only a response that ended at or after the promise can still have been in flight at it (within one
        # connection, wire order and capture time agree), so the others are skipped by the tree.
        position = self._reaching(0, push.promised_at)
        while position is not None and position < started:
            request = requests[position]
            if not arrived(request, push):
                return request
            position = self._reaching(position + 1, push.promised_at)  # a tie: it ended at the promise itself
        return None

    def first_after(self, at: float, connection_id: str, on_connection: list[Exchange]) -> list[Exchange]:
        """The first request started after ``at`` on ``connection_id`` and the first on another connection, in
        start order (none, one or both). ``on_connection``: this URL's requests on ``connection_id``, in start
        order."""
        after = bisect_right(self._starts, at)
        if after == len(self.requests):
            return []
        same_at = bisect_right(on_connection, at, key=_start)
        same = on_connection[same_at] if same_at < len(on_connection) else None
        other = self._other_than(after, connection_id)
        found = [r for r in (same, other) if r is not None]
        found.sort(key=_start)
        return found

    def _other_than(self, position: int, connection_id: str) -> Exchange | None:
        requests = self.requests
        if requests[position].connection_id != connection_id:
            return requests[position]
        if len(requests) < SHORT:
            return next((r for r in requests[position:] if r.connection_id != connection_id), None)
        if self._next_other is None:
            self._next_other = _next_on_other_connection(requests)
        following = self._next_other[position]
        return requests[following] if following < len(requests) else None

    def _reaching(self, start: int, at: float) -> int | None:
        """The first position from ``start`` on whose response ended at or after ``at`` (or never ended)."""
        if self._ends is None:
            self._build_tree()
        tree, leaves = self._ends, self._leaves
        assert tree is not None
        if start >= leaves:
            return None
        node = start + leaves
        while tree[node] < at:
            while node & 1:  # a right child: its parent's right part is done too
                node >>= 1
            if node == 0:
                return None
            node += 1  # the next subtree to the right
        while node < leaves:  # down to the leftmost leaf that reaches ``at``
            node = 2 * node if tree[2 * node] >= at else 2 * node + 1
        return node - leaves

    def _build_tree(self) -> None:
        leaves = 1
        while leaves < len(self.requests):
            leaves *= 2
        tree = array("d", [-_NO_END]) * (2 * leaves)
        for position, request in enumerate(self.requests):
            end = request.response_end
            tree[leaves + position] = _NO_END if end is None else end
        for node in range(leaves - 1, 0, -1):
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
        self._ends, self._leaves = tree, leaves


def _start(request: Exchange) -> float:
    return request.request_start or 0.0  # (only requests with a start are kept)


def _next_on_other_connection(requests: list[Exchange]) -> array[int]:
    """Per position, the next position whose request is on a different connection (len(requests) when none)."""
    following = array("q", bytes(8 * len(requests)))
    after = len(requests)
    for position in range(len(requests) - 1, -1, -1):
        if position + 1 < len(requests) and requests[position + 1].connection_id != requests[position].connection_id:
            after = position + 1
        following[position] = after
    return following
