"""What the probe's HTTP/2 and HTTP/3 connections share: options, origins, transfers, and the push cache.

A :class:`Transfer` is one request/response as the probe's own client sees it (a request it sent, or a push
the server promised). The events for the model never come from here: they come from the sans-IO decoders
fed with the exact bytes each connection sends and receives, so the probe's model is built exactly as a
capture's would be.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pushscope import __version__
from pushscope.events import Diagnostic, Endpoint, Event, Headers, Side
from pushscope.http.headers import header_value, status_code
from pushscope.http.urls import normalize_url

Emit = Callable[[Event | Diagnostic], None]
PushState = Literal["promised", "claimed", "cancelled", "ignored"]

USER_AGENT = f"Mozilla/5.0 (X11; Linux x86_64) pushscope-probe/{__version__}"
ACCEPT_ENCODING = "gzip, deflate, br"
ACCEPT_LANGUAGE = "en-US,en;q=0.9"
MAX_HEADER_BLOCKS = 8  # informational responses kept per transfer: a server may send 103s without end


class ProbeError(RuntimeError):
    """A load could not go on (no connection, TLS failure, protocol not negotiated): the message says why."""


@dataclass(slots=True)
class ProbeOptions:
    url: str
    http: Literal["2", "3", "auto"] = "auto"
    h2c: Literal["prior-knowledge", "upgrade"] = "prior-knowledge"
    runs: list[str | int] = field(default_factory=lambda: ["cold"])
    cancel_cached: bool = False
    insecure: bool = False
    cacert: str | None = None
    keylog: str | None = None
    timeout: float = 10.0
    linger: float = 0.5
    concurrency: int = 6
    user_agent: str = USER_AGENT
    extra_headers: Headers = field(default_factory=list)
    limits: ProbeLimits = field(default_factory=lambda: ProbeLimits())
    accept_push: bool = True  # False: HTTP/2 SETTINGS_ENABLE_PUSH=0, HTTP/3 no MAX_PUSH_ID (the server may not push)
    preload: bool = False  # fetch Link rel=preload targets of the document's 103 and final headers at once
    connect_to: tuple[str, int] | None = None  # connect here for the page's origin (a shaper), keep its authority


@dataclass(slots=True)
class ProbeLimits:
    """Bounds a hostile server cannot push the probe past. Hitting one ends that part with a diagnostic (code
    ``probe-limit``), keeps everything seen, and makes ``pushscope probe`` exit with status 5."""

    body_bytes: int = 32 * 1024 * 1024  # kept per response; the stream is cancelled past it
    requests: int = 1000  # subresources fetched per page load
    redirects: int = 5  # hops followed for the document
    import_depth: int = 8  # stylesheets loaded through stylesheets (@import chains)
    pushes: int = 1000  # PUSH_PROMISEs accepted per connection; later ones are refused
    total_bytes: int = 1024 * 1024 * 1024  # response bytes kept over the whole run
    deadline: float = 300.0  # seconds for the whole run
    hit: list[str] = field(default_factory=list)  # which limits were hit (one note each)
    kept_bytes: int = 0

    def note(self, what: str) -> bool:
        """Record that ``what`` was hit; True the first time (so the caller says it once)."""
        if what in self.hit:
            return False
        self.hit.append(what)
        return True


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeError(f"{url!r} is not an http:// or https:// URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def endpoint(address: tuple[Any, ...]) -> Endpoint:
    """A socket address as the capture would show it: IPv4-mapped IPv6 addresses back to IPv4."""
    host = str(address[0])
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return Endpoint(host, int(address[1]))


def ssl_context(options: ProbeOptions, alpn: list[str]) -> ssl.SSLContext:
    """Certificate checks on unless --insecure; --cacert adds a trust anchor; the key log if asked."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if options.cacert:
        context.load_verify_locations(cafile=options.cacert)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(alpn)
    if options.keylog:
        context.keylog_filename = options.keylog
    return context


