"""The key log's TLS 1.3 application traffic secrets, for decrypting connections whose handshake the capture
never saw (a trial: the AEAD tag says which secret is right).

Secrets stay in memory, in this object only; diagnostics name a secret by its key-log line number, never by value.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushscope.sources.keylog import KeyLogScan, scan_keylog


@dataclass(frozen=True, slots=True)
class SecretPair:
    """The 1-RTT secrets of one TLS 1.3 session, both directions."""

    client_random: str
    line: int  # 1-based key-log line of the CLIENT_TRAFFIC_SECRET_0
    client: bytes
    server: bytes

    @property
    def how(self) -> str:
        return f"trial: key-log line {self.line}"


def secret_pairs(scan: KeyLogScan) -> list[SecretPair]:
    """The pairs a key log's scan found: every client random with both application traffic secrets (the last
    MAX_PAIRS of them), in key-log order."""
    return [SecretPair(*candidate) for candidate in scan.secret_pairs]


def read_secret_pairs(path: str | None) -> list[SecretPair]:
    """Every client random with both application traffic secrets, in key-log order (a stream with bounds: a
    hostile key log cannot fill memory)."""
    return secret_pairs(scan_keylog(path)) if path else []
