"""``pushscope cache``: where the cache of analysed captures lives, how big it is, and emptying it."""

from __future__ import annotations

import argparse
import sys

from pushscope.cache import CACHE_DIR_ENV, CACHE_LIMIT_ENV, CaptureCache
from pushscope.cli.errors import command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushscope cache",
        description=f"The cache of analysed captures (holds decrypted content; directory: ${CACHE_DIR_ENV} or "
                    f"$XDG_CACHE_HOME/pushscope; size bound: ${CACHE_LIMIT_ENV}, default 2048 MiB).")
    parser.add_argument("action", choices=("info", "clear"), nargs="?", default="info",
                        help="info: where and how big (default); clear: delete every entry")
    return parser


@command("cache")
def run_cache(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    cache = CaptureCache()
    if args.action == "clear":
        files, size = cache.clear()
        sys.stdout.write(f"removed {files} entries ({size / 1048576:.1f} MiB) from {cache.directory}\n")
        return 0
    entries = cache.entries()
    size = sum(entry.stat().st_size for entry in entries if entry.exists())
    sys.stdout.write(f"{cache.directory}: {len(entries)} entries, {size / 1048576:.1f} MiB "
                     f"of at most {cache.limit / 1048576:.0f} MiB\n")
    return 0
