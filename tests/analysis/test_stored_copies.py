"""The stored copy a push's URL had in the client's cache: the latest one a request like the push's may reuse
under Vary, found through groups by Vary fields and values, with the answers (and the notes) of a walk back over
every stored copy, and without that walk when a client holds thousands of variants."""

from __future__ import annotations

import random
from bisect import bisect_right

import pytest
from factory import Lab

import pushscope.analysis.facts as facts_module
from pushscope.analysis.facts import _where, gather_facts
from pushscope.analysis.index import CaptureIndex
from pushscope.analysis.order import response_arrived_before_promise
from pushscope.analysis.stored_copies import received_at
from pushscope.http.freshness import freshness, vary_matches
from pushscope.model.entities import Exchange, Push


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
