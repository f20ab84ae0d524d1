"""A small push-accepting HTTP/2 client (``h2`` over ``ssl`` or plain TCP) that loads pages
like a browser and records the ground truth of what happened to every push.

Transports: TLS with ALPN ``h2`` (the NSS key log is written via
``SSLContext.keylog_filename``), cleartext h2c with prior knowledge, and h2c via
``Upgrade`` from HTTP/1.1.

Page load: GET the document, parse it for ``<link href>``, ``<script src>`` and
``<img src>``, fetch those, parse fetched CSS for ``url()``/``@import`` and fetch those too.
For every URL it needs, in this order:

1. a fresh copy in its HTTP cache (kept across loads and connections) -> use it, no request;
2. an unclaimed push promised on this connection -> claim it (wait for it if unfinished);
3. otherwise send a request.

Pushes live in a per-connection push cache; only claimed pushes enter the HTTP cache
(like browsers did). Every PUSH_PROMISE is judged from what the client itself did and knew
(``finalize_push`` states the facts, ``truth.judge`` decides).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

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
from .pages import HttpCache, css_references, html_references
from .truth import PushFacts, judge

USER_AGENT = f"{CLIENT_NAME}/{CLIENT_VERSION}"
TRANSPORTS = ("tls", "h2c-prior-knowledge", "h2c-upgrade")


class ClientError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------
# options and records
# --------------------------------------------------------------------------------------
@dataclass
class ClientOptions:
    transport: str = "tls"
    tls_version: str | None = None  # "1.2" / "1.3" pins the version; None lets OpenSSL pick
    enable_push: bool = True  # SETTINGS_ENABLE_PUSH
    # page loads per connection: (("/index.html",), ("/index.html",)) = two connections, one
    # load each; (("/index.html", "/index.html"),) = two loads on one connection
    connections: tuple[tuple[str, ...], ...] = (("/index.html",),)
    cancel_paths: tuple[str, ...] = ()  # RST_STREAM(CANCEL) pushes for these paths
    cancel_cached: bool = False  # RST_STREAM(CANCEL) pushes for URLs fresh in the HTTP cache
    rerequest_paths: tuple[str, ...] = ()  # request these itself even when a push was promised
    # requested with each page's document, in the same write (like a browser's preload scanner)
    prefetch_paths: tuple[str, ...] = ()
    # revalidate stale cached copies (If-None-Match / If-Modified-Since) instead of fetching them again
    revalidate: bool = False
    keep_cookies: bool = True
    idle_wait: float = 0.3  # idle time after the last load before GOAWAY (late pushes)
    pause_between_loads: float = 0.1
    timeout: float = 10.0
    # Seconds of quiet between the handshake (and the HTTP/2 preface and SETTINGS) and the first page; the
    # capture's cut point (``cut_at``) is in its middle, so a capture cut there starts mid-connection.
    settle: float = 0.0


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


# --------------------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------------------
class Client:
    def __init__(self, host: str, port: int, opts: ClientOptions, keylog: Path | None = None) -> None:
        if opts.transport not in TRANSPORTS:
            raise ClientError(f"transport must be one of {TRANSPORTS}")
        self.host, self.port, self.opts, self.keylog = host, port, opts, keylog
        self.cache = HttpCache()
        self.cookies: dict[str, str] = {}
        self.connections: list[Connection] = []
        self.requests: list[dict] = []
        self.cache_hits: list[dict] = []
        self.t0 = time.monotonic()
        self.started_wall = time.time()
        self._ctx: ssl.SSLContext | None = None
        self.load_counter = 0

    # -- helpers ---------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the lab uses a throw-away self-signed cert
            ctx.set_alpn_protocols(["h2"])
            if self.opts.tls_version == "1.2":
                ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            elif self.opts.tls_version == "1.3":
                ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            if self.keylog is not None:
                ctx.keylog_filename = str(self.keylog)
            self._ctx = ctx
        return self._ctx

    def ms(self, t: float | None) -> float | None:
        return None if t is None else round((t - self.t0) * 1000, 3)

    def cookie_header(self) -> str:
        if not self.opts.keep_cookies or not self.cookies:
            return ""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _take_cookies(self, st: Stream) -> None:
        for sc in st.set_cookies:
            pair = sc.split(";", 1)[0]
            if "=" in pair:
                k, v = pair.split("=", 1)
                self.cookies[k.strip()] = v.strip()

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        for ci, loads in enumerate(self.opts.connections):
            conn = Connection(self, ci)
            self.connections.append(conn)
            conn.connect(loads[0])
            if self.opts.settle:
                conn.pump(timeout=self.opts.settle / 2)
                self.cut_at = getattr(self, "cut_at", None) or time.time()
                conn.pump(timeout=self.opts.settle / 2)
            try:
                for li, path in enumerate(loads):
                    if li:
                        conn.pump(timeout=self.opts.pause_between_loads)
                    self.load_page(conn, path)
                conn.pump(timeout=self.opts.idle_wait)  # late pushes / trailing frames
            finally:
                conn.close()
                for rec in conn.pushes:
                    finalize_push(rec)
            if ci + 1 < len(self.opts.connections):
                time.sleep(self.opts.pause_between_loads)

    def load_page(self, conn: Connection, path: str) -> None:
        load_index = self.load_counter
        self.load_counter += 1
        conn.load_index = load_index
        doc_url = conn.url(path)
        seen: set[str] = {doc_url}
        prefetch = [(conn.url(p), "prefetch", doc_url) for p in self.opts.prefetch_paths]
        results = self.fetch_all(conn, [(doc_url, "document", None), *prefetch], load_index)
        results = results[:1]  # the prefetched resources are in the cache now; the page's references say if needed
        wave: list[tuple[str, str, str | None]] = []
        for url, body, ctype in results:
            if "html" in ctype or url.endswith((".html", "/")):
                for href in html_references(body):
                    u = urljoin(url, href)
                    if u not in seen:
                        seen.add(u)
                        wave.append((u, "html", url))
        while wave and not conn.closed:
            results = self.fetch_all(conn, wave, load_index)
            wave = []
            for url, body, ctype in results:
                if "css" in ctype or url.endswith(".css"):
                    for href in css_references(body):
                        u = urljoin(url, href)
                        if u not in seen:
                            seen.add(u)
                            wave.append((u, "css", url))

    def fetch_all(self, conn: Connection, needs: list[tuple[str, str, str | None]], load_index: int):
        """Get every URL of ``needs`` ((url, initiator, referrer)) from the cache, a push or a
        request, in parallel; returns (url, body, content-type) tuples.

        Before deciding, everything that has already arrived on the socket is processed, so a
        push counts as "there" when its bytes had reached us by the time we needed it; a claimed
        push we then still wait for more than truth.LATE_THRESHOLD_MS for is claimed-late.
        """
        conn.drain()
        out: list[tuple[str, bytes, str]] = []
        waiting: list[tuple[str, str, str | None, Stream, PushRecord | None, float]] = []
        for url, initiator, referrer in needs:
            now = time.monotonic()
            hit = self.cache.fresh(url)
            if hit is not None:
                self.cache_hits.append({"connection_index": conn.index, "load_index": load_index,
                                        "url": url, "initiator": initiator, "referrer": referrer,
                                        "at_ms": self.ms(now), "cached_from": hit.source})
                out.append((url, hit.body, hit.content_type))
                continue
            rec = conn.find_unclaimed_push(url)
            if rec is not None and urlsplit(url).path in self.opts.rerequest_paths:
                rec.client_action = "requested-anyway"
                rec.claimed_at = now
                rec = None  # fall through to a request of our own
            if rec is not None:
                rec.client_action = "claimed"
                rec.claimed_at = now
                assert rec.stream is not None
                waiting.append((url, initiator, referrer, rec.stream, rec, now))
                continue
            if initiator == "document" and conn.upgrade_stream is not None and conn.upgrade_stream.url == url:
                st = conn.upgrade_stream
                conn.upgrade_stream = None
            else:
                st = conn.send_request(url, initiator, flush=False)  # one write for all: as a browser batches
            waiting.append((url, initiator, referrer, st, None, now))
        conn._flush()

        conn.pump(until=lambda: all(w[3].done for w in waiting))

        for url, initiator, referrer, st, rec, t_need in waiting:
            if rec is not None and st.ended_at is not None:
                rec.wait_ms = round(max(0.0, st.ended_at - t_need) * 1000, 3)
            if st.ended_at is None:
                conn.errors.append(f"stream {st.stream_id} ({url}) did not complete"
                                   + (f": reset by {st.reset_by}" if st.reset_by else ""))
            self._take_cookies(st)
            entry = {"connection_index": conn.index, "load_index": load_index, "stream_id": st.stream_id,
                     "method": st.method, "url": url, "status": st.status, "body_bytes": len(st.body),
                     "from_push": rec is not None, "initiator": initiator, "referrer": referrer,
                     "needed_ms": self.ms(t_need), "ended_ms": self.ms(st.ended_at),
                     "cache_control": st.headers.get("cache-control")}
            if st.stream_id == 1 and conn.alpn == "h2c":
                entry["via_upgrade"] = True
            self.requests.append(entry)
            if st.ended_at is not None and st.status == 200:
                self.cache.store(url, st.headers, bytes(st.body), "push" if rec else "request")
            stored = self.cache.entries.get(url)
            if st.status == 304 and stored is not None:  # revalidated: the cached copy is the response
                out.append((url, stored.body, stored.content_type))
                continue
            out.append((url, bytes(st.body), st.headers.get("content-type", "")))
        return out

    # -- ground truth ----------------------------------------------------------------------
    def truth(self) -> dict:
        pushes = []
        for conn in self.connections:
            for rec in conn.pushes:
                st = rec.stream
                d = {"connection_index": rec.connection_index, "client_port": rec.client_port,
                     "load_index": rec.load_index, "parent_stream_id": rec.parent_stream_id,
                     "promised_stream_id": rec.promised_stream_id, "url": rec.url,
                     "outcome": rec.outcome, "reason": rec.reason, "client_action": rec.client_action,
                     "had_fresh_copy": rec.had_fresh_copy, "promised_ms": self.ms(rec.promised_at),
                     "completed": bool(st and st.ended_at is not None),
                     "status": st.status if st else None, "body_bytes": len(st.body) if st else 0,
                     "ended_ms": self.ms(st.ended_at) if st else None,
                     "reset_by": st.reset_by if st else None}
                if rec.claimed_at is not None:
                    d["claimed_ms"] = self.ms(rec.claimed_at)
                if rec.client_action == "claimed" and rec.wait_ms is not None:
                    d["wait_ms"] = rec.wait_ms
                pushes.append(d)
        conns = [{"index": c.index, "client_port": c.client_port, "enable_push": self.opts.enable_push,
                  "alpn": c.alpn, "tls": c.tls_version, "goaway_from_server": c.goaway,
                  "closed_by": c.closed_by,
                  "errors": c.errors} for c in self.connections]
        tls = next((c.tls_version for c in self.connections if c.tls_version), None)
        return {"tls": tls, "transport": self.opts.transport, "client_t0_epoch": round(self.started_wall, 6),
                "connections": conns,
                "pushes": pushes, "requests": self.requests, "cache_hits": self.cache_hits,
                "cookies_sent": bool(self.cookies) and self.opts.keep_cookies,
                **({"cut_at": self.cut_at} if getattr(self, "cut_at", None) else {})}


def finalize_push(rec: PushRecord) -> None:
    """The push's outcome and reason (``truth.judge``) from what this client did and knew of it."""
    st = rec.stream
    facts = PushFacts(refused=rec.client_action == "cancelled", had_fresh_copy=rec.had_fresh_copy,
                      pushed_twice=rec.pushed_twice, push_disabled=rec.push_disabled,
                      server_cancelled=st is not None and st.reset_by == "server",
                      requested_anyway=rec.client_action == "requested-anyway" or rec.requested_before_promise,
                      completed=st is not None and st.ended_at is not None,
                      claimed=rec.client_action == "claimed", wait_ms=rec.wait_ms)
    rec.outcome, rec.reason = judge(facts)
    if rec.reason == Reason.CLIENT_REQUESTED_ANYWAY:  # a request already in flight when the promise came
        rec.client_action = "requested-anyway"


def run_client(host: str, port: int, opts: ClientOptions, keylog: Path | None) -> dict:
    """Run the scenario's loads and return the client part of the truth document."""
    client = Client(host, port, opts, keylog)
    client.run()
    return client.truth()

