"""What tshark's own HTTP/2 dissector sees in a capture, pushscope must list too: requests, promises, statuses.

Also run on the public third-party captures beside the project when they are there (not ours to ship).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pushscope.pipeline import load_capture

from .truth import CAPTURES, scenarios

PUBLIC = Path(__file__).resolve().parents[3] / "shared" / "captures" / "public"
PUBLIC_H2 = [
    ("ws-http2-follow-multistream-dsb/http2_follow_multistream.pcapng", None),
    ("foxio-http2-with-cookies-dsb/http2-with-cookies.pcapng", None),
    ("wt-amazon1/amazon1.cap.gz", "wt-amazon1/amazon1.key_log.txt.gz"),
]


def _tshark_view(capture: str, keys: str | None, tmp_path: Path) -> dict[str, Counter]:
    if keys and keys.endswith(".gz"):
        import gzip

        plain = tmp_path / "keys.txt"
        plain.write_bytes(gzip.open(keys).read())
        keys = str(plain)
    # The same reassembly preference pushscope uses: tshark's default drops records whose segments were reordered.
    command = ["tshark", "-r", capture, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "http2 or http",
               "-T", "fields", "-E", "occurrence=a",
               "-E", "aggregator=|",
               "-e", "http2.headers.method", "-e", "http2.headers.path", "-e", "http2.headers.status",
               "-e", "http2.push_promise.promised_stream_id", "-e", "http.request.method", "-e", "http.request.uri"]
    if keys:
        command[3:3] = ["-o", f"tls.keylog_file:{keys}"]  # after "-r CAPTURE"
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    view: dict[str, Counter] = {"method": Counter(), "path": Counter(), "status": Counter(), "promised": Counter()}
    for line in out.splitlines():
        methods, paths, statuses, promised, h1_method, h1_uri = (line.split("\t") + [""] * 6)[:6]
        # An h2c Upgrade's first request is HTTP/1.1 on the wire; pushscope lists it as stream 1.
        methods, paths = f"{methods}|{h1_method}", f"{paths}|{h1_uri}"
        view["method"].update(m for m in methods.split("|") if m)
        view["path"].update(p for p in paths.split("|") if p)
        view["status"].update(s for s in statuses.split("|") if s)
        view["promised"].update(p for p in promised.split("|") if p)
    return view


def _our_view(capture_path: str, keys: str | None) -> dict[str, Counter]:
    capture = load_capture(capture_path, keys)
    view: dict[str, Counter] = {"method": Counter(), "path": Counter(), "status": Counter(), "promised": Counter()}
    for exchange in capture.exchanges:
        if exchange.protocol not in ("h2", "http/1.1"):
            continue
        # tshark lists a promised request's headers on the PUSH_PROMISE, ours on the pushed exchange.
        view["method"][exchange.method] += 1
        view["path"][exchange.path] += 1
        if exchange.protocol == "http/1.1":
            continue  # tshark's HTTP/1.1 statuses are another field (http.response.code), not compared here
        for headers in exchange.informational + [exchange.response_headers]:
            for name, value in headers:
                if name == ":status":
                    view["status"][value] += 1
    view["promised"].update(str(p.promised_stream_id) for p in capture.pushes if p.protocol == "h2")
    return view


def _h2_scenarios() -> list[str]:
    # A capture cut after its handshake (truth "cut_at") is one tshark cannot decrypt: pushscope reads it by
    # trying the key log's secrets (tests/sources/test_tls_trial.py), so there is no tshark view to match.
    # The same for a connection cut between two page loads (truth "cut" with "mid_connection").
    truths = {n: json.loads((CAPTURES / f"{n}.truth.json").read_text()) for n in scenarios()}
    return [n for n, truth in truths.items() if not n.startswith("h3") and "cut_at" not in truth
            and not truth.get("cut", {}).get("mid_connection")]


@pytest.mark.parametrize("name", _h2_scenarios())
def test_bundled_capture_matches_tshark(name: str, tmp_path: Path) -> None:
    keys = CAPTURES / f"{name}.keys"
    keys_arg = str(keys) if keys.exists() and keys.stat().st_size else None
    capture = str(CAPTURES / f"{name}.pcapng")
    assert _our_view(capture, keys_arg) == _tshark_view(capture, keys_arg, tmp_path)


@pytest.mark.parametrize(("capture", "keys"), PUBLIC_H2, ids=[c.split("/")[0] for c, _ in PUBLIC_H2])
def test_public_capture_matches_tshark(capture: str, keys: str | None, tmp_path: Path) -> None:
    if not (PUBLIC / capture).exists():
        pytest.skip("the public captures are not beside the project here")
    capture_path = str(PUBLIC / capture)
    keys_path = str(PUBLIC / keys) if keys else None
    assert _our_view(capture_path, keys_path) == _tshark_view(capture_path, keys_path, tmp_path)
