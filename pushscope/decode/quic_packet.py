"""QUIC 1-RTT packet protection, undone without a handshake: keys from a traffic secret, header protection,
packet numbers, key updates (RFC 9001 sections 5-6). Sans-IO; the ciphers are aioquic's and `cryptography`'s.

A short header does not write its destination connection ID's length, and a capture that missed the
handshake does not know the cipher suite or the packet number space's position either, so
:func:`unprotect_short` takes those as guesses and the AEAD tag decides: a wrong guess never verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from aioquic._crypto import HeaderProtection
from aioquic.quic.crypto import CIPHER_SUITES, derive_key_iv_hp
from aioquic.quic.packet import QuicProtocolVersion, decode_packet_number
from aioquic.tls import CipherSuite, cipher_suite_hash, hkdf_expand_label
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

SAMPLE_LENGTH = 16
MAX_PN_LENGTH = 4
TAG_LENGTH = 16
SHORT_RESERVED_BITS = 0x18
# A truncated packet number's upper bits are unknown when nothing of the connection was decrypted yet: we try
# every candidate up to this packet number (RFC 9000 A.3 needs the largest one seen). 2**16 means 256 tries for
# a 1-byte encoding, 1 for 2 bytes and more: a connection older than 65 536 packets is found on a packet
# sent with a longer encoding.
FIRST_PACKET_NUMBER_BOUND = 1 << 16

# Which AEADs a secret's length allows: SHA-256 secrets (32 bytes) for AES-128-GCM and ChaCha20, SHA-384
# (48 bytes) for AES-256-GCM.
SUITES_BY_SECRET_LENGTH: dict[int, tuple[CipherSuite, ...]] = {
    32: (CipherSuite.AES_128_GCM_SHA256, CipherSuite.CHACHA20_POLY1305_SHA256),
    48: (CipherSuite.AES_256_GCM_SHA384,),
}


class PacketKeys:
    """The AEAD and header-protection keys of one traffic secret (one direction, one key phase)."""

    __slots__ = ("suite", "secret", "version", "aead", "iv", "hp")

    def __init__(self, suite: CipherSuite, secret: bytes, version: int = QuicProtocolVersion.VERSION_1) -> None:
        hp_name, _ = CIPHER_SUITES[suite]
        key, iv, hp = derive_key_iv_hp(cipher_suite=suite, secret=secret, version=version)
        self.suite, self.secret, self.version = suite, secret, version
        # cryptography's AEAD directly (aioquic's wrapper turns every failed tag into an exception of its own:
        # twice the cost in a search that fails thousands of times).
        self.aead = ChaCha20Poly1305(key) if suite == CipherSuite.CHACHA20_POLY1305_SHA256 else AESGCM(key)
        self.iv = int.from_bytes(iv, "big")
        self.hp = HeaderProtection(hp_name, hp)

    def open(self, body: bytes, header: bytes, packet_number: int) -> bytes | None:
        """The payload if the tag verifies, else None."""
        try:
            return self.aead.decrypt((self.iv ^ packet_number).to_bytes(12, "big"), body, header)
        except InvalidTag:
            return None

    def updated(self, hp: HeaderProtection | None = None) -> PacketKeys:
        """The next key phase: a new secret from "quic ku"; header protection keys never change (RFC 9001 6)."""
        algorithm = cipher_suite_hash(self.suite)
        label = b"quicv2 ku" if self.version == QuicProtocolVersion.VERSION_2 else b"quic ku"
        following = PacketKeys(self.suite, hkdf_expand_label(algorithm, self.secret, label, b"",
                                                             algorithm.digest_size), self.version)
        following.hp = hp or self.hp
        return following

    def mask(self, sample: bytes) -> bytes:
        return self.hp._mask(sample)


def keys_for_secret(secret: bytes) -> list[PacketKeys]:
    """One :class:`PacketKeys` per cipher suite the secret's length allows."""
    return [PacketKeys(suite, secret) for suite in SUITES_BY_SECRET_LENGTH.get(len(secret), ())]


@dataclass(slots=True)
class ShortPacket:
    """One decrypted short-header packet."""

    dcid: bytes
    packet_number: int
    key_phase: int
    payload: bytes


@dataclass(slots=True)
class DirectionKeys:
    """One direction's keys across key updates, and the largest packet number decrypted so far."""

    current: PacketKeys
    key_phase: int = 0
    largest: int = -1
    previous: PacketKeys | None = None
    _next: PacketKeys | None = field(default=None, repr=False)

    def next_keys(self) -> PacketKeys:
        if self._next is None:
            self._next = self.current.updated()
        return self._next

    def keys_for(self, key_phase: int, packet_number: int) -> PacketKeys:
        """The keys a packet of this phase bit uses: the current ones, the next (a key update) or, for a late
        packet numbered before the update, the previous ones."""
        if key_phase == self.key_phase:
            return self.current
        if self.previous is not None and packet_number < self.largest:
            return self.previous
        return self.next_keys()

    def accept(self, packet: ShortPacket, keys: PacketKeys) -> None:
        if keys is self._next and packet.packet_number > self.largest:
            self.previous, self.current, self._next = self.current, keys, None
            self.key_phase = packet.key_phase
        self.largest = max(self.largest, packet.packet_number)


def unprotect_short(packet: bytes, dcid_length: int, direction: DirectionKeys,
                    first_byte_known: bool = True) -> tuple[ShortPacket, PacketKeys] | None:
    """Remove header and packet protection from one short-header packet, or None if nothing verifies.

    ``packet`` is the whole packet (first byte, DCID, packet number, payload). When ``first_byte_known`` is
    false only its top three bits are real (tshark printed the rest of the packet but not the byte's protected
    bits): the eight values a valid packet can have are tried.
    """
    pn_offset = 1 + dcid_length
    sample = packet[pn_offset + MAX_PN_LENGTH:pn_offset + MAX_PN_LENGTH + SAMPLE_LENGTH]
    if len(sample) < SAMPLE_LENGTH:
        return None
    mask = direction.current.mask(sample)
    for first in _first_byte_candidates(packet[0], mask[0], first_byte_known, direction.key_phase):
        pn_length = (first & 0x03) + 1
        encoded = bytes(b ^ m for b, m in zip(packet[pn_offset:pn_offset + pn_length], mask[1:], strict=False))
        truncated = int.from_bytes(encoded, "big")
        header = bytes([first]) + packet[1:pn_offset] + encoded
        body = packet[pn_offset + pn_length:]
        if len(body) < TAG_LENGTH:
            continue
        key_phase = (first >> 2) & 1
        for number in _packet_number_candidates(truncated, pn_length, direction.largest):
            keys = direction.keys_for(key_phase, number)
            payload = keys.open(body, header, number)
            if payload is not None:
                return ShortPacket(packet[1:pn_offset], number, key_phase, payload), keys
    return None


def _first_byte_candidates(protected: int, mask: int, known: bool, key_phase: int) -> Iterator[int]:
    if known:
        first = protected ^ (mask & 0x1F)
        if not first & SHORT_RESERVED_BITS:  # a wrong key or DCID length leaves these set 3 times in 4
            yield first
        return
    top = protected & 0xE0
    for phase in (key_phase, 1 - key_phase):
        for pn_bits in (3, 1, 0, 2):
            yield top | phase << 2 | pn_bits


def _packet_number_candidates(truncated: int, pn_length: int, largest: int) -> Iterator[int]:
    if largest >= 0:
        yield decode_packet_number(truncated, pn_length * 8, largest + 1)
        return
    window = 1 << (pn_length * 8)
    yield from range(truncated, max(FIRST_PACKET_NUMBER_BOUND, window), window)
