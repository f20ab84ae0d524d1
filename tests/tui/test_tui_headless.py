"""Headless commands must not pay for (or depend on) the TUI: ``pushscope report`` never imports textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def test_report_never_imports_textual(tmp_path: Path) -> None:
    capture = CAPTURES / "nginx-push-basic.pcapng"
    # With the capture missing, the report still runs (and reports the problem): the import check still holds.
    cap = str(capture) if capture.exists() else str(tmp_path / "missing.pcapng")
    out = tmp_path / "report.json"
    code = (
        "import sys; from pushscope.cli import main; "
        f"main(['report', {cap!r}, '--format', 'json', '-o', {str(out)!r}]); "
        "bad = sorted(m for m in sys.modules if m.startswith('textual')); "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.exists()


def test_tui_package_imports_only_on_demand() -> None:
    code = "import sys, pushscope.cli, pushscope.pipeline; assert 'pushscope.tui.app' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
