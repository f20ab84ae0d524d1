"""The conversation ledger: every TCP and UDP conversation ends in exactly one account."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pushscope.events import (
    ConnectionOpened,
    ConnectionUpdated,
    ConversationAccounted,
    Diagnostic,
    Endpoint,
    HeadersReceived,
)
from pushscope.pipeline import load_capture
from pushscope.sources.conversations import ConversationLedger

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
# Beside the project (../shared/captures/public from the repository); PUSHSCOPE_PUBLIC_CAPTURES points elsewhere.
PUBLIC = Path(os.environ.get("PUSHSCOPE_PUBLIC_CAPTURES")
              or Path(__file__).resolve().parents[3] / "shared" / "captures" / "public")


def _tcp(stream: int, src: str, dst: str, length: int, data: str = "") -> dict[str, str]:
    (sa, sp), (da, dp) = src.split(":"), dst.split(":")
    return {"tcp.stream": str(stream), "ip.src": sa, "ip.dst": da, "tcp.srcport": sp, "tcp.dstport": dp,
            "tcp.len": str(length), "data.data": data}


def _udp(stream: int, src: str, dst: str, length: int, data: str = "") -> dict[str, str]:
    (sa, sp), (da, dp) = src.split(":"), dst.split(":")
    return {"udp.stream": str(stream), "ip.src": sa, "ip.dst": da, "udp.srcport": sp, "udp.dstport": dp,
            "udp.length": str(length + 8), "data.data": data}


def _accounts(items: list[ConversationAccounted | Diagnostic]) -> dict[str, ConversationAccounted]:
    return {a.conversation_id: a for a in items if isinstance(a, ConversationAccounted)}


def test_each_conversation_gets_one_account_with_its_counts() -> None:
    ledger = ConversationLedger()
    client, server = Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443)
    ledger.packet(_tcp(0, "10.0.0.1:50000", "10.0.0.2:443", 0), 1.0)
    ledger.packet(_tcp(0, "10.0.0.2:443", "10.0.0.1:50000", 1200), 1.5)
    ledger.observe(ConnectionOpened(connection_id="t0", at=1.0, client=client, server=server, transport="tls"))
    ledger.observe(ConnectionUpdated(connection_id="t0", at=1.2, decrypted=True))
    ledger.observe(HeadersReceived(connection_id="t0", at=1.3, sender="client", stream_id=1,
                                   headers=[(":method", "GET")], end_stream=True, wire_length=10))
    ledger.packet(_udp(0, "10.0.0.1:40000", "10.0.0.53:53", 40), 0.5)
    ledger.packet(_tcp(1, "10.0.0.1:50001", "10.0.0.3:8080", 300, "0102"), 2.0)
    ledger.packet(_tcp(2, "10.0.0.1:50002", "10.0.0.3:443", 0), 3.0)
    items = ledger.finish()
    accounts = _accounts(items)
    assert set(accounts) == {"t0", "q0", "t1", "t2"}
    assert [a.conversation_id for a in items if isinstance(a, ConversationAccounted)] == ["q0", "t0", "t1", "t2"]
    t0 = accounts["t0"]
    assert (t0.status, t0.protocol, t0.how, t0.packets, t0.bytes) == ("decoded", "", "handshake", 2, 1200)
    assert (t0.client, t0.server, t0.connection_id) == (client, server, "t0")
    assert (accounts["q0"].status, accounts["q0"].reason) == ("not-web", "DNS")
    assert (accounts["t1"].status, accounts["t1"].reason) == ("undecodable", "not HTTP")
    assert accounts["t1"].server == Endpoint("10.0.0.3", 8080)
    assert (accounts["t2"].status, accounts["t2"].reason) == ("not-web", "no application data")


def test_undecoded_conversations_are_warned_about_biggest_first() -> None:
    ledger = ConversationLedger()
    for stream, size in ((0, 500), (1, 700_000), (2, 20)):
        ledger.packet(_tcp(stream, f"10.0.0.1:{5000 + stream}", "10.0.0.2:9000", size), float(stream))
    warnings = [d for d in ledger.finish() if isinstance(d, Diagnostic)]
    assert [w.code for w in warnings] == ["undecoded-conversation"] * 3
    assert "t1" in warnings[0].message and "683.6 KiB" in warnings[0].message and "1 packets" in warnings[0].message
    assert "t0" in warnings[1].message and "t2" in warnings[2].message


def test_explicit_verdicts_and_why_not_decrypted() -> None:
    ledger = ConversationLedger()
    ledger.packet(_tcp(0, "10.0.0.1:5000", "10.0.0.2:443", 900), 1.0)
    ledger.packet(_udp(3, "10.0.0.1:6000", "10.0.0.2:443", 1200, "45e9af64"), 1.0)  # a QUIC short header
    ledger.packet(_udp(4, "10.0.0.1:6001", "10.0.0.2:443", 1200, "45e9af64"), 1.0)
    ledger.packet(_udp(5, "10.0.0.1:6002", "10.0.0.9:9999", 30, "0011"), 1.0)
    ledger.observe(ConnectionOpened(connection_id="t0", at=1.0, client=Endpoint("10.0.0.1", 5000),
                                    server=Endpoint("10.0.0.2", 443), transport="tls"))
    ledger.observe(Diagnostic(level="warning", message="TLS connection t0 (...): 3 encrypted records not decrypted: "
                              "the key log has no secret for client random 00ff…", connection_id="t0",
                              code="not-decrypted"))
    ledger.decoded("q4", "h3", "trial: key-log line 7", connection_id="q1")
    ledger.undecodable("q4", "too late: decoded wins")
    accounts = _accounts(ledger.finish())
    assert accounts["t0"].status == "undecodable"
    assert accounts["t0"].reason == "not decrypted: the key log has no secret for client random 00ff…"
    assert accounts["q3"].status == "undecodable" and "QUIC" in accounts["q3"].reason
    q4 = accounts["q4"]
    assert (q4.status, q4.protocol, q4.how, q4.connection_id) == ("decoded", "h3", "trial: key-log line 7", "q1")
    assert (accounts["q5"].status, accounts["q5"].reason) == ("not-web", "UDP, not QUIC")


def test_events_of_an_attributed_connection_reach_its_conversation() -> None:
    ledger = ConversationLedger()
    ledger.packet(_udp(7, "10.0.0.1:7000", "10.0.0.2:443", 1200, "45"), 1.0)
    ledger.decoded("q7", "h3", "trial: key-log line 3", connection_id="q1")
    ledger.observe(ConnectionUpdated(connection_id="q1", at=2.0, decrypted_how="trial: key-log line 4"))
    assert _accounts(ledger.finish())["q7"].how == "trial: key-log line 3"  # the explicit verdict stands


def _tshark_conversations(capture: Path) -> int:
    out = subprocess.run(["tshark", "-n", "-r", str(capture), "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if "<->" in line)


def _check_every_conversation_accounted(capture_path: Path, keys: Path | None) -> list[ConversationAccounted]:
    capture = load_capture(str(capture_path), str(keys) if keys else None)
    ids = [a.conversation_id for a in capture.conversations]
    assert len(ids) == len(set(ids)) == _tshark_conversations(capture_path)
    listed = " ".join(d.message for d in capture.diagnostics if d.code == "undecoded-conversation")
    for account in capture.conversations:
        assert account.status in ("decoded", "undecodable", "not-web")
        if account.status == "decoded":
            assert account.connection_id in capture.connections and account.protocol
        if account.status == "undecodable":
            assert f" {account.conversation_id} " in listed  # never in silence
    return capture.conversations


@pytest.mark.parametrize("name", ["nginx-second-connection", "h3-two-connections", "nghttpd-h2c"])
def test_bundled_captures_account_for_every_conversation(name: str) -> None:
    keys = CAPTURES / f"{name}.keys"
    accounts = _check_every_conversation_accounted(CAPTURES / f"{name}.pcapng", keys if keys.exists() else None)
    assert {a.status for a in accounts} == {"decoded"}
    assert all(a.how in ("handshake", "cleartext") for a in accounts)


def test_public_browser_capture_accounts_for_every_conversation() -> None:
    folder = PUBLIC / "wt-amazon1"
    if not folder.exists():
        pytest.skip("the public captures are not beside the project here")
    accounts = _check_every_conversation_accounted(folder / "amazon1.cap.gz", folder / "amazon1.key_log.txt.gz")
    statuses = {a.conversation_id: (a.status, a.reason) for a in accounts}
    assert sum(1 for s, r in statuses.values() if (s, r) == ("not-web", "DNS")) >= 20
    # QUIC on port 443, including a connection whose handshake precedes the capture, is never "not web".
    assert all(a.status != "not-web" for a in accounts if a.transport == "udp" and a.server.port == 443)
    assert sum(1 for s, _ in statuses.values() if s == "decoded") >= 9
