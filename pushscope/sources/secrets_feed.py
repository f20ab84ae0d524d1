"""A pcapng capture handed to tshark through its stdin, with a big key log's secrets inside it as Decryption
Secrets Blocks: the secrets of the first connections first, all of them a little later.

tshark parses every line of its key log before it decrypts its first record (tshark 4.0: about 24 ms a MB, so a
64 MB key log held a gigabyte capture's first rows back by 1.5 s). The secrets a pcapng holds are read where they
stand, as the packets are. So the capture goes to tshark as it is, but with two kinds of secrets block put in:
right after its section header, the secrets of the handshakes in its first HEAD bytes; after those bytes, every
secret of the key log (its lean copy: see ``keylog_pipe``). tshark decrypts the first connections at once and parses
the whole key log once their rows are out. It reads the same packets in the same order, and every connection's
secrets are there before its handshake: the rows are the same as with the key log itself.

Which secrets the head's handshakes need is read from its bytes: a TLS record holding a ClientHello starts its TCP
stream, so its random lies whole in the stream's first segment, 11 bytes into it. A QUIC ClientHello is encrypted:
a head that may hold a QUIC long header gets every secret first (the key log's cost, as before). The secrets pass
from pushscope to tshark through the kernel's pipe, never onto a disk.
"""

from __future__ import annotations

import errno
import os
import re
import struct
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

from pushscope.sources.keylog import KeyLogText
from pushscope.sources.keylog_pipe import lean_keylog_text, widen_pipe, worth_a_pipe, write_all

# Key log bytes above which the feed is worth it: tshark parses a key log at about 24 ms a MB, and the feed's own work
# before the head (finding its ClientHellos, whether it may hold QUIC) takes about 0.1 s. The inspector's first row,
# five alternated starts each: 1.9 MB key log, 0.97 s fed against 0.88 s piped; 18.8 MB, 0.83 s against 1.09 s.
FEED_ABOVE = 8 << 20
HEAD = 8 << 20  # bytes of the capture whose handshakes' secrets come first (tshark reads them in about 2 s)
BLOCK_TEXT = 4 << 20  # key log bytes in one secrets block at most (tshark holds a block whole while it reads it)
SEND_CHUNK = 1 << 20  # capture bytes handed to tshark per call
# Bytes of the head's secrets held at most: a key log naming the head's client randoms in more lines than that (its
# connections have about 1 KB of secrets each) gets every secret first instead.
MAX_HEAD_SECRETS = 16 << 20
SECTION_HEADER = 0x0A0D0D0A
SECRETS_BLOCK = 0x0000000A
TLS_KEY_LOG = 0x544C534B  # "TLSK": the block's secrets are NSS key log lines
BYTE_ORDER_MAGIC = 0x1A2B3C4D
MIN_BLOCK = 12  # type, length, length again
# The start of a TLS record holding a ClientHello (handshake record, SSL 3.0 to TLS 1.3 framing; handshake type 1;
# legacy version 3.x), then the client random.
_CLIENT_HELLO = re.compile(rb"\x16\x03[\x00-\x04]..\x01...\x03[\x00-\x04](.{32})", re.DOTALL)
# A QUIC long header (the form bit set) of a version tshark may decrypt (1, 2, the drafts, mvfst's) and a connection
# ID length QUIC allows: looked for anywhere in a UDP datagram's payload, so that QUIC tunnelled over UDP is seen too.
# A false alarm only costs the head its head start.
_QUIC_LONG_HEADER = re.compile(rb"[\x80-\xff](?:\x00\x00\x00\x01|\x6b\x33\x43\xcf|\xff\x00\x00.|\xfa\xce\xb0\x00.)"
                               rb"[\x00-\x14]", re.DOTALL)
# The labels whose secrets, all four, make a TLS 1.3 connection decryptable; one CLIENT_RANDOM line does for 1.2.
_TLS13_NEEDED = frozenset({b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", b"SERVER_HANDSHAKE_TRAFFIC_SECRET",
                           b"CLIENT_TRAFFIC_SECRET_0", b"SERVER_TRAFFIC_SECRET_0"})
_TLS12 = b"CLIENT_RANDOM"
_EXPORTERS = (b"EXPORTER_SECRET", b"EARLY_EXPORTER_SECRET")


