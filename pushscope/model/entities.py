"""The capture-independent model: connections, exchanges, pushes, and what the analysis concludes about them.

Built by folding events (see ``builder.py``); read by the analysis, the reports and the UI. Times are seconds
since the epoch, as captured; ``None`` means the capture does not show that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NoReturn, Protocol, TypeVar, overload

from pushscope.events import AppProtocol, ConversationAccounted, Diagnostic, Endpoint, Headers, ProtocolAnomaly, Side
from pushscope.http.headers import header_value, status_code
from pushscope.model.frames import FrameLog
from pushscope.model.frames import FrameRecord as FrameRecord  # re-exported: the model's frame timeline
from pushscope.vocabulary import Outcome, Reason

T = TypeVar("T")

# Bodies the analysis must read (documents and stylesheets) are kept up to this size each.
BODY_KEEP_LIMIT = 8 * 1024 * 1024


class FrozenEmptyList(list):
    """The one empty list that every exchange without informational responses or trailers, and every connection
    without goaways or anomalies, shares (an empty list set on an exchange reads as this one, ``_Rare``).

    Shared, so it refuses to grow: the builder assigns a new list instead of appending to it."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a compacted model's shared empty list cannot change: assign a new list")

    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return _frozen_empty, ()


EMPTY = FrozenEmptyList()


def _frozen_empty() -> FrozenEmptyList:
    return EMPTY


@dataclass(slots=True)
class Reset:
    """Who abandoned a stream or push, how and when."""

    by: Side
    code: int
    name: str
    at: float
    kind: Literal["RST_STREAM", "RESET_STREAM", "STOP_SENDING", "CANCEL_PUSH"]

    @property
    def label(self) -> str:
        """"RST_STREAM CANCEL"; a CANCEL_PUSH carries no error code, so it is just "CANCEL_PUSH"."""
        return self.kind if self.name in ("", self.kind) else f"{self.kind} {self.name}"


@dataclass(slots=True)
class Connection:
    id: str
    index: int
    client: Endpoint
    server: Endpoint
    transport: Literal["tls", "tcp", "quic"]
    opened_at: float
    protocol: AppProtocol = "unknown"
    tls_version: str | None = None
    sni: str | None = None
    alpn: str | None = None
    decrypted: bool | None = None
    decrypted_how: str | None = None
    # subjectAltName DNS names and IP addresses of the server's certificate (None: no certificate seen).
    certificate_names: tuple[str, ...] | None = None
    # The client's HTTP cache, when the source named it (see ConnectionOpened.cache_scope).
    cache_scope: str | None = None
    closed_at: float | None = None
    close_how: str | None = None
    settings: dict[str, dict[str, int]] = field(default_factory=lambda: {"client": {}, "server": {}})
    bytes_sent: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    # (Both start as the shared empty list: most connections have neither. The builder makes a list of its own
    # for the first one, ``growable``.)
    goaways: list[tuple[Side, int, str, float]] = field(default_factory=lambda: EMPTY)
    max_push_id: int | None = None
    anomalies: list[ProtocolAnomaly] = field(default_factory=lambda: EMPTY)
    frames: FrameLog = field(default_factory=FrameLog)
    frame_count: int = 0

    @property
    def push_enabled_by_client(self) -> bool:
        """HTTP/2: ENABLE_PUSH defaults to 1. HTTP/3: push needs a MAX_PUSH_ID from the client."""
        if self.protocol == "h3":
            return self.max_push_id is not None
        return self.settings["client"].get("ENABLE_PUSH", 1) != 0

    @property
    def ended_cleanly(self) -> bool:
        return self.close_how not in (None, "capture-end")


def _is_default(value: object, default: object) -> bool:
    """Whether ``value`` is what a rare field reads when unset: None for None, and an empty value of the default's
    kind (any empty list for the shared empty one); never 0 for False, nor False for 0."""
    if default is None:
        return value is None
    if default is EMPTY:
        return type(value) in (list, FrozenEmptyList) and not value
    return type(value) is type(default) and value == default


class _KeepsRare(Protocol):
    rare: dict[str, Any] | None


