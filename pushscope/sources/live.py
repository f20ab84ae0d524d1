"""Live capture through tshark: ``pushscope live -i IFACE [--keylog FILE] [-f FILTER] [-w FILE]``.

tshark captures (through dumpcap) and prints one row per packet as it arrives (``-l``); the same readers as
for capture files (:class:`TcpRowReader`, and :class:`QuicRowReader` for QUIC) turn rows into events, so the
model grows while the traffic flows. TLS and QUIC are decrypted with a key log that a client keeps writing
(``SSLKEYLOGFILE``): tshark reads what has been appended whenever it meets a new session. Stopping (the
``stop`` event, Ctrl-C in ``pushscope live``, or ``duration``) ends tshark; everything seen is kept, and
with ``write_to`` the packets are also written to a capture file. When tshark cannot capture (no permission,
no such interface, a bad filter) a Diagnostic says so, and what to do.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pushscope.events import Diagnostic, SourceFinished, SourceItem, SourceProgress
from pushscope.sources.conversations import ConversationLedger
from pushscope.sources.keylog import KeyLogSummary, summarize_keylog
from pushscope.sources.quic_rows import QUIC_FIELDS, QUIC_TSHARK_ARGS, QuicRowReader, quic_decode_as_args
from pushscope.sources.row_dispatch import RowDispatch
from pushscope.sources.tcp_rows import TcpRowReader
from pushscope.sources.tshark import TCP_FIELDS, TsharkNotFound, TsharkRun, build_command, find_tshark

PROGRESS_EVERY = 0.5
POLL = 0.1
# tshark logs "Capture started." once dumpcap has opened the interface. It says "Capturing on ..." before it
# knows whether dumpcap can; without the former, "capturing" is announced when this long passed without error.
READY_AFTER = 1.0
BENIGN = ("Capturing on", "packets captured", "packet captured", "packets dropped", "packet dropped",
          "[Main MESSAGE]", "Running as user")

PERMISSION_HELP = (
    "capturing needs root or the capture capabilities: run as root (sudo), or let your user capture: "
    "`sudo dpkg-reconfigure wireshark-common` (answer yes), `sudo usermod -aG wireshark $USER`, then log in "
    "again; or `sudo setcap cap_net_raw,cap_net_admin+eip $(command -v dumpcap)`"
)


def classify_tshark_error(interface: str, stderr: Sequence[str], capture_filter: str | None = None) -> Diagnostic:
    """What went wrong, from tshark's own words, and what to do about it."""
    text = " ".join(stderr)
    lower = text.lower()
    meaningful = error_lines(stderr)
    detail = meaningful[0].removeprefix("tshark:").strip() if meaningful else "no message"
    if "permission" in lower or "operation not permitted" in lower or "not permitted" in lower:
        return Diagnostic(level="error",
                          message=f"no permission to capture on {interface} ({detail}); {PERMISSION_HELP}",
                          code="live-permission")
    if ("no such device" in lower or "there is no device" in lower or "no such interface" in lower
            or "is not a valid interface" in lower or "doesn't exist" in lower):
        return Diagnostic(level="error", message=f"there is no interface named {interface!r}: list the interfaces with "
                          "`tshark -D` (or `ip link`) and pass one with -i", code="live-no-interface")
    if "filter" in lower and ("invalid" in lower or "syntax" in lower or "can't parse" in lower):
        return Diagnostic(level="error",
                          message=f"tshark rejected the capture filter {capture_filter!r} ({detail}): it takes "
                          "BPF syntax, e.g. 'tcp port 443 or udp port 443'", code="live-bad-filter")
    return Diagnostic(level="error", message=f"tshark could not capture on {interface}: {detail}", code="live-failed")


def error_lines(stderr: Sequence[str]) -> list[str]:
    """tshark's stderr without its progress chatter."""
    return [line.strip() for line in stderr
            if line.strip() and line.strip() != "tshark:" and not any(b in line for b in BENIGN)]


