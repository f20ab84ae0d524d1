"""One client's requests for one URL, in start order, answering what a push asks of them without walking them all.

A push asks which of these requests was in flight when it was promised (the client had asked first: too late), and
which came first after the promise, on the push's own connection and on another one. Walking every request for the
URL for every push is quadratic when a client asks for one URL thousands of times (a poller, a beacon, a hostile
peer) while the server pushes it as often. A short list is walked; a long one gets small indexes, each built on
first use: the latest response end so far (a push finds the first request still in flight by bisection), per
request the next one on a different connection, and, only if many requests end exactly at one promise (a coarse
clock, or one that never moves), max-trees that skip them: over the ends (the first one after the promise), and
over the push's connection's wire positions (the first one written after the promise on it). A gigabyte capture
from one client holds hundreds of thousands of requests for one URL: the indexes take 12 bytes per request, not an
object each.

Whether a response had arrived when a push was promised is ``order.response_arrived_before_promise``: on the push's
own connection, by wire position; elsewhere, by time. Past a short scan, the trees answer it as that does, taking
as given what it also takes: within one connection, wire order and capture time agree.
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

    __slots__ = ("requests", "_latest_end", "_ends", "_next_other", "_written")

    def __init__(self, requests: list[Exchange]) -> None:
        self.requests = sorted((r for r in requests if r.request_start is not None), key=_start)
        self._latest_end: array[float] | None = None  # per position, the latest response end up to it
        self._ends: MaxTree | None = None  # over the response ends
        self._next_other: array[int] | None = None
        # Per connection: its requests' positions here, and a max-tree over their responses' wire positions.
        self._written: dict[str, tuple[array[int], MaxTree]] = {}

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
        at = push.promised_at
        position = bisect_left(self._latest_end, at)
        # It ended at the promise itself, written before it (or on another connection): the next ones that reach
        # the promise, a few looked at one by one, then through the trees.
        scanned = min(started, position + SCANNED)
        for request in requests[position:scanned]:
            if _end(request) >= at and not arrived(request, push):
                return request
        if scanned >= started:
            return None
        first = min(self._ending_after(scanned, at), self._written_after(scanned, push))
        return requests[first] if first < started else None

    def _ending_after(self, start: int, at: float) -> int:
        """The first position from ``start`` on whose response ended after ``at`` (or never ended): in flight at
        ``at`` wherever it was (on the push's connection too, its wire position being after the promise's)."""
        if self._ends is None:
            self._ends = MaxTree([_end(r) for r in self.requests])
        return self._ends.first_above(start, at)

    def _written_after(self, start: int, push: Push) -> int:
        """The first position from ``start`` on of a request on the push's connection whose response was written
        after the promise (by wire position: one that ended at the promise's very moment); len(requests) when none
        (or when positions are not known, and time decides)."""
        if push.promised_position is None:
            return len(self.requests)
        written = self._written.get(push.connection_id)
        if written is None:
            positions = array("i", (p for p, r in enumerate(self.requests) if r.connection_id == push.connection_id))
            tree = MaxTree([_written(self.requests[p]) for p in positions])
            written = self._written[push.connection_id] = (positions, tree)
        positions, tree = written
        found = tree.first_above(bisect_left(positions, start), push.promised_position - 0.5)  # (at or after it)
        return positions[found] if found < len(positions) else len(self.requests)

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


class MaxTree:
    """The first position from a given one whose value is above a threshold, in O(log n): a max-tree over a list."""

    __slots__ = ("_tree", "_leaves", "_count")

    def __init__(self, values: list[float]) -> None:
        leaves = 1
        while leaves < len(values):
            leaves *= 2
        tree = array("d", [-_NO_END]) * (2 * leaves)
        tree[leaves:leaves + len(values)] = array("d", values)
        for node in range(leaves - 1, 0, -1):
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
        self._tree, self._leaves, self._count = tree, leaves, len(values)

    def first_above(self, start: int, threshold: float) -> int:
        """The first position from ``start`` on whose value is above ``threshold``; the list's length when none."""
        tree, leaves = self._tree, self._leaves
        if start >= self._count:
            return self._count
        node = start + leaves
        while tree[node] <= threshold:
            while node & 1:  # a right child: its parent's right part is done too
                node >>= 1
            if node == 0:
                return self._count
            node += 1  # the next subtree to the right
        while node < leaves:  # down to the leftmost leaf above ``threshold``
            node = 2 * node if tree[2 * node] > threshold else 2 * node + 1
        return node - leaves


def _end(request: Exchange) -> float:
    end = request.response_end
    return _NO_END if end is None else end


def _written(request: Exchange) -> float:
    """Where the response's end was written on its connection; never written: after everything, unknown: before."""
    if request.response_end is None:
        return _NO_END
    return -_NO_END if request.response_end_position is None else float(request.response_end_position)


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
