"""qlog export (JSON, qlog_version "0.3"): one trace per connection, loadable in qvis.

HTTP/3 connections use the HTTP/3 event definitions of that qlog generation (``http:frame_created`` /
``http:frame_parsed`` with a ``frame`` object, ``http:stream_type_set``, ``http:push_resolved``); QUIC's
RESET_STREAM and STOP_SENDING, which are transport frames, appear as one-frame ``transport:packet_*`` events.
qlog has no HTTP/2 definitions in that generation, so HTTP/2 connections get the same shapes under ``http2:``.

A capture is a network vantage point, so each trace says ``{"type": "network", "flow": "client"}``: frames the
client sent are "created", frames the server sent are "parsed", as a client-side log would have them.
Events come from the model: per-stream frame records, connection-level frames, push promises, resets and
cancels, and each push's verdict. Header values are redacted like every other export.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pushscope import __version__
from pushscope.decode.frame_names import frame_name
from pushscope.http.redaction import redact_headers
from pushscope.model.entities import Capture, Connection, Exchange, FrameRecord, Push
from pushscope.vocabulary import Outcome

QLOG_VERSION = "0.3"
RESET_KINDS = ("RST_STREAM", "RESET_STREAM", "STOP_SENDING")
# Frames whose content the model holds elsewhere (with more detail): they are emitted from those facts.
FROM_MODEL = ("PUSH_PROMISE", "CANCEL_PUSH", "GOAWAY", *RESET_KINDS)
# Frames that belong to a request or response stream, even when the model filed them at connection level.
STREAM_FRAMES = ("HEADERS", "DATA", "CONTINUATION")
# http:push_resolved's decision for a judged push; an unknown outcome has none.
QLOG_DECISIONS = {Outcome.USED: "claimed", Outcome.WASTED: "abandoned", Outcome.CACHE_DUPLICATED: "abandoned"}


H3_FRAME_TYPES = ("data", "headers", "cancel_push", "settings", "push_promise", "goaway", "max_push_id",
                  "duplicate_push", "priority_update")
H2_FRAME_TYPES = ("data", "headers", "priority", "rst_stream", "settings", "push_promise", "ping", "goaway",
                  "window_update", "continuation", "altsvc", "origin", "priority_update")


def _frame_base(record: FrameRecord, kind: str, prefix: str) -> dict[str, Any]:
    """``{"frame_type": ...}`` with qlog's names; a type it has no name for becomes "unknown" or "reserved"."""
    name = kind.lower()
    if name in (H3_FRAME_TYPES if prefix == "http" else H2_FRAME_TYPES):
        return {"frame_type": name}
    frame: dict[str, Any] = {"frame_type": "reserved" if name.startswith("reserved") else "unknown"}
    if "_0x" in name:  # the protocol has no name for it: its code says what it was
        frame["raw_frame_type"] = record.frame_type
    frame["name"] = kind
    return frame


def _field_list(headers: list[tuple[str, str]], redact: bool) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in redact_headers(headers, redact)]