@dataclass(eq=False, slots=True)
class Transfer:
    """One request/response on a probe connection: a request the probe sent, or a promised push."""

    connection_id: str
    url: str
    request_headers: Headers
    stream_id: int | None
    started_at: float
    pushed: bool = False
    push_id: int | None = None
    parent_stream_id: int | None = None
    response_headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended_at: float | None = None
    reset_by: Side | None = None
    reset_code: int | None = None
    abandoned: bool = False  # the connection ended before it finished
    body_truncated: bool = False  # the body went over the probe's body limit: ``body`` is its start
    received_bytes: int = 0
    # push bookkeeping (the probe's ground truth)
    state: PushState = "promised"
    claimed_at: float | None = None
    had_fresh_copy: bool = False
    pushed_twice: bool = False
    requested_before: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    headers_seen: asyncio.Event = field(default_factory=asyncio.Event)
    header_blocks: list[Headers] = field(default_factory=list)  # 103 Early Hints and the final headers, in order
    header_listener: Callable[[Headers], None] | None = None

    def watch_headers(self, listener: Callable[[Headers], None]) -> None:
        """Call ``listener`` with every header block, those already received first (a 103 may precede this)."""
        self.header_listener = listener
        for headers in self.header_blocks:
            listener(headers)

    @property
    def key(self) -> str:
        return normalize_url(self.url)

    @property
    def method(self) -> str:
        return header_value(self.request_headers, ":method") or "GET"

    @property
    def status(self) -> int | None:
        return status_code(header_value(self.response_headers, ":status"))

    @property
    def complete(self) -> bool:
        return self.ended_at is not None and self.reset_by is None

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    def take(self, data: bytes, limits: ProbeLimits) -> bool:
        """Keep ``data`` up to the body and total limits; True when this crossed one (the caller stops the
        stream). Bytes past the limit are counted, never kept."""
        self.received_bytes += len(data)
        room = min(limits.body_bytes - len(self.body), limits.total_bytes - limits.kept_bytes)
        kept = data[:max(0, room)]
        self.body += kept
        limits.kept_bytes += len(kept)
        if len(data) > room and not self.body_truncated:
            self.body_truncated = True
            return True
        return False

    def got_headers(self, headers: Headers, at: float) -> None:
        status = header_value(headers, ":status") or ""
        if len(self.header_blocks) < MAX_HEADER_BLOCKS:
            self.header_blocks.append(list(headers))
            if self.header_listener is not None:
                self.header_listener(list(headers))
        if status.startswith("1"):
            return  # informational (103 Early Hints): the final response is still to come
        if not self.response_headers:
            self.response_headers = list(headers)
            self.headers_seen.set()

    def end(self, at: float) -> None:
        if self.ended_at is None and self.reset_by is None:
            self.ended_at = at
        self.headers_seen.set()
        self.done.set()

    def fail(self, by: Side, code: int | None, at: float) -> None:
        if self.ended_at is None and self.reset_by is None:
            self.reset_by, self.reset_code = by, code
            self.ended_at = None
        self.headers_seen.set()
        self.done.set()


PromiseHandler = Callable[["ProbeConnection", Transfer], None]


class ProbeConnection:
    """The interface the page loader uses; implemented over ``h2`` and over aioquic."""

    protocol: str = "?"

    def __init__(self, connection_id: str, origin: Origin, options: ProbeOptions, emit: Emit,
                 on_promise: PromiseHandler) -> None:
        self.connection_id = connection_id
        self.origin = origin  # the page's origin: the :authority of requests
        self.target = origin  # where to connect (another host/port when Alt-Svc moved it)
        self.options = options
        self.emit = emit
        self.on_promise = on_promise
        self.pushes: list[Transfer] = []
        self._pushes_by_key: dict[str, list[Transfer]] = {}  # so 10,000 pushes cost linear time, not quadratic
        self.requests: list[Transfer] = []
        self.closed = False
        self.error: str | None = None
        self.client: Endpoint | None = None

    # -- to implement ------------------------------------------------------------------------------------
    async def connect(self, first_request: tuple[str, Headers] | None = None) -> None:
        raise NotImplementedError

    async def send_request(self, url: str, headers: Headers) -> Transfer:
        raise NotImplementedError

    def cancel_push(self, push: Transfer) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------------
    def upgrade_transfer(self) -> Transfer | None:
        """h2c Upgrade: the document request that went out as HTTP/1.1 (stream 1); None otherwise."""
        return None

    def unclaimed_push(self, url: str, method: str) -> Transfer | None:
        key = normalize_url(url)
        for push in self._pushes_by_key.get(key, []):
            if push.state == "promised" and push.method == method and push.reset_by is None:
                return push
        return None

    def request_headers(self, url: str, extra: Headers) -> Headers:
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return [(":method", "GET"), (":scheme", parts.scheme), (":authority", self.origin.authority),
                (":path", path), *extra]

    def record_promise(self, push: Transfer) -> None:
        """Bookkeeping every protocol does when a PUSH_PROMISE arrives, then the session's decision."""
        key = push.key
        same = self._pushes_by_key.setdefault(key, [])
        push.pushed_twice = bool(same)
        push.requested_before = any(r.key == key and not r.finished for r in self.requests)
        same.append(push)
        self.pushes.append(push)
        limits = self.options.limits
        if len(self.pushes) > limits.pushes:
            if limits.note(f"pushes on {self.connection_id}"):
                self.emit(Diagnostic(level="warning",
                                     message=f"{self.connection_id}: more than {limits.pushes} pushes on one "
                                     "connection (--max-pushes): later ones are refused",
                                     connection_id=self.connection_id, code="probe-limit"))
            self.cancel_push(push)
            return
        self.on_promise(self, push)

    def open_transfers(self) -> list[Transfer]:
        return [t for t in self.requests + self.pushes if not t.finished and t.state != "cancelled"]

    def fail_all(self) -> None:
        """The connection ended: whatever is unfinished will never finish."""
        for transfer in self.requests + self.pushes:
            if not transfer.finished:
                transfer.abandoned = True
                transfer.headers_seen.set()
                transfer.done.set()
