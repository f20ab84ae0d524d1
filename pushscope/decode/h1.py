"""Sans-IO HTTP/1.1 decoder for a passive observer: the same typed events as HTTP/2 and HTTP/3.

One :class:`H1ConnectionDecoder` per TCP connection takes each direction's bytes in order with the time they
were seen. A request becomes ``HeadersReceived`` with the pseudo-headers an HTTP/2 request would carry
(``:method``, ``:scheme``, ``:authority`` from Host or an absolute-form target, ``:path``) followed by the other
fields with lower-case names; a response carries ``:status``. Bodies (Content-Length, chunked with extensions
and trailers, or read until the server closes) become ``DataReceived`` with the chunk framing removed.

Stream ids: HTTP/1.1 has none, so the n-th request of a connection (counting from 0) gets stream id 2n + 1
(1, 3, 5 ...), like client-initiated HTTP/2 streams. Responses are matched to requests in order (keep-alive
and pipelining); a response whose request the capture did not show gets the next id of its own. Responses to
HEAD, 1xx, 204 and 304 have no body. 101 Switching Protocols (WebSocket ...) and a 2xx answer to CONNECT end
decoding: what follows is not HTTP/1.1, and an anomaly says so. (An ``Upgrade: h2c`` request is sent to the
HTTP/2 decoder instead, by the caller.)

Like the other decoders there is no endpoint state machine: what a conforming peer would not send becomes a
``ProtocolAnomaly`` and decoding carries on where it can. Header sections are capped (``MAX_HEAD``), and so
are chunk-size lines; a longer one is an anomaly, never unbounded memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from pushscope.decode.frame_names import DATA, HEADERS
from pushscope.events import DataReceived, Event, FrameReceived, Headers, HeadersReceived, ProtocolAnomaly, Side
from pushscope.http.headers import status_code

MAX_HEAD = 64 * 1024  # a request or response head (start line + fields) kept at most; the rest is skipped
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
MAX_LENGTH_DIGITS = 18  # a Content-Length of more digits (an exabyte) is treated as a bad length
HTTP1_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
                           "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
                           "PURGE", "LINK", "UNLINK", "QUERY"})
# Connection-specific fields an HTTP/2 request would not carry; Host becomes :authority.
HOP_FIELDS = frozenset({"host"})


def looks_like_request(data: bytes) -> bool:
    """The bytes start like an HTTP/1.x request line (a known method token and a space)."""
    method = data[:16].split(b" ", 1)
    return len(method) == 2 and method[0].decode("latin-1") in HTTP1_METHODS


def looks_like_response(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.")


class MessageState(Enum):
    """Where one direction's message parser stands."""

    HEAD = "head"  # reading a request or status line and its fields
    SKIP_HEAD = "skip-head"  # a head over MAX_HEAD: skipped to its end
    LENGTH = "length"  # a body of Content-Length bytes
    CHUNK_SIZE = "chunk-size"
    CHUNK_DATA = "chunk-data"
    CHUNK_END = "chunk-end"  # the CRLF after a chunk
    TRAILERS = "trailers"
    UNTIL_CLOSE = "until-close"  # a response body delimited by the connection's end
    STOPPED = "stopped"  # nothing more can be read in this direction


@dataclass(slots=True)
class _Request:
    stream_id: int
    method: str


@dataclass(slots=True)
class _Direction:
    """The message parser of one direction: where it stands in the current message."""

    sender: Side
    buffer: bytearray = field(default_factory=bytearray)
    state: MessageState = MessageState.HEAD
    remaining: int = 0
    stream_id: int | None = None
    head_prefix: bytes = b""  # the kept start of an oversized head
    messages: int = 0


