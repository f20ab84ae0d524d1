"""tshark's lean copy of a big key log, through a named pipe (``keylog_pipe``): it holds every line but the
exporter secrets'; a read through it yields exactly what a read of the key log itself yields, started early or
not; and its writer never outlives tshark, whether tshark read the pipe whole, in part, or not at all.

The pipe serves captures that cannot hold their secrets (a pcapng gets them inside it: see ``test_secrets_feed``),
so these reads are of pcap copies of the lab's captures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pushscope.events import SourceProgress
from pushscope.sources import capture_file, keylog_pipe
from pushscope.sources.capture_file import EarlyStart, read_capture
from pushscope.sources.keylog_pipe import KeylogPipe, lean_keylog_text, worth_a_pipe

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the pipe is made on Linux only")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def test_the_lean_copy_leaves_out_the_exporter_secrets_only() -> None:
    lines = [b"# a comment", b"CLIENT_RANDOM aa bb", b"EXPORTER_SECRET aa cc", b"EARLY_EXPORTER_SECRET aa dd\r",
             b"", b"SERVER_TRAFFIC_SECRET_0 aa ee\r", b" EXPORTER_SECRET aa ff", b"EXPORTER_SECRETS aa 00",
             b"CLIENT_EARLY_TRAFFIC_SECRET aa 11"]
    assert lean_keylog_text(lines).split(b"\n")[1:] == [
        b"# a comment", b"CLIENT_RANDOM aa bb", b"", b"SERVER_TRAFFIC_SECRET_0 aa ee\r", b" EXPORTER_SECRET aa ff",
        b"EXPORTER_SECRETS aa 00", b"CLIENT_EARLY_TRAFFIC_SECRET aa 11"]


def test_only_a_big_plain_key_log_is_worth_a_pipe(tmp_path: Path) -> None:
    small, big, gzipped = tmp_path / "small.keys", tmp_path / "big.keys", tmp_path / "big.keys.gz"
    small.write_bytes(b"CLIENT_RANDOM aa bb\n")
    for path in (big, gzipped):
        path.write_bytes(b"# padding\n" * (keylog_pipe.LEAN_ABOVE // 10 + 1))
    assert worth_a_pipe(str(big))
    assert not worth_a_pipe(str(small)) and not worth_a_pipe(str(gzipped))
    assert not worth_a_pipe(str(tmp_path / "missing.keys")) and not worth_a_pipe(str(tmp_path))


def _big_keylog(path: Path) -> list[bytes]:
    """A key log of about 3 MB (more than the pipe holds) with exporter lines among the others."""
    lines = []
    for number in range(24_000):
        random = f"{number:064x}"
        lines += [f"CLIENT_TRAFFIC_SECRET_0 {random} {'a' * 64}".encode(),
                  f"EXPORTER_SECRET {random} {'b' * 64}".encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def _ends(pipe: KeylogPipe) -> bool:
    pipe._thread.join(timeout=10)
    return not pipe._thread.is_alive()


def test_a_reader_gets_the_whole_lean_copy_then_its_end(tmp_path: Path) -> None:
    lines = _big_keylog(tmp_path / "k.keys")
    pipe = KeylogPipe(str(tmp_path / "k.keys"), str(tmp_path))
    with open(pipe.path, "rb") as reader:  # as tshark does: the writer has waited for this
        text = reader.read()
    assert text.split() == b"\n".join(line for line in lines if not line.startswith(b"EXPORTER")).split()
    assert _ends(pipe)
    pipe.release()


def test_a_writer_that_nothing_reads_ends_on_release(tmp_path: Path) -> None:
    _big_keylog(tmp_path / "k.keys")
    pipe = KeylogPipe(str(tmp_path / "k.keys"), str(tmp_path))
    assert pipe._thread.is_alive()  # waiting for a reader
    pipe.release()
    assert _ends(pipe)


def test_a_writer_that_reaches_the_pipe_after_the_release_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's thread may begin to wait for a reader only after ``release`` opened the pipe once."""
    _big_keylog(tmp_path / "k.keys")
    write, released = KeylogPipe._write, threading.Event()

    def late_write(pipe: KeylogPipe) -> None:
        released.wait(timeout=10)
        time.sleep(0.2)  # ``release`` has opened and closed the pipe by now
        write(pipe)

    monkeypatch.setattr(KeylogPipe, "_write", late_write)
    pipe = KeylogPipe(str(tmp_path / "k.keys"), str(tmp_path))
    release = threading.Thread(target=pipe.release)
    release.start()
    released.set()
    release.join(timeout=10)
    assert _ends(pipe)


def test_a_writer_whose_reader_goes_away_ends(tmp_path: Path) -> None:
    _big_keylog(tmp_path / "k.keys")
    pipe = KeylogPipe(str(tmp_path / "k.keys"), str(tmp_path))
    with open(pipe.path, "rb") as reader:
        assert reader.read(100)
    assert _ends(pipe)  # (a broken pipe)
    pipe.release()


