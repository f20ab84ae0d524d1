"""The account of every TCP and UDP conversation of a capture: decoded, undecodable (why) or not web traffic.

The row loop feeds every packet (:meth:`ConversationLedger.packet`) and every event the readers emit
(:meth:`ConversationLedger.observe`); readers and decryptors that know more say so directly
(:meth:`ConversationLedger.decoded`, :meth:`ConversationLedger.undecodable`).
At the end :meth:`ConversationLedger.finish` gives each conversation exactly one ``ConversationAccounted`` and a
warning for each one with application data that nothing decoded, biggest first, so a missing connection never
passes in silence.

A conversation is keyed like the connections: ``"t" + tcp.stream`` and ``"q" + udp.stream``. A decryptor that
finds a UDP conversation belongs to another connection (a migrated QUIC connection) passes that connection's id.
``bytes`` counts transport payload (TCP segment data, UDP payload), not headers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pushscope.events import (
    ConnectionOpened,
    ConnectionUpdated,
    ConversationAccounted,
    ConversationStatus,
    DataReceived,
    Diagnostic,
    Endpoint,
    HeadersReceived,
    PushPromiseReceived,
    SettingsReceived,
)
from pushscope.sources.fields import endpoints, field_int
from pushscope.units import fmt_bytes

# Well-known ports of traffic that is not HTTP, named for the account.
NOT_WEB_UDP_PORTS = {53: "DNS", 5353: "mDNS", 5355: "LLMNR", 123: "NTP", 67: "DHCP", 68: "DHCP", 137: "NetBIOS",
                     138: "NetBIOS", 1900: "SSDP", 3478: "STUN", 19302: "STUN", 161: "SNMP", 514: "syslog"}
NOT_WEB_TCP_PORTS = {53: "DNS over TCP", 853: "DNS over TLS", 22: "SSH", 25: "SMTP", 587: "SMTP", 993: "IMAPS",
                     143: "IMAP", 110: "POP3", 995: "POP3S", 5222: "XMPP", 3306: "MySQL", 5432: "PostgreSQL"}
# Reader diagnostics that say why a connection was not decrypted: their wording becomes the account's reason.
WHY_CODES = ("not-decrypted", "quic-version")
HTTP_PROTOCOLS = ("h2", "h3", "http/1.1")
# What observe() learns from each kind of item; anything else passes untouched.
_OBSERVED: dict[type, str] = {HeadersReceived: "http", DataReceived: "http", PushPromiseReceived: "http",
                              SettingsReceived: "http", ConnectionUpdated: "updated", ConnectionOpened: "opened",
                              Diagnostic: "diagnostic"}
T = TypeVar("T")
MAX_LISTED = 50  # undecoded conversations named one by one in the diagnostics; the rest are summed


@dataclass(slots=True)
class _Conversation:
    key: str
    transport: str  # "tcp" or "udp"
    first: Endpoint
    second: Endpoint
    first_at: float
    last_at: float
    packets: int = 0
    bytes: int = 0
    client: Endpoint | None = None
    server: Endpoint | None = None
    connection_id: str | None = None
    connection_transport: str = ""  # "tls", "tcp" or "quic" once a reader opened it as a connection
    protocol: str = ""
    alpn: str = ""
    decrypted: bool | None = None
    how: str = ""
    http_seen: bool = False
    why_not_decrypted: str = ""
    looks_quic: bool | None = None  # UDP: its first payload looks like a QUIC packet
    status: ConversationStatus | None = None  # set by an explicit verdict
    reason: str = ""


class ConversationLedger:
    """Per-conversation counters and facts; one account each at the end."""

    def __init__(self, *, secrets: str = "handshake") -> None:
        # How tshark decrypted what it did: "handshake" (key log) or "dsb" (secrets embedded in the pcapng).
        self._secrets = secrets
        self._conversations: dict[str, _Conversation] = {}
        # The raw tshark stream field -> its conversation, so the hot path builds no key string.
        self._by_tcp_stream: dict[str, _Conversation] = {}
        self._by_udp_stream: dict[str, _Conversation] = {}
        # connection id -> conversation key, for connections whose id differs from their conversation's key.
        self._by_connection: dict[str, str] = {}
        self._http_seen: set[str] = set()  # connection ids whose HTTP was seen (their conversation is marked)

    # -- input from the row loop -------------------------------------------------------------------------

    def packet(self, row: Mapping[str, str], at: float) -> None:
        """One tshark row: count it against its TCP or UDP conversation. On the hot path: kept cheap."""
        stream = row.get("tcp.stream")
        if stream:
            conv = self._by_tcp_stream.get(stream)
            if conv is None:
                conv = self._by_tcp_stream[stream] = self._new(row, "tcp", "t" + stream.split(",", 1)[0], at)
            length = row.get("tcp.len", "")
            conv.bytes += int(length) if length.isascii() and length.isdigit() else field_int(length)
        else:
            stream = row.get("udp.stream")
            if not stream or row.get("icmp.type") or row.get("icmpv6.type"):
                return  # ICMP errors quote a UDP header: not the conversation's own traffic
            conv = self._by_udp_stream.get(stream)
            if conv is None:
                conv = self._by_udp_stream[stream] = self._new(row, "udp", "q" + stream.split(",", 1)[0], at)
            payload = max(0, field_int(row.get("udp.length")) - 8)
            conv.bytes += payload
            if conv.looks_quic is None and payload:
                conv.looks_quic = bool(row.get("quic.header_form")) or _looks_like_quic(conv, row.get("data.data", ""))
        conv.packets += 1
        conv.last_at = at

    def _new(self, row: Mapping[str, str], transport: str, key: str, at: float) -> _Conversation:
        conv = self._conversations.get(key)  # a second stream text for the same key (tunnelled) joins it
        if conv is None:
            conv = self._conversations[key] = _new_conversation(key, transport, row, at)
        return conv

    def observe(self, item: object) -> None:
        """An event or diagnostic a reader emitted: learn orientation, protocol, decryption and HTTP seen.
        Most events (frames, data) need nothing here: one dict lookup lets them pass."""
        kind = _OBSERVED.get(type(item))
        if kind is None:
            return
        if kind == "http":
            connection_id: str = item.connection_id  # type: ignore[attr-defined]
            if connection_id not in self._http_seen:
                self._http_seen.add(connection_id)
                conv = self._for_connection(connection_id)
                if conv is not None:
                    conv.http_seen = True
        elif kind == "updated":
            self._updated(item)  # type: ignore[arg-type]
        elif kind == "opened":
            self._opened(item)  # type: ignore[arg-type]
        else:
            self._diagnostic(item)  # type: ignore[arg-type]

    def _diagnostic(self, item: Diagnostic) -> None:
        if item.code in WHY_CODES and item.connection_id and "not decrypted" in item.message:
            conv = self._for_connection(item.connection_id)
            if conv is not None:
                conv.why_not_decrypted = item.message[item.message.find("not decrypted"):]

    # -- explicit verdicts from readers and decryptors -------------------------------------------------------

    def decoded(self, key: str, protocol: str, how: str, connection_id: str | None = None) -> None:
        """``key``'s HTTP was read (``how`` it was decrypted: "handshake", "dsb", "cleartext", "trial: ...")."""
        conv = self._conversations.get(key)
        if conv is not None:
            conv.status, conv.protocol, conv.how, conv.reason = "decoded", protocol, how, ""
            if connection_id is not None:
                conv.connection_id = connection_id
                if connection_id != key:
                    self._by_connection.setdefault(connection_id, key)

    def undecodable(self, key: str, reason: str) -> None:
        """``key`` carries application data that could not be read, and why. A later ``decoded`` wins."""
        conv = self._conversations.get(key)
        if conv is not None and conv.status != "decoded":
            conv.status, conv.reason = "undecodable", reason

    def passing(self, items: list[T]) -> list[T]:
        """A reader's output, observed on its way out (``yield from ledger.passing(reader.feed(...))``)."""
        for item in items:
            self.observe(item)
        return items

    def keys(self) -> list[str]:
        return list(self._conversations)

    # -- the account ---------------------------------------------------------------------------------------

    def finish(self, *, cancelled: bool = False) -> list[ConversationAccounted | Diagnostic]:
        """One account per conversation (in order of first packet), then a warning per undecoded one.
        ``cancelled``: the load stopped early, so a conversation nothing was decoded from may just not have been
        read far enough: its reason says so."""
        accounts = [self._account(conv, cancelled) for conv in self._conversations.values()]
        accounts.sort(key=lambda a: a.first_at or 0.0)
        return [*accounts, *undecoded_diagnostics(accounts)]

    def _account(self, conv: _Conversation, cancelled: bool = False) -> ConversationAccounted:
        status, reason = conv.status, conv.reason
        if status is None:
            status, reason = _judge(conv, self._secrets)
            if cancelled and status == "undecodable" and not conv.why_not_decrypted:
                reason = f"the load was cancelled before it was read far enough to tell ({reason} so far)"
        client, server = conv.client or conv.first, conv.server or conv.second
        if conv.client is None:
            # No reader oriented it: the well-known (lower) port is most likely the server's.
            client, server = (conv.first, conv.second) if conv.first.port > conv.second.port else (conv.second,
                                                                                                      conv.first)
        how = conv.how if status == "decoded" else ""
        protocol = conv.protocol if status == "decoded" else ""
        return ConversationAccounted(transport=conv.transport, client=client, server=server,  # type: ignore[arg-type]
                                     status=status, packets=conv.packets, bytes=conv.bytes, protocol=protocol, how=how,
                                     reason=reason if status != "decoded" else "", connection_id=conv.connection_id,
                                     first_at=conv.first_at, last_at=conv.last_at, conversation_id=conv.key)

    def _for_connection(self, connection_id: str) -> _Conversation | None:
        conv = self._conversations.get(connection_id)
        if conv is None:
            key = self._by_connection.get(connection_id)
            conv = self._conversations.get(key) if key is not None else None
        return conv

    def _opened(self, event: ConnectionOpened) -> None:
        conv = self._for_connection(event.connection_id)
        if conv is None:
            return
        conv.client, conv.server = event.client, event.server
        conv.connection_id = event.connection_id
        conv.connection_transport = event.transport
        if event.protocol != "unknown":
            conv.protocol = event.protocol
        conv.alpn = event.alpn or conv.alpn

    def _updated(self, event: ConnectionUpdated) -> None:
        conv = self._for_connection(event.connection_id)
        if conv is None:
            return
        if event.protocol and event.protocol != "unknown":
            conv.protocol = event.protocol
        if event.decrypted is not None:
            conv.decrypted = event.decrypted
        if conv.status != "decoded":  # an explicit verdict's ``how`` stands
            conv.how = event.decrypted_how or conv.how
        conv.alpn = event.alpn or conv.alpn


