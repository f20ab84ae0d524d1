"""The hard cases of the verdict rules: wire order, a push's own connection, server cancels, and what the
capture cannot show (unreadable traffic, unreadable URLs), plus the evidence Vary and freshness give.

Small hand-built captures (factory.py) folded by the real builder and judged by ``analyse``.
"""

from __future__ import annotations

from factory import DATE, INTERNAL_ERROR, T0, H2Conn, Lab, html, request_headers

from pushscope.events import (
    ConnectionUpdated,
    ConversationAccounted,
    DataReceived,
    Endpoint,
    HeadersReceived,
    PushPromiseReceived,
)
from pushscope.model.entities import Push

CSS = "text/css"
JS = "application/javascript"
MAX_AGE = [("cache-control", "max-age=3600"), ("date", DATE)]


def evidence(push: Push, kind: str) -> str:
    return " | ".join(e.text for e in push.evidence if e.kind == kind)


def verdict(push: Push) -> tuple[str, str]:
    return push.outcome, push.reason


# --- 1. order comes from the wire ---------------------------------------------------------------------------


def _one_segment(promise_first: bool, *, positions: bool = True) -> Push:
    """The client asks for / and /style.css at once; the server answers both and promises /style.css, all in
    one segment (one timestamp). Only the positions say whether the promise was written before the response."""
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    own = conn.request("/style.css", 0.010)
    at = T0 + 0.020
    promise_at, response_at = (100, 200) if promise_first else (300, 100)

    def pos(n: int) -> int | None:
        return n if positions else None

    block = [(":status", "200"), ("content-type", CSS), *MAX_AGE]
    lab.emit(HeadersReceived(connection_id=conn.cid, at=at, sender="server", stream_id=own, headers=block,
                             end_stream=False, wire_length=30, position=pos(response_at)))
    lab.emit(DataReceived(connection_id=conn.cid, at=at, sender="server", stream_id=own, data=b"a{}", length=3,
                          end_stream=True, position=pos(response_at + 50)))
    lab.emit(PushPromiseReceived(connection_id=conn.cid, at=at, sender="server", stream_id=parent, promised_stream_id=2,
                                 headers=request_headers("/style.css"), wire_length=20, position=pos(promise_at)))
    conn.respond(2, 0.021, content_type=CSS, body=b"a{}", end=0.022)
    conn.respond(parent, 0.023, body=html("/style.css"), end=0.024)
    lab.analyse()
    return lab.push("/style.css")


def test_promise_written_before_a_response_in_the_same_segment() -> None:
    push = _one_segment(promise_first=True)
    assert verdict(push) == ("wasted", "client-requested-anyway") and push.reason_detail == "too-late"


def test_response_written_before_the_promise_in_the_same_segment() -> None:
    push = _one_segment(promise_first=False)
    assert verdict(push) == ("cache-duplicated", "already-cached")


def test_without_positions_a_response_at_the_promise_time_counts_as_arrived() -> None:
    assert verdict(_one_segment(promise_first=True, positions=False)) == ("cache-duplicated", "already-cached")


# --- 2. a push is judged on its own connection --------------------------------------------------------------


def _claimed_then_elsewhere(*, close_at: float | None, cache: list[tuple[str, str]]) -> Push:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025, headers=cache)
    conn.respond(parent, 0.030, body=html("/a.js"), end=0.040)
    if close_at is not None:
        conn.close(close_at)
    other = lab.h2(1.0)
    again = other.request("/", 1.010)
    other.respond(again, 1.020, body=html("/a.js"), end=1.030)
    own = other.request("/a.js", 1.040)
    other.respond(own, 1.050, content_type=JS, body=b"x", end=1.060, headers=cache)
    lab.analyse()
    return lab.push("/a.js")


def test_a_claimed_push_stays_used_whatever_later_loads_request() -> None:
    push = _claimed_then_elsewhere(close_at=None, cache=[("cache-control", "no-store")])
    assert verdict(push) == ("used", "claimed")
    assert "after the push was claimed on t0" in evidence(push, "later-request")


