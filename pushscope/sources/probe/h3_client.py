"""The probe's HTTP/3 client: aioquic's ``H3Connection`` (which sends MAX_PUSH_ID, unless push is refused).

The model is built by :class:`pushscope.decode.h3.H3ConnectionDecoder`, fed with exactly the stream bytes the
client sends and receives: received bytes come from aioquic's QUIC events (StreamDataReceived, StreamReset,
StopSendingReceived) before aioquic's HTTP/3 layer sees them; sent bytes are reported by the QUIC connection
(:class:`~pushscope.sources.probe.aioquic_adapter.ObservedQuicConnection`). UDP datagrams in both directions are
counted as BytesSeen, as a capture counts them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from typing import Any, TextIO, cast

from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.h3.events import DataReceived as H3DataReceived
from aioquic.h3.events import H3Event
from aioquic.h3.events import HeadersReceived as H3HeadersReceived
from aioquic.h3.events import PushPromiseReceived as H3PushPromiseReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)

from pushscope.decode.h3 import H3ConnectionDecoder
from pushscope.decode.h3_frames import error_name
from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    Diagnostic,
    Event,
    Headers,
    PushStreamOpened,
    Side,
)
from pushscope.http.headers import header_value
from pushscope.sources.probe.aioquic_adapter import (
    ObservedQuicConnection,
    ProbeQuicProtocol,
    PushRefusingH3Connection,
)
from pushscope.sources.probe.connection import (
    Emit,
    Origin,
    ProbeConnection,
    ProbeError,
    ProbeOptions,
    PromiseHandler,
    Transfer,
    endpoint,
    is_ip_address,
)

IDLE_TIMEOUT = 30.0


def _quiet_aioquic() -> None:
    """aioquic logs handshake failures as warnings; the probe reports them itself."""
    logger = logging.getLogger("quic")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


class H3ProbeConnection(ProbeConnection):
    protocol = "h3"

    def __init__(self, connection_id: str, origin: Origin, options: ProbeOptions, emit: Emit,
                 on_promise: PromiseHandler, secrets_log: TextIO | None = None) -> None:
        super().__init__(connection_id, origin, options, emit, on_promise)
        self.decoder = H3ConnectionDecoder(connection_id, alpn="h3")
        self._secrets_log = secrets_log
        self._protocol: ProbeQuicProtocol | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._h3: H3Connection | None = None
        self._quic: ObservedQuicConnection | None = None
        self._streams: dict[int, Transfer] = {}
        self._pushes_by_id: dict[int, Transfer] = {}
        self._push_streams: dict[int, int] = {}  # push ID -> its push stream
        self._server_address: Any = None
        self._started = 0.0
        self._terminated: ConnectionTerminated | None = None
        self._closing = False
        self._handshake_completed = False
        self._unreachable: Exception | None = None
        self._unreachable_event: asyncio.Event | None = None
        self.handshake_timeout: float | None = None  # shorter for an Alt-Svc alternative, which can fall back

    # -- wiring: what aioquic reports (aioquic_adapter's listeners) --------------------------------------
    def datagram(self, sender: Side, length: int) -> None:
        self.emit(BytesSeen(connection_id=self.connection_id, at=time.time(), sender=sender, length=length))

    def stream_data_sent(self, stream_id: int, data: bytes, end_stream: bool) -> None:
        self._emit_all(self.decoder.receive_stream_data("client", stream_id, data, end_stream, time.time()))

    def stream_reset_sent(self, stream_id: int, error_code: int) -> None:
        self._emit_all(self.decoder.receive_reset_stream("client", stream_id, error_code, time.time()))

    def stop_sending_sent(self, stream_id: int, error_code: int) -> None:
        self._emit_all(self.decoder.receive_stop_sending("client", stream_id, error_code, time.time()))

    def _emit_all(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, PushStreamOpened):
                self._push_stream_opened(event.push_id, event.stream_id)
            self.emit(event)

    def network_error(self, exc: Exception) -> None:
        """ICMP unreachable and the like: while connecting, nothing listens there; fail fast."""
        if self._unreachable is None:
            self._unreachable = exc
            if self._unreachable_event is not None:
                self._unreachable_event.set()

    def _transport_ready(self, quic: ObservedQuicConnection, protocol: ProbeQuicProtocol,
                         transport: asyncio.DatagramTransport) -> None:
        """Before the first packet: announce the connection, then let H3Connection write its streams."""
        self._protocol, self._transport, self._quic = protocol, transport, quic
        self.client = endpoint(transport.get_extra_info("sockname"))
        sni = None if is_ip_address(self.origin.host) else self.origin.host
        self.emit(ConnectionOpened(connection_id=self.connection_id, at=self._started, client=self.client,
                                   server=endpoint(self._server_address), transport="quic", protocol="h3",
                                   tls_version="1.3", sni=sni, alpn=None))
        self._h3 = H3Connection(quic) if self.options.accept_push else PushRefusingH3Connection(quic)

    def quic_event(self, event: QuicEvent) -> None:
        now = time.time()
        if isinstance(event, HandshakeCompleted):
            self._handshake_completed = True
            self.emit(ConnectionUpdated(connection_id=self.connection_id, at=now, protocol="h3", tls_version="1.3",
                                        alpn=event.alpn_protocol, decrypted=True))
        elif isinstance(event, StreamDataReceived):
            self._emit_all(self.decoder.receive_stream_data("server", event.stream_id, event.data,
                                                            event.end_stream, now))
        elif isinstance(event, StreamReset):
            self._emit_all(self.decoder.receive_reset_stream("server", event.stream_id, event.error_code, now))
            self._stream_reset(event.stream_id, event.error_code, now)
        elif isinstance(event, StopSendingReceived):
            self._emit_all(self.decoder.receive_stop_sending("server", event.stream_id, event.error_code, now))
        elif isinstance(event, ConnectionTerminated):
            self._terminated = event
            if not self._closing and not self.closed and self._h3 is not None and self._handshake_completed:
                self.error = (f"the QUIC connection was closed: {event.reason_phrase or 'no reason given'} "
                              f"(code 0x{event.error_code:x})")
                self.emit(Diagnostic(level="warning", message=f"{self.connection_id}: {self.error}",
                                     connection_id=self.connection_id, code="probe-connection-error"))
            self._finish(now, "server" if not self._closing else "client", event.error_code)
            return
        if self._h3 is not None:
            for h3_event in self._h3.handle_event(event):
                self._handle(h3_event, now)

    # -- connecting --------------------------------------------------------------------------------------
    async def connect(self, first_request: tuple[str, Headers] | None = None) -> None:
        origin, target, options = self.origin, self.target, self.options
        _quiet_aioquic()
        loop = asyncio.get_running_loop()
        self._started = time.time()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise ProbeError(f"cannot resolve {target.host}: {exc}") from exc
        family, address = infos[0][0], infos[0][4]
        self._server_address = address
        configuration = QuicConfiguration(is_client=True, alpn_protocols=list(H3_ALPN), server_name=origin.host,
                                          idle_timeout=IDLE_TIMEOUT)
        if options.insecure:
            configuration.verify_mode = ssl.CERT_NONE
        if options.cacert:
            configuration.load_verify_locations(cafile=options.cacert)
        if self._secrets_log is not None:
            configuration.secrets_log_file = self._secrets_log
        quic = ObservedQuicConnection(configuration=configuration, listener=self)
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: ProbeQuicProtocol(quic, self), family=family,
                remote_addr=cast(tuple[str, int], address[:2]))
        except OSError as exc:
            raise ProbeError(f"cannot open a UDP socket to {target.host} port {target.port}: {exc}") from exc
        self._transport_ready(quic, protocol, transport)
        self._unreachable_event = asyncio.Event()
        protocol.connect(address)
        connected = loop.create_task(protocol.wait_connected())
        refused = loop.create_task(self._unreachable_event.wait())
        done, _pending = await asyncio.wait({connected, refused}, timeout=self.handshake_timeout or options.timeout,
                                            return_when=asyncio.FIRST_COMPLETED)
        refused.cancel()
        if connected not in done:
            connected.cancel()
        try:
            if connected not in done:
                raise ConnectionError(str(self._unreachable or "timed out"))
            connected.result()
        except (ConnectionError, asyncio.CancelledError) as exc:
            why = self._terminated.reason_phrase if self._terminated is not None else ""
            if not why and self._unreachable is not None:
                why = f"nothing answers on UDP port {target.port} ({self._unreachable})"
            protocol.close()
            transport.close()
            if not self.closed:
                self._finish(time.time(), "client", 0)
            hint = ""
            if "certificate" in why.lower() or "verify" in why.lower() or "hostname" in why.lower():
                hint = "; pass --cacert FILE to trust the server's certificate, or --insecure"
            raise ProbeError(f"{origin} (UDP {target.host}:{target.port}): QUIC/HTTP/3 handshake failed: "
                             f"{why or 'no answer (timed out)'}{hint}") from exc

    # -- HTTP/3 events -----------------------------------------------------------------------------------
    def _handle(self, event: H3Event, now: float) -> None:
        if isinstance(event, H3PushPromiseReceived):
            headers = _str_headers(event.headers)
            scheme = header_value(headers, ":scheme") or self.origin.scheme
            authority = header_value(headers, ":authority") or self.origin.authority
            url = f"{scheme}://{authority}{header_value(headers, ':path') or '/'}"
            push = Transfer(self.connection_id, url, headers, self._push_streams.get(event.push_id), now,
                            pushed=True, push_id=event.push_id, parent_stream_id=event.stream_id)
            self._pushes_by_id[event.push_id] = push
            self.record_promise(push)
            return
        transfer = self._transfer_for(event)
        if transfer is None or transfer.state == "cancelled":
            return
        if isinstance(event, H3HeadersReceived):
            transfer.got_headers(_str_headers(event.headers), now)
        elif isinstance(event, H3DataReceived):
            transfer.take(event.data, self.options.limits)
        if getattr(event, "stream_ended", False):
            transfer.end(now)

    def _transfer_for(self, event: H3Event) -> Transfer | None:
        push_id = getattr(event, "push_id", None)
        if push_id is not None:
            return self._pushes_by_id.get(push_id)
        return self._streams.get(getattr(event, "stream_id", -1))

    def _push_stream_opened(self, push_id: int, stream_id: int) -> None:
        self._push_streams[push_id] = stream_id
        push = self._pushes_by_id.get(push_id)
        if push is None:
            return
        push.stream_id = stream_id
        if push.state == "cancelled" and self._quic is not None:
            # cancelled before its stream opened: ask the server to stop sending on it too
            asyncio.get_running_loop().call_soon(self._stop_push_stream, stream_id)

    def _stop_push_stream(self, stream_id: int) -> None:
        if self._quic is None or self.closed:
            return
        try:
            self._quic.stop_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        except (ValueError, AssertionError):
            return
        if self._protocol is not None:
            self._protocol.transmit()

    def _stream_reset(self, stream_id: int, error_code: int, now: float) -> None:
        transfer = self._streams.get(stream_id)
        if transfer is None:
            for push_id, push_stream in self._push_streams.items():
                if push_stream == stream_id:
                    transfer = self._pushes_by_id.get(push_id)
        if transfer is not None and transfer.state != "cancelled":
            transfer.fail("server", error_code, now)

    def _finish(self, now: float, by: Side, error_code: int) -> None:
        if self.closed:
            return
        self.closed = True
        self._emit_all(self.decoder.finish(now))
        self.fail_all()
        name = error_name(error_code, "h3") if by == "client" or error_code >= 0x100 else f"0x{error_code:x}"
        self.emit(ConnectionClosed(connection_id=self.connection_id, at=now, how=f"close-by-{by} ({name})"))

    # -- the loader's interface --------------------------------------------------------------------------
    async def send_request(self, url: str, headers: Headers) -> Transfer:
        if self.closed or self._h3 is None or self._quic is None or self._protocol is None:
            raise ProbeError(f"{self.connection_id}: the connection is closed"
                             f"{': ' + self.error if self.error else ''}")
        stream_id = self._quic.get_next_available_stream_id()
        transfer = Transfer(self.connection_id, url, list(headers), stream_id, time.time())
        self._streams[stream_id] = transfer
        self.requests.append(transfer)
        self._h3.send_headers(stream_id, [(k.encode(), v.encode()) for k, v in headers], end_stream=True)
        self._protocol.transmit()
        return transfer

    def cancel_push(self, push: Transfer) -> None:
        """CANCEL_PUSH on the control stream, and STOP_SENDING on the push stream if it is already open."""
        push.state = "cancelled"
        if push.finished or self.closed or self._h3 is None or self._quic is None or push.push_id is None:
            return
        control = self.decoder.control_stream_id("client")
        if control is not None:
            self._quic.send_stream_data(control, encode_frame(FrameType.CANCEL_PUSH, encode_uint_var(push.push_id)))
        push.fail("client", int(ErrorCode.H3_REQUEST_CANCELLED), time.time())
        if push.stream_id is not None:
            self._stop_push_stream(push.stream_id)
        elif self._protocol is not None:
            self._protocol.transmit()

    async def close(self) -> None:
        if self._protocol is None:
            return
        if not self.closed:
            self._closing = True
            self._protocol.close(error_code=ErrorCode.H3_NO_ERROR)
            self._finish(time.time(), "client", int(ErrorCode.H3_NO_ERROR))
        try:
            await asyncio.wait_for(self._protocol.wait_closed(), 2.0)
        except TimeoutError:
            pass
        if self._transport is not None:
            self._transport.close()


def _str_headers(headers: list[tuple[bytes, bytes]]) -> Headers:
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in headers]
