"""Turning tshark's per-frame TCP/TLS rows into connection events and HTTP/2 decoder input.

Each ``tcp.stream`` becomes one connection. We learn who the client is (SYN, ClientHello, the HTTP/2 preface,
or, for a capture that starts mid-connection, the port), what TLS negotiated, and hand each direction's
decrypted bytes, in order, to the sans-IO HTTP/2 decoder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pushscope.decode.h1 import H1ConnectionDecoder, looks_like_request, looks_like_response
from pushscope.decode.h2 import PREFACE, H2ConnectionDecoder
from pushscope.decode.reassembly import StreamReassembler
from pushscope.events import (
    BytesSeen,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    Diagnostic,
    Endpoint,
    Event,
    Side,
)
from pushscope.sources.fields import field_int
from pushscope.sources.keylog import KeyLogSummary, connection_label, decryption_summary, why_not_decrypted
from pushscope.sources.tshark import certificate_names

TLS_VERSIONS = {"0x0304": "1.3", "0x0303": "1.2", "0x0302": "1.1", "0x0301": "1.0"}
HTTP1_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"OPTIONS ", b"DELETE ", b"PATCH ", b"CONNECT ")
SNIFF_LIMIT = 64 * 1024  # bytes held while the first ones do not yet tell HTTP/2 from HTTP/1.1
# A closed connection's decoder (its HPACK tables, buffers) is let go this long, in capture time, after the close
# (both FINs, or a RST). Only a retransmission can still carry payload then, and tshark passes it on only when the
# capture missed the first copy; a retransmission timer backs off 1 + 2 + 4 + 8 s, so 15 s covers four tries.
# Payload that still comes later is counted and reported (``late-bytes``), never silently lost. Every decoder kept
# costs memory: a busy capture closes hundreds of connections a second.
DECODER_KEPT_AFTER_CLOSE = 15.0

Output = list[Event | Diagnostic]
T = TypeVar("T")
FIN_BITS: dict[str, int] = {"client": 1, "server": 2}
# Equal values that many connections repeat (addresses, servers, SNI, ALPN): one object each, up to this many.
KEPT_LIMIT = 1 << 16


@dataclass(slots=True)
class _TcpConnection:
    connection_id: str
    client: Endpoint | None = None
    server: Endpoint | None = None
    opened: bool = False
    first_at: float = 0.0
    last_at: float = 0.0
    is_tls: bool = False
    tls_version: str | None = None
    sni: str | None = None
    offered_alpn: str | None = None
    alpn: str | None = None
    client_random: str | None = None
    app_records: int = 0
    decrypted_records: int = 0
    # Its encrypted handshake was read (Finished or EncryptedExtensions shown): the key log's secrets work for it.
    handshake_decrypted: bool = False
    # Encrypted records in rows that carry no handshake message: application data, decrypted or not.
    data_records: int = 0
    decoder: H2ConnectionDecoder | H1ConnectionDecoder | None = None
    # Payload held, in capture order, until the first bytes tell which protocol this is. (A list once something
    # is held: tens of thousands of connections never hold anything, or no longer.)
    sniffed: list[tuple[Side, bytes, float]] | tuple[()] = ()
    held_server_chunks: list[tuple[bytes, float]] | tuple[()] = ()
    # Cleartext only (TLS reassembly is tshark's): each direction's bytes in sequence order, once each.
    cleartext: dict[str, StreamReassembler] | None = None
    fins: int = 0  # whose FIN was seen: FIN_BITS
    closed: bool = False
    # Once the decoder is let go (DECODER_KEPT_AFTER_CLOSE): what its end-of-capture diagnostics said then, and
    # the payload bytes that still came (not decoded).
    released: tuple[Event | Diagnostic, ...] | None = None
    late_bytes: int = 0
    announced_h2: bool = False
    trial_how: str | None = None  # decrypted by pushscope's trial (no handshake): which key-log line


class TcpRowReader:
    """Feeds rows of one capture; keeps per-connection state; emits events in capture order."""

    def __init__(self, keylog: KeyLogSummary | None = None) -> None:
        self._connections: dict[str, _TcpConnection] = {}
        # What the key log holds: needed only at the end (for the not-decrypted diagnostics), so a read that
        # learns it later sets it then.
        self.keylog = keylog
        self._trial_reasons: Mapping[str, str] = {}
        self._closed: deque[tuple[float, _TcpConnection]] = deque()  # in the order they closed
        self._kept: dict[object, object] = {}  # see ``_one``

    def feed(self, row: Mapping[str, str], at: float) -> Output:
        stream = row.get("tcp.stream", "")
        if not stream:
            return []
        if self._closed and at - self._closed[0][0] > DECODER_KEPT_AFTER_CLOSE:
            self._release_closed(at)
        conn = self._connections.get(stream)
        if conn is None:
            conn = self._connections[stream] = _TcpConnection(f"t{stream}", first_at=at)
        conn.last_at = at
        src = Endpoint(row.get("ip.src") or row.get("ipv6.src", ""), field_int(row.get("tcp.srcport")))
        dst = Endpoint(row.get("ip.dst") or row.get("ipv6.dst", ""), field_int(row.get("tcp.dstport")))
        out: Output = []
        payload_chunks = _hex_chunks(row.get("data.data", ""))
        if conn.client is None:
            _learn_direction(conn, row, src, dst, payload_chunks)
            if conn.client is None or conn.server is None:
                return out
            conn.client, conn.server = self._endpoint(conn.client), self._one(self._endpoint(conn.server))
        sender: Side = "client" if src == conn.client else "server"
        if not conn.opened and (field_int(row.get("tcp.len")) > 0
                                or _has_flag(row, "tcp.flags.fin", "tcp.flags.reset")):
            out.append(self._open(conn, row, at))
        out.extend(self._tls_facts(conn, row, sender, at))
        length = field_int(row.get("tcp.len"))
        if length:
            out.append(BytesSeen(connection_id=conn.connection_id, at=at, sender=sender, length=length))
        if payload_chunks and conn.released is not None:
            conn.late_bytes += sum(len(chunk) for chunk in payload_chunks)
        elif payload_chunks:
            if not conn.is_tls:
                payload_chunks = _in_order_cleartext(conn, sender, row, payload_chunks, at)
            out.extend(self._payload(conn, sender, payload_chunks, at))
        out.extend(self._closing(conn, row, sender, at))
        return out

    def _one(self, value: T) -> T:
        """One object for equal values that many connections repeat (the model keeps them too: one object each,
        not one per connection). Bounded: a hostile capture can make every value different."""
        kept = self._kept
        if len(kept) >= KEPT_LIMIT:
            kept.clear()
        return kept.setdefault(value, value)  # type: ignore[return-value]

    def _endpoint(self, endpoint: Endpoint) -> Endpoint:
        address = self._one(endpoint.address)
        return endpoint if address is endpoint.address else Endpoint(address, endpoint.port)

    def trial_candidates(self) -> list[str]:
        """tcp.stream of each TLS conversation with application records, none decrypted, and no ClientHello:
        what pushscope's own trial decryption (sources/tls_trial.py) may still open."""
        return [stream for stream, conn in self._connections.items()
                if conn.is_tls and conn.app_records and not conn.decrypted_records and conn.client_random is None]

    def feed_decrypted(self, stream: str, src: Endpoint, sender: Side, data: bytes, at: float, how: str,
                       protocol: str | None) -> Output:
        """Application data that pushscope decrypted itself, from a frame boundary on (no preface: the
        connection began before the capture). ``sender`` is known from the secret that opened it, which
        corrects a client and server guessed from the ports."""
        conn = self._connections.get(stream)
        if conn is None:
            return []
        out: Output = []
        if conn.client is not None and conn.server is not None and (src == conn.client) != (sender == "client"):
            conn.client, conn.server = conn.server, conn.client
            out.append(ConnectionOpened(connection_id=conn.connection_id, at=conn.first_at, client=conn.client,
                                        server=conn.server, transport="tls"))
        if conn.trial_how is None:
            conn.trial_how = how
            conn.tls_version = conn.tls_version or "1.3"
            out.append(ConnectionUpdated(connection_id=conn.connection_id, at=at, tls_version="1.3", decrypted=True,
                                         decrypted_how=how, protocol="h2" if protocol == "h2" else
                                         "http/1.1" if protocol == "http/1.1" else None))
            if protocol == "h2":
                conn.decoder = H2ConnectionDecoder(conn.connection_id, expect_preface=False)
                conn.announced_h2 = True
            elif protocol == "http/1.1":
                self._start_decoder(conn, "http/1.1", at)  # its protocol update is the one above
        conn.decrypted_records += 1
        if conn.decoder is not None:
            out.extend(conn.decoder.receive(sender, data, at))
        return out

    def finish(self, at: float | None, trial_reasons: Mapping[str, str] | None = None) -> Output:
        """``trial_reasons``: why pushscope's trial decryption could not open a connection, by tcp.stream."""
        self._trial_reasons = trial_reasons or {}
        out: Output = []
        for conn in self._connections.values():
            if conn.client is None:
                continue
            if not conn.opened:
                out.append(self._open(conn, {}, conn.first_at))
            if not conn.closed:
                end = conn.last_at if at is None else at
                how = "fin" if conn.fins else "capture-end"
                out.append(ConnectionClosed(connection_id=conn.connection_id, at=end, how=how))
            out.extend(self._decryption_diagnostics(conn))
            out.extend(self._decoder_leftovers(conn))
        out.extend(self._tls_summary())
        return out

    # --- connection facts -------------------------------------------------------------------------------

    def _open(self, conn: _TcpConnection, row: Mapping[str, str], at: float) -> ConnectionOpened:
        conn.opened = True
        conn.is_tls = conn.is_tls or bool(row.get("tls.record.content_type") or row.get("tls.record.opaque_type"))
        assert conn.client is not None and conn.server is not None
        return ConnectionOpened(connection_id=conn.connection_id, at=at, client=conn.client, server=conn.server,
                                transport="tls" if conn.is_tls else "tcp")

    def _tls_facts(self, conn: _TcpConnection, row: Mapping[str, str], sender: Side, at: float) -> Output:
        types = row.get("tls.handshake.type", "").split(",")
        content_types = row.get("tls.record.content_type", "")
        # An undecrypted TLS 1.3 record shows only its outer (opaque) type.
        opaque_types = row.get("tls.record.opaque_type", "")
        if not content_types and not opaque_types:
            return []
        conn.is_tls = True
        encrypted = max(content_types.split(",").count("23"), opaque_types.split(",").count("23"))
        conn.app_records += encrypted
        if "20" in types or "8" in types:  # both are only ever sent encrypted: tshark decrypted them
            conn.handshake_decrypted = True
        conn.data_records += _data_records(types, content_types, opaque_types, encrypted)
        update = ConnectionUpdated(connection_id=conn.connection_id, at=at)
        changed = False
        if "1" in types and sender == "client":
            randoms = row.get("tls.handshake.random", "").split(",")
            conn.client_random = randoms[0].lower() if randoms and randoms[0] else None
            conn.sni = self._one(row.get("tls.handshake.extensions_server_name", "").split(",")[0] or None)
            conn.offered_alpn = self._one(row.get("tls.handshake.extensions_alpn_str") or None)
            update.sni, update.alpn, changed = conn.sni, conn.offered_alpn, True
        if sender == "server" and ("2" in types or row.get("tls.handshake.extensions_alpn_str")):
            version = _tls_version(row)
            if version and "2" in types:
                conn.tls_version = update.tls_version = version
                changed = True
            alpn = row.get("tls.handshake.extensions_alpn_str", "").split(",")[0]
            if alpn:
                conn.alpn = update.alpn = self._one(alpn)
                changed = True
        names = certificate_names(row) if sender == "server" else None
        if names is not None:
            update.certificate_names, changed = names, True
        return [update] if changed else []

    # --- payload ------------------------------------------------------------------------------------------

    def _payload(self, conn: _TcpConnection, sender: Side, chunks: list[bytes], at: float) -> Output:
        out: Output = []
        if conn.is_tls:
            if not conn.decrypted_records:
                out.append(ConnectionUpdated(connection_id=conn.connection_id, at=at, decrypted=True))
            conn.decrypted_records += len(chunks)
        if conn.decoder is None:
            if conn.alpn not in (None, "h2", "h2c", "http/1.1"):
                return out  # another protocol: counted, not decoded
            if not isinstance(conn.sniffed, list):
                conn.sniffed = []
            conn.sniffed += [(sender, chunk, at) for chunk in chunks]
            protocol = _choose_protocol(conn)
            if protocol is None:
                return out
            out += self._start_decoder(conn, protocol, at)
            held, conn.sniffed = conn.sniffed, ()
            for held_sender, chunk, chunk_at in held:
                out += self._decode(conn, held_sender, [chunk], chunk_at)
            return out
        return self._decode(conn, sender, chunks, at)

    def _start_decoder(self, conn: _TcpConnection, protocol: str, at: float) -> Output:
        out: Output = []
        if protocol == "http/1.1":
            authority = conn.sni or (str(conn.server) if conn.server is not None else "")
            conn.decoder = H1ConnectionDecoder(conn.connection_id, scheme="https" if conn.is_tls else "http",
                                               authority=authority)
            out.append(ConnectionUpdated(connection_id=conn.connection_id, at=at, protocol="http/1.1"))
        else:
            conn.decoder = H2ConnectionDecoder(conn.connection_id)
        return out

    def _decode(self, conn: _TcpConnection, sender: Side, chunks: list[bytes], at: float) -> Output:
        decoder = conn.decoder
        if isinstance(decoder, H1ConnectionDecoder):
            return [event for chunk in chunks for event in decoder.receive(sender, chunk, at)]
        assert decoder is not None
        out: Output = []
        for chunk in chunks:
            if sender == "server" and decoder.waiting_for_client:
                if not isinstance(conn.held_server_chunks, list):
                    conn.held_server_chunks = []
                conn.held_server_chunks.append((chunk, at))
                continue
            out.extend(decoder.receive(sender, chunk, at))
        if decoder.is_http2 and not conn.announced_h2:
            conn.announced_h2 = True
            out.insert(0, ConnectionUpdated(connection_id=conn.connection_id, at=at, protocol="h2"))
        if not decoder.waiting_for_client and conn.held_server_chunks:
            held, conn.held_server_chunks = conn.held_server_chunks, ()
            if decoder.is_http2:
                for chunk, chunk_at in held:
                    out.extend(decoder.receive("server", chunk, chunk_at))
        return out

    def _closing(self, conn: _TcpConnection, row: Mapping[str, str], sender: Side, at: float) -> Output:
        if conn.closed:
            return []
        out: Output = []
        reset, fin = _has_flag(row, "tcp.flags.reset"), _has_flag(row, "tcp.flags.fin")
        if (reset or fin) and isinstance(conn.decoder, H1ConnectionDecoder):
            out += conn.decoder.close(sender, at)  # a response read until close ends here
        if reset:
            conn.closed = True
            out.append(ConnectionClosed(connection_id=conn.connection_id, at=at, how=f"rst-by-{sender}"))
        elif fin:
            conn.fins |= FIN_BITS[sender]
            if conn.fins == FIN_BITS["client"] | FIN_BITS["server"]:
                conn.closed = True
                out.append(ConnectionClosed(connection_id=conn.connection_id, at=at, how="fin"))
        if conn.closed and conn.decoder is not None:
            self._closed.append((at, conn))
        return out

    def _release_closed(self, at: float) -> None:
        """Let go of the decoders of connections closed long enough ago; keep what finish() will report."""
        while self._closed and at - self._closed[0][0] > DECODER_KEPT_AFTER_CLOSE:
            _, conn = self._closed.popleft()
            conn.released = tuple(self._decoder_leftovers(conn))
            conn.decoder = None
            conn.cleartext = None
            conn.sniffed = conn.held_server_chunks = ()
            if conn.decrypted_records:
                conn.client_random = None  # (named only by an undecrypted connection's diagnostics)

    # --- end-of-capture diagnostics ---------------------------------------------------------------------

    def _decryption_diagnostics(self, conn: _TcpConnection) -> Output:
        if not conn.is_tls or conn.app_records == 0 or conn.decrypted_records > 0:
            return []
        if conn.handshake_decrypted and conn.data_records == 0:
            # Its keys worked and it carried no application data (a browser's spare connection, or one the
            # capture or the load stopped reading right after its handshake): decrypted, nothing to decode.
            return [ConnectionUpdated(connection_id=conn.connection_id, at=conn.last_at, decrypted=True)]
        where = connection_label("TLS", conn.connection_id, conn.client, conn.server, conn.sni)
        if conn.handshake_decrypted:
            why = ("its handshake was decrypted, but not its application data: the key log's traffic secrets for it "
                   "are missing or wrong")
        else:
            why = why_not_decrypted(
                self.keylog, conn.client_random,
                no_handshake=("its handshake is not in the capture (it started mid-connection), so it cannot be "
                              "decrypted"),
                covered="the key log has its client random, but decryption still failed (wrong or partial secrets?)")
        trial = self._trial_reasons.get(conn.connection_id[1:])
        if trial:
            why += f"; {trial}"
        records = conn.data_records if conn.handshake_decrypted else conn.app_records
        message = f"{where}: {records} encrypted records not decrypted: {why}"
        # The model must know too: an unreadable connection may hide what the client already holds.
        return [ConnectionUpdated(connection_id=conn.connection_id, at=conn.last_at, decrypted=False),
                Diagnostic(level="warning", message=message, connection_id=conn.connection_id, code="not-decrypted")]

    def _decoder_leftovers(self, conn: _TcpConnection) -> Output:
        if conn.released is not None:
            return [*conn.released, *_late_bytes(conn)]
        decoder = conn.decoder
        if isinstance(decoder, H1ConnectionDecoder):
            if not decoder.unparsed_bytes:
                return []
            message = (f"{conn.connection_id}: the last {decoder.unparsed_bytes} bytes are an incomplete HTTP/1.1 "
                       "message head or chunk line (capture cut short or segments missing)")
            return [Diagnostic(level="warning", message=message, connection_id=conn.connection_id,
                               code="truncated-frame")]
        if decoder is None or not decoder.is_http2:
            return []
        out: Output = []
        for sender, reassembler in (conn.cleartext or {}).items():
            if reassembler.buffered_bytes:
                message = (f"{conn.connection_id}: {reassembler.buffered_bytes} bytes from the {sender} follow a gap "
                           "in the capture (segments missing) and could not be decoded")
                out.append(Diagnostic(level="warning", message=message, connection_id=conn.connection_id,
                                      code="tcp-gap"))
        for side in (decoder.client, decoder.server):
            if side.unparsed_bytes:
                message = (f"{conn.connection_id}: the {side.sender}'s last {side.unparsed_bytes} bytes are an "
                           "incomplete HTTP/2 frame (capture cut short or segments missing)")
                out.append(Diagnostic(level="warning", message=message, connection_id=conn.connection_id,
                                      code="truncated-frame"))
        return out

    def _tls_summary(self) -> Output:
        # A connection whose keys worked but that carried no application data is not counted either way.
        tls = [c for c in self._connections.values() if c.is_tls and c.app_records
               and not (c.handshake_decrypted and c.data_records == 0 and not c.decrypted_records)]
        uncovered: list[str] = []
        if self.keylog is not None and self.keylog.exists:
            uncovered = [c.client_random for c in tls if not c.decrypted_records and c.client_random
                         and not self.keylog.covers(c.client_random)]
        out = decryption_summary("TLS sessions with application data", len(tls),
                                 sum(1 for c in tls if c.decrypted_records), "tls-summary", uncovered)
        trial = sum(1 for c in tls if c.trial_how)
        if out and trial:
            out[0].message += (f" ({trial} of them by pushscope itself, with key-log secrets tried on a connection "
                               "whose handshake the capture lacks)")
        return [*out]


