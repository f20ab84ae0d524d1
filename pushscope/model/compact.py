"""Packing a loaded model: what the load left growable is made exact, and what repeats is kept once.

A gigabyte capture holds millions of exchanges and frames; per exchange, empty lists and spare room in growing
buffers cost more than its facts. Compacting keeps every value as it reads (an empty list still reads as an empty
list, a body as the same bytes); the builder can go on afterwards (a live capture is compacted after each analysis).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

from pushscope.events import Headers
from pushscope.model.entities import EMPTY as EMPTY  # re-exported: the shared empty list
from pushscope.model.entities import Capture, Exchange
from pushscope.model.entities import FrozenEmptyList as FrozenEmptyList  # re-exported

K = TypeVar("K")
V = TypeVar("V")
H = TypeVar("H", bound=Hashable | None)


def growable(values: list[V]) -> list[V]:
    """``values``, or a new empty list in place of the shared empty one (which refuses to grow)."""
    return [] if values is EMPTY else values


def keep_one(kept: dict[K, V], key: K, value: V, limit: int) -> V:
    """``value``, or the one ``kept`` already holds for an equal ``key``. Bounded: ``kept`` starts over when it
    holds ``limit`` (a hostile capture can make every value different)."""
    if len(kept) >= limit:
        kept.clear()
    return kept.setdefault(key, value)


class SharedValues:
    """Equal header lists and bodies seen so far, to keep one of each. Bounded: it starts over when full (a
    hostile capture can make every list different)."""

    LIMIT = 1 << 16

    def __init__(self) -> None:
        self.header_lists: dict[tuple[tuple[str, str], ...], Headers] = {}
        self.bodies: dict[bytes, bytes] = {}
        self.settings_seen: dict[tuple[tuple[str, tuple[tuple[str, int], ...]], ...], dict[str, dict[str, int]]] = {}
        self.numbers: dict[int, int] = {}
        self.values: dict[Hashable, Any] = {}

    def headers(self, headers: Headers) -> Headers:
        if not headers:
            return headers
        return keep_one(self.header_lists, tuple(headers), headers, self.LIMIT)

    def body(self, data: bytes) -> bytes:
        return keep_one(self.bodies, data, data, self.LIMIT)

    def value(self, value: H) -> H:
        """One object for equal immutable values (strings, endpoints, tuples of names) that connections repeat."""
        if value is None:
            return value
        return keep_one(self.values, value, value, self.LIMIT)

    def number(self, value: int) -> int:
        """One int object for equal sizes (28 bytes each above 256: the same resource has the same sizes)."""
        if -5 <= value <= 256:  # CPython keeps one of each of these already
            return value
        return keep_one(self.numbers, value, value, self.LIMIT)

    def settings(self, settings: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        """One dict for equal SETTINGS (both sides): nothing changes a connection's settings in place."""
        key = tuple((side, tuple(values.items())) for side, values in settings.items())
        return keep_one(self.settings_seen, key, settings, self.LIMIT)


def compact_exchange(exchange: Exchange, shared: SharedValues) -> None:
    """One exchange made exact: the builder calls it when a response ends, so a large load never holds much slack."""
    exchange.frames.compact()
    # Equal header lists (the same resource asked for on every connection) are one list; nothing changes a header
    # list in place once it is built (the builder assigns new ones).
    exchange.request_headers = shared.headers(exchange.request_headers)
    exchange.response_headers = shared.headers(exchange.response_headers)
    number = shared.number
    exchange.body_bytes, exchange.request_body_bytes = number(exchange.body_bytes), number(exchange.request_body_bytes)
    exchange.request_header_bytes = number(exchange.request_header_bytes)
    exchange.response_header_bytes = number(exchange.response_header_bytes)
    body = exchange.body
    if type(body) is bytearray:
        # A page served a thousand times is kept once (reference extraction is memoised by content too).
        exchange.body = shared.body(bytes(body)) if body else b""


def compact(capture: Capture) -> None:
    """Make every growable part of the model exact; share empty lists, equal header lists and settings, and bodies
    with the same bytes."""
    shared = SharedValues()
    for exchange in capture.exchanges:
        compact_exchange(exchange, shared)
    settings: dict[tuple[tuple[str, int], ...], dict[str, dict[str, int]]] = {}
    for conn in capture.connections.values():
        conn.frames.compact()
        # Most connections of a capture announce the same SETTINGS: one dict for all of them (the builder replaces
        # a connection's dict rather than updating it).
        key = tuple((f"{side}:{name}", value) for side, values in conn.settings.items()
                    for name, value in values.items())
        conn.settings = settings.setdefault(key, conn.settings)
