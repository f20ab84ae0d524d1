"""Finding tshark without pyshark: PATH first, then where Wireshark's installers put it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pushscope.sources import tshark


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_path_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = executable(tmp_path / "bin" / "tshark")
    installed = executable(tmp_path / "Wireshark.app" / "tshark")
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setattr(tshark, "tshark_install_places", lambda: [str(installed)])
    assert tshark.find_tshark() == str(on_path)


def test_install_place_when_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_executable = tmp_path / "a" / "tshark"
    not_executable.parent.mkdir()
    not_executable.write_text("")
    installed = executable(tmp_path / "b" / "tshark")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(tshark, "tshark_install_places", lambda: [str(not_executable), str(installed)])
    assert tshark.find_tshark() == str(installed)


def test_not_found_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tshark, "tshark_install_places", lambda: [str(tmp_path / "nothing")])
    with pytest.raises(tshark.TsharkNotFound, match="apt-get install tshark"):
        tshark.find_tshark()


def test_windows_program_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ProgramFiles", "C:\\Program Files")
    monkeypatch.delenv("ProgramFiles(x86)", raising=False)
    places = tshark.tshark_install_places()
    assert places[0] == "/Applications/Wireshark.app/Contents/MacOS/tshark"
    assert places[1].startswith("C:\\Program Files") and places[1].endswith("tshark.exe")
