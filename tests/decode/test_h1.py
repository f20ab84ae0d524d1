"""The HTTP/1.1 decoder: requests and responses as the typed events HTTP/2 and HTTP/3 give."""

from __future__ import annotations

from pushscope.decode.h1 import MAX_HEAD, H1ConnectionDecoder
from pushscope.events import DataReceived, Event, HeadersReceived, ProtocolAnomaly, Side


def _feed(chunks: list[tuple[Side, bytes]], *, one_byte: bool = False, close: Side | None = None) -> list[Event]:
    decoder = H1ConnectionDecoder("t0", scheme="https", authority="fallback.test")
    events: list[Event] = []
    for n, (sender, data) in enumerate(chunks):
        pieces = [data[i:i + 1] for i in range(len(data))] if one_byte else [data]
        for piece in pieces:
            events += decoder.receive(sender, piece, float(n))
    if close:
        events += decoder.close(close, 99.0)
    return events


def _exchanges(events: list[Event]) -> dict[int, dict[str, object]]:
    """Per stream: request headers, statuses, body bytes per side, and whether each side ended."""
    out: dict[int, dict[str, object]] = {}
    for event in events:
        if isinstance(event, (HeadersReceived, DataReceived)):
            ex = out.setdefault(event.stream_id, {"statuses": [], "body": {"client": b"", "server": b""},
                                                  "ended": set(), "trailers": []})
            if event.end_stream:
                ex["ended"].add(event.sender)  # type: ignore[attr-defined]
        if isinstance(event, HeadersReceived):
            headers = dict(event.headers)
            if event.sender == "client":
                ex["request"] = headers
            elif ":status" in headers:
                ex["statuses"].append(headers[":status"])  # type: ignore[attr-defined]
            else:
                ex["trailers"].append(headers)  # type: ignore[attr-defined]
        elif isinstance(event, DataReceived):
            ex["body"][event.sender] += event.data  # type: ignore[index]
            assert event.length == len(event.data)
    return out