def test_a_request_after_the_push_connection_closed_is_not_evidence() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/unused.js", 0.020, content_type=JS, end=0.025)
    conn.respond(parent, 0.030, body=html(), end=0.040)
    conn.close(0.5)
    other = lab.h2(1.0)
    own = other.request("/unused.js", 1.040)
    other.respond(own, 1.050, content_type=JS, body=b"x", end=1.060)
    lab.analyse()
    push = lab.push("/unused.js")
    assert verdict(push) == ("wasted", "not-referenced")
    assert "after the push's connection t0 had closed" in evidence(push, "later-request")


def _two_loads_on_one_connection(cache: list[tuple[str, str]]) -> Push:
    """Load 1 claims the push of /n.css; load 2 on the same connection needs it again and requests it."""
    lab = Lab()
    conn = lab.h2(0.0)
    first = conn.request("/", 0.010)
    conn.push(first, "/n.css", 0.020, end=0.025, headers=cache)
    conn.respond(first, 0.030, body=html("/n.css"), end=0.040)
    second = conn.request("/", 2.0)
    conn.respond(second, 2.010, body=html("/n.css"), end=2.020)
    own = conn.request("/n.css", 2.030)
    conn.respond(own, 2.040, content_type=CSS, body=b"a{}", end=2.050, headers=cache)
    lab.analyse()
    return lab.push("/n.css")


def test_no_store_is_needed_afresh_by_a_later_load() -> None:
    push = _two_loads_on_one_connection([("cache-control", "no-store")])
    assert verdict(push) == ("used", "claimed")
    assert "needed it afresh" in evidence(push, "later-request")
    assert "no-store" in evidence(push, "later-request")


def test_stale_push_is_needed_afresh_with_the_numbers() -> None:
    push = _two_loads_on_one_connection([("cache-control", "max-age=1"), ("date", DATE)])
    assert verdict(push) == ("used", "claimed")
    assert "lifetime 1s" in evidence(push, "later-request")


def test_a_reusable_push_requested_again_on_its_connection_is_still_evidence() -> None:
    push = _two_loads_on_one_connection(MAX_AGE)
    assert verdict(push) == ("wasted", "client-requested-anyway") and push.reason_detail == "mismatch"


# --- 3. a server that cancels its own push ------------------------------------------------------------------


def test_h3_server_cancel_push_outranks_the_clients_own_request() -> None:
    lab = Lab()
    conn = lab.h3(0.0)
    parent = conn.request("/", 0.010)
    conn.promise(parent, 0, "/app.js", 0.020)
    conn.cancel_push(0, 0.021, by="server")
    conn.respond(parent, 0.030, body=html("/app.js"), end=0.040)
    own = conn.request("/app.js", 0.050)
    conn.respond(own, 0.060, content_type=JS, body=b"x", end=0.070)
    lab.analyse()
    push = lab.push("/app.js")
    assert verdict(push) == ("wasted", "server-cancelled")
    assert "server sent CANCEL_PUSH" in evidence(push, "reset")
    assert "consequence of the withdrawn promise" in evidence(push, "requested-after-cancel")


def test_h2_server_rst_stream_on_the_promised_stream() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    promised = conn.promise(parent, "/app.js", 0.020)
    conn.reset(promised, 0.021, by="server", code=INTERNAL_ERROR)
    conn.respond(parent, 0.030, body=html("/app.js"), end=0.040)
    own = conn.request("/app.js", 0.050)
    conn.respond(own, 0.060, content_type=JS, body=b"x", end=0.070)
    lab.analyse()
    assert verdict(lab.push("/app.js")) == ("wasted", "server-cancelled")


# --- 4. unreadable earlier traffic of the same client -------------------------------------------------------


