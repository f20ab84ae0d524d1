"""Decrypting QUIC short-header packets that tshark left undecrypted, from the same tshark pass.

tshark decrypts a QUIC connection only when it saw the handshake (or can follow the connection to a new
address). A connection that began before the capture, or whose packets tshark did not recognise, reaches us
as raw bytes: ``data.data`` when tshark did not dissect the datagram as QUIC, ``quic.remaining_payload``
when it did (a port given with --quic-port) but knew no connection for it. Only those rows come here, so a capture that
tshark decrypts fully costs nothing more.

For each UDP conversation we search a key: the key log's 1-RTT secret pairs, those whose connection IDs the
capture showed first (a connection that moved), then the ones no handshake in the capture claimed; both
secrets of a pair, each cipher suite the secret's length allows, the connection ID lengths the capture's long
headers used and then 0, 4, 8, 16, 20. The first packet whose AEAD tag verifies fixes the pair, the direction and the
lengths; packets seen while searching are kept (bounded) and decrypted then. The frames go to the QUIC
reader, which reassembles the streams and decodes HTTP/3 as for any other connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pushscope.decode.quic_frames import PacketFrames, parse_frames
from pushscope.events import Endpoint
from pushscope.sources.fields import endpoints, field_first, field_last
from pushscope.sources.trial_keys import SecretPair

if TYPE_CHECKING:
    from pushscope.decode.quic_packet import DirectionKeys, PacketKeys, ShortPacket
    from pushscope.sources.conversations import ConversationLedger

# Only with --quic-port (tshark's decode-as) does tshark dissect a packet of a connection it does not know as
# QUIC; it then prints it as quic.remaining_payload, without its first byte's protected bits. Without
# decode-as such packets come as data.data, which the pass reads anyway. Any field asked for costs tshark
# time on every packet (5-10 % for six empty ones), so these are asked for only then.
DECODE_AS_FIELDS = ["quic.remaining_payload", "quic.spin_bit"]


def trial_fields(quic_ports: list[int]) -> list[str]:
    return list(DECODE_AS_FIELDS) if quic_ports else []


USUAL_CID_LENGTHS = (8, 16, 20, 4, 0)
SEARCH_PACKETS = 16  # packets of one conversation tried against every candidate before giving up
PENDING_LIMIT = 512  # packets kept while searching, decrypted once the key is found
# First byte, then (after the DCID) 4 bytes from the packet number's start to the 16-byte header-protection
# sample, which a valid packet always has (it pads when too short).
MIN_SHORT_PACKET = 1 + 4 + 16

FeedDecrypted = Callable[..., list]


class QuicConnections(Protocol):
    """What the account needs from the QUIC reader (sources/quic_rows.py)."""

    def known_streams(self) -> set[str]: ...

    def moved_connections(self) -> list[tuple[str, str, str, str | None]]: ...


@dataclass(slots=True)
class _Packet:
    at: float
    src: Endpoint
    dst: Endpoint
    data: bytes
    first_byte_known: bool
    counted: bool  # tshark's QUIC reader already counted its bytes


@dataclass(slots=True)
class _Direction:
    keys: DirectionKeys
    cid_length: int
    is_client: bool


@dataclass(slots=True)
class _Conversation:
    stream: str
    first_src: Endpoint
    first_dst: Endpoint
    pair: SecretPair | None = None
    owner: str | None = None  # udp.stream of the connection this one continues (matched by connection ID)
    suite_keys: tuple[PacketKeys, PacketKeys] | None = None  # (client, server) of the found suite
    directions: dict[Endpoint, _Direction] = field(default_factory=dict)
    pending: list[_Packet] = field(default_factory=list)
    searched: int = 0
    packets: int = 0
    decrypted: int = 0
    failed: int = 0
    bytes: int = 0
    stream_frames: int = 0


class QuicTrial:
    """Per-capture trial decryption state. ``feed_decrypted`` is the QUIC reader's entry for decrypted frames."""

    def __init__(self, pairs: list[SecretPair], feed_decrypted: FeedDecrypted,
                 server_ports: tuple[int, ...] = (443,), join: Callable[[str, str], None] | None = None) -> None:
        self._pairs = pairs
        self._feed_decrypted = feed_decrypted
        self._join = join
        self.server_ports = set(server_ports) | {443}
        self._conversations: dict[str, _Conversation] = {}
        self._claimed: set[str] = set()  # client randoms of handshakes in the capture
        self._cid_owner: dict[bytes, str] = {}  # connection ID -> udp.stream whose handshake we saw
        self._stream_random: dict[str, str] = {}  # udp.stream -> client random (handshake or trial)
        self._cid_lengths: list[int] = []
        self._keys: dict[bytes, list[PacketKeys]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._pairs)

    @property
    def pairs(self) -> list[SecretPair]:
        """The key log's secret pairs, less those this trial found a QUIC connection for."""
        used = {conv.pair.client_random for conv in self._conversations.values() if conv.pair is not None}
        return [pair for pair in self._pairs if pair.client_random not in used]

    @property
    def claimed(self) -> set[str]:
        """Client randoms of the handshakes in the capture (TCP and QUIC)."""
        return self._claimed

    # -- what the rest of the pass tells us -----------------------------------------------------------------

    def note_row(self, row: Mapping[str, str]) -> None:
        """Handshakes and connection IDs of connections tshark decodes (cheap: few rows carry them)."""
        stream = row.get("udp.stream", "")
        if row.get("tls.handshake.random") and "1" in row.get("tls.handshake.type", "").split(","):
            random = row["tls.handshake.random"].split(",")[0].lower()
            self._claimed.add(random)
            if stream:
                self._stream_random[stream] = random
        if stream and (row.get("quic.scid") or row.get("quic.nci.connection_id")):
            for name in ("quic.scid", "quic.dcid", "quic.nci.connection_id"):
                for value in row.get(name, "").split(","):
                    self._learn_cid(value, stream)

    def _learn_cid(self, value: str, stream: str) -> None:
        cid = _hex(value)
        if cid is None:
            return
        self._cid_owner.setdefault(cid, stream)
        if len(cid) not in self._cid_lengths and len(self._cid_lengths) < 8:
            self._cid_lengths.append(len(cid))

    def wants(self, row: Mapping[str, str]) -> bool:
        if not self._pairs or row.get("icmp.type") or row.get("icmpv6.type"):
            return False
        forms = row.get("quic.header_form", "")
        if forms:
            return forms.endswith("0") and bool(row.get("quic.remaining_payload"))
        data = row.get("data.data", "")
        return len(data) >= 2 * MIN_SHORT_PACKET and data[0] in "4567"

    # -- packets -------------------------------------------------------------------------------------------

    def feed(self, row: Mapping[str, str], at: float) -> list:
        packet = _packet(row, at)
        if packet is None:
            return []
        stream = row.get("udp.stream", "")
        conv = self._conversations.get(stream)
        if conv is None:
            conv = self._conversations[stream] = _Conversation(stream, packet.src, packet.dst)
        conv.packets += 1
        conv.bytes += len(packet.data)
        direction = conv.directions.get(packet.src)
        if direction is None and self._may_search(conv):
            direction = self._search(conv, packet)
            if direction is not None:
                return self._found(conv, packet)
        if direction is None:
            if self._may_search(conv) and len(conv.pending) < PENDING_LIMIT:
                conv.pending.append(packet)
            elif conv.pair is None:
                conv.pending.clear()
            return []
        return self._decrypt(conv, direction, packet)

    def _may_search(self, conv: _Conversation) -> bool:
        return conv.searched < SEARCH_PACKETS * (2 if conv.pair is not None else 1)

    def undecrypted(self) -> dict[str, str]:
        """Why each conversation that came here stayed undecrypted, by udp.stream."""
        return {conv.stream: self._why_not(conv) for conv in self._conversations.values() if not conv.decrypted}

    def idle_conversations(self) -> Iterator[_Conversation]:
        """Conversations the trial decrypted that carried no stream data."""
        return (conv for conv in self._conversations.values() if conv.decrypted and not conv.stream_frames)

    def undecrypted_quic_port_conversations(self, known: set[str]) -> Iterator[tuple[_Conversation, str]]:
        """Conversations on a QUIC server port that neither tshark nor the trial decrypted, with the reason."""
        for conv in self._conversations.values():
            on_quic_port = {conv.first_src.port, conv.first_dst.port} & self.server_ports
            if not conv.decrypted and conv.stream not in known and on_quic_port:
                yield conv, self._why_not(conv)

    def _why_not(self, conv: _Conversation) -> str:
        unclaimed = sum(1 for pair in self._pairs if pair.client_random not in self._claimed)
        if conv.pair is not None:
            return (f"the key of key-log line {conv.pair.line} verified for one direction only; "
                    f"{conv.failed} packets did not verify")
        return (f"no 1-RTT secret of the key log verifies on its first {conv.searched} short-header packets "
                f"(tried {len(self._pairs)} secret pairs, {unclaimed} of them claimed by no handshake in the "
                "capture): the key log lacks this connection's secrets")

    # -- searching -----------------------------------------------------------------------------------------

    def _search(self, conv: _Conversation, packet: _Packet) -> _Direction | None:
        conv.searched += 1
        if conv.pair is not None and conv.suite_keys is not None:
            # The other direction of a connection whose key we found: only its CID length is unknown.
            client_keys, server_keys = conv.suite_keys
            is_client = not next(iter(conv.directions.values())).is_client
            keys = client_keys if is_client else server_keys
            return self._try(conv, packet, conv.pair, keys, is_client, self._cid_lengths_for(packet))
        for pair, lengths, owner in self._candidates(packet):
            for is_client, secret in ((True, pair.client), (False, pair.server)):
                for keys in self._keys_of(secret):
                    direction = self._try(conv, packet, pair, keys, is_client, lengths)
                    if direction is not None:
                        self._adopt(conv, pair, owner)
                        return direction
        return None

    def _adopt(self, conv: _Conversation, pair: SecretPair, owner: str | None) -> None:
        """The key is found: remember whose it is, and join a connection that moved to its first path."""
        self._stream_random.setdefault(conv.stream, pair.client_random)
        if owner is not None and owner != conv.stream:
            conv.owner = owner
            if self._join is not None:
                self._join(conv.stream, owner)

    def _try(self, conv: _Conversation, packet: _Packet, pair: SecretPair, keys: PacketKeys, is_client: bool,
             lengths: list[int]) -> _Direction | None:
        from pushscope.decode.quic_packet import DirectionKeys, unprotect_short  # aioquic's TLS: slow to import
        for length in lengths:
            trial = DirectionKeys(keys)
            result = unprotect_short(packet.data, length, trial, packet.first_byte_known)
            if result is None:
                continue
            conv.pair = pair
            if conv.suite_keys is None:
                other = pair.server if is_client else pair.client
                mine = keys
                peer = next(k for k in self._keys_of(other) if k.suite == keys.suite)
                conv.suite_keys = (mine, peer) if is_client else (peer, mine)
            direction = _Direction(trial, length, is_client)
            conv.directions[packet.src] = direction
            return direction
        return None

    def _candidates(self, packet: _Packet) -> Iterator[tuple[SecretPair, list[int], str | None]]:
        """Secret pairs in the order worth trying, each with the CID lengths to try and the connection (by
        udp.stream) whose connection ID the packet carries, if any."""
        lengths = self._cid_lengths_for(packet)
        by_random = {pair.client_random: pair for pair in self._pairs}
        tried: set[str] = set()
        for length in lengths:
            owner = self._cid_owner.get(packet.data[1:1 + length]) if length else None
            random = self._stream_random.get(owner or "")
            if random in by_random and random not in tried:
                tried.add(random)
                yield by_random[random], [length], owner
        # A pair some handshake in the capture claimed is tried only through its connection IDs (above).
        for pair in reversed(self._pairs):  # the newest secrets first: the likeliest to be live
            if pair.client_random not in self._claimed and pair.client_random not in tried:
                yield pair, lengths, None

    def _cid_lengths_for(self, packet: _Packet) -> list[int]:
        lengths = list(self._cid_lengths)
        lengths += [length for length in USUAL_CID_LENGTHS if length not in lengths]
        return [length for length in lengths if length + MIN_SHORT_PACKET <= len(packet.data)]

    def _keys_of(self, secret: bytes) -> list[PacketKeys]:
        keys = self._keys.get(secret)
        if keys is None:
            from pushscope.decode.quic_packet import keys_for_secret

            keys = self._keys[secret] = keys_for_secret(secret)
        return keys

    # -- decrypting ----------------------------------------------------------------------------------------

    def _found(self, conv: _Conversation, packet: _Packet) -> list:
        out: list = []
        pending, conv.pending = conv.pending, []
        for earlier in pending:
            direction = conv.directions.get(earlier.src)
            if direction is None:
                conv.pending.append(earlier)
            else:
                out += self._decrypt(conv, direction, earlier)
        out += self._decrypt(conv, conv.directions[packet.src], packet)
        return out

    def _decrypt(self, conv: _Conversation, direction: _Direction, packet: _Packet) -> list:
        from pushscope.decode.quic_packet import unprotect_short
        result = unprotect_short(packet.data, direction.cid_length, direction.keys, packet.first_byte_known)
        if result is None:
            conv.failed += 1
            return []
        short, keys = result
        direction.keys.accept(short, keys)
        conv.decrypted += 1
        assert conv.pair is not None
        frames = parse_frames(short.payload)
        return self._deliver(conv, direction, packet, short, frames)

    def _deliver(self, conv: _Conversation, direction: _Direction, packet: _Packet, short: ShortPacket,
                 frames: PacketFrames) -> list:
        assert conv.pair is not None
        conv.stream_frames += sum(1 for kind, _ in frames.items if kind == "stream")
        for cid in frames.new_connection_ids:
            self._cid_owner.setdefault(cid, conv.owner or conv.stream)
        return self._feed_decrypted(conv.stream, packet.at, packet.src, packet.dst, direction.is_client,
                                    frames.items, conv.pair.how, 0 if packet.counted else len(packet.data))


