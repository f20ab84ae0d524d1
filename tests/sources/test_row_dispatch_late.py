"""The first rows do not wait for pushscope's own read of a big key log: TCP rows are dispatched while it goes on,
and the QUIC half (reader and trial decryption, which depend on what the key log holds) is made at the first UDP
row, at a tick once the read has ended, or at the end. What comes out is exactly what a dispatch that had them from
the start makes, on real captures (a TLS conversation whose handshake the capture lacks, whose trial needs every
ClientHello seen before; QUIC without its handshake)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushscope.events import SourceProgress
from pushscope.sources import capture_file, keylog, row_dispatch
from pushscope.sources.capture_file import KeyLogReading, _quic_reader, _tshark_run, read_capture
from pushscope.sources.conversations import ConversationLedger
from pushscope.sources.keylog import scan_keylog
from pushscope.sources.quic_rows import QuicRowReader
from pushscope.sources.quic_trial import QuicTrial
from pushscope.sources.row_dispatch import LateReaders, RowDispatch
from pushscope.sources.tcp_rows import TcpRowReader
from pushscope.sources.trial_keys import secret_pairs
from pushscope.sources.tshark import find_tshark

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _rows(name: str) -> list[dict[str, str]]:
    capture, keys = CAPTURES / f"{name}.pcapng", str(CAPTURES / f"{name}.keys")
    run = _tshark_run(find_tshark(), str(capture), keys, [], keys)
    run.start()
    try:
        return [dict(row) for row in run.rows()]
    finally:
        run.stop(unread=True)
        run.wait()


def _dispatched(keys: Path, rows: list[dict[str, str]], *, late: bool, ready: bool = False) -> tuple[list, dict]:
    """Everything a dispatch of ``rows`` makes (with a tick after every row), the readers' ends included, and when
    the late readers were made (after how many items, on which row)."""
    scan = scan_keylog(keys)
    made: dict = {}
    tcp = TcpRowReader(None if late else scan.summary)
    items: list = []

    def make() -> tuple[QuicRowReader, QuicTrial]:
        made["after_items"], made["rows"] = len(items), dispatch.rows
        tcp.keylog = scan.summary
        return _quic_reader(scan.summary, [], secret_pairs(scan))

    if late:
        dispatch = RowDispatch(tcp, None, ConversationLedger(), late=LateReaders(lambda: ready, make))
    else:
        quic, trial = _quic_reader(scan.summary, [], secret_pairs(scan))
        dispatch = RowDispatch(tcp, quic, ConversationLedger(), trial)
    items.extend(dispatch.run(iter(rows), lambda count: ([], False), 0.0))
    quic, trial = dispatch.settled()
    assert trial is not None
    items.extend(tcp.finish(dispatch.last_at))
    items.extend(quic.finish(dispatch.last_at, trial.undecrypted()))
    made["claimed"], made["pairs"] = set(trial.claimed), [pair.client_random for pair in trial.pairs]
    return items, made


@pytest.fixture(scope="module")
def tls_rows() -> list[dict[str, str]]:
    """Two page loads over TLS, each connection with its ClientHello."""
    return _rows("nginx-preload-twoloads")


@pytest.fixture(scope="module")
def tls13_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Their key log, with the TLS 1.3 secrets of another session after it: the trial is on, and must not try
    what a ClientHello of the capture claims."""
    path = tmp_path_factory.mktemp("keys") / "both.keys"
    path.write_text((CAPTURES / "nginx-preload-twoloads.keys").read_text()
                    + (CAPTURES / "nginx-midstream.keys").read_text())
    return path


def test_tcp_rows_flow_before_the_key_log_is_read(tls_rows: list[dict[str, str]], tls13_keys: Path) -> None:
    reference, eager = _dispatched(tls13_keys, tls_rows, late=False)
    items, late = _dispatched(tls13_keys, tls_rows, late=True)
    assert items == reference and len(reference) > 20
    # A TCP-only capture: every row was dispatched before the readers were made, at the end.
    assert late["rows"] == len(tls_rows) and late["after_items"] > 20
    # The trial saw every ClientHello of the capture all the same (it decides which secrets are left to try).
    assert late["claimed"] == eager["claimed"] and late["claimed"]
    assert late["pairs"] == eager["pairs"]


