"""Gates fail closed: exit codes of report, check and diff on a real capture with no key log, a wrong one, a
key log with only some of its lines (partly decrypted), and the right one (see pushscope.cli.exitcodes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pushscope.cli import main

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
TWO_CONNECTIONS = CAPTURES / "nginx-second-connection.pcapng"
OTHER_KEYS = CAPTURES / "nginx-push-basic.keys"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.fixture(autouse=True)
def no_env_keylog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


@pytest.fixture(scope="module")
def partial_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The secrets of the first of the capture's two TLS connections only."""
    lines = (CAPTURES / "nginx-second-connection.keys").read_text().splitlines()
    first_random = next(line.split()[1] for line in lines if line and not line.startswith("#"))
    path = tmp_path_factory.mktemp("keys") / "partial.keys"
    path.write_text("\n".join(line for line in lines if first_random in line) + "\n")
    return path


def keys_for(condition: str, partial: Path) -> list[str]:
    return {"none": ["--no-keylog"], "wrong": ["--keylog", str(OTHER_KEYS)], "partial": ["--keylog", str(partial)],
            "full": []}[condition]  # "full": the key log beside the capture, found by name


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("condition,expected", [("none", 3), ("wrong", 3), ("partial", 0), ("full", 0)])
def test_report_exit_codes(condition: str, expected: int, partial_keys: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", str(TWO_CONNECTIONS), *keys_for(condition, partial_keys))
    assert code == expected
    first = out.splitlines()[0]
    if condition in ("none", "wrong"):
        assert first.startswith("NOTHING DECODED: 2 connections") and "NOTHING DECODED" in err
    elif condition == "partial":
        assert first.startswith("PARTLY DECODED: 1 of 2 connections")
    else:
        assert first == "pushscope report: nginx-second-connection.pcapng" and err == ""


@pytest.mark.parametrize("condition,expected,allowed", [
    ("none", 3, 3), ("wrong", 3, 3), ("partial", 3, 0), ("full", 0, 0)])
def test_check_exit_codes(condition: str, expected: int, allowed: int, partial_keys: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", str(TWO_CONNECTIONS), *keys_for(condition, partial_keys), "--max-wasted-ratio", "0.5"]
    code, out, _ = run(capsys, *argv)
    assert code == expected
    assert out.startswith(f"pushscope check {TWO_CONNECTIONS}: {'OK' if expected == 0 else 'UNDECRYPTED'}")
    code, out, _ = run(capsys, *argv, "--allow-undecrypted")
    assert code == allowed  # a capture of which nothing was decoded never passes


def test_check_default_budgets_are_applied_and_shown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(TWO_CONNECTIONS))
    assert "budgets: --max-wasted-ratio 0.25, --max-unknown 0 (the defaults" in out
    assert code == 1 and "wasted ratio 0.278 > 0.25" in out  # /unused.js is wasted on both connections


@pytest.mark.parametrize("condition,expected", [("none", 3), ("wrong", 3), ("partial", 3), ("full", 0)])
def test_diff_exit_codes(condition: str, expected: int, partial_keys: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    keys = keys_for(condition, partial_keys)
    code, out, err = run(capsys, "diff", str(TWO_CONNECTIONS), str(TWO_CONNECTIONS), *keys)
    assert code == expected
    if condition in ("none", "wrong"):
        assert out == "" and "refusing to compare" in err  # never "no change" between two unread captures
    elif condition == "partial":
        assert out.startswith("before: PARTLY DECODED")
        page = tmp_path / "d.html"
        assert run(capsys, "diff", str(TWO_CONNECTIONS), str(TWO_CONNECTIONS), *keys, "-o", str(page))[0] == 3
        assert "<strong>after: PARTLY DECODED: 1 of 2 connections" in page.read_text()
        code, _, _ = run(capsys, "diff", str(TWO_CONNECTIONS), str(TWO_CONNECTIONS), *keys, "--allow-undecrypted")
        assert code == 0


def test_diff_finds_each_key_log_beside_its_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        shutil.copy(TWO_CONNECTIONS, tmp_path / f"{name}.pcapng")
    shutil.copy(CAPTURES / "nginx-second-connection.keys", tmp_path / "a.keys")
    shutil.copy(CAPTURES / "nginx-second-connection.keys", tmp_path / "b.keys.log")
    code, out, _ = run(capsys, "diff", str(tmp_path / "a.pcapng"), str(tmp_path / "b.pcapng"), "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["pushes"] == {"before": 6, "after": 6, "delta": 0}
    (tmp_path / "b.keys.log").unlink()
    code, _, err = run(capsys, "diff", str(tmp_path / "a.pcapng"), str(tmp_path / "b.pcapng"),
                       "--keylog-b", str(OTHER_KEYS))
    assert code == 3 and "b.pcapng: NOTHING DECODED" in err


def test_check_reads_coverage_back_from_a_json_report(partial_keys: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "partial.json"
    code, _, _ = run(capsys, "report", str(TWO_CONNECTIONS), "--keylog", str(partial_keys), "-o", str(saved))
    assert code == 0
    code, out, _ = run(capsys, "check", str(saved), "--max-wasted-ratio", "1")
    assert code == 3 and "PARTLY DECODED: 1 of 2" in out
