"""One client's requests for one URL, in start order, answering what a push asks of them without walking them all.

A push asks which of these requests was in flight when it was promised (the client had asked first: too late), and
which came first after the promise, on the push's own connection and on another one. Walking every request for the
URL for every push is quadratic when a client asks for one URL thousands of times (a poller, a beacon, a hostile
peer) while the server pushes it as often. A short list is walked; a long one gets small indexes, each built on
first use: the latest response end so far (a push finds the first request still in flight by bisection), per
request the next one on a different connection, and, only if many requests end exactly at one promise, a max-tree
over the ends that skips them. A gigabyte capture from one client holds hundreds of thousands of requests for one
URL: the indexes take 12 bytes per request, not an object each.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from pushscope.model.entities import Exchange, Push

SHORT = 32  # requests walked as they are: fewer than this cost less than building the indexes
SCANNED = 64  # requests looked at one by one for the next one still in flight, before the max-tree is built
_NO_END = float("inf")  # a response that never ended is in flight at any later moment


class UrlRequests:
    """``requests``: in start order (capture order among equal starts); requests without a start are left out,
    as no question a push asks can place them."""

    __slots__ = ("requests", "_latest_end", "_ends", "_leaves", "_next_other")

    def __init__(self, requests: list[Exchange]) -> None:
        self.requests = sorted((r for r in requests if r.request_start is not None), key=_start)
        self._latest_end: array[float] | None = None  # per position, the latest response end up to it
        self._ends: array[float] | None = None  # the max-tree
        self._leaves = 0
        self._next_other: array[int] | None = None

    def in_flight_at(self, push: Push, arrived: Callable[[Exchange, Push], bool]) -> Exchange | None:
        """The first request started at or before the promise whose response had not arrived by then
        (``arrived`` decides, as ``order.response_arrived_before_promise``)."""
        started = bisect_right(self.requests, push.promised_at, key=_start)
        requests = self.requests
        if len(requests) < SHORT:
            return next((r for r in requests[:started] if not arrived(r, push)), None)
        # Only a response that ended at or after the promise can still have been in flight at it (within one
        # connection, wire order and capture time agree): the first such request is found by bisection.
        if self._latest_end is None:
            self._latest_end = _latest_ends(requests)
        position = bisect_left(self._latest_end, push.promised_at)
        while position < started:
            request = requests[position]
            if not arrived(request, push):
                return request
            # It ended at the promise itself, written before it: on to the next one that reaches the promise.
            position = self._next_reaching(position + 1, started, push.promised_at)
        return None

    def _next_reaching(self, start: int, stop: int, at: float) -> int:
        """The first position in [start, stop) whose response ended at or after ``at``; ``stop`` when none. Usually
        close by; the max-tree is built only when a scan finds none within SCANNED."""
        requests = self.requests
        for position in range(start, min(stop, start + SCANNED)):
            if _end(requests[position]) >= at:
                return position
        if stop <= start + SCANNED:
            return stop
        return min(self._reaching(start + SCANNED, at), stop)

    def first_after(self, at: float, connection_id: str, on_connection: list[Exchange]) -> list[Exchange]:
        """The first request started after ``at`` on ``connection_id`` and the first on another connection, in
        start order (none, one or both). ``on_connection``: this URL's requests on ``connection_id``, in start
        order."""
        after = bisect_right(self.requests, at, key=_start)
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

    def _reaching(self, start: int, at: float) -> int:
        """The first position from ``start`` on whose response ended at or after ``at`` (or never ended); the
        list's length when none."""
        if self._ends is None:
            self._build_tree()
        tree, leaves = self._ends, self._leaves
        assert tree is not None
        if start >= len(self.requests):
            return len(self.requests)
        node = start + leaves
        while tree[node] < at:
            while node & 1:  # a right child: its parent's right part is done too
                node >>= 1
            if node == 0:
                return len(self.requests)
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
            tree[leaves + position] = _end(request)
        for node in range(leaves - 1, 0, -1):
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
        self._ends, self._leaves = tree, leaves


def _end(request: Exchange) -> float:
    end = request.response_end
    return _NO_END if end is None else end


def _latest_ends(requests: list[Exchange]) -> array[float]:
    latest = array("d", [0.0]) * len(requests)
    so_far = -_NO_END
    for position, request in enumerate(requests):
        so_far = max(so_far, _end(request))
        latest[position] = so_far
    return latest


def _start(request: Exchange) -> float:
    return request.request_start or 0.0  # (only requests with a start are kept)


def _next_on_other_connection(requests: list[Exchange]) -> array[int]:
    """Per position, the next position whose request is on a different connection (len(requests) when none)."""
    following = array("i", [0]) * len(requests)
    after = len(requests)
    for position in range(len(requests) - 1, -1, -1):
        if position + 1 < len(requests) and requests[position + 1].connection_id != requests[position].connection_id:
            after = position + 1
        following[position] = after
    return following