def _as_pcap(capture: Path, directory: Path) -> Path:
    """A pcap copy of a pcapng capture (editcap comes with tshark)."""
    copy = directory / f"{capture.stem}.pcap"
    subprocess.run(["editcap", "-F", "pcap", str(capture), str(copy)], check=True, capture_output=True)
    return copy


def _items(path: Path, keylog: Path | None, early: EarlyStart | None = None) -> list:
    items = read_capture(str(path), str(keylog) if keylog else None, keylog_origin="--keylog" if keylog else "",
                         early=early)
    return [item for item in items if not isinstance(item, SourceProgress)]


class _Pipes:
    """Every KeylogPipe made while it watches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[KeylogPipe] = []
        made, original = self.made, KeylogPipe

        def watched(source: str, directory: str) -> KeylogPipe:
            made.append(original(source, directory))
            return made[-1]

        monkeypatch.setattr(capture_file, "KeylogPipe", watched)


@needs_tshark
@pytest.mark.parametrize("name, keys_of", [("nginx-push-basic", None), ("h3-midstream", None),
                                           ("h1-apache-clear", "nginx-push-basic")])
def test_a_read_through_the_pipe_yields_what_a_read_of_the_key_log_does(name: str, keys_of: str | None,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    capture, keys = _as_pcap(CAPTURES / f"{name}.pcapng", tmp_path), CAPTURES / f"{keys_of or name}.keys"
    reference = _items(capture, keys)
    monkeypatch.setattr(keylog_pipe, "LEAN_ABOVE", 0)  # these key logs are small: piped all the same
    pipes = _Pipes(monkeypatch)
    assert _items(capture, keys) == reference and len(reference) > 10
    early = EarlyStart(str(capture), str(keys), keylog_origin="--keylog")
    assert early.start()
    assert _items(capture, keys, early) == reference
    assert len(pipes.made) == 2
    for pipe in pipes.made:  # (a capture in clear: tshark never opened it)
        assert not pipe._thread.is_alive() and not os.path.exists(os.path.dirname(pipe.path))


@needs_tshark
def test_an_early_tshark_that_nothing_reads_leaves_no_pipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(keylog_pipe, "LEAN_ABOVE", 0)
    pipes = _Pipes(monkeypatch)
    early = EarlyStart(str(_as_pcap(CAPTURES / "nginx-push-basic.pcapng", tmp_path)),
                       str(CAPTURES / "nginx-push-basic.keys"), keylog_origin="--keylog")
    assert early.start() and len(pipes.made) == 1
    threading.Event().wait(0.2)  # (tshark may or may not have opened the pipe yet: both are ended)
    early.discard()
    pipe = pipes.made[0]
    assert _ends(pipe) and not os.path.exists(os.path.dirname(pipe.path))


@needs_tshark
def test_where_no_pipe_can_be_made_tshark_reads_the_key_log_itself(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    capture = _as_pcap(CAPTURES / "nginx-push-basic.pcapng", tmp_path)
    keys = CAPTURES / "nginx-push-basic.keys"
    reference = _items(capture, keys)
    monkeypatch.setattr(keylog_pipe, "LEAN_ABOVE", 0)

    def no_fifo(path: str, mode: int = 0o666) -> None:
        raise OSError("no named pipes on this file system")

    monkeypatch.setattr(keylog_pipe.os, "mkfifo", no_fifo)
    early = EarlyStart(str(capture), str(keys), keylog_origin="--keylog")
    assert early.start() and early._started is not None and early._started.pipe is None
    assert f"tls.keylog_file:{keys}" in early._started.run.command
    assert _items(capture, keys, early) == reference
    assert _items(capture, keys) == reference


def test_a_writer_that_cannot_open_the_pipe_lets_a_waiting_reader_go(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """tshark already waiting to open the pipe when the writer's own open fails: it reads an empty key log (and
    then decrypts nothing, which the read says) rather than wait for ever; the pipe is gone for any later one."""
    _big_keylog(tmp_path / "k.keys")
    reader_waits = threading.Event()
    real_open = keylog_pipe.os.open

    def failing_open(path: str, flags: int, *args: int) -> int:
        if flags == os.O_WRONLY:
            reader_waits.wait(10)
            threading.Event().wait(0.3)  # (the reader is blocked in its open by now)
            raise OSError("too many open files")
        return real_open(path, flags, *args)

    monkeypatch.setattr(keylog_pipe.os, "open", failing_open)
    read: list[bytes] = []

    def tshark_like() -> None:
        reader_waits.set()
        with open(pipe.path, "rb") as reader:  # blocks until a writer comes
            read.append(reader.read())

    pipe = KeylogPipe(str(tmp_path / "k.keys"), str(tmp_path))
    reader = threading.Thread(target=tshark_like, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive() and read == [b""]
    assert _ends(pipe) and not os.path.exists(pipe.path)
