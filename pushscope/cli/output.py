"""Where a command's output goes: the format ``-o FILE`` asks for; the writer itself is ``pushscope.output``
(the one writer for ``-o`` and standard output, shared with the inspector's export), re-exported here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from pushscope.cli.errors import CliError
from pushscope.output import OutputError, check_output_path, write_output

__all__ = ["EXTENSION_FORMATS", "OutputError", "check_output_path", "format_for", "resolve_format", "write_output"]

# The output format a file name asks for, when --format is not given.
EXTENSION_FORMATS = {".txt": "text", ".text": "text", ".json": "json", ".html": "html", ".htm": "html",
                     ".har": "har", ".qlog": "qlog", ".png": "png"}


def format_for(output: str | None, chosen: str | None, allowed: Iterable[str], default: str) -> str:
    """``--format`` if given; else the one ``-o``'s extension names; else ``default``."""
    allowed = tuple(allowed)
    if chosen:
        return chosen
    if not output:
        return default
    suffix = Path(output).suffix.lower()
    if suffix == ".gz":
        suffix = Path(output[:-3]).suffix.lower()
    fmt = EXTENSION_FORMATS.get(suffix)
    if fmt is None:
        return default
    if fmt not in allowed:
        raise CliError(f"-o {output}: this command writes {', '.join(allowed)}, not {fmt}; name the format with "
                       "--format")
    return fmt


def resolve_format(args: argparse.Namespace) -> str:
    """For a command that can also fill the inspector (probe, live): --format; else the -o extension (text or
    json); else the inspector on a terminal, text otherwise."""
    if args.format is None:
        default = "tui" if sys.stdout.isatty() and not args.output else "text"
        args.format = format_for(args.output, None, ("text", "json"), default)
    return str(args.format)
