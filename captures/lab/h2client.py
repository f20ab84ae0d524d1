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

Pushes live in a per-connection push cache (``h2connection.py``: one HTTP/2 connection); only
claimed pushes enter the HTTP cache (like browsers did). Every PUSH_PROMISE is judged from what
the client itself did and knew (``finalize_push`` states the facts, ``truth.judge`` decides).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pushscope.vocabulary import Reason

from .h2connection import ClientError, Connection, PushRecord, Stream
from .pages import HttpCache, css_references, html_references
from .truth import PushFacts, judge

TRANSPORTS = ("tls", "h2c-prior-knowledge", "h2c-upgrade")


# --------------------------------------------------------------------------------------
# options
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

