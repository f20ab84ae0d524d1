"""A capture file (pcap, pcapng, gzipped) plus TLS secrets, read with one streaming tshark pass."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pushscope.events import Diagnostic, SourceFinished, SourceItem, SourceProgress
from pushscope.sources.conversations import ConversationLedger
from pushscope.sources.keylog import (
    FILTER_ABOVE,
    MAX_KEYLOG_TEXT,
    KeyLog,
    KeyLogSummary,
    plain_keylog_path,
    private_scratch_dir,
    scan_keylog,
)
from pushscope.sources.keylog_pipe import KeylogPipe, worth_a_pipe
from pushscope.sources.quic_rows import QUIC_FIELDS, QUIC_TSHARK_ARGS, QuicRowReader, quic_decode_as_args
from pushscope.sources.quic_trial import QuicTrial, account_trial, trial_fields
from pushscope.sources.row_dispatch import LateReaders, RowDispatch
from pushscope.sources.secrets_feed import SecretsFeed, feed_for
from pushscope.sources.tcp_rows import TcpRowReader
from pushscope.sources.tls_trial import run_tls_trial
from pushscope.sources.trial_keys import SecretPair, secret_pairs
from pushscope.sources.tshark import (
    TCP_FIELDS,
    TsharkNotFound,
    TsharkRun,
    build_command,
    client_randoms_in,
    find_tshark,
)

PROGRESS_EVERY = 0.2  # seconds between progress items, so a UI can show them without flooding
# How much nicer an early-started tshark runs from its first row on: as nice as the inspector's loader thread,
# which would have started it (pushscope.tui.sharing.LOADER_NICENESS; this module cannot import textual's side).
EARLY_NICENESS = 10


def resolve_keylog(explicit: str | None) -> tuple[str | None, str]:
    """The key log to use and where it came from: --keylog beats SSLKEYLOGFILE."""
    if explicit:
        return explicit, "--keylog"
    env = os.environ.get("SSLKEYLOGFILE")
    if env:
        return env, "SSLKEYLOGFILE"
    return None, ""


def _quic_fields(quic_ports: list[int], keylog: str | None) -> list[str]:
    """What the QUIC half of the pass asks tshark for; the trial's fields whenever there is a key log (whether it
    holds TLS 1.3 secrets is known only once it is read, after tshark has started)."""
    return list(QUIC_FIELDS) + (trial_fields(quic_ports) if keylog else [])


def _quic_args(quic_ports: list[int]) -> list[str]:
    return list(QUIC_TSHARK_ARGS) + quic_decode_as_args(quic_ports)


def _quic_reader(summary: KeyLogSummary | None, quic_ports: list[int],
                 pairs: list[SecretPair]) -> tuple[QuicRowReader, QuicTrial]:
    """The QUIC half of the pass: its reader, and the trial decryption of what tshark leaves undecrypted (on only
    when the key log has TLS 1.3 secrets)."""
    reader = QuicRowReader(summary, server_ports=tuple(quic_ports), trial=bool(pairs))
    trial = QuicTrial(pairs, reader.feed_decrypted, tuple(quic_ports), join=reader.join)
    return reader, trial


def read_capture(
    path: str,
    keylog: str | None = None,
    *,
    cancel: threading.Event | None = None,
    quic_ports: list[int] | None = None,
    keylog_origin: str | None = None,
    early: EarlyStart | None = None,
) -> Iterator[SourceItem]:
    """Yield events in capture order, progress every ~0.2 s, and diagnostics for whatever is missing.

    ``keylog_origin`` says where a key log the caller already chose came from (the CLI resolves it, see
    ``pushscope.cli.keys``); without it, ``keylog`` or else $SSLKEYLOGFILE is used. ``early``: the same read's
    tshark, started before (see ``EarlyStart``); the read takes it when it could start.
    """
    keylog_path, keylog_origin = _chosen_keylog(keylog, keylog_origin)
    started = early.take() if early is not None else None
    if started is not None:  # tshark runs already, with the key log as it is (or its lean copy: see keylog_pipe)
        try:
            yield from _run(started.run, path, keylog_path, started.keylog_read, cancel, quic_ports or [],
                            keylog_path, nicer_from_first_row=True)
        finally:
            started.close()
        return
    if not Path(path).is_file():
        yield Diagnostic(level="error", message=f"capture file {path} does not exist", code="no-capture")
        yield SourceFinished()
        return
    # Reading a big key log takes a while (0.55 s of CPU for 64 MB), and so does tshark before its first packet (it
    # reads the key log too): the two overlap. Its diagnostics still come first, before any packet's events.
    keylog_read = KeyLogReading(keylog_path, keylog_origin)
    try:
        tshark = find_tshark()
    except TsharkNotFound as exc:
        yield from keylog_read.problems()
        yield Diagnostic(level="error", message=str(exc), code="no-tshark")
        yield SourceFinished()
        return
    scratch = private_scratch_dir()
    pipe: KeylogPipe | None = None
    feed: SecretsFeed | None = None
    try:
        usable_keylog, note = None, None
        if keylog_path and Path(keylog_path).is_file():
            usable_keylog, note = _keylog_for_tshark(tshark, path, keylog_path, scratch, quic_ports or [])
            if usable_keylog == keylog_path:  # (as it is: inside the capture, or its lean copy, when worth it)
                feed = feed_for(path, keylog_path)
                pipe = _lean_copy(keylog_path, scratch) if feed is None else None
                usable_keylog = pipe.path if pipe is not None else usable_keylog
        # tshark gets the (possibly filtered) key log; the QUIC trial reads the whole one for unclaimed secrets.
        trial_keylog = keylog_path if usable_keylog else None
        run = _tshark_run(tshark, path, usable_keylog, quic_ports or [], trial_keylog, feed)
        yield from _run(run, path, usable_keylog, keylog_read, cancel, quic_ports or [], trial_keylog, note)
    finally:
        if pipe is not None:
            pipe.release()
        shutil.rmtree(scratch, ignore_errors=True)


def _chosen_keylog(keylog: str | None, keylog_origin: str | None) -> tuple[str | None, str]:
    return (keylog or None, keylog_origin) if keylog_origin is not None else resolve_keylog(keylog)


def _lean_copy(keylog: str, scratch: str) -> KeylogPipe | None:
    """The pipe tshark reads ``keylog``'s lean copy from (see ``keylog_pipe``), when worth it and it can be made."""
    if not worth_a_pipe(keylog):
        return None
    try:
        return KeylogPipe(keylog, scratch)
    except (OSError, RuntimeError):  # (no pipe here, or no thread to write it): tshark reads the key log itself
        return None