def _data_records(types: list[str], content_types: str, opaque_types: str, encrypted: int) -> int:
    """The application data records among a row's ``encrypted`` ones. A row without handshake messages holds only
    those; one with them (a Finished and the first request in one segment) holds those beyond its encrypted
    handshake records: TLS 1.2 shows them as content type 23; TLS 1.3 as opaque records (23) that decrypted to no
    handshake record (inner type 22, less the cleartext hellos, which have no opaque type)."""
    if types == [""]:
        return encrypted
    contents = content_types.split(",")
    if not opaque_types:
        return contents.count("23")
    handshake_inside = contents.count("22") - types.count("1") - types.count("2")
    return max(0, opaque_types.split(",").count("23") - max(0, handshake_inside))


def _late_bytes(conn: _TcpConnection) -> Output:
    if not conn.late_bytes:
        return []
    message = (f"{conn.connection_id}: {conn.late_bytes} payload bytes came more than {DECODER_KEPT_AFTER_CLOSE:.0f} s "
               "after the connection closed and were not decoded")
    return [Diagnostic(level="warning", message=message, connection_id=conn.connection_id, code="late-bytes")]


def _choose_protocol(conn: _TcpConnection) -> str | None:
    """"h2" or "http/1.1" from ALPN or the first bytes (held in ``conn.sniffed``); None: not yet known.

    An HTTP/1.1 request asking for ``Upgrade: h2c`` goes to the HTTP/2 decoder, which follows the upgrade.
    """
    if conn.alpn in ("h2", "h2c"):
        return "h2"
    if conn.alpn == "http/1.1":
        return "http/1.1"
    client = b"".join(chunk for sender, chunk, _ in conn.sniffed if sender == "client")
    held = sum(len(chunk) for _, chunk, _ in conn.sniffed)
    if not client:
        server = b"".join(chunk for sender, chunk, _ in conn.sniffed if sender == "server")
        if looks_like_response(server):
            return "http/1.1"  # the capture began after a request: its response still shows the protocol
        return "h2" if held > SNIFF_LIMIT else None
    if PREFACE.startswith(client[: len(PREFACE)]):
        return "h2"
    if not looks_like_request(client):
        if len(client) < 8 and client.isalpha() and client.isupper():
            return None  # a method name still arriving
        return "h2"  # perhaps HTTP/2 frames of a connection that began before the capture
    end = client.find(b"\r\n\r\n")
    if end < 0:
        return "http/1.1" if held > SNIFF_LIMIT else None
    head = client[:end].lower()
    upgrade = [line for line in head.split(b"\r\n") if line.startswith(b"upgrade:")]
    return "h2" if any(b"h2c" in line for line in upgrade) else "http/1.1"


