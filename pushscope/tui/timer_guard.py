"""A guard against a Textual timer that freezes the whole inspector.

Textual's ``Timer._run`` (checked in 8.2.8, the latest release) loops without awaiting when the interval is
negative: its catch-up step ``count = int((now - start) / interval + 1)`` never gets ahead of ``now``, so the
event loop spins at 100% CPU and the screen freezes for good. A toast makes such a timer: ``ToastRack.show``
checks ``notification.has_expired``, then the new ``Toast`` reads ``time_left`` again (wall-clock time) for its
``set_timer``; when the notification expires between the two reads, the delay is negative. Pushing a screen
(``ctrl+p``) re-shows the toasts on the new screen, so a toast near its end followed by ``ctrl+p`` could freeze.

``install()`` makes every timer interval at least ``MIN_INTERVAL``: a timer that asks for "now or earlier" fires
at once, as it means to. Idempotent; installed by the app before it starts.
"""

from __future__ import annotations

import functools
from typing import Any

from textual.timer import Timer

MIN_INTERVAL = 0.001  # seconds: also avoids the division by zero a 0 interval causes in the same step
_MARK = "_pushscope_guarded"


def install() -> None:
    init = Timer.__init__
    if getattr(init, _MARK, False):
        return

    @functools.wraps(init)
    def guarded_init(self: Timer, event_target: Any, interval: float, *args: Any, **kwargs: Any) -> None:
        init(self, event_target, max(float(interval), MIN_INTERVAL), *args, **kwargs)

    setattr(guarded_init, _MARK, True)
    Timer.__init__ = guarded_init  # type: ignore[method-assign]


def installed() -> bool:
    return bool(getattr(Timer.__init__, _MARK, False))