@dataclass(frozen=True, slots=True)
class _Started:
    run: TsharkRun
    keylog_read: KeyLogReading
    pipe: KeylogPipe | None = None  # where tshark reads its key log from, when not the key log itself
    scratch: str | None = None  # the pipe's private directory

    def close(self) -> None:
        """Once tshark has ended: its key log's pipe and directory go."""
        _close_pipe(self.pipe, self.scratch)


def _close_pipe(pipe: KeylogPipe | None, scratch: str | None) -> None:
    if pipe is not None:
        pipe.release()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


class EarlyStart:
    """A capture's tshark started before anything reads its rows: the inspector starts it first thing, so that
    tshark reads its key log (a second or more for a big one) while the inspector itself starts. The read takes it
    (once); when tshark cannot start as it is (no capture or no tshark: the read says why; a key log gzipped or
    to be filtered first) nothing is started early and the read does it all. tshark starts at the inspector's
    priority (its start, reading the key log, is what the first rows wait for) and runs EARLY_NICENESS nicer from
    its first row on, as under the inspector's loader (where keys wait for a core while rows flow). pushscope's own
    read of the key log (its summary and the trial's secrets) stops after its first valid line until they are
    needed, at the first QUIC row or the end: while rows flow, its 0.7 s of the interpreter for a 64 MB key log
    made the inspector's keys wait up to 0.25 s."""

    def __init__(self, path: str, keylog: str | None = None, *, quic_ports: list[int] | None = None,
                 keylog_origin: str | None = None) -> None:
        self.path, self.keylog, self.keylog_origin = path, keylog, keylog_origin
        self.quic_ports = quic_ports or []
        self._started: _Started | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        """Start tshark (and pushscope's own read of the key log) now, if it can be started as it is."""
        keylog, origin = _chosen_keylog(self.keylog, self.keylog_origin)
        if self._started is not None or not Path(self.path).is_file() or \
                (keylog is not None and not _keylog_as_is(self.path, keylog)):
            return False
        try:
            tshark = find_tshark()
        except TsharkNotFound:
            return False
        feed = feed_for(self.path, keylog)
        scratch = private_scratch_dir() if feed is None and keylog is not None and worth_a_pipe(keylog) else None
        pipe = _lean_copy(keylog, scratch) if keylog is not None and scratch is not None else None
        run = _tshark_run(tshark, self.path, pipe.path if pipe is not None else keylog, self.quic_ports, keylog,
                          feed)
        try:
            run.start()
        except OSError:  # (the read tries again, and says why)
            _close_pipe(pipe, scratch)
            return False
        self._started = _Started(run, KeyLogReading(keylog, origin, held=True), pipe, scratch)
        atexit.register(self.discard)  # (a tshark that nothing read: its rows are not waited for)
        return True

    def take(self) -> _Started | None:
        with self._lock:
            started, self._started = self._started, None
        return started

    def discard(self) -> None:
        started = self.take()
        if started is not None:
            started.keylog_read.release()
            started.run.stop(unread=True)
            started.close()


