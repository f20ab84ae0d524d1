"""HTTP caching freshness (RFC 9111) as a browser's private cache applies it: was a stored copy still fresh?

Private cache semantics: ``s-maxage`` and ``public``/``private`` are shared-cache rules and do not shorten or
lengthen what a browser keeps; ``max-age`` beats ``Expires``; without either, heuristic freshness is 10% of the
time since ``Last-Modified`` (RFC 9111 §4.2.2) for heuristically cacheable statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache

from pushscope.events import Headers
from pushscope.http.headers import header_value, header_values
from pushscope.safe_text import visible

HEURISTICALLY_CACHEABLE = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}
HEURISTIC_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class Freshness:
    storable: bool
    lifetime: float  # seconds
    why: str  # which rule gave the lifetime, for evidence

    def fresh_at_age(self, age: float) -> bool:
        return self.storable and age < self.lifetime


def cache_directives(headers: Headers) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for value in header_values(headers, "cache-control"):
        for part in value.split(","):
            name, sep, arg = part.strip().partition("=")
            if name:
                directives[name.lower()] = arg.strip('"') if sep else None
    return directives


@lru_cache(maxsize=1024)  # every response of a second has the same Date: parsed once
def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


DELTA_SECONDS_MAX = 2**31  # RFC 9111 §1.2.2: a larger delta-seconds is taken as 2^31


def delta_seconds(value: str | None) -> int | None:
    """RFC 9111 delta-seconds (digits only, clamped to 2^31), or None when the value is not one."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return None
    if len(value) > 10:  # never hand a hostile 5,000-digit number to int()
        return DELTA_SECONDS_MAX
    return min(int(value), DELTA_SECONDS_MAX)


def freshness(status: int | None, headers: Headers, response_time: float | None = None) -> Freshness:
    """How long a response stays fresh; ``response_time`` stands in for a missing Date (RFC 9111 §4.2.1)."""
    directives = cache_directives(headers)
    if "no-store" in directives:
        return Freshness(False, 0.0, "Cache-Control: no-store")
    if "no-cache" in directives:
        return Freshness(True, 0.0, "Cache-Control: no-cache (must revalidate before use)")
    if "max-age" in directives:
        max_age = delta_seconds(directives["max-age"])
        if max_age is None:
            return Freshness(True, 0.0, f"invalid max-age={visible(directives['max-age'])[:40]} (treated as stale)")
        return Freshness(True, float(max_age), f"max-age={max_age}")
    expires = header_value(headers, "expires")
    if expires is not None:
        expires_at = _http_date(expires)
        date = _http_date(header_value(headers, "date")) or response_time
        if expires_at is None or date is None:
            return Freshness(True, 0.0, "Expires unparseable (treated as stale)")
        return Freshness(True, max(0.0, expires_at - date), f"Expires - Date = {expires_at - date:.0f}s")
    if status in HEURISTICALLY_CACHEABLE:
        last_modified = _http_date(header_value(headers, "last-modified"))
        date = _http_date(header_value(headers, "date"))
        if last_modified is not None and date is not None and date > last_modified:
            lifetime = (date - last_modified) * HEURISTIC_FRACTION
            return Freshness(True, lifetime, f"heuristic: 10% of the time since Last-Modified = {lifetime:.0f}s")
    return Freshness(status in HEURISTICALLY_CACHEABLE, 0.0, "no explicit freshness")


def current_age(headers: Headers, response_time: float, now: float) -> float:
    """RFC 9111 §4.2.3 with request and response times taken as equal (a capture sees no clock skew)."""
    date = _http_date(header_value(headers, "date"))
    apparent = max(0.0, response_time - date) if date is not None else 0.0
    age_value = float(delta_seconds(header_value(headers, "age")) or 0)  # an invalid Age is ignored (RFC 9111 §5.1)
    return max(apparent, age_value) + max(0.0, now - response_time)


def vary_fields(stored_response: Headers) -> tuple[str, ...] | None:
    """The request fields a stored response varies on, lowercased, in order; None for ``Vary: *`` (never matches)."""
    fields = tuple(f.strip().lower() for value in header_values(stored_response, "vary") for f in value.split(","))
    fields = tuple(f for f in fields if f)
    return None if "*" in fields else fields


def vary_values(request: Headers, fields: tuple[str, ...]) -> tuple[str, ...]:
    """A request's values of ``fields`` as Vary compares them: two requests match when these are equal."""
    return tuple(_normalized(request, name) for name in fields)


def vary_matches(stored_response: Headers, stored_request: Headers, new_request: Headers) -> tuple[bool, str]:
    """Whether a stored response may serve ``new_request`` under its Vary header (RFC 9111 §4.1)."""
    fields = vary_fields(stored_response)
    if fields is None:
        return False, "Vary: * never matches"
    matched = []
    for name in fields:
        stored, new = _normalized(stored_request, name), _normalized(new_request, name)
        if stored != new:
            return False, f"Vary: {name} differs (stored request {_shown(stored_request, name)}, " \
                          f"new request {_shown(new_request, name)})"
        matched.append(f"{name} {_shown(new_request, name)} on both")
    return True, ("Vary: " + ", ".join(matched) + " matched") if matched else ""


def _shown(headers: Headers, name: str) -> str:
    values = header_values(headers, name)
    return repr(", ".join(values)) if values else "absent"


def explain_age(rule: Freshness, headers: Headers, age: float) -> str:
    """The numbers behind a fresh/stale judgement: lifetime, age, and Date's one-second resolution."""
    state = "fresh" if rule.fresh_at_age(age) else "stale"
    text = f"{state}: {rule.why}, lifetime {rule.lifetime:.0f}s, age {age:.1f}s"
    if header_value(headers, "date") is not None and abs(rule.lifetime - age) < 1.0:
        # Date is truncated to whole seconds, so the apparent age is only known to within a second.
        text += " (within Date's 1 s resolution of the lifetime, so the margin is uncertain)"
    return text


def _normalized(headers: Headers, name: str) -> str:
    return ",".join(v.strip() for v in header_values(headers, name)).replace(" ", "").lower()