class _Rare(Generic[T]):
    """A field that nearly every object of its class leaves at ``default`` (``Exchange``, ``Push``): read from the
    object's ``rare`` dict, and only set there when it differs. Each change makes a new dict (``dataclasses.replace``
    copies share the old one)."""

    __slots__ = ("name", "default")

    def __init__(self, name: str, default: T) -> None:
        self.name, self.default = name, default

    @overload
    def __get__(self, thing: None, owner: type) -> _Rare[T]: ...

    @overload
    def __get__(self, thing: _KeepsRare, owner: type) -> T: ...

    def __get__(self, thing: _KeepsRare | None, owner: type) -> T | _Rare[T]:
        if thing is None:
            return self
        rare = thing.rare
        return self.default if rare is None else rare.get(self.name, self.default)

    def __set__(self, thing: _KeepsRare, value: T) -> None:
        rare, name = thing.rare, self.name
        if _is_default(value, self.default):
            if rare is not None and name in rare:
                thing.rare = {key: kept for key, kept in rare.items() if key != name} or None
        elif rare is None or name not in rare or rare[name] is not value:
            thing.rare = {**(rare or {}), name: value}


@dataclass(slots=True)
class Exchange:
    """One request/response: a client request, or a server push's promised request and pushed response.

    The fields that nearly every exchange leaves at their default (``RARE_EXCHANGE_FIELDS``: an HTTP/3 push ID,
    informational responses, trailers, a request body, a truncated body, a reset, request fields the capture cannot
    show, an assumed authority) read as attributes but are kept in one optional dict, ``rare``: seven slots fewer
    per exchange, 184 bytes against 240 (a gigabyte capture holds 884,000 of them). Set them as attributes after
    construction (``Exchange.with_rare``)."""

    id: int
    connection_id: str
    protocol: Literal["h2", "h3", "http/1.1"]
    stream_id: int | None
    pushed: bool = False
    request_headers: Headers = field(default_factory=list)
    response_headers: Headers = field(default_factory=list)
    request_start: float | None = None
    request_end: float | None = None
    response_start: float | None = None
    response_end: float | None = None
    request_header_bytes: int = 0
    response_header_bytes: int = 0
    body_bytes: int = 0
    body: bytes | bytearray = b""  # kept for documents and stylesheets only (see builder.KEPT_CONTENT_TYPES)
    first_data_at: float | None = None
    frames: FrameLog = field(default_factory=FrameLog)
    # Wire order within the connection (``Event.position``) of the response's last frame (server side): times
    # tie for frames sharing a packet, this does not.
    response_end_position: int | None = None
    # The rare fields that differ from their default, by name (None: all at their default); see the properties.
    rare: dict[str, Any] | None = None

    # (Not annotated: an annotation would make each a dataclass field, with a slot of its own.)
    push_id = _Rare[int | None]("push_id", None)
    informational = _Rare[list[Headers]]("informational", EMPTY)
    trailers = _Rare[Headers]("trailers", EMPTY)
    request_body_bytes = _Rare[int]("request_body_bytes", 0)
    body_truncated = _Rare[bool]("body_truncated", False)
    reset = _Rare[Reset | None]("reset", None)
    # Request fields the capture cannot show (see ``HeadersReceived.unknown_fields``).
    unknown_fields = _Rare[tuple[str, ...]]("unknown_fields", ())
    # When :authority is unknown: the one assumed from what the connection shows (other requests, SNI).
    assumed_authority = _Rare[str]("assumed_authority", "")

    def with_rare(self, **values: Any) -> Exchange:
        """This exchange with rare fields set (as attributes); for building one in a single expression."""
        return _with_rare(self, RARE_EXCHANGE_FIELDS, values)

    @property
    def url_known(self) -> bool:
        """False when the URL rests on a field the capture cannot show: such a URL equals no other URL."""
        return not {":path", ":authority", ":scheme"} & set(self.unknown_fields)

    @property
    def method(self) -> str:
        return header_value(self.request_headers, ":method") or ""

    @property
    def authority(self) -> str:
        return header_value(self.request_headers, ":authority") or header_value(self.request_headers, "host") or ""

    @property
    def path(self) -> str:
        return header_value(self.request_headers, ":path") or ""

    @property
    def scheme(self) -> str:
        return header_value(self.request_headers, ":scheme") or "https"

    @property
    def url(self) -> str:
        if not self.request_headers and not self.unknown_fields:
            return ""
        path = "/<unknown path>" if ":path" in self.unknown_fields else self.path
        authority = self.authority or self.assumed_authority
        if not authority and ":authority" in self.unknown_fields:
            authority = "<unknown authority>"
        return f"{self.scheme}://{authority}{path}"

    @property
    def status(self) -> int | None:
        return status_code(header_value(self.response_headers, ":status"))

    @property
    def content_type(self) -> str:
        value = header_value(self.response_headers, "content-type") or ""
        return value.split(";")[0].strip().lower()

    @property
    def complete(self) -> bool:
        return self.response_end is not None


