"""What the probe relies on in aioquic (pushscope/sources/probe/aioquic_adapter.py), checked against the
installed aioquic.

A real aioquic client and server connect in memory (datagrams handed across by the test): everything the client's
H3Connection sends must be reported by ObservedQuicConnection, byte for byte as the server receives it. The
protocol is checked on a loopback UDP socket: it must send through the transport it was given. If one of these
tests fails after an aioquic upgrade, aioquic changed something the adapter relies on.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import HeadersReceived, PushPromiseReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import HandshakeCompleted, QuicEvent, StopSendingReceived, StreamDataReceived, StreamReset
from lab import certs

from pushscope.decode.h3 import H3ConnectionDecoder
from pushscope.events import MaxPushIdReceived, Side
from pushscope.sources.probe.aioquic_adapter import ObservedQuicConnection, ProbeQuicProtocol, PushRefusingH3Connection

AIOQUIC_VERSION = version("aioquic")
CLIENT, SERVER = ("127.0.0.1", 50000), ("127.0.0.1", 4433)
NOW = 1000.0


class Clock:
    """Time moves on with each exchange, so that aioquic's pacing lets every datagram go."""

    now = NOW

    @classmethod
    def tick(cls) -> float:
        cls.now += 0.01
        return cls.now


class Recorder:
    """Both listeners of the adapter at once: what the adapter reports."""

    def __init__(self) -> None:
        self.sent: dict[int, bytes] = defaultdict(bytes)
        self.fin: set[int] = set()
        self.resets: list[tuple[int, int]] = []
        self.stops: list[tuple[int, int]] = []
        self.datagrams: list[tuple[Side, int]] = []
        self.events: list[QuicEvent] = []
        self.errors: list[Exception] = []

    def stream_data_sent(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        self.sent[stream_id] += data
        if end_stream:
            self.fin.add(stream_id)

    def stream_reset_sent(self, stream_id: int, error_code: int) -> None:
        self.resets.append((stream_id, error_code))

    def stop_sending_sent(self, stream_id: int, error_code: int) -> None:
        self.stops.append((stream_id, error_code))

    def datagram(self, sender: Side, length: int) -> None:
        self.datagrams.append((sender, length))

    def network_error(self, exc: Exception) -> None:
        self.errors.append(exc)

    def quic_event(self, event: QuicEvent) -> None:
        self.events.append(event)


def pump(client: QuicConnection, server: QuicConnection) -> list[QuicEvent]:
    """Hand datagrams across until both sides are quiet; the server's QUIC events, in order."""
    server_events: list[QuicEvent] = []
    for _ in range(50):
        moved = False
        for data, _addr in client.datagrams_to_send(now=Clock.tick()):
            server.receive_datagram(data, CLIENT, now=Clock.now)
            moved = True
        for data, _addr in server.datagrams_to_send(now=Clock.tick()):
            client.receive_datagram(data, SERVER, now=Clock.now)
            moved = True
        while (event := server.next_event()) is not None:
            server_events.append(event)
        if not moved:
            return server_events
    raise AssertionError("the connections never went quiet")


def connected_pair(cert: certs.CertPair, recorder: Recorder) -> tuple[ObservedQuicConnection, H3Connection,
                                                                        QuicConnection, H3Connection,
                                                                        list[QuicEvent]]:
    client_config = QuicConfiguration(is_client=True, alpn_protocols=list(H3_ALPN), server_name="127.0.0.1")
    client_config.verify_mode = ssl.CERT_NONE
    server_config = QuicConfiguration(is_client=False, alpn_protocols=list(H3_ALPN))
    server_config.load_cert_chain(cert.cert, cert.key)
    client = ObservedQuicConnection(configuration=client_config, listener=recorder)
    client_h3 = H3Connection(client)  # before the handshake, as the probe does: its streams go in the first flight
    client.connect(SERVER, now=Clock.tick())
    server = QuicConnection(configuration=server_config,
                            original_destination_connection_id=client.original_destination_connection_id)
    server_h3 = H3Connection(server)
    events = pump(client, server)
    assert any(isinstance(e, HandshakeCompleted) for e in events), f"aioquic {AIOQUIC_VERSION}: no handshake"
    for event in events:
        server_h3.handle_event(event)
    return client, client_h3, server, server_h3, events


def received_by_server(events: list[QuicEvent], streams: dict[int, bytes]) -> None:
    for event in events:
        if isinstance(event, StreamDataReceived) and event.stream_id % 2 == 0:  # the client's streams
            streams[event.stream_id] += event.data


def test_observed_connection_reports_every_stream_byte_reset_and_stop(tmp_path: Path) -> None:
    recorder = Recorder()
    client, client_h3, server, server_h3, events = connected_pair(certs.make_cert(tmp_path), recorder)
    arrived: dict[int, bytes] = defaultdict(bytes)
    received_by_server(events, arrived)
    stream_id = client.get_next_available_stream_id()
    request = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"127.0.0.1"), (b":path", b"/")]
    client_h3.send_headers(stream_id, request, end_stream=True)
    events = pump(client, server)
    received_by_server(events, arrived)
    assert any(isinstance(h3, HeadersReceived) for e in events for h3 in server_h3.handle_event(e))

    push_stream = server_h3.send_push_promise(stream_id, [(b":method", b"GET"), (b":scheme", b"https"),
                                                          (b":authority", b"127.0.0.1"), (b":path", b"/a.css")])
    server_h3.send_headers(push_stream, [(b":status", b"200")])
    pump(client, server)
    pushes = [h3 for e in iter(client.next_event, None) for h3 in client_h3.handle_event(e)]
    assert any(isinstance(e, PushPromiseReceived) for e in pushes)
    client.stop_stream(push_stream, ErrorCode.H3_REQUEST_CANCELLED)
    second = client.get_next_available_stream_id()
    client_h3.send_headers(second, request, end_stream=False)
    client.reset_stream(second, ErrorCode.H3_REQUEST_CANCELLED)
    events = pump(client, server)
    received_by_server(events, arrived)

    reported = {stream: data for stream, data in recorder.sent.items() if stream != second}  # reset before sent
    assert reported == dict(arrived), (
        f"aioquic {AIOQUIC_VERSION}: what the server received on the client's streams is not what "
        "ObservedQuicConnection reported: H3Connection no longer sends everything through QuicConnection's "
        "send_stream_data; review pushscope/sources/probe/aioquic_adapter.py")
    decoder = H3ConnectionDecoder("C1", alpn="h3")
    for stream, data in recorder.sent.items():
        decoder.receive_stream_data("client", stream, data, stream in recorder.fin, NOW)
    assert decoder.control_stream_id("client") == 2
    assert recorder.stops == [(push_stream, ErrorCode.H3_REQUEST_CANCELLED)]
    assert recorder.resets == [(second, ErrorCode.H3_REQUEST_CANCELLED)]
    assert any(isinstance(e, StopSendingReceived) and e.stream_id == push_stream for e in events)
    assert any(isinstance(e, StreamReset) and e.stream_id == second for e in events)


