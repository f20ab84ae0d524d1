"""An aioquic HTTP/3 client that loads pages like a browser and records the fate of every push.

It sends MAX_PUSH_ID (aioquic's client allows push IDs 0..8), writes its TLS secrets to a key log
(``QuicConfiguration(secrets_log_file=...)``) and, per page: GET the document, find its references and fetch
them, then those of the fetched stylesheets (``lab.pages``, as the HTTP/2 client reads a page). For every URL it
needs, in this order:

1. a fresh copy in its HTTP cache (kept across connections) -> use it, no request;
2. a push promised on this connection and not refused -> claim it (wait for it if unfinished);
3. otherwise send a request.

On a PUSH_PROMISE it may refuse the push, as the scenario says: CANCEL_PUSH on its control stream, or
STOP_SENDING (H3_REQUEST_CANCELLED) on the push stream once that stream shows up. Only claimed pushes enter the
HTTP cache, as browsers did. ``finalize_push`` states what the client did and knew of each push; the lab's
truth module (``lab.truth.judge``, shared with the HTTP/2 client) decides its outcome and reason.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived, PushPromiseReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived, StreamReset
from cryptography import x509
from lab.pages import HttpCache, css_references, tagged_html_references
from lab.truth import PushFacts, judge

from pushscope.vocabulary import Outcome, Reason

from .server import ControlStreamSniffer


@dataclass(frozen=True)
class ClientOptions:
    connections: tuple[tuple[str, ...], ...] = (("/index.html",),)  # pages loaded, one tuple per connection
    cancel_paths: tuple[str, ...] = ()  # CANCEL_PUSH these on their PUSH_PROMISE
    stop_paths: tuple[str, ...] = ()  # STOP_SENDING on these pushes' streams
    cancel_cached: bool = False  # CANCEL_PUSH every push of a URL held fresh in the HTTP cache
    linger: float = 0.3  # seconds to keep a connection open after its pages, so unclaimed pushes finish
    # Seconds of quiet between the handshake and the first page; the capture's cut point (``cut_at``) is in
    # its middle, so a capture cut there starts with an established connection.
    settle: float = 0.0
    # What happens on each connection before each page after the first: "key-update" (the client updates
    # its 1-RTT keys), "migrate" (the client moves to a new UDP port and a new connection ID).
    between_pages: tuple[str, ...] = ()


@dataclass
class Response:
    stream_id: int
    url: str
    method: str = "GET"
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended_at: float | None = None
    reset_code: int | None = None
    # (body length after a DATA frame, when it arrived): when each byte of a document became readable.
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def arrived_at(self, offset: int) -> float | None:
        """When the body byte at ``offset`` arrived: a streaming parser needs a reference from then on."""
        return next((at for end, at in self.arrivals if end > offset), None)

    def finish(self, now: float) -> None:
        if self.ended_at is None and self.reset_code is None:
            self.ended_at = now
        if not self.done.done():
            self.done.set_result(None)


@dataclass
class PushRecord:
    connection_index: int
    client_port: int
    load_index: int
    parent_stream_id: int
    push_id: int
    url: str
    promised_at: float
    had_fresh_copy: bool
    client_action: str = "ignored"  # claimed / cancelled / stop-sending / ignored
    push_stream_id: int | None = None
    response: Response | None = None
    outcome: Outcome | None = None
    reason: Reason | None = None
    claimed_at: float | None = None
    wait_ms: float | None = None
    needed_at: float | None = None
    server_cancelled: bool = False  # the server sent CANCEL_PUSH for it
    must_refuse: bool = False  # promised for a host the server's certificate does not name


def _reference_times(document: Response | None, body: bytes, hrefs: list[str]) -> list[float | None]:
    """When each reference's bytes arrived (its first occurrence in the page, in document order)."""
    if document is None or not document.arrivals:
        return [None] * len(hrefs)
    times: list[float | None] = []
    offset = 0
    for href in hrefs:
        found = body.find(href.encode(), offset)
        times.append(document.arrived_at(found) if found >= 0 else None)
        offset = found + 1 if found >= 0 else offset
    return times


