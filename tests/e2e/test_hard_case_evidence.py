"""The evidence behind the hard-case verdicts, on the real captures made for them."""

from __future__ import annotations

from pushscope.model.entities import Capture, Push
from pushscope.pipeline import load_capture

from .truth import CAPTURES


def _load(name: str) -> Capture:
    keys = CAPTURES / f"{name}.keys"
    return load_capture(str(CAPTURES / f"{name}.pcapng"), str(keys) if keys.exists() else None)


def _push(capture: Capture, path: str, connection: str | None = None) -> Push:
    return next(p for p in capture.pushes if p.url.endswith(path) and connection in (None, p.connection_id))


def _evidence(push: Push, kind: str) -> str:
    return " | ".join(e.text for e in push.evidence if e.kind == kind)


def test_frames_sharing_a_segment_are_ordered_by_position() -> None:
    capture = _load("nghttpd-h2c-one-segment")
    push = _push(capture, "/style.css")
    own = next(e for e in capture.exchanges if not e.pushed and e.path == "/style.css")
    # The same timestamp: only the byte positions say the promise was written first.
    assert own.response_end == push.promised_at
    assert own.response_end_position is not None and push.promised_position is not None
    assert push.promised_position < own.response_end_position
    assert (push.reason, push.reason_detail) == ("client-requested-anyway", "too-late")


def test_a_later_load_on_another_connection_is_not_evidence_against_a_claimed_push() -> None:
    capture = _load("apache-no-store-304")
    push = _push(capture, "/app.js", "t0")
    assert (push.outcome, push.reason) == ("used", "claimed")
    assert "after the push's connection t0 had closed" in _evidence(push, "later-request")
    revalidated = next(e for e in capture.exchanges if e.status == 304)
    assert revalidated.connection_id != "t0"


def test_the_server_cancel_names_the_clients_request_as_its_consequence() -> None:
    push = _push(_load("h3-server-cancel"), "/app.js")
    assert (push.outcome, push.reason) == ("wasted", "server-cancelled")
    assert "server sent CANCEL_PUSH" in _evidence(push, "reset")
    assert "consequence of the withdrawn promise" in _evidence(push, "requested-after-cancel")


def test_freshness_evidence_gives_the_numbers() -> None:
    push = _push(_load("nginx-second-connection"), "/style.css", "t1")
    text = _evidence(push, "cached-copy")
    assert "fresh: max-age=3600, lifetime 3600s, age " in text and "at the promise" in text


def test_a_document_with_an_unknown_authority_is_resolved_from_its_connection() -> None:
    capture = _load("nginx-cut-mid-connection")
    document = next(e for e in capture.exchanges if not e.pushed and e.path == "/index.html")
    assert not document.url_known and ":authority" in document.unknown_fields
    text = _evidence(_push(capture, "/style.css"), "reference")
    assert "its :authority is not in the capture" in text and "taken from the connection's other requests" in text


def test_a_push_for_a_host_the_certificate_does_not_name() -> None:
    push = _push(_load("h3-push-not-authoritative"), "/unused.js")
    assert (push.outcome, push.reason, push.reason_detail) == ("wasted", "must-refuse", "not-authoritative")
    assert "not other.test" in _evidence(push, "must-refuse")
