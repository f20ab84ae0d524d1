"""tshark started early (``EarlyStart``, what the inspector does before importing textual): the read that takes it
yields exactly what a read that starts tshark itself yields; a key log that needs work first is not started
early; a tshark that nothing reads is stopped."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from pathlib import Path

import pytest

from pushscope.events import SourceProgress
from pushscope.pipeline import capture_file
from pushscope.sources.capture_file import EarlyStart, read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _items(path: Path, keylog: Path | None, early: EarlyStart | None = None) -> list:
    items = read_capture(str(path), str(keylog) if keylog else None, keylog_origin="--keylog" if keylog else "",
                         early=early)
    return [item for item in items if not isinstance(item, SourceProgress)]


@pytest.mark.parametrize("name, with_keys", [("nginx-push-basic", True), ("h3-midstream", True),
                                             ("nginx-push-basic", False)])
def test_early_tshark_reads_the_same(name: str, with_keys: bool) -> None:
    capture, keys = CAPTURES / f"{name}.pcapng", CAPTURES / f"{name}.keys" if with_keys else None
    early = EarlyStart(str(capture), str(keys) if keys else None, keylog_origin="--keylog" if keys else "")
    assert early.start()
    started = early._started
    assert started is not None and started.run.process is not None and started.run.process.poll() is None
    reference = _items(capture, keys)
    assert _items(capture, keys, early) == reference and len(reference) > 20
    assert early.take() is None  # taken once: another read starts its own tshark
    assert _items(capture, keys, early) == reference


def test_a_key_log_that_needs_work_first_is_not_started_early(tmp_path: Path) -> None:
    capture, keys = CAPTURES / "nginx-push-basic.pcapng", CAPTURES / "nginx-push-basic.keys"
    gzipped = tmp_path / "k.keys.gz"
    gzipped.write_bytes(gzip.compress(keys.read_bytes()))
    big = tmp_path / "big.keys"  # larger than the capture and than 1 MiB: filtered to the capture's client randoms
    big.write_text(keys.read_text() + ("# padding\n" * (2 * 2**20 // 10 + capture.stat().st_size // 10)))
    for keylog in (gzipped, big, tmp_path / "missing.keys"):
        assert not EarlyStart(str(capture), str(keylog), keylog_origin="--keylog").start()
    assert not EarlyStart(str(tmp_path / "missing.pcapng"), None, keylog_origin="").start()
    early = EarlyStart(str(capture), str(gzipped), keylog_origin="--keylog")
    assert _items(capture, gzipped, early) == _items(capture, keys)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux only")
def test_early_tshark_runs_as_nice_as_under_the_loader_once_rows_flow() -> None:
    from pushscope.sources.capture_file import EARLY_NICENESS
    from pushscope.tui.sharing import LOADER_NICENESS

    assert EARLY_NICENESS == LOADER_NICENESS
    capture = CAPTURES / "nginx-push-basic.pcapng"
    early = EarlyStart(str(capture), None, keylog_origin="")
    assert early.start() and early._started is not None and early._started.run.process is not None
    ours, pid = os.getpriority(os.PRIO_PROCESS, 0), early._started.run.process.pid
    assert os.getpriority(os.PRIO_PROCESS, pid) == ours  # its start is what the first rows wait for
    items = read_capture(str(capture), None, keylog_origin="", early=early)
    next(item for item in items if not isinstance(item, SourceProgress))
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(ours + EARLY_NICENESS, 19)
    items.close()


def test_unread_early_tshark_is_stopped() -> None:
    early = EarlyStart(str(CAPTURES / "nginx-push-basic.pcapng"), None, keylog_origin="")
    assert early.start()
    process = early._started.run.process if early._started else None
    early.discard()
    assert process is not None and process.poll() is not None and early.take() is None


def test_capture_file_load_prepares_and_reads() -> None:
    capture, keys = CAPTURES / "nginx-push-basic.pcapng", CAPTURES / "nginx-push-basic.keys"
    load = capture_file(str(capture), str(keys), keylog_origin="--keylog")
    assert load.prepare is not None and load.prepare()
    items = [item for item in load.read(threading.Event()) if not isinstance(item, SourceProgress)]
    assert items == _items(capture, keys)