def _page_after(lab: Lab) -> Push:
    conn = lab.h2(1.0)
    parent = conn.request("/", 1.010)
    conn.push(parent, "/style.css", 1.020, end=1.025)
    conn.respond(parent, 1.030, body=html("/style.css"), end=1.040)
    lab.analyse()
    return lab.push("/style.css")


def test_an_undecrypted_earlier_connection_makes_a_used_push_unknown() -> None:
    lab = Lab()
    hidden = lab.h2(0.0)
    lab.emit(ConnectionUpdated(connection_id=hidden.cid, at=T0 + 0.001, decrypted=False))
    push = _page_after(lab)
    assert verdict(push) == ("unknown", "earlier-traffic-unreadable")
    assert "connection t0" in evidence(push, "unreadable-traffic")


def _conversation(client: str, server: str, first_at: float) -> ConversationAccounted:
    return ConversationAccounted(transport="tcp", client=Endpoint(client, 40000), server=Endpoint(server, 443),
                                 status="undecodable", packets=12, bytes=4000, reason="TLS without its handshake",
                                 first_at=T0 + first_at)


def test_an_undecodable_conversation_makes_a_push_unknown() -> None:
    lab = Lab()
    lab.emit(_conversation("127.0.0.1", "127.0.0.1", 0.0))
    push = _page_after(lab)
    assert verdict(push) == ("unknown", "earlier-traffic-unreadable")
    assert "TLS without its handshake" in evidence(push, "unreadable-traffic")


def test_unreadable_traffic_with_another_server_or_later_does_not_count() -> None:
    lab = Lab()
    lab.emit(_conversation("127.0.0.1", "192.0.2.7", 0.0))  # another site
    lab.emit(_conversation("127.0.0.1", "127.0.0.1", 5.0))  # after the promise
    lab.emit(_conversation("127.0.0.2", "127.0.0.1", 0.0))  # another client
    assert verdict(_page_after(lab)) == ("used", "claimed")


# --- 5. documents and pushes whose URL the capture cannot show ----------------------------------------------


def _unreadable_document(body: bytes, missing: tuple[str, ...]) -> Lab:
    lab = Lab()
    conn = lab.h2(0.0)
    stream = conn.next_stream
    conn.next_stream += 2
    block = [(k, v) for k, v in request_headers("/") if k not in missing]
    conn._frame(0.010, "client", stream, "HEADERS", 20, ("END_HEADERS", "END_STREAM"))
    lab.emit(HeadersReceived(connection_id=conn.cid, at=T0 + 0.010, sender="client", stream_id=stream, headers=block,
                             end_stream=True, wire_length=20, unknown_fields=missing))
    conn.push(stream, "/style.css", 0.020, end=0.025)
    conn.respond(stream, 0.030, body=body, end=0.040)
    lab.analyse()
    return lab


def test_a_document_with_an_unknown_path_keeps_its_root_relative_references() -> None:
    lab = _unreadable_document(html("/style.css"), (":path",))
    push = lab.push("/style.css")
    assert verdict(push) == ("used", "claimed")
    assert "its :path is not in the capture" in evidence(push, "reference")


def test_a_document_with_an_unknown_authority_takes_it_from_the_connection() -> None:
    lab = _unreadable_document(html("/style.css"), (":authority",))
    push = lab.push("/style.css")
    assert verdict(push) == ("used", "claimed")
    assert "authority example.test taken from the connection's other requests" in evidence(push, "reference")


def test_references_relative_to_an_unknown_path_are_not_guessed() -> None:
    lab = _unreadable_document(html("style.css"), (":path",))
    push = lab.push("/style.css")
    assert verdict(push) == ("unknown", "documents-unreadable")
    assert "1 references that depend on the unknown part" in evidence(push, "unreadable-document")


