"""The typed events every source and decoder emits: the one contract between layers.

Sources (tshark over a capture, a live capture, the active probe) and the sans-IO decoders turn traffic into
these events; the model folds them into connections, exchanges and pushes. Nothing here knows where the bytes
came from. Events are named in the past tense and built with keyword arguments only (``kw_only``), like h2's and
aioquic's; ``Endpoint`` is a plain value.

``sender`` is always "client" or "server": the endpoint that *sent* the frame. ``at`` is the capture time in
seconds since the epoch of the packet that completed the frame. ``position`` is where the event sits in what its
sender wrote on the connection (see ``Event``): frames that share a packet share ``at`` but not ``position``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pushscope.vocabulary import Outcome, Reason

Side = Literal["client", "server"]
Headers = list[tuple[str, str]]
# The application protocols pushscope decodes; "unknown" until a connection shows which.
AppProtocol = Literal["h2", "h3", "http/1.1", "unknown"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a connection."""

    address: str
    port: int

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(slots=True, kw_only=True)
class Event:
    """Base class: every event belongs to a connection and has a time.

    ``position`` orders the events one sender wrote on one connection, and only those: HTTP/2, the byte offset
    just past the frame in that direction's byte stream; HTTP/3, the QUIC packet number of the packet that
    completed the frame, times 2**16, plus the event's rank within that packet. ``None`` when the source cannot
    tell (then time decides).
    """

    connection_id: str
    at: float
    position: int | None = None


@dataclass(slots=True, kw_only=True)
class ConnectionOpened(Event):
    """A transport connection was seen. Fields a source cannot know stay None."""

    client: Endpoint
    server: Endpoint
    transport: Literal["tls", "tcp", "quic"]
    protocol: AppProtocol = "unknown"
    tls_version: str | None = None
    sni: str | None = None
    alpn: str | None = None
    # Which HTTP cache the client used on this connection, when the source knows it (the experiment runs each
    # page load with a cache of its own): connections with one scope share a cache. None: the client's address
    # stands for it, since a capture cannot tell two browsers on one host apart.
    cache_scope: str | None = None


@dataclass(slots=True, kw_only=True)
class ConnectionUpdated(Event):
    """Later knowledge about a connection (ALPN from the ServerHello, decryption status, protocol found)."""

    protocol: AppProtocol | None = None
    tls_version: str | None = None
    sni: str | None = None
    alpn: str | None = None
    decrypted: bool | None = None
    # How it was decrypted: "handshake", "dsb", "cleartext", "trial: key-log line N" (no handshake in the capture).
    decrypted_how: str | None = None
    # The names the server's certificate is valid for (subjectAltName DNS names and IP addresses), once read from
    # the decrypted handshake; None when no certificate was seen.
    certificate_names: tuple[str, ...] | None = None


@dataclass(slots=True, kw_only=True)
class ConnectionClosed(Event):
    """The transport ended (TCP FIN/RST, QUIC CONNECTION_CLOSE) or the capture ended with it still open."""

    how: str = "fin"


@dataclass(slots=True, kw_only=True)
class BytesSeen(Event):
    """Transport payload bytes counted for a connection, decrypted or not."""

    sender: Side
    length: int


@dataclass(slots=True, kw_only=True)
class FrameReceived(Event):
    """Any HTTP/2 or HTTP/3 frame, for the per-stream frame timeline. Typed events follow for frames that matter.

    ``frame_type`` is the protocol's own integer type (the connection says which protocol); the views name it
    with ``decode.frame_names.frame_name``. HTTP/1.1 records a message head as HEADERS (0x1) and body bytes as
    DATA (0x0), the codes HTTP/2 and HTTP/3 share.
    """

    sender: Side
    stream_id: int | None
    frame_type: int
    length: int
    flags: tuple[str, ...] = ()
    push_id: int | None = None


@dataclass(slots=True, kw_only=True)
class SettingsReceived(Event):
    sender: Side
    settings: dict[str, int]


@dataclass(slots=True, kw_only=True)
class HeadersReceived(Event):
    """A complete header block (HEADERS + CONTINUATION, or an HTTP/3 HEADERS frame), decoded.

    ``push_id`` is set for HTTP/3 push streams; ``wire_length`` counts the encoded header block.
    """

    sender: Side
    stream_id: int
    headers: Headers
    end_stream: bool
    wire_length: int
    push_id: int | None = None
    # Names of fields the block carries but the capture cannot show (they refer to an HPACK/QPACK dynamic-table
    # entry inserted before the capture began); they are absent from ``headers``.
    unknown_fields: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class DataReceived(Event):
    """Body bytes on a stream. ``length`` is the flow-controlled size on the wire (payload plus padding)."""

    sender: Side
    stream_id: int
    data: bytes
    length: int
    end_stream: bool
    push_id: int | None = None


