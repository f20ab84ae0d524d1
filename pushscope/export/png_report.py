"""``--format png``: the HTML report photographed by headless Chromium.

Chromium rather than kaleido: kaleido 1.x drives a Chrome anyway and would download one, while Debian's
``chromium`` package works offline. The page is written to a private temporary directory and loaded from
``file://`` with networking features off, so taking the picture sends nothing anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from pushscope.export.html_report import render_html
from pushscope.model.entities import Capture

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH = 1400
MIN_HEIGHT = 900
MAX_HEIGHT = 8000
TIMEOUT = 120


class ChromiumNotFound(RuntimeError):
    """No headless browser to render the PNG with."""


def find_chromium() -> str:
    """``$PUSHSCOPE_CHROMIUM`` if set, else the first Chromium or Chrome on ``PATH``."""
    explicit = os.environ.get("PUSHSCOPE_CHROMIUM")
    if explicit:
        if shutil.which(explicit) or Path(explicit).is_file():
            return shutil.which(explicit) or explicit
        raise ChromiumNotFound(f"PUSHSCOPE_CHROMIUM={explicit} is not an executable")
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumNotFound(
        "--format png needs Chromium to draw the report and none was found on PATH "
        "(install it: sudo apt-get install chromium; or set PUSHSCOPE_CHROMIUM=/path/to/chrome). "
        "--format html writes the same report as an interactive page."
    )


def chromium_command(browser: str, profile: str, *extra: str) -> list[str]:
    """Flags for a quiet, offline, throw-away headless run; ``extra`` adds the action and the URL."""
    return [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", *extra,
    ]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"Chromium did not finish within {TIMEOUT} s") from exc


def measure_height(browser: str, html_path: Path, profile: str, width: int) -> int | None:
    """The page's rendered height, which the report's own script writes into ``data-page-height``."""
    result = _run(chromium_command(browser, profile, f"--window-size={width},{MIN_HEIGHT}", "--dump-dom",
                                   html_path.as_uri()))
    found = re.search(r'data-page-height="(\d+)"', result.stdout)
    return int(found.group(1)) if found else None


def html_to_png(page: str, *, width: int = WIDTH, height: int | None = None, browser: str | None = None) -> bytes:
    """Render an HTML string to PNG bytes with headless Chromium; ``height=None`` fits the whole page."""
    browser = browser or find_chromium()
    with tempfile.TemporaryDirectory(prefix="pushscope-png-") as tmp:
        html_path, png_path = Path(tmp) / "report.html", Path(tmp) / "report.png"
        html_path.write_text(page, encoding="utf-8")
        if height is None:
            height = measure_height(browser, html_path, str(Path(tmp) / "profile"), width) or MIN_HEIGHT
        height = max(MIN_HEIGHT, min(MAX_HEIGHT, height))
        command = chromium_command(browser, str(Path(tmp) / "profile"), f"--window-size={width},{height}",
                                   f"--screenshot={png_path}", html_path.as_uri())
        result = _run(command)
        if not png_path.is_file():
            tail = "\n".join(line for line in result.stderr.splitlines() if "dbus" not in line)[-800:]
            raise RuntimeError(f"Chromium wrote no screenshot (exit {result.returncode}): {tail}")
        return png_path.read_bytes()


def render_png(capture: Capture, *, redact: bool = True) -> bytes:
    """The whole report page as a PNG (Chromium photographs the window only, so the window is made to fit)."""
    return html_to_png(render_html(capture, redact=redact))
