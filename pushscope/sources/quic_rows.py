"""Turning tshark's per-datagram QUIC rows into connection events and HTTP/3 decoder input.

tshark decrypts QUIC (given a key log or a pcapng with embedded secrets) and prints, per UDP datagram, every
QUIC field with ``-E occurrence=a``. A datagram can hold several coalesced QUIC packets and a packet several
frames, and optional fields (a STREAM frame's offset and length) are printed only when present, so the value
lists do not line up by index. We walk ``quic.frame_type`` in order and take, for each frame, the values its
type always carries, using the per-frame OFF/LEN flags to know whether an offset or a length was printed.
STREAM data then goes through :mod:`pushscope.decode.reassembly` (retransmissions, reordering, holes) and
on to :class:`pushscope.decode.h3.H3ConnectionDecoder`.

Each ``udp.stream`` is one connection, ``"q" + udp.stream``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

from pushscope.decode.h3 import H3ConnectionDecoder
from pushscope.decode.h3_frames import error_name
from pushscope.decode.quic_frames import StreamFrame as _StreamFrame
from pushscope.decode.reassembly import StreamReassembler
from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    Diagnostic,
    Endpoint,
    Event,
    ProtocolAnomaly,
    Side,
)
from pushscope.sources.fields import endpoints, field_first, field_int, field_list
from pushscope.sources.keylog import KeyLogSummary, connection_label, decryption_summary, why_not_decrypted
from pushscope.sources.quic_midway import MIDWAY_TABLE_CAPACITY, midway_stream_start
from pushscope.sources.tshark import CERTIFICATE_FIELDS, certificate_names

QUIC_FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "icmp.type",
    "icmpv6.type",
    "udp.stream",
    "quic.connection.number",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "quic.header_form",
    "quic.long.packet_type",
    "quic.version",
    "quic.packet_number",
    "quic.decryption_failed",
    "quic.frame_type",
    "quic.stream.stream_id",
    "quic.stream.off",
    "quic.stream.len",
    "quic.stream.fin",
    "quic.stream.offset",
    "quic.stream.length",
    "quic.stream_data",
    "quic.rsts.stream_id",
    "quic.rsts.application_error_code",
    "quic.ss.stream_id",
    "quic.ss.application_error_code",
    "quic.cc.error_code",
    "quic.cc.error_code.app",
    "tls.handshake.type",
    "tls.handshake.random",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    *CERTIFICATE_FIELDS,
]

# tshark's own HTTP/3 dissector adds nothing we read (quic.stream_data is printed either way) but keeps its
# own reassembly buffers; switching it off saves that work.
QUIC_TSHARK_ARGS = ["--disable-protocol", "http3"]

# tshark dissects UDP port 443 as QUIC by itself (and finds most other QUIC by heuristics); for other ports a
# decode-as rule makes sure.
DEFAULT_QUIC_PORTS = (443,)

STREAM_FRAMES = range(0x08, 0x10)
RESET_STREAM, STOP_SENDING = 0x04, 0x05
CONNECTION_CLOSE_QUIC, CONNECTION_CLOSE_APP = 0x1C, 0x1D
LONG_INITIAL = "0"
H3_EVIDENCE = ("SettingsReceived", "HeadersReceived")
TLS_CLIENT_HELLO, TLS_SERVER_HELLO = "1", "2"

Output = list[Event | Diagnostic]


def quic_decode_as_args(ports: Iterable[int]) -> list[str]:
    """``-d udp.port==N,quic`` for each server port that is not 443."""
    args: list[str] = []
    for port in sorted(set(ports)):
        if port not in DEFAULT_QUIC_PORTS:
            args += ["-d", f"udp.port=={port},quic"]
    return args


@dataclass(slots=True)
class _Frames:
    """The frames of one datagram that we act on, in wire order, as (kind, payload)."""

    items: list[tuple[str, object]] = field(default_factory=list)
    misaligned: bool = False


@dataclass(slots=True)
class _QuicConnection:
    connection_id: str
    first_at: float
    client: Endpoint | None = None
    server: Endpoint | None = None
    opened: bool = False
    last_at: float = 0.0
    version: str | None = None
    sni: str | None = None
    offered_alpn: str | None = None
    alpn: str | None = None
    announced_alpn: str | None = None
    client_random: str | None = None
    protocol: str = "unknown"
    short_ok: int = 0
    short_failed: int = 0
    long_failed: int = 0
    initial_failed: bool = False
    decrypted_announced: bool | None = None
    diagnosed: bool = False
    streams: dict[tuple[Side, int], StreamReassembler] = field(default_factory=dict)
    reset_streams: set[tuple[Side, int]] = field(default_factory=set)
    decoder: H3ConnectionDecoder | None = None
    closed: bool = False
    trial_how: str | None = None  # decrypted by pushscope's own trial (no handshake): which key-log line
    trial_ok: int = 0


class QuicRowReader:
    """Feeds QUIC rows of one capture; keeps per-connection state; emits events in capture order."""

    def __init__(self, keylog: KeyLogSummary | None = None, server_ports: Iterable[int] = (),
                 *, trial: bool = False) -> None:
        self._connections: dict[str, _QuicConnection] = {}
        self._keylog = keylog
        self._server_ports = set(server_ports) | set(DEFAULT_QUIC_PORTS)
        # With trial decryption on, a connection tshark could not decrypt is diagnosed at the end, once the
        # trial has had its chance.
        self._trial = trial
        self._by_number: dict[str, str] = {}  # tshark's quic.connection.number -> first udp.stream
        self._moved: dict[str, str] = {}  # udp.stream of a new path -> udp.stream of its connection

    def feed(self, row: Mapping[str, str], at: float, frame_number: int) -> Output:
        stream = row.get("udp.stream", "")
        if not stream or not row.get("quic.header_form") or row.get("icmp.type") or row.get("icmpv6.type"):
            return []  # not QUIC (DNS, ...), or a UDP header quoted inside an ICMP error
        stream = self._same_connection(stream, field_first(row, "quic.connection.number"))
        conn = self._connections.get(stream)
        if conn is None:
            conn = self._connections[stream] = _QuicConnection(f"q{stream}", first_at=at)
        conn.last_at = at
        src, dst = endpoints(row, "udp")
        out: Output = []
        opening = conn.client is None
        if opening:
            self._learn_direction(conn, row, src, dst)
        sender = _sender(conn, src)
        facts = self._tls_facts(conn, row, sender, at)
        if opening:
            out.append(self._open(conn, at))  # carries what this first row told (SNI, ALPN)
        else:
            out += facts
        out.append(BytesSeen(connection_id=conn.connection_id, at=at, sender=sender,
                             length=max(0, field_int(field_first(row, "udp.length")) - 8)))
        out += self._decryption(conn, row, at)
        frames = _frames(row)
        if frames.misaligned:
            out.append(ProtocolAnomaly(connection_id=conn.connection_id, at=at, sender=sender,
                                       message=f"frame {frame_number}: tshark's QUIC fields do not line up; "
                                       "some STREAM frames of this datagram may be misread"))
        decoded: Output = []
        for kind, item in frames.items:
            decoded += self._frame(conn, sender, kind, item, at)
        _stamp_positions(decoded, _last_packet_number(row))
        return out + decoded

    def _same_connection(self, stream: str, number: str) -> str:
        """The udp.stream of the connection this row belongs to: a connection that moved to a new address or
        port (migration, NAT rebinding) is a new UDP conversation but the same QUIC connection, which tshark
        numbers alike when it followed the move (by connection ID)."""
        known = self._moved.get(stream)
        if known is not None:
            return known
        if number:
            first = self._by_number.setdefault(number, stream)
            if first != stream:
                self._moved[stream] = first
                return first
        return stream

    def join(self, stream: str, original: str) -> None:
        """``stream`` is ``original``'s connection on a new path (found by pushscope's trial decryption)."""
        if stream != original and original in self._connections and stream not in self._connections:
            self._moved[stream] = original

    def moved_connections(self) -> list[tuple[str, str, str, str | None]]:
        """(udp.stream of a new path, udp.stream of its connection, the connection's protocol, how pushscope
        decrypted it if tshark did not) for each connection that moved."""
        out = []
        for moved, original in self._moved.items():
            conn = self._connections.get(original)
            if conn is not None:
                out.append((moved, original, conn.protocol, conn.trial_how))
        return out

    def known_streams(self) -> set[str]:
        """The udp.stream numbers this reader has a connection for."""
        return set(self._connections)

    def feed_decrypted(self, stream: str, at: float, src: Endpoint, dst: Endpoint, src_is_client: bool,
                       items: list[tuple[str, object]], how: str, uncounted_bytes: int) -> Output:
        """Frames of a packet that pushscope decrypted itself (sources/quic_trial.py), as if tshark had."""
        stream = self._moved.get(stream, stream)
        conn = self._connections.get(stream)
        if conn is None:
            conn = self._connections[stream] = _QuicConnection(f"q{stream}", first_at=at)
        conn.last_at = max(conn.last_at, at)
        if conn.client is None:
            conn.client, conn.server = (src, dst) if src_is_client else (dst, src)
        out: Output = []
        if not conn.opened:
            out.append(self._open(conn, at))
        sender = _sender(conn, src)
        if uncounted_bytes:
            out.append(BytesSeen(connection_id=conn.connection_id, at=at, sender=sender, length=uncounted_bytes))
        conn.trial_ok += 1
        if conn.trial_how is None and not conn.short_ok:
            conn.trial_how = how
            conn.decrypted_announced = True
            out.append(ConnectionUpdated(connection_id=conn.connection_id, at=at, decrypted=True, decrypted_how=how))
        for kind, item in items:
            out += self._frame(conn, sender, kind, item, at)
        return out

    def finish(self, at: float | None, trial_reasons: Mapping[str, str] | None = None,
               trial_only_undecrypted: int = 0) -> Output:
        """``trial_reasons``: why the trial could not decrypt a connection, by udp.stream;
        ``trial_only_undecrypted``: QUIC-looking conversations tshark did not dissect and the trial could not
        decrypt (diagnosed by the trial), counted in the summary."""
        out: Output = []
        for conn in self._connections.values():
            end = conn.last_at if at is None else at
            out += self._stream_gaps(conn, end)
            if conn.decoder is not None:
                out += conn.decoder.finish(end)
            if not conn.closed:
                conn.closed = True
                out.append(ConnectionClosed(connection_id=conn.connection_id, at=end, how="capture-end"))
            undecrypted = conn.short_ok == 0 and conn.trial_ok == 0 and (conn.short_failed or conn.long_failed)
            if undecrypted and not conn.diagnosed:
                out += self._not_decrypted(conn, (trial_reasons or {}).get(conn.connection_id[1:]))
        out += self._summary(trial_only_undecrypted)
        return out

    # -- connection facts ----------------------------------------------------------------------------------

    def _learn_direction(self, conn: _QuicConnection, row: Mapping[str, str], src: Endpoint, dst: Endpoint) -> None:
        """Client = ClientHello sender; else an Initial's sender from a non-server port; else by port."""
        types = field_list(row, "tls.handshake.type")
        long_types = field_list(row, "quic.long.packet_type")
        src_server, dst_server = src.port in self._server_ports, dst.port in self._server_ports
        if TLS_CLIENT_HELLO in types:
            client_is_src = True
        elif TLS_SERVER_HELLO in types:
            client_is_src = False
        elif src_server != dst_server:
            client_is_src = dst_server
        elif long_types[:1] == [LONG_INITIAL]:
            client_is_src = True
        else:
            client_is_src = src.port > dst.port
        conn.client, conn.server = (src, dst) if client_is_src else (dst, src)

    def _open(self, conn: _QuicConnection, at: float) -> ConnectionOpened:
        conn.opened = True
        assert conn.client is not None and conn.server is not None
        offers = (conn.offered_alpn or "").split(",")
        alpn = conn.alpn or (conn.offered_alpn if len(offers) == 1 else None)
        conn.announced_alpn = alpn
        return ConnectionOpened(connection_id=conn.connection_id, at=at, client=conn.client, server=conn.server,
                                transport="quic", protocol="h3" if conn.protocol == "h3" else "unknown",
                                tls_version="1.3", sni=conn.sni, alpn=alpn)

    def _tls_facts(self, conn: _QuicConnection, row: Mapping[str, str], sender: Side, at: float) -> Output:
        types = field_list(row, "tls.handshake.type")
        version = field_first(row, "quic.version")
        if version and conn.version is None:
            conn.version = version
        if not types and not row.get("tls.handshake.extensions_alpn_str"):
            return []
        update = ConnectionUpdated(connection_id=conn.connection_id, at=at)
        changed = False
        names = certificate_names(row) if sender == "server" else None
        if names is not None:
            update.certificate_names, changed = names, True
        if TLS_CLIENT_HELLO in types and sender == "client" and conn.client_random is None:
            conn.client_random = (field_first(row, "tls.handshake.random") or "").lower() or None
            conn.sni = update.sni = field_first(row, "tls.handshake.extensions_server_name") or None
            conn.offered_alpn = row.get("tls.handshake.extensions_alpn_str") or None
            offers = (conn.offered_alpn or "").split(",")
            if conn.offered_alpn and all(offer.startswith("h3") for offer in offers):
                if len(offers) == 1:
                    conn.announced_alpn = update.alpn = conn.offered_alpn
                conn.protocol = update.protocol = "h3"
            update.tls_version = "1.3"
            changed = True
        if sender == "server" and row.get("tls.handshake.extensions_alpn_str"):
            alpn = field_first(row, "tls.handshake.extensions_alpn_str")
            if alpn and alpn != conn.alpn:
                conn.alpn = alpn
                if conn.decoder is not None:
                    conn.decoder.alpn = alpn
                if alpn != conn.announced_alpn:
                    conn.announced_alpn = update.alpn = alpn
                    conn.protocol = update.protocol = "h3" if alpn.startswith("h3") else "unknown"
                    changed = True
        return [update] if changed else []

    def _decryption(self, conn: _QuicConnection, row: Mapping[str, str], at: float) -> Output:
        """Count packets tshark could not decrypt: a decrypted packet always shows its packet number."""
        forms = field_list(row, "quic.header_form")
        decrypted = len(field_list(row, "quic.packet_number"))
        # A wrong secret can still yield a packet number (garbage): tshark then flags the payload as failed.
        failed = max(0, len(forms) - decrypted, len(field_list(row, "quic.decryption_failed")))
        short = forms.count("0")
        if short:
            # A short-header packet, if present, is the last one in the datagram.
            if failed:
                conn.short_failed += 1
                failed -= 1
            else:
                conn.short_ok += 1
        conn.long_failed += failed
        if failed and decrypted == 0 and LONG_INITIAL in field_list(row, "quic.long.packet_type"):
            conn.initial_failed = True
        out: Output = []
        state = True if conn.short_ok or conn.trial_ok else (False if conn.short_failed else None)
        if state is not None and state != conn.decrypted_announced:
            conn.decrypted_announced = state
            out.append(ConnectionUpdated(connection_id=conn.connection_id, at=at, decrypted=state))
            if not state and not conn.diagnosed and not self._trial:
                out += self._not_decrypted(conn)
        return out

    def _not_decrypted(self, conn: _QuicConnection, trial_reason: str | None = None) -> Output:
        conn.diagnosed = True
        where = connection_label("QUIC", conn.connection_id, conn.client, conn.server, conn.sni)
        if conn.initial_failed:
            why = (f"even its Initial packets (keyed by the client's DCID, no key log needed) failed: QUIC "
                   f"version {conn.version or '?'} is not one this tshark can decrypt")
            return [Diagnostic(level="warning", message=f"{where}: not decrypted: {why}",
                               connection_id=conn.connection_id, code="quic-version")]
        why = why_not_decrypted(
            self._keylog, conn.client_random,
            no_handshake=("its ClientHello is not in the capture (it started mid-connection), so the key log entry "
                          "for it cannot be found"),
            covered=("the key log has its client random but not usable traffic secrets "
                     "(CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0 missing or wrong?)"))
        if trial_reason:
            why += f"; without its handshake, {trial_reason}"
        return [Diagnostic(level="warning", message=f"{where}: 1-RTT packets not decrypted: {why}",
                           connection_id=conn.connection_id, code="not-decrypted")]

    # -- frames --------------------------------------------------------------------------------------------

    def _frame(self, conn: _QuicConnection, sender: Side, kind: str, item: object, at: float) -> Output:
        if kind == "close":
            if conn.closed:
                return []
            conn.closed = True
            quic_code, app_code = cast(tuple[int | None, int | None], item)
            detail = _application_error(app_code, conn.alpn) if app_code is not None else _transport_error(quic_code)
            return [ConnectionClosed(connection_id=conn.connection_id, at=at, how=f"close-by-{sender} ({detail})")]
        decoder = self._decoder(conn)
        if decoder is None:
            return []
        if kind == "stream":
            assert isinstance(item, _StreamFrame)
            return self._stream_data(conn, decoder, sender, item, at)
        stream_id, error_code = cast(tuple[int, int], item)
        if kind == "reset":
            conn.reset_streams.add((sender, stream_id))
            return list(decoder.receive_reset_stream(sender, stream_id, error_code, at))
        return list(decoder.receive_stop_sending(sender, stream_id, error_code, at))

    def _decoder(self, conn: _QuicConnection) -> H3ConnectionDecoder | None:
        if conn.decoder is None:
            if conn.alpn is not None and not conn.alpn.startswith("h3"):
                return None  # another protocol over QUIC (DoQ, hq-interop...): counted, not decoded
            conn.decoder = H3ConnectionDecoder(conn.connection_id, alpn=conn.alpn)
            if conn.trial_how:
                conn.decoder.assume_started_before_capture(MIDWAY_TABLE_CAPACITY)
        return conn.decoder

    def _stream_data(self, conn: _QuicConnection, decoder: H3ConnectionDecoder, sender: Side,
                     frame: _StreamFrame, at: float) -> Output:
        key = (sender, frame.stream_id)
        reassembler = conn.streams.get(key)
        prefix = b""
        if reassembler is None:
            midway = midway_stream_start(frame.stream_id, frame.offset) if conn.trial_how else None
            reassembler = conn.streams[key] = StreamReassembler(midway[0] if midway else 0)
            prefix = midway[1] if midway else b""
        delivery = reassembler.receive(frame.offset, frame.data, frame.fin, at)
        if prefix:
            delivery.data = prefix + delivery.data
        out: Output = []
        if delivery.conflict or delivery.beyond_final_size:
            what = "bytes that differ from an earlier copy" if delivery.conflict else "data past the final size"
            out.append(ProtocolAnomaly(connection_id=conn.connection_id, at=at, sender=sender,
                                       message=f"stream {frame.stream_id}: a retransmission carries {what}",
                                       stream_id=frame.stream_id))
        if delivery.data or delivery.fin:
            out += decoder.receive_stream_data(sender, frame.stream_id, delivery.data, delivery.fin, at)
        # A connection decrypted without its handshake may never show SETTINGS: HEADERS say HTTP/3 as well.
        if conn.protocol != "h3" and any(type(event).__name__ in H3_EVIDENCE for event in out):
            conn.protocol = "h3"
            out.insert(0, ConnectionUpdated(connection_id=conn.connection_id, at=at, protocol="h3"))
        return out

    def _stream_gaps(self, conn: _QuicConnection, at: float) -> Output:
        out: Output = []
        for (sender, stream_id), reassembler in conn.streams.items():
            if (sender, stream_id) in conn.reset_streams:
                continue
            holes = reassembler.gaps()
            if holes:
                spans = ", ".join(f"{gap.start}-{gap.end}" for gap in holes[:3])
                out.append(ProtocolAnomaly(
                    connection_id=conn.connection_id, at=at, sender=sender,
                    message=f"stream {stream_id}: bytes {spans} never seen in the capture; "
                    f"{reassembler.buffered_bytes} bytes after the gap not decoded", stream_id=stream_id))
        return out

    def _summary(self, trial_only_undecrypted: int = 0) -> Output:
        quic = [c for c in self._connections.values() if c.short_ok or c.short_failed or c.trial_ok]
        out = decryption_summary("QUIC connections with 1-RTT packets", len(quic) + trial_only_undecrypted,
                                 sum(1 for c in quic if c.short_ok or c.trial_ok), "quic-summary")
        trial = sum(1 for c in quic if c.trial_how and not c.short_ok)
        if out and trial:
            out[0].message += (f" ({trial} of them by pushscope itself, with key-log secrets tried on a connection "
                               "whose handshake the capture lacks)")
        return [*out]


