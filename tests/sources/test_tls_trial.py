"""TLS 1.3 over TCP without its handshake, decrypted by trying the key log's secrets, on real captures:
captures/nginx-midstream.pcapng was cut after the handshake, the HTTP/2 preface and SETTINGS (nginx 1.22)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pushscope.decode import tls_record
from pushscope.decode.tls_record import RecordDecryptor, find_sequence, keys_for_secret
from pushscope.events import ConnectionOpened, ConnectionUpdated, Diagnostic, HeadersReceived
from pushscope.sources import tls_trial
from pushscope.sources.capture_file import read_capture
from pushscope.sources.tls_trial import frames_line_up
from pushscope.sources.trial_keys import read_secret_pairs

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
MIDSTREAM, KEYS = CAPTURES / "nginx-midstream.pcapng", CAPTURES / "nginx-midstream.keys"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _records(capture: Path, port: int) -> list[bytes]:
    """The encrypted records ``port`` sent, as tshark prints them."""
    out = subprocess.run(["tshark", "-n", "-r", str(capture), "-T", "fields", "-e", "tcp.srcport", "-e",
                          "tls.app_data"], capture_output=True, text=True, check=True).stdout
    return [bytes.fromhex(value) for line in out.splitlines() for src, values in [line.split("\t")]
            if src == str(port) and values for value in values.split(",")]


def _truth() -> dict:
    return json.loads((CAPTURES / "nginx-midstream.truth.json").read_text())


def test_records_open_at_the_sequence_number_found() -> None:
    [pair] = read_secret_pairs(str(KEYS))
    client_port = _truth()["connections"][0]["client_port"]
    records = _records(MIDSTREAM, client_port)
    [keys] = keys_for_secret(pair.client)
    sequence = find_sequence(keys, records)
    assert sequence is not None and sequence > 0  # the preface and SETTINGS went before the capture
    decryptor = RecordDecryptor(keys, sequence)
    opened = [decryptor.open(record) for record in records]
    assert all(item is not None for item in opened) and decryptor.failed == 0
    assert frames_line_up(opened[0][1])  # type: ignore[index]
    # The server's secret, or a secret off by one bit, never opens the client's records.
    assert find_sequence(keys_for_secret(pair.server)[0], records) is None
    assert find_sequence(keys_for_secret(bytes(b ^ 1 for b in pair.client))[0], records) is None


def test_the_capture_lists_every_request_and_says_how_it_was_decrypted() -> None:
    events = list(read_capture(str(MIDSTREAM), str(KEYS)))
    truth = _truth()
    wanted = {(r["stream_id"], r["url"].split("/", 3)[3]) for r in truth["requests"] if not r["from_push"]}
    seen = {(e.stream_id, dict(e.headers).get(":path", "").lstrip("/")) for e in events
            if isinstance(e, HeadersReceived) and e.sender == "client"}
    assert wanted and seen == wanted
    line = next(n for n, text in enumerate(KEYS.read_text().splitlines(), 1) if text.startswith("CLIENT_TRAFFIC"))
    updates = [e for e in events if isinstance(e, ConnectionUpdated) and e.decrypted]
    assert [(e.decrypted_how, e.protocol) for e in updates] == [(f"trial: key-log line {line}", "h2")]
    # The port guess made the wrong side the client; the secret that opened the records corrects it.
    assert [e.client.port for e in events if isinstance(e, ConnectionOpened)][-1] == truth["connections"][0][
        "client_port"]
    summary = [d.message for d in events if isinstance(d, Diagnostic) and d.code == "tls-summary"]
    assert summary and "1 of them by pushscope itself" in summary[0]


def test_tls12_without_its_handshake_is_explained(tmp_path: Path) -> None:
    """nginx-preload-twoloads is TLS 1.2: cut after its handshake, no key log line can open it."""
    cut = tmp_path / "tls12-cut.pcapng"
    subprocess.run(["editcap", "-r", str(CAPTURES / "nginx-preload-twoloads.pcapng"), str(cut), "10-100000"],
                   check=True, capture_output=True)
    events = list(read_capture(str(cut), str(KEYS)))
    assert not [e for e in events if isinstance(e, HeadersReceived)]
    warnings = [d.message for d in events if isinstance(d, Diagnostic) and d.code == "not-decrypted"]
    assert any("it is TLS 1.2, which needs both hello randoms" in message for message in warnings), warnings


def test_the_documented_bound_is_the_one_searched() -> None:
    assert tls_trial.SEQUENCE_BOUND == tls_record.SEQUENCE_BOUND


def test_frames_line_up() -> None:
    settings = bytes.fromhex("000006040000000000") + bytes(6)
    window = bytes.fromhex("00000408000000000000010000")
    assert frames_line_up(settings + window)
    assert not frames_line_up(settings[3:] + window)  # mid-frame
    assert not frames_line_up(bytes.fromhex("000006040000000001") + bytes(6))  # SETTINGS on a stream
    assert not frames_line_up(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def _handshake_frames(capture: Path) -> list[int]:
    """Frame numbers of every packet up to each connection's last handshake record (SYN, hellos, Finished)."""
    out = subprocess.run(["tshark", "-n", "-r", str(capture), "-T", "fields", "-e", "frame.number", "-e",
                          "tcp.stream", "-e", "tls.record.content_type"], capture_output=True, text=True,
                         check=True).stdout
    last_handshake: dict[str, int] = {}
    rows = [line.split("\t") for line in out.splitlines()]
    for number, stream, types in rows:
        if "22" in types.split(",") and "23" not in types.split(","):
            last_handshake[stream] = int(number)
    return [int(number) for number, stream, _ in rows if int(number) <= last_handshake.get(stream, 0)]


