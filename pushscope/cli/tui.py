"""``pushscope [CAPTURE]``: the inspector on a capture or a saved probe session (the only path importing textual)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pushscope.cli.args import add_capture, capture_argument
from pushscope.cli.errors import command
from pushscope.cli.inputs import check_readable
from pushscope.cli.keys import find_keylog
from pushscope.cli.loading import saved_session_items

DEMO_CAPTURE = "nginx-push-basic"


def captures_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "captures"


def demo_capture() -> str:
    """The bundled demo capture; its key log sits beside it, where every command looks."""
    return str(captures_dir() / f"{DEMO_CAPTURE}.pcapng")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pushscope open", description="Open a capture or a saved probe session in the "
                                "inspector (`pushscope CAPTURE` does the same).")
    add_capture(p, optional=True)
    return p


@command("open")
def run_tui(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    path = capture_argument(p, args, optional=True) or demo_capture()
    check_readable(path, "capture file")
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(path):
        items = saved_session_items(path)  # checked before the inspector opens: a bad line is an error here
        from pushscope.tui.app import PushscopeApp

        PushscopeApp(path, None, reader=lambda _cancel: iter(items), source="probe").run()
        return 0
    keys = find_keylog(path, args.keylog, disabled=args.no_keylog)
    if keys.path:
        check_readable(keys.path, f"key log (from {keys.origin})")
    from pushscope.tui.app import PushscopeApp
    from pushscope.tui.loading import capture_file_reader

    reader = capture_file_reader(path, keys.path, args.quic_port, use_cache=not args.no_cache)
    PushscopeApp(path, keys.path, reader=reader, source="capture").run()
    return 0
