"""Arguments several commands share: a capture (``CAPTURE`` or tshark's ``-r``), its key log (``--keylog``,
tshark's ``-o tls.keylog_file:FILE``, ``--no-keylog``), and ``-o`` for the output file."""

from __future__ import annotations

import argparse
import re
from typing import Any

# tshark's "-o name:value" preference: a dotted name (no slash), a colon, a value.
TSHARK_PREFERENCE = re.compile(r"^([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+):(.*)$")
KEYLOG_PREFERENCES = ("tls.keylog_file", "ssl.keylog_file")


class OutputOrPreference(argparse.Action):
    """``-o FILE`` writes the output to FILE; ``-o tls.keylog_file:KEYS`` (tshark's habit) sets the key log."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        value = str(values)
        match = TSHARK_PREFERENCE.match(value) if option_string == "-o" else None
        if match is None:
            namespace.output = value
        elif match[1].lower() in KEYLOG_PREFERENCES and getattr(namespace, "keylog", "absent") != "absent":
            namespace.keylog = match[2]
        else:
            parser.error(f"-o {match[1]}:…: the only tshark preference pushscope takes is tls.keylog_file:FILE "
                         "(or write -o ./NAME for a file whose name has a colon)")


class PreferenceOnly(OutputOrPreference):
    """``-o tls.keylog_file:KEYS`` for a command that prints only to standard output."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if TSHARK_PREFERENCE.match(str(values)) is None:
            parser.error(f"{parser.prog} prints to standard output; -o takes only tshark's tls.keylog_file:FILE")
        super().__call__(parser, namespace, values, option_string)


def add_keylog_preference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", metavar="tls.keylog_file:FILE", dest="output", action=PreferenceOnly,
                        help="the key log, as tshark takes it")


def add_output(parser: argparse.ArgumentParser, *, keylog_preference: bool = False) -> None:
    what = " (or tshark's -o tls.keylog_file:KEYS)" if keylog_preference else ""
    parser.add_argument("-o", "--output", metavar="FILE", action=OutputOrPreference,
                        help=f"write to FILE (atomically) instead of standard output{what}; without --format, the "
                             "extension chooses the format (.txt .json .html .har .qlog .png)")


def add_redaction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-redact", action="store_true", help="keep Cookie/Set-Cookie/Authorization values")
    parser.add_argument("--redact", action="append", default=[], metavar="NAME",
                        help="redact this header's values too (repeatable)")


def add_keylog(parser: argparse.ArgumentParser, *, names: tuple[str, ...] = ("--keylog",), what: str = "") -> None:
    parser.add_argument(*names, metavar="FILE",
                        help=f"TLS key log{what} (SSLKEYLOGFILE format). Default: NAME.keys or NAME.keys.log beside "
                             "the capture, else $SSLKEYLOGFILE; secrets embedded in a pcapng are always used")


def add_capture(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """CAPTURE (or ``-r CAPTURE``), its key log, and --quic-port."""
    help_text = "pcap, pcapng or gzipped capture" + (" (default: the bundled demo)" if optional else "")
    parser.add_argument("capture", nargs="?", metavar="CAPTURE", help=help_text)
    parser.add_argument("-r", "--read", dest="read_file", metavar="CAPTURE", help="the capture, as tshark -r takes it")
    add_keylog(parser)
    parser.add_argument("--no-keylog", action="store_true",
                        help="use no key log file (not the one beside the capture, nor $SSLKEYLOGFILE)")
    parser.add_argument("--quic-port", type=int, action="append", default=[], metavar="PORT",
                        help="decode UDP PORT as QUIC when tshark does not recognise it (repeatable)")
    add_no_cache(parser)


def add_quiet(parser: argparse.ArgumentParser, what: str = "no progress line on stderr") -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=what)


def add_no_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="read the capture again instead of reusing (and keeping) its analysis in the cache")


def capture_argument(parser: argparse.ArgumentParser, args: argparse.Namespace, *,
                     optional: bool = False) -> str | None:
    """The capture named by CAPTURE or -r (not both, unless they agree)."""
    if args.capture and args.read_file and args.capture != args.read_file:
        parser.error(f"two captures given ({args.capture} and -r {args.read_file}): give one")
    path = args.capture or args.read_file
    if path is None and not optional:
        parser.error("a capture is needed: pushscope COMMAND CAPTURE (or -r CAPTURE)")
    return path