def test_http1_over_tls13_without_handshakes_lists_every_request(tmp_path: Path) -> None:
    """Both connections of h1-nginx-tls cut after their handshakes: two trial candidates in one pass, read as
    HTTP/1.1 from the first request line on, with every request of the client's truth."""
    source = CAPTURES / "h1-nginx-tls.pcapng"
    cut = tmp_path / "h1-cut.pcapng"
    dropped = _handshake_frames(source)
    assert dropped
    subprocess.run(["editcap", str(source), str(cut), *map(str, dropped)], check=True, capture_output=True)
    events = list(read_capture(str(cut), str(CAPTURES / "h1-nginx-tls.keys")))
    updates = [e for e in events if isinstance(e, ConnectionUpdated) and e.decrypted_how]
    assert len(updates) == 2 and {e.protocol for e in updates} == {"http/1.1"}
    requests = [e for e in events if isinstance(e, HeadersReceived) and e.sender == "client"]
    seen = sorted((dict(e.headers)[":method"], dict(e.headers)[":path"]) for e in requests)
    truth = json.loads((CAPTURES / "h1-nginx-tls.truth.json").read_text())
    wanted = sorted((r["method"], "/" + r["url"].split("/", 3)[3]) for r in truth["requests"])
    assert seen == wanted


def test_a_failed_record_pass_is_named_not_blamed_on_the_key_log(tmp_path: Path) -> None:
    class Reader:
        def trial_candidates(self) -> list[str]:
            return ["0", "1"]

        def feed_decrypted(self, *args: object) -> list:
            raise AssertionError("nothing was decrypted")

    pairs = read_secret_pairs(str(KEYS))
    events, reasons = tls_trial.run_tls_trial("tshark", str(tmp_path / "gone.pcapng"), Reader(), pairs, set())
    assert events == []
    assert set(reasons) == {"0", "1"}
    assert all(reason.startswith("pushscope's pass over its encrypted records failed (") for reason in reasons.values())
    assert not any("key log" in reason for reason in reasons.values())