def live_events(
    interface: str,
    *,
    keylog: str | None = None,
    capture_filter: str | None = None,
    write_to: str | None = None,
    duration: float | None = None,
    quic_ports: Sequence[int] = (),
    stop: threading.Event | None = None,
) -> Iterator[SourceItem]:
    """Yield events as packets arrive, until ``stop`` is set, ``duration`` passes, or tshark ends.

    First comes a ``SourceProgress`` whose detail starts with "capturing on" once tshark is capturing; then
    events, progress about every half second (packets so far), diagnostics, and a SourceFinished.
    """
    stop = stop or threading.Event()
    try:
        tshark = find_tshark()
    except TsharkNotFound as exc:
        yield Diagnostic(level="error", message=str(exc), code="live-no-tshark")
        yield SourceFinished()
        return
    summary: KeyLogSummary | None = None
    if keylog:
        path = Path(keylog)
        if not path.exists():
            # tshark reads a key log as it grows, but it must exist to be opened: create it for the client.
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            yield Diagnostic(level="info",
                             message=f"key log {keylog} did not exist; created it empty for the client to fill",
                             code="live-keylog-created")
        summary = summarize_keylog(keylog)
    fields = list(dict.fromkeys(TCP_FIELDS + QUIC_FIELDS))
    extra = list(QUIC_TSHARK_ARGS) + quic_decode_as_args(quic_ports)
    command = build_command(tshark, None, fields, keylog=keylog, extra_args=extra, live_interface=interface,
                            capture_filter=capture_filter, write_to=write_to)
    run = TsharkRun(command, fields)
    try:
        run.start()
    except OSError as exc:
        yield Diagnostic(level="error", message=f"cannot start tshark: {exc}", code="live-failed")
        yield SourceFinished()
        return
    rows: queue.Queue[dict[str, str] | None] = queue.Queue()
    reader = threading.Thread(target=_pump_rows, args=(run, rows), name="pushscope-live-rows", daemon=True)
    reader.start()
    ledger = ConversationLedger()
    dispatch = RowDispatch(TcpRowReader(summary), QuicRowReader(summary, server_ports=quic_ports), ledger)
    watch = _CaptureWatch(run, interface, stop, duration)
    try:
        # Every poll (a row, or POLL seconds without one) gives the watch its turn: start, stop, progress.
        yield from dispatch.run(_polled(rows), watch.tick, 0.0)
    finally:
        run.stop()
    code = run.wait()
    reader.join(timeout=5)
    if summary is not None and keylog:
        fresh = summarize_keylog(keylog)  # the client kept writing: judge decryption with what is there now
        summary.exists, summary.client_randoms = fresh.exists, fresh.client_randoms
        summary.lines, summary.bad_lines = fresh.lines, fresh.bad_lines
    packets, last_at = dispatch.rows, dispatch.last_at
    yield from ledger.passing(dispatch.tcp.finish(last_at))
    yield from ledger.passing(dispatch.settled()[0].finish(last_at))
    yield from ledger.finish()
    stderr = list(run.stderr_lines)
    errors = error_lines(stderr)
    if not watch.announced and packets == 0 and (errors or (not watch.stopped_by_us and code not in (0, -15, -2))):
        yield classify_tshark_error(interface, stderr, capture_filter)
    elif errors and not watch.stopped_by_us:
        yield Diagnostic(level="warning", message=f"tshark stopped (exit {code}): {errors[0][:300]}",
                         code="live-stopped")
    if write_to and packets:
        yield Diagnostic(level="info", message=f"packets written to {write_to}", code="live-written")
    yield SourceProgress(done=packets, total=packets, unit="packets", detail=f"stopped: {packets} packets")
    yield SourceFinished(summary={"packets": packets})


class _CaptureWatch:
    """Between rows: announce when tshark is capturing, stop it when asked or when time is up, report progress."""

    def __init__(self, run: TsharkRun, interface: str, stop: threading.Event, duration: float | None) -> None:
        self.run = run
        self.interface = interface
        self.stop = stop
        self.duration = duration
        self.started = time.monotonic()
        self.announced = False
        self.stopped_by_us = False
        self._capturing_since: float | None = None
        self._last_progress = 0.0

    def tick(self, packets: int) -> tuple[list[SourceItem], bool]:
        items: list[SourceItem] = []
        if not self.announced and self._ready():
            self.announced = True
            items.append(SourceProgress(done=0, total=None, unit="packets", detail=f"capturing on {self.interface}"))
        now = time.monotonic()
        expired = self.duration is not None and now - self.started >= self.duration
        if not self.stopped_by_us and (self.stop.is_set() or expired):
            self.stopped_by_us = True
            self.run.stop()  # the rows end once tshark has gone: everything before is still dispatched
        if now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            state = "capturing on" if self.announced else "starting capture on"
            detail = f"{state} {self.interface}: {packets} packets"
            items.append(SourceProgress(done=packets, total=None, unit="packets", detail=detail))
        return items, False

    def _ready(self) -> bool:
        lines = list(self.run.stderr_lines)
        if self._capturing_since is None and any("Capturing on" in line for line in lines):
            self._capturing_since = time.monotonic()
        started_log = any("Capture started" in line for line in lines)
        waited = self._capturing_since is not None and time.monotonic() - self._capturing_since >= READY_AFTER
        process = self.run.process
        return (started_log or waited) and not error_lines(lines) and process is not None and process.poll() is None


def _polled(rows: queue.Queue[dict[str, str] | None]) -> Iterator[dict[str, str]]:
    """The rows as they come; an empty one when none came for POLL seconds; the end when tshark has gone."""
    while True:
        try:
            row = rows.get(timeout=POLL)
        except queue.Empty:
            row = {}
        if row is None:
            return
        yield row


def _pump_rows(run: TsharkRun, rows: queue.Queue[dict[str, str] | None]) -> None:
    try:
        for row in run.rows():
            rows.put(row)
    except (OSError, ValueError):
        pass
    finally:
        rows.put(None)
