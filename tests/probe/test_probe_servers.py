"""The probe against real push servers on loopback, with dumpcap capturing the same traffic.

For every server: the cold run's verdicts (referenced pushes used, /unused.js wasted, not referenced), the
warm run's cache-duplicated pushes, ``--cancel-cached`` resetting them on the wire, and the capture (decrypted
with the probe's key log, loaded by ``load_capture``) agreeing with the probe's own truth.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pushscope.analysis.truth import all_truth, compare_with_capture
from pushscope.cli.probe import probe_options, probe_parser
from pushscope.export.json_report import report_dict
from pushscope.model.entities import Capture
from pushscope.pipeline import analysed, load_capture, load_saved_session
from pushscope.sources.probe.recording import write_session
from pushscope.sources.probe.session import SessionResult, run_session

pytestmark = pytest.mark.servers

COLD = {"/style.css": ("used", "claimed"), "/app.js": ("used", "claimed"), "/unused.js": ("wasted", "not-referenced")}
WARM = {"/style.css": ("cache-duplicated", "already-cached"), "/app.js": ("cache-duplicated", "already-cached"),
        "/unused.js": ("wasted", "not-referenced")}
WARM_CANCELLED = {"/style.css": ("cache-duplicated", "cancelled-cached"),
                  "/app.js": ("cache-duplicated", "cancelled-cached"), "/unused.js": ("wasted", "not-referenced")}
# the probe's own truth, in the verdict rules' reason codes
TRUTH = {
    ("cold", "/style.css"): "claimed", ("cold", "/app.js"): "claimed", ("cold", "/unused.js"): "not-referenced",
    ("warm", "/style.css"): "already-cached", ("warm", "/app.js"): "already-cached",
    ("warm", "/unused.js"): "not-referenced",
}


def probe(url: str, lab: dict, *args: str, keylog: Path | None = None) -> tuple[SessionResult, Capture]:
    argv = [url, "--cacert", str(lab["cert"].cert), *args] + (["--keylog", str(keylog)] if keylog else [])
    result = run_session(probe_options(probe_parser().parse_args(argv)))
    return result, analysed(result.items, source="probe", name=result.name)


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def verdicts(capture: Capture, runs: dict, run: str) -> dict[str, tuple[str, str]]:
    """Verdicts by path; "claimed-late" counts as "claimed" (lateness is a matter of milliseconds here)."""
    return {path(p.url): (p.outcome, p.reason.replace("claimed-late", "claimed"))
            for p in capture.pushes if runs.get(p.connection_id) == run}


def reasons(capture: Capture) -> dict[tuple[str, str], str]:
    return {(str(t.run), path(t.url)): t.reason for t in all_truth(capture)}


def assert_cold_warm(result: SessionResult, capture: Capture, *, cancelled: bool = False) -> None:
    runs = capture.runs_by_connection
    assert [run.label for run in capture.runs] == ["cold", "warm"]
    assert all(run.status == 200 for run in capture.runs), [run.error for run in capture.runs]
    assert verdicts(capture, runs, "cold") == COLD
    assert verdicts(capture, runs, "warm") == (WARM_CANCELLED if cancelled else WARM)
    expected = dict(TRUTH)
    if cancelled:
        expected[("warm", "/style.css")] = expected[("warm", "/app.js")] = "cancelled-cached"
    assert reasons(capture) == expected
    assert not [d for d in capture.diagnostics if d.code == "probe-disagrees"], capture.diagnostics
    # the warm run fetched nothing it held fresh: only the document went to the network
    assert capture.runs[1].fetched_from == {"network": 1, "cache": 4}


def client_resets(capture: Capture, runs: dict, run: str) -> dict[str, tuple[str, str, str]]:
    return {path(p.url): (p.reset.by, p.reset.kind, p.reset.name)
            for p in capture.pushes if runs.get(p.connection_id) == run and p.reset is not None}


def captured(dumpcap_run, keylog: Path) -> Capture:  # type: ignore[no-untyped-def]
    dumpcap_run.stop()
    return load_capture(str(dumpcap_run.out), str(keylog))


@pytest.mark.parametrize("kind", ["nginx", "h2o", "apache", "nghttpd"])
def test_h2_server_cold_warm_cancel_and_capture_agree(kind: str, lab: dict, start_server, dumpcap,
                                                      tmp_path: Path) -> None:
    server = start_server(kind)
    keylog = tmp_path / "keys.log"

    capture_run = dumpcap(f"{kind}-accept", server.port)
    result, model = probe(server.url, lab, "--runs", "cold,warm", "--http", "2", keylog=keylog)
    wire = captured(capture_run, keylog)
    assert_cold_warm(result, model)
    assert {c.protocol for c in model.connections.values()} == {"h2"}
    assert compare_with_capture(model, wire) == []
    assert len(wire.pushes) == len(model.pushes) == 6

    capture_run = dumpcap(f"{kind}-cancel", server.port)
    result, model = probe(server.url, lab, "--runs", "cold,warm", "--cancel-cached", keylog=keylog)
    wire = captured(capture_run, keylog)
    assert_cold_warm(result, model, cancelled=True)
    runs = model.runs_by_connection
    assert client_resets(model, runs, "warm") == {"/style.css": ("client", "RST_STREAM", "CANCEL"),
                                                  "/app.js": ("client", "RST_STREAM", "CANCEL")}
    assert client_resets(model, runs, "cold") == {}
    assert compare_with_capture(model, wire) == []
    wire_resets = [(p.reset.by, p.reset.kind, p.reset.name) for p in wire.pushes if p.reset is not None]
    assert wire_resets == [("client", "RST_STREAM", "CANCEL")] * 2


def test_h3_server_cold_warm_cancel_and_capture_agree(lab: dict, start_server, dumpcap, tmp_path: Path) -> None:
    server = start_server("h3", push_delay=0.05)
    keylog = tmp_path / "keys.log"

    capture_run = dumpcap("h3-accept", server.port, "udp")
    result, model = probe(server.url, lab, "--runs", "cold,warm", "--http", "3", keylog=keylog)
    wire = captured(capture_run, keylog)
    assert_cold_warm(result, model)
    assert {c.protocol for c in model.connections.values()} == {"h3"}
    assert all(push.push_id is not None for push in model.pushes)
    assert compare_with_capture(model, wire) == []
    assert len(wire.pushes) == 6

    capture_run = dumpcap("h3-cancel", server.port, "udp")
    result, model = probe(server.url, lab, "--runs", "cold,warm", "--http", "3", "--cancel-cached", keylog=keylog)
    wire = captured(capture_run, keylog)
    assert_cold_warm(result, model, cancelled=True)
    assert client_resets(model, model.runs_by_connection, "warm") == {
        "/style.css": ("client", "CANCEL_PUSH", "CANCEL_PUSH"), "/app.js": ("client", "CANCEL_PUSH", "CANCEL_PUSH")}
    assert compare_with_capture(model, wire) == []
    assert sorted(p.reset.kind for p in wire.pushes if p.reset is not None) == ["CANCEL_PUSH", "CANCEL_PUSH"]


def test_auto_follows_alt_svc_to_h3(lab: dict, start_server) -> None:
    """h2 first; the document's Alt-Svc moves the next run's connection to h3, where pushes duplicate the cache."""
    h3 = start_server("h3")
    server = start_server("nginx", alt_svc_port=h3.port)
    result, model = probe(server.url, lab, "--runs", "cold,warm")
    assert_cold_warm(result, model)
    protocols = {run.label: set(run.protocols.values()) for run in model.runs}
    assert protocols == {"cold": {"h2"}, "warm": {"h3"}}
    assert any(d.code == "probe-alt-svc" for d in model.diagnostics)


def test_auto_falls_back_to_h2_when_alt_svc_does_not_answer(lab: dict, start_server) -> None:
    server = start_server("nginx", alt_svc_port=1)  # nothing listens on UDP port 1
    result, model = probe(server.url, lab, "--runs", "cold,warm")
    assert [run.status for run in model.runs] == [200, 200]
    assert [p for p in model.runs[1].protocols.values()] == ["h3", "h2"]
    assert any(d.code == "probe-alt-svc" and d.level == "warning" for d in model.diagnostics)
    assert verdicts(model, model.runs_by_connection, "warm") == WARM


@pytest.mark.parametrize("mode", ["prior-knowledge", "upgrade"])
def test_h2c(mode: str, lab: dict, start_server) -> None:
    server = start_server("apache", tls=False)
    result, model = probe(server.url, lab, "--runs", "cold,warm", "--h2c", mode)
    assert_cold_warm(result, model)
    conn = model.connections[model.runs[0].connections[0]]
    assert conn.transport == "tcp" and conn.protocol == "h2"
    document = next(e for e in model.exchanges if e.connection_id == conn.id and e.stream_id == 1)
    # an Upgrade request arrives as HTTP/1.1 (no HPACK block), prior knowledge as a HEADERS frame
    assert (document.request_header_bytes == 0) == (mode == "upgrade")


def test_save_and_reopen(lab: dict, start_server, tmp_path: Path) -> None:
    server = start_server("nginx")
    result, model = probe(server.url, lab, "--runs", "cold,warm")
    saved = tmp_path / "session.jsonl"
    write_session(saved, result.items, url=server.url)
    session = load_saved_session(str(saved))
    assert [(p.url, p.outcome, p.reason) for p in session.pushes] == [
        (p.url, p.outcome, p.reason) for p in model.pushes]
    assert session.runs_by_connection == model.runs_by_connection
    report = report_dict(session)
    assert report["source"] == "probe"
    assert {p["run"] for p in report["pushes"]} == {"cold", "warm"}
    assert all(p["probe_truth"]["agrees"] for p in report["pushes"])
    assert report["probe"]["agreement"]["reason_disagree"] == report["probe"]["agreement"]["outcome_disagree"] == 0


def test_live_capture_on_lo(lab: dict, start_server, tmp_path: Path) -> None:
    """``live_events`` on lo while the probe loads the page twice (h2, then h3 through Alt-Svc): the live model,
    decrypted with the key log the probe keeps writing, reaches the probe's verdicts; -w writes the packets."""
    from pushscope.analysis import analyse
    from pushscope.events import SourceFinished, SourceProgress
    from pushscope.model.builder import CaptureBuilder
    from pushscope.sources.live import live_events

    h3 = start_server("h3")
    server = start_server("nginx", alt_svc_port=h3.port)
    keylog = tmp_path / "live-keys.log"
    written = tmp_path / "live.pcapng"
    stop, ready = threading.Event(), threading.Event()
    builder = CaptureBuilder(source="live")
    errors: list[object] = []

    def consume() -> None:
        for item in live_events("lo", keylog=str(keylog), capture_filter=f"tcp port {server.port} or udp port "
                                f"{h3.port}", write_to=str(written), quic_ports=[h3.port], stop=stop, duration=30):
            if isinstance(item, SourceProgress):
                if item.detail == "capturing on lo":
                    ready.set()
                continue
            if isinstance(item, SourceFinished):
                continue
            if getattr(item, "level", "") == "error":
                errors.append(item)
                ready.set()
            builder.apply(item)  # type: ignore[arg-type]

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        assert ready.wait(20), "tshark did not start capturing"
        assert not errors, errors
        result, model = probe(server.url, lab, "--runs", "cold,warm", keylog=keylog)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(15)
    assert_cold_warm(result, model)
    assert {run.label: set(run.protocols.values()) for run in model.runs} == {"cold": {"h2"}, "warm": {"h3"}}
    live = analyse(builder.capture)
    assert compare_with_capture(model, live) == []
    assert sorted(c.protocol for c in live.connections.values()) == ["h2", "h3"]
    assert written.stat().st_size > 0
