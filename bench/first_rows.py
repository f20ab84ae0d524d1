#!/usr/bin/env python3
"""The inspector's time to its first waterfall rows on a capture, and how fast it answers a key while loading.

    bench/first_rows.py CAPTURE [--keylog KEYS] [--cache]

Runs the real app headless (Textual's ``run_test``), from this process's start (imports included), with the
cache off unless ``--cache``. Prints one line: first rows after S s (N rows), keys answered in M ms while loading
(the worst of a few presses of ``down``), then quits (the load is cancelled). A capture that loads before the
first check just reports its load.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402  (the clock starts before the imports: they are part of the time to first rows)
import asyncio  # noqa: E402

from pushscope.pipeline import capture_file  # noqa: E402
from pushscope.tui.app import PushscopeApp  # noqa: E402

POLL = 0.01
TIMEOUT = 600.0


async def measure(capture: str, keylog: str | None, cache: bool) -> str:
    app = PushscopeApp(capture_file(capture, keylog, use_cache=cache))
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.view.rows and time.monotonic() - STARTED < TIMEOUT:
            await asyncio.sleep(POLL)
        first = time.monotonic() - STARTED
        rows = len(app.view.rows)
        loading = app.loading
        worst = 0.0
        for _ in range(5):
            if not app.loading:
                break
            pressed = time.monotonic()
            await pilot.press("down")
            worst = max(worst, time.monotonic() - pressed)
            await asyncio.sleep(0.2)
        state = (f"keys answered in {worst * 1000:.0f} ms at worst while loading" if loading
                 else "loaded before the first check")
        app.exit()
    return f"first rows after {first:.2f} s ({rows} rows); {state}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--keylog")
    parser.add_argument("--cache", action="store_true", help="let the inspector use the cache")
    args = parser.parse_args()
    print(asyncio.run(measure(args.capture, args.keylog, args.cache)), flush=True)


if __name__ == "__main__":
    main()
