"""One test per verdict rule, on small hand-built captures (see factory.py), through ``analyse``."""

from __future__ import annotations

import pytest
from factory import CANCEL, DATE, INTERNAL_ERROR, REFUSED_STREAM, T0, H2Conn, Lab, html, http_date

from pushscope.analysis.advice import ADVICE_TEXT
from pushscope.analysis.facts import CaptureIndex, gather_facts
from pushscope.analysis.rules import RULES, first_rule
from pushscope.model.entities import Push

CSS = "text/css"
JS = "application/javascript"


def page(lab: Lab | None = None, *refs: str, at: float = 0.0, **conn_kwargs) -> tuple[Lab, H2Conn, int]:
    """A connection opened at ``at`` and a request for / at +10 ms (its response is left to the test)."""
    lab = lab or Lab()
    conn = lab.h2(at, **conn_kwargs)
    return lab, conn, conn.request("/", at + 0.010)


def document(conn: H2Conn, stream: int, *refs: str, at: float = 0.030, end: float = 0.040, **kwargs) -> None:
    conn.respond(stream, at, body=html(*refs), end=end, **kwargs)


def kinds(push: Push) -> list[str]:
    return [e.kind for e in push.evidence]


def evidence(push: Push, kind: str) -> str:
    return " | ".join(e.text for e in push.evidence if e.kind == kind)


# --- cache-duplicated ---------------------------------------------------------------------------------------


def cached_then_pushed(headers: list[tuple[str, str]], *, gap: float = 0.0, client_request=(),
                       promise_headers=(), reset: bool = False) -> Push:
    """The client fetches /style.css itself (complete at +3 ms), then a page at +``gap`` s pushes it again."""
    lab = Lab()
    conn = lab.h2(0.0)
    own = conn.request("/style.css", 0.001, headers=client_request)
    conn.respond(own, 0.002, content_type=CSS, headers=headers, body=b"a{}", end=0.003)
    parent = conn.request("/", gap + 0.010)
    pushed = conn.push(parent, "/style.css", gap + 0.020, end=gap + 0.025, promise_headers=promise_headers,
                       complete=not reset)
    if reset:
        conn.reset(pushed, gap + 0.022, by="client", code=CANCEL)
    document(conn, parent, "/style.css", at=gap + 0.030, end=gap + 0.040)
    lab.analyse()
    return lab.push("/style.css")


MAX_AGE = [("cache-control", "max-age=3600"), ("date", DATE)]


def test_cancelled_cached() -> None:
    push = cached_then_pushed(MAX_AGE, reset=True)
    assert (push.outcome, push.reason) == ("cache-duplicated", "cancelled-cached")
    assert "client sent RST_STREAM CANCEL" in evidence(push, "reset")
    assert "from its own request" in evidence(push, "cached-copy") and "max-age=3600" in evidence(push, "cached-copy")
    assert push.cost.wasted_bytes == push.cost.pushed_bytes > 0


def test_already_cached() -> None:
    push = cached_then_pushed(MAX_AGE)
    assert (push.outcome, push.reason) == ("cache-duplicated", "already-cached")
    assert "cached-copy" in kinds(push) and "reset" not in kinds(push)
    assert push.evidence[-1].kind == "verdict" and "cache-duplicated / already-cached" in push.evidence[-1].text


@pytest.mark.parametrize(("first_scope", "second_scope", "duplicated"),
                         [(None, None, True), ("run-1", "run-1", True), ("run-1", "run-2", False)])
def test_a_named_cache_scope_is_one_client(first_scope, second_scope, duplicated: bool) -> None:
    """Two connections from one address share a cache unless the source names a cache per connection (the
    experiment gives each page load its own): a copy fetched in another cache does not duplicate the push."""
    lab = Lab()
    first = lab.h2(0.0, cache_scope=first_scope)
    own = first.request("/style.css", 0.001)
    first.respond(own, 0.002, content_type=CSS, headers=MAX_AGE, body=b"a{}", end=0.003)
    second = lab.h2(1.0, cache_scope=second_scope)
    parent = second.request("/", 1.010)
    second.push(parent, "/style.css", 1.020, end=1.025)
    document(second, parent, "/style.css", at=1.030, end=1.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.reason == "already-cached") is duplicated, push.evidence
    assert push.outcome == ("cache-duplicated" if duplicated else "used")


