"""Values that do not parse are data: huge or malformed numbers are clamped or ignored, URLs urllib refuses are
skipped or reported, never raised."""

from __future__ import annotations

from pushscope.decode.h1 import H1ConnectionDecoder
from pushscope.events import HeadersReceived, ProtocolAnomaly, PushPromiseReceived
from pushscope.http.freshness import DELTA_SECONDS_MAX, current_age, delta_seconds, freshness
from pushscope.http.headers import status_code
from pushscope.http.references import references_in
from pushscope.http.urls import join_url, split_url, url_problem
from pushscope.model.builder import CaptureBuilder


def test_delta_seconds_clamps_and_refuses() -> None:
    assert delta_seconds("60") == 60
    assert delta_seconds("9" * 5000) == DELTA_SECONDS_MAX
    assert delta_seconds("99999999999") == DELTA_SECONDS_MAX
    for bad in ("-5", "nan", "inf", "1e9", "", "٣", None):
        assert delta_seconds(bad) is None


def test_a_status_is_three_ascii_digits_or_none() -> None:
    assert status_code("200") == 200 and status_code("103") == 103
    # int() takes all of these as a number; as a status each is malformed, never another response's code.
    for bad in ("\u0662\u0660\u0660", "\u00b200", "+20", " 20", "2_0", "20", "2000", "", "abc", None):
        assert status_code(bad) is None


def test_an_http1_status_line_with_other_digits_is_an_anomaly() -> None:
    for status in ("\u00b200", "\u0662\u0660\u0660"):
        decoder = H1ConnectionDecoder("c1")
        decoder.receive("client", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1.0)
        events = decoder.receive("server", f"HTTP/1.1 {status} OK\r\n\r\n".encode(), 2.0)
        assert [type(event) for event in events] == [ProtocolAnomaly]
        assert "malformed status line" in events[0].message


def test_freshness_with_hostile_numbers() -> None:
    rule = freshness(200, [("cache-control", "max-age=" + "9" * 400)])
    assert rule.lifetime == DELTA_SECONDS_MAX
    bad = freshness(200, [("cache-control", "max-age=\x1b[2J")])
    assert bad.lifetime == 0.0 and "\x1b" not in bad.why
    assert current_age([("age", "nan")], 100.0, 110.0) == 10.0
    assert current_age([("age", "1" * 400)], 100.0, 100.0) == DELTA_SECONDS_MAX


def test_urls_urllib_refuses() -> None:
    for url in ("http://[::1/x", "http://h:99999999/", "http://h:port/"):
        assert split_url(url) is None and url_problem(url)
    assert join_url("http://h/", "http://[bad") is None
    assert join_url("http://h/a/", "b.css") == "http://h/a/b.css"
    refs = references_in("text/html", b"<img src='http://[bad'><img src='//h:70000/x'><img src=/ok.png>",
                         "http://h/")
    assert [r.url for r in refs] == ["http://h:70000/x", "http://h/ok.png"]  # kept raw, never raised


def test_builder_reports_unparseable_urls_as_anomalies() -> None:
    builder = CaptureBuilder("test")
    builder.apply(HeadersReceived(connection_id="c", at=0.0, sender="client", stream_id=1,
                                  headers=[(":method", "GET"), (":scheme", "http"),
                                  (":authority", "[::1"), (":path", "/")], end_stream=True, wire_length=10))
    builder.apply(PushPromiseReceived(connection_id="c", at=0.1, sender="server", stream_id=1, promised_stream_id=2,
                                      headers=[(":method", "GET"), (":scheme", "http"),
                                      (":authority", "h:99999999"), (":path", "/\x1b")], wire_length=10))
    builder.apply(HeadersReceived(connection_id="c", at=0.2, sender="server", stream_id=1,
                                  headers=[(":status", "301"), ("location", "http://[x")], end_stream=True,
                                  wire_length=5))
    messages = [a.message for a in builder.capture.connections["c"].anomalies]
    assert len(messages) == 3 and all("does not parse" in m for m in messages)
    assert "\\x1b" in messages[1] and "\x1b" not in messages[1]


def test_http1_lengths_that_do_not_parse_are_bad_lengths_not_exceptions() -> None:
    from pushscope.decode.h1 import _body_framing

    for value in ("9" * 5000, "²", "-1", "1e3", "0x10"):
        assert _body_framing([("content-length", value)], request=False).startswith("bad-length")
    assert _body_framing([("content-length", "12")], request=False) == "12"


def test_http1_negative_or_odd_chunk_sizes_stop_the_direction() -> None:
    from pushscope.decode.h1 import H1ConnectionDecoder
    from pushscope.events import ProtocolAnomaly

    for size in (b"-5", b"1_0", b"+4"):
        decoder = H1ConnectionDecoder("c")
        decoder.receive("client", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0.0)
        events = decoder.receive("server", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size +
                                 b"\r\nabcdef\r\n0\r\n\r\n", 0.1)
        assert any(isinstance(e, ProtocolAnomaly) and "not hexadecimal" in e.message for e in events), size