def section_byte_order(first_bytes: bytes) -> str | None:
    """``struct``'s byte order of a pcapng's first section ("<" or ">"), or None when this is not a pcapng."""
    if len(first_bytes) < 12 or struct.unpack_from("<I", first_bytes)[0] != SECTION_HEADER:
        return None
    for order in "<>":
        if struct.unpack_from(order + "I", first_bytes, 8)[0] == BYTE_ORDER_MAGIC:
            return order
    return None


def whole_blocks_end(data: bytes, byte_order: str) -> int:
    """Where the last block that ``data`` holds whole ends (blocks walked by their lengths from its start; a length
    that cannot be a block's ends the walk)."""
    position = 0
    while position + 8 <= len(data):
        length = struct.unpack_from(byte_order + "I", data, position + 4)[0]
        if length < MIN_BLOCK or length % 4 or position + length > len(data):
            break
        position += length
    return position


def client_hello_randoms(data: bytes | memoryview) -> set[bytes]:
    """The client random (lowercase hex) of every TLS ClientHello record that starts in ``data``."""
    return {match.group(1).hex().encode() for match in _CLIENT_HELLO.finditer(data)}


def may_hold_quic(blocks: bytes | memoryview, byte_order: str) -> bool:
    """Whether the pcapng ``blocks`` (whole blocks of a section whose header they follow) may hold a QUIC packet:
    a UDP datagram with a QUIC long header in it, or a packet this cannot look into (a link type or a tunnel it
    does not read)."""
    link_types: list[int] = []
    for block_type, body in _blocks(memoryview(blocks), byte_order):  # (a view: slices of it copy nothing)
        if block_type == 1 and len(body) >= 2:  # an interface: its link type
            link_types.append(struct.unpack_from(byte_order + "H", body)[0])
        elif block_type in (2, 3, 6):  # a packet: (obsolete) packet, simple packet, enhanced packet block
            if block_type == 3:
                interface, data = 0, body[4:]
            elif len(body) >= 20:
                interface = struct.unpack_from(byte_order + "H" if block_type == 2 else byte_order + "I", body)[0]
                captured = struct.unpack_from(byte_order + "I", body, 12)[0]
                data = body[20:20 + captured]
            else:
                continue
            if interface >= len(link_types) or _may_be_quic(link_types[interface], data):
                return True
        elif block_type == SECTION_HEADER:
            return True  # (another section, maybe of the other byte order: not read)
    return False


def _blocks(data: memoryview, byte_order: str) -> Iterator[tuple[int, memoryview]]:
    position = 0
    while position + MIN_BLOCK <= len(data):
        block_type, length = struct.unpack_from(byte_order + "II", data, position)
        if length < MIN_BLOCK or position + length > len(data):
            return
        yield block_type, data[position + 8:position + length - 4]
        position += length


# Link types whose IP packet starts at a fixed offset (raw IP: the version nibble says which); see _ip_packet.
_ETHERNET, _NULL, _RAW, _RAW_ALSO, _LOOP, _LINUX_SLL, _IPV4, _IPV6, _LINUX_SLL2 = 1, 0, 101, 12, 108, 113, 228, 229, 276
_IP_VERSION_4, _IP_VERSION_6 = 0x0800, 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_UDP, _TUNNELS = 17, (4, 41, 47)  # IP in IP, IPv6 in IP, GRE
_IPV6_OPTIONS = (0, 43, 44, 60)  # hop-by-hop, routing, fragment, destination options


def _may_be_quic(link_type: int, frame: memoryview) -> bool:
    packet = _ip_packet(link_type, frame)
    if packet is None:
        return True
    protocol, payload = _ip_payload(packet)
    if protocol in _TUNNELS or protocol == -1:
        return True
    return protocol == _UDP and _QUIC_LONG_HEADER.search(payload, 8) is not None


