"""TLS 1.3 record protection undone without a handshake (RFC 8446 section 5): keys from an application traffic
secret, the record sequence number searched, KeyUpdate followed. Sans-IO; the AEADs are `cryptography`'s and the
key schedule is aioquic's.

A capture that missed the handshake does not know how many records each direction sent before it started, and
the sequence number is the nonce: :func:`find_sequence` tries 0 up to a bound on the first records seen, and
the AEAD tag decides. TLS 1.2 cannot be read this way: its keys come from the master secret and both hello
randoms, and the randoms are in the handshake the capture lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from aioquic.tls import CipherSuite, cipher_suite_hash, hkdf_expand_label
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from pushscope.decode.quic_packet import SUITES_BY_SECRET_LENGTH

APPLICATION_DATA, HANDSHAKE = 23, 22
KEY_UPDATE = 24
# Records each direction may have sent before the capture started that we search through: 4096 records are at
# least 4096 HTTP/2 frames or 64 MiB of full records; a connection older than that is not found.
SEQUENCE_BOUND = 4096
RECORDS_TRIED = 4  # the first records of a direction, any of which may be the one that verifies


class RecordKeys:
    """One direction's record protection for one traffic secret."""

    __slots__ = ("suite", "secret", "aead", "iv")

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        algorithm = cipher_suite_hash(suite)
        key_length = 16 if suite == CipherSuite.AES_128_GCM_SHA256 else 32
        key = hkdf_expand_label(algorithm, secret, b"key", b"", key_length)
        iv = hkdf_expand_label(algorithm, secret, b"iv", b"", 12)
        self.suite, self.secret = suite, secret
        self.aead = ChaCha20Poly1305(key) if suite == CipherSuite.CHACHA20_POLY1305_SHA256 else AESGCM(key)
        self.iv = int.from_bytes(iv, "big")

    def updated(self) -> RecordKeys:
        """After a KeyUpdate: application_traffic_secret_N+1 (RFC 8446 7.2)."""
        algorithm = cipher_suite_hash(self.suite)
        return RecordKeys(self.suite, hkdf_expand_label(algorithm, self.secret, b"traffic upd", b"",
                                                        algorithm.digest_size))

    def open(self, sequence: int, ciphertext: bytes) -> tuple[int, bytes] | None:
        """(inner content type, content) when the tag verifies, else None."""
        header = bytes([APPLICATION_DATA, 3, 3]) + len(ciphertext).to_bytes(2, "big")
        try:
            inner = self.aead.decrypt((self.iv ^ sequence).to_bytes(12, "big"), ciphertext, header)
        except (InvalidTag, ValueError):
            return None
        content = inner.rstrip(b"\x00")  # TLSInnerPlaintext: content, type, zero padding
        if not content:
            return None
        return content[-1], content[:-1]


def keys_for_secret(secret: bytes) -> list[RecordKeys]:
    return [RecordKeys(suite, secret) for suite in SUITES_BY_SECRET_LENGTH.get(len(secret), ())]


def find_sequence(keys: RecordKeys, records: list[bytes], bound: int = SEQUENCE_BOUND) -> int | None:
    """The sequence number of ``records[0]`` if one of the first records verifies with a sequence number below
    ``bound``, else None. The shortest of them is tried first: a failed tag costs in proportion to the length."""
    tried = sorted(range(min(RECORDS_TRIED, len(records))), key=lambda index: len(records[index]))
    for index in tried:
        for sequence in range(index, bound + index):
            if keys.open(sequence, records[index]) is not None:
                return sequence - index
    return None


@dataclass(slots=True)
class RecordDecryptor:
    """One direction's records, in order, from a known sequence number; follows KeyUpdate."""

    keys: RecordKeys
    sequence: int
    failed: int = 0

    def open(self, ciphertext: bytes) -> tuple[int, bytes] | None:
        opened = self.keys.open(self.sequence, ciphertext)
        if opened is None:
            self.failed += 1
            return None
        self.sequence += 1
        content_type, content = opened
        if content_type == HANDSHAKE and _has_key_update(content):
            self.keys, self.sequence = self.keys.updated(), 0
        return opened


def _has_key_update(content: bytes) -> bool:
    """Post-handshake messages: NewSessionTicket (4), KeyUpdate (24); each is type(1) length(3) body."""
    offset = 0
    while offset + 4 <= len(content):
        if content[offset] == KEY_UPDATE:
            return True
        offset += 4 + int.from_bytes(content[offset + 1:offset + 4], "big")
    return False