def _sender(conn: _QuicConnection, src: Endpoint) -> Side:
    # The server's address stays put; a client that moved sends from a new one.
    return "server" if src == conn.server and src != conn.client else "client"


def _last_packet_number(row: Mapping[str, str]) -> int | None:
    """The datagram's last packet number: the 1-RTT packet, which carries the HTTP/3 frames."""
    numbers = field_list(row, "quic.packet_number")
    return field_int(numbers[-1]) if numbers and numbers[-1].isdigit() else None


def _stamp_positions(events: Output, packet_number: int | None) -> None:
    """The sender's wire order: its packet number, then the order of the events within the packet."""
    if packet_number is None:
        return
    for rank, event in enumerate(events):
        if isinstance(event, Event) and event.position is None:
            event.position = (packet_number << 16) + min(rank, 0xFFFF)


def _frames(row: Mapping[str, str]) -> _Frames:
    """Line up the per-type value lists with ``quic.frame_type``, in order."""
    result = _Frames()
    types = [field_int(value) for value in field_list(row, "quic.frame_type")]
    stream_count = sum(1 for t in types if t in STREAM_FRAMES)
    ids = iter(field_list(row, "quic.stream.stream_id"))
    offs, lens, fins = (iter(field_list(row, f"quic.stream.{flag}")) for flag in ("off", "len", "fin"))
    offsets, lengths = iter(field_list(row, "quic.stream.offset")), iter(field_list(row, "quic.stream.length"))
    data_values = field_list(row, "quic.stream_data")
    # tshark prints every STREAM frame's data, "<MISSING>" when empty; if a version leaves empty ones out, the
    # frames whose length says 0 get nothing.
    data_for_all = len(data_values) == stream_count
    data = iter(data_values)
    rst = iter(zip(field_list(row, "quic.rsts.stream_id"), field_list(row, "quic.rsts.application_error_code"),
                   strict=False))
    stop = iter(zip(field_list(row, "quic.ss.stream_id"), field_list(row, "quic.ss.application_error_code"),
                    strict=False))
    quic_codes, app_codes = iter(field_list(row, "quic.cc.error_code")), iter(field_list(row, "quic.cc.error_code.app"))
    try:
        for frame_type in types:
            if frame_type in STREAM_FRAMES:
                stream_id = field_int(next(ids))
                has_off, has_len, fin = _flag(next(offs)), _flag(next(lens)), _flag(next(fins))
                offset = field_int(next(offsets)) if has_off else 0
                length = field_int(next(lengths)) if has_len else None
                raw = next(data) if data_for_all or length != 0 else ""
                payload = _hex(raw)
                if length is not None and len(payload) != length:
                    result.misaligned = True
                result.items.append(("stream", _StreamFrame(stream_id, offset, payload, fin)))
            elif frame_type == RESET_STREAM:
                reset_id, reset_code = next(rst)
                result.items.append(("reset", (field_int(reset_id), field_int(reset_code))))
            elif frame_type == STOP_SENDING:
                stop_id, stop_code = next(stop)
                result.items.append(("stop", (field_int(stop_id), field_int(stop_code))))
            elif frame_type == CONNECTION_CLOSE_QUIC:
                result.items.append(("close", (field_int(next(quic_codes, "0")), None)))
            elif frame_type == CONNECTION_CLOSE_APP:
                # tshark 4.0 prints an application close's code as quic.cc.error_code.app for v1 and as
                # quic.cc.error_code for some drafts.
                app_code = next(app_codes, None)
                if app_code is None:
                    app_code = next(quic_codes, "0")
                result.items.append(("close", (None, field_int(app_code))))
    except StopIteration:
        result.misaligned = True
    return result