def _ip_packet(link_type: int, frame: memoryview) -> memoryview | None:
    """The IP packet in a frame of this link type (empty when it holds none), or None when this cannot tell."""
    if link_type == _ETHERNET:
        offset, ether_type = 14, frame[12:14]
        while len(ether_type) == 2 and int.from_bytes(ether_type, "big") in _VLAN_TAGS:
            ether_type, offset = frame[offset + 2:offset + 4], offset + 4
        kind = int.from_bytes(ether_type, "big") if len(ether_type) == 2 else 0
    elif link_type == _LINUX_SLL:
        offset, kind = 16, int.from_bytes(frame[14:16], "big")
    elif link_type == _LINUX_SLL2:
        offset, kind = 20, int.from_bytes(frame[0:2], "big")
    elif link_type in (_NULL, _LOOP):
        return frame[4:]  # (its family field's byte order is the capturing host's: the version nibble says)
    elif link_type in (_RAW, _RAW_ALSO, _IPV4, _IPV6):
        return frame
    else:
        return None
    return frame[offset:] if kind in (_IP_VERSION_4, _IP_VERSION_6) else frame[:0]


def _ip_payload(packet: memoryview) -> tuple[int, memoryview]:
    """(protocol, payload) of an IP packet; protocol 0 for anything else, -1 for what this cannot read."""
    if not packet:
        return 0, packet
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        return packet[9], packet[(packet[0] & 0x0F) * 4:]
    if version == 6 and len(packet) >= 40:
        protocol, offset = packet[6], 40
        while protocol in _IPV6_OPTIONS:
            if len(packet) < offset + 8:
                return -1, packet[:0]
            protocol, offset = packet[offset], offset + (8 if protocol == 44 else (packet[offset + 1] + 1) * 8)
        return protocol, packet[offset:]
    return 0, packet[:0]


def secrets_block(text: bytes, byte_order: str) -> bytes:
    """A pcapng Decryption Secrets Block holding key log ``text``."""
    padding = -len(text) % 4
    length = 4 * 5 + len(text) + padding
    return (struct.pack(byte_order + "IIII", SECRETS_BLOCK, length, TLS_KEY_LOG, len(text)) + text
            + b"\0" * padding + struct.pack(byte_order + "I", length))


def secret_lines_for(chunks: Iterable[list[bytes]], randoms: set[bytes]) -> list[bytes] | None:
    """The key log's lines (from ``chunks`` of lines) that the connections of these client randoms need, and any
    line keyed by something other than a client random (an RSA pre-master secret's); None past MAX_HEAD_SECRETS
    bytes of them.

    Reads on only while a random still lacks what decrypts it (all four TLS 1.3 traffic secrets, or a
    CLIENT_RANDOM line): written as connections open, a key log usually holds a capture's first connections early.
    A random whose secrets are incomplete (a connection without keys, or keyed otherwise) means reading to the end.
    """
    lacking = dict.fromkeys(randoms, frozenset[bytes]())
    kept: list[bytes] = []
    size = 0
    for lines in chunks:
        if size > MAX_HEAD_SECRETS:
            return None
        for line in lines:
            label, _, rest = line.partition(b" ")
            key = rest[:64].lower()
            if key in lacking:
                if label not in _EXPORTERS:
                    kept.append(line)
                    size += len(line)
                    labels = lacking[key] | {label}
                    if label == _TLS12 or _TLS13_NEEDED <= labels:
                        del lacking[key]
                    else:
                        lacking[key] = labels
            elif rest and rest[64:65] != b" " and not label.startswith(b"#"):
                kept.append(line)  # (not a client random's: keyed by what the head cannot show)
                size += len(line)
            elif key in randoms and label not in _EXPORTERS:
                kept.append(line)  # (a complete random's: a duplicate, or a later key update)
                size += len(line)
        if not lacking:
            break
    return kept if size <= MAX_HEAD_SECRETS else None


def _blocks_of(lines: list[bytes], byte_order: str) -> Iterator[bytes]:
    """``lines`` as secrets blocks of at most BLOCK_TEXT bytes (a longer line alone)."""
    text: list[bytes] = []
    size = 0
    for line in lines:
        if text and size + len(line) + 1 > BLOCK_TEXT:
            yield secrets_block(b"\n".join(text) + b"\n", byte_order)
            text, size = [], 0
        text.append(line)
        size += len(line) + 1
    if text:
        yield secrets_block(b"\n".join(text) + b"\n", byte_order)