def _packet(row: Mapping[str, str], at: float) -> _Packet | None:
    src, dst = endpoints(row, "udp")
    if not row.get("quic.header_form"):
        data = _hex(field_first(row, "data.data"))
        if data is None or len(data) < MIN_SHORT_PACKET or data[0] & 0xC0 != 0x40:
            return None
        return _Packet(at, src, dst, data, True, False)
    # tshark printed the short header's unprotected bits; the rest of its first byte is lost, so it is guessed.
    first = 0x40 | (0x20 if field_last(row, "quic.spin_bit") in ("1", "True") else 0)
    remaining = _hex(field_last(row, "quic.remaining_payload"))
    return None if remaining is None else _Packet(at, src, dst, bytes([first]) + remaining, False, True)





def _hex(text: str) -> bytes | None:
    if not text:
        return None
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None


def account_trial(trial: QuicTrial, reader: QuicConnections, ledger: ConversationLedger, tshark_how: str) -> int:
    """Tell the conversation account what the trial found: a UDP conversation that is another connection on a
    new path is decoded as that connection; one that nobody could decrypt is undecodable, and why.
    ``tshark_how``: how tshark decrypts ("handshake", "dsb"). Returns how many conversations on a QUIC port the
    QUIC reader does not know and nobody decrypted (for its summary's count)."""
    for moved, original, protocol, how in reader.moved_connections():
        ledger.decoded("q" + moved, protocol, how or tshark_how, connection_id="q" + original)
    known = reader.known_streams()
    on_quic_port = {conv.stream for conv, _ in trial.undecrypted_quic_port_conversations(known)}
    for stream, why in trial.undecrypted().items():
        if stream in known or stream in on_quic_port:
            ledger.undecodable("q" + stream, f"QUIC not decrypted: its handshake is not in the capture, and {why}")
    for conv in trial.idle_conversations():
        ledger.undecodable("q" + conv.stream, f"decrypted without its handshake ({conv.pair.how if conv.pair else ''})"
                           ", but the capture holds no stream data of it (only ACK, PING and the like)")
    return len(on_quic_port)
