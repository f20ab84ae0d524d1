"""Probe pieces without external servers: cache, Alt-Svc, runs, recording, truth, live errors, and a whole
session against an in-process h2c push server (CLI, JSON report, --save, probe_events)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from probe_inprocess import InProcessH2Server

from pushscope.analysis.rules import RULES
from pushscope.analysis.truth import agreement, compare_truth
from pushscope.cli.live import run_live
from pushscope.cli.probe import parse_runs, probe_events, run_probe
from pushscope.decode.frame_names import HEADERS
from pushscope.events import (
    ConnectionOpened,
    DataReceived,
    Diagnostic,
    Endpoint,
    FrameReceived,
    HeadersReceived,
    PushTruthRecorded,
    RunFinished,
    RunStarted,
    SettingsReceived,
    SourceFinished,
    SourceProgress,
)
from pushscope.export.json_report import report_dict
from pushscope.http.references import Reference
from pushscope.model.entities import Capture, Push, PushTruth
from pushscope.pipeline import analysed, load_saved_session
from pushscope.sources.live import classify_tshark_error
from pushscope.sources.probe.connection import Origin, ProbeOptions, Transfer
from pushscope.sources.probe.http_cache import HttpCache
from pushscope.sources.probe.page_loader import destination_of
from pushscope.sources.probe.recording import (
    is_saved_session,
    legacy_truth,
    read_saved_session,
    write_session,
)
from pushscope.sources.probe.session import parse_alt_svc
from pushscope.sources.probe.truth import judge

REPORT_SCHEMA = Path(__file__).resolve().parents[2] / "pushscope" / "export" / "report.schema.json"

VERDICT_REASONS = {rule.reason for rule in RULES}

URL = "https://example.test/style.css"
GET = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/style.css"),
       ("accept-encoding", "gzip, br")]


# -- HTTP cache -------------------------------------------------------------------------------------------
def test_cache_serves_fresh_copies_only() -> None:
    cache, now = HttpCache(), time.time()
    assert cache.store(URL, "GET", 200, GET, [(":status", "200"), ("cache-control", "max-age=60")], b"x", now, "push")
    assert cache.lookup(URL, GET, now + 30) is not None
    assert cache.lookup("HTTPS://EXAMPLE.TEST:443/style.css", GET, now + 30) is not None  # normalised URL
    assert cache.lookup(URL, GET, now + 61) is None  # stale
    assert cache.store(URL, "GET", 200, GET, [(":status", "200"), ("cache-control", "no-cache")], b"x", now, "request")
    assert cache.lookup(URL, GET, now) is None  # stored, but must be revalidated: not fresh
    assert not cache.store(URL, "GET", 200, GET, [("cache-control", "no-store, max-age=60")], b"x", now, "request")
    assert not cache.store(URL, "POST", 200, GET, [("cache-control", "max-age=60")], b"x", now, "request")
    assert not cache.store(URL, "GET", 200, GET, [("cache-control", "max-age=60"), ("vary", "*")], b"", now, "push")


def test_cache_honours_vary_and_age() -> None:
    cache, now = HttpCache(), time.time()
    cache.store(URL, "GET", 200, GET, [("cache-control", "max-age=60"), ("vary", "Accept-Encoding")], b"x", now, "push")
    assert cache.lookup(URL, GET, now) is not None
    other = [*GET[:4], ("accept-encoding", "identity")]
    assert cache.lookup(URL, other, now) is None
    cache.store(URL, "GET", 200, GET, [("cache-control", "max-age=60"), ("age", "59")], b"x", now, "request")
    assert cache.lookup(URL, GET, now + 2) is None  # Age counts towards the lifetime


# -- small parsers ----------------------------------------------------------------------------------------
def test_alt_svc() -> None:
    origin = Origin.of("https://example.test/")
    assert parse_alt_svc(['h3=":8443"; ma=60, h3-29=":8443"'], origin) == [
        ("h3", "example.test", 8443, 60.0), ("h3-29", "example.test", 8443, 86400.0)]
    assert parse_alt_svc(['h3="alt.example.test:443"'], origin) == [("h3", "alt.example.test", 443, 86400.0)]
    assert parse_alt_svc(["clear"], origin) is None


def test_runs() -> None:
    assert parse_runs("cold,warm", None) == ["cold", "warm"]
    assert parse_runs(None, 3) == [1, 2, 3]
    with pytest.raises(ValueError):
        parse_runs("cold,hot", None)


@pytest.mark.parametrize(("kind", "url", "destination"), [
    ("<link rel=stylesheet>", "https://a.test/s.css", "style"),
    ("<script src>", "https://a.test/a.js", "script"),
    ("<img src>", "https://a.test/l.png", "image"),
    ("url()", "https://a.test/f.woff2", "font"),
    ("url()", "https://a.test/bg.webp", "image"),
    ("@import", "https://a.test/more.css", "style"),
    ("<link rel=preload>", "https://a.test/x.js", "script"),
])
def test_destinations(kind: str, url: str, destination: str) -> None:
    assert destination_of(Reference(url, 0, kind)) == destination


# -- truth --------------------------------------------------------------------------------------------------
def _push(**changes: object) -> Transfer:
    push = Transfer("p1", "https://a.test/x.js", [(":method", "GET")], 2, 10.0, pushed=True)
    push.ended_at = 10.5
    push.done.set()
    for name, value in changes.items():
        setattr(push, name, value)
    return push


@pytest.mark.parametrize(("changes", "requested", "referenced", "expected"), [
    ({"state": "claimed"}, [], True, ("used", "claimed")),
    ({"state": "cancelled", "had_fresh_copy": True, "reset_by": "client"}, [], True,
     ("cache-duplicated", "cancelled-cached")),
    ({"state": "cancelled"}, [], True, ("wasted", "rejected")),
    ({"had_fresh_copy": True}, [], True, ("cache-duplicated", "already-cached")),
    ({"pushed_twice": True}, [], True, ("cache-duplicated", "pushed-twice")),
    ({"requested_before": True}, [], True, ("wasted", "client-requested-anyway")),
    ({}, [11.0], True, ("wasted", "client-requested-anyway")),
    ({"reset_by": "server", "reset_code": 8, "ended_at": None}, [], True, ("wasted", "server-cancelled")),
    # the server withdrew the promise: the probe's own request is the consequence, not a mismatch
    ({"reset_by": "server", "reset_code": 8, "ended_at": None}, [11.0], True, ("wasted", "server-cancelled")),
    ({"abandoned": True, "ended_at": None}, [], True, ("wasted", "connection-closed")),
    ({}, [], False, ("wasted", "not-referenced")),
    ({}, [], True, ("wasted", "not-referenced")),  # referenced elsewhere, never claimed on this connection
])
def test_judge(changes: dict, requested: list[float], referenced: bool, expected: tuple[str, str]) -> None:
    push = _push(**changes)
    own = [Transfer("p1", push.url, [], 5, at) for at in requested]
    loader = SimpleNamespace(requested={push.key: own}, referenced={push.key: "https://a.test/"} if referenced else {})
    truth = judge(push, SimpleNamespace(connection_id="p1"), loader, "cold")  # type: ignore[arg-type]
    assert (truth.outcome, truth.reason) == expected
    assert truth.reason in VERDICT_REASONS  # the probe speaks the verdict rules' reason codes


@pytest.mark.parametrize(("verdict", "expected"), [
    (("used", "claimed"), (True, True)),
    (("used", "claimed-late"), (True, True)),  # lateness is the verdict's finer measure
    (("wasted", "not-referenced"), (False, False)),
])
def test_agreement_compares_outcome_and_reason(verdict: tuple[str, str], expected: tuple[bool, bool]) -> None:
    item = PushTruth("p1", "cold", "https://a.test/x.js", 2, None, 1.0, "used", "claimed")
    push = SimpleNamespace(outcome=verdict[0], reason=verdict[1])
    found = agreement(item, push)  # type: ignore[arg-type]
    assert (found.outcome, found.reason) == expected


def test_reason_disagreement_is_a_diagnostic() -> None:
    item = PushTruth("p1", "warm", "https://a.test/x.js", 2, None, 1.0, "cache-duplicated", "already-cached")
    push = Push(0, "p1", "h2", 1, 2, 1.0, outcome="cache-duplicated", reason="pushed-twice").with_rare(truth=item)
    capture = Capture("probe", pushes=[push])
    compare_truth(capture)
    [diagnostic] = capture.diagnostics
    assert diagnostic.code == "probe-disagrees" and "the reason differs" in diagnostic.message
    push.reason = "already-cached"
    compare_truth(capture)  # again, as on every live snapshot: the diagnostic goes, none is added twice
    assert capture.diagnostics == []


def test_saved_truth_with_old_reason_words() -> None:
    old = {"connection": "p1", "run": "warm", "url": "https://a.test/x.js", "outcome": "cache-duplicated",
           "reason": "already-had-fresh-copy"}
    assert legacy_truth(old).reason == "already-cached"


# -- recording ----------------------------------------------------------------------------------------------
def _items() -> list:
    return [
        ConnectionOpened(connection_id="p1", at=1.0, client=Endpoint("127.0.0.1", 5000),
                         server=Endpoint("127.0.0.1", 443), transport="tls", protocol="h2", tls_version="1.3"),
        SettingsReceived(connection_id="p1", at=1.1, sender="client", settings={"ENABLE_PUSH": 1}),
        FrameReceived(connection_id="p1", at=1.2, sender="client", stream_id=1, frame_type=HEADERS, length=30,
                      flags=("END_HEADERS", "END_STREAM")),
        HeadersReceived(connection_id="p1", at=1.2, sender="client", stream_id=1,
                        headers=[(":method", "GET"), (":path", "/")], end_stream=True, wire_length=30),
        DataReceived(connection_id="p1", at=1.3, sender="server", stream_id=1, data=b"\x00\xffbody", length=6,
                     end_stream=True),
        Diagnostic(level="info", message="hello", connection_id="p1", code="note"),
    ]


def _run_items() -> list:
    return [
        RunStarted(label="cold", index=0, cold=True, at=1.0),
        *_items(),
        PushTruthRecorded(connection_id="p1", at=1.25, run="cold", url="https://a.test/x.js", stream_id=2,
                          push_id=None, outcome="used", reason="claimed", detail="why"),
        RunFinished(label="cold", at=2.0, connections=("p1",), protocols={"p1": "h2"}, document="https://a.test/",
                    status=200),
    ]


@pytest.mark.parametrize("name", ["session.jsonl", "session.jsonl.gz"])
def test_recording_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_session(path, _run_items(), url="https://a.test/")
    assert is_saved_session(path)
    assert list(read_saved_session(path)) == _run_items()
    capture = load_saved_session(str(path))
    assert capture.runs_by_connection == {"p1": "cold"}
    [truth] = capture.unmatched_truth
    assert (truth.url, truth.outcome, truth.reason, truth.detail, truth.promised_at) == (
        "https://a.test/x.js", "used", "claimed", "why", 1.25)
    assert capture.source == "probe" and capture.name == "probe https://a.test/ (cold)"
    # the push in the truth is not in these events: the reopened session says so
    assert any(d.code == "probe-disagrees" for d in capture.diagnostics)


def test_version_1_sessions_read_as_events(tmp_path: Path) -> None:
    """Sessions saved before the probe's knowledge travelled as events: their run and truth lines become them."""
    path = tmp_path / "old.jsonl"
    header = {"format": "pushscope-session", "version": 1, "source": "probe", "name": "probe https://a.test/ (cold)",
              "url": "https://a.test/", "created": 1.0, "pushscope": "0.1.0", "options": {}}
    run = {"kind": "run", "label": "cold", "index": 0, "cold": True, "started_at": 1.0, "ended_at": 2.0,
           "connections": ["p1"], "protocols": {"p1": "h2"}, "document": "https://a.test/", "status": 200,
           "fetched_from": {"network": 1}, "cached_at_start": 0, "error": None}
    truth = {"kind": "truth", "connection": "p1", "run": "cold", "url": "https://a.test/x.js", "stream_id": 2,
             "push_id": None, "promised_at": 1.25, "outcome": "wasted", "reason": "ignored", "detail": "old words"}
    stale = {"kind": "diagnostic", "level": "warning", "message": "old", "connection_id": "p1",
             "code": "probe-disagrees"}
    opened = {"kind": "event", "type": "ConnectionOpened", "connection_id": "p1", "at": 1.0, "transport": "quic",
              "client": {"address": "127.0.0.1", "port": 5000}, "server": {"address": "127.0.0.1", "port": 443},
              "protocol": "h3"}
    frames = [{"kind": "event", "type": "FrameReceived", "connection_id": "p1", "at": 1.1, "sender": "server",
               "stream_id": 0, "frame_type": name, "length": 3, "flags": []}
              for name in ("CANCEL_PUSH", "PRIORITY_UPDATE", "UNKNOWN_0x21")]  # as names, before they were integers
    path.write_text("\n".join(json.dumps(line) for line in [header, opened, *frames, stale, run, truth]) + "\n")
    items = list(read_saved_session(path))
    assert [item.frame_type for item in items[1:4]] == [0x3, 0xF0700, 0x21]  # HTTP/3's codes: the connection's
    items = items[4:]
    assert items == [
        RunStarted(label="cold", index=0, cold=True, at=1.0),
        RunFinished(label="cold", at=2.0, connections=("p1",), protocols={"p1": "h2"}, document="https://a.test/",
                    status=200, fetched_from={"network": 1}),
        PushTruthRecorded(connection_id="p1", at=1.25, run="cold", url="https://a.test/x.js", stream_id=2,
                          push_id=None, outcome="wasted", reason="not-referenced", detail="old words"),
    ]
    capture = load_saved_session(str(path))
    assert [run.fetched_from for run in capture.runs] == [{"network": 1}]
    assert [d.message for d in capture.diagnostics] == [
        "run cold: the probe's push of https://a.test/x.js on p1 is missing from the model"]


