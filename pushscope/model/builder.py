"""Folding events into the model: one ``apply`` per event, in capture order, usable while a capture loads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from pushscope.decode.frame_names import CANCEL_PUSH, HEADERS, PUSH_PROMISE, QUIC_RESET_STREAM, QUIC_STOP_SENDING
from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    ConversationAccounted,
    DataReceived,
    Diagnostic,
    Endpoint,
    Event,
    FrameReceived,
    GoAwayReceived,
    HeadersReceived,
    MaxPushIdReceived,
    ProtocolAnomaly,
    PushCancelled,
    PushPromiseReceived,
    PushStreamOpened,
    PushTruthRecorded,
    RunFinished,
    RunStarted,
    SettingsReceived,
    StopSendingReceived,
    StreamReset,
)
from pushscope.http.headers import header_value
from pushscope.http.urls import url_problem
from pushscope.model.compact import SharedValues, compact_exchange, growable
from pushscope.model.entities import (
    BODY_KEEP_LIMIT,
    Capture,
    Connection,
    Exchange,
    Push,
    PushTruth,
    Reset,
    Run,
)
from pushscope.model.frames import FrameLog
from pushscope.safe_text import visible
from pushscope.vocabulary import Outcome, Reason

_NO_PUSHES: Mapping[int, Push] = {}  # read-only: the push IDs of a connection that has none

# Bodies worth keeping for the analysis: documents and stylesheets reference other resources.
KEPT_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "text/css")


class CaptureBuilder:
    """Keeps the indexes needed to place each event: streams and push IDs per connection."""

    def __init__(self, source: str, name: str = "") -> None:
        self.capture = Capture(source=source, name=name)
        # Per connection, then by stream or push ID: no tuple key per stream (a gigabyte capture has a million).
        self._streams: defaultdict[str, dict[int, Exchange]] = defaultdict(dict)
        self._pushes_by_id: defaultdict[str, dict[int, Push]] = defaultdict(dict)
        # The last :authority a request on each connection showed: assumed where a request's cannot be read.
        self._authorities: dict[str, str] = {}
        self._shared = SharedValues()
        self.events_applied = 0
        self.finished = False

    def finish(self) -> None:
        """The source is read: no event follows. The indexes that placed events on their streams, pushes and
        connections are let go (at 1 GB, a map per connection of a million streams: tens of MiB) before the analysis
        and the views, which read the model alone."""
        self.finished = True
        # An event now would be placed without the indexes (on a new stream, a push of its own): refused, at no
        # cost to the millions of calls before.
        self.apply = self._refuse  # type: ignore[method-assign]
        self._streams = defaultdict(dict)
        self._pushes_by_id = defaultdict(dict)
        self._authorities = {}
        self._shared = SharedValues()

    def _refuse(self, event: object) -> None:
        raise RuntimeError(f"{type(event).__name__} after the capture builder was finished")

    def apply(self, event: Event | Diagnostic | ConversationAccounted | RunStarted | RunFinished) -> None:
        # Millions of calls: traffic events (the common case) find their handler in one lookup.
        handler = _HANDLERS.get(type(event))
        if handler is None:
            self._apply_other(event)
            return
        self.events_applied += 1
        capture = self.capture
        at = event.at  # type: ignore[union-attr]
        if capture.started_at is None or at < capture.started_at:
            capture.started_at = at
        if capture.ended_at is None or at > capture.ended_at:
            capture.ended_at = at
        handler(self, event)

    def _apply_other(self, event: object) -> None:
        if isinstance(event, Diagnostic):
            self.capture.diagnostics.append(event)
        elif isinstance(event, ConversationAccounted):
            self.capture.conversations.append(self._conversation(event))
        elif isinstance(event, (RunStarted, RunFinished, PushTruthRecorded)):
            # What the client knew, not traffic: it neither opens connections nor moves the capture's time span.
            self._on_client_knowledge(event)
        elif isinstance(event, Event):
            # An event no handler places (a decoder's informational event) still counts and spans the capture.
            self.events_applied += 1
            capture = self.capture
            capture.started_at = event.at if capture.started_at is None else min(capture.started_at, event.at)
            capture.ended_at = event.at if capture.ended_at is None else max(capture.ended_at, event.at)

    def _conversation(self, event: ConversationAccounted) -> ConversationAccounted:
        """The conversation with its connection's endpoints where they are equal (one object each, not two)."""
        conn = self.capture.connections.get(event.connection_id) if event.connection_id is not None else None
        if conn is None:
            return event
        client = conn.client if conn.client == event.client else self._endpoint(event.client)
        server = conn.server if conn.server == event.server else self._shared.value(event.server)
        if client is event.client and server is event.server:
            return event
        return replace(event, client=client, server=server)

    # --- what the client itself knew (the active probe) ------------------------------------------------

    def _on_client_knowledge(self, event: RunStarted | RunFinished | PushTruthRecorded) -> None:
        runs = self.capture.runs
        if isinstance(event, RunStarted):
            runs.append(Run(event.label, event.index, event.cold, event.at, event.cached_at_start))
        elif isinstance(event, RunFinished):
            run = next((r for r in reversed(runs) if r.label == event.label and not r.finished), None)
            if run is None:  # a finish whose start the stream lacks: the run is still worth showing
                run = Run(event.label, len(runs), False, event.at)
                runs.append(run)
            run.ended_at, run.connections, run.protocols = event.at, tuple(event.connections), dict(event.protocols)
            run.document, run.status, run.error = event.document, event.status, event.error
            run.fetched_from = dict(event.fetched_from)
        else:
            self._on_truth(event)

    def _on_truth(self, event: PushTruthRecorded) -> None:
        """Attach the truth to its push: by push ID (HTTP/3), else by promised stream (HTTP/2). A second truth for
        one push, or one for a push the model lacks, stays unmatched (the analysis reports it)."""
        truth = PushTruth(event.connection_id, event.run, event.url, event.stream_id, event.push_id, event.at,
                          Outcome(event.outcome), Reason(event.reason), event.detail)
        push: Push | None = None
        if event.push_id is not None:
            push = self._pushes_by_id.get(event.connection_id, _NO_PUSHES).get(event.push_id)
        elif event.stream_id is not None:
            exchange = self._streams[event.connection_id].get(event.stream_id)
            found = self.capture.push_for_exchange(exchange) if exchange is not None and exchange.pushed else None
            push = found if found is not None and found.push_id is None else None
        if push is not None and push.truth is None:
            push.truth = truth
        else:
            self.capture.unmatched_truth.append(truth)

    # --- connections ----------------------------------------------------------------------------------

    def _connection(self, event: Event) -> Connection:
        conn = self.capture.connections.get(event.connection_id)
        if conn is None:
            # Decoders may speak before the source announced the connection; record it with what we know.
            unknown = Endpoint("?", 0)
            conn = Connection(event.connection_id, len(self.capture.connections), unknown, unknown, "tcp", event.at)
            self.capture.connections[event.connection_id] = conn
        return conn

    def _on_opened(self, event: ConnectionOpened) -> None:
        conn = self.capture.connections.get(event.connection_id)
        if conn is None:
            conn = Connection(
                event.connection_id,
                len(self.capture.connections),
                event.client,
                event.server,
                event.transport,
                event.at,
            )
            self.capture.connections[event.connection_id] = conn
        shared = self._shared.value  # (equal addresses, names and servers of many connections: one object each)
        conn.client, conn.server, conn.transport = self._endpoint(event.client), shared(event.server), event.transport
        if event.protocol != "unknown":
            conn.protocol = event.protocol
        conn.tls_version = shared(event.tls_version or conn.tls_version)
        conn.sni = shared(event.sni or conn.sni)
        conn.alpn = shared(event.alpn or conn.alpn)
        conn.cache_scope = shared(event.cache_scope or conn.cache_scope)

    def _endpoint(self, endpoint: Endpoint) -> Endpoint:
        """An endpoint with its address shared (a client's port differs on each connection, its address not)."""
        address = self._shared.value(endpoint.address)
        return endpoint if address is endpoint.address else Endpoint(address, endpoint.port)

    def _on_updated(self, event: ConnectionUpdated) -> None:
        conn = self._connection(event)
        if event.protocol:
            conn.protocol = event.protocol
        shared = self._shared.value
        conn.tls_version = shared(event.tls_version or conn.tls_version)
        conn.sni = shared(event.sni or conn.sni)
        conn.alpn = shared(event.alpn or conn.alpn)
        if event.decrypted is not None:
            conn.decrypted = event.decrypted
        conn.decrypted_how = shared(event.decrypted_how or conn.decrypted_how)
        if event.certificate_names is not None and conn.certificate_names is None:
            conn.certificate_names = shared(tuple(map(shared, event.certificate_names)))
        if conn.transport == "tcp" and (event.tls_version or event.sni):
            # A TLS handshake seen after the connection was opened on a segment that showed no TLS yet.
            conn.transport = "tls"

    def _on_closed(self, event: ConnectionClosed) -> None:
        conn = self._connection(event)
        if conn.closed_at is None:
            conn.closed_at, conn.close_how = event.at, event.how

    def _on_bytes(self, event: BytesSeen) -> None:
        self._connection(event).bytes_sent[event.sender] += event.length

    def _on_settings(self, event: SettingsReceived) -> None:
        conn = self._connection(event)
        # New dicts, not an update: equal settings are one dict for all connections, from the start (a gigabyte
        # capture has tens of thousands of connections announcing the same SETTINGS).
        conn.settings = self._shared.settings(
            {**conn.settings, event.sender: {**conn.settings[event.sender], **event.settings}})

    def _on_goaway(self, event: GoAwayReceived) -> None:
        conn = self._connection(event)
        conn.goaways = growable(conn.goaways)
        conn.goaways.append((event.sender, event.last_stream_id, event.error_name, event.at))

    def _on_max_push_id(self, event: MaxPushIdReceived) -> None:
        conn = self._connection(event)
        conn.max_push_id = max(conn.max_push_id or 0, event.push_id)

    def _on_anomaly(self, event: ProtocolAnomaly) -> None:
        conn = self._connection(event)
        conn.anomalies = growable(conn.anomalies)
        conn.anomalies.append(event)

    def _on_frame(self, event: FrameReceived) -> None:
        conn = self._connection(event)
        conn.frame_count += 1
        # A request's HEADERS frame comes before the decoded HeadersReceived: open its exchange now.
        opens = event.frame_type == HEADERS and event.sender == "client" and event.push_id is None
        exchange = self._exchange_for(event.connection_id, event.stream_id, event.push_id, create=opens)
        frames = exchange.frames if exchange is not None else conn.frames
        frames.add(event.at, event.sender, event.frame_type, event.length, event.flags, event.stream_id)

    # --- exchanges and pushes ---------------------------------------------------------------------------

    def _new_exchange(self, connection_id: str, stream_id: int | None, pushed: bool = False) -> Exchange:
        conn = self.capture.connections.get(connection_id)
        protocol = conn.protocol if conn is not None and conn.protocol in ("h3", "http/1.1") else "h2"
        exchange = Exchange(len(self.capture.exchanges), connection_id, protocol, stream_id, pushed=pushed)
        self.capture.exchanges.append(exchange)
        return exchange

    def _exchange_for(
        self, connection_id: str, stream_id: int | None, push_id: int | None, *, create: bool = True
    ) -> Exchange | None:
        if push_id is not None:
            push = self._push_by_id(connection_id, push_id, create=create)
            return self.capture.exchange(push.exchange_id) if push is not None else None
        if stream_id is None:
            return None
        exchange = self._streams[connection_id].get(stream_id)
        if exchange is None and create:
            exchange = self._new_exchange(connection_id, stream_id)
            self._streams[connection_id][stream_id] = exchange
        return exchange

    def _push_by_id(self, connection_id: str, push_id: int, *, create: bool) -> Push | None:
        push = self._pushes_by_id.get(connection_id, _NO_PUSHES).get(push_id)
        if push is None and create:
            # HTTP/3 allows the push stream to arrive before its PUSH_PROMISE.
            push = self._new_push(connection_id, None, None, push_id, 0.0)
        return push

    def _new_push(
        self, connection_id: str, parent: int | None, promised: int | None, push_id: int | None, at: float
    ) -> Push:
        conn = self.capture.connections.get(connection_id)
        protocol: Literal["h2", "h3"] = "h3" if (conn is not None and conn.protocol == "h3") or push_id is not None \
            else "h2"
        push = Push(len(self.capture.pushes), connection_id, protocol, parent, promised, at)
        push.push_id = push_id
        exchange = self._new_exchange(connection_id, promised, pushed=True)
        exchange.protocol = protocol
        exchange.push_id = push_id
        push.exchange_id = exchange.id
        self.capture.pushes.append(push)
        if promised is not None:
            self._streams[connection_id][promised] = exchange
        if push_id is not None:
            self._pushes_by_id[connection_id][push_id] = push
        return push

    def _on_push_promise(self, event: PushPromiseReceived) -> None:
        push: Push | None = None
        if event.push_id is not None:
            push = self._pushes_by_id.get(event.connection_id, _NO_PUSHES).get(event.push_id)
        if push is None:
            push = self._new_push(
                event.connection_id, event.stream_id, event.promised_stream_id, event.push_id, event.at
            )
        exchange = self.capture.exchange(push.exchange_id)
        if not push.references:
            push.parent_stream_id, push.promised_at = event.stream_id, event.at
            push.promised_position = event.position
            # One list for the push and its exchange, and for equal promises (the same resource pushed on every
            # connection): nothing changes a header list in place (see ``compact_exchange``).
            headers = self._shared.headers(list(event.headers))
            push.promise_headers = headers
            push.promise_wire_bytes = event.wire_length
            push.unknown_fields = event.unknown_fields
            push.assumed_authority = self._authority_for(event.connection_id, event.headers, event.unknown_fields)
            if exchange is not None:
                exchange.request_headers = headers
                exchange.unknown_fields = event.unknown_fields
                exchange.assumed_authority = push.assumed_authority
                exchange.request_start = exchange.request_end = event.at
                exchange.request_header_bytes = event.wire_length
                self._check_url(event, exchange.url, "promised URL")
        push.references.append((event.stream_id, event.at))
        if exchange is not None:
            exchange.frames.add(event.at, "server", PUSH_PROMISE, event.wire_length, (), event.stream_id)

    def _on_push_stream(self, event: PushStreamOpened) -> None:
        push = self._push_by_id(event.connection_id, event.push_id, create=True)
        assert push is not None
        push.promised_stream_id = event.stream_id
        exchange = self.capture.exchange(push.exchange_id)
        if exchange is not None:
            exchange.stream_id = event.stream_id
            self._streams[event.connection_id][event.stream_id] = exchange

    def _on_headers(self, event: HeadersReceived) -> None:
        exchange = self._exchange_for(event.connection_id, event.stream_id, event.push_id)
        assert exchange is not None
        if event.sender == "client":
            self._request_headers(exchange, event)
        else:
            self._response_headers(exchange, event)

    def _request_headers(self, exchange: Exchange, event: HeadersReceived) -> None:
        if not exchange.request_headers and not exchange.unknown_fields:
            exchange.request_headers = list(event.headers)
            exchange.unknown_fields = event.unknown_fields
            exchange.assumed_authority = self._authority_for(event.connection_id, event.headers, event.unknown_fields)
            exchange.request_start = event.at
            self._check_url(event, exchange.url, "request URL")
        else:
            exchange.trailers = list(event.headers)
        exchange.request_header_bytes += event.wire_length
        if event.end_stream:
            exchange.request_end = event.at

    def _authority_for(self, connection_id: str, headers: list[tuple[str, str]], unknown: tuple[str, ...]) -> str:
        """Remember a request's :authority; for one that cannot be read, the one assumed (else "")."""
        authority = header_value(headers, ":authority") or header_value(headers, "host")
        if authority:
            self._authorities[connection_id] = authority
            return ""
        if ":authority" not in unknown:
            return ""
        conn = self.capture.connections.get(connection_id)
        return self._authorities.get(connection_id) or (conn.sni if conn is not None and conn.sni else "")

    def _response_headers(self, exchange: Exchange, event: HeadersReceived) -> None:
        status = header_value(event.headers, ":status")
        if exchange.response_start is None:
            exchange.response_start = event.at
        exchange.response_header_bytes += event.wire_length
        if status is not None and status.startswith("1") and status != "101":
            exchange.informational = [*exchange.informational, list(event.headers)]  # it may be shared (compact)
        elif not exchange.response_headers:
            exchange.response_headers = list(event.headers)
            location = header_value(event.headers, "location")
            if location is not None:
                self._check_url(event, location, "Location")
        else:
            exchange.trailers = list(event.headers)
        if event.end_stream:
            self._response_ended(exchange, event.at, event.position)

    def _response_ended(self, exchange: Exchange, at: float, position: int | None) -> None:
        exchange.response_end, exchange.response_end_position = at, position
        compact_exchange(exchange, self._shared)  # done growing, mostly: no slack kept through a long load

    def _check_url(self, event: HeadersReceived | PushPromiseReceived, url: str, what: str) -> None:
        """A URL urllib refuses (bad IPv6 brackets, a port out of range) is data: an anomaly shows it, safely."""
        problem = url_problem(url)
        if problem is not None:
            message = f"{what} that does not parse ({problem}): {visible(url)[:300]}"
            conn = self._connection(event)
            conn.anomalies = growable(conn.anomalies)
            conn.anomalies.append(
                ProtocolAnomaly(connection_id=event.connection_id, at=event.at, sender=event.sender, message=message,
                                stream_id=event.stream_id))

    def _on_data(self, event: DataReceived) -> None:
        exchange = self._exchange_for(event.connection_id, event.stream_id, event.push_id)
        assert exchange is not None
        if event.sender == "client":
            exchange.request_body_bytes += event.length
            if event.end_stream:
                exchange.request_end = event.at
            return
        if exchange.first_data_at is None:
            exchange.first_data_at = event.at
        if exchange.response_start is None:
            exchange.response_start = event.at
        exchange.body_bytes += event.length
        if _keeps_body(exchange):
            room = BODY_KEEP_LIMIT - len(exchange.body)
            if type(exchange.body) is not bytearray:  # none yet, or compacted
                exchange.body = bytearray(exchange.body)
            exchange.body += event.data[:room]
            exchange.body_truncated = exchange.body_truncated or len(event.data) > room
        if event.end_stream:
            self._response_ended(exchange, event.at, event.position)

    def _on_reset(self, event: StreamReset) -> None:
        reset = Reset(event.sender, event.error_code, event.error_name, event.at, _reset_kind(self, event))
        self._record_reset(event.connection_id, event.stream_id, event.push_id, reset)

    def _on_stop_sending(self, event: StopSendingReceived) -> None:
        reset = Reset(event.sender, event.error_code, event.error_name, event.at, "STOP_SENDING")
        self._record_reset(event.connection_id, event.stream_id, event.push_id, reset)

    def _on_push_cancelled(self, event: PushCancelled) -> None:
        push = self._push_by_id(event.connection_id, event.push_id, create=True)
        assert push is not None
        if push.reset is None:
            push.reset = Reset(event.sender, 0, "CANCEL_PUSH", event.at, "CANCEL_PUSH")

    def _record_reset(self, connection_id: str, stream_id: int, push_id: int | None, reset: Reset) -> None:
        conn = self.capture.connections.get(connection_id)
        # An HTTP/3 unidirectional stream never carries a request: a reset of one whose push ID never showed
        # (a push stream reset before its first bytes) belongs to the connection's timeline, not to an exchange.
        uni = push_id is None and conn is not None and conn.protocol == "h3" and bool(stream_id & 2)
        exchange = self._exchange_for(connection_id, stream_id, push_id, create=not uni)
        if exchange is None:
            self._connection_record(connection_id, reset, stream_id)
            return
        if exchange.reset is None:
            exchange.reset = reset
        if reset.kind != "RST_STREAM":  # an RST_STREAM frame is already on the timeline from its FrameReceived
            _add_reset(exchange.frames, reset, stream_id)
        if exchange.pushed:
            push = self.capture.push_for_exchange(exchange)
            if push is not None and push.reset is None:
                push.reset = reset


    def _connection_record(self, connection_id: str, reset: Reset, stream_id: int) -> None:
        conn = self.capture.connections.get(connection_id)
        if conn is not None and reset.kind != "RST_STREAM":
            _add_reset(conn.frames, reset, stream_id)


