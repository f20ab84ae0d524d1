"""Files: -o errors are one line and a non-zero exit, writes are atomic and never replace an input; a FIFO,
device or directory given as input is named and never blocks; a corrupt JSON report is an error, not a
traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pushscope.cli import main

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
BASIC = CAPTURES / "nginx-push-basic.pcapng"
KEYS = CAPTURES / "nginx-push-basic.keys"
pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.fixture(autouse=True)
def no_env_keylog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """A copy of the demo capture and its key log, so overwriting them would show."""
    shutil.copy(BASIC, tmp_path / "basic.pcapng")
    shutil.copy(KEYS, tmp_path / "basic.keys")
    return tmp_path / "basic.pcapng"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("pushscope "), err
    return err


def test_output_to_a_directory_or_a_missing_folder(capture: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", str(capture), "-o", str(tmp_path))
    assert code == 4 and out == "" and "it is a directory" in one_line_error(err)
    code, _, err = run(capsys, "report", str(capture), "-o", str(tmp_path / "nowhere" / "r.txt"))
    assert code == 4 and f"the folder {tmp_path / 'nowhere'} does not exist" in one_line_error(err)
    code, _, err = run(capsys, "diff", str(capture), str(capture), "-o", str(tmp_path / "nowhere" / "d.txt"))
    assert code == 4 and "does not exist" in one_line_error(err)


def test_output_to_a_full_disk_or_a_denied_path(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "report", str(capture), "-o", "/dev/full")
    assert code == 4 and "No space left on device" in one_line_error(err)
    if os.access("/sys", os.W_OK) and not Path("/sys/class").is_dir():
        pytest.skip("no sysfs to be refused by")
    code, _, err = run(capsys, "report", str(capture), "-o", "/sys/pushscope-report.txt")
    assert code == 4 and "cannot write /sys/pushscope-report.txt" in one_line_error(err)
    assert not [p for p in Path("/sys").iterdir() if p.name.startswith(".pushscope-report")]


def test_output_never_replaces_an_input(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = capture.read_bytes(), capture.with_suffix(".keys").read_bytes()
    for target in (capture, capture.with_suffix(".keys")):
        code, _, err = run(capsys, "report", str(capture), "-o", str(target))
        assert code == 4 and "it is an input of this command" in one_line_error(err)
    link = capture.with_name("link.pcapng")
    link.symlink_to(capture)
    code, _, _ = run(capsys, "report", str(capture), "-o", str(link))
    assert code == 4
    assert (capture.read_bytes(), capture.with_suffix(".keys").read_bytes()) == before


def test_output_is_replaced_whole(capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    out.write_text("an older report\n")
    assert run(capsys, "report", str(capture), "-o", str(out))[0] == 0
    assert json.loads(out.read_text())["summary"]["pushes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basic.keys", "basic.pcapng", "r.json"]  # no temp left
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not mkstemp's private mode


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("role", ["capture", "keylog"])
def test_special_files_as_input_are_named_and_never_block(kind: str, role: str, capture: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    special = {"fifo": tmp_path / "pipe", "directory": tmp_path / "dir", "device": Path("/dev/zero")}[kind]
    if kind == "fifo":
        os.mkfifo(special)
    elif kind == "directory":
        special.mkdir()
    argv = [str(special)] if role == "capture" else [str(capture), "--keylog", str(special)]
    for command in ("report", "check"):
        code, out, err = run(capsys, command, *argv)
        name = {"fifo": "a FIFO (named pipe)", "directory": "a directory", "device": "a character device"}[kind]
        assert code == 2 and out == "" and f"is {name}, not a file" in one_line_error(err)


def test_corrupt_or_invalid_json_reports(capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    assert run(capsys, "report", str(capture), "-o", str(good))[0] == 0
    report = json.loads(good.read_text())
    cases = {"truncated.json": good.read_text()[:500], "not-report.json": '{"a": 1}',
             "deep.json": "[" * 100_000 + "]" * 100_000}
    report["pushes"][0]["outcome"] = "maybe"
    cases["invalid.json"] = json.dumps(report)
    report["pushes"] = "none"
    cases["wrong-type.json"] = json.dumps(report)
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        for argv in (["check", str(tmp_path / name)], ["diff", str(good), str(tmp_path / name)]):
            code, out, err = run(capsys, *argv)
            assert code == 2 and out == "", (name, argv)
            assert str(tmp_path / name) in one_line_error(err)
    _, _, err = run(capsys, "check", str(tmp_path / "invalid.json"))
    assert "not a valid pushscope report: at pushes/0/outcome" in err