def test_not_a_saved_session(tmp_path: Path) -> None:
    pcap = tmp_path / "x.pcapng"
    pcap.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(60))
    assert not is_saved_session(pcap)
    gz = tmp_path / "x.pcap.gz"
    gz.write_bytes(gzip.compress(b"\xd4\xc3\xb2\xa1" + bytes(20)))
    assert not is_saved_session(gz)


# -- live ---------------------------------------------------------------------------------------------------
def test_live_errors_say_what_to_do() -> None:
    denied = classify_tshark_error("eth0", [
        "Capturing on 'eth0'",
        "tshark: The capture session could not be initiated on interface 'eth0' (You don't have permission to "
        "capture on that device)."])
    assert denied.code == "live-permission" and "wireshark" in denied.message and "setcap" in denied.message
    missing = classify_tshark_error("nosuch0", ['tshark: There is no device named "nosuch0".',
                                                "(No such device exists)"])
    assert missing.code == "live-no-interface" and "tshark -D" in missing.message
    bad = classify_tshark_error("lo", ['tshark: Invalid capture filter "tcp port (" for interface \'Loopback\'.'],
                                "tcp port (")
    assert bad.code == "live-bad-filter"


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@needs_tshark
def test_live_no_such_interface(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_live(["-i", "nosuch0", "--duration", "5", "-q"]) == 2
    assert "no interface named 'nosuch0'" in capsys.readouterr().err


@needs_tshark
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_live_without_permission_says_what_to_do() -> None:
    """As an unprivileged user (nobody, no capabilities), capturing fails: the message says how to fix it."""
    home = Path(tempfile.mkdtemp(prefix="pushscope-nobody-"))
    home.chmod(0o777)
    try:
        code = "import sys; from pushscope.cli.live import run_live; sys.exit(run_live(['-i', 'lo', '-q']))"
        done = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
                               sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home)}, cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if "No module named" in done.stderr:
        pytest.skip("the package is not readable by nobody here")
    assert done.returncode == 2, done.stderr
    assert "no permission to capture on lo" in done.stderr
    assert "wireshark" in done.stderr and "setcap" in done.stderr


