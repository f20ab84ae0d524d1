"""What the probe relies on in h2 (pushscope/sources/probe/h2_adapter.py), checked against the installed h2.

A client and a server h2 connection talk in memory: the server promises a push, the client cancels it, and the
server's frames already in flight arrive. If one of these tests fails after an h2 upgrade, h2 changed something
the adapter relies on: read the message, then the adapter's docstring.
"""

from __future__ import annotations

from importlib.metadata import version

import h2.config
import h2.connection
import h2.events
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame, Frame, RstStreamFrame

from pushscope.sources.probe.h2_adapter import QuietResetH2Connection, without_rst_stream

H2_VERSION = version("h2")
REQUEST = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/")]
PUSHED = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/style.css")]


def frames(data: bytes) -> list[Frame]:
    out, at = [], 0
    while at < len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[at:at + 9]))
        frame.parse_body(memoryview(data[at + 9:at + 9 + length]))
        out.append(frame)
        at += 9 + length
    return out


def resets(data: bytes) -> list[tuple[int, int]]:
    return [(f.stream_id, f.error_code) for f in frames(data) if isinstance(f, RstStreamFrame)]


def one_at_a_time(client: h2.connection.H2Connection, data: bytes) -> list[h2.events.Event]:
    """As the probe feeds h2: one frame per call."""
    events, at = [], 0
    while at < len(data):
        end = at + 9 + int.from_bytes(data[at:at + 3], "big")
        events += client.receive_data(data[at:end])
        at = end
    return events


def promise_then_cancel(client: h2.connection.H2Connection) -> tuple[h2.connection.H2Connection, bytes]:
    """The server promises stream 2 and starts its response; the client cancels the push on the promise."""
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    server.initiate_connection()
    client.initiate_connection()
    client.send_headers(1, REQUEST, end_stream=True)
    server.receive_data(client.data_to_send())
    one_at_a_time(client, server.data_to_send())  # SETTINGS and its ACK
    server.receive_data(client.data_to_send())
    server.push_stream(1, 2, PUSHED)
    events = one_at_a_time(client, server.data_to_send())
    assert any(isinstance(e, h2.events.PushedStreamReceived) for e in events), f"h2 {H2_VERSION}: no push"
    client.reset_stream(2, ErrorCodes.CANCEL)
    server.send_headers(2, [(":status", "200"), ("content-type", "text/css")])
    server.send_data(2, b"body{}" * 100, end_stream=True)
    return server, server.data_to_send()


def client_config() -> h2.config.H2Configuration:
    return h2.config.H2Configuration(client_side=True, header_encoding="utf-8")


def test_plain_h2_answers_frames_on_a_stream_it_reset() -> None:
    """The behaviour the adapter exists to remove: without it, one RST_STREAM(STREAM_CLOSED) per late frame."""
    client = h2.connection.H2Connection(client_config())
    _server, in_flight = promise_then_cancel(client)
    assert resets(client.data_to_send()) == [(2, ErrorCodes.CANCEL)]
    one_at_a_time(client, in_flight)
    answers = resets(client.data_to_send())
    assert answers and all(answer == (2, ErrorCodes.STREAM_CLOSED) for answer in answers), (
        f"h2 {H2_VERSION} no longer answers frames on a stream the client reset with RST_STREAM(STREAM_CLOSED) "
        f"(it sent {answers}): QuietResetH2Connection in pushscope/sources/probe/h2_adapter.py may have nothing "
        "left to do; review it")


def test_quiet_connection_sends_one_reset_per_cancelled_push() -> None:
    client = QuietResetH2Connection(client_config())
    server, in_flight = promise_then_cancel(client)
    one_at_a_time(client, in_flight)
    sent = client.data_to_send()
    assert resets(sent) == [(2, ErrorCodes.CANCEL)], (
        f"with h2 {H2_VERSION}, QuietResetH2Connection sent {resets(sent)}: h2 changed how it reports resets "
        "(reset_stream, StreamReset.remote_reset) or what data_to_send returns; review h2_adapter.py")
    # The rest of what the client sends is untouched: the server reads it without error.
    events = server.receive_data(sent)
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events)


def test_a_reset_h2_sends_on_its_own_is_sent_once_and_later_frames_are_dropped() -> None:
    """DATA on a promised stream before its HEADERS: h2 resets the stream itself and says so with a
    StreamReset(remote_reset=False); the adapter learns the stream from that event."""
    client = QuietResetH2Connection(client_config())
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    server.initiate_connection()
    client.initiate_connection()
    client.send_headers(1, REQUEST, end_stream=True)
    server.receive_data(client.data_to_send())
    server.push_stream(1, 2, PUSHED)
    one_at_a_time(client, server.data_to_send())
    client.data_to_send()
    early = DataFrame(2, data=b"too early").serialize()
    events = one_at_a_time(client, early)
    own = [e for e in events if isinstance(e, h2.events.StreamReset)]
    assert own and not own[0].remote_reset, f"h2 {H2_VERSION} no longer reports its own resets as StreamReset " \
                                            f"with remote_reset=False ({events}); review h2_adapter.py"
    assert resets(client.data_to_send()) == [(2, ErrorCodes.STREAM_CLOSED)]
    one_at_a_time(client, early + early)
    assert resets(client.data_to_send()) == []


def test_data_to_send_keeps_order_and_amount() -> None:
    client = QuietResetH2Connection(client_config())
    client.initiate_connection()
    whole = client.data_to_send()
    client.clear_outbound_data_buffer()
    client2 = QuietResetH2Connection(client_config())
    client2.initiate_connection()
    assert client2.data_to_send(10) + client2.data_to_send(5) + client2.data_to_send() == whole
    assert client.data_to_send() == b""


def test_without_rst_stream_keeps_everything_else() -> None:
    rst = RstStreamFrame(2, error_code=ErrorCodes.STREAM_CLOSED).serialize()
    other = RstStreamFrame(4, error_code=ErrorCodes.CANCEL).serialize()
    data = DataFrame(1, data=b"x").serialize()
    assert without_rst_stream(data + rst + other + data, frozenset({2})) == data + other + data
    assert without_rst_stream(data[:5], frozenset({2})) == data[:5]
