"""A tiny cleartext HTTP/2 push server built on ``h2``, in a thread of the test process (no binaries needed).

It serves the capture lab's demo site (``captures/lab/site.py``, put on ``sys.path`` by ``conftest.py``) from
memory and, for /index.html, promises /style.css, /app.js and /unused.js before the document, like
``http2_push``. Used by the tests that must run everywhere (no nginx, no dumpcap).
"""

from __future__ import annotations

import asyncio
import threading

import h2.config
import h2.connection
import h2.events
from lab.site import FILES, HTML_CACHE_CONTROL, MIME_TYPES, PUSHED_PATHS, STATIC_CACHE_CONTROL


class InProcessH2Server:
    def __init__(self, pushed: tuple[str, ...] = PUSHED_PATHS) -> None:
        self.pushed = pushed
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/index.html"

    def __enter__(self) -> InProcessH2Server:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        self._server.close()
        loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self._respond(conn, event)
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError):
            pass
        writer.close()

    def _respond(self, conn: h2.connection.H2Connection, event: h2.events.RequestReceived) -> None:
        request = dict(event.headers)
        path = request[":path"]
        if path == "/index.html" and conn.remote_settings.enable_push:
            for pushed in self.pushed:
                promised = conn.get_next_available_stream_id()
                headers = [(":method", "GET"), (":scheme", "http"), (":authority", request[":authority"]),
                           (":path", pushed), ("accept-encoding", request.get("accept-encoding", ""))]
                conn.push_stream(event.stream_id, promised, headers)
                self._send(conn, promised, pushed)
        self._send(conn, event.stream_id, path)

    def _send(self, conn: h2.connection.H2Connection, stream_id: int, path: str) -> None:
        body = FILES.get(path.lstrip("/"))
        if body is None:
            conn.send_headers(stream_id, [(":status", "404"), ("content-length", "0")], end_stream=True)
            return
        suffix = "." + path.rsplit(".", 1)[-1]
        cache = HTML_CACHE_CONTROL if suffix == ".html" else STATIC_CACHE_CONTROL
        conn.send_headers(stream_id, [(":status", "200"), ("content-type", MIME_TYPES[suffix]),
                                      ("cache-control", cache), ("content-length", str(len(body))),
                                      ("set-cookie", "session=s3cr3t; Path=/")])
        conn.send_data(stream_id, body, end_stream=True)