class LabClientProtocol(QuicConnectionProtocol):
    """One HTTP/3 connection: requests, the push cache, and refusing pushes on cue."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.responses: dict[int, Response] = {}
        self.pushes: dict[int, PushRecord] = {}
        self.on_promise = None  # set by the page loader: Callable[[int, int, str], PushRecord]
        self._stop_wanted: set[int] = set()
        # CANCEL_PUSH from the server (read from its control stream, which aioquic reads and discards).
        self.server_cancelled: set[int] = set()
        self._sniffer = ControlStreamSniffer(self._server_cancelled, peer_uni=3)

    def quic_event_received(self, event: QuicEvent) -> None:
        now = time.monotonic()
        if isinstance(event, StreamReset):
            self._stream_reset(event.stream_id, event.error_code, now)
        if isinstance(event, StreamDataReceived):
            self._sniffer.feed(event.stream_id, event.data)
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event, now)
        self._stop_pushes()

    def _h3_event(self, event: H3Event, now: float) -> None:
        if isinstance(event, PushPromiseReceived):
            headers = {k.decode(): v.decode() for k, v in event.headers}
            url = f"https://{headers.get(':authority', '')}{headers.get(':path', '/')}"
            assert self.on_promise is not None
            self.pushes[event.push_id] = self.on_promise(event.stream_id, event.push_id, url)
            self.pushes[event.push_id].server_cancelled = event.push_id in self.server_cancelled
            return
        if isinstance(event, HeadersReceived | DataReceived):
            response = self._response_for(event.stream_id, event.push_id)
            if response is None:
                return
            if isinstance(event, HeadersReceived):
                for key, value in event.headers:
                    response.headers[key.decode()] = value.decode()
                response.status = int(response.headers.get(":status", "0"))
            else:
                response.body += event.data
                response.arrivals.append((len(response.body), now))
            if event.stream_ended:
                response.finish(now)

    def _server_cancelled(self, push_id: int) -> None:
        self.server_cancelled.add(push_id)  # the promise may not have been read yet
        if push_id in self.pushes:
            self.pushes[push_id].server_cancelled = True

    def _response_for(self, stream_id: int, push_id: int | None) -> Response | None:
        if push_id is None:
            return self.responses.get(stream_id)
        push = self.pushes.get(push_id)
        if push is None:
            return None
        push.push_stream_id = stream_id
        if push.response is None:
            push.response = Response(stream_id, push.url)
        return push.response

    def _stream_reset(self, stream_id: int, error_code: int, now: float) -> None:
        response = self.responses.get(stream_id)
        for push in self.pushes.values():
            if push.push_stream_id == stream_id or self._push_stream_of(push.push_id) == stream_id:
                push.push_stream_id = stream_id
                if push.response is None:
                    push.response = Response(stream_id, push.url)
                response = push.response
        if response is not None:
            response.reset_code = error_code
            response.finish(now)

    # -- requests and refusals ---------------------------------------------------------------------------

    def get(self, url: str) -> Response:
        parts = urlsplit(url)
        stream_id = self._quic.get_next_available_stream_id()
        self.h3.send_headers(stream_id, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", parts.netloc.encode()),
            (b":path", (parts.path or "/").encode()), (b"user-agent", b"pushscope-lab-h3client/0.1"),
            (b"accept", b"*/*"),
        ], end_stream=True)
        response = self.responses[stream_id] = Response(stream_id, url)
        self.transmit()
        return response

    def cancel_push(self, push_id: int) -> None:
        """CANCEL_PUSH on our control stream (aioquic has no API for it: write the frame ourselves)."""
        control = self.h3._local_control_stream_id
        assert control is not None
        self._quic.send_stream_data(control, encode_frame(FrameType.CANCEL_PUSH, encode_uint_var(push_id)))
        self.transmit()

    def stop_push(self, push_id: int) -> None:
        """STOP_SENDING on the push stream, as soon as the push stream has announced this push ID."""
        self._stop_wanted.add(push_id)
        self._stop_pushes()

    def _stop_pushes(self) -> None:
        for push_id in sorted(self._stop_wanted):
            stream_id = self._push_stream_of(push_id)
            if stream_id is None:
                continue
            self._stop_wanted.discard(push_id)
            self.pushes[push_id].push_stream_id = stream_id
            self._quic.stop_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
            self.transmit()

    def _push_stream_of(self, push_id: int) -> int | None:
        # aioquic emits nothing when a push stream announces its push ID, so look at its stream table.
        for stream_id, stream in self.h3._stream.items():
            if stream.push_id == push_id:
                return stream_id
        return None


class LabClient:
    """Runs the scenario's page loads, one QUIC connection per tuple in ``options.connections``."""

    def __init__(self, host: str, port: int, options: ClientOptions, keylog: IO[str]) -> None:
        self.host, self.port, self.options, self.keylog = host, port, options, keylog
        self.started = time.monotonic()
        self.cache = HttpCache()
        self.connections: list[dict] = []
        self.pushes: list[PushRecord] = []
        self.requests: list[dict] = []
        self.last_responses: dict[str, Response] = {}  # the last response per URL (a page's, for its references)
        self.cache_hits: list[dict] = []
        self.cut_at: float | None = None  # epoch seconds, when ``settle`` is set

    def ms(self, moment: float | None) -> float | None:
        return None if moment is None else round((moment - self.started) * 1000, 3)

    async def run(self) -> None:
        for index, pages in enumerate(self.options.connections):
            await self._connection(index, pages)
        for push in self.pushes:
            finalize_push(push)

    async def _connection(self, index: int, pages: tuple[str, ...]) -> None:
        configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                                          secrets_log_file=self.keylog, server_name="localhost")
        async with connect(self.host, self.port, configuration=configuration,
                           create_protocol=LabClientProtocol) as protocol:
            assert isinstance(protocol, LabClientProtocol)
            client_port = protocol._transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
            record = {"index": index, "client_port": client_port, "max_push_id": protocol.h3._max_push_id,
                      "alpn": protocol._quic.tls.alpn_negotiated, "errors": []}
            self.connections.append(record)
            if self.options.settle:
                await asyncio.sleep(self.options.settle / 2)
                self.cut_at = self.cut_at or time.time()
                await asyncio.sleep(self.options.settle / 2)
            for load_index, page in enumerate(pages):
                if load_index:
                    await self._between_pages(protocol, record)
                protocol.on_promise = self._promise_handler(protocol, index, client_port, load_index)
                await asyncio.wait_for(self._load_page(protocol, index, load_index, page), timeout=15)
            await asyncio.sleep(self.options.linger)
            for push in protocol.pushes.values():
                if push.response is not None and push.response.ended_at is None and push.response.reset_code is None:
                    record["errors"].append(f"push {push.push_id} ({push.url}) unfinished at close")
        self.keylog.flush()

    async def _between_pages(self, protocol: LabClientProtocol, record: dict) -> None:
        if "key-update" in self.options.between_pages:
            protocol._quic.request_key_update()
            protocol._quic.send_ping(1)
            protocol.transmit()
            record["key_updates"] = record.get("key_updates", 0) + 1
        if "migrate" in self.options.between_pages:
            record.setdefault("migrated_to_ports", []).append(await migrate(protocol, self.host))
        await asyncio.sleep(0.1)

    def _promise_handler(self, protocol: LabClientProtocol, index: int, port: int, load_index: int):  # noqa: ANN202
        def on_promise(parent: int, push_id: int, url: str) -> PushRecord:
            push = PushRecord(index, port, load_index, parent, push_id, url, time.monotonic(),
                              had_fresh_copy=self.cache.fresh(url) is not None)
            self.pushes.append(push)
            path = urlsplit(url).path
            if not certificate_covers(protocol, url):
                # RFC 9114 §4.6 / RFC 9113 §8.4: not authoritative for it, so it must not be used: refuse it.
                push.client_action, push.must_refuse = "refused", True
                protocol.cancel_push(push_id)
            elif path in self.options.cancel_paths or (self.options.cancel_cached and push.had_fresh_copy):
                push.client_action = "cancelled"
                protocol.cancel_push(push_id)
            elif path in self.options.stop_paths:
                push.client_action = "stop-sending"
                protocol.stop_push(push_id)
            return push
        return on_promise

    async def _load_page(self, protocol: LabClientProtocol, index: int, load_index: int, page: str) -> None:
        base = f"https://{self.host}:{self.port}"
        [(_, body, content_type)] = await self._fetch_all(protocol, index, load_index, [(base + page, "document")])
        document = self.last_responses.get(base + page)
        references = tagged_html_references(body)
        wanted = [(urljoin(base + page, href), tag) for tag, href in references]
        needed = _reference_times(document, body, [href for _, href in references])
        fetched = await self._fetch_all(protocol, index, load_index, wanted, needed)
        css_refs = [(urljoin(url, ref), "css") for url, css, kind in fetched if kind.startswith("text/css")
                    for ref in css_references(css)]
        await self._fetch_all(protocol, index, load_index, css_refs)

    async def _fetch_all(self, protocol: LabClientProtocol, index: int, load_index: int,
                         wanted: list[tuple[str, str]], needed: list[float | None] | None = None
                         ) -> list[tuple[str, bytes, str]]:
        """``needed``: when each wanted reference's bytes arrived, as a streaming parser would have met it (a
        push finishing more than lab.truth.LATE_THRESHOLD_MS after that kept the page waiting: claimed-late)."""
        out: list[tuple[str, bytes, str]] = []
        waiting: list[tuple[str, str, Response, PushRecord | None, float]] = []
        for position, (url, initiator) in enumerate(wanted):
            now = time.monotonic()
            reference_at = needed[position] if needed and needed[position] is not None else now
            hit = self.cache.fresh(url)
            if hit is not None:
                self.cache_hits.append({"connection_index": index, "load_index": load_index, "url": url,
                                        "initiator": initiator, "at_ms": self.ms(now)})
                out.append((url, hit.body, ""))
                continue
            push = next((p for p in protocol.pushes.values()
                         if p.url == url and p.client_action == "ignored" and not p.server_cancelled), None)
            if push is not None:
                push.client_action, push.claimed_at = "claimed", now
                if push.response is None:
                    push.response = Response(-1, url)  # filled in when the push stream arrives
                push.needed_at = reference_at
                waiting.append((url, initiator, push.response, push, now))
            else:
                waiting.append((url, initiator, protocol.get(url), None, now))
        await asyncio.gather(*(response.done for _, _, response, _, _ in waiting))
        for url, initiator, response, push, needed_at in waiting:
            reference_at = push.needed_at if push is not None and push.needed_at is not None else needed_at
            if push is not None and response.ended_at is not None and response.ended_at > reference_at:
                push.wait_ms = round((response.ended_at - reference_at) * 1000, 3)
            self.last_responses[url] = response
            stream_id = push.push_stream_id if push is not None else response.stream_id
            self.requests.append({
                "connection_index": index, "load_index": load_index, "stream_id": stream_id, "method": "GET",
                "url": url, "status": response.status, "body_bytes": len(response.body),
                "from_push": push is not None, "push_id": push.push_id if push is not None else None,
                "initiator": initiator, "started_ms": self.ms(needed_at), "ended_ms": self.ms(response.ended_at),
                "cache_control": response.headers.get("cache-control"),
            })
            if response.ended_at is not None and response.status == 200:
                self.cache.store(url, response.headers, bytes(response.body), "push" if push else "request")
            out.append((url, bytes(response.body), response.headers.get("content-type", "")))
        return out

    def truth(self) -> dict:
        pushes = []
        for push in self.pushes:
            response = push.response
            entry = {
                "connection_index": push.connection_index, "client_port": push.client_port,
                "load_index": push.load_index, "parent_stream_id": push.parent_stream_id, "push_id": push.push_id,
                "push_stream_id": push.push_stream_id, "url": push.url, "outcome": push.outcome,
                "reason": push.reason, "client_action": push.client_action, "had_fresh_copy": push.had_fresh_copy,
                "server_cancelled": push.server_cancelled,
                "promised_ms": self.ms(push.promised_at),
                "completed": bool(response and response.ended_at is not None),
                "status": response.status if response else None,
                "body_bytes": len(response.body) if response else 0,
                "ended_ms": self.ms(response.ended_at) if response else None,
                "reset_code": response.reset_code if response else None,
            }
            if push.claimed_at is not None:
                entry["claimed_ms"] = self.ms(push.claimed_at)
            if push.reason == Reason.CLAIMED_LATE:
                entry["wait_ms"] = push.wait_ms
            pushes.append(entry)
        truth = {"tls": "1.3", "transport": "quic", "connections": self.connections, "pushes": pushes,
                 "requests": self.requests, "cache_hits": self.cache_hits}
        if self.cut_at is not None:
            truth["cut_at"] = self.cut_at
        return truth


