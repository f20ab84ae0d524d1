#!/usr/bin/env python3
"""The inspector on a big capture: time to its first waterfall rows, how fast it answers keys while loading, time
to fully loaded, and (``--cache``) a reopen from the cache against the first open.

    bench/first_rows.py CAPTURE [--keylog KEYS] [--cache] [--every S]

Runs the real app headless (Textual's ``run_test``: everything but the terminal writes), timed from this process's
start (imports included). Every figure is the moment the screen was repainted with the change, not the moment the
data existed: first rows, a key's effect, the final rows (fully loaded: every row and connection shown, keys and
filters on all of them). The search in header values is ready a little later (its index is built after the last
rows; until then the search looks in URLs): that moment is printed too.

Keys: while the capture loads, ``down`` and ``up`` alternate every ``--every`` seconds, each sent as the terminal
would (into the driver's queue); a key is answered when the waterfall's cursor has moved and the screen has been
repainted. The worst and the median are printed, over all keys and over those sent from ``SETTLE`` s after the
first rows (the first keys wait for the screen's first fill, as any key right after a start does). A reopen's
rows are shown before its details are opened: from then until the details are ready, ``down`` and ``up`` alternate
every ``DETAIL_KEY_EVERY`` s too (keys while the details are opened).

``--cache``: two opens in two fresh processes sharing a new temporary cache directory (or $PUSHSCOPE_CACHE_DIR):
the first reads the capture and keeps its model and its final view, the second reopens it from the cache; their
times to fully loaded and the ratio are printed. A reopen shows the kept view before it opens the kept model (its
connections and pushes read, its exchanges read as rows are shown), so it has one more moment: details ready (the
detail pane and copy work; export reads the whole model when asked), printed with its
ratio to the first open's fully loaded (when a first open has every detail too). For the reopen, where its time
goes: imports, the app's start, the cache lookup (hashing capture and key log), reading the view, the rows
painted, opening the details.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402  (the clock starts before the imports: they are part of the time to first rows)
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import pushscope  # noqa: E402
from pushscope.allocator import give_big_blocks_back  # noqa: E402
from pushscope.cache import CaptureCache  # noqa: E402
from pushscope.cli.keys import find_keylog  # noqa: E402
from pushscope.pipeline import capture_file  # noqa: E402

if TYPE_CHECKING:
    from pushscope.tui.app import PushscopeApp

TIMEOUT = 1800.0  # seconds: a gigabyte on a busy machine takes minutes
KEY_TIMEOUT = 60.0
SETTLE = 1.0  # seconds after the first rows during which the screen's first fill (every widget's) is under way
SLOW_KEY = 0.1  # issue 16: every key answered within 100 ms
FILTER_KEYS = 4  # filter keys pressed once loaded (pushes only, on and off)
DETAIL_KEY_EVERY = 0.1  # seconds between keys while a reopen opens its details


class FirstRows:
    """When the waterfall first got rows, and the first repaint after: hooked on the classes before the app starts,
    so that rows shown while it starts are seen too."""

    def __init__(self) -> None:
        from textual.screen import Screen

        from pushscope.tui.widgets.waterfall import Waterfall

        self.at: float | None = None  # when the waterfall first got rows
        self.painted: float | None = None
        self.loaded: float | None = None  # the first repaint once the app was fully loaded (even before it mounted)
        self.count = 0
        set_rows, refresh = Waterfall.set_rows, Screen._compositor_refresh

        def watched_set_rows(waterfall: Any, shown: Any, *args: Any, **kwargs: Any) -> None:
            set_rows(waterfall, shown, *args, **kwargs)
            rows = shown.rows if hasattr(shown, "rows") else shown  # (the app before row sets: a list)
            if rows and self.at is None:
                self.at, self.count = time.monotonic(), len(rows)

        def watched_refresh(screen: Any) -> None:
            refresh(screen)
            if self.at is not None and self.painted is None:
                self.painted = time.monotonic()
            loaded = getattr(screen.app, "load_finished", None)
            if self.loaded is None and loaded is not None and loaded.is_set():
                self.loaded = time.monotonic()

        Waterfall.set_rows = watched_set_rows  # type: ignore[method-assign]
        Screen._compositor_refresh = watched_refresh  # type: ignore[method-assign]


class Watch:
    """Hooks on the app's waterfall and screen: when a key's action ran, and the first repaint after it."""

    def __init__(self, app: PushscopeApp) -> None:
        self.app = app
        self.acted: float | None = None  # when the last key's action ran
        self.painted = asyncio.Event()  # set by the first repaint after ``acted``
        self.loaded_painted = asyncio.Event()
        self.ui_cpu: list[float] = []  # per key: CPU seconds the UI thread spent until it was answered
        waterfall, screen = app.waterfall, app.screen
        action_cursor, refresh = waterfall.action_cursor, screen._compositor_refresh

        def watched_cursor(delta: int) -> None:
            action_cursor(delta)
            self.acted = time.monotonic()

        def watched_refresh() -> None:
            refresh()
            if self.acted is not None:
                self.painted.set()
            if app.load_finished.is_set():
                self.loaded_painted.set()

        waterfall.action_cursor = watched_cursor  # type: ignore[method-assign]
        screen._compositor_refresh = watched_refresh  # type: ignore[method-assign]

    async def press(self, key: str) -> float:
        """Send ``key`` as the terminal would; the seconds until its action ran and the screen was repainted."""
        self.acted = None
        self.painted.clear()
        driver = self.app._driver
        assert driver is not None
        from textual import events

        sent, cpu = time.monotonic(), time.thread_time()
        event = events.Key(key, None)
        event.set_sender(self.app)
        driver.send_message(event)
        await asyncio.wait_for(self.painted.wait(), KEY_TIMEOUT)
        self.ui_cpu.append(time.thread_time() - cpu)  # the UI thread's own CPU meanwhile (this runs on it)
        return time.monotonic() - sent


def time_phases() -> dict[str, float]:
    """Wrap the cache's steps to note when each ended (seconds since the start; filled in as they happen)."""
    import pushscope.tui.loading

    phases: dict[str, float] = {}

    def timed(owner: Any, name: str, phase: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            phases.setdefault(phase + " started", time.monotonic() - STARTED)
            try:
                return inner(*args, **kwargs)
            finally:
                phases.setdefault(phase, time.monotonic() - STARTED)

        setattr(owner, name, wrapper)

    timed(pushscope.pipeline, "cache_lookup", "cache key")
    timed(pushscope.tui.loading, "load_view", "view read")
    timed(CaptureCache, "load", "model read")  # (a reopen whose details cannot be opened on demand)
    timed(pushscope.tui.loading, "open_kept_model", "details opened")
    return phases


def count_layouts() -> list[float]:
    """Count and time the layouts of the whole screen from now on (Textual's ``Screen._refresh_layout`` but for a
    scroll, which lays out only what it brings into view): ``[count, seconds]``, filled in as they happen. Textual
    lays out every widget when any one asks, so these are what a snapshot or a key may cost the UI thread most."""
    from textual.screen import Screen

    totals = [0.0, 0.0]
    refresh_layout = Screen._refresh_layout

    def counted(screen: Any, size: Any = None, scroll: bool = False) -> None:
        started = time.monotonic()
        try:
            refresh_layout(screen, size, scroll)
        finally:
            if not scroll:
                totals[0] += 1
                totals[1] += time.monotonic() - started

    Screen._refresh_layout = counted  # type: ignore[method-assign]
    return totals


def peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM, not getrusage's ru_maxrss, which Linux carries over an exec from the process
    that forked this one (the bench, holding a gigabyte's parsed JSON report, showed as 6 GiB here)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (Linux: KiB; elsewhere no /proc)


async def open_once(capture: str, keylog: str | None, cache: bool, every: float, limit: float) -> dict[str, Any]:
    # As ``pushscope CAPTURE`` does, in its order: the key log chosen, the load made (and the cache's hashing
    # started) and prepared (tshark started) before Textual is imported.
    keys = find_keylog(capture, keylog)
    load = capture_file(capture, keys.path, keylog_origin=keys.origin, use_cache=cache)
    if load.prepare is not None:
        load.prepare()
    phases = time_phases()
    from pushscope.tui.app import PushscopeApp

    phases["imported"] = time.monotonic() - STARTED
    first = FirstRows()
    layouts = count_layouts()
    app = PushscopeApp(load)
    result: dict[str, Any] = {"phases": phases}
    async with app.run_test(size=(160, 48)):
        phases["app mounted"] = time.monotonic() - STARTED
        watch = Watch(app)
        details = asyncio.create_task(details_moment(app))
        answers: list[float] = []
        moments: list[float] = []  # when each key was sent (seconds since the start)
        while app.loading and time.monotonic() - STARTED < TIMEOUT:
            if time.monotonic() - STARTED > limit and not app.cancelled:
                app.action_cancel_load()  # as esc does: the rows read so far stay
                break
            if len(app.waterfall.rows) >= 2:
                pressed = time.monotonic() - STARTED
                answers.append(await watch.press("down" if len(answers) % 2 == 0 else "up"))
                moments.append(pressed)
            await asyncio.sleep(every if answers else 0.01)
        await asyncio.wait_for(app.load_finished.wait(), TIMEOUT)
        app.waterfall.refresh()  # a repaint that shows the final rows, if the last snapshot made none
        await asyncio.wait_for(watch.loaded_painted.wait(), TIMEOUT)
        result["loaded"] = (first.loaded or time.monotonic()) - STARTED  # (a reopen paints it before run_test returns)
        search_ready = getattr(app, "search_ready", None)  # (the app before the deferred search index: none)
        if search_ready is not None:
            await asyncio.wait_for(search_ready.wait(), TIMEOUT)
        result["searchable"] = time.monotonic() - STARTED
        # A reopen's rows are up before its details are opened: keys meanwhile.
        detail_keys: list[float] = []
        while not details.done() and time.monotonic() - STARTED < TIMEOUT:
            detail_keys.append(await watch.press("down" if len(detail_keys) % 2 == 0 else "up"))
            await asyncio.sleep(min(every, DETAIL_KEY_EVERY))
        result["detail_keys"] = detail_keys
        await asyncio.wait_for(details, TIMEOUT)
        result["details"] = details.result()
        result["peak_rss_mib"] = peak_rss_mib()
        result["rows"] = len(app.view.rows)
        result["cancelled"] = app.cancelled
        result["first_rows"] = None if first.painted is None else first.painted - STARTED
        result["first_rows_count"] = first.count
        result["answers"] = answers
        result["moments"] = moments
        result["ui_cpu"] = watch.ui_cpu
        result["layouts"] = list(layouts)  # (until the details are ready: the keys meanwhile included)
        if not result["cancelled"]:
            result["filter_keys"] = [await filter_key(app, watch) for _ in range(FILTER_KEYS)]
        app.exit()
    return result


async def filter_key(app: PushscopeApp, watch: Watch) -> tuple[float, float]:
    """``p`` (pushes only, on or off) once loaded: seconds until the screen answered it (the first repaint after
    its action ran) and until the rows were shown (a big view's are made off the UI thread)."""
    from textual import events

    action, acted = app.action_pushes_only, asyncio.Event()

    def watched_action() -> None:
        action()
        watch.painted.clear()  # (a repaint before the action ran is not its answer)
        watch.acted = time.monotonic()
        acted.set()

    app.action_pushes_only = watched_action  # type: ignore[method-assign]
    driver = app._driver
    assert driver is not None
    watch.acted = None
    try:
        sent = time.monotonic()
        event = events.Key("p", "p")
        event.set_sender(app)
        driver.send_message(event)
        await asyncio.wait_for(acted.wait(), KEY_TIMEOUT)
        await asyncio.wait_for(watch.painted.wait(), KEY_TIMEOUT)
        answered = time.monotonic() - sent
        while getattr(app, "filtering", False):
            await asyncio.sleep(0.002)
        return answered, time.monotonic() - sent
    finally:
        app.action_pushes_only = action  # type: ignore[method-assign]


async def details_moment(app: PushscopeApp) -> float:
    """When the UI had every row's details (the detail pane, copy, export): a first open with its final rows, a
    reopen after the kept view, once its details are opened. (Polled every 5 ms.)"""
    while app.loading or app.details is None:
        await asyncio.sleep(0.005)
    return time.monotonic() - STARTED


def describe(result: dict[str, Any], label: str = "") -> str:
    lines = []
    if result["first_rows"] is not None:
        lines.append(f"first rows after {result['first_rows']:.2f} s ({result['first_rows_count']} rows)")
    answers = result["answers"]
    if answers:
        worst = max(answers)
        at = result["moments"][answers.index(worst)]
        cpu = result["ui_cpu"][answers.index(worst)]
        lines.append(f"keys while loading: {len(answers)} answered, worst {worst * 1000:.0f} ms (sent at {at:.1f} s, "
                     f"{cpu * 1000:.0f} ms of it the UI thread's CPU), median {statistics.median(answers) * 1000:.0f} "
                     "ms (action run and screen repainted)")
        settled = [a for a, m in zip(answers, result["moments"], strict=True)
                   if m > (result["first_rows"] or 0.0) + SETTLE]
        if settled:
            slow = sum(answer > SLOW_KEY for answer in settled)
            lines.append(f"keys from {SETTLE:.0f} s after the first rows on: {len(settled)}, worst "
                         f"{max(settled) * 1000:.0f} ms, median {statistics.median(settled) * 1000:.0f} ms, "
                         f"over {SLOW_KEY * 1000:.0f} ms: {slow}")
    else:
        lines.append("keys while loading: none pressed (loaded before two rows were shown)")
    if result["cancelled"]:
        lines.append(f"NOT fully loaded: cancelled at the time limit, done after {result['loaded']:.2f} s "
                     f"({result['rows']} rows)")
    else:
        lines.append(f"fully loaded after {result['loaded']:.2f} s ({result['rows']} rows); header values "
                     f"searchable after {result['searchable']:.2f} s")
    detail_keys = result.get("detail_keys")
    if detail_keys:
        slow = sum(answer > SLOW_KEY for answer in detail_keys)
        lines.append(f"keys while the details are opened (after the rows): {len(detail_keys)}, worst "
                     f"{max(detail_keys) * 1000:.0f} ms, median {statistics.median(detail_keys) * 1000:.0f} ms, "
                     f"over {SLOW_KEY * 1000:.0f} ms: {slow}")
    if result.get("filter_keys"):
        keys = result["filter_keys"]
        lines.append("filter key p once loaded: answered in " + ", ".join(f"{a * 1000:.0f}" for a, _ in keys)
                     + " ms; rows shown after " + ", ".join(f"{r * 1000:.0f}" for _, r in keys) + " ms")
    if result.get("layouts"):
        count, seconds = result["layouts"]
        lines.append(f"layouts of the whole screen until the details were ready (keys included): {count:.0f}, "
                     f"{seconds:.2f} s of the UI thread")
    if "peak_rss_mib" in result:
        lines.append(f"peak RSS of the inspector's process {result['peak_rss_mib']:.0f} MiB")
    return "\n".join(f"{label}{line}" for line in lines)


def reopen(args: argparse.Namespace) -> None:
    """A first open, then ``--reopens`` reopens, in fresh processes (each timed from its own start) sharing one cache
    directory; the ratios are of the median reopen. The load average is printed with each: the machine may be
    shared."""
    # Timed as installed, with the bytecode written (see bench/run_bench.py); each open runs in a process of its own.
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(pushscope.__file__)], check=False)
    with tempfile.TemporaryDirectory(prefix="pushscope-bench-cache-") as scratch:
        env = dict(os.environ)
        env.setdefault("PUSHSCOPE_CACHE_DIR", scratch)
        command = [sys.executable, __file__, args.capture, "--use-cache", "--json", "--every", str(args.every),
                   "--limit", str(args.limit)]
        if args.keylog:
            command += ["--keylog", args.keylog]
        results = []
        for index in range(1 + args.reopens):
            label = "first open: " if index == 0 else f"reopen {index}:   "
            load = os.getloadavg()[0]
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(describe(results[-1], label) + f"\n{label}(load average {load:.2f} before it)", flush=True)
            if index:
                print(f"{label}where its time went (seconds from its start): {phases_line(results[-1])}")
    first, reopens = results[0], results[1:]

    def median(name: str) -> float:
        return statistics.median(r[name] for r in reopens)

    same = all(r["rows"] == first["rows"] for r in reopens)
    print(f"reopen fully loaded after {median('loaded'):.2f} s = {median('loaded') / first['loaded']:.3f}x the first "
          f"open's {first['loaded']:.2f} s" + (" (same rows)" if same else " (DIFFERENT row counts)"))
    print(f"reopen searchable after {median('searchable'):.2f} s = {median('searchable') / first['searchable']:.3f}x "
          f"the first open's {first['searchable']:.2f} s")
    print(f"reopen details ready (detail pane, copy, export) after {median('details'):.2f} s = "
          f"{median('details') / first['loaded']:.3f}x the first open's fully loaded {first['loaded']:.2f} s")
    if len(reopens) > 1:
        print(f"(medians of {len(reopens)} reopens)")


def phases_line(result: dict[str, Any]) -> str:
    moments = dict(result["phases"])
    if result["first_rows"] is not None:
        moments["rows painted"] = result["first_rows"]
    moments["fully loaded"] = result["loaded"]
    moments["details ready"] = result["details"]
    return ", ".join(f"{name} {at:.2f}" for name, at in sorted(moments.items(), key=lambda item: item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--keylog")
    parser.add_argument("--cache", action="store_true", help="a first open, then a reopen from the cache")
    parser.add_argument("--reopens", type=int, default=1, help="with --cache: how many reopens (medians printed)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between key presses while loading")
    parser.add_argument("--limit", type=float, default=TIMEOUT, help="cancel the load after this many seconds")
    parser.add_argument("--use-cache", action="store_true", help=argparse.SUPPRESS)  # one open, cache on
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cache:
        reopen(args)
        return
    give_big_blocks_back()  # as ``pushscope`` does before any command
    result = asyncio.run(open_once(args.capture, args.keylog, args.use_cache, args.every, args.limit))
    print(json.dumps(result) if args.json else describe(result), flush=True)


if __name__ == "__main__":
    main()
