"""HTTP/1.1 exchanges take part in the verdicts like any other: documents reference, requests count."""

from __future__ import annotations

from factory import Lab, html

JS = "application/javascript"


def test_a_request_over_http1_for_a_pushed_url_counts() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.010)
    conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
    conn.respond(parent, 0.030, body=html("/a.js"), end=0.040)
    # Requested elsewhere while the push was still claimable (as in test_rules' HTTP/2 case).
    other = lab.h1(0.021)
    own = other.request("/a.js", 0.022)
    other.respond(own, 0.023, content_type=JS, body=b"x", end=0.024)
    lab.analyse()
    push = lab.push("/a.js")
    assert lab.exchange("/a.js", pushed=False).protocol == "http/1.1"
    assert push.reason_detail == "mismatch"
    assert any("requested on another connection" in e.text for e in push.evidence)


def test_a_document_loaded_over_http1_is_read_for_references() -> None:
    def evidence(document_refs: tuple[str, ...]) -> str:
        lab = Lab()
        conn = lab.h2(0.0)
        parent = conn.request("/other", 0.010)
        conn.push(parent, "/a.js", 0.020, content_type=JS, end=0.025)
        conn.respond(parent, 0.030, content_type="text/plain", body=b"no references", end=0.040)
        h1 = lab.h1(0.0)
        page = h1.request("/", 0.005)
        h1.respond(page, 0.015, body=html(*document_refs), end=0.018)
        lab.analyse()
        return " | ".join(e.text for e in lab.push("/a.js").evidence)

    # The push cache is per connection, so the push stays unused; the HTTP/1.1 document's reference is seen.
    assert "referenced only by https://example.test/ on another connection (t1)" in evidence(("/a.js",))
    assert "on another connection" not in evidence(())