TRANSPORT_ERRORS = {
    0x0: "NO_ERROR", 0x1: "INTERNAL_ERROR", 0x2: "CONNECTION_REFUSED", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "STREAM_LIMIT_ERROR", 0x5: "STREAM_STATE_ERROR", 0x6: "FINAL_SIZE_ERROR", 0x7: "FRAME_ENCODING_ERROR",
    0x8: "TRANSPORT_PARAMETER_ERROR", 0x9: "CONNECTION_ID_LIMIT_ERROR", 0xA: "PROTOCOL_VIOLATION",
    0xB: "INVALID_TOKEN", 0xC: "APPLICATION_ERROR", 0xD: "CRYPTO_BUFFER_EXCEEDED", 0xE: "KEY_UPDATE_ERROR",
    0xF: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH",
}


def _application_error(code: int, alpn: str | None) -> str:
    name = error_name(code, alpn)
    return f"application error 0x{code:x}" if name.startswith("UNKNOWN") else name


def _transport_error(code: int | None) -> str:
    if code is None:
        return "?"
    if 0x100 <= code <= 0x1FF:
        return f"CRYPTO_ERROR (TLS alert {code - 0x100})"
    return TRANSPORT_ERRORS.get(code, f"UNKNOWN_0x{code:x}")





def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true")


def _hex(text: str) -> bytes:
    if not text or text == "<MISSING>":
        return b""
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return b""
