"""Every tshark row to the reader of its transport: the one row-dispatch loop, for capture files and live capture.

A row (one packet's fields) is counted by the conversation ledger, then goes to the TCP reader (``tcp.stream``) or
the QUIC reader (``udp.stream``), and to pushscope's own QUIC trial decryption when it is on; what the readers make
passes the ledger on its way out. How rows arrive is the source's business: ``RowDispatch.run`` is handed the rows
and a ``tick`` that it calls about every ``every`` seconds (progress, cancelling, a live capture's start and stop).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from pushscope.events import SourceItem
from pushscope.sources.conversations import ConversationLedger
from pushscope.sources.quic_rows import QuicRowReader
from pushscope.sources.quic_trial import QuicTrial
from pushscope.sources.tcp_rows import TcpRowReader

Row = Mapping[str, str]
# Given the rows dispatched so far: the items to pass on, and whether to stop reading rows.
Tick = Callable[[int], tuple[list[SourceItem], bool]]
# QUIC versions whose long-header packets we recognise in payload tshark left undecoded: v1, v2, drafts.
QUIC_VERSION_PREFIXES = ("00000001", "6b3343cf", "ff0000")
# What the trial notes of a TCP row (``QuicTrial.note_row``): a ClientHello's client random (rows kept before the
# trial exists are TCP rows only: the first UDP row makes it). At most MAX_NOTED such rows are kept while the key log
# is read; one more waits for the read to end.
NOTED_FIELDS = ("tls.handshake.random", "tls.handshake.type")
MAX_NOTED = 100_000


@dataclass(frozen=True, slots=True)
class LateReaders:
    """The QUIC reader and trial decryption of a pass that starts before the key log is read (they depend on what
    it holds): ``ready`` says whether ``make`` would answer at once; ``make`` waits until it can."""

    ready: Callable[[], bool]
    make: Callable[[], tuple[QuicRowReader, QuicTrial]]


class RowDispatch:
    """The readers of one tshark pass and where each row goes. After ``run``: ``rows`` (packets seen),
    ``last_at`` (the last packet's time) and ``undecoded_quic`` (UDP ports carrying QUIC-looking payload that
    tshark did not decode as QUIC: packets per port).

    With ``late`` instead of ``quic`` (and ``trial``), TCP rows are dispatched while the key log is still being
    read: the QUIC half is made at the first UDP row, at a tick once it is ready, or at the end (``settled``),
    whichever comes first. Until then, the few rows the trial notes (TLS ClientHellos) are kept, in brief, and
    noted once it exists: what the readers make is the same as if they had been there from the start."""

    def __init__(self, tcp: TcpRowReader, quic: QuicRowReader | None, ledger: ConversationLedger,
                 trial: QuicTrial | None = None, *, late: LateReaders | None = None) -> None:
        if (quic is None) == (late is None):
            raise ValueError("a dispatch has either its QUIC reader or the late readers")
        self.tcp = tcp
        self.quic = quic
        self.ledger = ledger
        self.trial = trial if trial is not None and trial.enabled else None
        self._trial_made = trial  # (off or on)
        self._late = late
        self._noted: list[dict[str, str]] = []  # rows for the trial, while it does not exist yet
        self.rows = 0
        self.last_at: float | None = None
        self.undecoded_quic: dict[int, int] = {}

    def settled(self) -> tuple[QuicRowReader, QuicTrial | None]:
        """The QUIC reader and the trial (off or on, as given or made), made now if they were not yet."""
        late = self._late
        if late is not None:
            self._late = None
            self.quic, trial = late.make()
            self.trial = trial if trial.enabled else None
            self._trial_made = trial
            if self.trial is not None:
                for row in self._noted:
                    self.trial.note_row(row)
            self._noted.clear()
        assert self.quic is not None
        return self.quic, self._trial_made

    def run(self, rows: Iterable[Row], tick: Tick, every: float) -> Iterator[SourceItem]:
        """Dispatch each row and pass on what the readers make. An empty row (a live capture with nothing yet)
        only gives ``tick`` its turn."""
        packet, passing = self.ledger.packet, self.ledger.passing
        tcp_feed, trial = self.tcp.feed, self.trial
        quic_feed = self.quic.feed if self.quic is not None else None
        noted = self._noted
        clock = time.monotonic
        last_tick = clock()
        try:
            for row in rows:
                if row:
                    self.rows += 1
                    try:
                        at = float(row["frame.time_epoch"])
                    except (KeyError, ValueError):
                        continue
                    self.last_at = at
                    packet(row, at)
                    if quic_feed is None and (row.get("udp.stream")
                                              or (row.get("tls.handshake.random") and len(noted) >= MAX_NOTED)):
                        quic_feed, trial = self.settled()[0].feed, self.trial
                    if trial is not None:
                        trial.note_row(row)
                    elif quic_feed is None and row.get("tls.handshake.random"):
                        noted.append({name: row.get(name, "") for name in NOTED_FIELDS})
                    if row.get("tcp.stream"):
                        yield from passing(tcp_feed(row, at))
                    elif row.get("udp.stream"):
                        assert quic_feed is not None
                        yield from passing(quic_feed(row, at, int(row["frame.number"] or 0)))
                        if trial is not None and trial.wants(row):
                            yield from passing(trial.feed(row, at))
                        if not row.get("quic.header_form"):
                            note_undecoded_quic(row, self.undecoded_quic)
                now = clock()
                if now - last_tick >= every:
                    last_tick = now
                    if quic_feed is None and self._late is not None and self._late.ready():
                        quic_feed, trial = self.settled()[0].feed, self.trial
                    items, stop = tick(self.rows)
                    yield from items
                    if stop:
                        return
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()


def note_undecoded_quic(row: Row, ports: dict[int, int]) -> None:
    """A UDP payload that starts like a QUIC long-header packet, on a port tshark did not decode as QUIC."""
    payload = row.get("data.data", "").split(",")[0]
    if len(payload) < 10 or payload[0] not in "cdef" or not payload[2:10].startswith(QUIC_VERSION_PREFIXES):
        return
    for field in ("udp.dstport", "udp.srcport"):
        try:
            port = int(row.get(field, "").split(",")[0])
        except ValueError:
            continue
        ports[port] = ports.get(port, 0) + 1
