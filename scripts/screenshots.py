#!/usr/bin/env python3
"""Regenerate the README screenshots: the real inspector on the bundled captures, saved as SVG, and report.png.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--size 120x36] [--theme textual-dark]

Each picture runs the real app (real tshark decoding, real verdict rules) headless at a fixed size, waits until
the capture is loaded and analysed, drives it like a user would, and saves ``app.save_screenshot``. Then
``report.png`` is the HTML report of a two-page-load capture rendered by the png export (``scripts/report_png.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from pushscope.pipeline import capture_file  # noqa: E402
from pushscope.tui.app import PushscopeApp  # noqa: E402

LOAD_TIMEOUT = 120.0
Steer = Callable[[PushscopeApp, Pilot], Awaitable[str | None]]


@dataclass(frozen=True)
class Shot:
    filename: str
    capture: str
    steer: Steer
    what: str


def select_outcome(outcome: str) -> Steer:
    async def steer(app: PushscopeApp, pilot: Pilot) -> str | None:
        row = next((r for r in app.waterfall.rows if r.outcome == outcome), None)
        if row is None:
            outcomes = sorted({r.outcome for r in app.waterfall.rows if r.pushed})
            row = next((r for r in app.waterfall.rows if r.pushed), None)
            if row is not None:
                app.waterfall.select_exchange(row.exchange_id)
            return f"no {outcome} push in this capture (outcomes: {outcomes}); selected the first push instead"
        app.waterfall.select_exchange(row.exchange_id)
        return None

    return steer


def press(*keys: str) -> Steer:
    async def steer(app: PushscopeApp, pilot: Pilot) -> str | None:
        await pilot.press(*keys)
        return None

    return steer


async def nothing(app: PushscopeApp, pilot: Pilot) -> str | None:
    return None


SHOTS = (
    Shot("main.svg", "nginx-push-basic", nothing, "the demo capture as it opens"),
    Shot("wasted.svg", "nginx-push-basic", select_outcome("wasted"), "a wasted push selected"),
    Shot("cache-duplicated.svg", "nginx-second-connection", select_outcome("cache-duplicated"),
         "a cache-duplicated push selected (page loaded again on a second connection)"),
    Shot("filtered.svg", "nginx-second-connection", press("p", "1"), "pushes only, used pushes hidden"),
    Shot("help.svg", "nginx-push-basic", press("question_mark"), "the help screen: keys and legend"),
    Shot("page-load.svg", "nginx-second-connection", press("l", "l", "down"),
         "the second page load on its own (l), its idle gap collapsed"),
)
REPORT_CAPTURE = "nginx-second-connection"  # two page loads: the HTML waterfall shows its per-load buttons


async def shoot(shot: Shot, out: Path, size: tuple[int, int], theme: str | None) -> list[str]:
    capture = ROOT / "captures" / f"{shot.capture}.pcapng"
    keys = capture.with_suffix(".keys")
    if not capture.exists():
        return [f"{shot.filename}: {capture} is missing (run captures/make_captures.py)"]
    app = PushscopeApp(capture_file(str(capture), str(keys) if keys.exists() else None))
    notes: list[str] = []
    async with app.run_test(size=size) as pilot:
        if theme:
            app.theme = theme
        await asyncio.wait_for(app.load_finished.wait(), LOAD_TIMEOUT)
        await pilot.pause()
        app.clear_notifications()
        note = await shot.steer(app, pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        if note:
            notes.append(f"{shot.filename}: {note}")
        outcomes = {p.outcome for p in app.capture.pushes} if app.capture else set()
        if outcomes == {"unknown"}:
            notes.append(f"{shot.filename}: every verdict is still 'unknown' (analysis rules not in place)")
        app.save_screenshot(shot.filename, str(out))
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="folder for the SVG files")
    parser.add_argument("--size", default="120x36", help="terminal size, COLUMNSxROWS")
    parser.add_argument("--theme", default=None, help="textual theme, e.g. textual-light")
    parser.add_argument("--only", nargs="*", help="file names to regenerate (default: all)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    for shot in SHOTS:
        if args.only and shot.filename not in args.only:
            continue
        notes += asyncio.run(shoot(shot, out, (width, height), args.theme))
        print(f"wrote {out / shot.filename}: {shot.what}")
    if not args.only or "report.png" in args.only:
        sys.path.insert(0, str(ROOT / "scripts"))
        from report_png import main as report_png

        capture = ROOT / "captures" / f"{REPORT_CAPTURE}.pcapng"
        report_png([str(capture), "-o", str(out / "report.png")])
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
