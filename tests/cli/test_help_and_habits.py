"""The CLI explains itself (--help, help, COMMAND --help, --version) and takes tshark's habits (-r, -o pref)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pushscope import __version__
from pushscope.cli import COMMANDS, main

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
BASIC = CAPTURES / "nginx-push-basic.pcapng"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.fixture(autouse=True)
def no_env_keylog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


def test_help_lists_every_command_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["-h"], ["help"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        for name in ("open", "report", "check", "diff", "probe", "live", "help"):
            assert any(line.startswith(f"  {name} ") and len(line.split()) > 3 for line in out.splitlines()), name
        assert "exit status" in out and "--version" in out


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"help"}))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    direct = capsys.readouterr().out
    assert f"usage: pushscope {name}" in direct
    assert main(["help", name]) == 0
    assert capsys.readouterr().out == direct


def test_version_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"pushscope {__version__}\n"
    assert main(["reprot"]) == 2
    assert "'reprot' is neither a command nor a file" in capsys.readouterr().err
    assert main(["help", "nosuch"]) == 2


def test_help_is_quick_and_light() -> None:
    code = ("import sys; from pushscope.cli import main; main(['--help']); "
            "heavy = [m for m in ('textual', 'plotly', 'aioquic', 'pushscope.pipeline') if m in sys.modules]; "
            "sys.exit(1 if heavy else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


@needs_tshark
def test_tshark_habits_r_and_keylog_preference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone = tmp_path / "alone.pcapng"  # no key log beside it
    shutil.copy(BASIC, alone)
    keys = CAPTURES / "nginx-push-basic.keys"
    out = tmp_path / "r.json"
    assert main(["report", "-r", str(alone), "-o", f"tls.keylog_file:{keys}", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["summary"]["pushes"] == 3 and report["connections"][0]["decrypted"]
    assert main(["check", "-r", str(alone), "-o", f"tls.keylog_file:{keys}", "--max-wasted-ratio", "1"]) == 0
    assert main(["report", "-r", str(alone), "-o", "tls.desegment:TRUE"]) == 2
    assert "only tshark preference pushscope takes is tls.keylog_file" in capsys.readouterr().err
    assert main(["report", str(alone), "-r", str(BASIC)]) == 2  # two different captures


@needs_tshark
@pytest.mark.parametrize("name,starts", [("r.html", "<!DOCTYPE html>"), ("r.json", "{"), ("r.har", "{"),
                                         ("r.qlog", "{"), ("r.txt", "pushscope report:"),
                                         ("r.out", "pushscope report:")])
def test_output_format_follows_the_extension(name: str, starts: str, tmp_path: Path) -> None:
    out = tmp_path / name
    assert main(["report", str(BASIC), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith(starts)
    if name == "r.har":
        assert "log" in json.loads(text)
    if name == "r.qlog":
        assert "traces" in json.loads(text)


@needs_tshark
def test_format_option_beats_the_extension_and_diff_refuses_formats_it_lacks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(BASIC), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["summary"]["pushes"] == 3
    assert main(["diff", str(BASIC), str(BASIC), "-o", str(tmp_path / "d.har")]) == 2
    assert "writes text, html, json, not har" in capsys.readouterr().err
    assert main(["diff", str(BASIC), str(BASIC), "-o", str(tmp_path / "d.html")]) == 0
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")


def test_readme_exit_table_matches_the_code() -> None:
    from pushscope.cli.exitcodes import EXIT_TABLE

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in readme.splitlines() if line.startswith("| ") and "|" in line[2:]}
    assert {str(int(code)) for code, _ in EXIT_TABLE} <= rows
