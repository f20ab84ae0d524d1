"""Reading what a command is given: a capture (with its key log), a saved probe session, or a JSON report.

Fatal problems (the file is missing, not a capture, the key log missing or not a key log) become a CliError
before anything is printed; everything else stays a diagnostic in the report.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pushscope.cli.errors import CliError
from pushscope.cli.inputs import check_readable, looks_like_json, read_json_report
from pushscope.cli.keys import KeySource, find_keylog
from pushscope.export.coverage import Coverage, coverage_of
from pushscope.model.entities import Capture

if TYPE_CHECKING:
    from pushscope.cache import CachedResult, CaptureCache, ResultRecorder

# Diagnostics that mean the input itself is unusable; the key log ones always, the others when nothing was read.
FATAL_ALWAYS = ("no-keylog", "bad-keylog")
FATAL_WHEN_EMPTY = ("no-capture", "not-a-capture", "no-tshark", "tshark-failed")


@dataclass(slots=True)
class CaptureArgs:
    path: str
    keylog: str | None = None
    no_keylog: bool = False
    quic_ports: tuple[int, ...] = ()
    use_cache: bool = True
    quiet: bool = False  # no progress line on stderr (there is none anyway when stderr is not a terminal)


def resolve_keys(args: CaptureArgs) -> KeySource:
    keys = find_keylog(args.path, args.keylog, disabled=args.no_keylog)
    if keys.path:
        check_readable(keys.path, f"key log (from {keys.origin})")
    return keys


def load_capture_file(args: CaptureArgs) -> tuple[Capture, KeySource]:
    """The analysed capture and the key log it used; CliError when the input cannot be read at all."""
    check_readable(args.path, "capture file")
    if looks_like_json(args.path):
        raise CliError(f"{args.path} is a JSON report, not a capture: `check` and `diff` read JSON reports")
    keys = resolve_keys(args)
    from pushscope.pipeline import load_capture
    from pushscope.progress import stderr_progress

    progress = stderr_progress(Path(args.path).name, args.quiet)
    try:
        capture = load_capture(args.path, keys.path, keylog_origin=keys.origin, quic_ports=list(args.quic_ports),
                               use_cache=args.use_cache, on_progress=progress,
                               on_step=progress.step if progress else None)
    except (OSError, ValueError, EOFError) as exc:
        raise CliError(f"{args.path}: cannot read the capture ({exc})") from None
    finally:
        if progress is not None:
            progress.done()
    errors = [d for d in capture.diagnostics if d.level == "error"]
    fatal = [d for d in errors if d.code in FATAL_ALWAYS]
    if not capture.connections:
        fatal += [d for d in errors if d.code in FATAL_WHEN_EMPTY or not d.code]
    if fatal:
        raise CliError("; ".join(dict.fromkeys(d.message for d in fatal)))
    return capture, keys


SESSION_ERRORS = (OSError, EOFError, UnicodeDecodeError, ValueError, zlib.error)


def saved_session(path: str) -> Capture:
    """A saved probe session as an analysed model, every line checked against the session schema first."""
    from pushscope.pipeline import load_saved_session

    try:
        return load_saved_session(path)
    except SESSION_ERRORS as exc:  # SavedSessionError is a ValueError; the rest is a damaged file
        raise CliError(f"{path}: cannot read the saved session: {exc}" if not str(exc).startswith(path)
                       else str(exc)) from None


def saved_session_items(path: str) -> list[Any]:
    """The events and diagnostics of a saved session, all read and checked before the inspector starts."""
    from pushscope.sources.probe.recording import read_saved_session

    try:
        return list(read_saved_session(path))
    except SESSION_ERRORS as exc:
        raise CliError(f"{path}: cannot read the saved session: {exc}" if not str(exc).startswith(path)
                       else str(exc)) from None


def load_report(args: CaptureArgs, *, redact: bool = True, only: Collection[str] | None = None,
                push_fields: Collection[str] | None = None) -> tuple[dict[str, Any], Coverage]:
    """A report dict from a JSON report (validated), a saved probe session or a capture (analysed now), with
    what it decoded; from a capture, ``only`` those top-level keys and ``push_fields`` of each push when given."""
    check_readable(args.path, "capture or report")
    from pushscope.export.json_report import report_dict
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(args.path):
        report = report_dict(saved_session(args.path), redact=redact)
    elif looks_like_json(args.path):
        report = read_json_report(args.path)
    else:
        capture, _ = load_capture_file(args)
        report = report_dict(capture, redact=redact, only=only, push_fields=push_fields)
        del capture  # the command reads only the dicts from here on: nothing here holds the model past this point
    return report, coverage_of(report)


def load_sides(args: CaptureArgs, *, push_fields: Collection[str], exchange_fields: Collection[str]
               ) -> tuple[dict[str, Any], Coverage]:
    """As ``load_report``, but from a capture its exchanges and pushes are generators over the model with only
    those fields (read them once, in order): a comparison reduces one capture before it reads the other."""
    check_readable(args.path, "capture or report")
    from pushscope.export.coverage import coverage_of_capture
    from pushscope.export.json_report import report_sections
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(args.path) or looks_like_json(args.path):
        return load_report(args)
    capture, _ = load_capture_file(args)
    sections = report_sections(capture, push_fields=push_fields, exchange_fields=exchange_fields)
    return sections, coverage_of_capture(capture)


def load_gate(args: CaptureArgs, *, only: Collection[str], push_fields: Collection[str]
              ) -> tuple[dict[str, Any], Coverage]:
    """As ``load_report`` with ``only`` and ``push_fields``; from a capture, its pushes and connections are made
    again from the model on each pass (``json_report.gate_sections``) instead of held as a dict each."""
    check_readable(args.path, "capture or report")
    from pushscope.export.coverage import coverage_of_capture
    from pushscope.export.json_report import gate_sections
    from pushscope.sources.probe.recording import is_saved_session

    if is_saved_session(args.path) or looks_like_json(args.path):
        return load_report(args, only=only, push_fields=push_fields)
    capture, _ = load_capture_file(args)
    return gate_sections(capture, push_fields=push_fields), coverage_of_capture(capture)


@dataclass(slots=True)
class Replay:
    """What a command printed for this very capture before, from the cache (``hit``), or where to keep what it
    prints now (``recorder``): a reopen prints it again without reading or analysing the capture."""

    hit: CachedResult | None = None
    recorder: ResultRecorder | None = None
    keylog: str | None = None

    def record(self, data: str | bytes | Iterator[str]) -> str | bytes | Iterator[str]:
        return self.recorder.record(data) if self.recorder is not None else data

    def keep(self, **meta: object) -> None:
        if self.recorder is not None:
            self.recorder.keep(meta)
            self.recorder = None

    def close(self) -> None:
        """No entry unless ``keep`` made one (a command that failed leaves none)."""
        if self.recorder is not None:
            self.recorder.abandon()
            self.recorder = None

    def replayed(self, binary: bool = False) -> str | bytes | Iterator[str]:
        assert self.hit is not None
        return b"".join(self.hit.chunks()) if binary else self.hit.text()


def _capture_key(args: CaptureArgs) -> tuple[CaptureCache, str, str | None] | None:
    """The cache, this capture's key in it and the key log used; None with --no-cache or for an input that is not
    a capture (a JSON report or a saved session is read without analysis anyway)."""
    if not args.use_cache:
        return None
    check_readable(args.path, "capture file")
    from pushscope.sources.probe.recording import is_saved_session

    if looks_like_json(args.path) or is_saved_session(args.path):
        return None
    keys = resolve_keys(args)
    from pushscope.pipeline import cache_lookup

    cache, key = cache_lookup(args.path, keys.path, list(args.quic_ports), keys.origin)
    return None if cache is None or key is None else (cache, key, keys.path)


def cached_result(args: CaptureArgs, variant: tuple[object, ...]) -> Replay:
    """The cached output of the command ``variant`` describes, for a capture; an empty Replay with --no-cache or
    for another kind of input."""
    found = _capture_key(args)
    if found is None:
        return Replay()
    cache, key, keylog = found
    from pushscope.cache import ResultRecorder, result_key

    rkey = result_key(key, variant)
    hit = cache.load_result(rkey)
    if hit is not None:
        return Replay(hit=hit, keylog=keylog)
    return Replay(recorder=ResultRecorder(cache, rkey), keylog=keylog)


def cached_comparison(before: CaptureArgs, after: CaptureArgs, variant: tuple[object, ...]) -> Replay:
    """``cached_result`` for a command that reads two captures (``diff``), keyed by both; an empty Replay unless both
    are readable captures (the command itself then says what is wrong with an input)."""
    try:
        other = _capture_key(after)
        return Replay() if other is None else cached_result(before, (*variant, other[1]))
    except CliError:
        return Replay()
