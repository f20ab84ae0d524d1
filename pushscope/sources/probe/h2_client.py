"""The probe's HTTP/2 client: ``h2`` over TLS (ALPN h2) or cleartext h2c (prior knowledge or Upgrade).

TLS runs over ``ssl.MemoryBIO`` so the probe sees both sides of it: the wire bytes (counted as BytesSeen, as a
capture counts TCP payload) and the plaintext. Every plaintext byte the client sends (preface included) and
receives goes, in order and stamped with ``time.time()``, into the same :class:`H2ConnectionDecoder` a
capture uses; the model is built from the decoder's events only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable, Iterable

import h2.config
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from pushscope.decode.h2 import H2ConnectionDecoder
from pushscope.decode.h2_names import error_name
from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    Diagnostic,
    Headers,
    Side,
)
from pushscope.http.headers import header_value
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
    ssl_context,
)
from pushscope.sources.probe.h2_adapter import QuietResetH2Connection

READ_SIZE = 65536
# What a browser asks for (Chrome's values, with push enabled as browsers did while they supported it).
LOCAL_SETTINGS = {
    SettingCodes.HEADER_TABLE_SIZE: 65536,
    SettingCodes.ENABLE_PUSH: 1,
    SettingCodes.MAX_CONCURRENT_STREAMS: 100,
    SettingCodes.INITIAL_WINDOW_SIZE: 6 * 1024 * 1024,
    SettingCodes.MAX_HEADER_LIST_SIZE: 256 * 1024,
}
CONNECTION_WINDOW = 15 * 1024 * 1024
TLS_VERSIONS = {"TLSv1.3": "1.3", "TLSv1.2": "1.2", "TLSv1.1": "1.1", "TLSv1": "1.0"}
WireCounter = Callable[[Side, int], None]


class _Channel:
    """Plain TCP: the plaintext is the wire."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_wire: WireCounter) -> None:
        self.reader, self.writer, self.on_wire = reader, writer, on_wire
        self.version: str | None = None
        self.alpn: str | None = None

    async def recv(self) -> bytes:
        data = await self.reader.read(READ_SIZE)
        if data:
            self.on_wire("server", len(data))
        return data

    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.on_wire("client", len(data))
        self.writer.write(data)

    def shutdown(self) -> None:
        if not self.writer.is_closing() and self.writer.can_write_eof():
            try:
                self.writer.write_eof()
            except OSError:
                pass

    def abort(self) -> None:
        self.writer.close()


