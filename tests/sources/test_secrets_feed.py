"""A pcapng capture handed to tshark through its stdin with the key log's secrets inside (``secrets_feed``): the
secrets of the head's handshakes first, then every one. A read through the feed yields exactly what a read with
the key log yields, wherever the head ends; the fed stream is a pcapng that tshark decrypts with no key log; the
head's secrets are found in its bytes, and a head that may hold QUIC gets every secret first."""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pushscope.events import ConversationAccounted, Diagnostic, SourceProgress
from pushscope.sources import capture_file, keylog_pipe, secrets_feed
from pushscope.sources.capture_file import EarlyStart, KeyLogReading, read_capture
from pushscope.sources.secrets_feed import (
    SecretsFeed,
    client_hello_randoms,
    feed_for,
    may_hold_quic,
    secret_lines_for,
    secrets_block,
    section_byte_order,
    whole_blocks_end,
)

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
H2 = ["nginx-push-basic", "nginx-second-connection", "apache-cancel", "h2o-casper-on", "h1-nginx-tls",
      "nghttpd-push"]
H3 = ["h3-two-connections", "h3-cancel-push", "h3-midstream"]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the feed is made on Linux only")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.fixture(autouse=True)
def _fed_from_a_megabyte(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's key logs are small: these tests feed them from the pipe's threshold (``FEED_ABOVE`` has its own)."""
    monkeypatch.setattr(secrets_feed, "FEED_ABOVE", 0)


def _sections(path: Path) -> tuple[str, int, bytes]:
    data = path.read_bytes()
    order = section_byte_order(data)
    assert order is not None
    first = struct.unpack_from(order + "I", data, 4)[0]
    return order, first, data


def _tshark_client_hellos(path: Path) -> set[bytes]:
    """tshark's own view: the random of every ClientHello over TCP."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tcp.try_heuristic_first:TRUE",
                          "-Y", "tcp && tls.handshake.type == 1", "-T", "fields", "-e", "tls.handshake.random"],
                         capture_output=True, text=True, check=True).stdout
    return {value.strip().lower().encode() for value in out.split() if value.strip()}


# --- reading the capture's bytes -------------------------------------------------------------------------------

