"""Each term of a push's cost on its own: a change to any one term must break a test here.

The scenario is one page on one HTTP/2 connection, with hand-picked times and sizes so that every term has a
value that can be worked out by hand (the factory's headers: promise 20 B on the wire, response headers 30 B).
"""

from __future__ import annotations

import pytest

from tests.analysis.factory import Lab, html

PROMISE_WIRE, RESPONSE_HEADERS = 20, 30


def used_push_competing_with_the_document() -> Lab:
    """/ requested at +10 ms; /style.css promised at +20 ms, its 1000 B arrive in 2 DATA frames by +35 ms;
    the document (referencing it) arrives from +30 ms to +40 ms in one DATA frame."""
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/style.css", 0.020, body=b"c" * 1000, end=0.035)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    return lab


def test_bytes_terms() -> None:
    push = used_push_competing_with_the_document().push("/style.css")
    assert push.cost.header_bytes == PROMISE_WIRE + RESPONSE_HEADERS
    assert push.cost.body_bytes == 1000
    assert push.cost.pushed_bytes == PROMISE_WIRE + RESPONSE_HEADERS + 1000


def test_duration_runs_from_promise_to_last_byte() -> None:
    push = used_push_competing_with_the_document().push("/style.css")
    assert push.cost.duration == pytest.approx(0.015, abs=1e-6)


def test_competition_with_the_document() -> None:
    lab = used_push_competing_with_the_document()
    push, document = lab.push("/style.css"), lab.exchange("/", pushed=False)
    # Both pushed DATA frames (+27.5 ms, +35 ms) arrive before the document's end (+40 ms).
    assert push.cost.competed_bytes == 1000
    share = 1000 / (1000 + document.body_bytes)
    assert push.cost.competed_delay == pytest.approx(0.010 * share, abs=1e-7)


def test_no_competition_after_the_document() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.respond(parent, 0.012, body=html("/style.css"), end=0.015)
    conn.push(parent, "/style.css", 0.013, body=b"c" * 1000, end=0.050)
    lab.analyse()
    push = lab.push("/style.css")
    assert push.cost.competed_bytes == 0
    assert push.cost.competed_delay == 0.0


def test_saved_time_and_lateness_of_a_used_push() -> None:
    push = used_push_competing_with_the_document().push("/style.css")
    assert push.outcome == "used"
    # Needed at +40 ms (the document's DATA frame), a request would take the page's 20 ms request round trip
    # (+10 ms asked, +30 ms answered); the push was complete at +35 ms: 40 + 20 - 40 = 20 ms saved, not late.
    assert push.cost.saved_time == pytest.approx(0.020, abs=1e-6)
    assert push.cost.late_by is None
    assert push.cost.wasted_bytes == 0


def test_wasted_bytes_equal_pushed_bytes_and_nothing_is_saved() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/unused.js", 0.020, body=b"j" * 500, content_type="application/javascript", end=0.025)
    conn.respond(parent, 0.030, body=html(), end=0.040)
    lab.analyse()
    push = lab.push("/unused.js")
    assert push.outcome == "wasted"
    assert push.cost.wasted_bytes == push.cost.pushed_bytes == PROMISE_WIRE + RESPONSE_HEADERS + 500
    assert push.cost.saved_time is None and push.cost.late_by is None


def test_reset_push_lasts_until_its_reset() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    promised = conn.promise(parent, "/style.css", 0.020)
    conn.reset(promised, 0.027)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert push.cost.duration == pytest.approx(0.007, abs=1e-6)
    assert push.cost.body_bytes == 0


def test_late_push_saves_nothing_and_says_how_late() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/style.css", 0.020, body=b"c" * 1000, end=0.200)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    # Needed at +40 ms, complete at +200 ms: 160 ms late; 40 + 20 - 200 < 0, so nothing saved.
    assert push.cost.late_by == pytest.approx(0.160, abs=1e-6)
    assert push.cost.saved_time == 0.0