def _nicer_from_first_row(run: TsharkRun) -> Iterator[dict[str, str]]:
    rows = run.rows()
    first = next(rows, None)
    if first is None:
        return
    if run.process is not None:
        _nicer(run.process.pid)
    yield first
    yield from rows


def _nicer(task: int) -> None:
    """Linux: a process (by id) EARLY_NICENESS nicer; elsewhere, or where it is forbidden, nothing."""
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, task, min(os.getpriority(os.PRIO_PROCESS, task) + EARLY_NICENESS, 19))
    except OSError:
        pass


def _keylog_for_tshark(tshark: str, capture: str, keylog: str, scratch: str,
                       quic_ports: list[int]) -> tuple[str, Diagnostic | None]:
    """The key log tshark reads: a large one filtered (as a stream) to the client randoms the capture holds, so a
    100 MB key log costs what its useful lines cost; a gzipped one streamed out; a small plain one as it is.

    Filtering costs a pass over the capture (about 40 ms of tshark's CPU a MB) and saves tshark reading the lines
    it drops (about 15 ms a MB): only a key log larger than the capture is worth it."""
    try:
        size = os.path.getsize(keylog)
        capture_size = os.path.getsize(capture)
    except OSError:
        return keylog, None
    if not _worth_filtering(size, capture_size):
        return plain_keylog_path(keylog, scratch), None
    randoms = client_randoms_in(tshark, capture, quic_decode_as_args(quic_ports))
    log = KeyLog(keylog)
    filtered, kept = log.for_tshark(randoms, scratch)
    if randoms is None:
        return filtered, None
    message = (f"key log {keylog}: {kept} lines kept for the {len(randoms)} client randoms in the capture "
               "(the others are not handed to tshark)")
    if log.truncated:
        message += f"; only its first {MAX_KEYLOG_TEXT >> 20} MiB were read"
    return filtered, Diagnostic(level="info", message=message, code="keylog-filtered")


def _keylog_as_is(capture: str, keylog: str) -> bool:
    """tshark reads this key log as it is (see ``_keylog_for_tshark``): a plain file not worth filtering."""
    try:
        size = os.path.getsize(keylog) if Path(keylog).is_file() else None
        capture_size = os.path.getsize(capture)
    except OSError:
        return False
    return size is not None and not keylog.endswith(".gz") and not _worth_filtering(size, capture_size)


def _worth_filtering(keylog_size: int, capture_size: int) -> bool:
    return keylog_size > FILTER_ABOVE and keylog_size > capture_size


# What pushscope reads of the key log itself: its summary, the diagnostics it calls for, its TLS 1.3 secret pairs.
KeyLogRead = tuple[KeyLogSummary | None, list[Diagnostic], list[SecretPair]]


