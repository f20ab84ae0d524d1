"""An aioquic HTTP/3 server that serves the demo site and pushes on the page request.

For ``/`` and ``/index.html`` it sends a PUSH_PROMISE (``H3Connection.send_push_promise``) for each of the
configured paths, then the pushed responses and the page. With ``push_delay`` the pushed responses follow a
little later, so a client's CANCEL_PUSH or STOP_SENDING can still stop them, as RFC 9114 §4.6 intends: a
cancelled push's stream is reset with H3_REQUEST_CANCELLED instead of carrying the response (aioquic itself
discards CANCEL_PUSH unread, so this server reads the client's control stream alongside it).

Run as a script (``python -m h3lab.server --port N --cert C --key K`` from ``captures/``) it serves the lab site
until SIGTERM/SIGINT and prints "ready" once listening: the probe tests start it that way.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

import aioquic
from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.asyncio.server import QuicServer
from aioquic.buffer import Buffer, BufferReadError, encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.h3.events import HeadersReceived
from aioquic.h3.exceptions import NoAvailablePushIDError
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent, StopSendingReceived, StreamDataReceived
from lab import site as lab_site_files  # the HTTP/2 lab's demo site: both protocols serve the same bytes

SERVER_VERSION = aioquic.__version__
PREFERRED_PORT = 4433  # aioquic's examples' port, used when free so the captures look alike


@dataclass(frozen=True)
class ServerOptions:
    push_paths: tuple[str, ...] = ("/style.css", "/app.js", "/unused.js")
    push_delay: float = 0.0  # seconds between the promises and the pushed responses
    # The server withdraws these pushes right after promising them: CANCEL_PUSH on its control stream and a
    # reset of the push stream aioquic had already opened (RFC 9114 §4.6, §7.2.3).
    cancel_paths: tuple[str, ...] = ()
    # These pushes are promised for another authority (one the lab certificate does not name).
    foreign_paths: tuple[str, ...] = ()
    foreign_authority: str = "other.test"


@dataclass
class ServerPush:
    """What the server did with one push (kept for the truth file's server view)."""

    push_id: int
    stream_id: int
    path: str
    cancelled_by_client: bool = False
    stopped_by_client: bool = False
    cancelled_by_server: bool = False
    sent: bool = False
    reset: bool = False


@dataclass
class Site:
    """The files to serve and their headers."""

    files: dict[str, bytes]
    mime_types: dict[str, str]
    html_cache_control: str
    static_cache_control: str

    def response(self, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        body = self.files.get(path.lstrip("/"))
        if body is None:
            return 404, [(b"content-type", b"text/plain")], b"not found\n"
        suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
        cache = self.html_cache_control if suffix == ".html" else self.static_cache_control
        headers = [
            (b"content-type", self.mime_types.get(suffix, "application/octet-stream").encode()),
            (b"cache-control", cache.encode()),
        ]
        return 200, headers, body


def lab_site() -> Site:
    """The lab's demo site (``captures/lab/site.py``) with its cache headers."""
    return Site(dict(lab_site_files.FILES), dict(lab_site_files.MIME_TYPES), lab_site_files.HTML_CACHE_CONTROL,
                lab_site_files.STATIC_CACHE_CONTROL)


class ControlStreamSniffer:
    """Reads the peer's control stream alongside aioquic, which discards CANCEL_PUSH frames unread.

    ``peer_uni`` is stream_id % 4 of the peer's unidirectional streams: 2 for a client, 3 for a server.
    """

    def __init__(self, on_cancel_push: Callable[[int], None], peer_uni: int = 2) -> None:
        self._on_cancel_push = on_cancel_push
        self._peer_uni = peer_uni
        self._buffers: dict[int, bytes] = {}
        self._typed: dict[int, bool] = {}

    def feed(self, stream_id: int, data: bytes) -> None:
        if stream_id % 4 != self._peer_uni or self._typed.get(stream_id) is False:
            return  # only the peer's unidirectional streams can be its control stream
        buffer = self._buffers.get(stream_id, b"") + data
        while True:
            buf = Buffer(data=buffer)
            try:
                if stream_id not in self._typed:
                    self._typed[stream_id] = buf.pull_uint_var() == 0
                    buffer = buffer[buf.tell():]
                    if not self._typed[stream_id]:
                        return
                    continue
                frame_type, length = buf.pull_uint_var(), buf.pull_uint_var()
                payload = buf.pull_bytes(length)
            except BufferReadError:
                break
            buffer = buffer[buf.tell():]
            if frame_type == FrameType.CANCEL_PUSH:
                self._on_cancel_push(Buffer(data=payload).pull_uint_var())
        self._buffers[stream_id] = buffer


class PushServerProtocol(QuicConnectionProtocol):
    """One QUIC connection of the lab server."""

    site: Site
    options: ServerOptions
    log: list[ServerPush]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._h3: H3Connection | None = None
        self._pushes: dict[int, ServerPush] = {}
        self._stopped: set[int] = set()
        self._sniffer = ControlStreamSniffer(self._cancel_push)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
        if isinstance(event, StreamDataReceived):
            self._sniffer.feed(event.stream_id, event.data)
        if isinstance(event, StopSendingReceived):
            self._stopped.add(event.stream_id)
            for push in self._pushes.values():
                if push.stream_id == event.stream_id:
                    push.stopped_by_client = True
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived) and h3_event.push_id is None and h3_event.stream_ended:
                self._serve(h3_event.stream_id, dict(h3_event.headers))
        self.transmit()

    def _cancel_push(self, push_id: int) -> None:
        push = self._pushes.get(push_id)
        if push is not None:
            push.cancelled_by_client = True

    def _serve(self, stream_id: int, request: dict[bytes, bytes]) -> None:
        assert self._h3 is not None
        path = request.get(b":path", b"/").decode().split("?", 1)[0]
        if path == "/":
            path = "/index.html"
        pushed: list[ServerPush] = []
        if path == "/index.html":
            authority = request.get(b":authority", b"127.0.0.1")
            for push_path in self.options.push_paths:
                try:
                    foreign = push_path in self.options.foreign_paths
                    push_stream = self._h3.send_push_promise(stream_id, [
                        (b":method", b"GET"), (b":scheme", b"https"),
                        (b":authority", self.options.foreign_authority.encode() if foreign else authority),
                        (b":path", push_path.encode()),
                    ])
                except NoAvailablePushIDError:
                    break  # the client's MAX_PUSH_ID is used up
                push = ServerPush(self._h3._next_push_id - 1, push_stream, push_path)
                self._pushes[push.push_id] = push
                self.log.append(push)
                pushed.append(push)
                if push_path in self.options.cancel_paths:
                    self._withdraw(push)
        if pushed and self.options.push_delay > 0:
            loop = asyncio.get_running_loop()
            loop.call_later(self.options.push_delay, self._send_pushes, pushed)
        else:
            self._send_pushes(pushed)
        self._respond(stream_id, path)
        self.transmit()

    def _withdraw(self, push: ServerPush) -> None:
        """CANCEL_PUSH from the server (aioquic has no API for it: write the frame ourselves), then the reset."""
        assert self._h3 is not None
        control = self._h3._local_control_stream_id
        assert control is not None
        self._quic.send_stream_data(control, encode_frame(FrameType.CANCEL_PUSH, encode_uint_var(push.push_id)))
        self._quic.reset_stream(push.stream_id, ErrorCode.H3_REQUEST_CANCELLED)
        push.cancelled_by_server = push.reset = True

    def _send_pushes(self, pushes: list[ServerPush]) -> None:
        for push in pushes:
            if push.cancelled_by_server:
                continue
            if push.cancelled_by_client:
                # RFC 9114 §7.2.3: a server that has opened the push stream resets it.
                self._quic.reset_stream(push.stream_id, ErrorCode.H3_REQUEST_CANCELLED)
                push.reset = True
            elif push.stream_id in self._stopped:
                push.reset = True  # aioquic already answered STOP_SENDING with RESET_STREAM
            else:
                self._respond(push.stream_id, push.path)
                push.sent = True
        self.transmit()

    def _respond(self, stream_id: int, path: str) -> None:
        assert self._h3 is not None
        status, headers, body = self.site.response(path)
        self._h3.send_headers(stream_id, [
            (b":status", str(status).encode()), *headers,
            (b"content-length", str(len(body)).encode()), (b"server", f"aioquic/{SERVER_VERSION}".encode()),
        ])
        self._h3.send_data(stream_id, body, end_stream=True)


@dataclass
class LabServer:
    """The running server: ``await start()``, ``close()``; ``log`` lists every push it made."""

    host: str
    port: int
    certificate: str
    private_key: str
    site: Site
    options: ServerOptions = field(default_factory=ServerOptions)
    log: list[ServerPush] = field(default_factory=list)
    _server: QuicServer | None = None

    async def start(self) -> None:
        configuration = QuicConfiguration(alpn_protocols=H3_ALPN, is_client=False, max_datagram_frame_size=None)
        configuration.load_cert_chain(self.certificate, self.private_key)
        protocol = type("LabServerProtocol", (PushServerProtocol,),
                        {"site": self.site, "options": self.options, "log": self.log})
        self._server = await serve(self.host, self.port, configuration=configuration, create_protocol=protocol)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


async def _serve_until_stopped(server: LabServer) -> None:
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the lab site over HTTP/3 with pushes until stopped.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--push-delay", type=float, default=0.0, help="seconds between promises and responses")
    args = parser.parse_args(argv)
    server = LabServer(args.host, args.port, args.cert, args.key, lab_site(),
                       ServerOptions(push_delay=args.push_delay))
    asyncio.run(_serve_until_stopped(server))


if __name__ == "__main__":
    main()