# The timeline record of an HTTP/3 reset the model learned from a typed event: (frame type, a QUIC frame?).
_RESET_FRAMES = {"RESET_STREAM": (QUIC_RESET_STREAM, True), "STOP_SENDING": (QUIC_STOP_SENDING, True),
                 "CANCEL_PUSH": (CANCEL_PUSH, False)}


def _add_reset(frames: FrameLog, reset: Reset, stream_id: int) -> None:
    frame_type, quic = _RESET_FRAMES[reset.kind]
    frames.add(reset.at, reset.by, frame_type, 4, (reset.name,), stream_id, quic)


def _reset_kind(builder: CaptureBuilder, event: StreamReset) -> Literal["RST_STREAM", "RESET_STREAM"]:
    conn = builder.capture.connections.get(event.connection_id)
    return "RESET_STREAM" if conn is not None and conn.protocol == "h3" else "RST_STREAM"


def _keeps_body(exchange: Exchange) -> bool:
    content_type = exchange.content_type
    return content_type in KEPT_CONTENT_TYPES or (not content_type and exchange.path.endswith((".html", ".css", "/")))


_HANDLERS: dict[type, Callable[[CaptureBuilder, Any], None]] = {
    ConnectionOpened: CaptureBuilder._on_opened,
    ConnectionUpdated: CaptureBuilder._on_updated,
    ConnectionClosed: CaptureBuilder._on_closed,
    BytesSeen: CaptureBuilder._on_bytes,
    SettingsReceived: CaptureBuilder._on_settings,
    GoAwayReceived: CaptureBuilder._on_goaway,
    MaxPushIdReceived: CaptureBuilder._on_max_push_id,
    ProtocolAnomaly: CaptureBuilder._on_anomaly,
    FrameReceived: CaptureBuilder._on_frame,
    PushPromiseReceived: CaptureBuilder._on_push_promise,
    PushStreamOpened: CaptureBuilder._on_push_stream,
    HeadersReceived: CaptureBuilder._on_headers,
    DataReceived: CaptureBuilder._on_data,
    StreamReset: CaptureBuilder._on_reset,
    StopSendingReceived: CaptureBuilder._on_stop_sending,
    PushCancelled: CaptureBuilder._on_push_cancelled,
}