async def test_protocol_counts_datagrams_through_the_transport_it_was_given() -> None:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    recorder = Recorder()
    config = QuicConfiguration(is_client=True, alpn_protocols=list(H3_ALPN), server_name="127.0.0.1")
    loop = asyncio.get_running_loop()
    quic = QuicConnection(configuration=config)
    transport, protocol = await loop.create_datagram_endpoint(lambda: ProbeQuicProtocol(quic, recorder),
                                                              remote_addr=peer.getsockname())
    try:
        protocol.connect(peer.getsockname())
        initial, client_address = await asyncio.wait_for(loop.sock_recvfrom(peer, 65536), 5)
        assert recorder.datagrams and recorder.datagrams[0] == ("client", len(initial)), (
            f"aioquic {AIOQUIC_VERSION}: the Initial went out without passing through the transport given to "
            "QuicConnectionProtocol.connection_made; review pushscope/sources/probe/aioquic_adapter.py")
        peer.sendto(b"\x00" * 40, client_address)  # not QUIC: counted, then dropped by aioquic
        for _ in range(100):
            if ("server", 40) in recorder.datagrams:
                break
            await asyncio.sleep(0.01)
        assert ("server", 40) in recorder.datagrams
        assert transport.get_extra_info("sockname") == client_address
    finally:
        protocol.close()
        transport.close()
        peer.close()


def max_push_ids(recorder: Recorder) -> list[int]:
    """The MAX_PUSH_ID values on the client's control stream, as pushscope's decoder reads them."""
    decoder = H3ConnectionDecoder("C1", alpn="h3")
    events = [event for stream, data in recorder.sent.items()
              for event in decoder.receive_stream_data("client", stream, data, False, NOW)]
    return [event.push_id for event in events if isinstance(event, MaxPushIdReceived)]


def test_a_push_refusing_client_sends_no_max_push_id() -> None:
    config = QuicConfiguration(is_client=True, alpn_protocols=list(H3_ALPN), server_name="127.0.0.1")
    accepting, refusing = Recorder(), Recorder()
    H3Connection(ObservedQuicConnection(configuration=config, listener=accepting))
    PushRefusingH3Connection(ObservedQuicConnection(configuration=config, listener=refusing))
    assert max_push_ids(accepting), f"aioquic {AIOQUIC_VERSION}: a client H3Connection sends no MAX_PUSH_ID"
    assert max_push_ids(refusing) == [], (
        f"aioquic {AIOQUIC_VERSION}: PushRefusingH3Connection still sent MAX_PUSH_ID: H3Connection's private "
        "_max_push_id or _init_connection changed; review pushscope/sources/probe/aioquic_adapter.py")
    assert refusing.sent.get(2, b"")[:1] == b"\x00"  # the control stream is still opened, with its SETTINGS