class _Trace:
    """Collects one connection's events, relative to the moment the connection was first seen."""

    def __init__(self, conn: Connection, redact: bool) -> None:
        self.conn, self.redact = conn, redact
        self.prefix = "http" if conn.protocol == "h3" else "http2"
        self.events: list[tuple[float, int, dict[str, Any]]] = []
        # HTTP/3 control stream of each side, learned from its frames: connection-level frames belong to it.
        self.control: dict[str, int] = {}

    def name(self, record: FrameRecord) -> str:
        """The record's frame type by name, in the connection's protocol."""
        return frame_name(self.conn.protocol, record.frame_type, quic=record.quic)

    def control_stream(self, sender: str) -> int | None:
        """Where a connection-level frame travels: stream 0 in HTTP/2, the sender's control stream in HTTP/3."""
        return 0 if self.prefix == "http2" else self.control.get(sender)

    def add(self, at: float, name: str, data: dict[str, Any]) -> None:
        time = round((at - self.conn.opened_at) * 1000, 3)
        self.events.append((time, len(self.events), {"time": time, "name": name, "data": data}))

    def frame(self, at: float, sender: str, frame: dict[str, Any], stream_id: int | None, length: int | None,
              flags: tuple[str, ...] = ()) -> None:
        verb = "frame_created" if sender == "client" else "frame_parsed"
        data: dict[str, Any] = {}
        if stream_id is not None:
            data["stream_id"] = stream_id
        if length is not None:
            data["length"] = length
        data["frame"] = frame
        if flags and self.prefix == "http2":
            data["flags"] = list(flags)
        self.add(at, f"{self.prefix}:{verb}", data)

    def reset(self, at: float, sender: str, kind: str, stream_id: int | None, error: str) -> None:
        if self.prefix == "http2":
            self.frame(at, sender, {"frame_type": "rst_stream", "error_code": error}, stream_id, 4)
            return
        verb = "packet_sent" if sender == "client" else "packet_received"
        frame: dict[str, Any] = {"frame_type": kind.lower(), "error_code": error}
        if stream_id is not None:
            frame["stream_id"] = stream_id
        self.add(at, f"transport:{verb}", {"header": {"packet_type": "1RTT"}, "frames": [frame]})

    def result(self) -> list[dict[str, Any]]:
        return [event for _, _, event in sorted(self.events, key=lambda e: (e[0], e[1]))]


def _stream_frames(conn: Connection, exchanges: list[Exchange]) -> tuple[dict[int, list[FrameRecord]],
                                                                         list[FrameRecord]]:
    """Frame records per exchange of ``conn``, with stream frames filed at connection level put back on their
    stream.

    A HEADERS record can reach ``Connection.frames`` when its frame was seen before the stream's exchange
    existed; it is matched back by its moment (the request or response start it completed).
    """
    per: dict[int, list[FrameRecord]] = {e.id: list(e.frames) for e in exchanges}
    by_stream = {e.stream_id: e for e in exchanges if e.stream_id is not None}
    by_moment: dict[tuple[str, float], Exchange] = {}
    for e in exchanges:
        if e.request_start is not None and not e.pushed:
            by_moment.setdefault(("client", e.request_start), e)
        if e.response_start is not None:
            by_moment.setdefault(("server", e.response_start), e)
    rest: list[FrameRecord] = []
    for record in conn.frames:
        sid = getattr(record, "stream_id", None)  # in case the model records it one day
        owner = by_stream.get(sid) if sid is not None else None
        if owner is None and frame_name(conn.protocol, record.frame_type, quic=record.quic) in STREAM_FRAMES:
            owner = by_moment.get((record.sender, record.at))
        if owner is not None:
            per[owner.id].append(record)
        else:
            rest.append(record)
    for records in per.values():
        records.sort(key=lambda r: r.at)
    return per, rest


def _exchange_events(trace: _Trace, exchange: Exchange, records: list[FrameRecord], push: Push | None,
                     seen_resets: set[tuple[float, str, str]]) -> None:
    blocks = {"client": [exchange.request_headers] if not exchange.pushed else [],
              "server": [*exchange.informational, exchange.response_headers]}
    if exchange.trailers:
        blocks["server" if exchange.response_headers else "client"].append(exchange.trailers)
    sid = exchange.stream_id
    if push is not None and trace.prefix == "http" and sid is not None:
        first = records[0].at if records else push.promised_at
        trace.add(first, "http:stream_type_set",
                  {"stream_id": sid, "owner": "remote", "new": "push", "associated_push_id": push.push_id})
    for record in records:
        kind = trace.name(record)
        if kind in RESET_KINDS:
            key = (round(record.at, 6), record.sender, kind)
            if key not in seen_resets:
                seen_resets.add(key)
                error = record.flags[0] if record.flags else (exchange.reset.name if exchange.reset else "")
                trace.reset(record.at, record.sender, kind, sid, error)
            continue
        if kind in FROM_MODEL:
            continue
        frame = _frame_base(record, kind, trace.prefix)
        if kind == "HEADERS":
            queue = blocks[record.sender]
            frame["headers"] = _field_list(queue.pop(0), trace.redact) if queue else []
        trace.frame(record.at, record.sender, frame, sid, record.length, record.flags)
    reset = exchange.reset
    if reset is not None and reset.kind in RESET_KINDS:
        key = (round(reset.at, 6), reset.by, reset.kind)
        if key not in seen_resets:
            seen_resets.add(key)
            trace.reset(reset.at, reset.by, reset.kind, sid, reset.name)


