"""Reading an NSS key log (SSLKEYLOGFILE format): to explain decryption failures, and to hand tshark only the
secrets the capture can use.

A key log is read as a stream (gzipped or not), line by line with a bound on the line length and on the total
text read, so a 100 MB or hostile key log costs memory for its client randoms only. Secrets are never kept in
memory or copied anywhere except into the filtered key log tshark reads, in a private scratch directory:
:meth:`KeyLog.for_tshark` writes only the lines whose client random appears in the capture, and
:meth:`KeyLog.unclaimed_application_secrets` re-reads the file for the application traffic secrets that no
handshake in the capture claimed (trial decryption of connections whose handshake precedes the capture).
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
KNOWN_LABELS = TLS13_LABELS | OTHER_LABELS | {TLS12_LABEL}
# The secrets that decrypt application data of TLS 1.3 and QUIC: what a trial decryption needs.
APPLICATION_LABELS = {"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "QUIC_CLIENT_TRAFFIC_SECRET_0",
                      "QUIC_SERVER_TRAFFIC_SECRET_0"}
MAX_LINE = 4096  # a key log line is under 300 bytes; a longer one is skipped, never held whole
MAX_KEYLOG_TEXT = 1 << 30  # (decompressed) bytes read from a key log at most: a gzip bomb stops here
# A key log larger than this (and than the capture) is filtered to the capture's client randoms before tshark
# reads it (which costs a quick pass over the capture for its ClientHellos); a smaller one is handed over as it is.
FILTER_ABOVE = 1 << 20


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
    level: Literal["info", "warning"] = "info" if decrypted == total else "warning"
    message = f"{total} {what}, {decrypted} decrypted"
    if uncovered:
        sample = ", ".join(random[:16] + "…" for random in uncovered[:3])
        message += f": the key log has no secret for client random {sample}"
    return [Diagnostic(level=level, message=message, connection_id=None, code=code)]


def summarize_keylog(path: str | os.PathLike[str]) -> KeyLogSummary:
    return KeyLog(str(path)).summary()


class KeyLog:
    """A key log on disk, read as a stream each time it is asked something; it keeps no secret in memory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.truncated = False  # the last read stopped at MAX_KEYLOG_TEXT

    def entries(self) -> Iterator[tuple[str, str, str] | None]:
        """(label, client random lower-cased, secret) per valid line; None for a line that is not one."""
        for line in self._lines():
            parts = line.split()
            if len(parts) == 3 and parts[0] in KNOWN_LABELS and _is_hex(parts[1]) and _is_hex(parts[2]):
                yield parts[0], parts[1].lower(), parts[2]
            else:
                yield None

    def summary(self) -> KeyLogSummary:
        summary = KeyLogSummary(self.path, Path(self.path).is_file())
        if not summary.exists:
            return summary
        for entry in self.entries():
            summary.lines += 1
            if entry is None:
                summary.bad_lines += 1
            else:
                summary.client_randoms.add(entry[1])
        return summary

    def for_tshark(self, client_randoms: set[str] | None, scratch_dir: str) -> tuple[str, int]:
        """A key log file for tshark in ``scratch_dir`` (private, 0700) with only the lines whose client random is
        in ``client_randoms`` (every valid line when None), and how many lines it holds."""
        target = os.path.join(scratch_dir, "keylog.txt")
        kept = 0
        with open(target, "w", encoding="latin-1") as out:
            for entry in self.entries():
                if entry is not None and (client_randoms is None or entry[1] in client_randoms):
                    out.write(" ".join(entry) + "\n")
                    kept += 1
        return target, kept

    def unclaimed_application_secrets(self, claimed: set[str]) -> Iterator[tuple[str, str, str]]:
        """(label, client random, secret) of the TLS 1.3 / QUIC application traffic secrets whose client random no
        handshake in the capture claimed: candidates for trial decryption, read from the file on each call."""
        for entry in self.entries():
            if entry is not None and entry[0] in APPLICATION_LABELS and entry[1] not in claimed:
                yield entry

    def _lines(self) -> Iterator[str]:
        self.truncated = False
        for number, line in keylog_lines(self.path):
            if number < 0:
                self.truncated = True
                return
            yield line


def keylog_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) of each non-empty, non-comment key log line, read as a stream (gzip
    too): an overlong line is skipped a piece at a time, never held whole; after MAX_KEYLOG_TEXT bytes of text
    reading stops and a last ``(-1, "")`` says so."""
    opener = gzip.open if str(path).endswith(".gz") else open
    read = number = 0
    try:
        with opener(path, "rt", encoding="latin-1", newline="\n") as handle:
            while read < MAX_KEYLOG_TEXT:
                line = handle.readline(MAX_LINE)
                if not line:
                    return
                number += 1
                read += len(line)
                while not line.endswith("\n") and read < MAX_KEYLOG_TEXT:  # overlong: skip the rest in pieces
                    more = handle.readline(MAX_LINE)
                    if not more:
                        break
                    read += len(more)
                    line = "#" + more
                line = line.strip()
                if line and not line.startswith("#") and len(line) < MAX_LINE:
                    yield number, line
            yield -1, ""
    except (OSError, EOFError, zlib.error):
        return


def plain_keylog_path(path: str, scratch_dir: str) -> str:
    """tshark reads only an uncompressed key log: a ``*.gz`` one is streamed (with a cap) into ``scratch_dir``."""
    if not path.endswith(".gz"):
        return path
    return KeyLog(path).for_tshark(None, scratch_dir)[0]


def private_scratch_dir() -> str:
    return tempfile.mkdtemp(prefix="pushscope-")


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