# -- a whole session against the in-process h2c server ------------------------------------------------------
def test_probe_cli_json_save_and_reopen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "s.jsonl"
    with InProcessH2Server() as server:
        code = run_probe([server.url, "--runs", "cold,warm", "--cancel-cached", "--format", "json",
                          "--save", str(saved)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "probe"
    assert {e["run"] for e in report["exchanges"]} == {"cold", "warm"}
    pushes = {(p["run"], p["url"].rsplit("/", 1)[1]): p for p in report["pushes"]}
    assert pushes[("cold", "style.css")]["outcome"] == "used"
    assert pushes[("cold", "unused.js")]["reason"] == "not-referenced"
    warm = pushes[("warm", "style.css")]
    assert (warm["outcome"], warm["reason"]) == ("cache-duplicated", "cancelled-cached")
    assert warm["reset"]["by"] == "client" and warm["reset"]["code"] == "CANCEL"
    assert warm["probe_truth"] == {"outcome": "cache-duplicated", "reason": "cancelled-cached", "agrees": True,
                                   "outcome_agrees": True, "reason_agrees": True,
                                   "detail": warm["probe_truth"]["detail"]}
    assert report["probe"]["agreement"] == {"pushes": 6, "agree": 6, "disagree": 0, "outcome_disagree": 0,
                                            "reason_disagree": 0}
    assert [r["label"] for r in report["probe"]["runs"]] == ["cold", "warm"]
    # the cookie the server set is sent back, and redacted in the report
    cookies = [v for e in report["exchanges"] for n, v in e["request_headers"] if n == "cookie"]
    assert cookies and set(cookies) == {"[redacted]"}
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    reopened = report_dict(load_saved_session(str(saved)))
    assert [(p["run"], p["outcome"], p["reason"]) for p in reopened["pushes"]] == [
        (p["run"], p["outcome"], p["reason"]) for p in report["pushes"]]


def test_probe_events_stream_for_the_tui() -> None:
    with InProcessH2Server() as server:
        stream = probe_events([server.url, "--runs", "cold,warm"])
        items = list(stream)
    assert isinstance(items[-1], SourceFinished)
    progress = [i for i in items if isinstance(i, SourceProgress)]
    assert progress[0].detail.startswith("cold run") and progress[-1].done == progress[-1].total == 2
    assert any(isinstance(i, ConnectionOpened) for i in items)
    assert [i.label for i in items if isinstance(i, (RunStarted, RunFinished))] == ["cold", "cold", "warm", "warm"]
    assert sum(isinstance(i, PushTruthRecorded) for i in items) == 6
    capture = analysed(items, source="probe")  # the stream's items alone make the model: nothing on the side
    assert capture.runs_by_connection == {"p1": "cold", "p2": "warm"}
    assert [p.outcome for p in capture.pushes] == ["used", "used", "wasted"] + [
        "cache-duplicated", "cache-duplicated", "wasted"]
    assert all(p.truth is not None and p.truth.agreement.agrees for p in capture.pushes)


def test_probe_text_report_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with InProcessH2Server() as server:
        assert run_probe([server.url, "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "Probe runs" in out and "Probe truth vs. verdicts" in out and "≠" not in out
    assert out.startswith("pushscope probe: ") and "this capture" not in out  # a probe, not a capture
    assert run_probe(["http://127.0.0.1:1/"]) == 2
    assert "cannot connect" in capsys.readouterr().err
    assert run_probe(["ftp://example.test/"]) == 2  # a usage error


def test_options_defaults() -> None:
    options = ProbeOptions("https://a.test/")
    assert options.http == "auto" and options.runs == ["cold"] and not options.insecure