def feed_for(capture: str, keylog: str | None) -> SecretsFeed | None:
    """The feed that hands tshark ``capture`` with ``keylog``'s secrets inside, when worth it: a plain key log over
    FEED_ABOVE bytes (see also ``keylog_pipe.worth_a_pipe``) and a plain pcapng, on Linux."""
    if keylog is None or not worth_a_pipe(keylog):
        return None
    try:
        if os.path.getsize(keylog) <= FEED_ABOVE:
            return None
    except OSError:
        return None
    try:
        with open(capture, "rb") as handle:
            start = handle.read(12)
    except OSError:
        return None
    byte_order = section_byte_order(start)
    if byte_order is None:
        return None
    length = struct.unpack_from(byte_order + "I", start, 4)[0]
    if not MIN_BLOCK < length <= HEAD or length % 4:  # (a broken section header: tshark says so, from the file)
        return None
    return SecretsFeed(capture, keylog, byte_order)


class SecretsFeed:
    """Writes ``capture`` into tshark's stdin with ``keylog``'s secrets put in (see the module's docstring), on a
    thread of its own. ``position``: the capture's bytes handed to tshark so far. ``release`` once tshark has ended."""

    def __init__(self, capture: str, keylog: str, byte_order: str) -> None:
        self.capture, self.keylog, self.byte_order = capture, keylog, byte_order
        self.position = 0
        self.head_randoms: int | None = None  # ClientHellos found in the head (None: every secret went first)
        self.head_secrets = 0  # lines in the first secrets block
        self._released = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, stdin: IO[Any]) -> None:
        self._thread = threading.Thread(target=self._write, args=(stdin,), name="pushscope-secrets-feed", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """tshark has ended (or is ending): the writer stops at its next block."""
        self._released.set()

    def join(self, timeout: float | None = None) -> bool:
        """Whether the writer has ended (waiting up to ``timeout``)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _write(self, stdin: IO[Any]) -> None:
        try:
            with open(self.capture, "rb") as source:
                out = stdin.fileno()
                widen_pipe(out)
                self._send(source.fileno(), out)
        except OSError:
            pass  # tshark is gone (a broken pipe), or the capture could not be read on: tshark reads its end
        except Exception:  # (a capture changed under the feed: tshark reads a cut capture and says so; nothing
            pass  # of this thread's reaches the terminal)
        finally:
            try:
                stdin.close()  # (tshark reads the capture's end)
            except OSError:
                pass

    def _send(self, source: int, out: int) -> None:
        head = os.pread(source, HEAD, 0)
        first = struct.unpack_from(self.byte_order + "I", head, 4)[0] if len(head) >= MIN_BLOCK else len(head) + 1
        cut = whole_blocks_end(head, self.byte_order)
        if cut < first:  # (changed since ``feed_for`` looked: no whole section header) the capture as it is
            self._copy_from(0, source, out)
            return
        write_all(out, head[:first])  # (the section header comes first, as pcapng has it)
        blocks = memoryview(head)[first:cut]  # (the head's blocks, looked at twice: not copied)
        randoms = None if cut == first or may_hold_quic(blocks, self.byte_order) else client_hello_randoms(blocks)
        lines = None if randoms is None else \
            secret_lines_for((chunk for _, chunk in KeyLogText(self.keylog).chunks()), randoms)
        if randoms is None or lines is None:
            cut = first  # every secret first
        else:
            self.head_randoms, self.head_secrets = len(randoms), len(lines)
            for block in _blocks_of(lines, self.byte_order):
                write_all(out, block)
            write_all(out, blocks)
            self.position = cut
        del blocks, head
        for _, chunk in KeyLogText(self.keylog).chunks():
            if self._released.is_set():
                return
            text = lean_keylog_text(chunk)
            if len(text) > 1:  # (a chunk's lines: about a READ_CHUNK of text, one block)
                write_all(out, secrets_block(text[1:] + b"\n", self.byte_order))
        self._copy_from(cut, source, out)

    def _copy_from(self, offset: int, source: int, out: int) -> None:
        while not self._released.is_set():
            sent = _send_part(source, out, offset)
            if sent == 0:
                return
            offset += sent
            self.position = offset


def _send_part(source: int, out: int, offset: int) -> int:
    """Up to SEND_CHUNK bytes of the capture from ``offset`` into the pipe, in the kernel where it can; 0 at its
    end."""
    try:
        return os.sendfile(out, source, offset, SEND_CHUNK)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOSYS):  # (no sendfile into a pipe here: copied instead)
            raise
    data = os.pread(source, SEND_CHUNK, offset)
    write_all(out, data)
    return len(data)