def test_a_pcapng_says_its_byte_order_and_anything_else_is_not_fed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    little = struct.pack("<III", 0x0A0D0D0A, 28, 0x1A2B3C4D)
    big = struct.pack(">III", 0x0A0D0D0A, 28, 0x1A2B3C4D)
    assert section_byte_order(little) == "<" and section_byte_order(big) == ">"
    assert section_byte_order(struct.pack("<I", 0xA1B2C3D4) + bytes(20)) is None  # a pcap
    assert section_byte_order(b"\x1f\x8b\x08" + bytes(20)) is None  # gzip
    assert section_byte_order(little[:11]) is None
    keys = tmp_path / "big.keys"
    keys.write_bytes(b"# padding\n" * (keylog_pipe.LEAN_ABOVE // 10 + 1))
    assert feed_for(str(CAPTURES / "nginx-push-basic.pcapng"), str(keys)) is not None
    pcap = tmp_path / "c.pcap"
    pcap.write_bytes(struct.pack("<I", 0xA1B2C3D4) + bytes(40))
    assert feed_for(str(pcap), str(keys)) is None
    assert feed_for(str(CAPTURES / "nginx-push-basic.pcapng"), str(CAPTURES / "nginx-push-basic.keys")) is None
    monkeypatch.setattr(secrets_feed, "FEED_ABOVE", keys.stat().st_size)  # (a key log that small: piped)
    assert feed_for(str(CAPTURES / "nginx-push-basic.pcapng"), str(keys)) is None
    monkeypatch.setattr(secrets_feed, "FEED_ABOVE", keys.stat().st_size - 1)
    assert feed_for(str(CAPTURES / "nginx-push-basic.pcapng"), str(keys)) is not None
    broken = tmp_path / "broken.pcapng"  # a section header whose length cannot be one
    broken.write_bytes(struct.pack("<III", 0x0A0D0D0A, 0xFFFFFFF0, 0x1A2B3C4D) + bytes(40))
    assert feed_for(str(broken), str(keys)) is None


def test_the_head_ends_after_its_last_whole_block() -> None:
    blocks = b"".join(struct.pack("<II", 6, length) + bytes(length - 12) + struct.pack("<I", length)
                      for length in (32, 12, 64))
    assert whole_blocks_end(blocks, "<") == 108
    assert whole_blocks_end(blocks[:100], "<") == 44
    assert whole_blocks_end(blocks[:7], "<") == 0
    bad = struct.pack("<II", 6, 30) + bytes(30)  # not a multiple of 4
    assert whole_blocks_end(blocks[:44] + bad, "<") == 44
    assert whole_blocks_end(struct.pack("<II", 6, 4) + bytes(8), "<") == 0  # shorter than a block can be


@needs_tshark
@pytest.mark.parametrize("name", H2)
def test_the_client_randoms_found_in_the_bytes_are_tsharks(name: str) -> None:
    path = CAPTURES / f"{name}.pcapng"
    order, first, data = _sections(path)
    assert client_hello_randoms(data[first:]) == _tshark_client_hellos(path)


@pytest.mark.parametrize("name, quic", [(name, False) for name in H2] + [
    ("h3-two-connections", True), ("h3-cancel-push", True), ("h3-midstream", False)])
def test_a_head_may_hold_quic_when_it_holds_a_long_header(name: str, quic: bool) -> None:
    """h3-midstream starts after its handshakes: short headers only, which no secret in the head decrypts."""
    order, first, data = _sections(CAPTURES / f"{name}.pcapng")
    assert may_hold_quic(data[first:whole_blocks_end(data, order)], order) is quic


def _interface(link_type: int) -> bytes:
    return struct.pack("<IIHHI", 1, 20, link_type, 0, 0) + struct.pack("<I", 20)


def _packet(frame: bytes) -> bytes:
    padded = frame + bytes(-len(frame) % 4)
    length = 32 + len(padded)
    return struct.pack("<IIIIIII", 6, length, 0, 0, 0, len(frame), len(frame)) + padded + struct.pack("<I", length)


def _udp_ipv4(payload: bytes) -> bytes:
    return bytes([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]) + bytes(8) + bytes(8) + payload


QUIC_INITIAL = b"\xc3\x00\x00\x00\x01\x08" + bytes(8) + b"\x00" + bytes(40)
DNS_ANSWER = b"\x9c\x12\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + bytes(30)


@pytest.mark.parametrize("link_type, frame, quic", [
    (1, b"\x00" * 12 + b"\x08\x00" + _udp_ipv4(QUIC_INITIAL), True),
    (1, b"\x00" * 12 + b"\x81\x00\x00\x05\x08\x00" + _udp_ipv4(QUIC_INITIAL), True),  # behind a VLAN tag
    (1, b"\x00" * 12 + b"\x08\x00" + _udp_ipv4(DNS_ANSWER), False),
    (1, b"\x00" * 12 + b"\x08\x06" + bytes(28), False),  # ARP
    (113, bytes(14) + b"\x86\xdd" + bytes([0x60, 0, 0, 0, 0, 64, 0, 64]) + bytes(32)  # hop-by-hop, then UDP
     + bytes([17, 0]) + bytes(6) + bytes(8) + QUIC_INITIAL, True),
    (101, _udp_ipv4(QUIC_INITIAL), True),
    (0, b"\x02\x00\x00\x00" + _udp_ipv4(b"\x00" * 40), False),
    (101, bytes([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47]) + bytes(30), True),  # GRE: not looked into
    (1, b"\x00" * 12 + b"\x08\x00" + _udp_ipv4(b"\x00" * 8 + QUIC_INITIAL), True),  # tunnelled in UDP
    (147, b"anything", True),  # a link type it does not read
])
def test_quic_is_seen_behind_the_link_layers_it_reads(link_type: int, frame: bytes, quic: bool) -> None:
    assert may_hold_quic(_interface(link_type) + _packet(frame), "<") is quic


def test_a_packet_on_an_interface_not_described_may_be_quic() -> None:
    assert may_hold_quic(_packet(b"\x00" * 60), "<")


# --- choosing the head's secrets -------------------------------------------------------------------------------

R1, R2, R3 = (bytes([digit]) * 64 for digit in b"123")
TLS13 = [b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", b"SERVER_HANDSHAKE_TRAFFIC_SECRET", b"CLIENT_TRAFFIC_SECRET_0",
         b"SERVER_TRAFFIC_SECRET_0"]


def _chunks(*chunks: list[bytes], read: list[int]) -> Iterator[list[bytes]]:
    for index, chunk in enumerate(chunks):
        read.append(index)
        yield chunk


def test_the_head_secrets_are_read_until_every_head_random_has_its_own() -> None:
    first = [label + b" " + R1 + b" aa" for label in TLS13] + [b"EXPORTER_SECRET " + R1 + b" bb"]
    second = [b"CLIENT_RANDOM " + R2.upper() + b" cc", b"CLIENT_RANDOM " + R3 + b" dd"]
    read: list[int] = []
    lines = secret_lines_for(_chunks(first, second, [b"CLIENT_RANDOM " + R3 + b" ee"], read=read), {R1, R2})
    assert lines == first[:4] + [second[0]]  # (no exporter secret, R3 is not the head's)
    assert read == [0, 1]  # the rest of the key log is not read


def test_a_head_random_without_all_its_secrets_reads_the_key_log_to_its_end() -> None:
    first = [label + b" " + R1 + b" aa" for label in TLS13[:3]]  # no SERVER_TRAFFIC_SECRET_0 yet
    later = [b"# a comment", b"", b"RSA 0123456789abcdef 00ff", b"CLIENT_RANDOM " + R3 + b" dd"]
    read: list[int] = []
    lines = secret_lines_for(_chunks(first, later, [TLS13[3] + b" " + R1 + b" ab"], read=read), {R1, R2})
    assert lines == first + [b"RSA 0123456789abcdef 00ff", TLS13[3] + b" " + R1 + b" ab"]
    assert read == [0, 1, 2]


def test_a_key_log_naming_the_head_in_too_many_lines_gives_no_head_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_feed, "MAX_HEAD_SECRETS", 1_000)
    repeated = [b"CLIENT_HANDSHAKE_TRAFFIC_SECRET " + R1 + b" " + b"a" * 96] * 10  # never complete
    assert secret_lines_for([repeated[:5]], {R1}) is not None
    assert secret_lines_for([repeated, repeated], {R1}) is None


@needs_tshark
def test_past_its_bound_the_head_gets_every_secret_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = CAPTURES / "nginx-second-connection.pcapng"
    keylog = _padded_keylog(CAPTURES / "nginx-second-connection.keys", tmp_path, reverse=True)
    monkeypatch.setattr(secrets_feed, "MAX_HEAD_SECRETS", 100)
    feed = _fed(capture, keylog, tmp_path / "fed.pcapng")
    order, first, data = _sections(capture)
    blocks = _block_types((tmp_path / "fed.pcapng").read_bytes(), order)
    assert feed.head_randoms is None and blocks[0][0] == 0x0A0D0D0A
    secrets = [index for index, (kind, _) in enumerate(blocks) if kind == 0x0A]
    assert secrets == list(range(1, len(secrets) + 1))  # all of them before the capture's first block
    as_fed = [replace(event, how="handshake") if isinstance(event, ConversationAccounted) else event
              for event in _events(tmp_path / "fed.pcapng", None) if not isinstance(event, Diagnostic)]
    assert as_fed == [event for event in _events(capture, keylog) if not isinstance(event, Diagnostic)]


def test_a_secrets_block_is_padded_and_says_its_length_twice() -> None:
    block = secrets_block(b"CLIENT_RANDOM aa bb\n", "<")
    assert len(block) % 4 == 0
    block_type, length, kind, text_length = struct.unpack_from("<IIII", block)
    assert (block_type, length, kind, text_length) == (0x0A, len(block), 0x544C534B, 20)
    assert struct.unpack_from("<I", block, len(block) - 4)[0] == len(block)
    assert block[16:36] == b"CLIENT_RANDOM aa bb\n"
    assert struct.unpack_from(">I", secrets_block(b"x", ">"), 4)[0] == 24


# --- the fed stream, and reads through it ----------------------------------------------------------------------

def _padded_keylog(keys: Path, directory: Path, *, reverse: bool = False) -> Path:
    """The capture's key log, made big enough to be fed (other connections' secrets around it), in its order or
    backwards (the head's secrets then come last)."""
    own = [line for line in keys.read_bytes().split(b"\n") if line]
    others = [f"CLIENT_TRAFFIC_SECRET_0 {number:064x} {'a' * 64}".encode() for number in range(8_000)]
    lines = others[:4_000] + own + others[4_000:]
    path = directory / "padded.keys"
    path.write_bytes(b"\n".join(reversed(lines) if reverse else lines) + b"\n")
    assert path.stat().st_size > keylog_pipe.LEAN_ABOVE
    return path


def _events(path: Path, keylog: Path | None, early: EarlyStart | None = None) -> list:
    items = read_capture(str(path), str(keylog) if keylog else None, keylog_origin="--keylog" if keylog else "",
                         early=early)
    return [item for item in items if not isinstance(item, SourceProgress)]


def _fed(capture: Path, keylog: Path, out: Path) -> SecretsFeed:
    feed = feed_for(str(capture), str(keylog))
    assert feed is not None
    with open(out, "wb") as stream:
        feed.start(stream)
        assert feed.join(30)
    return feed


def _block_types(data: bytes, order: str) -> list[tuple[int, bytes]]:
    blocks, position = [], 0
    while position < len(data):
        block_type, length = struct.unpack_from(order + "II", data, position)
        blocks.append((block_type, data[position + 8:position + length - 4]))
        position += length
    return blocks


@needs_tshark
@pytest.mark.parametrize("name", ["nginx-second-connection", "h2o-casper-on"])
@pytest.mark.parametrize("reverse", [False, True])
def test_the_fed_stream_is_a_pcapng_with_the_head_secrets_first(name: str, reverse: bool, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut after the first connection's handshake: the first secrets block holds that connection's secrets only;
    every secret follows the head; tshark reads the stream with no key log as the capture with the key log."""
    capture = CAPTURES / f"{name}.pcapng"
    keylog = _padded_keylog(CAPTURES / f"{name}.keys", tmp_path, reverse=reverse)
    order, first, data = _sections(capture)
    monkeypatch.setattr(secrets_feed, "HEAD", first + 6_000)
    feed = _fed(capture, keylog, tmp_path / "fed.pcapng")
    fed = (tmp_path / "fed.pcapng").read_bytes()
    blocks = _block_types(fed, order)
    assert blocks[0][0] == 0x0A0D0D0A and blocks[1][0] == 0x0A
    head_randoms = client_hello_randoms(data[first:whole_blocks_end(data[:first + 6_000], order)])
    assert feed.head_randoms == len(head_randoms) >= 1
    head_secrets = blocks[1][1][8:].split()
    assert len(head_secrets) == 3 * feed.head_secrets and feed.head_secrets >= 4
    assert {key.lower() for key in head_secrets[1::3]} == head_randoms
    secrets = [index for index, (kind, _) in enumerate(blocks) if kind == 0x0A]
    assert secrets[1] > 2 and sum(len(blocks[index][1]) for index in secrets[1:]) > keylog_pipe.LEAN_ABOVE
    assert b"".join(body for kind, body in blocks if kind != 0x0A) == b"".join(
        body for kind, body in _block_types(data, order))  # the capture's own blocks, all, in order
    assert feed.position == len(data)
    # (read with no key log, the stream's connections are said to be decrypted with the secrets it holds)
    as_fed = [replace(event, how="handshake") if isinstance(event, ConversationAccounted) else event
              for event in _events(tmp_path / "fed.pcapng", None) if not isinstance(event, Diagnostic)]
    assert as_fed == [event for event in _events(capture, keylog) if not isinstance(event, Diagnostic)]


class _Feeds:
    """Every SecretsFeed made while it watches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[SecretsFeed] = []
        made, original = self.made, feed_for

        def watched(capture: str, keylog: str | None) -> SecretsFeed | None:
            feed = original(capture, keylog)
            if feed is not None:
                made.append(feed)
            return feed

        monkeypatch.setattr(capture_file, "feed_for", watched)


@needs_tshark
@pytest.mark.parametrize("name", H2 + H3)
@pytest.mark.parametrize("head", [3_000, 40_000, secrets_feed.HEAD])
def test_a_read_through_the_feed_yields_what_a_read_of_the_key_log_does(name: str, head: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keys = CAPTURES / f"{name}.pcapng", CAPTURES / f"{name}.keys"
    reference = _events(capture, keys)
    monkeypatch.setattr(keylog_pipe, "LEAN_ABOVE", 0)  # these key logs are small: fed all the same
    monkeypatch.setattr(secrets_feed, "HEAD", head)
    feeds = _Feeds(monkeypatch)
    assert _events(capture, keys) == reference and len(reference) > 10
    early = EarlyStart(str(capture), str(keys), keylog_origin="--keylog")
    assert early.start()
    assert early._started is not None and early._started.run.command[early._started.run.command.index("-r") + 1] \
        == "-" and not any(arg.startswith("tls.keylog_file") for arg in early._started.run.command)
    assert _events(capture, keys, early) == reference
    assert len(feeds.made) == 2
    for feed in feeds.made:
        assert feed.join(10) and feed.position == capture.stat().st_size


@needs_tshark
def test_an_early_tshark_that_nothing_reads_ends_its_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = CAPTURES / "nginx-second-connection.pcapng"
    keylog = CAPTURES / "nginx-second-connection.keys"
    monkeypatch.setattr(keylog_pipe, "LEAN_ABOVE", 0)
    feeds = _Feeds(monkeypatch)
    early = EarlyStart(str(capture), str(keylog), keylog_origin="--keylog")
    assert early.start() and len(feeds.made) == 1
    started = early._started
    assert started is not None and not started.keylog_read.done()  # (held: nothing asked for it)
    threading.Event().wait(0.2)
    early.discard()
    assert feeds.made[0].join(10)
    assert started.run.process is not None and started.run.process.poll() is not None  # tshark ended
    for _ in range(100):  # the held read of the key log is let go, and ends
        if started.keylog_read.done():
            break
        threading.Event().wait(0.05)
    assert started.keylog_read.done()


# --- pushscope's own read of the key log, held ----------------------------------------------------------------

def test_a_held_read_of_the_key_log_stops_after_its_first_valid_line_until_asked(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    keylog = _padded_keylog(CAPTURES / "nginx-push-basic.keys", tmp_path)
    monkeypatch.setattr("pushscope.sources.keylog.READ_CHUNK", 4096)  # (many chunks: the hold is seen)
    held = KeyLogReading(str(keylog), "--keylog", held=True)
    assert held.problems() == []  # known from the first valid line
    threading.Event().wait(0.3)
    assert not held.done()
    summary, problems, pairs = held.result()  # asked for: read to the end
    assert held.done() and summary is not None and len(summary.client_randoms) == 8_001 and problems == []
    free = KeyLogReading(str(keylog), "--keylog")
    assert free.result()[0] == summary
    released = KeyLogReading(str(keylog), "--keylog", held=True)
    released.release()
    deadline = threading.Event()
    for _ in range(100):
        if released.done():
            break
        deadline.wait(0.1)
    assert released.done()


def test_a_feed_whose_reader_goes_away_ends(tmp_path: Path) -> None:
    """tshark gone while the feed is blocked writing (more secrets than the pipe holds): it ends, and closes its
    end of the pipe."""
    capture = CAPTURES / "nginx-second-connection.pcapng"
    feed = feed_for(str(capture), str(_padded_keylog(CAPTURES / "nginx-second-connection.keys", tmp_path)))
    assert feed is not None
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "wb")
    feed.start(stream)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read(100)
        threading.Event().wait(0.2)
        assert not feed.join(0)  # blocked: the pipe is full
    assert feed.join(10) and stream.closed


def test_where_the_kernel_cannot_send_a_file_into_a_pipe_the_feed_copies_it(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    capture = CAPTURES / "nginx-second-connection.pcapng"
    keylog = _padded_keylog(CAPTURES / "nginx-second-connection.keys", tmp_path)
    _fed(capture, keylog, tmp_path / "sent.pcapng")

    def no_sendfile(*args: object) -> int:
        raise OSError(errno.EINVAL, "no sendfile into this")

    monkeypatch.setattr(secrets_feed.os, "sendfile", no_sendfile)
    feed = _fed(capture, keylog, tmp_path / "copied.pcapng")
    assert (tmp_path / "copied.pcapng").read_bytes() == (tmp_path / "sent.pcapng").read_bytes()
    assert feed.position == capture.stat().st_size
