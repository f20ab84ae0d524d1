"""Cleartext TCP rows as tshark gives them: out-of-order segments and retransmissions still decode in order."""

from __future__ import annotations

import hpack
from hyperframe.frame import HeadersFrame, SettingsFrame

from pushscope.decode.h2 import PREFACE
from pushscope.events import Diagnostic, HeadersReceived
from pushscope.sources.tcp_rows import DECODER_KEPT_AFTER_CLOSE, TcpRowReader


def _row(src_port: int, dst_port: int, seq: int, payload: bytes = b"", syn: bool = False, ack: bool = True) -> dict:
    return {
        "tcp.stream": "0", "ip.src": "127.0.0.1", "ip.dst": "127.0.0.1",
        "tcp.srcport": str(src_port), "tcp.dstport": str(dst_port), "tcp.seq": str(seq), "tcp.len": str(len(payload)),
        "tcp.flags.syn": "1" if syn else "0", "tcp.flags.ack": "1" if ack else "0", "tcp.flags.fin": "0",
        "tcp.flags.reset": "0", "data.data": payload.hex(),
    }


def _client_bytes() -> bytes:
    headers = HeadersFrame(1, hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"),
                                                       (":authority", "h"), (":path", "/index.html")]))
    headers.flags.add("END_HEADERS")
    headers.flags.add("END_STREAM")
    return PREFACE + SettingsFrame(0).serialize() + headers.serialize()


def _requests(items: list) -> list[str]:
    return [dict(e.headers)[":path"] for e in items if isinstance(e, HeadersReceived)]


def test_out_of_order_and_retransmitted_cleartext_segments_decode_in_order() -> None:
    data = _client_bytes()
    first, second = data[:30], data[30:]
    reader = TcpRowReader()
    out = reader.feed(_row(50000, 8080, 0, syn=True, ack=False), 0.0)
    out += reader.feed(_row(50000, 8080, 1 + len(first), second), 0.001)  # arrives first
    assert _requests(out) == []
    out += reader.feed(_row(50000, 8080, 1, first), 0.002)
    out += reader.feed(_row(50000, 8080, 1, first), 0.003)  # a retransmission
    assert _requests(out) == ["/index.html"]
    assert not [e for e in out + reader.finish(0.01) if isinstance(e, Diagnostic) and e.level != "info"]


def test_a_gap_that_never_fills_is_reported() -> None:
    data = _client_bytes()
    reader = TcpRowReader()
    reader.feed(_row(50000, 8080, 0, syn=True, ack=False), 0.0)
    reader.feed(_row(50000, 8080, 1, data[:24]), 0.001)  # the preface
    out = reader.feed(_row(50000, 8080, 1 + len(data) - 5, data[-5:]), 0.002)  # the rest is missing before it
    assert _requests(out) == []
    gaps = [e for e in reader.finish(0.01) if isinstance(e, Diagnostic) and e.code == "tcp-gap"]
    assert gaps and "follow a gap" in gaps[0].message


def _protocol_of(client: list[bytes], server: list[bytes], *, server_first: bool = False) -> tuple[str | None, list]:
    """Feed cleartext segments (in the order given) and return the protocol announced and the events."""
    from pushscope.events import ConnectionUpdated

    reader = TcpRowReader()
    out = reader.feed(_row(50000, 8080, 0, syn=True, ack=False), 0.0)
    seqs = {"client": 1, "server": 1}
    order = [("server", s) for s in server] + [("client", c) for c in client] if server_first else \
        [("client", c) for c in client] + [("server", s) for s in server]
    for n, (side, data) in enumerate(order):
        ports = (50000, 8080) if side == "client" else (8080, 50000)
        out += reader.feed(_row(*ports, seqs[side], data), 0.001 * (n + 1))
        seqs[side] += len(data)
    out += reader.finish(1.0)
    protocols = [e.protocol for e in out if isinstance(e, ConnectionUpdated) and e.protocol]
    requests = [e for e in out if not isinstance(e, HeadersReceived) or e.sender == "client"]
    return (protocols[0] if protocols else None), requests


