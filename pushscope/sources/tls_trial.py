"""Decrypting TLS 1.3 over TCP whose handshake the capture lacks, with a second, narrow tshark pass.

The main pass does not ask tshark for encrypted record bytes (``tls.app_data`` is printed for every record,
decrypted or not: asking would double the output of every capture). When it ends with TLS conversations that
carried application records, decrypted none and showed no ClientHello, a second pass reads only those
conversations' records (``-Y tcp.stream in {...}``); a capture without such conversations never runs it.

For each conversation the key log's TLS 1.3 application secret pairs that no handshake in the capture claimed
are tried on the first records of each direction, sequence numbers 0 to 4095 (:mod:`pushscope.decode.tls_record`);
the one whose tag verifies decrypts the rest, following KeyUpdate. HTTP/2 is then decoded from the first record
that starts on a frame boundary, without a preface. A conversation that no secret opens may be TLS 1.2, which
cannot be decrypted without its handshake (its keys need both hello randoms): the diagnostic says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pushscope.events import Endpoint, Side
from pushscope.safe_text import visible
from pushscope.sources.trial_keys import SecretPair
from pushscope.sources.tshark import TsharkRun, build_command

if TYPE_CHECKING:
    from pushscope.decode.tls_record import RecordKeys

# Importing pushscope.decode.tls_record loads aioquic's TLS module (a third of a second): only when needed.
SEQUENCE_BOUND = 4096  # as pushscope.decode.tls_record.SEQUENCE_BOUND (checked by a test)

RECORD_FIELDS = ["frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tls.app_data"]
FRAME_TYPES_WITH_STREAM = {0, 1, 2, 3, 5, 9}  # DATA HEADERS PRIORITY RST_STREAM PUSH_PROMISE CONTINUATION
FRAME_TYPES_ON_CONNECTION = {4, 6, 7}  # SETTINGS PING GOAWAY
FIXED_LENGTHS = {2: 5, 3: 4, 6: 8, 8: 4}
FRAMES_CHECKED = 16


class TlsConnections(Protocol):
    """What the trial needs from the TCP reader (sources/tcp_rows.py)."""

    def trial_candidates(self) -> list[str]: ...

    def feed_decrypted(self, stream: str, src: Endpoint, sender: Side, data: bytes, at: float, how: str,
                       protocol: str | None) -> list: ...


@dataclass(slots=True)
class _Record:
    at: float
    ciphertext: bytes


@dataclass(slots=True)
class _Conversation:
    directions: dict[Endpoint, list[_Record]] = field(default_factory=dict)


def run_tls_trial(tshark: str, path: str, reader: TlsConnections, pairs: list[SecretPair],
                  claimed: set[str]) -> tuple[list, dict[str, str]]:
    """Events of the conversations decrypted, and why each other candidate was not (by tcp.stream)."""
    streams = reader.trial_candidates()
    unclaimed = [pair for pair in reversed(pairs) if pair.client_random not in claimed]
    if not streams or not unclaimed:
        return [], {}
    conversations, failure = _read_records(tshark, path, streams)
    out: list = []
    reasons: dict[str, str] = {}
    for stream in streams:
        conv = conversations.get(stream)
        if conv is None and failure:
            # Never blame the key log for what tshark did not hand over.
            reasons[stream] = f"pushscope's pass over its encrypted records failed ({failure})"
            continue
        found = _search(conv, unclaimed) if conv is not None else None
        if found is None:
            reasons[stream] = (f"no TLS 1.3 application secret of the key log ({len(unclaimed)} claimed by no "
                               f"handshake in the capture) opens its first records at sequence numbers 0-"
                               f"{SEQUENCE_BOUND - 1}: it is TLS 1.2, which needs both hello randoms from the "
                               "handshake, or the key log lacks its secrets")
            continue
        assert conv is not None
        out += _decrypt(stream, conv, found, reader)
    return out, reasons


def _read_records(tshark: str, path: str, streams: Iterable[str]) -> tuple[dict[str, _Conversation], str | None]:
    """Each conversation's encrypted records by direction, and tshark's complaint if it exited with an error."""
    fields = list(RECORD_FIELDS)
    # Commas: tshark 4.0 rejects a space-separated set as soon as it holds two members.
    wanted = ",".join(sorted(set(streams), key=int))
    command = build_command(tshark, path, fields, keylog=None, extra_args=["-Y", f"tcp.stream in {{{wanted}}}"])
    run = TsharkRun(command, fields)
    run.start()
    conversations: dict[str, _Conversation] = {}
    try:
        for row in run.rows():
            records = row.get("tls.app_data", "")
            if not records:
                continue
            try:
                at = float(row["frame.time_epoch"])
                src = Endpoint(row.get("ip.src") or row.get("ipv6.src", ""), int(row.get("tcp.srcport", "")))
            except ValueError:
                continue
            conv = conversations.setdefault(row.get("tcp.stream", ""), _Conversation())
            direction = conv.directions.setdefault(src, [])
            for value in records.split(","):
                try:
                    direction.append(_Record(at, bytes.fromhex(value.replace(":", ""))))
                except ValueError:
                    continue
    finally:
        run.stop()
    code = run.wait()
    failure = None if code == 0 else visible("; ".join(run.stderr_lines[-3:]) or f"tshark exited with {code}")
    return conversations, failure


@dataclass(slots=True)
class _Found:
    pair: SecretPair
    # Each direction's sender side, keys and first sequence number.
    directions: dict[Endpoint, tuple[Side, RecordKeys, int]]


def _search(conv: _Conversation, pairs: list[SecretPair]) -> _Found | None:
    from pushscope.decode.tls_record import find_sequence, keys_for_secret

    for src, records in conv.directions.items():
        ciphertexts = [record.ciphertext for record in records]
        for pair in pairs:
            sides: tuple[tuple[Side, bytes], ...] = (("client", pair.client), ("server", pair.server))
            for side, secret in sides:
                for keys in keys_for_secret(secret):
                    sequence = find_sequence(keys, ciphertexts)
                    if sequence is not None:
                        return _other_direction(conv, _Found(pair, {src: (side, keys, sequence)}))
    return None


def _other_direction(conv: _Conversation, found: _Found) -> _Found:
    from pushscope.decode.tls_record import find_sequence, keys_for_secret

    [(src, (side, keys, _))] = found.directions.items()
    other_side: Side = "server" if side == "client" else "client"
    secret = found.pair.server if side == "client" else found.pair.client
    for other, records in conv.directions.items():
        if other == src:
            continue
        for candidate in keys_for_secret(secret):
            if candidate.suite != keys.suite:
                continue
            sequence = find_sequence(candidate, [record.ciphertext for record in records])
            if sequence is not None:
                found.directions[other] = (other_side, candidate, sequence)
    return found


def _decrypt(stream: str, conv: _Conversation, found: _Found, reader: TlsConnections) -> list:
    """Every direction's application data, from its first message boundary on, to the reader in capture order."""
    from pushscope.decode.tls_record import APPLICATION_DATA, RecordDecryptor

    plains: dict[Endpoint, tuple[Side, list[tuple[float, bytes]]]] = {}
    for src, (side, keys, sequence) in found.directions.items():
        decryptor = RecordDecryptor(keys, sequence)
        plain = []
        for record in conv.directions[src]:
            opened = decryptor.open(record.ciphertext)
            if opened is not None and opened[0] == APPLICATION_DATA and opened[1]:
                plain.append((record.at, opened[1]))
        plains[src] = (side, plain)
    protocol, starts = _protocol_and_starts(plains)
    chunks = sorted(((at, src, side, data) for src, (side, plain) in plains.items()
                     for at, data in plain[starts[src]:]), key=lambda chunk: chunk[0])
    out: list = []
    for at, src, side, data in chunks:
        out += reader.feed_decrypted(stream, src, side, data, at, found.pair.how, protocol)
    return out


