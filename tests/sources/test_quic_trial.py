"""The capture source decrypts QUIC that tshark could not (no handshake in the capture), on real captures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pushscope.events import ConnectionUpdated, Diagnostic, HeadersReceived
from pushscope.sources.capture_file import _quic_fields, _quic_reader, read_capture
from pushscope.sources.quic_trial import DECODE_AS_FIELDS
from pushscope.sources.trial_keys import read_secret_pairs

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
MIDSTREAM = CAPTURES / "h3-midstream.pcapng"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def _events(capture: Path, keys: Path | None, quic_ports: list[int] | None = None) -> list:
    return list(read_capture(str(capture), str(keys) if keys else None, quic_ports=quic_ports))


def _paths(events: list) -> set[tuple[int, str]]:
    return {(e.stream_id, dict(e.headers).get(":path", "")) for e in events
            if isinstance(e, HeadersReceived) and e.sender == "client"}


def _secret_line(keys: Path) -> int:
    lines = keys.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith("CLIENT_TRAFFIC_SECRET_0 "))


def test_a_connection_without_its_handshake_is_decrypted_and_says_how() -> None:
    keys = CAPTURES / "h3-midstream.keys"
    events = _events(MIDSTREAM, keys)
    truth = json.loads((CAPTURES / "h3-midstream.truth.json").read_text())
    wanted = {(r["stream_id"], "/" + r["url"].split("/", 3)[3]) for r in truth["requests"] if not r["from_push"]}
    assert wanted and _paths(events) == wanted
    how = {e.decrypted_how for e in events if isinstance(e, ConnectionUpdated) and e.decrypted}
    assert how == {f"trial: key-log line {_secret_line(keys)}"}
    summary = [d.message for d in events if isinstance(d, Diagnostic) and d.code == "quic-summary"]
    assert summary == ["1 QUIC connections with 1-RTT packets, 1 decrypted (1 of them by pushscope itself, with "
                       "key-log secrets tried on a connection whose handshake the capture lacks)"]


def test_a_port_tshark_dissects_as_quic_gives_the_same_requests() -> None:
    """With --quic-port tshark dissects the packets and prints them without their first byte's protected bits."""
    keys = CAPTURES / "h3-midstream.keys"
    port = json.loads((CAPTURES / "h3-midstream.truth.json").read_text())["server_port"]
    assert _paths(_events(MIDSTREAM, keys, [port])) == _paths(_events(MIDSTREAM, keys))


def test_a_key_log_without_the_secrets_is_named_in_the_diagnostics() -> None:
    events = _events(MIDSTREAM, CAPTURES / "h3-push-claimed.keys", [4433])
    assert not _paths(events)
    warnings = [d.message for d in events if isinstance(d, Diagnostic) and d.level == "warning"]
    assert any("no 1-RTT secret of the key log verifies" in message for message in warnings), warnings
    summary = [d.message for d in events if isinstance(d, Diagnostic) and d.code == "quic-summary"]
    assert summary and summary[0].startswith("1 QUIC connections with 1-RTT packets, 0 decrypted")


def test_the_pass_asks_tshark_for_more_only_with_a_key_log_and_a_quic_port() -> None:
    keys = str(CAPTURES / "h3-midstream.keys")
    pairs = read_secret_pairs(keys)
    _, trial = _quic_reader(None, [4433], [])
    assert not trial.enabled and not set(DECODE_AS_FIELDS) & set(_quic_fields([4433], None))
    _, trial = _quic_reader(None, [], pairs)
    assert trial.enabled and not set(DECODE_AS_FIELDS) & set(_quic_fields([], keys))
    _, trial = _quic_reader(None, [4433], pairs)
    assert trial.enabled and set(DECODE_AS_FIELDS) <= set(_quic_fields([4433], keys))
