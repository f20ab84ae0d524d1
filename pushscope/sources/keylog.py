"""Reading an NSS key log (SSLKEYLOGFILE format) just enough to explain decryption failures.

We never copy secrets anywhere: only the client randoms are kept, so that a diagnostic can say "the key log has
no secret for client random 1a2b…" instead of a vague "could not decrypt".
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TLS12_LABEL = "CLIENT_RANDOM"
TLS13_LABELS = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
    "EARLY_EXPORTER_SECRET",
    "CLIENT_EARLY_TRAFFIC_SECRET",
}
# QUIC stacks write these too (older drafts and some libraries); they still name a client random.
OTHER_LABELS = {"QUIC_CLIENT_TRAFFIC_SECRET_0", "QUIC_SERVER_TRAFFIC_SECRET_0",
                "QUIC_CLIENT_HANDSHAKE_TRAFFIC_SECRET", "QUIC_SERVER_HANDSHAKE_TRAFFIC_SECRET"}


@dataclass(slots=True)
class KeyLogSummary:
    """What a key log covers, without the secrets."""

    path: str
    exists: bool
    client_randoms: set[str] = field(default_factory=set)
    lines: int = 0
    bad_lines: int = 0

    @property
    def usable(self) -> bool:
        return bool(self.client_randoms)

    def covers(self, client_random: str | None) -> bool:
        return client_random is not None and client_random.lower() in self.client_randoms


def summarize_keylog(path: str | os.PathLike[str]) -> KeyLogSummary:
    summary = KeyLogSummary(str(path), Path(path).is_file())
    if not summary.exists:
        return summary
    for line in _read_text_lines(Path(path)):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        summary.lines += 1
        parts = line.split()
        known = TLS13_LABELS | OTHER_LABELS | {TLS12_LABEL}
        if len(parts) == 3 and parts[0] in known and _is_hex(parts[1]) and _is_hex(parts[2]):
            summary.client_randoms.add(parts[1].lower())
        else:
            summary.bad_lines += 1
    return summary


def plain_keylog_path(path: str, scratch_dir: str) -> str:
    """tshark reads only an uncompressed key log: gunzip ``*.gz`` into ``scratch_dir`` (private, 0700)."""
    if not path.endswith(".gz"):
        return path
    target = os.path.join(scratch_dir, "keylog.txt")
    with gzip.open(path, "rb") as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    return target


def private_scratch_dir() -> str:
    return tempfile.mkdtemp(prefix="pushscope-")


def _read_text_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="latin-1") as handle:  # type: ignore[operator]
            return handle.read().splitlines()
    except OSError:
        return []


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
