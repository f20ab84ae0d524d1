"""RFC 9111 freshness as a browser's private cache applies it, and Vary matching."""

from __future__ import annotations

import pytest
from factory import DATE, T0, http_date

from pushscope.http.freshness import cache_directives, current_age, freshness, vary_matches


def lifetime(headers: list[tuple[str, str]], status: int = 200) -> float:
    return freshness(status, headers).lifetime


def test_max_age() -> None:
    rule = freshness(200, [("cache-control", "public, max-age=600"), ("date", DATE)])
    assert rule.storable and rule.lifetime == 600 and "max-age=600" in rule.why
    assert rule.fresh_at_age(599.9) and not rule.fresh_at_age(600)


def test_max_age_beats_expires() -> None:
    headers = [("cache-control", "max-age=10"), ("date", DATE), ("expires", http_date(3600))]
    assert lifetime(headers) == 10
    headers = [("cache-control", "max-age=3600"), ("date", DATE), ("expires", http_date(-60))]
    assert lifetime(headers) == 3600


def test_expires_minus_date() -> None:
    rule = freshness(200, [("date", DATE), ("expires", http_date(120))])
    assert rule.lifetime == 120 and "Expires - Date" in rule.why
    assert lifetime([("date", DATE), ("expires", http_date(-120))]) == 0  # already expired


@pytest.mark.parametrize("expires", ["0", "-1", "not a date"])
def test_invalid_expires_is_already_expired(expires: str) -> None:
    rule = freshness(200, [("date", DATE), ("expires", expires)])
    assert rule.lifetime == 0 and not rule.fresh_at_age(0)


def test_no_store_not_storable() -> None:
    rule = freshness(200, [("cache-control", "max-age=600, no-store")])
    assert not rule.storable and not rule.fresh_at_age(0)


def test_no_cache_must_revalidate() -> None:
    rule = freshness(200, [("cache-control", "no-cache, max-age=600")])
    assert rule.storable and rule.lifetime == 0 and not rule.fresh_at_age(0)


@pytest.mark.parametrize(("value", "expected"), [("max-age=\"60\"", 60), ("Max-Age=30", 30), ("max-age=abc", 0),
                                                 ("max-age", 0), ("s-maxage=600", 0), ("private, max-age=5", 5)])
def test_directive_parsing(value: str, expected: float) -> None:
    assert lifetime([("cache-control", value)]) == expected


def test_cache_control_split_over_several_fields() -> None:
    headers = [("cache-control", "public"), ("cache-control", "max-age=90, immutable")]
    assert cache_directives(headers) == {"public": None, "max-age": "90", "immutable": None}
    assert lifetime(headers) == 90


def test_heuristic_freshness_from_last_modified() -> None:
    rule = freshness(200, [("date", DATE), ("last-modified", http_date(-1000))])
    assert rule.lifetime == pytest.approx(100) and "heuristic" in rule.why
    assert freshness(404, [("date", DATE), ("last-modified", http_date(-1000))]).lifetime == pytest.approx(100)


def test_no_heuristic_for_non_heuristically_cacheable_status() -> None:
    rule = freshness(302, [("date", DATE), ("last-modified", http_date(-1000))])
    assert rule.lifetime == 0 and not rule.storable


def test_no_heuristic_when_last_modified_is_after_date() -> None:
    assert lifetime([("date", DATE), ("last-modified", http_date(100))]) == 0


def test_current_age_resident_time() -> None:
    headers = [("date", DATE)]
    assert current_age(headers, T0, T0 + 30) == pytest.approx(30)


def test_current_age_apparent_age_from_date() -> None:
    # The response was generated 5 s before it arrived (a cache in between), then stayed 2 s in ours.
    assert current_age([("date", DATE)], T0 + 5, T0 + 7) == pytest.approx(7)


def test_current_age_age_header() -> None:
    headers = [("date", DATE), ("age", "100")]
    assert current_age(headers, T0, T0 + 10) == pytest.approx(110)
    # The larger of the apparent age and the Age header counts.
    assert current_age([("date", DATE), ("age", "1")], T0 + 50, T0 + 50) == pytest.approx(50)
    assert current_age([("age", "junk")], T0, T0 + 1) == pytest.approx(1)


def test_age_header_can_make_a_max_age_response_stale() -> None:
    headers = [("cache-control", "max-age=60"), ("date", DATE), ("age", "59")]
    rule = freshness(200, headers)
    assert rule.fresh_at_age(current_age(headers, T0, T0 + 0.5))
    assert not rule.fresh_at_age(current_age(headers, T0, T0 + 1.5))


def test_vary() -> None:
    stored_request = [("accept-encoding", "gzip, br"), ("user-agent", "a/1")]
    response = [("vary", "Accept-Encoding")]
    assert vary_matches(response, stored_request, [("accept-encoding", "gzip,br"), ("user-agent", "b/2")])[0]
    ok, why = vary_matches(response, stored_request, [("accept-encoding", "gzip")])
    assert not ok and why == "Vary: accept-encoding differs (stored request 'gzip, br', new request 'gzip')"
    ok, why = vary_matches(response, stored_request, [("accept-encoding", "gzip, br")])
    assert ok and why == "Vary: accept-encoding 'gzip, br' on both matched"
    assert vary_matches([], stored_request, [])[0]
    assert vary_matches([("vary", "x-absent")], stored_request, [])[0]  # absent on both sides matches
    ok, why = vary_matches([("vary", "*")], stored_request, stored_request)
    assert not ok and "*" in why


def test_vary_over_several_fields_and_names() -> None:
    response = [("vary", "accept-encoding"), ("vary", "User-Agent, Accept-Language")]
    stored = [("accept-encoding", "br"), ("user-agent", "a/1"), ("accept-language", "en")]
    assert vary_matches(response, stored, list(stored))[0]
    ok, why = vary_matches(response, stored, stored[:2] + [("accept-language", "fr")])
    assert not ok and "accept-language" in why
