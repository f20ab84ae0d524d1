"""Pushes a browser must refuse (RFC 9113 §8.4) are wasted / must-refuse, never used: hand-built captures."""

from __future__ import annotations

from factory import T0, Lab, html, request_headers

from pushscope.events import ConnectionUpdated, PushPromiseReceived
from pushscope.model.entities import Push


def evidence(push: Push, kind: str) -> str:
    return " | ".join(e.text for e in push.evidence if e.kind == kind)


def _page(names: tuple[str, ...] | None, authority: str = "example.test") -> Push:
    lab = Lab()
    conn = lab.h2(0.0)
    if names is not None:
        lab.emit(ConnectionUpdated(connection_id=conn.cid, at=T0 + 0.001, certificate_names=names))
    parent = conn.request("/", 0.010)
    block = [(k, authority if k == ":authority" else v) for k, v in request_headers("/style.css")]
    lab.emit(PushPromiseReceived(connection_id=conn.cid, at=T0 + 0.020, sender="server", stream_id=parent,
                                 promised_stream_id=2, headers=block, wire_length=20))
    conn.respond(2, 0.021, content_type="text/css", body=b"a{}", end=0.022)
    conn.respond(parent, 0.030, body=html(f"https://{authority}/style.css"), end=0.040)
    lab.analyse()
    return lab.capture.pushes[0]


def test_a_push_for_an_authority_the_certificate_does_not_name() -> None:
    push = _page(("localhost", "www.example.test"), authority="other.test")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "must-refuse", "not-authoritative")
    assert "not other.test" in evidence(push, "must-refuse") and "RFC 9113 §8.4" in evidence(push, "must-refuse")


def test_names_that_cover_the_authority() -> None:
    assert _page(("*.example.test",), authority="www.example.test:8443").reason == "claimed"
    assert _page(("127.0.0.1", "::1"), authority="127.0.0.1:4433").reason == "claimed"
    assert _page(("::1",), authority="[::1]:443").reason == "claimed"
    assert _page(None, authority="other.test").reason == "claimed"  # no certificate seen: nothing to judge by
    assert _page(("*.example.test",), authority="a.b.example.test").reason == "must-refuse"  # one label only


def test_a_push_promise_on_a_pushed_stream() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    pushed = conn.push(parent, "/style.css", 0.020, end=0.022)
    lab.emit(PushPromiseReceived(connection_id=conn.cid, at=T0 + 0.023, sender="server", stream_id=pushed,
                                 promised_stream_id=4, headers=request_headers("/font.woff2"), wire_length=20))
    conn.respond(4, 0.024, content_type="font/woff2", body=b"w", end=0.025)
    conn.respond(parent, 0.030, body=html("/style.css", "/font.woff2"), end=0.040)
    lab.analyse()
    push = lab.push("/font.woff2")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "must-refuse", "promise-on-pushed-stream")
    assert (lab.push("/style.css").outcome, lab.push("/style.css").reason) == ("used", "claimed")


def test_a_reused_promised_stream_id() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/style.css", 0.020, end=0.022)
    lab.emit(PushPromiseReceived(connection_id=conn.cid, at=T0 + 0.023, sender="server", stream_id=parent,
                                 promised_stream_id=2, headers=request_headers("/app.js"), wire_length=20))
    conn.respond(2, 0.024, content_type="application/javascript", body=b"j", end=0.025)
    conn.respond(parent, 0.030, body=html("/style.css", "/app.js"), end=0.040)
    lab.analyse()
    push = lab.push("/app.js")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "must-refuse", "reused-stream-id")
    assert "not above stream 2" in evidence(push, "must-refuse")


def test_a_push_the_client_must_refuse_is_advised_dropped() -> None:
    push = _page(("localhost",), authority="other.test")
    assert push.advice == "drop"