def test_two_unreadable_push_urls_are_never_equal() -> None:
    lab = Lab()
    conn: H2Conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    block = [(k, v) for k, v in request_headers("/x") if k != ":path"]
    for promised, at in ((2, 0.020), (4, 0.021)):
        lab.emit(PushPromiseReceived(connection_id=conn.cid, at=T0 + at, sender="server", stream_id=parent,
                                     promised_stream_id=promised, headers=block, wire_length=20,
                                     unknown_fields=(":path",)))
        conn.respond(promised, at + 0.001, content_type=CSS, body=b"a{}", end=at + 0.002)
    conn.respond(parent, 0.030, body=html("/style.css"), end=0.040)
    lab.analyse()
    assert [verdict(p) for p in lab.capture.pushes] == [("unknown", "url-unreadable")] * 2
    assert ":path" in evidence(lab.capture.pushes[1], "unreadable-url")


# --- 6. Vary and freshness say what they used ---------------------------------------------------------------


def _stored_then_pushed(headers: list[tuple[str, str]], gap: float, *, client=(), promised=()) -> Push:
    lab = Lab()
    conn = lab.h2(0.0)
    own = conn.request("/style.css", 0.001, headers=client)
    conn.respond(own, 0.002, content_type=CSS, headers=headers, body=b"a{}", end=0.003)
    parent = conn.request("/", gap + 0.010)
    conn.push(parent, "/style.css", gap + 0.020, end=gap + 0.025, promise_headers=promised)
    conn.respond(parent, gap + 0.030, body=html("/style.css"), end=gap + 0.040)
    lab.analyse()
    return lab.push("/style.css")


def test_vary_names_the_header_and_both_values() -> None:
    vary = [*MAX_AGE, ("vary", "accept-language")]
    same = _stored_then_pushed(vary, 0.0, client=[("accept-language", "en")], promised=[("accept-language", "en")])
    assert verdict(same) == ("cache-duplicated", "already-cached")
    assert "accept-language 'en' on both matched" in evidence(same, "vary")
    other = _stored_then_pushed(vary, 0.0, client=[("accept-language", "en")], promised=[("accept-language", "fr")])
    assert verdict(other) == ("used", "claimed")
    assert "stored request 'en', new request 'fr'" in evidence(other, "vary")


def test_a_stale_copy_is_named_with_its_age_and_lifetime() -> None:
    push = _stored_then_pushed([("cache-control", "max-age=2"), ("date", DATE)], 5.0)
    assert verdict(push) == ("used", "claimed")
    text = evidence(push, "stale-copy")
    assert "stale: max-age=2, lifetime 2s, age 5.0s" in text


def test_an_age_within_dates_resolution_says_so() -> None:
    push = _stored_then_pushed([("cache-control", "max-age=5"), ("date", DATE)], 4.5)
    assert verdict(push) == ("cache-duplicated", "already-cached")
    assert "within Date's 1 s resolution" in evidence(push, "cached-copy")


def test_an_unknown_authority_falls_back_to_the_sni() -> None:
    """No other request or promise on the connection names an authority: the SNI is what is left."""
    from pushscope.analysis.unreadable import known_authorities, resolve_unreadable_document

    lab = Lab()
    conn = lab.h2(0.0)
    block = [(k, v) for k, v in request_headers("/") if k != ":authority"]
    lab.emit(HeadersReceived(connection_id=conn.cid, at=T0 + 0.010, sender="client", stream_id=1, headers=block,
                             end_stream=True, wire_length=20, unknown_fields=(":authority",)))
    conn.respond(1, 0.030, body=html("/style.css", "https://cdn.test/a.js"), end=0.040)
    capture = lab.capture
    document = capture.exchanges[0]
    resolved = resolve_unreadable_document(document, bytes(document.body), capture, known_authorities(capture))
    assert [r.url for r in resolved.references] == ["https://example.test/style.css", "https://cdn.test/a.js"]
    assert "authority example.test taken from the connection's SNI" in resolved.assumed
    capture.connections[conn.cid].sni = None  # nothing at all: only absolute references survive
    resolved = resolve_unreadable_document(document, bytes(document.body), capture, {})
    assert [r.url for r in resolved.references] == ["https://cdn.test/a.js"] and resolved.unresolved == 1
