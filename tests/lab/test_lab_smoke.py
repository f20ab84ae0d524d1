"""Smoke test of the capture lab: regenerate one nginx scenario into a temp dir and check that
tshark, given the key log, sees the server's PUSH_PROMISEs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pushscope.vocabulary import Reason

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "captures" / "make_captures.py"
SCENARIO = "nginx-push-basic"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(not all(shutil.which(b) for b in ("nginx", "dumpcap", "tshark", "openssl")),
                       reason="needs nginx, dumpcap, tshark and openssl"),
]


def test_regenerates_nginx_scenario_with_pushes(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-B", str(SCRIPT), "--out", str(tmp_path), "--only", SCENARIO],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr

    pcap = tmp_path / f"{SCENARIO}.pcapng"
    keys = tmp_path / f"{SCENARIO}.keys"
    truth_path = tmp_path / f"{SCENARIO}.truth.json"
    for p in (pcap, keys, truth_path):
        assert p.exists(), f"{p.name} missing; output:\n{run.stdout}"
    assert pcap.stat().st_size > 0
    assert keys.stat().st_size > 0  # TLS scenario: the client's NSS key log

    shown = subprocess.run(["tshark", "-r", str(pcap), "-o", f"tls.keylog_file:{keys}", "-Y", "http2.type==5",
                            "-T", "fields", "-e", "http2.push_promise.promised_stream_id"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    promised = [x for line in shown.split() for x in line.split(",") if x]
    assert len(promised) >= 1, "tshark sees no PUSH_PROMISE"

    truth = json.loads(truth_path.read_text())
    assert truth["scenario"] == SCENARIO
    assert truth["server"] == "nginx"
    assert truth["transport"] == "tls"
    assert sorted(int(p) for p in promised) == sorted(p["promised_stream_id"] for p in truth["pushes"])
    reasons = {p["url"].rsplit("/", 1)[1]: p["reason"] for p in truth["pushes"]}
    assert reasons["unused.js"] == Reason.NOT_REFERENCED
    assert {reasons["style.css"], reasons["app.js"]} <= {Reason.CLAIMED, Reason.CLAIMED_LATE}