class H1ConnectionDecoder:
    """Both directions of one HTTP/1.1 connection."""

    def __init__(self, connection_id: str, *, scheme: str = "http", authority: str = "") -> None:
        self.connection_id = connection_id
        self.scheme = scheme
        # Used when a request has no Host (HTTP/1.0): the SNI or the server address, as the caller knows it.
        self.default_authority = authority
        self.client = _Direction("client")
        self.server = _Direction("server")
        self._waiting: deque[_Request] = deque()  # requests whose final response has not started
        self._next_stream_id = 1
        self.stopped_because: str | None = None
        self.requests = 0
        self.responses = 0

    # -- input ---------------------------------------------------------------------------------------------

    def receive(self, sender: Side, data: bytes, at: float) -> list[Event]:
        # No holding back: a response cannot leave the server before its request arrived, so in capture order
        # the request comes first; a response with no request waiting is one whose request was not captured.
        if self.stopped_because is not None or not data:
            return []
        return self._pump(self.client if sender == "client" else self.server, bytes(data), at)

    def close(self, sender: Side, at: float) -> list[Event]:
        """``sender`` closed its side (FIN or RST): a body read until close ends here."""
        direction = self.client if sender == "client" else self.server
        if direction.state == MessageState.UNTIL_CLOSE and direction.stream_id is not None:
            direction.state = MessageState.HEAD
            return self._data(direction, b"", at, end=True)
        return []

    @property
    def unparsed_bytes(self) -> int:
        """Bytes of an unfinished head or chunk line at the end (a capture cut short)."""
        return sum(len(d.buffer) for d in (self.client, self.server) if d.state != MessageState.STOPPED)

    # -- parsing -------------------------------------------------------------------------------------------

    def _pump(self, direction: _Direction, data: bytes, at: float) -> list[Event]:
        direction.buffer += data
        events: list[Event] = []
        while direction.buffer and self.stopped_because is None and direction.state != MessageState.STOPPED:
            before = (direction.state, len(direction.buffer))
            events += self._step(direction, at)
            if (direction.state, len(direction.buffer)) == before:
                break  # needs more bytes
        return events

    def _step(self, direction: _Direction, at: float) -> list[Event]:
        state = direction.state
        if state in (MessageState.HEAD, MessageState.SKIP_HEAD):
            return self._head(direction, at)
        if state == MessageState.LENGTH:
            return self._length_body(direction, at)
        if state == MessageState.UNTIL_CLOSE:
            data = bytes(direction.buffer)
            direction.buffer.clear()
            return self._data(direction, data, at, end=False)
        if state == MessageState.CHUNK_SIZE:
            return self._chunk_size(direction, at)
        if state == MessageState.CHUNK_DATA:
            return self._chunk_data(direction, at)
        if state == MessageState.CHUNK_END:
            return self._chunk_end(direction, at)
        if state == MessageState.TRAILERS:
            return self._trailers(direction, at)
        return []

    def _head(self, direction: _Direction, at: float) -> list[Event]:
        buffer = direction.buffer
        if direction.state == MessageState.HEAD:
            while buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
                del buffer[: 2 if buffer[:1] == b"\r" else 1]  # stray CRLF between messages (RFC 9112 2.2)
            if not buffer:
                return []
            if direction.messages == 0 and not _starts_like(direction.sender, bytes(buffer[:16])):
                return self._stop_direction(direction, at, "does not start like an HTTP/1.1 "
                                            + ("request" if direction.sender == "client" else "response"))
        end, size = _head_end(buffer)
        if end < 0:
            if direction.state == MessageState.HEAD and len(buffer) > MAX_HEAD:
                direction.head_prefix = bytes(buffer[:MAX_HEAD])
                direction.state = MessageState.SKIP_HEAD
                del buffer[: len(buffer) - 3]
            elif direction.state == MessageState.SKIP_HEAD:
                del buffer[: max(0, len(buffer) - 3)]
            return []
        if direction.state == MessageState.SKIP_HEAD:
            head, anomaly = direction.head_prefix, True
            direction.head_prefix = b""
        else:
            head, anomaly = bytes(buffer[:end]), False
        del buffer[: end + size]
        direction.state = MessageState.HEAD
        wire_length = len(head) + size
        events: list[Event] = []
        if anomaly:
            events.append(self._anomaly(direction.sender, at, f"a header section longer than {MAX_HEAD} bytes: "
                                        "the fields past that were skipped"))
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        if anomaly:
            lines = lines[:-1]  # the last kept line was cut
        if direction.sender == "client":
            return events + self._request_head(direction, lines, wire_length, at)
        return events + self._response_head(direction, lines, wire_length, at)

    def _request_head(self, direction: _Direction, lines: list[str], wire_length: int, at: float) -> list[Event]:
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] not in HTTP1_METHODS or not parts[2].startswith("HTTP/"):
            return self._stop_direction(direction, at, f"malformed request line {lines[0][:80]!r}")
        method, target, _version = parts
        fields = _fields(lines[1:])
        stream_id = self._next_stream_id
        self._next_stream_id += 2
        direction.messages += 1
        self.requests += 1
        self._waiting.append(_Request(stream_id, method))
        authority, path = _target(target, _value(fields, "host") or self.default_authority)
        scheme = self.scheme if not target.startswith(("http://", "https://")) else target.split(":", 1)[0]
        headers: Headers = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
        headers += [(name, value) for name, value in fields if name not in HOP_FIELDS]
        body = _body_framing(fields, request=True)
        direction.stream_id = stream_id
        events = self._head_events("client", stream_id, headers, body == "none", wire_length, at)
        return events + self._start_body(direction, body, at)

    def _response_head(self, direction: _Direction, lines: list[str], wire_length: int, at: float) -> list[Event]:
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or status_code(parts[1]) is None:
            return self._stop_direction(direction, at, f"malformed status line {lines[0][:80]!r}")
        status = int(parts[1])
        fields = _fields(lines[1:])
        events: list[Event] = []
        request = self._waiting[0] if self._waiting else None
        if request is None:
            request = _Request(self._next_stream_id, "")
            self._next_stream_id += 2
            events.append(self._anomaly("server", at, f"a {status} response whose request is not in the capture",
                                        request.stream_id))
            if status >= 200:
                self._waiting.appendleft(request)
        headers: Headers = [(":status", parts[1]), *fields]
        if 100 <= status < 200 and status != 101:
            return events + self._head_events("server", request.stream_id, headers, False, wire_length, at)
        if self._waiting and self._waiting[0] is request:
            self._waiting.popleft()
        direction.messages += 1
        self.responses += 1
        direction.stream_id = request.stream_id
        if status == 101 or (request.method == "CONNECT" and 200 <= status < 300):
            events += self._head_events("server", request.stream_id, headers, True, wire_length, at)
            what = _value(fields, "upgrade") or "a tunnel" if status == 101 else "a CONNECT tunnel"
            self.stopped_because = f"switched to {what}"
            events.append(self._anomaly("server", at, f"the connection switched to {what}: what follows is not "
                                        "HTTP/1.1 and is not decoded", request.stream_id))
            return events
        no_body = request.method == "HEAD" or status in (204, 304)
        body = "none" if no_body else _body_framing(fields, request=False)
        events += self._head_events("server", request.stream_id, headers, body == "none", wire_length, at)
        return events + self._start_body(direction, body, at)

    def _start_body(self, direction: _Direction, body: str, at: float) -> list[Event]:
        if body == "none":
            return []
        if body == "chunked":
            direction.state = MessageState.CHUNK_SIZE
        elif body == "until-close":
            direction.state = MessageState.UNTIL_CLOSE
        elif body.startswith("bad-length"):
            direction.state = MessageState.UNTIL_CLOSE if direction.sender == "server" else MessageState.STOPPED
            return [self._anomaly(direction.sender, at, f"unreadable Content-Length {body[11:]!r}",
                                  direction.stream_id)]
        else:
            direction.state, direction.remaining = MessageState.LENGTH, int(body)
            if direction.remaining == 0:
                direction.state = MessageState.HEAD
                return self._data(direction, b"", at, end=True)
        return []

    def _length_body(self, direction: _Direction, at: float) -> list[Event]:
        take = bytes(direction.buffer[: direction.remaining])
        del direction.buffer[: len(take)]
        direction.remaining -= len(take)
        end = direction.remaining == 0
        if end:
            direction.state = MessageState.HEAD
        return self._data(direction, take, at, end=end)

    def _chunk_size(self, direction: _Direction, at: float) -> list[Event]:
        line_end = direction.buffer.find(b"\n")
        if line_end < 0:
            if len(direction.buffer) > MAX_CHUNK_LINE:
                return self._stop_direction(direction, at, "a chunk-size line too long")
            return []
        line = bytes(direction.buffer[:line_end]).rstrip(b"\r")
        del direction.buffer[: line_end + 1]
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
        try:
            size = int(size_text, 16)
            if size < 0 or not size_text.isalnum():  # "-5", "1_0": int() takes them, RFC 9112 does not
                raise ValueError(size_text)
        except ValueError:
            return self._stop_direction(direction, at, f"a chunk size that is not hexadecimal {size_text[:20]!r}")
        if size == 0:
            direction.state = MessageState.TRAILERS
            return []
        direction.state, direction.remaining = MessageState.CHUNK_DATA, size
        return []

    def _chunk_data(self, direction: _Direction, at: float) -> list[Event]:
        take = bytes(direction.buffer[: direction.remaining])
        del direction.buffer[: len(take)]
        direction.remaining -= len(take)
        if direction.remaining == 0:
            direction.state = MessageState.CHUNK_END
        return self._data(direction, take, at, end=False)

    def _chunk_end(self, direction: _Direction, at: float) -> list[Event]:
        buffer = direction.buffer
        if buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
            direction.state = MessageState.CHUNK_SIZE
            return []
        if buffer == b"\r":
            return []
        direction.state = MessageState.CHUNK_SIZE  # be lenient: a missing CRLF after the data
        return [self._anomaly(direction.sender, at, "chunk data not followed by CRLF", direction.stream_id)]

    def _trailers(self, direction: _Direction, at: float) -> list[Event]:
        buffer = direction.buffer
        if buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
            direction.state = MessageState.HEAD
            return self._data(direction, b"", at, end=True)
        end, size = _head_end(buffer)
        if end < 0:
            if len(buffer) > MAX_HEAD:
                return self._stop_direction(direction, at, f"a trailer section longer than {MAX_HEAD} bytes")
            return []
        lines = bytes(buffer[:end]).decode("latin-1").replace("\r\n", "\n").split("\n")
        del buffer[: end + size]
        direction.state = MessageState.HEAD
        assert direction.stream_id is not None
        return self._head_events(direction.sender, direction.stream_id, _fields(lines), True, end + size, at)

    # -- helpers -------------------------------------------------------------------------------------------

    def _data(self, direction: _Direction, data: bytes, at: float, *, end: bool) -> list[Event]:
        """Body bytes, with a DATA record for the stream's timeline (the analysis times references by it)."""
        assert direction.stream_id is not None
        sid, flags = direction.stream_id, ("END_STREAM",) if end else ()
        return [FrameReceived(connection_id=self.connection_id, at=at, sender=direction.sender, stream_id=sid,
                              frame_type=DATA, length=len(data), flags=flags),
                DataReceived(connection_id=self.connection_id, at=at, sender=direction.sender, stream_id=sid, data=data,
                             length=len(data), end_stream=end)]

    def _head_events(self, sender: Side, stream_id: int, headers: Headers, end: bool, wire_length: int,
                     at: float) -> list[Event]:
        """A message head (or trailer section), with a HEADERS record for the stream's timeline."""
        flags = ("END_STREAM",) if end else ()
        return [FrameReceived(connection_id=self.connection_id, at=at, sender=sender, stream_id=stream_id,
                              frame_type=HEADERS, length=wire_length, flags=flags),
                HeadersReceived(connection_id=self.connection_id, at=at, sender=sender, stream_id=stream_id,
                                headers=headers, end_stream=end, wire_length=wire_length)]

    def _stop_direction(self, direction: _Direction, at: float, why: str) -> list[Event]:
        direction.state = MessageState.STOPPED
        direction.buffer.clear()
        who = "client" if direction.sender == "client" else "server"
        return [self._anomaly(direction.sender, at, f"HTTP/1.1: the {who} sent {why}; the rest of its bytes are "
                              "not decoded", direction.stream_id)]

    def _anomaly(self, sender: Side, at: float, message: str, stream_id: int | None = None) -> ProtocolAnomaly:
        return ProtocolAnomaly(connection_id=self.connection_id, at=at, sender=sender, message=message,
                               stream_id=stream_id)