def _protocol_and_starts(plains: dict[Endpoint, tuple[Side, list[tuple[float, bytes]]]]
                         ) -> tuple[str | None, dict[Endpoint, int]]:
    """Which protocol the decrypted records carry ("h2", "http/1.1" or None) and, per direction, the first
    record from which it can be read (the bytes before it belong to messages that began before the capture)."""
    starts: dict[Endpoint, int] = {}
    lined_up_everywhere = True
    for src, (_, plain) in plains.items():
        starts[src], lined_up = _first_frame_boundary([data for _, data in plain])
        lined_up_everywhere = lined_up_everywhere and lined_up
    if lined_up_everywhere:
        return "h2", starts
    http1 = _first_http1_messages(plains)
    return ("http/1.1", http1) if http1 is not None else (None, starts)


def _first_http1_messages(plains: dict[Endpoint, tuple[Side, list[tuple[float, bytes]]]]
                          ) -> dict[Endpoint, int] | None:
    """HTTP/1.1 read from the first record that starts a request, and the server's from the first record that
    starts a response after it: a response whose request came before the capture cannot be paired, so it is
    left out rather than given to the wrong request."""
    from pushscope.decode.h1 import looks_like_request, looks_like_response

    first_request_at: float | None = None
    starts: dict[Endpoint, int] = {}
    for src, (side, plain) in plains.items():
        if side == "client":
            index = next((i for i, (_, data) in enumerate(plain) if looks_like_request(data)), None)
            if index is None:
                return None
            starts[src], first_request_at = index, plain[index][0]
    if first_request_at is None:
        return None
    for src, (side, plain) in plains.items():
        if side == "server":
            starts[src] = next((i for i, (at, data) in enumerate(plain)
                                if at >= first_request_at and looks_like_response(data)), len(plain))
    return starts


def _first_frame_boundary(records: list[bytes]) -> tuple[int, bool]:
    """The index of the first record from which HTTP/2 frames line up (the bytes before it end a frame that
    began before the capture), and whether any does."""
    for index in range(len(records)):
        if frames_line_up(b"".join(records[index:index + 8])):
            return index, True
    return 0, False


def frames_line_up(data: bytes) -> bool:
    """Whether ``data`` reads as a run of well-formed HTTP/2 frame headers from its first byte."""
    offset = frames = 0
    while offset + 9 <= len(data) and frames < FRAMES_CHECKED:
        length = int.from_bytes(data[offset:offset + 3], "big")
        frame_type, stream_id = data[offset + 3], int.from_bytes(data[offset + 5:offset + 9], "big")
        if frame_type > 9 or stream_id >> 31 or FIXED_LENGTHS.get(frame_type, length) != length:
            return False
        if (frame_type in FRAME_TYPES_WITH_STREAM) == (stream_id == 0) and frame_type != 8:
            return False
        if frame_type in FRAME_TYPES_ON_CONNECTION and stream_id or frame_type == 4 and length % 6:
            return False
        offset += 9 + length
        frames += 1
    return frames > 0 and (offset >= len(data) or frames == FRAMES_CHECKED)


