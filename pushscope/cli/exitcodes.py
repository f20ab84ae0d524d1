"""The exit status of every command, in one table (the README's table is written from it)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    # check: a push budget is exceeded (the offending pushes are named).
    BUDGET_EXCEEDED = 1
    # A wrong command line, or an input that cannot be read: missing or unreadable capture or key log, a file
    # that is not a capture, a corrupt JSON report or saved session, a FIFO/device/directory given as input.
    INPUT_ERROR = 2
    # Connections that carry application data were not decoded (no key, wrong key): check and diff unless
    # --allow-undecrypted; report, check and diff always when nothing at all was decoded.
    UNDECRYPTED = 3
    # The report could not be written: -o is a directory, its folder is missing, the disk is full, permission
    # denied, or it names the input capture or key log; or a PNG without Chromium. Nothing partial is left behind.
    OUTPUT_ERROR = 4
    # probe: a limit was hit (body size, requests, redirects or a loop, @import depth, pushes, total bytes, the
    # deadline); the report holds everything seen until then.
    PROBE_LIMIT = 5
    # Ctrl-C.
    INTERRUPTED = 130


EXIT_TABLE: tuple[tuple[Exit, str], ...] = (
    (Exit.OK, "success: the report was written, the check passed, the diff was made"),
    (Exit.BUDGET_EXCEEDED, "`check`: a push budget was exceeded (the offending pushes are listed), or "
                           "`--max-anomalies`/`--fail-on-anomalies`"),
    (Exit.INPUT_ERROR, "bad command line, or an input that cannot be read (missing, not a capture, not a key log, "
                       "corrupt JSON report or saved session, a FIFO, device or directory)"),
    (Exit.UNDECRYPTED, "connections carrying application data were not decoded (`check`, `diff` unless "
                       "`--allow-undecrypted`); or nothing at all was decoded (`report`, `check`, `diff`)"),
    (Exit.OUTPUT_ERROR, "the output could not be written (directory, missing folder, full disk, permission, "
                        "it would overwrite an input, or PNG without Chromium)"),
    (Exit.PROBE_LIMIT, "`probe`: a limit was hit (`--max-body-bytes`, `--max-requests`, `--max-redirects` or a "
                       "redirect loop, `--max-import-depth`, `--max-pushes`, `--max-total-bytes`, `--deadline`); "
                       "everything seen until then is reported"),
    (Exit.INTERRUPTED, "interrupted (Ctrl-C)"),
)