def _push_events(trace: _Trace, push: Push, exchange: Exchange | None, seen: set[tuple[float, str, str]]) -> None:
    references: Sequence[tuple[int | None, float]] = push.references or [(push.parent_stream_id, push.promised_at)]
    for parent, at in references:
        frame: dict[str, Any] = {"frame_type": "push_promise"}
        if trace.prefix == "http":
            frame["push_id"] = push.push_id
        else:
            frame["promised_stream_id"] = push.promised_stream_id
        frame["headers"] = _field_list(push.promise_headers, trace.redact)
        trace.frame(at, "server", frame, parent, push.promise_wire_bytes)
    reset = push.reset
    if reset is not None and reset.kind == "CANCEL_PUSH":
        trace.frame(reset.at, reset.by, {"frame_type": "cancel_push", "push_id": push.push_id},
                    trace.control_stream(reset.by), None)
    elif reset is not None and (round(reset.at, 6), reset.by, reset.kind) not in seen:
        seen.add((round(reset.at, 6), reset.by, reset.kind))
        trace.reset(reset.at, reset.by, reset.kind, push.promised_stream_id, reset.name)
    ends = [t for t in (reset.at if reset else None, exchange.response_end if exchange else None) if t is not None]
    data: dict[str, Any] = {}
    if push.push_id is not None:
        data["push_id"] = push.push_id
    if push.promised_stream_id is not None:
        data["stream_id"] = push.promised_stream_id
    decision = QLOG_DECISIONS.get(push.outcome)
    if decision:
        data["decision"] = decision
    data.update(outcome=push.outcome, reason=push.reason, wasted_bytes=push.cost.wasted_bytes,
                pushed_bytes=push.cost.pushed_bytes, url=push.url)
    # http:push_resolved requires a decision (claimed or abandoned); a push nobody can judge is not resolved, so
    # its verdict goes in an event of our own namespace rather than a malformed standard one.
    name = f"{trace.prefix}:push_resolved" if decision or trace.prefix == "http2" else "pushscope:push_verdict"
    trace.add(min(ends) if ends else push.promised_at, name, data)


def _connection_events(trace: _Trace, rest: list[FrameRecord]) -> None:
    conn = trace.conn
    settings_done: set[str] = set()
    max_push = [r for r in rest if trace.name(r) == "MAX_PUSH_ID" and r.sender == "client"]
    for record in rest:
        kind = trace.name(record)
        if kind in FROM_MODEL:
            continue
        frame = _frame_base(record, kind, trace.prefix)
        if kind == "SETTINGS" and "ACK" not in record.flags and record.sender not in settings_done:
            settings_done.add(record.sender)
            frame["settings"] = [{"name": k.lower(), "value": v} for k, v in conn.settings[record.sender].items()]
        elif kind == "MAX_PUSH_ID" and record is (max_push[-1] if max_push else None):
            frame["push_id"] = conn.max_push_id
        stream = record.stream_id if record.stream_id is not None else trace.control_stream(record.sender)
        trace.frame(record.at, record.sender, frame, stream, record.length, record.flags)
    for side in ("client", "server"):
        if side not in settings_done and conn.settings[side]:
            frame = {"frame_type": "settings",
                     "settings": [{"name": k.lower(), "value": v} for k, v in conn.settings[side].items()]}
            trace.frame(conn.opened_at, side, frame, trace.control_stream(side), None)
    for by, last, error, at in conn.goaways:
        frame = {"frame_type": "goaway", "id": last} if trace.prefix == "http" else {
            "frame_type": "goaway", "last_stream_id": last, "error_code": error}
        trace.frame(at, by, frame, trace.control_stream(by), None)