def _judge(conv: _Conversation, secrets: str) -> tuple[ConversationStatus, str]:
    """Status and reason from what the readers found, for a conversation nobody gave a verdict on."""
    if conv.http_seen or (conv.decrypted and (conv.protocol in HTTP_PROTOCOLS or _http_alpn(conv.alpn))):
        # A decrypted connection that announced HTTP but carried no request (a browser's spare connection)
        # is decoded too: there was nothing else to read.
        if not conv.how:
            conv.how = secrets if conv.decrypted or conv.connection_transport == "quic" else "cleartext"
        conv.protocol = conv.protocol or _protocol_of(conv.alpn)
        return "decoded", ""
    well_known = _well_known(conv)
    if well_known:
        return "not-web", well_known
    if conv.bytes == 0:
        return "not-web", "no application data"
    if conv.why_not_decrypted:
        return "undecodable", conv.why_not_decrypted
    if conv.connection_transport in ("tls", "quic"):
        what = "TLS" if conv.connection_transport == "tls" else "QUIC"
        if conv.decrypted:
            return "undecodable", f"decrypted {what}, but not HTTP" + (f" (ALPN {conv.alpn})" if conv.alpn else "")
        return "undecodable", f"{what} not decrypted"
    if conv.transport == "udp":
        if conv.looks_quic:
            return "undecodable", ("QUIC packets tshark did not decode (the connection's handshake is not in the "
                                   "capture, or it moved here from another address or port)")
        return "not-web", "UDP, not QUIC"
    return "undecodable", "not HTTP"


