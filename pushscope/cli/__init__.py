"""Command line: ``pushscope [CAPTURE]`` opens the inspector; ``pushscope report`` and friends run headless.

One module per command (``report``, ``check``, ``diff``, ``probe``, ``experiment``, ``live``, ``tui``), each
imported only when its command runs: headless commands never import textual (a test checks it), probe imports
aioquic only there.
Shared pieces: ``args`` (capture, key log and -o options), ``keys`` (which key log), ``loading`` (inputs read and
checked, through ``pushscope.pipeline``), ``output`` (the format -o asks for; ``pushscope.output`` writes it),
``errors`` and ``exitcodes``. The inspector is handed its ``Load`` by ``tui``; it never imports this package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from pushscope import __version__
from pushscope.allocator import give_big_blocks_back

# name -> (module, function, one line for `pushscope --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "open": ("pushscope.cli.tui", "run_tui", "open CAPTURE (or a saved probe session) in the inspector; the default"),
    "report": ("pushscope.cli.report", "run_report", "print a push report headless: text, json, html, har, qlog, png"),
    "check": ("pushscope.cli.check", "run_check", "CI gate: fail on a push budget or on traffic not decoded"),
    "diff": ("pushscope.cli.diff", "run_diff", "compare push between two captures or JSON reports"),
    "probe": ("pushscope.cli.probe", "run_probe", "load a page as a push-accepting client and report every push"),
    "experiment": ("pushscope.cli.experiment", "run_experiment_command",
                   "push against no push against preload, under shaped networks, with statistics"),
    "live": ("pushscope.cli.live", "run_live", "capture on an interface and show push traffic as it arrives"),
    "cache": ("pushscope.cli.cache", "run_cache", "where the cache of analysed captures is, its size; cache clear"),
    "help": ("pushscope.cli", "run_help", "this help, or a command's: pushscope help COMMAND"),
}
ALIASES = {"tui": "open"}
USAGE = f"""\
usage: pushscope [CAPTURE] [--keylog FILE]     open a capture in the inspector (no CAPTURE: the bundled demo)
       pushscope COMMAND [ARGS]                run a command; pushscope COMMAND --help explains it

pushscope {__version__}: what HTTP/2 and HTTP/3 server push did (used, wasted or cache-duplicated), why, and at
what cost.

commands:
{{commands}}

options:
  -h, --help     show this help
  --version      show the version

Captures are read with their key log: --keylog FILE (or -o tls.keylog_file:FILE), else NAME.keys beside the
capture, else $SSLKEYLOGFILE; secrets embedded in a pcapng are used too.
exit status: 0 ok, 1 check budget exceeded, 2 unreadable input or bad usage, 3 traffic not decoded,
4 output not written, 130 interrupted (the README has the table).
"""


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}} {summary}" for name, (_, _, summary) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def resolve(name: str) -> Callable[[Sequence[str]], int]:
    module, function, _ = COMMANDS[ALIASES.get(name, name)]
    return getattr(importlib.import_module(module), function)


def run_help(argv: Sequence[str]) -> int:
    """``pushscope help [COMMAND]``."""
    topic = list(argv)[:1]
    if topic and topic[0] not in ("help", "-h", "--help"):
        if ALIASES.get(topic[0], topic[0]) not in COMMANDS:
            print(f"pushscope help: no command {topic[0]!r}\n\n{usage()}", file=sys.stderr, end="")
            return 2
        try:
            return resolve(topic[0])(["--help"])
        except SystemExit as exc:  # argparse exits after printing the help
            return int(exc.code or 0)
    sys.stdout.write(usage())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        return run_help([])
    if args and args[0] in ("-V", "--version"):
        print(f"pushscope {__version__}")
        return 0
    give_big_blocks_back()  # (before a load's first big buffer: see ``allocator``)
    if args and (args[0] in COMMANDS or args[0] in ALIASES):
        return resolve(args[0])(args[1:])
    if args and _looks_like_a_command(args[0]):
        print(f"pushscope: {args[0]!r} is neither a command nor a file\n\n{usage()}", file=sys.stderr, end="")
        return 2
    return resolve("open")(args)


def _looks_like_a_command(word: str) -> bool:
    """A bare word that names no file (``pushscope reprot``): a mistyped command, not a capture."""
    import os

    return word.isalpha() and not os.path.exists(word)