class KeyLogReading:
    """pushscope's own read of a key log, on a thread of its own (beside tshark's start). What the key log lacks
    (its diagnostics) is known as soon as the read finds a valid line, usually in its first chunk; its summary and
    secret pairs only at its end, and no row needs them before the first QUIC packet or the end of the capture: the
    first rows do not wait for the whole of a browser's big key log.

    ``held``: the read stops after that first valid line until ``release`` (or until its result is asked for). The
    inspector's first rows then do not share the interpreter with it (0.7 s of it for a 64 MB key log)."""

    def __init__(self, path: str | None, origin: str, *, held: bool = False) -> None:
        self.path, self.origin = path, origin
        self._usable = threading.Event()  # set once a valid line is found, and at the end of the read
        self._go = threading.Event()
        if not held:
            self._go.set()
        self._done = threading.Event()
        self._outcome: KeyLogRead | None = None
        self._error: BaseException | None = None
        # A daemon: a read still held when the program ends never keeps it waiting.
        threading.Thread(target=self._run, name="pushscope-keylog", daemon=True).start()

    def _run(self) -> None:
        try:
            self._outcome = self._read()
        except BaseException as error:  # (raised again to whoever asks for the result)
            self._error = error
        finally:
            self._done.set()

    def _read(self) -> KeyLogRead:
        # Background work, needed only at the first QUIC row or at the end: the cores go first to tshark's start
        # (what the first rows wait for) and to the caller's.
        _nicer(threading.get_native_id())
        try:
            if self.path is None:
                return None, [], []
            scan = scan_keylog(self.path, on_usable=self._found_usable)  # one pass: the summary and secret pairs
            return scan.summary, _keylog_problems(scan.summary, self.origin), secret_pairs(scan)
        finally:
            self._usable.set()

    def _found_usable(self) -> None:
        self._usable.set()
        self._go.wait()

    def release(self) -> None:
        """A held read goes on."""
        self._go.set()

    def problems(self) -> list[Diagnostic]:
        """The key log's diagnostics (none once a valid line is found: it exists, it is not empty, it is usable)."""
        self._usable.wait()
        return self.result()[1] if self._done.is_set() else []

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> KeyLogRead:
        """The summary, diagnostics and secret pairs, once the read has ended (or what it raised)."""
        self._go.set()
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome


def _keylog_problems(summary: KeyLogSummary, origin: str) -> list[Diagnostic]:
    path = summary.path
    if not summary.exists:
        return [Diagnostic(level="error", message=f"key log {path} (from {origin}) does not exist", code="no-keylog")]
    if summary.lines == 0:
        message = f"key log {path} (from {origin}) is empty: only cleartext traffic can be read"
        return [Diagnostic(level="info", message=message, code="empty-keylog")]
    if not summary.usable:
        message = (f"key log {path} (from {origin}) holds no CLIENT_RANDOM or *_TRAFFIC_SECRET lines: "
                   "it is not an NSS key log (SSLKEYLOGFILE format)")
        return [Diagnostic(level="error", message=message, code="bad-keylog")]
    return []


def _tshark_run(tshark: str, path: str, keylog: str | None, quic_ports: list[int],
                trial_keylog: str | None, feed: SecretsFeed | None = None) -> TsharkRun:
    """The one pass: its fields do not depend on what the key log holds, so it can start before that is known.
    With a ``feed``, tshark reads the capture, and the key log's secrets inside it, from its stdin."""
    fields = list(dict.fromkeys(TCP_FIELDS + _quic_fields(quic_ports, trial_keylog or keylog)))
    if feed is not None:
        command = build_command(tshark, "-", fields, keylog=None, extra_args=_quic_args(quic_ports))
        return TsharkRun(command, fields, feed=feed)
    return TsharkRun(build_command(tshark, path, fields, keylog=keylog, extra_args=_quic_args(quic_ports)), fields)