class _Forward(asyncio.DatagramProtocol):
    """A second UDP socket whose datagrams go to the same QUIC connection (connection migration)."""

    def __init__(self, protocol: LabClientProtocol) -> None:
        self.protocol = protocol

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[type-arg]
        self.protocol.datagram_received(data, addr)


async def migrate(protocol: LabClientProtocol, host: str) -> int:
    """Move the connection to a new local port and a new connection ID; returns the new port. The old
    socket stays open (closing it would end the protocol)."""
    loop = asyncio.get_running_loop()
    # The same address family as aioquic's own socket (dual-stack IPv6, sending to ::ffff:127.0.0.1).
    family = protocol._transport.get_extra_info("socket").family  # type: ignore[union-attr]
    local = ("::", 0) if family == socket.AF_INET6 else (host, 0)
    transport, _ = await loop.create_datagram_endpoint(lambda: _Forward(protocol), local_addr=local)
    protocol._quic.change_connection_id()
    protocol._transport = transport  # type: ignore[assignment]
    protocol._quic.send_ping(2)
    protocol.transmit()
    return transport.get_extra_info("sockname")[1]


def finalize_push(push: PushRecord) -> None:
    """The push's outcome and reason (``lab.truth.judge``) from what the client did and knew: whether it had to
    refuse it (a host the certificate does not name), refused it (CANCEL_PUSH or STOP_SENDING), held a fresh copy,
    saw the server's CANCEL_PUSH, claimed it and how long it waited."""
    response = push.response
    facts = PushFacts(must_refuse=push.must_refuse, refused=push.client_action in ("cancelled", "stop-sending"),
                      had_fresh_copy=push.had_fresh_copy, server_cancelled=push.server_cancelled,
                      completed=response is not None and response.ended_at is not None,
                      claimed=push.client_action == "claimed", wait_ms=push.wait_ms)
    push.outcome, push.reason = judge(facts)


def certificate_covers(protocol: LabClientProtocol, url: str) -> bool:
    """Whether the server's certificate (as the TLS layer received it) names the URL's host."""
    certificate = protocol._quic.tls._peer_certificate
    host = (urlsplit(url).hostname or "").lower()
    if certificate is None:
        return True  # nothing to check against (never happens after a full handshake)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    dns = [name.lower() for name in names.get_values_for_type(x509.DNSName)]
    addresses = [str(address) for address in names.get_values_for_type(x509.IPAddress)]
    return host in dns or host in addresses or any(
        name.startswith("*.") and host.partition(".")[2] == name[2:] for name in dns)


async def run_client(host: str, port: int, options: ClientOptions, keylog_path: Path) -> dict:
    with keylog_path.open("w") as keylog:
        client = LabClient(host, port, options, keylog)
        await client.run()
    return client.truth()