def _learn_direction(
    conn: _TcpConnection, row: Mapping[str, str], src: Endpoint, dst: Endpoint, chunks: list[bytes]
) -> None:
    syn, ack = _has_flag(row, "tcp.flags.syn"), _has_flag(row, "tcp.flags.ack")
    types = row.get("tls.handshake.type", "").split(",")
    first = chunks[0] if chunks else b""
    if syn and not ack or "1" in types or first.startswith(PREFACE[:16]) or first.startswith(HTTP1_METHODS):
        conn.client, conn.server = src, dst
    elif syn and ack or "2" in types or first.startswith(b"HTTP/1."):
        conn.client, conn.server = dst, src
    elif field_int(row.get("tcp.len")) > 0:
        # Mid-connection: the well-known (lower) port is most likely the server's.
        conn.client, conn.server = (src, dst) if src.port > dst.port else (dst, src)


def _in_order_cleartext(conn: _TcpConnection, sender: Side, row: Mapping[str, str], chunks: list[bytes],
                        at: float) -> list[bytes]:
    """Cleartext payload put in sequence order: retransmissions dropped, early segments held until their turn.

    tshark's relative sequence numbers start at 1 for the first byte of each direction.
    """
    if conn.cleartext is None:
        conn.cleartext = {}
    reassembler = conn.cleartext.setdefault(sender, StreamReassembler())
    delivery = reassembler.receive(max(0, field_int(row.get("tcp.seq")) - 1), b"".join(chunks), False, at)
    return [delivery.data] if delivery.data else []


def _tls_version(row: Mapping[str, str]) -> str | None:
    supported = row.get("tls.handshake.extensions.supported_version", "").split(",")[0]
    if supported in TLS_VERSIONS:
        return TLS_VERSIONS[supported]
    version = row.get("tls.handshake.version", "").split(",")[0]
    return TLS_VERSIONS.get(version)


def _hex_chunks(text: str) -> list[bytes]:
    if not text:
        return []
    chunks = []
    for part in text.split(","):
        try:
            chunks.append(bytes.fromhex(part.replace(":", "")))
        except ValueError:
            continue
    return chunks


def _has_flag(row: Mapping[str, str], *names: str) -> bool:
    return any(row.get(name, "").split(",")[0] in ("1", "True") for name in names)
