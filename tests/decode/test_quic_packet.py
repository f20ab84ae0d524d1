"""QUIC 1-RTT packet protection undone without a handshake, on real packets: captures/h3-midstream.pcapng was cut
after its handshake and carries a key update in both directions (aioquic client and server)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pushscope.decode.quic_frames import parse_frames
from pushscope.decode.quic_packet import DirectionKeys, keys_for_secret, unprotect_short
from pushscope.sources.quic_midway import midway_stream_start, set_dynamic_table_capacity
from pushscope.sources.trial_keys import read_secret_pairs

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
CAPTURE, KEYS = CAPTURES / "h3-midstream.pcapng", CAPTURES / "h3-midstream.keys"
CID_LENGTH = 8  # aioquic's connection IDs


@pytest.fixture(scope="module")
def datagrams() -> list[tuple[bool, bytes]]:
    """(sent by the client, UDP payload) of every packet: tshark cannot decrypt them, so it leaves them raw."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    out = subprocess.run(["tshark", "-n", "-r", str(CAPTURE), "-T", "fields", "-e", "udp.dstport", "-e", "data.data"],
                         capture_output=True, text=True, check=True).stdout
    server_port = 4433 if "4433" in out else None
    rows = [line.split("\t") for line in out.splitlines()]
    if server_port is None:
        server_port = int(rows[0][0])
    return [(int(port) == server_port, bytes.fromhex(data)) for port, data in rows]


def _secrets() -> tuple[bytes, bytes]:
    [pair] = read_secret_pairs(str(KEYS))
    return pair.client, pair.server


def _decrypt_all(packets: list[bytes], secret: bytes) -> list:
    [keys] = keys_for_secret(secret)  # aioquic chose AES-256-GCM: a 48-byte secret allows only that suite
    direction = DirectionKeys(keys)
    results = []
    for packet in packets:
        result = unprotect_short(packet, CID_LENGTH, direction)
        if result is not None:
            direction.accept(*result)
        results.append(result)
    return results


def test_every_packet_decrypts_and_the_key_update_is_followed(datagrams: list[tuple[bool, bytes]]) -> None:
    client_secret, server_secret = _secrets()
    for from_client, secret in ((True, client_secret), (False, server_secret)):
        packets = [data for sender, data in datagrams if sender == from_client]
        results = _decrypt_all(packets, secret)
        assert all(result is not None for result in results), f"client={from_client}"
        numbers = [short.packet_number for short, _ in results]
        assert numbers == sorted(numbers) and numbers[0] > 0  # mid-connection: the handshake used the first ones
        phases = [short.key_phase for short, _ in results]
        assert phases[0] == 0 and phases[-1] == 1, "the capture's key update was not followed"
        assert phases == sorted(phases)


def test_decrypted_frames_carry_http3(datagrams: list[tuple[bool, bytes]]) -> None:
    client_secret, _ = _secrets()
    packets = [data for sender, data in datagrams if sender]
    streams = set()
    for short, _ in _decrypt_all(packets, client_secret):
        frames = parse_frames(short.payload)
        assert frames.complete
        streams |= {item.stream_id for kind, item in frames.items if kind == "stream"}  # type: ignore[attr-defined]
    assert {0, 4} <= streams  # the page's request and a subresource's


def test_a_wrong_key_never_verifies(datagrams: list[tuple[bool, bytes]]) -> None:
    client_secret, server_secret = _secrets()
    packets = [data for sender, data in datagrams if sender]
    assert len(client_secret) == 48 and len(keys_for_secret(client_secret[:32])) == 2  # AES-128 and ChaCha20
    wrong = bytes(b ^ 1 for b in client_secret)
    assert all(result is None for result in _decrypt_all(packets, wrong))
    # The server's secret is a real secret of the same connection, but the wrong direction's.
    assert all(result is None for result in _decrypt_all(packets, server_secret))


def test_a_tampered_packet_does_not_verify(datagrams: list[tuple[bool, bytes]]) -> None:
    client_secret, _ = _secrets()
    packet = next(data for sender, data in datagrams if sender)
    tampered = packet[:-1] + bytes([packet[-1] ^ 0x80])
    assert _decrypt_all([packet], client_secret)[0] is not None
    assert _decrypt_all([tampered], client_secret)[0] is None


def test_an_unknown_first_byte_is_recovered(datagrams: list[tuple[bool, bytes]]) -> None:
    """tshark, told the port is QUIC, prints a short header's payload but not its first byte's protected bits."""
    client_secret, _ = _secrets()
    [keys] = keys_for_secret(client_secret)
    direction = DirectionKeys(keys)
    for _, packet in [d for d in datagrams if d[0]][:5]:
        blurred = bytes([packet[0] & 0xE0]) + packet[1:]
        result = unprotect_short(blurred, CID_LENGTH, direction, first_byte_known=False)
        assert result is not None
        direction.accept(*result)


def test_frames_parser_stops_at_an_unknown_type() -> None:
    frames = parse_frames(bytes([0x01, 0x00, 0x0A, 0x00, 0x02, 0x68, 0x69]) + bytes([0x40, 0x99, 0xFF]))
    assert frames.frame_types[:3] == [0x01, 0x00, 0x0A]
    assert frames.items[0][0] == "stream"
    assert not frames.complete
    assert not parse_frames(bytes([0x0A, 0x00, 0x09])).complete  # a STREAM frame cut short


def test_midway_streams() -> None:
    assert set_dynamic_table_capacity(4096) == bytes.fromhex("3fe11f")
    assert set_dynamic_table_capacity(20) == bytes([0x34])
    assert midway_stream_start(6, 1) == (1, b"\x02")  # the encoder stream missing its type only
    assert midway_stream_start(7, 4) == (4, b"\x02" + set_dynamic_table_capacity(1 << 16))
    assert midway_stream_start(2, 5) is None  # a control stream missing its SETTINGS: not guessed
    assert midway_stream_start(0, 1) is None  # a request under way
    assert midway_stream_start(18, 1) is None  # not one of the first three unidirectional streams
