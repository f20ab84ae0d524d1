"""QuicRowReader on tshark's real output: our own aioquic push captures and public QUIC captures with keys.

tshark is run here the way the capture source runs it (one ``-T fields`` pass, ``occurrence=a``), with only the
QUIC fields, so these tests check the reader against the row shapes tshark really prints: coalesced packets,
several STREAM frames per packet, offsets and lengths that are only sometimes printed.

The public captures are not ours to ship: they are read from ``../shared/captures/public`` beside the repository
and the tests that need them are skipped when it is absent.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pushscope.events import (
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUpdated,
    DataReceived,
    Diagnostic,
    HeadersReceived,
    MaxPushIdReceived,
    ProtocolAnomaly,
    PushCancelled,
    PushPromiseReceived,
    PushStreamOpened,
    StopSendingReceived,
    StreamReset,
)
from pushscope.sources.keylog import summarize_keylog
from pushscope.sources.quic_rows import QUIC_FIELDS, QUIC_TSHARK_ARGS, QuicRowReader, quic_decode_as_args

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "captures"
PUBLIC = REPO.parent / "shared" / "captures" / "public"
# A capture cut after its handshake is read by pushscope's own trial decryption, not by tshark: see
# tests/sources/test_quic_trial.py.
H3_SCENARIOS = sorted(path.name.removesuffix(".truth.json") for path in CAPTURES.glob("h3-*.truth.json")
                      if "cut_at" not in json.loads(path.read_text()))

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_rows(capture: Path, keys: Path | None, ports: list[int]) -> list[dict[str, str]]:
    fields = list(dict.fromkeys(QUIC_FIELDS))
    command = ["tshark", "-r", str(capture), "-n"]
    if keys is not None:
        command += ["-o", f"tls.keylog_file:{keys}"]
    command += [*QUIC_TSHARK_ARGS, *quic_decode_as_args(ports), "-T", "fields", "-E", "separator=/t",
                "-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n"]
    for name in fields:
        command += ["-e", name]
    done = subprocess.run(command, capture_output=True, text=True, encoding="latin-1", check=True, timeout=120)
    return [dict(zip(fields, line.split("\t"), strict=False)) for line in done.stdout.splitlines()]


def read(capture: Path, keys: Path | None, ports: list[int] = ()) -> list:  # type: ignore[assignment]
    reader = QuicRowReader(summarize_keylog(keys) if keys is not None else None, server_ports=ports)
    events: list = []
    for row in tshark_rows(capture, keys, list(ports)):
        if row.get("udp.stream"):
            events += reader.feed(row, float(row["frame.time_epoch"]), int(row["frame.number"]))
    return events + reader.finish(None)


def of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def exchanges(events: list) -> dict[tuple[str, int], dict]:
    """(connection, request stream) -> request headers, response headers, response body bytes."""
    found: dict[tuple[str, int], dict] = {}
    for e in events:
        if isinstance(e, HeadersReceived) and e.push_id is None:
            entry = found.setdefault((e.connection_id, e.stream_id), {"body": 0})
            entry.setdefault("request" if e.sender == "client" else "response", dict(e.headers))
        elif isinstance(e, DataReceived) and e.push_id is None and e.sender == "server":
            found.setdefault((e.connection_id, e.stream_id), {"body": 0})["body"] += len(e.data)
    return found


# -- our own captures ----------------------------------------------------------------------------------------


@needs_tshark
@pytest.mark.parametrize("name", H3_SCENARIOS)
def test_lab_capture_matches_its_truth(name: str) -> None:
    truth = json.loads((CAPTURES / f"{name}.truth.json").read_text())
    port = truth["server_port"]
    events = read(CAPTURES / f"{name}.pcapng", CAPTURES / f"{name}.keys", [port])
    opened = {e.client.port: e for e in of(events, ConnectionOpened)}
    assert sorted(opened) == sorted(c["client_port"] for c in truth["connections"])
    conn_of = {c["index"]: opened[c["client_port"]].connection_id for c in truth["connections"]}
    for conn in opened.values():
        assert (conn.protocol, conn.alpn, conn.sni, conn.transport) == ("h3", "h3", "localhost", "quic")
        assert conn.server.port == port
    assert all(e.decrypted for e in of(events, ConnectionUpdated) if e.decrypted is not None)
    assert not of(events, ProtocolAnomaly)

    found = exchanges(events)
    for request in truth["requests"]:
        if request["from_push"]:
            continue
        entry = found[(conn_of[request["connection_index"]], request["stream_id"])]
        assert entry["request"][":method"] == request["method"]
        assert "https://" + entry["request"][":authority"] + entry["request"][":path"] == request["url"]
        assert int(entry["response"][":status"]) == request["status"]
        assert entry["body"] == request["body_bytes"]

    promises = {(e.connection_id, e.push_id): e for e in of(events, PushPromiseReceived)}
    streams = {(e.connection_id, e.push_id): e.stream_id for e in of(events, PushStreamOpened)}
    cancels = {(e.connection_id, e.push_id) for e in of(events, PushCancelled) if e.sender == "client"}
    stops = {(e.connection_id, e.push_id) for e in of(events, StopSendingReceived) if e.sender == "client"}
    resets = {(e.connection_id, e.push_id) for e in of(events, StreamReset) if e.sender == "server"}
    pushed_bodies = Counter()
    for e in of(events, DataReceived):
        if e.push_id is not None:
            pushed_bodies[(e.connection_id, e.push_id)] += len(e.data)
    assert len(promises) == len(truth["pushes"])
    for push in truth["pushes"]:
        key = (conn_of[push["connection_index"]], push["push_id"])
        promise = promises[key]
        headers = dict(promise.headers)
        assert promise.stream_id == push["parent_stream_id"] and promise.promised_stream_id is None
        assert "https://" + headers[":authority"] + headers[":path"] == push["url"]
        if push["push_stream_id"] is not None:
            assert streams[key] == push["push_stream_id"]
        assert (key in cancels) == (push["client_action"] in ("cancelled", "refused"))
        assert (key in stops) == (push["client_action"] == "stop-sending")
        if push["completed"]:
            assert pushed_bodies[key] == push["body_bytes"]
        if push["reset_code"] is not None:
            assert key in resets
    for conn in truth["connections"]:
        maxima = [e.push_id for e in of(events, MaxPushIdReceived) if e.connection_id == conn_of[conn["index"]]]
        assert maxima == [conn["max_push_id"]]
    closes = of(events, ConnectionClosed)
    assert len(closes) == len(truth["connections"]) and all(c.how.startswith("close-by-client") for c in closes)


@needs_tshark
def test_without_keys_the_connection_is_reported_not_decrypted() -> None:
    events = read(CAPTURES / "h3-push-claimed.pcapng", None, [4433])
    assert [e.decrypted for e in of(events, ConnectionUpdated) if e.decrypted is not None] == [False]
    [diagnostic] = [d for d in of(events, Diagnostic) if d.code == "not-decrypted"]
    assert "no key log" in diagnostic.message and diagnostic.connection_id == "q0"
    assert not of(events, HeadersReceived)
    assert of(events, ConnectionOpened)[0].sni == "localhost"  # the Initial packets are readable without keys


@needs_tshark
def test_with_a_key_log_for_another_connection_the_client_random_is_named(tmp_path: Path) -> None:
    other = tmp_path / "other.keys"
    other.write_text((CAPTURES / "h3-push-claimed.keys").read_text())
    events = read(CAPTURES / "h3-cancel-push.pcapng", other, [4433])
    [diagnostic] = [d for d in of(events, Diagnostic) if d.code == "not-decrypted"]
    assert "no secret for client random" in diagnostic.message


# -- public captures -----------------------------------------------------------------------------------------


def public(path: str) -> Path:
    target = PUBLIC / path
    if not target.exists():
        pytest.skip(f"public capture {path} is not available beside the repository")
    return target


@needs_tshark
def test_public_draft22_multi_stream() -> None:
    events = read(public("pcap2qlog-draft01-multi_stream/multi_stream.pcap"),
                  public("pcap2qlog-draft01-multi_stream/multi_stream.keys"))
    [conn] = of(events, ConnectionOpened)
    assert (conn.alpn, conn.sni, conn.protocol) == ("h3-22", "nghttp2.org", "h3")
    found = exchanges(events)
    assert sorted(stream for _, stream in found) == [0, 4, 8, 12]
    for entry in found.values():
        assert (entry["request"][":method"], entry["request"][":path"]) == ("GET", "/index.html")
        assert entry["response"][":status"] == "200"
        assert entry["body"] == int(entry["response"]["content-length"])
    assert not of(events, ProtocolAnomaly)
    assert of(events, ConnectionClosed)[0].how == "close-by-client (HTTP_NO_ERROR)"


@needs_tshark
def test_public_draft29_multistream_with_qpack_dynamic_table() -> None:
    events = read(public("ws-quic-follow-multistream-dsb/quic_follow_multistream.pcapng"), None)
    [conn] = of(events, ConnectionOpened)
    assert (conn.alpn, conn.sni) == ("h3-29", "www.youtube.com")
    found = exchanges(events)
    assert len(found) == 22
    for entry in found.values():
        assert entry["request"][":method"] in ("GET", "POST")
        assert entry["request"][":authority"] == "www.youtube.com"
        assert entry["response"][":status"] == "200"
        if "content-length" in entry["response"]:
            assert entry["body"] == int(entry["response"]["content-length"])
    assert not of(events, ProtocolAnomaly)


@needs_tshark
def test_public_amazon_chrome_page_load(tmp_path: Path) -> None:
    capture = tmp_path / "amazon1.cap"
    keys = tmp_path / "amazon1.keys"
    with gzip.open(public("wt-amazon1/amazon1.cap.gz")) as source:
        capture.write_bytes(source.read())
    with gzip.open(public("wt-amazon1/amazon1.key_log.txt.gz")) as source:
        keys.write_bytes(source.read())
    events = read(capture, keys)
    opened = of(events, ConnectionOpened)
    assert len(opened) == 4 and all(c.transport == "quic" for c in opened)
    snis = {e.sni for e in of(events, ConnectionUpdated) if e.sni}
    assert "www.amazon.com" in snis
    found = exchanges(events)
    assert len(found) == 6
    paths = {entry["request"][":path"] for entry in found.values()}
    assert "/" in paths
    assert all(entry["response"][":status"] == "200" for entry in found.values())
    assert not of(events, ProtocolAnomaly)


# -- row shapes -----------------------------------------------------------------------------------------------


def _row(**values: str) -> dict[str, str]:
    row = dict.fromkeys(QUIC_FIELDS, "")
    row.update({key.replace("__", "."): value for key, value in values.items()})
    return row


def test_stream_frames_line_up_by_their_flags() -> None:
    """Three STREAM frames in one packet: only the OFF/LEN flags say which offset and length belong to which."""
    control = b"\x00\x04\x00"  # control stream, empty SETTINGS
    request = b"\x01\x04\x00\x00\xd1\xc1"  # HEADERS: GET /
    row = _row(**{
        "udp.stream": "7", "ip.src": "10.0.0.1", "ip.dst": "10.0.0.2", "udp.srcport": "50000",
        "udp.dstport": "443", "udp.length": "100", "quic.header_form": "0", "quic.packet_number": "3",
        "quic.frame_type": "2,10,14,9",
        "quic.stream.stream_id": "2,6,0", "quic.stream.off": "0,1,0", "quic.stream.len": "1,1,0",
        "quic.stream.fin": "0,0,1", "quic.stream.offset": "0", "quic.stream.length": f"{len(control)},0",
        "quic.stream_data": f"{control.hex()},<MISSING>,{request.hex()}",
    })
    reader = QuicRowReader()
    events = reader.feed(row, 1.0, 1)
    [opened] = of(events, ConnectionOpened)
    assert (opened.connection_id, opened.client.port, opened.server.port) == ("q7", 50000, 443)
    [headers] = of(events, HeadersReceived)
    assert headers.headers == [(":method", "GET"), (":path", "/")] and headers.end_stream
    assert not of(events, ProtocolAnomaly)
    # The wire order of the decoded events: packet number 3, then their rank within the packet.
    settings = next(e for e in events if type(e).__name__ == "SettingsReceived")
    assert settings.position is not None and headers.position is not None
    assert settings.position >> 16 == headers.position >> 16 == 3 and settings.position < headers.position


def test_rows_without_quic_are_ignored() -> None:
    reader = QuicRowReader()
    assert reader.feed(_row(**{"udp.stream": "3", "udp.srcport": "53", "udp.dstport": "40000"}), 1.0, 1) == []
    assert reader.finish(None) == []
