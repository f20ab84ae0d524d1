"""The stored copy a push's URL had in the client's cache: the latest one a request like the push's may reuse
under Vary, found through groups by Vary fields and values, with the answers (and the notes) of a walk back over
every stored copy, and without that walk when a client holds thousands of variants."""

from __future__ import annotations

import random
from bisect import bisect_right

import pytest
from factory import Lab, counted_calls

import pushscope.analysis.facts as facts_module
from pushscope.analysis.facts import _where, gather_facts
from pushscope.analysis.index import CaptureIndex
from pushscope.analysis.order import response_arrived_before_promise
from pushscope.analysis.stored_copies import STORED_COPIES_LOOKED_AT, received_at
from pushscope.http.freshness import freshness, vary_matches
from pushscope.model.entities import Exchange, Push
from pushscope.vocabulary import Outcome, Reason


def _walk(push: Push, copies: list[Exchange]) -> tuple[Exchange | None, bool, list[str]]:
    """Every stored copy before the promise, latest first: the first that arrived and matches, whether it was
    fresh, and the notes on the first three that arrived (what the lookup must answer alike)."""
    notes: list[str] = []
    for candidate in reversed(copies[:bisect_right(copies, push.promised_at, key=received_at)]):
        if not response_arrived_before_promise(candidate, push):
            continue
        assert freshness(candidate.status, candidate.response_headers).storable
        varies, why = vary_matches(candidate.response_headers, candidate.request_headers, push.promise_headers)
        if why and len(notes) < 3:
            notes.append(f"{why}: {_where(candidate)}")
        if varies:
            return candidate, False, notes
    return None, False, notes


def _variants(seed: int) -> Lab:
    """Two connections of one client asking for /a.js with random Accept-Language and X-Id values, the answers
    varying on none, one or both (or *), some with no-store, at coarse times (ties), while the first pushes it."""
    rng = random.Random(seed)
    lab = Lab()
    first, second = lab.h2(0.0), lab.h2(0.0)
    vary = ("", "accept-language", "x-id", "accept-language, x-id", "X-Id ,Accept-Language", "*")
    for step in range(rng.randrange(20, 300)):
        at = round(step * 0.01 + rng.choice((0.0, 0.0, 0.005)), 2)
        values = [("accept-language", rng.choice(("en", "fr", "EN", "de"))), ("x-id", str(rng.randrange(6)))]
        if rng.random() < 0.3:
            page = first.request("/index.html", at)
            first.push(page, "/a.js", at, content_type="text/javascript", end=at + rng.choice((0.0, 0.01)),
                       promise_headers=[v for v in values if rng.random() < 0.8],
                       headers=[("cache-control", "max-age=60")])
            continue
        conn = rng.choice((first, second))
        asked = conn.request("/a.js", at, headers=[v for v in values if rng.random() < 0.8])
        headers = [("cache-control", rng.choice(("max-age=60", "max-age=0", "no-store")))]
        if chosen := rng.choice(vary):
            headers.append(("vary", chosen))
        conn.respond(asked, at, content_type="text/javascript", body=b"x", end=at + rng.choice((0.0, 0.01)),
                     headers=headers)
    return lab


@pytest.mark.parametrize("seed", range(30))
def test_the_lookup_answers_as_the_walk_does(seed: int) -> None:
    capture = _variants(seed).capture
    index = CaptureIndex(capture)
    rng = random.Random(seed)
    for push in capture.pushes:
        facts = gather_facts(push, index)
        copy, _, notes = _walk(push, index.stored_copies(push, facts.url).copies)
        assert (facts.fresh_copy or facts.stale_copy, facts.vary_notes) == (copy, notes)
        if rng.random() < 0.5:
            index.mark_used(push)  # claimed: it joins the copies the next pushes look at


