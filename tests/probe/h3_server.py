"""A minimal aioquic HTTP/3 server that pushes, for the probe tests. Run as a script; prints "ready" when up.

On ``/index.html`` it sends a PUSH_PROMISE (``H3Connection.send_push_promise``) for /style.css, /app.js and
/unused.js, then (after ``--push-delay`` seconds) the pushed responses, then the page. A push the client
cancelled (CANCEL_PUSH on its control stream, which aioquic itself ignores) gets its stream reset with
H3_REQUEST_CANCELLED instead of a response, as RFC 9114 §4.6 asks.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, parse_max_push_id
from aioquic.h3.events import HeadersReceived
from aioquic.h3.exceptions import NoAvailablePushIDError
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent, StopSendingReceived

PUSHED = ("/style.css", "/app.js", "/unused.js")
MIME = {".html": "text/html", ".css": "text/css", ".js": "application/javascript", ".png": "image/png",
        ".woff2": "font/woff2"}


class _H3(H3Connection):
    def __init__(self, quic, on_cancel) -> None:  # type: ignore[no-untyped-def]
        self._on_cancel = on_cancel
        super().__init__(quic)

    def _handle_control_frame(self, frame_type: int, frame_data: bytes) -> None:
        if frame_type == FrameType.CANCEL_PUSH:
            self._on_cancel(parse_max_push_id(frame_data))
        super()._handle_control_frame(frame_type, frame_data)


class PushServer(QuicConnectionProtocol):
    docroot: Path
    push_delay: float

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._h3: _H3 | None = None
        self._cancelled: set[int] = set()
        self._stopped: set[int] = set()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = _H3(self._quic, self._cancelled.add)
        if isinstance(event, StopSendingReceived):
            self._stopped.add(event.stream_id)
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived) and h3_event.push_id is None and h3_event.stream_ended:
                self._serve(h3_event.stream_id, dict(h3_event.headers))
        self.transmit()

    def _serve(self, stream_id: int, request: dict[bytes, bytes]) -> None:
        assert self._h3 is not None
        path = request.get(b":path", b"/").decode().split("?", 1)[0]
        pushes: list[tuple[int, int, str]] = []
        if path == "/index.html":
            authority = request.get(b":authority", b"127.0.0.1")
            for pushed in PUSHED:
                try:
                    push_stream = self._h3.send_push_promise(stream_id, [
                        (b":method", b"GET"), (b":scheme", b"https"), (b":authority", authority),
                        (b":path", pushed.encode())])
                except NoAvailablePushIDError:
                    break
                pushes.append((self._h3._next_push_id - 1, push_stream, pushed))
        if pushes and self.push_delay > 0:
            asyncio.get_running_loop().call_later(self.push_delay, self._send_pushes, pushes)
        else:
            self._send_pushes(pushes)
        self._respond(stream_id, path)
        self.transmit()

    def _send_pushes(self, pushes: list[tuple[int, int, str]]) -> None:
        for push_id, push_stream, path in pushes:
            if push_id in self._cancelled:
                self._quic.reset_stream(push_stream, ErrorCode.H3_REQUEST_CANCELLED)
            elif push_stream not in self._stopped:
                self._respond(push_stream, path)
        self.transmit()

    def _respond(self, stream_id: int, path: str) -> None:
        assert self._h3 is not None
        file = self.docroot / path.lstrip("/")
        if path.endswith("/") or not file.is_file():
            status, body, headers = 404, b"not found\n", [(b"content-type", b"text/plain")]
        else:
            suffix = file.suffix
            cache = b"no-cache" if suffix == ".html" else b"max-age=3600"
            status, body = 200, file.read_bytes()
            headers = [(b"content-type", MIME.get(suffix, "application/octet-stream").encode()),
                       (b"cache-control", cache)]
        self._h3.send_headers(stream_id, [(b":status", str(status).encode()), *headers,
                                          (b"content-length", str(len(body)).encode()), (b"server", b"aioquic")])
        self._h3.send_data(stream_id, body, end_stream=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--docroot", required=True)
    parser.add_argument("--push-delay", type=float, default=0.0)
    args = parser.parse_args()
    configuration = QuicConfiguration(alpn_protocols=H3_ALPN, is_client=False)
    configuration.load_cert_chain(args.cert, args.key)
    protocol = type("Server", (PushServer,), {"docroot": Path(args.docroot), "push_delay": args.push_delay})
    server = await serve(args.host, args.port, configuration=configuration, create_protocol=protocol)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
