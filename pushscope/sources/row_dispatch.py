"""Every tshark row to the reader of its transport: the one row-dispatch loop, for capture files and live capture.

A row (one packet's fields) is counted by the conversation ledger, then goes to the TCP reader (``tcp.stream``) or
the QUIC reader (``udp.stream``), and to pushscope's own QUIC trial decryption when it is on; what the readers make
passes the ledger on its way out. How rows arrive is the source's business: ``RowDispatch.run`` is handed the rows
and a ``tick`` that it calls about every ``every`` seconds (progress, cancelling, a live capture's start and stop).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

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


class RowDispatch:
    """The readers of one tshark pass and where each row goes. After ``run``: ``rows`` (packets seen),
    ``last_at`` (the last packet's time) and ``undecoded_quic`` (UDP ports carrying QUIC-looking payload that
    tshark did not decode as QUIC: packets per port)."""

    def __init__(self, tcp: TcpRowReader, quic: QuicRowReader, ledger: ConversationLedger,
                 trial: QuicTrial | None = None) -> None:
        self.tcp = tcp
        self.quic = quic
        self.ledger = ledger
        self.trial = trial if trial is not None and trial.enabled else None
        self.rows = 0
        self.last_at: float | None = None
        self.undecoded_quic: dict[int, int] = {}

    def run(self, rows: Iterable[Row], tick: Tick, every: float) -> Iterator[SourceItem]:
        """Dispatch each row and pass on what the readers make. An empty row (a live capture with nothing yet)
        only gives ``tick`` its turn."""
        packet, passing = self.ledger.packet, self.ledger.passing
        tcp_feed, quic_feed, trial = self.tcp.feed, self.quic.feed, self.trial
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
                    if trial is not None:
                        trial.note_row(row)
                    if row.get("tcp.stream"):
                        yield from passing(tcp_feed(row, at))
                    elif row.get("udp.stream"):
                        yield from passing(quic_feed(row, at, int(row["frame.number"] or 0)))
                        if trial is not None and trial.wants(row):
                            yield from passing(trial.feed(row, at))
                        if not row.get("quic.header_form"):
                            note_undecoded_quic(row, self.undecoded_quic)
                now = clock()
                if now - last_tick >= every:
                    last_tick = now
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
