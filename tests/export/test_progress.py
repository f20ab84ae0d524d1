"""The headless progress line: bytes of the total, rate and time left on a terminal; nothing otherwise."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from pushscope.events import SourceProgress
from pushscope.progress import StderrProgress, stderr_progress

MIB = 1024 * 1024
CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def test_line_shows_bytes_rate_and_time_left() -> None:
    out = io.StringIO()
    ticks = iter([1.0, 3.0, 3.1])
    progress = StderrProgress("big\x1b[31m.pcapng", out, clock=lambda: next(ticks))
    progress(SourceProgress(done=0, total=100 * MIB, unit="bytes", detail=""))
    progress(SourceProgress(done=20 * MIB, total=100 * MIB, unit="bytes", detail=""))
    progress(SourceProgress(done=21 * MIB, total=100 * MIB, unit="bytes", detail=""))  # 0.1 s later: not redrawn
    progress.step("analysing the pushes")
    progress.done()
    lines = out.getvalue().split("\r")
    assert "\x1b" not in out.getvalue()  # the file name's escape is shown, not sent
    assert any("20.0 of 100.0 MiB (20%), 10.0 MiB/s, 8s left" in line for line in lines)
    assert not any("21.0 of" in line for line in lines)
    assert any("analysing the pushes" in line for line in lines)
    assert out.getvalue().endswith("\r")  # the line is cleared at the end


def test_quiet_or_not_a_terminal_prints_nothing() -> None:
    assert stderr_progress("x", quiet=True) is None
    capture, keys = CAPTURES / "nginx-push-basic.pcapng", CAPTURES / "nginx-push-basic.keys"
    done = subprocess.run([sys.executable, "-m", "pushscope", "report", str(capture), "--keylog", str(keys),
                           "--no-cache"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
