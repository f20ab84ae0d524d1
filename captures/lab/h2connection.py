"""One HTTP/2 connection of the lab client: the ``h2`` state machine over a socket, its streams and the pushes
promised on it.

The connection opens TLS with ALPN ``h2`` (key log via the client's ``SSLContext``), cleartext h2c with prior
knowledge, or h2c via ``Upgrade`` from HTTP/1.1; sends requests (one write for a wave, as a browser batches them),
records every PUSH_PROMISE with what the client knew when it came (a fresh copy, the same URL promised before, a
request already in flight), resets pushes on cue, and ends with GOAWAY and a TLS close_notify. What the client
makes of it all is ``h2client.py``'s job.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.connection import _decode_headers
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from h2.stream import StreamClosedBy
from hyperframe.frame import RstStreamFrame

from pushscope.vocabulary import Outcome, Reason

from . import CLIENT_NAME, CLIENT_VERSION

if TYPE_CHECKING:
    from .h2client import Client

USER_AGENT = f"{CLIENT_NAME}/{CLIENT_VERSION}"


class ClientError(RuntimeError):
    pass


@dataclass
class Stream:
    stream_id: int
    url: str
    method: str = "GET"
    is_push: bool = False
    parent_stream_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    opened_at: float = 0.0
    ended_at: float | None = None
    reset_by: str | None = None  # "client" / "server"
    reset_code: int | None = None

    @property
    def done(self) -> bool:
        return self.ended_at is not None or self.reset_by is not None

    @property
    def status(self) -> int | None:
        s = self.headers.get(":status")
        return int(s) if s and s.isdigit() else None


@dataclass
class PushRecord:
    connection_index: int
    client_port: int
    load_index: int
    parent_stream_id: int
    promised_stream_id: int
    url: str
    promised_at: float
    had_fresh_copy: bool
    pushed_twice: bool
    requested_before_promise: bool
    push_disabled: bool = False  # promised although we sent SETTINGS_ENABLE_PUSH=0
    client_action: str = "ignored"  # claimed / cancelled / ignored / requested-anyway
    outcome: Outcome | None = None
    reason: Reason | None = None
    claimed_at: float | None = None
    wait_ms: float | None = None
    stream: Stream | None = None


# --------------------------------------------------------------------------------------
# one HTTP/2 connection
# --------------------------------------------------------------------------------------
class QuietH2Connection(h2.connection.H2Connection):
    """``H2Connection`` that silently drops frames arriving on streams *we* reset (as browsers
    do, RFC 9113 5.4.2) instead of answering each one with RST_STREAM(STREAM_CLOSED).
    Flow-control WINDOW_UPDATEs for such DATA are still sent."""

    _suppress_rst_for: int | None = None
    # PUSH_PROMISEs received although we sent SETTINGS_ENABLE_PUSH=0: (parent, promised, headers)
    disabled_pushes: list[tuple[int, int, list[tuple[str, str]]]]

    def _receive_push_promise_frame(self, frame):  # type: ignore[override]
        if not self.local_settings.enable_push:
            # remember what was promised before h2 turns it into a connection error
            headers = _decode_headers(self.decoder, frame.data)
            enc = self.config.header_encoding or "utf-8"
            hdrs = [(k.decode(enc) if isinstance(k, bytes) else k, v.decode(enc) if isinstance(v, bytes) else v)
                    for k, v in headers]
            self.disabled_pushes = [*getattr(self, "disabled_pushes", []),
                                    (frame.stream_id, frame.promised_stream_id, hdrs)]
            raise h2.exceptions.ProtocolError("Received pushed stream")
        return super()._receive_push_promise_frame(frame)

    def _receive_frame(self, frame):  # type: ignore[override]
        sid = getattr(frame, "stream_id", 0)
        if sid and self._stream_closed_by(sid) == StreamClosedBy.SEND_RST_STREAM:
            self._suppress_rst_for = sid
        try:
            return super()._receive_frame(frame)
        finally:
            self._suppress_rst_for = None

    def _prepare_for_sending(self, frames):  # type: ignore[override]
        if self._suppress_rst_for is not None:
            frames = [f for f in frames
                      if not (isinstance(f, RstStreamFrame) and f.stream_id == self._suppress_rst_for)]
        super()._prepare_for_sending(frames)


class Connection:
    def __init__(self, client: Client, index: int) -> None:
        self.client = client
        self.opts = client.opts
        self.index = index
        self.sock: socket.socket | None = None
        self.client_port = 0
        self.tls_version: str | None = None
        self.alpn: str | None = None
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_inbound_headers=True)
        self.h2 = QuietH2Connection(config=cfg)
        self.h2.local_settings = h2.settings.Settings(client=True, initial_values={
            SettingCodes.ENABLE_PUSH: 1 if self.opts.enable_push else 0,
            SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
            SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
        })
        self.streams: dict[int, Stream] = {}
        self.pushes: list[PushRecord] = []
        self.push_by_stream: dict[int, PushRecord] = {}
        self.promised_urls: set[str] = set()
        self.load_index = 0
        self.closed = False
        self.goaway: dict | None = None
        self.upgrade_stream: Stream | None = None
        self.scheme = "http" if self.opts.transport != "tls" else "https"
        self.authority = f"{client.host}:{client.port}"
        self.errors: list[str] = []
        self.goaway_sent = False
        self.closed_by: str | None = None

    # -- URLs ------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.authority}{path}"

    # -- setup -----------------------------------------------------------------------------
    def connect(self, first_path: str) -> None:
        raw = socket.create_connection((self.client.host, self.client.port), timeout=self.opts.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_port = raw.getsockname()[1]
        if self.opts.transport == "tls":
            ssock = self.client.ssl_context().wrap_socket(raw, server_hostname=None)
            self.alpn = ssock.selected_alpn_protocol()
            v = ssock.version() or ""
            self.tls_version = v.replace("TLSv", "") or None
            if self.alpn != "h2":
                ssock.close()
                raise ClientError(f"server did not negotiate h2 via ALPN (got {self.alpn!r})")
            self.sock = ssock
            self.h2.initiate_connection()
            self._flush()
        elif self.opts.transport == "h2c-prior-knowledge":
            self.sock = raw
            self.h2.initiate_connection()
            self._flush()
        elif self.opts.transport == "h2c-upgrade":
            self.sock = raw
            self._upgrade(first_path)
        else:
            raise ClientError(f"unknown transport {self.opts.transport!r}")
        # open the connection-level window wide (tiny site, but be a good client)
        self.h2.increment_flow_control_window((1 << 24) - 65535)
        self._flush()

    def _upgrade(self, path: str) -> None:
        settings = self.h2.initiate_upgrade_connection()
        assert settings is not None
        token = settings.decode().rstrip("=")
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.authority}",
                 "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", f"HTTP2-Settings: {token}",
                 f"User-Agent: {USER_AGENT}", "Accept: text/html,*/*;q=0.8"]
        cookie = self.client.cookie_header()
        if cookie:
            lines.append(f"Cookie: {cookie}")
        assert self.sock is not None
        now = time.monotonic()
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ClientError("connection closed during h2c upgrade")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status_line + " ":
            raise ClientError(f"h2c upgrade refused: {status_line}")
        self.alpn = "h2c"
        url = self.url(path)
        st = Stream(stream_id=1, url=url, opened_at=now)
        self.streams[1] = st
        self.upgrade_stream = st
        self._flush()  # connection preface + SETTINGS after the 101
        if rest:
            self._receive(rest)

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.sock is not None and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError as e:
                self.errors.append(f"send failed: {e}")
                self.closed = True

    # -- I/O loop --------------------------------------------------------------------------
    def pump(self, until=None, timeout: float | None = None) -> bool:
        """Read and process frames until ``until()`` is true, the timeout passes or the
        connection closes. Returns whether ``until()`` became true."""
        deadline = time.monotonic() + (self.opts.timeout if timeout is None else timeout)
        assert self.sock is not None
        while True:
            if until is not None and until():
                return True
            if self.closed:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return bool(until and until())
            except ssl.SSLError as e:
                self.errors.append(f"tls error: {e}")
                self.closed = True
                continue
            except OSError as e:
                self.errors.append(f"recv failed: {e}")
                self.closed = True
                continue
            if not data:
                if not self.closed_by:
                    self.closed_by = "server-eof" if not self.goaway_sent else "server-eof-after-goaway"
                self.closed = True
                continue
            self._receive(data)

    def drain(self) -> None:
        """Process everything that has already arrived, without waiting for more."""
        if self.sock is None or self.closed:
            return
        self.sock.setblocking(False)
        try:
            while not self.closed:
                try:
                    data = self.sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    break
                except OSError as e:
                    self.errors.append(f"recv failed: {e}")
                    self.closed = True
                    break
                if not data:
                    self.closed_by = self.closed_by or "server-eof"
                    self.closed = True
                    break
                self._receive(data)
        finally:
            if not self.closed:
                self.sock.setblocking(True)

    def _receive(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self.errors.append(f"protocol error: {e}")
            now = time.monotonic()
            for parent, promised, hdrs in getattr(self.h2, "disabled_pushes", []):
                d = dict(hdrs)
                url = f"{d.get(':scheme', self.scheme)}://{d.get(':authority', self.authority)}{d.get(':path', '/')}"
                self.pushes.append(PushRecord(
                    connection_index=self.index, client_port=self.client_port, load_index=self.load_index,
                    parent_stream_id=parent, promised_stream_id=promised, url=url, promised_at=now,
                    had_fresh_copy=self.client.cache.fresh(url) is not None, pushed_twice=False,
                    requested_before_promise=False, push_disabled=True))
            self.h2.disabled_pushes = []
            self._flush()
            self.closed = True
            return
        for ev in events:
            self._handle(ev)
        self._flush()

    def _handle(self, ev: h2.events.Event) -> None:
        now = time.monotonic()
        if isinstance(ev, h2.events.PushedStreamReceived):
            self._on_push_promise(ev, now)
        elif isinstance(ev, h2.events.ResponseReceived | h2.events.TrailersReceived):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                for k, v in ev.headers:
                    if k == "set-cookie":
                        st.set_cookies.append(v)
                    elif k in st.headers and isinstance(ev, h2.events.ResponseReceived):
                        st.headers[k] += ", " + v
                    else:
                        st.headers[k] = v
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.body += ev.data
            if ev.flow_controlled_length:
                try:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except h2.exceptions.StreamClosedError:
                    pass
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st is not None and st.ended_at is None:
                st.ended_at = now
        elif isinstance(ev, h2.events.StreamReset):
            st = self.streams.get(ev.stream_id)
            if st is not None and st.reset_by is None and st.ended_at is None:
                st.reset_by = "server" if ev.remote_reset else "client"
                st.reset_code = int(ev.error_code) if ev.error_code is not None else None
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = {"error_code": int(ev.error_code) if ev.error_code is not None else None,
                           "last_stream_id": ev.last_stream_id,
                           "debug": (ev.additional_data or b"").decode("utf-8", "replace"),
                           "after_client_goaway": self.goaway_sent}
            if not self.closed_by:
                self.closed_by = "server-goaway" if not self.goaway_sent else "client-goaway"
            self.closed = True

    def _on_push_promise(self, ev: h2.events.PushedStreamReceived, now: float) -> None:
        hdrs = dict(ev.headers)
        scheme = hdrs.get(":scheme", self.scheme)
        authority = hdrs.get(":authority", self.authority)
        url = f"{scheme}://{authority}{hdrs.get(':path', '/')}"
        st = Stream(stream_id=ev.pushed_stream_id, url=url, method=hdrs.get(":method", "GET"),
                    is_push=True, parent_stream_id=ev.parent_stream_id, opened_at=now)
        self.streams[st.stream_id] = st
        fresh = self.client.cache.fresh(url) is not None
        rec = PushRecord(
            connection_index=self.index, client_port=self.client_port, load_index=self.load_index,
            parent_stream_id=ev.parent_stream_id, promised_stream_id=ev.pushed_stream_id, url=url,
            promised_at=now, had_fresh_copy=fresh, pushed_twice=url in self.promised_urls,
            requested_before_promise=any(s.url == url and not s.is_push and not s.done
                                         for s in self.streams.values()),
            stream=st)
        self.promised_urls.add(url)
        self.pushes.append(rec)
        self.push_by_stream[st.stream_id] = rec
        path = urlsplit(url).path
        if path in self.opts.cancel_paths or (self.opts.cancel_cached and fresh):
            rec.client_action = "cancelled"
            self.h2.reset_stream(st.stream_id, ErrorCodes.CANCEL)
            st.reset_by = "client"
            st.reset_code = int(ErrorCodes.CANCEL)

    # -- requests --------------------------------------------------------------------------
    def send_request(self, url: str, initiator: str, *, flush: bool = True) -> Stream:
        parts = urlsplit(url)
        if self.closed or self.h2.state_machine.state == h2.connection.ConnectionState.CLOSED:
            st = Stream(stream_id=-1, url=url, opened_at=time.monotonic(), reset_by="not-sent")
            self.errors.append(f"{url} not requested: connection already closed")
            return st
        sid = self.h2.get_next_available_stream_id()
        accept = {"document": "text/html,application/xhtml+xml,*/*;q=0.8", "style": "text/css,*/*;q=0.1",
                  }.get(initiator, "*/*")
        headers = [(":method", "GET"), (":scheme", parts.scheme), (":authority", parts.netloc),
                   (":path", parts.path or "/"), ("user-agent", USER_AGENT), ("accept", accept)]
        cookie = self.client.cookie_header()
        if cookie:
            headers.append(("cookie", cookie))
        stored = self.client.cache.entries.get(url) if self.opts.revalidate else None
        if stored is not None and stored.etag:
            headers.append(("if-none-match", stored.etag))
        elif stored is not None and stored.last_modified:
            headers.append(("if-modified-since", stored.last_modified))
        st = Stream(stream_id=sid, url=url, opened_at=time.monotonic())
        self.streams[sid] = st
        self.h2.send_headers(sid, headers, end_stream=True)
        if flush:
            self._flush()
        return st

    def find_unclaimed_push(self, url: str) -> PushRecord | None:
        for rec in self.pushes:
            if (rec.url == url and rec.client_action == "ignored" and rec.stream is not None
                    and rec.stream.reset_by is None):
                return rec
        return None

    # -- shutdown --------------------------------------------------------------------------
    def close(self) -> None:
        if self.sock is None:
            return
        if not self.closed:
            try:
                self.h2.close_connection()
                self.goaway_sent = True
                self._flush()
            except h2.exceptions.ProtocolError:
                pass
            # the server answers GOAWAY by closing; give it a moment
            self.pump(until=lambda: self.closed, timeout=0.2)
        try:
            if isinstance(self.sock, ssl.SSLSocket) and not self.closed:
                self.sock.settimeout(0.2)
                self.sock.unwrap()
        except (OSError, ValueError, ssl.SSLError):
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.closed = True
        if not self.closed_by:
            self.closed_by = "client-goaway" if self.goaway_sent else "client"
