"""A client that asks for one URL thousands of times while the server pushes it as often: each push's facts come
from the few requests and promises that can matter, found through indexes, with the same answers as a walk over
all of them."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from factory import Lab, counted_calls

import pushscope.analysis.facts as facts_module
from pushscope.analysis.facts import _mismatch_reason, _not_evidence_against, gather_facts
from pushscope.analysis.index import CaptureIndex
from pushscope.analysis.order import response_arrived_before_promise
from pushscope.analysis.url_requests import SCANNED, SHORT, UrlRequests
from pushscope.model.entities import Capture, Exchange, Push
from pushscope.vocabulary import Reason


def _polling_client(loads: int, *, reset_pushes: bool = False) -> Lab:
    """One connection: per load, a page that pushes /a.js, then the client asks for /a.js itself."""
    lab = Lab()
    conn = lab.h2(0.0)
    at = 0.0
    for _ in range(loads):
        page = conn.request("/index.html", at)
        promised = conn.promise(page, "/a.js", at + 0.001)
        conn.respond(page, at + 0.002, body=b"<html></html>", end=at + 0.003)
        if reset_pushes:
            conn.reset(promised, at + 0.0025)
        else:
            conn.respond(promised, at + 0.003, content_type="text/javascript", body=b"x", end=at + 0.004)
        asked = conn.request("/a.js", at + 0.005)
        conn.respond(asked, at + 0.006, content_type="text/javascript", body=b"x", end=at + 0.007)
        at += 0.01
    return lab


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    return counted_calls(monkeypatch, facts_module, name)


@pytest.mark.parametrize("loads", [200, 1600])
def test_own_requests_are_looked_at_a_bounded_number_of_times_per_push(monkeypatch: pytest.MonkeyPatch,
                                                                       loads: int) -> None:
    arrived = _counted(monkeypatch, "response_arrived_before_promise")
    weighed = _counted(monkeypatch, "_not_evidence_against")
    capture = _polling_client(loads).analyse()
    assert len(capture.pushes) == loads
    # A walk looked at every earlier request for every push: loads**2 / 2 calls (1.28 million at 1,600).
    assert arrived[0] <= 4 * loads and weighed[0] <= 2 * loads, (arrived[0], weighed[0])
    # Each push had the client's own request for it on its connection right after: evidence of a mismatch (the
    # later ones are judged as repeats of the first, which comes first among the rules).
    assert [p.reason for p in capture.pushes] == [Reason.CLIENT_REQUESTED_ANYWAY] + [Reason.PUSHED_TWICE] * (loads - 1)
    index = CaptureIndex(capture)
    middle = capture.pushes[loads // 2]
    facts = gather_facts(middle, index)
    assert facts.own_request_detail == "mismatch" and facts.own_request is not None
    assert 0 < facts.own_request.request_start - middle.promised_at < 0.01  # type: ignore[operator]


@pytest.mark.parametrize("loads", [200, 1600])
def test_refused_promises_are_not_walked_again_for_every_push(monkeypatch: pytest.MonkeyPatch, loads: int) -> None:
    lookups = [0]
    original = Capture.exchange

    def counting(self: Capture, exchange_id: int | None) -> Exchange | None:
        lookups[0] += 1
        return original(self, exchange_id)

    monkeypatch.setattr(Capture, "exchange", counting)
    capture = _polling_client(loads, reset_pushes=True).analyse()
    assert len(capture.pushes) == loads
    assert lookups[0] <= 20 * loads, lookups[0]  # a walk over the refused ones: loads**2 / 2


def _walk(facts: facts_module.PushFacts, index: CaptureIndex) -> tuple[Exchange | None, str, Exchange | None]:
    """The plain walk over every request for the URL, in start order: what the indexes must answer alike."""
    push = facts.push
    requests = sorted((r for r in index.requests_of(push, facts.url).requests), key=lambda r: r.request_start or 0.0)
    later = None
    for request in requests:
        assert request.request_start is not None
        if request.request_start <= push.promised_at:
            if not response_arrived_before_promise(request, push):
                return request, "too-late", later
            continue
        if _not_evidence_against(facts, request, facts.needs):
            later = later or request
            continue
        _mismatch_reason(push, request)
        return request, "mismatch", later
    return None, "", later


def _random_traffic(seed: int) -> Lab:
    """Two connections of one client asking for /a.js at random moments, some answers never ending, while the
    first connection pushes it: ties in time included (a coarse clock), and some answers lasting long."""
    rng = random.Random(seed)
    lab = Lab()
    first, second = lab.h2(0.0), lab.h2(0.0)
    events = []
    # Some long enough for the max-tree (more than SCANNED requests between one in flight and the next).
    for _ in range(rng.randrange(5, 3 * SHORT) if seed % 4 else rng.randrange(4 * SCANNED, 8 * SCANNED)):
        events.append((round(rng.uniform(0, 2), 2), rng.choice(("ask-first", "ask-second", "push"))))
    for at, what in sorted(events):
        conn = second if what == "ask-second" else first
        if what == "push":
            page = conn.request("/index.html", at)
            promised = conn.promise(page, "/a.js", at)
            conn.respond(promised, at + rng.choice((0.0, 0.01, 0.5)), content_type="text/javascript", body=b"x",
                         end=at + rng.choice((0.01, 0.5)), complete=rng.random() > 0.2,
                         headers=[("cache-control", rng.choice(("max-age=1", "no-store", "max-age=60")))])
        else:
            asked = conn.request("/a.js", at)
            if rng.random() > 0.3:
                conn.respond(asked, at + rng.choice((0.0, 0.01, 0.3)), content_type="text/javascript", body=b"x",
                             end=at + rng.choice((0.0, 0.02, 0.6, 0.6, 1.5)))
    first.close(2.5)
    return lab


@pytest.mark.parametrize("seed", range(40))
def test_the_indexes_answer_as_the_walk_does(seed: int) -> None:
    capture = _random_traffic(seed).capture
    index = CaptureIndex(capture)
    for push in capture.pushes:
        facts = gather_facts(push, index)
        own, detail, later = _walk(facts, index)
        assert (facts.own_request, facts.own_request_detail, facts.later_request) == (own, detail, later)


def test_the_request_in_flight_is_found_past_a_tie_and_many_finished_ones() -> None:
    """One request ended at the promise's very moment (on another connection: arrived), then more than SCANNED
    ended before it, then one was still in flight: that one shows the client had asked first."""
    lab = Lab()
    pushing, other = lab.h2(0.0), lab.h2(0.0)
    tied = other.request("/a.js", 0.0)
    other.respond(tied, 0.5, content_type="text/javascript", body=b"x", end=1.0)
    for n in range(2 * SCANNED):
        at = 0.1 + 0.8 * n / (2 * SCANNED)
        asked = pushing.request("/a.js", at)
        pushing.respond(asked, at + 0.001, content_type="text/javascript", body=b"x", end=at + 0.002)
    in_flight = pushing.request("/a.js", 0.95)
    pushing.respond(in_flight, 0.96, content_type="text/javascript", body=b"x", end=2.0)
    page = pushing.request("/index.html", 0.97)
    pushing.promise(page, "/a.js", 1.0)
    capture = lab.capture
    index = CaptureIndex(capture)
    facts = gather_facts(capture.pushes[0], index)
    assert facts.own_request_detail == "too-late" and facts.own_request is not None
    assert facts.own_request.request_start == pytest.approx(lab.capture.started_at + 0.95)
    assert (facts.own_request, facts.own_request_detail, facts.later_request) == _walk(facts, index)


def _frozen_clock(rounds: int, seed: int) -> Capture:
    """A clock that never moves (every timestamp 0, as in a crafted or badly converted capture), two connections
    asking for /a.js while the first pushes it: only wire positions order the first connection's writes."""
    rng = random.Random(seed)
    lab = Lab()
    first, second = lab.h2(0.0), lab.h2(0.0)
    written: list[tuple[str, str, int]] = []  # in wire order: what the server wrote on the first connection
    unanswered: list[tuple[object, int]] = []
    for round_ in range(rounds):
        # Requests answered first (each push must look past all of them), then pushes among more of them.
        pushing = 2 * round_ > rounds
        what = rng.choice(("ask-first", "ask-second", "answer", "answer") + (("push",) * 3 if pushing else ()))
        if what == "push":
            page = first.request("/index.html", 0.0)
            promised = first.promise(page, "/a.js", 0.0)
            written.append(("promise", first.cid, promised))
        elif what == "answer" and unanswered:
            conn, stream = unanswered.pop(rng.randrange(len(unanswered)))
            conn.respond(stream, 0.0, content_type="text/javascript", body=b"x", end=0.0)  # type: ignore[attr-defined]
            written.append(("end", conn.cid, stream))  # type: ignore[attr-defined]
        elif what.startswith("ask"):
            conn = first if what == "ask-first" else second
            unanswered.append((conn, conn.request("/a.js", 0.0)))
    capture = lab.capture
    exchanges = {(e.connection_id, e.stream_id): e for e in capture.exchanges}
    pushes = {(p.connection_id, p.promised_stream_id): p for p in capture.pushes}
    for position, (kind, cid, stream) in enumerate(written):
        if cid != first.cid:
            continue  # the second connection's writes have no position: time decides there
        if kind == "end":
            exchanges[(cid, stream)].response_end_position = position
        else:
            pushes[(cid, stream)].promised_position = position
    return capture