@pytest.mark.parametrize(
    ("headers", "gap", "cached"),
    [
        ([("cache-control", "max-age=60"), ("date", DATE)], 5.0, True),
        ([("cache-control", "max-age=1"), ("date", DATE)], 5.0, False),  # expired
        ([("cache-control", "max-age=3600"), ("age", "3599"), ("date", DATE)], 5.0, False),  # aged in a cache
        ([("cache-control", "no-store, max-age=3600"), ("date", DATE)], 0.0, False),
        ([("cache-control", "no-cache"), ("date", DATE)], 0.0, False),
        ([("date", DATE), ("last-modified", http_date(-10 * 86400))], 5.0, True),  # heuristic: 1 day
        ([("date", DATE), ("last-modified", http_date(-10))], 5.0, False),  # heuristic: 1 s
        ([("date", DATE)], 0.0, False),  # no freshness information at all
        ([("date", DATE), ("expires", http_date(3600))], 5.0, True),
        ([("date", DATE), ("expires", http_date(1))], 5.0, False),
        ([("date", DATE), ("expires", "0")], 0.0, False),  # invalid date: already expired
    ],
    ids=["max-age", "max-age-expired", "age-header", "no-store", "no-cache", "heuristic-fresh", "heuristic-stale",
         "no-freshness", "expires", "expires-passed", "expires-invalid"],
)
def test_freshness_of_the_cached_copy(headers, gap: float, cached: bool) -> None:
    push = cached_then_pushed(headers, gap=gap)
    assert (push.reason == "already-cached") is cached, push.evidence
    if not cached:
        assert push.outcome == "used"  # the page references it and nothing else disqualifies the push


def test_expires_without_date_counts_from_the_time_received() -> None:
    push = cached_then_pushed([("expires", http_date(3600))], gap=5.0)
    assert push.reason == "already-cached"


def test_vary_mismatch_means_not_cached() -> None:
    headers = MAX_AGE + [("vary", "User-Agent")]
    push = cached_then_pushed(headers, promise_headers=[("user-agent", "other/2")])
    assert push.outcome != "cache-duplicated"
    same = cached_then_pushed(headers)
    assert same.reason == "already-cached"


def test_copy_held_by_another_client_does_not_count() -> None:
    lab = Lab()
    other = lab.h2(0.0, client="127.0.0.2")
    own = other.request("/style.css", 0.001)
    other.respond(own, 0.002, content_type=CSS, headers=MAX_AGE, body=b"a{}", end=0.003)
    _, conn, parent = page(lab)
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css")
    lab.analyse()
    assert lab.push("/style.css").reason == "claimed"


def test_claimed_push_counts_as_cached_copy_for_a_later_push() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025, headers=MAX_AGE)
    document(conn, parent, "/style.css")
    second = conn.request("/next", 1.0)
    conn.push(second, "/style.css", 1.01, end=1.02, headers=MAX_AGE)
    document(conn, second, "/style.css", at=1.03, end=1.04)
    lab.analyse()
    assert lab.push("/style.css", 0).reason == "claimed"
    later = lab.push("/style.css", 1)
    assert (later.outcome, later.reason) == ("cache-duplicated", "already-cached")
    assert "from a claimed push" in evidence(later, "cached-copy")


def test_pushed_twice() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    conn.push(parent, "/a.js", 0.026, content_type=JS, end=0.028)
    document(conn, parent, "/a.js")
    lab.analyse()
    first, second = lab.push("/a.js", 0), lab.push("/a.js", 1)
    assert first.reason == "claimed"
    assert (second.outcome, second.reason) == ("cache-duplicated", "pushed-twice")
    assert f"push #{first.id}" in evidence(second, "earlier-promise")


