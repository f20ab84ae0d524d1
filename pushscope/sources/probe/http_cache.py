"""The probe's private HTTP cache (RFC 9111), kept across the runs of one session.

Freshness and age come from :mod:`pushscope.http.freshness`, the same rules the analysis applies to a
capture, so "the probe held a fresh copy" and "the capture shows a fresh copy" mean the same thing. Like a
browser's cache it stores responses to its own GET requests and pushes it claimed (an unclaimed push never
reaches the HTTP cache), keyed by normalised URL, and serves them only while fresh and when Vary allows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pushscope.events import Headers
from pushscope.http.freshness import cache_directives, current_age, freshness, vary_matches
from pushscope.http.headers import header_values
from pushscope.http.urls import normalize_url

# RFC 9111 §3: statuses a cache may store without explicit freshness are the heuristically cacheable ones;
# with explicit freshness (max-age, Expires) any final status that the method allows.
STORABLE_WITHOUT_FRESHNESS = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}


@dataclass(slots=True)
class CachedResponse:
    url: str
    status: int
    request_headers: Headers
    response_headers: Headers
    body: bytes
    response_time: float
    source: str  # "request" or "push"
    run: str | int | None = None

    def age(self, now: float) -> float:
        return current_age(self.response_headers, self.response_time, now)

    def fresh(self, now: float) -> bool:
        return freshness(self.status, self.response_headers).fresh_at_age(self.age(now))

    def describe(self, now: float) -> str:
        rule = freshness(self.status, self.response_headers)
        return f"{rule.why}, age {self.age(now):.1f}s"


@dataclass(slots=True)
class HttpCache:
    entries: dict[str, CachedResponse] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def store(self, url: str, method: str, status: int | None, request_headers: Headers, response_headers: Headers,
              body: bytes, response_time: float, source: str, run: str | int | None = None) -> bool:
        """Store a complete response if RFC 9111 lets a private cache keep it; True if stored."""
        if method != "GET" or status is None or status < 200 or status == 206:
            return False
        rule = freshness(status, response_headers)
        if not rule.storable:
            return False
        directives = cache_directives(response_headers)
        explicit = "max-age" in directives or bool(header_values(response_headers, "expires"))
        if status not in STORABLE_WITHOUT_FRESHNESS and not explicit:
            return False
        if any(v.strip() == "*" for value in header_values(response_headers, "vary") for v in value.split(",")):
            return False
        key = normalize_url(url)
        self.entries[key] = CachedResponse(key, status, list(request_headers), list(response_headers), bytes(body),
                                           response_time, source, run)
        return True

    def lookup(self, url: str, request_headers: Headers, now: float | None = None) -> CachedResponse | None:
        """A stored response that is fresh now and whose Vary matches ``request_headers``; else None."""
        entry = self.entries.get(normalize_url(url))
        if entry is None:
            return None
        now = time.time() if now is None else now
        if not entry.fresh(now):
            return None
        matches, _why = vary_matches(entry.response_headers, entry.request_headers, request_headers)
        return entry if matches else None
