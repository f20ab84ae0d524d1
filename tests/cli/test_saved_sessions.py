"""Saved probe sessions read back by report, check, diff and the inspector: every line is checked against the
session schema first, so a corrupted one is a one-line error naming the line, never a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pushscope.cli import main
from pushscope.events import (
    ConnectionOpened,
    DataReceived,
    Endpoint,
    HeadersReceived,
    RunFinished,
    RunStarted,
    SettingsReceived,
)
from pushscope.sources.probe.recording import write_session
from pushscope.sources.probe.session_schema import record_problem


def _session(path: Path) -> Path:
    items = [
        ConnectionOpened(connection_id="p1", at=1.0, client=Endpoint("127.0.0.1", 5000),
                         server=Endpoint("127.0.0.1", 443), transport="tls", protocol="h2", tls_version="1.3"),
        SettingsReceived(connection_id="p1", at=1.1, sender="client", settings={"ENABLE_PUSH": 1}),
        HeadersReceived(connection_id="p1", at=1.2, sender="client", stream_id=1,
                        headers=[(":method", "GET"), (":path", "/"), (":scheme", "https"),
                        (":authority", "a.test")], end_stream=True, wire_length=30),
        HeadersReceived(connection_id="p1", at=1.25, sender="server", stream_id=1,
                        headers=[(":status", "200"), ("content-type", "text/html")], end_stream=False, wire_length=20),
        DataReceived(connection_id="p1", at=1.3, sender="server", stream_id=1, data=b"<p>hello</p>", length=12,
                     end_stream=True),
    ]
    runs = [RunStarted(label="cold", index=0, cold=True, at=1.0),
            RunFinished(label="cold", at=2.0, connections=("p1",), protocols={"p1": "h2"}, document="https://a.test/",
                        status=200)]
    write_session(path, [*items, *runs], url="https://a.test/")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_a_good_session_is_read_by_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _session(tmp_path / "s.jsonl")
    code, out, _ = run(capsys, "report", str(path))
    assert code == 0 and out.startswith("pushscope probe: ") and "https://a.test/" in out
    assert run(capsys, "check", str(path))[0] == 0
    code, out, _ = run(capsys, "diff", str(path), str(path), "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["requests"]["delta"] == 0


def _corrupt(path: Path, line: int, change: dict) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[line - 1])
    record.update(change)
    lines[line - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("line,change,expected", [
    (1, {"version": "one"}, "line 1: not a valid session header"),
    (2, {"at": "soon"}, "line 2: does not fit the session schema (event:ConnectionOpened: at at"),
    (3, {"sender": "proxy"}, "line 3: does not fit the session schema (event:SettingsReceived: at sender"),
    (4, {"headers": [[":method"]]}, "line 4: does not fit the session schema"),
    (5, {"kind": "run", "index": "first"}, "line 5: does not fit the session schema (run: at the record"),
])
def test_a_corrupt_line_is_named(line: int, change: dict, expected: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _session(tmp_path / "s.jsonl")
    _corrupt(path, line, change)
    for argv in (["report", str(path)], ["check", str(path)], ["diff", str(path), str(path)], [str(path)]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "", argv
        assert err.count("\n") == 1 and expected in err, (argv, err)


def test_damaged_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _session(tmp_path / "s.jsonl")
    text = path.read_text()
    (tmp_path / "cut.jsonl").write_text(text[: len(text) // 2] + "\n{not json\n")
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(text.encode())[:-20])
    for name in ("cut.jsonl", "cut.jsonl.gz"):
        code, _, err = run(capsys, "report", str(tmp_path / name))
        assert code == 2 and str(tmp_path / name) in err


def test_the_schema_follows_the_event_types() -> None:
    good = {"kind": "event", "type": "DataReceived", "connection_id": "p1", "at": 1.0, "sender": "server",
            "stream_id": 1, "data": "", "length": 0, "end_stream": True}
    assert record_problem(good) is None
    assert "stream_id" in (record_problem({**good, "stream_id": "one"}) or "")
    assert record_problem({"kind": "event", "type": "SomethingNewer", "x": 1}) is None  # later versions add kinds