RARE_EXCHANGE_FIELDS = tuple(name for name, value in vars(Exchange).items() if isinstance(value, _Rare))

K = TypeVar("K", bound=_KeepsRare)


def _with_rare(thing: K, names: tuple[str, ...], values: dict[str, Any]) -> K:
    for name, value in values.items():
        if name not in names:
            raise TypeError(f"{name!r} is not a rare field of {type(thing).__name__}")
        setattr(thing, name, value)
    return thing


@dataclass(slots=True)
class Evidence:
    """One fact behind a verdict, pointing at a moment in the capture."""

    kind: str
    text: str
    at: float | None = None
    exchange_id: int | None = None
    stream_id: int | None = None


@dataclass(slots=True)
class PushCost:
    """What a push cost and what it saved; seconds, bytes. ``None`` where the capture cannot tell."""

    pushed_bytes: int = 0
    header_bytes: int = 0
    body_bytes: int = 0
    duration: float | None = None
    competed_bytes: int = 0
    competed_delay: float | None = None
    saved_time: float | None = None
    late_by: float | None = None
    wasted_bytes: int = 0


@dataclass(frozen=True, slots=True)
class TruthAgreement:
    """How a push's verdict compares with what the client itself knew (set by the analysis)."""

    outcome: bool
    reason: bool

    @property
    def agrees(self) -> bool:
        return self.outcome and self.reason

    @property
    def difference(self) -> str:
        return "agrees" if self.agrees else ("the reason differs" if self.outcome else "the outcome differs")


@dataclass(slots=True)
class PushTruth:
    """What the client that received a push itself knew of it (``PushTruthRecorded``): the probe's ground truth."""

    connection_id: str
    run: str | int
    url: str
    stream_id: int | None
    push_id: int | None
    promised_at: float
    outcome: Outcome
    reason: Reason
    detail: str = ""
    # Filled by the analysis once the push has a verdict; None for a truth that matches no push in the model.
    agreement: TruthAgreement | None = None


@dataclass(slots=True)
class Run:
    """One page load of the active probe (``RunStarted`` .. ``RunFinished``), on its own connections."""

    label: str | int
    index: int
    cold: bool
    started_at: float
    cached_at_start: int = 0
    ended_at: float | None = None
    connections: tuple[str, ...] = ()
    protocols: dict[str, str] = field(default_factory=dict)
    document: str | None = None
    status: int | None = None
    fetched_from: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.ended_at is not None


@dataclass(slots=True)
class Push:
    """One promised push (HTTP/2 PUSH_PROMISE; HTTP/3 push ID, possibly promised on several streams).

    As for ``Exchange``, the fields nearly every push leaves at their default (``RARE_PUSH_FIELDS``) are kept in
    one optional dict, ``rare``: 176 bytes a push, not 224. Set them as attributes (``Push.with_rare``)."""

    id: int
    connection_id: str
    protocol: Literal["h2", "h3"]
    parent_stream_id: int | None
    promised_stream_id: int | None
    promised_at: float
    promise_headers: Headers = field(default_factory=list)
    promise_wire_bytes: int = 0
    references: list[tuple[int, float]] = field(default_factory=list)
    exchange_id: int | None = None
    outcome: Outcome = Outcome.UNKNOWN
    reason: Reason = Reason.NONE
    evidence: Sequence[Evidence] = field(default_factory=list)  # the analysis renders it when read
    cost: PushCost = field(default_factory=PushCost)
    advice: str = ""
    advice_text: str = ""
    # Wire order of the (first) PUSH_PROMISE among the server's events on the connection (``Event.position``).
    promised_position: int | None = None
    rare: dict[str, Any] | None = None  # the rare fields that differ from their default, by name

    # (Not annotated: see ``Exchange``.)
    push_id = _Rare[int | None]("push_id", None)
    reset = _Rare[Reset | None]("reset", None)
    reason_detail = _Rare[str]("reason_detail", "")
    preload_link = _Rare[str | None]("preload_link", None)
    # Promised request fields the capture cannot show (see ``HeadersReceived.unknown_fields``).
    unknown_fields = _Rare[tuple[str, ...]]("unknown_fields", ())
    assumed_authority = _Rare[str]("assumed_authority", "")  # as for Exchange
    # What the client that received it knew (the probe's truth), when the source knows.
    truth = _Rare[PushTruth | None]("truth", None)

    def with_rare(self, **values: Any) -> Push:
        """This push with rare fields set (as attributes); for building one in a single expression."""
        return _with_rare(self, RARE_PUSH_FIELDS, values)

    @property
    def url_known(self) -> bool:
        return not {":path", ":authority", ":scheme"} & set(self.unknown_fields)

    @property
    def url(self) -> str:
        scheme = header_value(self.promise_headers, ":scheme") or "https"
        authority = header_value(self.promise_headers, ":authority") or self.assumed_authority
        path = header_value(self.promise_headers, ":path") or ""
        if not authority and ":authority" in self.unknown_fields:
            authority = "<unknown authority>"
        if ":path" in self.unknown_fields:
            path = "/<unknown path>"
        return f"{scheme}://{authority}{path}" if path or authority else ""