def test_push_after_a_refused_promise_of_the_same_url_is_not_pushed_twice() -> None:
    lab, conn, parent = page()
    refused = conn.promise(parent, "/a.js", 0.020)
    conn.reset(refused, 0.021, by="client", code=REFUSED_STREAM)
    conn.push(parent, "/a.js", 0.025, content_type=JS, end=0.028)
    document(conn, parent, "/a.js")
    lab.analyse()
    assert lab.push("/a.js", 0).reason == "rejected"
    assert (lab.push("/a.js", 1).outcome, lab.push("/a.js", 1).reason) == ("used", "claimed")


def test_same_url_pushed_on_two_connections_is_not_pushed_twice() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent, "/a.js")
    _, other, parent2 = page(lab, at=0.5)
    other.push(parent2, "/a.js", 0.52, content_type=JS, end=0.525)
    document(other, parent2, "/a.js", at=0.53, end=0.54)
    lab.analyse()
    assert [p.reason for p in lab.capture.pushes] == ["claimed", "claimed"]


# --- wasted -------------------------------------------------------------------------------------------------


def test_push_disabled_h2() -> None:
    lab, conn, parent = page(enable_push=False)
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css")
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("wasted", "push-disabled")
    assert "ENABLE_PUSH=0" in evidence(push, "push-disabled")
    assert push.advice == "drop"


@pytest.mark.parametrize(("max_push_id", "push_id", "control_seen", "disabled", "why"),
                         [(2, 5, True, True, "beyond the client's MAX_PUSH_ID 2"),
                          (None, 0, True, True, "no MAX_PUSH_ID"),
                          (None, 0, False, False, ""),  # the client's control stream is not in the capture
                          (5, 5, True, False, "")])
def test_push_disabled_h3(max_push_id: int | None, push_id: int, control_seen: bool, disabled: bool,
                          why: str) -> None:
    lab = Lab()
    conn = lab.h3(0.0, max_push_id=max_push_id)
    if control_seen:
        conn.settings("client", 0.0, QPACK_MAX_TABLE_CAPACITY=0)
    parent = conn.request("/", 0.010)
    conn.push(parent, push_id, "/style.css", 0.020, end=0.025)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert push.protocol == "h3" and push.push_id == push_id
    if disabled:
        assert (push.outcome, push.reason) == ("wasted", "push-disabled")
        assert why in evidence(push, "push-disabled")
    else:
        assert (push.outcome, push.reason) == ("used", "claimed")


@pytest.mark.parametrize(("code", "name"), [(CANCEL, "CANCEL"), (REFUSED_STREAM, "REFUSED_STREAM")])
def test_rejected(code: int, name: str) -> None:
    lab, conn, parent = page()
    pushed = conn.push(parent, "/style.css", 0.020, end=0.021, complete=False)
    conn.reset(pushed, 0.022, by="client", code=code)
    document(conn, parent, "/style.css")
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("wasted", "rejected")
    assert f"client sent RST_STREAM {name}" in evidence(push, "reset")
    assert push.advice == "preload"


def test_h3_cancel_push_is_rejected() -> None:
    lab = Lab()
    conn = lab.h3(0.0)
    parent = conn.request("/", 0.010)
    conn.promise(parent, 0, "/style.css", 0.020)
    conn.cancel_push(0, 0.021)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("wasted", "rejected")
    assert "CANCEL_PUSH" in evidence(push, "reset")


def test_client_requested_anyway_too_late() -> None:
    lab, conn, parent = page()
    own = conn.request("/a.js", 0.015)
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    conn.respond(own, 0.030, content_type=JS, body=b"x" * 50, end=0.05)
    document(conn, parent, "/a.js")
    lab.analyse()
    push = lab.push("/a.js")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "client-requested-anyway", "too-late")
    assert "already requested it when the promise arrived" in evidence(push, "too-late")
    assert push.advice == "preload"


def test_client_requested_anyway_mismatch_names_the_differing_header() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025, promise_headers=[("accept-encoding", "gzip")])
    document(conn, parent, "/a.js")
    own = conn.request("/a.js", 0.060, headers=[("accept-encoding", "gzip, br")])
    conn.respond(own, 0.070, content_type=JS, body=b"x" * 50, end=0.08)
    lab.analyse()
    push = lab.push("/a.js")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "client-requested-anyway", "mismatch")
    text = evidence(push, "mismatch")
    assert "accept-encoding differs" in text and f"stream {own}" in text


