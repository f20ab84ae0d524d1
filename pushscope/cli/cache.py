"""``pushscope cache``: where the cache of analysed captures lives, how big it is, and emptying it."""

from __future__ import annotations

import argparse
import sys

from pushscope.cache import CACHE_DIR_ENV, CACHE_LIMIT_ENV, SUFFIX, CaptureCache
from pushscope.cli.errors import command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope cache",
        description=f"The cache of analysed captures and of the reports made from them (holds decrypted content; "
                    f"directory: ${CACHE_DIR_ENV} or $XDG_CACHE_HOME/pushscope; size bound: ${CACHE_LIMIT_ENV}, "
                    "default 2048 MiB).")
    parser.add_argument("action", choices=("info", "clear"), nargs="?", default="info",
                        help="info: where and how big (default); clear: delete every entry")
    return parser


@command("cache")
def run_cache(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    cache = CaptureCache()
    if args.action == "clear":
        captures, files, size = cache.clear()
        sys.stdout.write(f"removed {captures} entries ({files} files with the outputs kept beside them, "
                         f"{size / 1048576:.1f} MiB) from {cache.directory}\n")
        return 0
    entries = cache.entries()
    size = sum(entry.stat().st_size for entry in entries if entry.exists())
    captures = sum(1 for entry in entries if entry.name.endswith(SUFFIX))
    sys.stdout.write(f"{cache.directory}: {captures} entries ({len(entries)} files), {size / 1048576:.1f} MiB "
                     f"of at most {cache.limit / 1048576:.0f} MiB\n")
    return 0