def trace_dict(capture: Capture, conn: Connection, *, redact: bool = True,
               exchanges: list[Exchange] | None = None, pushes: list[Push] | None = None) -> dict[str, Any]:
    """One connection's trace; ``exchanges`` and ``pushes`` are the connection's own, when the caller knows them
    (in capture order), so a capture of many connections is not read once per connection."""
    if exchanges is None:
        exchanges = [e for e in capture.exchanges if e.connection_id == conn.id]
    if pushes is None:
        pushes = [p for p in capture.pushes if p.connection_id == conn.id]
    trace = _Trace(conn, redact)
    per, rest = _stream_frames(conn, exchanges)
    trace.control = {r.sender: r.stream_id for r in rest
                     if trace.name(r) in ("SETTINGS", "MAX_PUSH_ID", "GOAWAY") and r.stream_id is not None}
    by_exchange = {p.exchange_id: p for p in pushes}
    seen: set[tuple[float, str, str]] = set()
    for exchange in exchanges:
        _exchange_events(trace, exchange, per.get(exchange.id, []), by_exchange.get(exchange.id), seen)
    for push in by_exchange.values():
        _push_events(trace, push, capture.exchange(push.exchange_id), seen)
    _connection_events(trace, rest)
    return {
        "title": f"connection {conn.id}",
        "description": f"{conn.protocol} {conn.client} -> {conn.server} ({conn.transport})",
        "vantage_point": {"name": "pushscope", "type": "network", "flow": "client"},
        "common_fields": {"group_id": conn.id, "protocol_type": ["HTTP3" if conn.protocol == "h3" else "HTTP2"],
                          "reference_time": round(conn.opened_at * 1000, 3), "time_format": "relative"},
        "events": trace.result(),
    }


def _traces(capture: Capture, redact: bool) -> Iterator[dict[str, Any]]:
    """Each HTTP/2 or HTTP/3 connection's trace with any event, one at a time."""
    exchanges: dict[str, list[Exchange]] = {}
    for exchange in capture.exchanges:
        exchanges.setdefault(exchange.connection_id, []).append(exchange)
    pushes: dict[str, list[Push]] = {}
    for push in capture.pushes:
        pushes.setdefault(push.connection_id, []).append(push)
    for conn in capture.connections.values():
        if conn.protocol in ("h2", "h3"):
            trace = trace_dict(capture, conn, redact=redact, exchanges=exchanges.get(conn.id, []),
                               pushes=pushes.get(conn.id, []))
            if trace["events"]:
                yield trace


def qlog_document(capture: Capture, *, redact: bool = True) -> dict[str, Any]:
    """The qlog document with its traces as an iterator, made one connection at a time as they are read."""
    return {
        "qlog_version": QLOG_VERSION, "qlog_format": "JSON",
        "title": f"pushscope {__version__}: {capture.name or capture.source}",
        "description": "HTTP/2 and HTTP/3 frames and server push verdicts, from a packet capture",
        "traces": _traces(capture, redact),
    }


def qlog_dict(capture: Capture, *, redact: bool = True) -> dict[str, Any]:
    """The whole qlog document (its traces in a list)."""
    document = qlog_document(capture, redact=redact)
    document["traces"] = list(document["traces"])
    return document


def qlog_chunks(capture: Capture, *, redact: bool = True) -> Iterator[str]:
    """The qlog file as pieces of text, one trace at a time: the text of ``render_qlog``."""
    from pushscope.export.json_stream import indented_chunks

    return indented_chunks(qlog_document(capture, redact=redact), indent=1)


def render_qlog(capture: Capture, *, redact: bool = True) -> str:
    return "".join(qlog_chunks(capture, redact=redact))
