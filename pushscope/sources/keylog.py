"""Reading an NSS key log (SSLKEYLOGFILE format): to explain decryption failures, and to hand tshark only the
secrets the capture can use.

A key log is read as a stream (gzipped or not), a chunk of bytes at a time with a bound on the line length and on
the total text read, so a 100 MB or hostile key log costs memory for its client randoms (and the application
secrets trial decryption may need) only. :func:`scan_keylog` is pushscope's own read, one pass: the summary (client
randoms, for the not-decrypted diagnostics) and the TLS 1.3 application secret pairs (for trial decryption of
connections whose handshake precedes the capture), which stay in memory only in the objects made of them
(``trial_keys.SecretPair``). Secrets are never copied anywhere except into the filtered key log tshark reads, in a
private scratch directory: :meth:`KeyLog.for_tshark` writes only the lines whose client random appears in the
capture.
"""

from __future__ import annotations

import binascii
import gzip
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
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
# Both secrets of one TLS 1.3 / QUIC session's 1-RTT keys, by direction: a trial decryption's candidates.
CLIENT_SECRET_LABELS = ("CLIENT_TRAFFIC_SECRET_0", "QUIC_CLIENT_TRAFFIC_SECRET_0")
SERVER_SECRET_LABELS = ("SERVER_TRAFFIC_SECRET_0", "QUIC_SERVER_TRAFFIC_SECRET_0")
MAX_PAIRS = 4096  # a key log bigger than this is a browser's whole day: the trial uses its last pairs only
MAX_LINE = 4096  # a key log line is under 300 bytes; a longer one is skipped, never held whole
MAX_KEYLOG_TEXT = 1 << 30  # (decompressed) bytes read from a key log at most: a gzip bomb stops here
READ_CHUNK = 1 << 20  # bytes read (and split into lines) at a time
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
    return scan_keylog(path, secrets=False).summary


# A client random, the key-log line of its client secret, its client and server application secrets.
SecretCandidate = tuple[str, int, bytes, bytes]


@dataclass(slots=True)
class KeyLogScan:
    """What one pass over a key log found: its summary and (when asked for) the TLS 1.3 / QUIC application secret
    pairs, the last MAX_PAIRS of them in the order of their client secret's line."""

    summary: KeyLogSummary
    secret_pairs: list[SecretCandidate]
    truncated: bool  # the pass stopped at MAX_KEYLOG_TEXT


def scan_keylog(path: str | os.PathLike[str], *, secrets: bool = True,
                on_usable: Callable[[], object] | None = None) -> KeyLogScan:
    """Read a key log once: every client random it names (for the summary) and, with ``secrets``, the first
    client and server application secret of each client random. ``on_usable`` is called (once) as soon as the
    read has found a valid line: from then on the summary is ``usable`` whatever the rest holds."""
    summary = KeyLogSummary(str(path), Path(path).is_file())
    if not summary.exists:
        return KeyLogScan(summary, [], False)
    text = KeyLogText(str(path))
    tally = _Tally(secrets)
    for first, lines in text.chunks():
        tally.add(first, lines)
        if on_usable is not None and tally.randoms:
            on_usable()
            on_usable = None
    summary.lines, summary.bad_lines = tally.lines, tally.bad_lines
    summary.client_randoms = {random.decode("latin-1") for random in tally.randoms}
    return KeyLogScan(summary, tally.pairs() if secrets else [], text.truncated)


HEX_DIGITS = b"0123456789abcdefABCDEF"
# What a valid line with this label gives the scan besides its client random: a client (1) or server (2) secret.
_LABEL_KINDS = {label.encode(): 1 if label in CLIENT_SECRET_LABELS else 2 if label in SERVER_SECRET_LABELS else 0
                for label in KNOWN_LABELS}


class _Tally:
    """The scan's counts: client randoms and secrets as bytes (hex text), the first of each client random."""

    def __init__(self, secrets: bool) -> None:
        self.secrets = secrets
        self.lines = self.bad_lines = 0
        self.randoms: set[bytes] = set()
        self.clients: dict[bytes, tuple[int, bytes]] = {}
        self.servers: dict[bytes, tuple[int, bytes]] = {}

    def add(self, first: int, lines: list[bytes]) -> None:
        """The usual line (label, hex, hex, one space apart) on a fast path; any other one as ``_add_text``
        reads it, which is what the fast path would conclude for the usual line too."""
        kinds, add_random, secrets, counted = _LABEL_KINDS, self.randoms.add, self.secrets, 0
        clients, servers = self.clients.setdefault, self.servers.setdefault
        for number, raw in enumerate(lines, first):
            if not raw:
                continue
            parts = raw.split(b" ")
            if len(parts) == 3:
                label, random, secret = parts
                kind = kinds.get(label)
                if kind is not None and random and secret and not (random + secret).translate(None, HEX_DIGITS):
                    counted += 1
                    random = random.lower()
                    add_random(random)
                    if kind and secrets and not len(secret) & 1:
                        (clients if kind == 1 else servers)(random, (number, secret))
                    continue
            self._add_text(number, raw)
        self.lines += counted

    def _add_text(self, number: int, raw: bytes) -> None:
        line = raw.decode("latin-1").strip()
        if not line or line.startswith("#") or len(line) >= MAX_LINE:
            return
        self.lines += 1
        parts = line.split()
        if len(parts) == 3 and parts[0] in KNOWN_LABELS and _is_hex(parts[1]) and _is_hex(parts[2]):
            self.randoms.add(parts[1].lower().encode("latin-1"))
        else:
            self.bad_lines += 1
        if not self.secrets or len(parts) != 3:
            return
        table = self.clients if parts[0] in CLIENT_SECRET_LABELS else \
            self.servers if parts[0] in SERVER_SECRET_LABELS else None
        try:
            if table is not None and bytes.fromhex(parts[2]):
                table.setdefault(parts[1].lower().encode("latin-1"), (number, parts[2].encode("ascii")))
        except ValueError:  # not a secret: the next line with this label and client random may be
            pass

    def pairs(self) -> list[SecretCandidate]:
        servers = self.servers
        found = [(random, number, secret) for random, (number, secret) in self.clients.items() if random in servers]
        return [(random.decode("latin-1"), number, binascii.unhexlify(secret), binascii.unhexlify(servers[random][1]))
                for random, number, secret in found[-MAX_PAIRS:]]


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
        scan = scan_keylog(self.path, secrets=False)
        self.truncated = scan.truncated
        return scan.summary

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
        text = KeyLogText(self.path)
        for _, line in _text_lines(text):
            yield line
        self.truncated = text.truncated


