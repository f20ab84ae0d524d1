"""The files a command reads: checked before use, so a bad one is a clear error, never a hang or a traceback.

A FIFO, a device, a socket or a directory is named for what it is (reading a FIFO would block until a writer
comes). A JSON report is validated against ``report.schema.json`` before ``check`` or ``diff`` trusts it.
"""

from __future__ import annotations

import json
import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

from pushscope.cli.errors import CliError

KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_readable(path: str, what: str) -> None:
    """Raise CliError unless ``path`` is a regular file this process can open (``what``: "capture file" ...)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CliError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise CliError(f"{what} {path}: {exc.strerror or exc}") from None
    for test, kind in KINDS:
        if test(mode):
            raise CliError(f"{what} {path} is {kind}, not a file: give a regular file")
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        raise CliError(f"{what} {path}: {exc.strerror or exc}") from None


def looks_like_json(path: str) -> bool:
    """A JSON report starts with ``{`` (after white space); captures start with binary magic."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


@cache
def _report_validator() -> Any:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parent.parent / "export" / "report.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def read_json_report(path: str) -> dict[str, Any]:
    """A JSON report written by ``pushscope report --format json``, validated against its schema."""
    check_readable(path, "report")
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CliError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(report, dict) or "pushes" not in report or "summary" not in report:
        raise CliError(f"{path}: JSON, but not a pushscope report (no pushes and summary)")
    error = next(iter(_report_validator().iter_errors(report)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise CliError(f"{path}: not a valid pushscope report: at {where}: {error.message[:200]}")
    return report