KEEP_ALIVE = [
    ("client", b"GET /index.html HTTP/1.1\r\nHost: www.example.test\r\nAccept: */*\r\n\r\n"),
    ("server", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"),
    ("client", b"POST /form HTTP/1.1\r\nHost: www.example.test\r\nContent-Length: 3\r\n\r\na=b"),
    ("server", b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nx-checksum: 99\r\n\r\n"),
]


def test_keep_alive_requests_become_streams_1_and_3() -> None:
    events = _feed(KEEP_ALIVE)  # type: ignore[arg-type]
    ex = _exchanges(events)
    assert list(ex) == [1, 3]
    assert ex[1]["request"] == {":method": "GET", ":scheme": "https", ":authority": "www.example.test",
                                ":path": "/index.html", "accept": "*/*"}
    assert ex[1]["statuses"] == ["200"] and ex[1]["body"] == {"client": b"", "server": b"hello"}
    assert ex[1]["ended"] == {"client", "server"}
    assert ex[3]["request"][":method"] == "POST" and ex[3]["body"]["client"] == b"a=b"  # type: ignore[index]
    assert ex[3]["statuses"] == ["201"] and ex[3]["body"]["server"] == b"abcdef"  # type: ignore[index]
    assert ex[3]["trailers"] == [{"x-checksum": "99"}] and ex[3]["ended"] == {"client", "server"}
    assert not [e for e in events if isinstance(e, ProtocolAnomaly)]
    wire = [e.wire_length for e in events if isinstance(e, HeadersReceived) and e.sender == "client"]
    assert wire[0] == len(KEEP_ALIVE[0][1])


def test_byte_at_a_time_gives_the_same_exchanges() -> None:
    assert _exchanges(_feed(KEEP_ALIVE, one_byte=True)) == _exchanges(_feed(KEEP_ALIVE))  # type: ignore[arg-type]


def test_pipelined_requests_are_answered_in_order_and_head_204_304_have_no_body() -> None:
    requests = (b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                b"GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n")
    responses = (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                 b"HTTP/1.1 204 No Content\r\n\r\n"
                 b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
                 b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    for one_byte in (False, True):
        ex = _exchanges(_feed([("client", requests), ("server", responses)], one_byte=one_byte))
        assert [ex[s]["request"][":path"] for s in (1, 3, 5, 7)] == ["/a", "/b", "/c", "/d"]  # type: ignore[index]
        assert [ex[s]["statuses"] for s in (1, 3, 5, 7)] == [["200"], ["204"], ["304"], ["200"]]
        assert [ex[s]["body"]["server"] for s in (1, 3, 5, 7)] == [b"", b"", b"", b"ok"]  # type: ignore[index]
        assert all("server" in ex[s]["ended"] for s in (1, 3, 5, 7))  # type: ignore[operator]


def test_interim_responses_and_read_until_close() -> None:
    chunks = [("client", b"PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
              ("server", b"HTTP/1.1 100 Continue\r\n\r\n"),
              ("client", b"xy"),
              ("server", b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil "),
              ("server", b"close")]
    events = _feed(chunks, close="server")  # type: ignore[arg-type]
    ex = _exchanges(events)
    assert ex[1]["statuses"] == ["100", "200"] and ex[1]["body"]["server"] == b"until close"  # type: ignore[index]
    assert ex[1]["ended"] == {"client", "server"}
    still_open = _exchanges(_feed(chunks))  # type: ignore[arg-type]
    assert still_open[1]["ended"] == {"client"}  # the capture ended before the server closed


def test_absolute_form_and_http10_without_host() -> None:
    ex = _exchanges(_feed([("client", b"GET http://proxy.test:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n"
                                      b"GET /x HTTP/1.0\r\n\r\n")]))
    assert ex[1]["request"][":authority"] == "proxy.test:8080"  # type: ignore[index]
    assert ex[1]["request"][":path"] == "/p?q=1" and ex[1]["request"][":scheme"] == "http"  # type: ignore[index]
    assert ex[3]["request"][":authority"] == "fallback.test"  # type: ignore[index]


def test_websocket_upgrade_stops_decoding_and_says_so() -> None:
    events = _feed([("client", b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
                    ("server", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
                    ("client", b"\x81\x85\x00\x00\x00\x00hello")])
    anomalies = [e.message for e in events if isinstance(e, ProtocolAnomaly)]
    assert len(anomalies) == 1 and "websocket" in anomalies[0] and "not decoded" in anomalies[0]
    assert _exchanges(events)[1]["statuses"] == ["101"]


def test_malformed_input_is_an_anomaly_never_an_exception() -> None:
    not_http = _feed([("client", b"\x16\x03\x01\x02\x00binary"), ("server", b"\x00\x01")])
    assert [type(e) for e in not_http] == [ProtocolAnomaly, ProtocolAnomaly]
    bad_chunk = _feed([("client", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                       ("server", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n")])
    assert any(isinstance(e, ProtocolAnomaly) and "hexadecimal" in e.message for e in bad_chunk)
    bad_length = _feed([("client", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                        ("server", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nabc")], close="server")
    assert any(isinstance(e, ProtocolAnomaly) and "Content-Length" in e.message for e in bad_length)
    assert _exchanges(bad_length)[1]["body"]["server"] == b"abc"  # type: ignore[index]
    orphan = _exchanges(_feed([("server", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")]))
    assert orphan[1]["statuses"] == ["200"] and "request" not in orphan[1]


def test_an_oversized_head_is_capped_and_decoding_carries_on() -> None:
    huge = b"GET /big HTTP/1.1\r\nHost: h\r\n" + b"X-Pad: " + b"a" * (MAX_HEAD * 3) + b"\r\n\r\n"
    decoder = H1ConnectionDecoder("t0")
    events: list[Event] = []
    for i in range(0, len(huge), 1000):
        events += decoder.receive("client", huge[i:i + 1000], 1.0)
        assert len(decoder.client.buffer) <= MAX_HEAD + 1000
    events += decoder.receive("client", b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 2.0)
    requests = [dict(e.headers) for e in events if isinstance(e, HeadersReceived)]
    assert [r[":path"] for r in requests] == ["/big", "/next"] and "x-pad" not in requests[0]
    assert any(isinstance(e, ProtocolAnomaly) and "longer than" in e.message for e in events)
