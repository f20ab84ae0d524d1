"""Small hand-built captures for the analysis tests: events folded by the real CaptureBuilder.

``Lab`` owns one CaptureBuilder; ``lab.h2(...)`` / ``lab.h3(...)`` open a connection and return a helper that
emits the events a decoder would (FrameReceived before the typed event, DATA frames spread over time) so that
the analysis sees the same shapes as from a real capture. Times are seconds after ``T0``; every helper takes
the time explicitly, so a test reads as a timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pushscope.analysis import analyse
from pushscope.decode.frame_names import frame_type_of
from pushscope.events import (
    ConnectionClosed,
    ConnectionOpened,
    DataReceived,
    Endpoint,
    Event,
    FrameReceived,
    Headers,
    HeadersReceived,
    MaxPushIdReceived,
    PushCancelled,
    PushPromiseReceived,
    PushStreamOpened,
    SettingsReceived,
    Side,
    StreamReset,
)
from pushscope.model.builder import CaptureBuilder
from pushscope.model.entities import Capture, Exchange, Push

T0 = 1_700_000_000.0
AUTHORITY = "example.test"
ORIGIN = f"https://{AUTHORITY}"
# A fixed HTTP date and helpers for cache headers relative to it.
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"  # == T0
CANCEL, REFUSED_STREAM, NO_ERROR, INTERNAL_ERROR = 0x8, 0x7, 0x0, 0x2
ERROR_NAMES = {0x0: "NO_ERROR", 0x2: "INTERNAL_ERROR", 0x7: "REFUSED_STREAM", 0x8: "CANCEL",
               0x10C: "H3_REQUEST_CANCELLED"}


def http_date(offset: float) -> str:
    """An HTTP date ``offset`` seconds after T0."""
    from email.utils import formatdate

    return formatdate(T0 + offset, usegmt=True)


def html(*urls: str, extra: str = "") -> bytes:
    """A small document referencing ``urls`` as stylesheet, script and image, by extension."""
    tags = []
    for url in urls:
        if url.endswith(".css"):
            tags.append(f'<link rel="stylesheet" href="{url}">')
        elif url.endswith(".js"):
            tags.append(f'<script src="{url}"></script>')
        else:
            tags.append(f'<img src="{url}">')
    return f"<!doctype html><html><head>{''.join(tags)}</head><body>{extra}</body></html>".encode()


def request_headers(path: str, extra: Sequence[tuple[str, str]] = ()) -> Headers:
    base = [(":method", "GET"), (":scheme", "https"), (":authority", AUTHORITY), (":path", path),
            ("accept-encoding", "gzip, deflate, br"), ("user-agent", "factory/1")]
    names = {name for name, _ in extra}
    return [(k, v) for k, v in base if k not in names] + list(extra)


class Lab:
    def __init__(self) -> None:
        self.builder = CaptureBuilder(source="test", name="factory")
        self._connections = 0

    @property
    def capture(self) -> Capture:
        return self.builder.capture

    def emit(self, event: Event) -> None:
        self.builder.apply(event)

    def h2(self, at: float = 0.0, *, client: str = "127.0.0.1", cid: str | None = None,
           enable_push: bool | None = None, cache_scope: str | None = None) -> H2Conn:
        conn = H2Conn(self, cid or f"t{self._connections}", Endpoint(client, 50000 + self._connections), at,
                      cache_scope)
        self._connections += 1
        if enable_push is not None:
            conn.settings("client", at, ENABLE_PUSH=int(enable_push))
        return conn

    def h1(self, at: float = 0.0, *, client: str = "127.0.0.1", cid: str | None = None) -> H1Conn:
        conn = H1Conn(self, cid or f"t{self._connections}", Endpoint(client, 50000 + self._connections), at)
        self._connections += 1
        return conn

    def h3(self, at: float = 0.0, *, client: str = "127.0.0.1", cid: str | None = None,
           max_push_id: int | None = 8) -> H3Conn:
        conn = H3Conn(self, cid or f"q{self._connections}", Endpoint(client, 50000 + self._connections), at)
        self._connections += 1
        if max_push_id is not None:
            conn.max_push_id(at, max_push_id)
        return conn

    def analyse(self) -> Capture:
        return analyse(self.capture)

    # --- lookups ----------------------------------------------------------------------------------------

    def push(self, path: str, nth: int = 0) -> Push:
        found = [p for p in self.capture.pushes if p.url == ORIGIN + path]
        assert len(found) > nth, f"no push #{nth} for {path}: {[p.url for p in self.capture.pushes]}"
        return found[nth]

    def exchange(self, path: str, *, pushed: bool | None = None) -> Exchange:
        for exchange in self.capture.exchanges:
            if exchange.path == path and (pushed is None or exchange.pushed == pushed):
                return exchange
        raise AssertionError(f"no exchange for {path}")


class _Conn:
    transport = "tls"
    protocol = "h2"

    def __init__(self, lab: Lab, cid: str, client: Endpoint, at: float, cache_scope: str | None = None) -> None:
        self.lab, self.cid = lab, cid
        self.next_stream = 1
        lab.emit(ConnectionOpened(connection_id=cid, at=T0 + at, client=client, server=Endpoint("127.0.0.1", 443),
                                  transport=self.transport, protocol=self.protocol,  # type: ignore[arg-type]
                                  tls_version="1.3", sni=AUTHORITY, alpn=self.protocol,
                                  cache_scope=cache_scope))

    def _frame(self, at: float, sender: Side, stream: int | None, kind: str, length: int,
               flags: tuple[str, ...] = (), push_id: int | None = None) -> None:
        self.lab.emit(FrameReceived(connection_id=self.cid, at=T0 + at, sender=sender, stream_id=stream,
                                    frame_type=frame_type_of(self.protocol, kind), length=length, flags=flags,
                                    push_id=push_id))

    def settings(self, sender: Side, at: float, **values: int) -> None:
        self._frame(at, sender, None, "SETTINGS", 6 * len(values))
        self.lab.emit(SettingsReceived(connection_id=self.cid, at=T0 + at, sender=sender, settings=dict(values)))

    def request(self, path: str, at: float, headers: Sequence[tuple[str, str]] = ()) -> int:
        stream = self.next_stream
        self.next_stream += 4 if self.protocol == "h3" else 2
        block = request_headers(path, headers)
        self._frame(at, "client", stream, "HEADERS", 20, ("END_HEADERS", "END_STREAM"))
        self.lab.emit(HeadersReceived(connection_id=self.cid, at=T0 + at, sender="client", stream_id=stream,
                                      headers=block, end_stream=True, wire_length=20))
        return stream

    def respond(self, stream: int, at: float, *, status: int = 200, content_type: str | None = "text/html",
                headers: Sequence[tuple[str, str]] = (), body: bytes = b"", end: float | None = None,
                chunks: int = 1, complete: bool = True, push_id: int | None = None) -> None:
        """Response HEADERS at ``at``, then ``body`` in ``chunks`` DATA frames spread up to ``end``."""
        block: Headers = [(":status", str(status))]
        if content_type:
            block.append(("content-type", content_type))
        block += list(headers)
        no_body = not body and complete
        self._frame(at, "server", stream, "HEADERS", 30, ("END_HEADERS",) + (("END_STREAM",) if no_body else ()),
                    push_id)
        self.lab.emit(HeadersReceived(connection_id=self.cid, at=T0 + at, sender="server", stream_id=stream,
                                      headers=block, end_stream=no_body, wire_length=30, push_id=push_id))
        if no_body:
            return
        end = at if end is None else end
        size = -(-len(body) // chunks) if body else 0
        pieces = [body[i * size:(i + 1) * size] for i in range(chunks)] if body else [b""]
        for i, piece in enumerate(pieces):
            when = at + (end - at) * (i + 1) / len(pieces)
            last = complete and i == len(pieces) - 1
            self._frame(when, "server", stream, "DATA", len(piece), ("END_STREAM",) if last else (), push_id)
            self.lab.emit(DataReceived(connection_id=self.cid, at=T0 + when, sender="server", stream_id=stream,
                                       data=piece, length=len(piece), end_stream=last, push_id=push_id))

    def reset(self, stream: int, at: float, *, by: Side = "client", code: int = CANCEL,
              push_id: int | None = None) -> None:
        self._frame(at, by, stream, "RST_STREAM", 4, push_id=push_id)
        self.lab.emit(StreamReset(connection_id=self.cid, at=T0 + at, sender=by, stream_id=stream, error_code=code,
                                  error_name=ERROR_NAMES.get(code, hex(code)), push_id=push_id))

    def close(self, at: float, how: str = "fin") -> None:
        self.lab.emit(ConnectionClosed(connection_id=self.cid, at=T0 + at, how=how))


class H2Conn(_Conn):
    def __init__(self, lab: Lab, cid: str, client: Endpoint, at: float, cache_scope: str | None = None) -> None:
        super().__init__(lab, cid, client, at, cache_scope)
        self.next_promised = 2

    def promise(self, parent: int, path: str, at: float, headers: Sequence[tuple[str, str]] = ()) -> int:
        promised = self.next_promised
        self.next_promised += 2
        block = request_headers(path, headers)
        self._frame(at, "server", parent, "PUSH_PROMISE", 24, ("END_HEADERS",))
        self.lab.emit(PushPromiseReceived(connection_id=self.cid, at=T0 + at, sender="server", stream_id=parent,
                                          promised_stream_id=promised, headers=block, wire_length=20))
        return promised

    def push(self, parent: int, path: str, at: float, *, body: bytes = b"x" * 100, content_type: str = "text/css",
             end: float | None = None, headers: Sequence[tuple[str, str]] = (),
             promise_headers: Sequence[tuple[str, str]] = (), complete: bool = True) -> int:
        """PUSH_PROMISE at ``at``, then the pushed response right after it, complete by ``end``."""
        promised = self.promise(parent, path, at, promise_headers)
        self.respond(promised, at + 0.001, content_type=content_type, body=body, end=end, headers=headers,
                     complete=complete)
        return promised


class H1Conn(_Conn):
    """HTTP/1.1 as the decoder gives it: pseudo-headers, stream ids 1, 3, 5 ... (no push)."""

    protocol = "http/1.1"


class H3Conn(_Conn):
    transport = "quic"
    protocol = "h3"

    def max_push_id(self, at: float, push_id: int) -> None:
        self.lab.emit(MaxPushIdReceived(connection_id=self.cid, at=T0 + at, sender="client", push_id=push_id))

    def promise(self, parent: int, push_id: int, path: str, at: float) -> None:
        self._frame(at, "server", parent, "PUSH_PROMISE", 24, push_id=push_id)
        self.lab.emit(PushPromiseReceived(connection_id=self.cid, at=T0 + at, sender="server", stream_id=parent,
                                          promised_stream_id=None, headers=request_headers(path), wire_length=20,
                                          push_id=push_id))

    def push_stream(self, push_id: int, stream: int, at: float) -> None:
        self.lab.emit(PushStreamOpened(connection_id=self.cid, at=T0 + at, sender="server", stream_id=stream,
                                       push_id=push_id))

    def cancel_push(self, push_id: int, at: float, by: Side = "client") -> None:
        self._frame(at, by, 2 if by == "client" else 3, "CANCEL_PUSH", 1)
        self.lab.emit(PushCancelled(connection_id=self.cid, at=T0 + at, sender=by, push_id=push_id))

    def push(self, parent: int, push_id: int, path: str, at: float, *, stream: int | None = None,
             body: bytes = b"x" * 100, content_type: str = "text/css", end: float | None = None) -> None:
        self.promise(parent, push_id, path, at)
        stream = 15 + 4 * push_id if stream is None else stream
        self.push_stream(push_id, stream, at + 0.001)
        self.respond(stream, at + 0.001, content_type=content_type, body=body, end=end, push_id=push_id)


def counted_calls(monkeypatch: Any, owner: object, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (a pytest MonkeyPatch puts it back): how much work a lookup did."""
    calls = [0]
    original = getattr(owner, name)

    def counting(*args: object) -> object:
        calls[0] += 1
        return original(*args)

    monkeypatch.setattr(owner, name, counting)
    return calls