def _http_alpn(alpn: str) -> bool:
    return alpn.split(",")[0] in ("h2", "h2c", "http/1.1") or alpn.startswith("h3")


def _protocol_of(alpn: str) -> str:
    first = alpn.split(",")[0]
    return "h3" if first.startswith("h3") else {"h2": "h2", "h2c": "h2", "http/1.1": "http/1.1"}.get(first, "")


def _looks_like_quic(conv: _Conversation, payload_hex: str) -> bool:
    """A long header of a known version anywhere, or a short header (fixed bit set) on UDP port 443."""
    if len(payload_hex) < 2:
        return False
    first = int(payload_hex[:2], 16) if all(c in "0123456789abcdefABCDEF" for c in payload_hex[:2]) else 0
    if first & 0x80:
        return payload_hex[2:10].startswith(("00000001", "6b3343cf", "ff0000"))
    return bool(first & 0x40) and 443 in (conv.first.port, conv.second.port)


def _well_known(conv: _Conversation) -> str:
    ports = NOT_WEB_UDP_PORTS if conv.transport == "udp" else NOT_WEB_TCP_PORTS
    for port in sorted((conv.first.port, conv.second.port)):
        if port in ports:
            return ports[port]
    return ""


def undecoded_diagnostics(accounts: Iterable[ConversationAccounted]) -> list[Diagnostic]:
    """A warning per undecodable conversation, biggest first (then a sum for those past ``MAX_LISTED``)."""
    undecoded = sorted((a for a in accounts if a.status == "undecodable"), key=lambda a: (-a.bytes, -a.packets))
    out: list[Diagnostic] = []
    for account in undecoded[:MAX_LISTED]:
        transport = account.transport.upper()
        name = account.conversation_id or account.connection_id or "conversation"
        message = (f"{transport} {name} {account.client} -> {account.server}: {account.packets} packets, "
                   f"{fmt_bytes(account.bytes)} not decoded: {account.reason}")
        out.append(Diagnostic(level="warning", message=message, connection_id=account.connection_id,
                              code="undecoded-conversation"))
    rest = undecoded[MAX_LISTED:]
    if rest:
        message = (f"{len(rest)} more conversations not decoded: {sum(a.packets for a in rest)} packets, "
                   f"{fmt_bytes(sum(a.bytes for a in rest))}")
        out.append(Diagnostic(level="warning", message=message, connection_id=None, code="undecoded-conversation"))
    return out


def _new_conversation(key: str, transport: str, row: Mapping[str, str], at: float) -> _Conversation:
    src, dst = endpoints(row, transport)
    return _Conversation(key, transport, src, dst, at, at)