RARE_PUSH_FIELDS = tuple(name for name, value in vars(Push).items() if isinstance(value, _Rare))


@dataclass(slots=True)
class Capture:
    """Everything known about one capture or probe session."""

    source: str
    name: str = ""
    connections: dict[str, Connection] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Every TCP/UDP conversation of the capture and what became of it (empty for sources that do not know).
    conversations: list[ConversationAccounted] = field(default_factory=list)
    started_at: float | None = None
    ended_at: float | None = None
    analysed: bool = False
    # The active probe's page loads, and its truths that match no push in the model (both empty for a capture).
    runs: list[Run] = field(default_factory=list)
    unmatched_truth: list[PushTruth] = field(default_factory=list)
    # exchange id -> push, extended as pushes are appended (they never are removed or reordered).
    _push_by_exchange: dict[int, Push] = field(default_factory=dict, init=False, repr=False, compare=False)
    _pushes_indexed: int = field(default=0, init=False, repr=False, compare=False)
    # (connection id, parent stream id) -> pushes promised on it, extended as pushes are appended. A push appended
    # before its promise (an HTTP/3 push stream that came first) has no parent stream yet: it waits in
    # _pushes_unplaced until its promise sets one (the builder sets it once, from the first PUSH_PROMISE).
    _pushes_by_stream: dict[tuple[str, int], list[Push]] = field(default_factory=dict, init=False, repr=False,
                                                                 compare=False)
    _pushes_unplaced: list[Push] = field(default_factory=list, init=False, repr=False, compare=False)
    _pushes_placed: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def probed(self) -> bool:
        """The source is a client that knew what it did (runs or push truths): reports show that knowledge."""
        return bool(self.runs or self.unmatched_truth) or any(push.truth is not None for push in self.pushes)

    @property
    def runs_by_connection(self) -> dict[str, str | int]:
        return {cid: run.label for run in self.runs for cid in run.connections}

    def exchange(self, exchange_id: int | None) -> Exchange | None:
        if exchange_id is None or not 0 <= exchange_id < len(self.exchanges):
            return None
        return self.exchanges[exchange_id]

    def push(self, push_id: int | None) -> Push | None:
        if push_id is None or not 0 <= push_id < len(self.pushes):
            return None
        return self.pushes[push_id]

    def push_for_exchange(self, exchange: Exchange) -> Push | None:
        if self._pushes_indexed != len(self.pushes):
            for push in self.pushes[self._pushes_indexed:]:
                if push.exchange_id is not None:
                    self._push_by_exchange[push.exchange_id] = push
            self._pushes_indexed = len(self.pushes)
        return self._push_by_exchange.get(exchange.id)

    def pushes_on_stream(self, connection_id: str, stream_id: int | None) -> list[Push]:
        """The pushes promised on one stream, in the order they were promised: without a pass over every push (the
        detail pane asks for each row it shows)."""
        if stream_id is None:
            return []
        if self._pushes_placed != len(self.pushes) or self._pushes_unplaced:
            waiting, self._pushes_unplaced = self._pushes_unplaced, []
            placed = self._pushes_placed
            self._pushes_placed = len(self.pushes)
            for push in waiting + self.pushes[placed:self._pushes_placed]:
                if push.parent_stream_id is None:
                    self._pushes_unplaced.append(push)
                else:
                    self._pushes_by_stream.setdefault((push.connection_id, push.parent_stream_id), []).append(push)
        found = self._pushes_by_stream.get((connection_id, stream_id), ())
        # (Checked again: an index never answers for a push whose stream is no longer this one.)
        return sorted((p for p in found if p.connection_id == connection_id and p.parent_stream_id == stream_id),
                      key=lambda push: push.id)
