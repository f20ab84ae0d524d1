"""The hostile corpus, run the way a user runs pushscope: a subprocess per command, each within the budget of
time and memory, no traceback, an exit status from the documented set, and no raw control character in
anything written to stdout or stderr."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import CASES, make_corpus  # noqa: E402
from run_corpus import run  # noqa: E402

TIMEOUT = 60.0
MAX_RSS_MIB = 1024.0
PUSHSCOPE = [sys.executable, "-m", "pushscope"]
MUTANTS = 6  # byte-flipped, cut and spliced copies of the bundled captures (a longer run: see README)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile")
    make_corpus(out, mutation_count=MUTANTS)
    return out


def _assert_safe(command: list[str]) -> bytes:
    result = run(command, TIMEOUT)
    assert result.problems(TIMEOUT, MAX_RSS_MIB) == [], result.stderr.decode(errors="replace")[-2000:]
    return result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "har", "qlog"])
def test_escape_sequences_never_reach_the_terminal(corpus: Path, fmt: str) -> None:
    out = _assert_safe([*PUSHSCOPE, "report", str(corpus / "terminal-escapes.pcap"), "--format", fmt])
    assert b"\x1b" not in out
    if fmt == "text":
        assert b"\\x1b]52;c;" in out  # shown, visibly, not dropped


def test_check_and_diff_show_escapes_visibly(corpus: Path) -> None:
    hostile = str(corpus / "terminal-escapes.pcap")
    out = _assert_safe([*PUSHSCOPE, "check", hostile, "--max-wasted-bytes", "0"])
    assert b"\\x1b[5m" in out
    out = _assert_safe([*PUSHSCOPE, "diff", hostile, str(corpus / "unparseable-values.pcap")])
    assert b"\\x1b]0;pwned" in out


@pytest.mark.parametrize("case", [*sorted(CASES), "http1-hostile"])
def test_report_on_each_hostile_capture(corpus: Path, case: str) -> None:
    _assert_safe([*PUSHSCOPE, "report", str(corpus / f"{case}.pcap")])


def test_report_on_mutated_captures(corpus: Path) -> None:
    mutants = sorted(corpus.glob("mutant-*.pcapng"))
    assert len(mutants) == MUTANTS
    for mutant in mutants:
        _assert_safe([*PUSHSCOPE, "report", str(mutant), "--keylog", str(mutant.with_suffix(".keys"))])