def test_thousands_of_variants_are_not_walked_for_every_push(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request varied on its own X-Id, and each push promised yet another: no stored copy serves any push,
    and no push compares itself with all of them."""
    lab = Lab()
    conn = lab.h2(0.0)
    loads = 400
    for n in range(loads):
        asked = conn.request("/a.js", n * 0.01, headers=[("x-id", str(n))])
        conn.respond(asked, n * 0.01, content_type="text/javascript", body=b"x", end=n * 0.01 + 0.001,
                     headers=[("cache-control", "max-age=600"), ("vary", "x-id")])
    for n in range(loads):
        at = 10.0 + n * 0.01
        page = conn.request("/index.html", at)
        conn.push(page, "/a.js", at, content_type="text/javascript", end=at + 0.001,
                  promise_headers=[("x-id", f"p{n}")])
    compared = [0]
    vary = facts_module.vary_matches

    def counting(*args: object) -> tuple[bool, str]:
        compared[0] += 1
        return vary(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(facts_module, "vary_matches", counting)
    capture = lab.analyse()
    assert len(capture.pushes) == loads
    assert compared[0] <= 4 * loads, compared[0]  # a walk: every earlier copy for every push, 120,000 or more
    assert all(len(p.evidence) < 50 for p in capture.pushes)


def _frozen_clock(loads: int) -> Lab:
    """Everything at one moment on one connection (a capture whose timestamps were zeroed): ``loads`` pushes of
    /a.js, then as many requests of it, each response written after every promise (their positions say so)."""
    lab = Lab()
    conn = lab.h2(0.0)
    for _ in range(loads):
        page = conn.request("/index.html", 0.0)
        conn.push(page, "/a.js", 0.0, content_type="text/javascript", end=0.0,
                  headers=[("cache-control", "max-age=60")])
    for _ in range(loads):
        asked = conn.request("/a.js", 0.0)
        conn.respond(asked, 0.0, content_type="text/javascript", body=b"x", end=0.0,
                     headers=[("cache-control", "max-age=600")])
    for number, push in enumerate(lab.capture.pushes):
        push.promised_position = number
    for number, exchange in enumerate(lab.capture.exchanges):
        if exchange.path == "/a.js" and not exchange.pushed:
            exchange.response_end_position = 1_000_000 + number
    return lab


def test_a_clock_that_stands_still_leaves_the_cache_undecided_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each push would pass over every later response of its URL at its own moment: past the bound the cache check
    stops and says so (the verdict is unknown), and the work stays linear in the pushes."""
    loads = STORED_COPIES_LOOKED_AT + 100
    compared = counted_calls(monkeypatch, facts_module, "response_arrived_before_promise")
    capture = _frozen_clock(loads).analyse()
    assert {(p.outcome, p.reason) for p in capture.pushes} == {(Outcome.UNKNOWN, Reason.CACHE_UNDECIDED)}
    assert compared[0] <= loads * (STORED_COPIES_LOOKED_AT + 2), compared[0]  # a walk: over 130,000
    said = [e.text for e in capture.pushes[0].evidence if e.kind == "cache-undecided"]
    assert said and "compared 256 responses" in said[0] and "not known" in said[0]


def test_below_the_bound_a_still_clock_is_decided_as_before() -> None:
    capture = _frozen_clock(STORED_COPIES_LOOKED_AT - 6).analyse()
    assert Reason.CACHE_UNDECIDED not in {p.reason for p in capture.pushes}
    assert [p.reason for p in capture.pushes][1:] == [Reason.PUSHED_TWICE] * (len(capture.pushes) - 1)


def test_a_new_set_of_vary_fields_in_every_response_is_not_looked_through_for_every_push() -> None:
    """Each response varied on a header of its own name, which its request carried and no promise does: no stored
    copy serves any push, and finding that out would mean a group per response for every push."""
    lab = Lab()
    conn = lab.h2(0.0)
    loads = STORED_COPIES_LOOKED_AT + 100
    for n in range(loads):
        asked = conn.request("/a.js", n * 0.01, headers=[(f"x-v{n}", "1")])
        conn.respond(asked, n * 0.01, content_type="text/javascript", body=b"x", end=n * 0.01 + 0.001,
                     headers=[("cache-control", "max-age=600"), ("vary", f"x-v{n}")])
    for n in range(loads):
        at = 10.0 + n * 0.01
        page = conn.request("/index.html", at)
        conn.push(page, "/a.js", at, content_type="text/javascript", end=at + 0.001)
    capture = lab.analyse()
    assert {(p.outcome, p.reason) for p in capture.pushes} == {(Outcome.UNKNOWN, Reason.CACHE_UNDECIDED)}
    said = [e.text for e in capture.pushes[-1].evidence if e.kind == "cache-undecided"]
    assert said and f"({loads} sets of Vary fields)" in said[0]


def test_the_lookup_stops_at_its_bound_and_says_it_did() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    for n in range(5):
        asked = conn.request("/a.js", n * 0.01, headers=[(f"x-v{n}", "1")])
        conn.respond(asked, n * 0.01, content_type="text/javascript", body=b"x", end=n * 0.01 + 0.001,
                     headers=[("cache-control", "max-age=600"), ("vary", f"x-v{n}")])
    page = conn.request("/index.html", 1.0)
    conn.push(page, "/a.js", 1.0, content_type="text/javascript", end=1.001, promise_headers=[("x-v2", "1")])
    index = CaptureIndex(lab.capture)
    push = lab.capture.pushes[0]
    stored = index.stored_copies(push, index.key_of(push))
    before = stored.order(stored.copies[-1])
    found = stored.latest_reusable(push, (before[0], before[1] + 1), response_arrived_before_promise)
    assert found.decided and found.copy is not None and found.copy.request_headers[-1] == ("x-v2", "1")
    assert stored.variants == 5
    assert stored.latest_reusable(push, (before[0], before[1] + 1), response_arrived_before_promise, 4) == \
        (None, False)