def test_cleartext_http1_request_lines_go_to_the_http1_decoder_even_split_mid_method() -> None:
    request = b"GET /a.css HTTP/1.1\r\nHost: h\r\n\r\n"
    protocol, out = _protocol_of([request[:2], request[2:]], [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    assert protocol == "http/1.1" and _requests(out) == ["/a.css"]


def test_an_h2c_upgrade_request_still_goes_to_the_http2_decoder() -> None:
    upgrade = (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: \r\n\r\n")
    protocol, out = _protocol_of([upgrade], [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"])
    assert protocol == "h2" and _requests(out) == ["/"]


def test_a_capture_that_begins_with_a_response_is_http1() -> None:
    protocol, out = _protocol_of([b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"],
                                 [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"], server_first=True)
    assert protocol == "http/1.1" and _requests(out) == ["/next"]


def test_a_closed_connections_decoder_is_let_go_a_while_later_and_late_bytes_are_reported() -> None:
    """Memory: a closed connection keeps no HPACK tables; what its decoder would say at the end is kept."""
    data = _client_bytes()
    reader = TcpRowReader()
    reader.feed(_row(50000, 8080, 0, syn=True, ack=False), 0.0)
    reader.feed(_row(50000, 8080, 1, data[:-3]), 0.001)  # the last frame cut short
    fin = _row(50000, 8080, len(data) - 2) | {"tcp.flags.fin": "1"}
    reader.feed(fin, 0.002)
    reader.feed(_row(8080, 50000, 1) | {"tcp.flags.fin": "1"}, 0.003)
    conn = reader._connections["0"]
    kept = DECODER_KEPT_AFTER_CLOSE
    reader.feed(_row(50000, 8080, 1, data[:5]) | {"tcp.stream": "1"}, kept - 1)
    assert conn.decoder is not None  # closed, but not long enough ago
    reader.feed(_row(50000, 8080, 1, data[:5]) | {"tcp.stream": "1"}, kept + 1)
    assert conn.decoder is None and not conn.cleartext
    late = reader.feed(_row(50000, 8080, len(data) - 2, b"late"), kept + 2)
    assert [type(e).__name__ for e in late] == ["BytesSeen"] and not conn.cleartext
    codes = [e.code for e in reader.finish(kept + 10) if isinstance(e, Diagnostic) and e.connection_id == "t0"]
    assert "truncated-frame" in codes and "late-bytes" in codes


def test_a_released_connection_keeps_no_containers_and_connections_share_what_they_repeat() -> None:
    """Memory: a gigabyte capture's tens of thousands of closed connections each kept a set, a dict, three lists
    and their own copies of the same addresses until the end. Released, a connection holds none of them; equal
    addresses and servers are one object each."""
    data = _client_bytes()
    reader = TcpRowReader()
    for stream, port in (("0", 50000), ("1", 50001)):
        def row(src: int, dst: int, seq: int, payload: bytes = b"", stream: str = stream, **flags: str) -> dict:
            # Equal values, distinct objects, as tshark's rows give them.
            fields = _row(src, dst, seq, payload) | {"tcp.stream": stream, "ip.src": "".join(["127.0.0.", "1"]),
                                                     "ip.dst": "".join(["127.0.0.", "1"])}
            return fields | flags

        reader.feed(row(port, 8080, 0) | {"tcp.flags.syn": "1", "tcp.flags.ack": "0"}, 0.0)
        reader.feed(row(port, 8080, 1, data), 0.001)
        reader.feed(row(port, 8080, len(data) + 1, **{"tcp.flags.fin": "1"}), 0.002)
        reader.feed(row(8080, port, 1, **{"tcp.flags.fin": "1"}), 0.003)
    first, second = reader._connections["0"], reader._connections["1"]
    assert first.closed and first.fins == 3 and first.cleartext  # (cleartext: its reassembly, until released)
    assert second.server is first.server and second.client is not first.client
    assert second.client is not None and first.client is not None and second.client.address is first.client.address
    reader.feed(_row(50002, 8080, 0, syn=True, ack=False) | {"tcp.stream": "2"}, DECODER_KEPT_AFTER_CLOSE + 1)
    for conn in (first, second):
        assert conn.decoder is None and conn.cleartext is None and conn.released == ()
        assert conn.sniffed == () and conn.held_server_chunks == ()
    codes = [e.code for e in reader.finish(DECODER_KEPT_AFTER_CLOSE + 2) if isinstance(e, Diagnostic)]
    assert "truncated-frame" not in codes and "late-bytes" not in codes