def keylog_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) of each non-empty, non-comment key log line, read as a stream (gzip
    too): an overlong line is skipped, never held whole; after MAX_KEYLOG_TEXT bytes of text reading stops and a
    last ``(-1, "")`` says so."""
    text = KeyLogText(str(path))
    yield from _text_lines(text)
    if text.truncated:
        yield -1, ""


def _text_lines(text: KeyLogText) -> Iterator[tuple[int, str]]:
    for first, lines in text.chunks():
        for number, raw in enumerate(lines, first):
            line = raw.decode("latin-1").strip()
            if line and not line.startswith("#"):
                yield number, line


class KeyLogText:
    """A key log's lines as bytes, a chunk at a time, read within the bounds a hostile file needs: at most
    MAX_KEYLOG_TEXT bytes of (decompressed) text, and of a line at most its first MAX_LINE bytes are held.

    ``chunks`` yields (number of the first line, lines): every line of the file in order, without its newline,
    and an empty one in place of a line too long to be one (MAX_LINE bytes with its newline, or more). The first
    line starting at or after MAX_KEYLOG_TEXT is not read, and ``truncated`` is then True. A file that cannot be
    read (or a gzip stream that breaks) ends the lines there."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.truncated = False

    def chunks(self) -> Iterator[tuple[int, list[bytes]]]:
        limit = MAX_KEYLOG_TEXT
        budget = limit + MAX_LINE  # enough to see the first MAX_LINE bytes of a line that starts before the limit
        self.truncated = False
        seen = start = length = 0  # bytes read; where the unfinished line starts, and its length so far
        head = b""  # that line's first bytes (MAX_LINE at most)
        number = 1
        opener = gzip.open if self.path.endswith(".gz") else open
        try:
            with opener(self.path, "rb") as handle:
                while start < limit:
                    chunk = handle.read(min(READ_CHUNK, budget - seen))
                    if not chunk:
                        break
                    seen += len(chunk)
                    pieces = chunk.split(b"\n")
                    tail = pieces.pop()
                    if not pieces:  # the unfinished line goes on
                        head, length = (head + tail[:MAX_LINE])[:MAX_LINE], length + len(tail)
                        continue
                    first_length = length + len(pieces[0])
                    pieces[0] = head + pieces[0]  # (an overlong line's first MAX_LINE bytes are all that matter)
                    yield number, _complete_lines(pieces, first_length, start, limit, seen)
                    number += len(pieces)
                    start, head, length = seen - len(tail), tail[:MAX_LINE], len(tail)
                if length and start < limit:  # the last line, without a newline
                    yield number, [_overlong(head, start, limit) if length > MAX_LINE
                                   else _shortened(head) if length == MAX_LINE else head]
        except (OSError, EOFError, zlib.error):
            return
        self.truncated = seen >= limit


def _complete_lines(pieces: list[bytes], first_length: int, start: int, limit: int, seen: int) -> list[bytes]:
    """Lines that each ended with a newline, the first ``first_length`` long (its start read in an earlier chunk):
    overlong ones emptied, those starting at or after ``limit`` left out."""
    if seen < limit and first_length < MAX_LINE and max(map(len, pieces)) < MAX_LINE:
        return pieces  # the usual chunk: nothing to do
    lines: list[bytes] = []
    offset = start
    for index, piece in enumerate(pieces):
        length = first_length if index == 0 else len(piece)
        if offset >= limit:
            break
        lines.append(_overlong(piece, offset, limit) if length >= MAX_LINE else piece)
        offset += length + 1
    return lines


def _overlong(head: bytes, offset: int, limit: int) -> bytes:
    """A line too long to be one is skipped; but one whose first MAX_LINE bytes reach the limit was read as
    those bytes only (as the reader before this one did, line by line: its results are kept exactly)."""
    return _shortened(head[:MAX_LINE]) if offset + MAX_LINE >= limit else b""


def _shortened(piece: bytes) -> bytes:
    """A MAX_LINE-long piece is a line only if stripping its ends makes it shorter."""
    text = piece.decode("latin-1").strip()
    return text.encode("latin-1") if len(text) < MAX_LINE else b""


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