def test_client_requested_anyway_mismatch_credentials() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent, "/a.js")
    own = conn.request("/a.js", 0.060, headers=[("cookie", "session=1")])
    conn.respond(own, 0.070, content_type=JS, body=b"x", end=0.08)
    lab.analyse()
    assert "cookie present on one side only" in evidence(lab.push("/a.js"), "mismatch")


def test_client_requested_anyway_on_another_connection() -> None:
    """Requested elsewhere while the push was still claimable: its connection open, the document not yet read."""
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent, "/a.js")
    other = lab.h2(0.021)
    own = other.request("/a.js", 0.022)
    other.respond(own, 0.023, content_type=JS, body=b"x", end=0.024)
    lab.analyse()
    push = lab.push("/a.js")
    assert push.reason_detail == "mismatch"
    assert "requested on another connection" in evidence(push, "mismatch")


def test_server_cancelled() -> None:
    lab, conn, parent = page()
    pushed = conn.push(parent, "/style.css", 0.020, end=0.021, complete=False)
    conn.reset(pushed, 0.023, by="server", code=INTERNAL_ERROR)
    document(conn, parent, "/style.css")
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("wasted", "server-cancelled")
    assert "server sent RST_STREAM INTERNAL_ERROR" in evidence(push, "reset")


def test_connection_closed() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.021, complete=False)
    document(conn, parent, "/style.css")
    conn.close(0.5, "rst-by-server")
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("wasted", "connection-closed")
    assert "closed (rst-by-server)" in evidence(push, "connection-closed")
    assert "never completed" in evidence(push, "response")


@pytest.mark.parametrize("close", [True, False])
def test_incomplete_at_capture_end_is_unknown(close: bool) -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.021, complete=False)
    document(conn, parent, "/style.css")
    if close:
        conn.close(0.5, "capture-end")
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("unknown", "incomplete-at-capture-end")
    assert (push.advice, push.advice_text) == ("", "")
    assert push.cost.wasted_bytes == 0


def test_documents_unreadable_is_unknown() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css", headers=[("content-encoding", "gzip")])  # the body is not gzip
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("unknown", "documents-unreadable")
    assert "cannot undo Content-Encoding gzip" in evidence(push, "unreadable-document")


def test_not_referenced() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/unused.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent, "/style.css")
    lab.analyse()
    push = lab.push("/unused.js")
    assert (push.outcome, push.reason) == ("wasted", "not-referenced")
    assert "never-requested" in kinds(push)
    assert push.advice == "drop" and push.cost.wasted_bytes == push.cost.pushed_bytes


def test_not_referenced_on_its_own_connection_names_the_other_one() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent)
    _, other, parent2 = page(lab, at=0.1)
    document(other, parent2, "/a.js", at=0.13, end=0.14)
    lab.analyse()
    push = lab.push("/a.js")
    assert push.reason == "not-referenced"
    assert f"on another connection ({other.cid})" in evidence(push, "reference-elsewhere")


# --- used ---------------------------------------------------------------------------------------------------


def test_claimed_with_saved_time() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("used", "claimed")
    # needed when the document's only DATA frame arrived (+40 ms); a request would have taken the page's
    # own request-to-first-byte (20 ms); the push was there at +25 ms: 20 ms saved.
    assert push.cost.saved_time == pytest.approx(0.020, abs=1e-6)
    assert push.cost.late_by is None and push.cost.wasted_bytes == 0
    assert push.advice == "keep"
    assert "references it (<link rel=stylesheet>)" in evidence(push, "reference")


def test_claimed_late() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.200)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("used", "claimed-late")
    assert push.cost.late_by == pytest.approx(0.160, abs=1e-6)
    assert "160.0 ms after it was needed" in evidence(push, "late")
    assert push.cost.saved_time == 0.0 and push.advice == "preload"


def test_reference_needed_at_follows_the_data_frame_that_carries_it() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/late.js", 0.020, content_type=JS, end=0.070)
    body = html(extra="<p>" + "filler " * 400 + "</p><script src=/late.js></script>")
    conn.respond(parent, 0.030, body=body, end=0.100, chunks=10)
    lab.analyse()
    push = lab.push("/late.js")
    (reference,) = [e for e in push.evidence if e.kind == "reference"]
    assert reference.at == pytest.approx(T0 + 0.100)  # the reference sits in the last DATA frame
    assert push.reason == "claimed"