@pytest.mark.parametrize("seed", range(6))
def test_a_clock_that_never_moves_is_not_walked_for_every_push(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Every request ends at every promise's very moment: which one was in flight is a matter of wire positions,
    found through the trees with the walk's answers, not by walking all of them again for each push."""
    capture = _frozen_clock(1200, seed)
    index = CaptureIndex(capture)
    arrived = [0]
    in_flight_at = UrlRequests.in_flight_at

    def counted(self: UrlRequests, push: Push, judge: Callable[[Exchange, Push], bool]) -> Exchange | None:
        def counting(request: Exchange, push: Push) -> bool:
            arrived[0] += 1
            return judge(request, push)

        return in_flight_at(self, push, counting)

    monkeypatch.setattr(UrlRequests, "in_flight_at", counted)
    gathered = [gather_facts(push, index) for push in capture.pushes]
    assert len(capture.pushes) > 200
    assert arrived[0] <= (SCANNED + 1) * len(capture.pushes), arrived[0]  # a walk: pushes x requests / 2
    monkeypatch.undo()
    assert any(f.own_request_detail == "too-late" for f in gathered)
    for facts in gathered:
        assert (facts.own_request, facts.own_request_detail, facts.later_request) == _walk(facts, index)


def test_a_no_store_poller_is_not_walked_for_every_push(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client asked for a no-store URL hundreds of times, then the server pushed it as often: nothing of those
    answers can sit in the client's cache, and no push looks at them one by one."""
    lab = Lab()
    conn = lab.h2(0.0)
    loads = 400
    for n in range(loads):
        asked = conn.request("/beacon", n * 0.01)
        conn.respond(asked, n * 0.01 + 0.001, content_type="text/plain", body=b"x", end=n * 0.01 + 0.002,
                     headers=[("cache-control", "no-store")])
    for n in range(loads):
        at = 10.0 + n * 0.01
        page = conn.request("/index.html", at)
        conn.push(page, "/beacon", at + 0.001, content_type="text/plain", end=at + 0.002)
    judged = _counted(monkeypatch, "freshness")
    capture = lab.analyse()
    assert len(capture.pushes) == loads
    assert judged[0] <= 4 * loads, judged[0]  # a walk: every earlier answer for every push, 160,000
