"""Run by ``test_tui_inspector``: an export toast, then ctrl+p, in a child process that must exit on its own.

A frozen event loop cannot time itself out, so the test runs this script with a subprocess timeout. The toast
that expires between ``ToastRack.show``'s check and the ``Toast``'s own reading of ``time_left`` is made
deterministic with a notification that reports "not expired" to the check and a negative time left after it.
Pass ``--no-guard`` to see the freeze the guard prevents.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from textual.notifications import Notification, Notify  # noqa: E402
from tui_helpers import fake_app, wait_loaded  # noqa: E402

from pushscope.tui import timer_guard  # noqa: E402


class ExpiringNotification(Notification):
    """A toast that expires just as a new screen shows it (the race, made certain)."""

    @property
    def has_expired(self) -> bool:  # type: ignore[override]
        return False

    @property
    def time_left(self) -> float:  # type: ignore[override]
        return -0.25


async def main() -> int:
    app = fake_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:  # toasts are off by default
        await wait_loaded(pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")  # export to the default path (the working directory)
        for _ in range(100):
            if any(n.title == "Exported" for n in app._notifications):
                break
            await pilot.pause(0.05)
        else:
            print("no export toast")
            return 2
        app.post_message(Notify(ExpiringNotification("about to expire", timeout=0.1)))
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("down")
        await pilot.pause(0.1)
        selected = app.waterfall.selected
        await pilot.press("ctrl+c")
        await pilot.pause()
        print("responsive", selected.path if selected else None, "running" if app.is_running else "quit")
    return 0


if __name__ == "__main__":
    if "--no-guard" in sys.argv:
        timer_guard.install = lambda: None  # type: ignore[assignment]
    sys.exit(asyncio.run(main()))