def test_pushed_stylesheet_makes_its_font_used() -> None:
    lab, conn, parent = page()
    css = b'@font-face{font-family:f;src:url("/fonts/f.woff2") format("woff2")}body{font-family:f}'
    conn.push(parent, "/style.css", 0.020, body=css, end=0.022)
    conn.push(parent, "/fonts/f.woff2", 0.021, content_type="font/woff2", end=0.025)
    conn.push(parent, "/fonts/unused.woff2", 0.021, content_type="font/woff2", end=0.025)
    document(conn, parent, "/style.css")
    lab.analyse()
    font = lab.push("/fonts/f.woff2")
    assert (font.outcome, font.reason) == ("used", "claimed")
    assert "https://example.test/style.css references it (url())" in evidence(font, "reference")
    assert lab.push("/fonts/unused.woff2").reason == "not-referenced"


def test_unreferenced_pushed_stylesheet_does_not_make_its_font_used() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, body=b"@font-face{src:url(/f.woff2)}", end=0.022)
    conn.push(parent, "/f.woff2", 0.021, content_type="font/woff2", end=0.025)
    document(conn, parent)
    lab.analyse()
    assert lab.push("/style.css").reason == "not-referenced"
    assert lab.push("/f.woff2").reason == "not-referenced"


# --- precedence, preload links, advice ----------------------------------------------------------------------


def test_precedence_first_matching_rule_wins() -> None:
    lab = Lab()
    conn = lab.h2(0.0, enable_push=False)
    own = conn.request("/style.css", 0.001)
    conn.respond(own, 0.002, content_type=CSS, headers=MAX_AGE, body=b"a{}", end=0.003)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/style.css", 0.015, end=0.016)
    second = conn.push(parent, "/style.css", 0.020, complete=False)
    conn.reset(second, 0.021, by="client", code=CANCEL)
    document(conn, parent)
    lab.analyse()
    push = lab.push("/style.css", 1)
    facts = gather_facts(push, CaptureIndex(lab.capture))
    holding = [rule.reason for rule in RULES if rule.holds(facts)]
    assert holding[:5] == ["cancelled-cached", "already-cached", "pushed-twice", "push-disabled", "rejected"]
    assert first_rule(facts).reason == "cancelled-cached" == push.reason


def test_precedence_pushed_twice_beats_push_disabled() -> None:
    lab, conn, parent = page(enable_push=False)
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    conn.push(parent, "/a.js", 0.021, content_type=JS, end=0.026)
    document(conn, parent, "/a.js")
    lab.analyse()
    assert [p.reason for p in lab.capture.pushes] == ["push-disabled", "pushed-twice"]


def test_preload_link_recorded() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css", headers=[("link", "</style.css>; rel=preload; as=style")])
    lab.analyse()
    push = lab.push("/style.css")
    assert push.preload_link == "</style.css>; rel=preload; as=style"
    assert "in the parent response" in evidence(push, "preload-link")
    assert "nopush" not in evidence(push, "preload-link")


def test_preload_link_with_nopush_noted() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    document(conn, parent, headers=[("link", "</style.css>; rel=preload; as=style, "
                                             "</a.js>; rel=preload; as=script; nopush")])
    lab.analyse()
    push = lab.push("/a.js")
    assert push.preload_link == "</a.js>; rel=preload; as=script; nopush"
    assert "it says nopush, yet the server pushed" in evidence(push, "preload-link")


def test_preload_link_from_early_hints() -> None:
    lab, conn, parent = page()
    conn.respond(parent, 0.012, status=103, content_type=None, headers=[("link", "</s.css>; rel=preload")],
                 complete=False, body=b"")
    conn.push(parent, "/s.css", 0.020, end=0.025)
    document(conn, parent, "/s.css")
    lab.analyse()
    push = lab.push("/s.css")
    assert push.preload_link == "</s.css>; rel=preload" and "103 Early Hints" in evidence(push, "preload-link")