class _TlsChannel(_Channel):
    """TLS through ``ssl.MemoryBIO``: the wire on one side, the plaintext on the other."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_wire: WireCounter,
                 context: ssl.SSLContext, server_hostname: str | None) -> None:
        super().__init__(reader, writer, on_wire)
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False,
                                     server_hostname=server_hostname)

    def _flush_wire(self) -> None:
        out = self._outgoing.read()
        if out and not self.writer.is_closing():
            self.on_wire("client", len(out))
            self.writer.write(out)

    async def _fill(self) -> bool:
        data = await self.reader.read(READ_SIZE)
        if not data:
            self._incoming.write_eof()
            return False
        self.on_wire("server", len(data))
        self._incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_wire()
                if not await self._fill():
                    raise ProbeError("the server closed the connection during the TLS handshake") from None
            except ssl.SSLCertVerificationError:
                self._flush_wire()  # the alert
                raise
        self._flush_wire()
        self.version = TLS_VERSIONS.get(self._tls.version() or "", self._tls.version())
        self.alpn = self._tls.selected_alpn_protocol()

    async def recv(self) -> bytes:
        while True:
            try:
                data = self._tls.read(READ_SIZE)
                if data:
                    return data
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            self._flush_wire()  # anything the TLS stack answers on its own (key updates)
            if not await self._fill():
                try:
                    return self._tls.read(READ_SIZE)
                except ssl.SSLError:
                    return b""

    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self._tls.write(data)
        self._flush_wire()

    def shutdown(self) -> None:
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass
        self._flush_wire()  # close_notify
        super().shutdown()


class H2ProbeConnection(ProbeConnection):
    protocol = "h2"

    def __init__(self, connection_id: str, origin: Origin, options: ProbeOptions, emit: Emit,
                 on_promise: PromiseHandler) -> None:
        super().__init__(connection_id, origin, options, emit, on_promise)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.h2 = QuietResetH2Connection(config=config)
        settings = dict(LOCAL_SETTINGS)
        settings[SettingCodes.ENABLE_PUSH] = int(options.accept_push)
        self.h2.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        # Settings given as initial values are never "acknowledged", so h2 would not apply them to its decoder.
        self.h2.decoder.max_allowed_table_size = LOCAL_SETTINGS[SettingCodes.HEADER_TABLE_SIZE]
        self.h2.decoder.max_header_list_size = LOCAL_SETTINGS[SettingCodes.MAX_HEADER_LIST_SIZE]
        self.decoder = H2ConnectionDecoder(connection_id)
        self.channel: _Channel | None = None
        self._streams: dict[int, Transfer] = {}
        self._inbox = bytearray()
        self._reader_task: asyncio.Task[None] | None = None
        self._upgrade: Transfer | None = None
        self._closed_event = asyncio.Event()
        self._going_away = False
        self._closing = False

    # -- decoder and wire --------------------------------------------------------------------------------
    def _decode(self, sender: Side, data: bytes, at: float) -> None:
        for event in self.decoder.receive(sender, data, at):
            self.emit(event)

    def _count(self, sender: Side, length: int) -> None:
        self.emit(BytesSeen(connection_id=self.connection_id, at=time.time(), sender=sender, length=length))

    def _send_plain(self, data: bytes) -> None:
        if not data or self.channel is None or self.closed:
            return
        self._decode("client", data, time.time())
        self.channel.send(data)

    def _flush(self) -> None:
        self._send_plain(self.h2.data_to_send())

    # -- connecting --------------------------------------------------------------------------------------
    async def connect(self, first_request: tuple[str, Headers] | None = None) -> None:
        origin, target, options = self.origin, self.target, self.options
        started = time.time()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port),
                                                    options.timeout)
        except (TimeoutError, OSError) as exc:
            raise ProbeError(f"cannot connect to {target.host} port {target.port} (TCP): {exc or 'timed out'}") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = endpoint(writer.get_extra_info("sockname"))
        server = endpoint(writer.get_extra_info("peername"))
        sni = None if is_ip_address(origin.host) else origin.host
        self.emit(ConnectionOpened(connection_id=self.connection_id, at=started, client=self.client, server=server,
                                   transport="tls" if origin.tls else "tcp", protocol="unknown", sni=sni))
        if origin.tls:
            await self._tls(reader, writer, sni)
        else:
            self.channel = _Channel(reader, writer, self._count)
        if not origin.tls and options.h2c == "upgrade" and first_request is not None:
            await self._h2c_upgrade(*first_request)
        else:
            if not origin.tls:
                self.emit(ConnectionUpdated(connection_id=self.connection_id, at=time.time(), protocol="h2"))
            self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_WINDOW)
        self._flush()
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sni: str | None) -> None:
        context = ssl_context(self.options, ["h2", "http/1.1"])
        channel = _TlsChannel(reader, writer, self._count, context, self.origin.host)
        self.channel = channel
        try:
            await asyncio.wait_for(channel.handshake(), self.options.timeout)
        except ssl.SSLCertVerificationError as exc:
            self._abort("tls-failed")
            raise ProbeError(f"{self.origin}: certificate verification failed ({exc.verify_message or exc}); "
                             "pass --cacert FILE to trust the server's certificate, or --insecure") from exc
        except (TimeoutError, ssl.SSLError, OSError) as exc:
            self._abort("tls-failed")
            raise ProbeError(f"{self.origin}: TLS handshake failed: {exc or 'timed out'}") from exc
        self.emit(ConnectionUpdated(connection_id=self.connection_id, at=time.time(), tls_version=channel.version,
                                    sni=sni, alpn=channel.alpn, decrypted=True,
                                    protocol="h2" if channel.alpn == "h2" else None))
        if channel.alpn != "h2":
            self._abort("fin")
            raise ProbeError(f"{self.origin} did not negotiate HTTP/2 (ALPN chose {channel.alpn or 'nothing'}): "
                             "without HTTP/2 there is no server push to inspect")

    async def _h2c_upgrade(self, url: str, headers: Headers) -> None:
        """HTTP/1.1 ``Upgrade: h2c``; the request becomes stream 1 and its response arrives in HTTP/2."""
        settings = self.h2.initiate_upgrade_connection()
        assert settings is not None and self.channel is not None
        request_headers = self.request_headers(url, [(n, v) for n, v in headers if not n.startswith(":")])
        path = header_value(request_headers, ":path") or "/"
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.origin.authority}", "Connection: Upgrade, HTTP2-Settings",
                 "Upgrade: h2c", f"HTTP2-Settings: {settings.decode().rstrip('=')}"]
        lines += [f"{name.title()}: {value}" for name, value in request_headers if not name.startswith(":")]
        transfer = Transfer(self.connection_id, url, request_headers, 1, time.time())
        self._streams[1] = transfer
        self.requests.append(transfer)
        self._upgrade = transfer
        self._send_plain(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while b"\r\n\r\n" not in received:
            try:
                chunk = await asyncio.wait_for(self.channel.recv(), self.options.timeout)
            except (TimeoutError, OSError) as exc:
                self._abort("fin")
                raise ProbeError(f"{self.origin}: no answer to the h2c Upgrade ({exc or 'timed out'})") from exc
            if not chunk:
                self._abort("fin")
                raise ProbeError(f"{self.origin} closed the connection during the h2c Upgrade (it may not support "
                                 "Upgrade: try --h2c prior-knowledge)")
            self._decode("server", chunk, time.time())
            received += chunk
        head, rest = received.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101" not in status_line:
            self._abort("fin")
            raise ProbeError(f"{self.origin} refused the h2c Upgrade ({status_line!r}): try --h2c prior-knowledge")
        self.emit(ConnectionUpdated(connection_id=self.connection_id, at=time.time(), protocol="h2", alpn=None))
        self._flush()  # the client preface and SETTINGS, after the 101
        if rest:
            self._receive(rest, time.time())

    def upgrade_transfer(self) -> Transfer | None:
        return self._upgrade

    # -- reading -----------------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        assert self.channel is not None
        how = "fin"
        try:
            while not self.closed:
                data = await self.channel.recv()
                if not data:
                    break
                now = time.time()
                self._decode("server", data, now)
                if not self._receive(data, now):
                    break
        except ConnectionResetError:
            how = "rst-by-server"
            self.error = self.error or "the server reset the TCP connection"
        except (OSError, ssl.SSLError) as exc:
            self.error = self.error or f"connection failed: {exc}"
        finally:
            self._finish(how)

    def _receive(self, data: bytes, now: float) -> bool:
        """Hand h2 one frame at a time and act on its events before the next frame, as a browser's frame loop
        does: a push cancelled on its PUSH_PROMISE is reset even if its response came in the same read."""
        self._inbox += data
        while len(self._inbox) >= 9:
            end = 9 + int.from_bytes(self._inbox[:3], "big")
            if len(self._inbox) < end:
                break
            frame = bytes(self._inbox[:end])
            del self._inbox[:end]
            try:
                events = self.h2.receive_data(frame)
            except h2.exceptions.ProtocolError as exc:
                self.error = f"HTTP/2 protocol error from the server: {exc}"
                self._flush()  # our GOAWAY
                return False
            for event in events:
                self._handle(event, now)
        self._flush()
        return True

    def _handle(self, event: h2.events.Event, now: float) -> None:
        if isinstance(event, h2.events.PushedStreamReceived):
            self._on_promise(event, now)
        elif isinstance(event, (h2.events.ResponseReceived, h2.events.InformationalResponseReceived)):
            transfer = self._streams.get(event.stream_id)
            if transfer is not None:
                transfer.got_headers(_str_headers(event.headers), now)
        elif isinstance(event, h2.events.DataReceived):
            transfer = self._streams.get(event.stream_id)
            if transfer is not None and transfer.state != "cancelled":
                if transfer.take(event.data, self.options.limits):
                    self._stop_body(transfer, now)
            if event.flow_controlled_length:
                try:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    pass
        elif isinstance(event, h2.events.StreamEnded):
            transfer = self._streams.get(event.stream_id)
            if transfer is not None:
                transfer.end(now)
        elif isinstance(event, h2.events.StreamReset):
            transfer = self._streams.get(event.stream_id)
            if transfer is not None:
                code = int(event.error_code) if event.error_code is not None else None
                transfer.fail("server" if event.remote_reset else "client", code, now)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._going_away = True
            last = event.last_stream_id if event.last_stream_id is not None else 2**31
            for stream_id, transfer in self._streams.items():
                if stream_id % 2 == 1 and stream_id > last and not transfer.finished:
                    transfer.abandoned = True
                    transfer.done.set()
                    transfer.headers_seen.set()
            if event.error_code and not self._closing:
                self.error = self.error or f"the server sent GOAWAY {error_name(int(event.error_code))}"
            elif not self._closing:
                cut = sum(1 for sid, t in self._streams.items() if sid % 2 == 1 and sid > last and t.abandoned)
                self.emit(Diagnostic(level="info" if not cut else "warning",
                                     message=f"{self.connection_id}: the server sent GOAWAY NO_ERROR (a graceful "
                                     f"shutdown, last stream {event.last_stream_id}); {cut} requests after it were "
                                     "not processed", connection_id=self.connection_id, code="probe-goaway"))

    def _stop_body(self, transfer: Transfer, now: float) -> None:
        """A body over the limit: keep its start, cancel the stream, and let the page use what was kept."""
        limits = self.options.limits
        self.emit(Diagnostic(level="warning", message=f"{self.connection_id}: {transfer.url}: response body over "
                             f"{limits.body_bytes} bytes (--max-body-bytes) or the run over {limits.total_bytes} "
                             "(--max-total-bytes): its start is kept, the stream cancelled",
                             connection_id=self.connection_id, code="probe-limit"))
        limits.note("body")
        if transfer.stream_id is not None:
            try:
                self.h2.reset_stream(transfer.stream_id, ErrorCodes.CANCEL)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
        transfer.end(now)

    def _on_promise(self, event: h2.events.PushedStreamReceived, now: float) -> None:
        if event.pushed_stream_id is None:  # h2 always sets it on this event
            return
        headers = _str_headers(event.headers)
        scheme = header_value(headers, ":scheme") or self.origin.scheme
        authority = header_value(headers, ":authority") or self.origin.authority
        url = f"{scheme}://{authority}{header_value(headers, ':path') or '/'}"
        push = Transfer(self.connection_id, url, headers, event.pushed_stream_id, now, pushed=True,
                        parent_stream_id=event.parent_stream_id)
        self._streams[event.pushed_stream_id] = push
        self.record_promise(push)

    def _finish(self, how: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.fail_all()
        self.emit(ConnectionClosed(connection_id=self.connection_id, at=time.time(), how=how))
        if self.error and not self._closing:
            self.emit(Diagnostic(level="warning", message=f"{self.connection_id}: {self.error}",
                                 connection_id=self.connection_id, code="probe-connection-error"))
        if self.channel is not None:
            self.channel.abort()
        self._closed_event.set()

    def _abort(self, how: str) -> None:
        if self.closed:
            return
        if self.channel is not None:
            self.channel.abort()
        self.closed = True
        self.fail_all()
        self.emit(ConnectionClosed(connection_id=self.connection_id, at=time.time(), how=how))

    # -- the loader's interface --------------------------------------------------------------------------
    async def send_request(self, url: str, headers: Headers) -> Transfer:
        if self.closed or self._going_away:
            raise ProbeError(f"{self.connection_id}: the connection is {'closed' if self.closed else 'going away'}"
                             f"{': ' + self.error if self.error else ''}")
        stream_id = self.h2.get_next_available_stream_id()
        transfer = Transfer(self.connection_id, url, list(headers), stream_id, time.time())
        self._streams[stream_id] = transfer
        self.requests.append(transfer)
        self.h2.send_headers(stream_id, headers, end_stream=True)
        self._flush()
        return transfer

    def cancel_push(self, push: Transfer) -> None:
        push.state = "cancelled"
        if push.finished or self.closed or push.stream_id is None:
            return
        try:
            self.h2.reset_stream(push.stream_id, ErrorCodes.CANCEL)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        push.fail("client", int(ErrorCodes.CANCEL), time.time())
        self._flush()

    async def close(self) -> None:
        if self.closed:
            return
        self._closing = True
        try:
            self.h2.close_connection()
            self._flush()
        except h2.exceptions.ProtocolError:
            pass
        if self.channel is not None:
            self.channel.shutdown()
        try:
            await asyncio.wait_for(self._closed_event.wait(), 2.0)
        except TimeoutError:
            self._finish("fin")
        if self._reader_task is not None:
            self._reader_task.cancel()


def _str_headers(headers: Iterable[tuple[str | bytes, str | bytes]] | None) -> Headers:
    return [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
            for k, v in headers or ()]
