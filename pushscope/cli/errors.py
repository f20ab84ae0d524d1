"""How a command fails: raise ``CliError``; ``command`` turns it into one line on stderr and an exit status.

Every message a command prints to stderr goes through ``say``, the one place where capture-derived text meets the
terminal on the error path.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

from pushscope.cli.exitcodes import Exit
from pushscope.output import OutputError


class CliError(Exception):
    """A failure the user can act on: ``message`` is printed as one line, ``status`` is the exit status."""

    def __init__(self, message: str, status: Exit = Exit.INPUT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def terminal_text(text: str) -> str:
    """Text on its way to a terminal: control characters from a capture shown escaped, never passed through."""
    from pushscope.safe_text import visible_lines

    return visible_lines(text)


def say(command: str, message: str) -> None:
    """``pushscope COMMAND: message`` on stderr."""
    print(terminal_text(f"pushscope {command}: {message}".rstrip()), file=sys.stderr)


def command(name: str) -> Callable[[Callable[[list[str]], int]], Callable[[Sequence[str]], int]]:
    """Wrap a command's ``run(argv)``: a CliError (or OutputError) becomes a message and its status; Ctrl-C
    exits 130."""

    def wrap(run: Callable[[list[str]], int]) -> Callable[[Sequence[str]], int]:
        @functools.wraps(run)
        def wrapped(argv: Sequence[str]) -> int:
            try:
                return int(run(list(argv)))
            except CliError as exc:
                say(name, str(exc))
                return int(exc.status)
            except OutputError as exc:  # -o could not be written (pushscope.output)
                say(name, str(exc))
                return int(Exit.OUTPUT_ERROR)
            except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else Exit.INPUT_ERROR)
            except KeyboardInterrupt:
                say(name, "interrupted")
                return int(Exit.INTERRUPTED)

        return wrapped

    return wrap