def test_late_readers_are_made_at_a_tick_once_ready(tls_rows: list[dict[str, str]], tls13_keys: Path) -> None:
    reference, _ = _dispatched(tls13_keys, tls_rows, late=False)
    items, late = _dispatched(tls13_keys, tls_rows, late=True, ready=True)
    assert items == reference
    assert late["rows"] == 1  # the first tick after the first row


def test_rows_kept_for_the_trial_are_bounded(tls_rows: list[dict[str, str]], tls13_keys: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    reference, eager = _dispatched(tls13_keys, tls_rows, late=False)
    monkeypatch.setattr(row_dispatch, "MAX_NOTED", 1)
    items, late = _dispatched(tls13_keys, tls_rows, late=True)
    hellos = [number for number, row in enumerate(tls_rows, 1) if row.get("tls.handshake.random")]
    assert items == reference and late["claimed"] == eager["claimed"]
    assert len(hellos) >= 2 and late["rows"] == hellos[1]  # waited for the read at the second ClientHello


def test_the_first_udp_row_waits_for_the_key_log() -> None:
    rows = _rows("h3-midstream")
    reference, eager = _dispatched(CAPTURES / "h3-midstream.keys", rows, late=False)
    items, late = _dispatched(CAPTURES / "h3-midstream.keys", rows, late=True)
    assert items == reference and len(reference) > 20
    first_udp = next(number for number, row in enumerate(rows, 1) if row.get("udp.stream"))
    assert late["rows"] == first_udp and late["pairs"] == eager["pairs"]


def test_a_dispatch_has_its_quic_reader_or_late_readers() -> None:
    with pytest.raises(ValueError):
        RowDispatch(TcpRowReader(), None, ConversationLedger())
    late = LateReaders(lambda: True, lambda: _quic_reader(None, [], []))
    with pytest.raises(ValueError):
        RowDispatch(TcpRowReader(), QuicRowReader(), ConversationLedger(), late=late)


# --- the key log's read --------------------------------------------------------------------------------------

class _HeldText(keylog.KeyLogText):
    """A key log whose read stops after its first chunk until the test lets it go on."""

    go_on = threading.Event()

    def chunks(self) -> Iterator[tuple[int, list[bytes]]]:
        for index, chunk in enumerate(super().chunks()):
            if index == 1:
                assert self.go_on.wait(10)
            yield chunk


def _big_keylog(tmp_path: Path, first: str) -> Path:
    path = tmp_path / "big.keys"
    filler = "".join(f"CLIENT_RANDOM {number:064x} {'ab' * 48}\n" for number in range(8000))
    path.write_text(first + filler)
    return path


def test_the_key_log_s_diagnostics_are_known_from_its_first_valid_line(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keylog, "KeyLogText", _HeldText)
    monkeypatch.setattr(keylog, "READ_CHUNK", 4096)
    _HeldText.go_on = threading.Event()
    path = _big_keylog(tmp_path, (CAPTURES / "nginx-midstream.keys").read_text())
    reading = KeyLogReading(str(path), "--keylog")
    assert reading.problems() == [] and not reading.done()  # the rest is still being read
    _HeldText.go_on.set()
    summary, problems, pairs = reading.result()
    assert summary is not None and problems == [] and len(summary.client_randoms) > 8000 and pairs


def test_a_key_log_without_a_valid_line_is_read_to_its_end_for_its_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "bad.keys"
    path.write_text("# nothing but comments\n" * 50_000 + "NOT_A_LABEL 00 11\n")
    reading = KeyLogReading(str(path), "--keylog")
    problems = reading.problems()
    assert reading.done() and [problem.code for problem in problems] == ["bad-keylog"]


def test_a_read_with_a_big_key_log_yields_what_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the capture's own key log, then the same with thousands of other sessions' lines after it (a
    browser's key log). tshark reads the padded one as it is (smaller than the capture)."""
    capture = CAPTURES / "nginx-midstream.pcapng"
    monkeypatch.setattr(capture_file, "FILTER_ABOVE", 1 << 40)  # handed to tshark as it is, whatever its size

    def items(keys: Path) -> list:
        return [item for item in read_capture(str(capture), str(keys), keylog_origin="--keylog")
                if not isinstance(item, SourceProgress) and getattr(item, "code", "") != "keylog-filtered"]

    padded = tmp_path / "padded.keys"
    padded.write_text((CAPTURES / "nginx-midstream.keys").read_text()
                      + "".join(f"CLIENT_RANDOM {number:064x} {'ab' * 48}\n" for number in range(20_000)))
    assert items(padded) == items(CAPTURES / "nginx-midstream.keys")
