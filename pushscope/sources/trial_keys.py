"""The key log's TLS 1.3 application traffic secrets, for decrypting connections whose handshake the capture
never saw (a trial: the AEAD tag says which secret is right).

Secrets stay in memory, in this object only; diagnostics name a secret by its key-log line number, never by value.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushscope.sources.keylog import keylog_lines

CLIENT_LABELS = ("CLIENT_TRAFFIC_SECRET_0", "QUIC_CLIENT_TRAFFIC_SECRET_0")
SERVER_LABELS = ("SERVER_TRAFFIC_SECRET_0", "QUIC_SERVER_TRAFFIC_SECRET_0")
MAX_PAIRS = 4096  # a key log bigger than this is a browser's whole day: the trial uses its last pairs only


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


def read_secret_pairs(path: str | None) -> list[SecretPair]:
    """Every client random with both application traffic secrets, in key-log order."""
    if not path:
        return []
    clients: dict[str, tuple[int, bytes]] = {}
    servers: dict[str, bytes] = {}
    for number, line in keylog_lines(path):  # a stream with bounds: a hostile key log cannot fill memory
        parts = line.split()
        if len(parts) != 3 or parts[0] not in CLIENT_LABELS + SERVER_LABELS:
            continue
        try:
            random, secret = parts[1].lower(), bytes.fromhex(parts[2])
        except ValueError:
            continue
        if parts[0] in CLIENT_LABELS:
            clients.setdefault(random, (number, secret))
        else:
            servers.setdefault(random, secret)
    pairs = [SecretPair(random, number, secret, servers[random])
             for random, (number, secret) in clients.items() if random in servers]
    return pairs[-MAX_PAIRS:]