def _starts_like(sender: Side, start: bytes) -> bool:
    if sender == "client":
        return looks_like_request(start) or (len(start) < 16 and b" " not in start and start.isupper())
    return looks_like_response(start) or b"HTTP/1.".startswith(start[:7])


def _head_end(buffer: bytearray) -> tuple[int, int]:
    """Where the head ends (the blank line) and the size of the terminator; -1 when not yet."""
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, 2
    return (crlf, 4) if crlf >= 0 else (-1, 0)


def _fields(lines: list[str]) -> Headers:
    """Field lines as (lower-case name, value); obsolete line folding is joined to the previous value."""
    fields: Headers = []
    for line in lines:
        if not line:
            continue
        if line[0] in " \t" and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep and name and name == name.strip():
            fields.append((name.lower(), value.strip()))
    return fields


def _value(fields: Headers, name: str) -> str:
    for key, value in fields:
        if key == name:
            return value
    return ""


def _target(target: str, host: str) -> tuple[str, str]:
    """(authority, path) of a request target: origin-form uses Host; absolute-form carries its own."""
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        authority, slash, path = rest.partition("/")
        return authority, slash + path or "/"
    return host, target


def _body_framing(fields: Headers, *, request: bool) -> str:
    """RFC 9112 6.3: "chunked", a length, "until-close" (responses only), "none", or "bad-length: ..."."""
    codings = [c.strip().lower() for name, value in fields if name == "transfer-encoding" for c in value.split(",")]
    if codings:
        if codings[-1] == "chunked":
            return "chunked"
        return "none" if request else "until-close"
    lengths = {value.strip() for name, value in fields if name == "content-length"}
    if lengths:
        values = {part.strip() for value in lengths for part in value.split(",")}
        value = next(iter(values))
        # ASCII digits only ("²".isdigit() is True), and never a hostile 5,000-digit number handed to int().
        if len(values) == 1 and value.isascii() and value.isdigit() and len(value) <= MAX_LENGTH_DIGITS:
            return str(int(value))
        return f"bad-length: {','.join(sorted(values))[:40]}"
    return "none" if request else "until-close"
