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

from pushscope.events import Diagnostic

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


NO_KEYLOG = "no key log was given (--keylog FILE, SSLKEYLOGFILE, or secrets embedded in the pcapng)"


def connection_label(kind: str, connection_id: str, client: object, server: object, sni: str | None) -> str:
    """``TLS connection c3 (client -> server, SNI example.test)``: how a not-decrypted diagnostic names it."""
    where = f"{kind} connection {connection_id} ({client} -> {server}"
    return where + (f", SNI {sni})" if sni else ")")


def why_not_decrypted(keylog: KeyLogSummary | None, client_random: str | None, *, no_handshake: str,
                      covered: str) -> str:
    """Why a TLS or QUIC connection was not decrypted, as far as the key log can tell: ``no_handshake`` when the
    capture lacks its ClientHello (no client random to look up), ``covered`` when the key log has the random."""
    if client_random is None:
        return no_handshake
    if keylog is None:
        return NO_KEYLOG
    if not keylog.exists:
        return f"the key log {keylog.path} does not exist"
    if not keylog.covers(client_random):
        return f"the key log has no secret for client random {client_random[:16]}…"
    return covered


def decryption_summary(what: str, total: int, decrypted: int, code: str,
                       uncovered: list[str] | None = None) -> list[Diagnostic]:
    """``"{total} {what}, {decrypted} decrypted"``: info when every one was, else a warning naming up to three
    client randoms the key log has no secret for (``uncovered``); nothing when there are none."""
    if not total:
        return []
    level = "info" if decrypted == total else "warning"
    message = f"{total} {what}, {decrypted} decrypted"
    if uncovered:
        sample = ", ".join(random[:16] + "…" for random in uncovered[:3])
        message += f": the key log has no secret for client random {sample}"
    return [Diagnostic(level, message, None, code)]


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