@dataclass(slots=True, kw_only=True)
class PushPromiseReceived(Event):
    """The server promised a push on ``stream_id`` (the parent request stream).

    HTTP/2 gives ``promised_stream_id``; HTTP/3 gives ``push_id`` (its stream is known only when it opens).
    """

    sender: Side
    stream_id: int
    promised_stream_id: int | None
    headers: Headers
    wire_length: int
    push_id: int | None = None
    unknown_fields: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class PushStreamOpened(Event):
    """HTTP/3: a server-initiated unidirectional push stream announced its push ID."""

    sender: Side
    stream_id: int
    push_id: int


@dataclass(slots=True, kw_only=True)
class StreamReset(Event):
    """RST_STREAM (HTTP/2) or RESET_STREAM (QUIC): ``sender`` abandoned the stream with ``error_code``."""

    sender: Side
    stream_id: int
    error_code: int
    error_name: str
    push_id: int | None = None


@dataclass(slots=True, kw_only=True)
class StopSendingReceived(Event):
    """QUIC STOP_SENDING: ``sender`` asked the peer to stop sending on the stream."""

    sender: Side
    stream_id: int
    error_code: int
    error_name: str
    push_id: int | None = None


@dataclass(slots=True, kw_only=True)
class PushCancelled(Event):
    """HTTP/3 CANCEL_PUSH, sent by either side."""

    sender: Side
    push_id: int


@dataclass(slots=True, kw_only=True)
class MaxPushIdReceived(Event):
    """HTTP/3 MAX_PUSH_ID from the client."""

    sender: Side
    push_id: int


@dataclass(slots=True, kw_only=True)
class GoAwayReceived(Event):
    sender: Side
    last_stream_id: int
    error_code: int
    error_name: str


@dataclass(slots=True, kw_only=True)
class ProtocolAnomaly(Event):
    """Something a conforming peer would not send, or bytes the decoder could not read. Decoding carries on."""

    sender: Side | None
    message: str
    stream_id: int | None = None


@dataclass(slots=True, kw_only=True)
class PushTruthRecorded(Event):
    """What the client that received a push itself knew of it: the active probe's ground truth for one push.

    Matched to the model's push by ``push_id`` (HTTP/3) or ``stream_id`` (the promised stream, HTTP/2) on the
    connection. ``at`` is when the push was promised. ``outcome``/``reason`` use the verdict rules' own codes,
    so truth and verdict compare on both.
    """

    run: str | int
    url: str
    stream_id: int | None
    push_id: int | None
    outcome: Outcome
    reason: Reason
    detail: str = ""


@dataclass(slots=True, kw_only=True)
class RunStarted:
    """The active probe began one page load (a run). ``cold``: with an empty cache."""

    label: str | int
    index: int
    cold: bool
    at: float
    cached_at_start: int = 0


@dataclass(slots=True, kw_only=True)
class RunFinished:
    """One page load ended: the connections it used, its document and where each resource came from."""

    label: str | int
    at: float
    connections: tuple[str, ...] = ()
    protocols: dict[str, str] = field(default_factory=dict)
    document: str | None = None
    status: int | None = None
    fetched_from: dict[str, int] = field(default_factory=dict)
    error: str | None = None


ConversationStatus = Literal["decoded", "undecodable", "not-web"]


@dataclass(slots=True, kw_only=True)
class ConversationAccounted:
    """One TCP or UDP conversation of a capture and what became of it: every conversation ends in exactly one.

    ``decoded``: its HTTP was read (``protocol``; ``how`` it was decrypted: "handshake", "dsb", "cleartext",
    "trial: key-log line N"). ``undecodable``: it carries application data pushscope could not read (``reason``:
    no key, TLS 1.2 without its handshake, not HTTP ...). ``not-web``: DNS and other traffic that is not HTTP.
    """

    transport: Literal["tcp", "udp"]
    client: Endpoint
    server: Endpoint
    status: ConversationStatus
    packets: int = 0
    bytes: int = 0
    protocol: str = ""
    how: str = ""
    reason: str = ""
    connection_id: str | None = None
    first_at: float | None = None
    last_at: float | None = None
    # The conversation's own name: "t" + tcp.stream or "q" + udp.stream (a connection's id when it is one).
    conversation_id: str = ""


@dataclass(slots=True, kw_only=True)
class Diagnostic:
    """A capture-level message for the user: what was found and what is missing."""

    level: Literal["info", "warning", "error"]
    message: str
    connection_id: str | None = None
    code: str = ""


@dataclass(slots=True, kw_only=True)
class SourceProgress:
    """How far a source has read: ``done`` of ``total`` (bytes or packets; total may be unknown)."""

    done: int
    total: int | None
    unit: str = "bytes"
    detail: str = ""


@dataclass(slots=True, kw_only=True)
class SourceFinished:
    """The source is exhausted; ``summary`` counts what it saw, for diagnostics."""

    summary: dict[str, int] = field(default_factory=dict)


# What a source yields, in order: events and what the model keeps beside them (diagnostics, conversations, the
# probe's runs), how far it has read, and once at the end that it is done. The pipeline folds every one of these.
SourceItem = Event | Diagnostic | ConversationAccounted | RunStarted | RunFinished | SourceProgress | SourceFinished