def test_no_preload_link() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css", headers=[("link", "</style.css>; rel=stylesheet")])
    lab.analyse()
    push = lab.push("/style.css")
    assert push.preload_link is None and "preload-link" not in kinds(push)


@pytest.mark.parametrize(
    ("reason", "outcome", "advice"),
    [("claimed", "used", "keep"), ("claimed-late", "used", "preload"), ("already-cached", "cache-duplicated",
     "cache-aware"), ("not-referenced", "wasted", "drop"), ("push-disabled", "wasted", "drop"),
     ("rejected", "wasted", "preload"), ("incomplete-at-capture-end", "unknown", "")],
)
def test_advice_per_outcome(reason: str, outcome: str, advice: str) -> None:
    lab, conn, parent = page(enable_push=False if reason == "push-disabled" else None)
    if reason == "already-cached":
        own = conn.request("/x.css", 0.001)
        conn.respond(own, 0.002, content_type=CSS, headers=MAX_AGE, body=b"a{}", end=0.003)
    pushed = conn.push(parent, "/x.css", 0.020, end=0.200 if reason == "claimed-late" else 0.025,
                       complete=reason not in ("rejected", "incomplete-at-capture-end"))
    if reason == "rejected":
        conn.reset(pushed, 0.021, by="client", code=CANCEL)
    document(conn, parent, *(() if reason == "not-referenced" else ("/x.css",)))
    lab.analyse()
    push = lab.push("/x.css")
    assert (push.reason, push.outcome, push.advice) == (reason, outcome, advice)
    assert push.advice_text == (ADVICE_TEXT[advice] if advice else "")


def test_every_push_has_promise_response_and_verdict_evidence() -> None:
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.025)
    document(conn, parent, "/style.css")
    capture = lab.analyse()
    assert capture.analysed
    push = lab.push("/style.css")
    assert kinds(push)[:2] == ["promise", "response"] and kinds(push)[-1] == "verdict"
    promise = push.evidence[0]
    assert "promised stream 2" in promise.text and "+20.0 ms" in promise.text
    assert promise.exchange_id == push.exchange_id and promise.stream_id == 2


# --- documents revalidated with 304 --------------------------------------------------------------------------


def test_a_304_document_reuses_the_references_of_its_earlier_copy() -> None:
    lab, conn, parent = page()
    document(conn, parent, "/app.js", headers=[("cache-control", "no-cache")])
    _, again, parent2 = page(lab, at=1.0)
    again.push(parent2, "/app.js", 1.020, content_type=JS, end=1.025)
    again.respond(parent2, 1.030, status=304, content_type=None)
    lab.analyse()
    push = lab.push("/app.js")
    # The page came from the client's cache (304), and that copy references /app.js: the push was used.
    assert (push.outcome, push.reason) == ("used", "claimed")


def test_a_304_document_with_no_earlier_copy_is_unknown_not_wasted() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010, headers=[("accept", "text/html,*/*;q=0.8")])
    conn.push(parent, "/app.js", 0.020, content_type=JS, end=0.025)
    conn.respond(parent, 0.030, status=304, content_type=None)
    lab.analyse()
    push = lab.push("/app.js")
    # Whether the cached page references /app.js is not in the capture: never call it wasted.
    assert (push.outcome, push.reason) == ("unknown", "documents-unreadable")
    assert "304 Not Modified" in evidence(push, "unreadable-document")


def test_needed_at_maps_a_reference_in_a_compressed_document_onto_its_wire_bytes() -> None:
    import gzip

    body = gzip.compress(b"x" * 20000 + b'<link rel="stylesheet" href="/style.css">' + b"y" * 30000)
    lab, conn, parent = page()
    conn.push(parent, "/style.css", 0.020, end=0.080)
    # Two DATA frames, at +60 ms and +90 ms: the reference sits 40% into the decoded page.
    conn.respond(parent, 0.030, body=body, end=0.090, chunks=2, headers=[("content-encoding", "gzip")])
    lab.analyse()
    push = lab.push("/style.css")
    assert (push.outcome, push.reason) == ("used", "claimed-late")
    assert push.cost.late_by is not None and abs(push.cost.late_by - 0.020) < 0.002