def _run(
    run: TsharkRun,
    path: str,
    keylog: str | None,
    keylog_read: KeyLogReading,
    cancel: threading.Event | None,
    quic_ports: list[int],
    trial_keylog: str | None = None,
    note: Diagnostic | None = None,
    *,
    nicer_from_first_row: bool = False,
) -> Iterator[SourceItem]:
    # tshark starts first (if it has not yet): its own start (reading the key log, its first packets) overlaps
    # with pushscope reading the key log's summary and secrets.
    if run.process is None:
        run.start()
    tshark = run.command[0]
    tcp = TcpRowReader()

    def quic_readers() -> tuple[QuicRowReader, QuicTrial]:
        """Once the key log's read has ended: the QUIC half, and what the TCP half learns of the key log."""
        summary, _, pairs = keylog_read.result()
        tcp.keylog = summary
        return _quic_reader(summary, quic_ports, pairs if trial_keylog or keylog else [])

    # Whatever ends this generator (the last row, a cancel, a consumer that stops reading at any item, an error),
    # tshark ends with it: nothing reads its rows afterwards.
    try:
        yield from keylog_read.problems()
        if note is not None:
            yield note
        ledger = ConversationLedger(secrets="handshake" if keylog else "dsb")
        dispatch = RowDispatch(tcp, None, ledger, late=LateReaders(keylog_read.done, quic_readers))
        total = os.path.getsize(path)

        def tick(rows: int) -> tuple[list[SourceItem], bool]:
            done = run.read_position(path) or 0
            items: list[SourceItem] = [SourceProgress(done=done, total=total, unit="bytes",
                                                      detail=f"{rows} packets")]
            if cancel is not None and cancel.is_set():
                run.stop(unread=True)
                items.append(Diagnostic(level="warning", message=f"loading cancelled after {rows} packets",
                                        code="cancelled"))
                return items, True
            return items, False

        yield from dispatch.run(_nicer_from_first_row(run) if nicer_from_first_row else run.rows(),
                                tick, PROGRESS_EVERY)
    finally:
        run.stop(unread=True)
        keylog_read.release()
    code = run.wait()
    quic, trial = dispatch.settled()
    assert trial is not None  # (quic_readers made one)
    rows, last_at = dispatch.rows, dispatch.last_at
    if trial.enabled:  # TLS 1.3 without its handshake: a second, narrow pass, only if there is any
        tls_events, tls_reasons = run_tls_trial(tshark, path, tcp, trial.pairs, trial.claimed)
        yield from ledger.passing(tls_events)
    else:
        tls_reasons = {}
    yield from ledger.passing(tcp.finish(last_at, tls_reasons))
    trial_undecrypted = account_trial(trial, quic, ledger, "handshake" if keylog else "dsb")
    yield from ledger.passing(quic.finish(last_at, trial.undecrypted(), trial_undecrypted))
    yield from ledger.finish(cancelled=cancel is not None and cancel.is_set())
    yield from _tshark_diagnostics(path, code, run.stderr_lines, rows)
    yield from _undecoded_quic_diagnostics(dispatch.undecoded_quic, quic_ports)
    yield SourceProgress(done=total, total=total, unit="bytes", detail=f"{rows} packets")
    yield SourceFinished(summary={"packets": rows})


def _tshark_diagnostics(path: str, code: int, stderr: list[str], rows: int) -> Iterator[Diagnostic]:
    text = " ".join(stderr)
    if "cut short" in text or "truncated" in text.lower():
        yield Diagnostic(level="warning",
                         message=f"{path} is truncated: read {rows} packets, the last one is cut short; "
                         "everything before it is shown", code="truncated-capture")
    elif "isn't a capture file" in text or "unknown file format" in text.lower():
        yield Diagnostic(level="error",
                         message=f"{path} is not a capture file tshark understands (pcap, pcapng, or gzipped)",
                         code="not-a-capture")
    elif code not in (0, -15) and stderr:
        yield Diagnostic(level="error", message=f"tshark failed (exit {code}): {stderr[-1][:300]}",
                         code="tshark-failed")
    if rows == 0 and not stderr:
        yield Diagnostic(level="warning", message=f"{path} holds no packets", code="empty-capture")


def _undecoded_quic_diagnostics(ports: dict[int, int], forced: list[int]) -> Iterator[Diagnostic]:
    # Both ends of a flow are counted; the server port is the one shared by the most packets (usually the lower).
    candidates = sorted((p for p in ports if p not in forced), key=lambda p: (-ports[p], p))
    if candidates:
        port = candidates[0]
        yield Diagnostic(level="warning",
                         message=f"UDP port {port} carries {ports[port]} packets that look like QUIC long headers "
                         f"but tshark did not decode them as QUIC: run again with --quic-port {port}", code="quic-port")
