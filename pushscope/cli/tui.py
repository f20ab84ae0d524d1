"""``pushscope [CAPTURE]``: the inspector on a capture or a saved probe session (the only path importing textual).

The inspector is handed its ``Load`` (what to read, from ``pushscope.pipeline``): it never chooses a source itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pushscope.cli.args import add_capture, capture_argument
from pushscope.cli.errors import command
from pushscope.cli.inputs import check_readable
from pushscope.cli.keys import find_keylog
from pushscope.cli.loading import saved_session_items

if TYPE_CHECKING:
    from pushscope.pipeline import Load, Source

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


def run_inspector(load: Load) -> int:
    """Run the inspector on ``load`` until the user quits."""
    if load.prepare is not None:  # first: tshark reads its key log while textual is imported and started
        load.prepare()
    from pushscope.tui.app import PushscopeApp

    PushscopeApp(load).run()
    return 0


def open_inspector(name: str, read: Source, kind: str) -> int:
    """The inspector on a source that runs for as long as it likes (the probe, a live capture), filling in live."""
    from pushscope.pipeline import Load

    return run_inspector(Load(read, name, kind, live=True))


def saved_session_load(path: str) -> Load:
    """A saved probe session for the inspector: its recorded items (all read and checked first: a bad line is an
    error here, before the inspector opens), folded once like the probe's live stream."""
    items = saved_session_items(path)
    from pushscope.pipeline import Load

    return Load(lambda _cancel: iter(items), Path(path).name, "probe", inputs=(path,))


@command("open")
def run_tui(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    path = capture_argument(p, args, optional=True) or demo_capture()
    check_readable(path, "capture file")
    from pushscope.pipeline import capture_file
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(path):
        return run_inspector(saved_session_load(path))
    keys = find_keylog(path, args.keylog, disabled=args.no_keylog)
    if keys.path:
        check_readable(keys.path, f"key log (from {keys.origin})")
    # The key log is chosen here, once (keylog_origin): with --no-keylog not even $SSLKEYLOGFILE is read.
    return run_inspector(capture_file(path, keys.path, keylog_origin=keys.origin, quic_ports=args.quic_port,
                                use_cache=not args.no_cache))
