"""A hostile cleartext HTTP/2 server on loopback for the probe's limits, built on ``h2`` in a thread of the test
process. Each path is one attack:

- ``/endless``: an HTML body that never ends (sent as fast as flow control allows);
- ``/links``: a page with 100,000 links;
- ``/loop-a`` -> ``/loop-b`` -> ``/loop-a``: a redirect loop;
- ``/goaway``: half a page, then GOAWAY NO_ERROR and the connection closed;
- ``/pushes``: 1,500 PUSH_PROMISEs before the page;
- ``/other-origin``: a push for an authority the connection is not for;
- ``/escape``: escape sequences in a header value and in a pushed path;
- ``/silent``: headers, then nothing.
"""

from __future__ import annotations

import asyncio
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions

ESC = "\x1b"
CHUNK = 16384


class HostileH2Server:
    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HostileH2Server:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        window_opened = asyncio.Event()
        endless: set[int] = set()
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        if self._respond(conn, event, writer):
                            endless.add(event.stream_id)
                            asyncio.ensure_future(self._endless(conn, event.stream_id, writer, window_opened,
                                                                endless))
                    elif isinstance(event, h2.events.WindowUpdated):
                        window_opened.set()
                    elif isinstance(event, h2.events.StreamReset):
                        endless.discard(event.stream_id)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError, asyncio.CancelledError):
            pass
        endless.clear()
        writer.close()

    async def _endless(self, conn: h2.connection.H2Connection, stream_id: int, writer: asyncio.StreamWriter,
                       window_opened: asyncio.Event, endless: set[int]) -> None:
        filler = b"<p>" + b"x" * (CHUNK - 3)
        try:
            while stream_id in endless and not writer.is_closing():
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if window <= 0:
                    window_opened.clear()
                    await asyncio.wait_for(window_opened.wait(), 5)
                    continue
                conn.send_data(stream_id, filler[:window])
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, TimeoutError,
                asyncio.CancelledError):
            pass

    def _respond(self, conn: h2.connection.H2Connection, event: h2.events.RequestReceived,
                 writer: asyncio.StreamWriter) -> bool:
        """Answer one request; True when its body is to be sent forever."""
        request = dict(event.headers)
        path, authority, sid = request[":path"], request[":authority"], event.stream_id
        html = [(":status", "200"), ("content-type", "text/html")]
        if path == "/endless":
            conn.send_headers(sid, html)
            return True
        if path == "/links":
            body = "".join(f"<img src=/i{n}.png>\n" for n in range(100_000)).encode()
            self._page(conn, sid, body, writer)
        elif path in ("/loop-a", "/loop-b"):
            target = "/loop-b" if path == "/loop-a" else "/loop-a"
            conn.send_headers(sid, [(":status", "302"), ("location", target)], end_stream=True)
        elif path == "/goaway":
            conn.send_headers(sid, html)
            conn.send_data(sid, b"<link rel=stylesheet href=/a.css><img src=/b.png>")
            conn.close_connection(0, last_stream_id=sid)
            writer.write(conn.data_to_send())
            writer.close()
        elif path == "/pushes":
            for n in range(1500):
                self._push(conn, sid, authority, f"/p{n}.css", b"a{}")
            self._page(conn, sid, b"<link rel=stylesheet href=/p0.css>", writer)
        elif path == "/other-origin":
            self._push(conn, sid, "evil.test", "/steal.css", b"a{}")
            self._page(conn, sid, b"<link rel=stylesheet href=/steal.css>", writer)
        elif path == "/escape":
            self._push(conn, sid, authority, f"/{ESC}]0;pwned{ESC}\\.css", b"a{}")
            conn.send_headers(sid, [*html, ("x-title", f"{ESC}]52;c;cHduZWQ={ESC}\\{ESC}[2J")])
            conn.send_data(sid, f"<img src='/{ESC}[31mred.png'>".encode(), end_stream=True)
        elif path == "/silent":
            conn.send_headers(sid, html)
        else:
            conn.send_headers(sid, [(":status", "404"), ("content-length", "0")], end_stream=True)
        return False

    @staticmethod
    def _page(conn: h2.connection.H2Connection, stream_id: int, body: bytes, writer: asyncio.StreamWriter) -> None:
        conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/html"),
                                      ("content-length", str(len(body)))])
        # Larger than the flow-control window: the rest goes out as the client acknowledges (see _rest).
        asyncio.ensure_future(HostileH2Server._rest(conn, stream_id, body, writer))

    @staticmethod
    async def _rest(conn: h2.connection.H2Connection, stream_id: int, rest: bytes,
                    writer: asyncio.StreamWriter) -> None:
        while rest and not writer.is_closing():
            await asyncio.sleep(0.001)
            try:
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:
                return
            if window <= 0:
                continue
            try:
                conn.send_data(stream_id, rest[:window], end_stream=len(rest) <= window)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                return
            rest = rest[window:]
            writer.write(conn.data_to_send())

    @staticmethod
    def _push(conn: h2.connection.H2Connection, parent: int, authority: str, path: str, body: bytes) -> None:
        promised = conn.get_next_available_stream_id()
        conn.push_stream(parent, promised, [(":method", "GET"), (":scheme", "http"), (":authority", authority),
                                            (":path", path)])
        conn.send_headers(promised, [(":status", "200"), ("content-type", "text/css")])
        conn.send_data(promised, body, end_stream=True)
