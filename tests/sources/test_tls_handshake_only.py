"""A TLS connection whose handshake tshark decrypted is never said to have failed decryption: a connection that
carried no application data (a spare one, or one the capture or the load stopped reading after its handshake) is
decrypted with nothing to decode; one whose application data stayed encrypted names the traffic secrets."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest

from pushscope.events import ConnectionUpdated, ConversationAccounted, Diagnostic
from pushscope.pipeline import load_capture
from pushscope.sources.capture_file import read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SOURCE = CAPTURES / "nginx-push-basic.pcapng"
KEYS = CAPTURES / "nginx-push-basic.keys"


def _cut_after_server_handshake(tmp_path: Path) -> Path:
    """The capture up to the server's encrypted handshake flight (EncryptedExtensions ... Finished)."""
    found = subprocess.run(["tshark", "-r", str(SOURCE), "-o", f"tls.keylog_file:{KEYS}", "-Y",
                            "tls.handshake.type == 8", "-T", "fields", "-e", "frame.number"],
                           check=True, capture_output=True, text=True).stdout.split()
    cut = tmp_path / "handshake-only.pcapng"
    subprocess.run(["editcap", "-r", str(SOURCE), str(cut), f"1-{found[0]}"], check=True, capture_output=True)
    return cut


def test_a_connection_cut_after_its_handshake_is_decrypted_and_not_reported_as_failing(tmp_path: Path) -> None:
    cut = _cut_after_server_handshake(tmp_path)
    items = list(read_capture(str(cut), keylog=str(KEYS)))
    diagnostics = [i for i in items if isinstance(i, Diagnostic)]
    assert not [d for d in diagnostics if d.code == "not-decrypted"], [d.message for d in diagnostics]
    assert any(isinstance(i, ConnectionUpdated) and i.decrypted is True for i in items)
    accounts = [i for i in items if isinstance(i, ConversationAccounted)]
    assert [a.status for a in accounts] == ["decoded"]
    capture = load_capture(str(cut), keylog=str(KEYS))
    assert [c.decrypted for c in capture.connections.values()] == [True] and not capture.exchanges


def test_wrong_traffic_secrets_are_named_when_the_handshake_decrypted(tmp_path: Path) -> None:
    keys = tmp_path / "wrong-traffic.keys"
    text = KEYS.read_text()
    # The handshake secrets stay right; the application traffic secrets become other (well-formed) values.
    keys.write_text(re.sub(r"^((?:CLIENT|SERVER)_TRAFFIC_SECRET_0 \S+ )(\S+)$",
                           lambda m: m.group(1) + "ab" * (len(m.group(2)) // 2), text, flags=re.M))
    capture = load_capture(str(SOURCE), keylog=str(keys))
    failed = [d for d in capture.diagnostics if d.code == "not-decrypted"]
    assert len(failed) == 1 and "handshake was decrypted" in failed[0].message
    assert "traffic secrets" in failed[0].message and "client random" not in failed[0].message
    assert [c.decrypted for c in capture.connections.values()] == [False]
    assert not capture.exchanges


@pytest.mark.parametrize(("name", "nth_handshake"), [("nginx-preload-twoloads", 1), ("nginx-second-connection", 1),
                                                     ("nginx-second-connection", 2)])
def test_a_cancelled_load_never_claims_decryption_failed(name: str, nth_handshake: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelled right after a connection's handshake was read: its application data was never reached."""
    import pushscope.sources.capture_file as capture_file

    monkeypatch.setattr(capture_file, "PROGRESS_EVERY", 0.0)  # the cancel is seen at the next row
    cancel = threading.Event()
    items = []
    handshakes = 0
    for item in read_capture(str(CAPTURES / f"{name}.pcapng"), cancel=cancel, keylog=str(CAPTURES / f"{name}.keys")):
        items.append(item)
        if isinstance(item, ConnectionUpdated) and item.tls_version:  # the ServerHello's row
            handshakes += 1
            if handshakes == nth_handshake:
                cancel.set()
    codes = [i.code for i in items if isinstance(i, Diagnostic)]
    assert "cancelled" in codes
    messages = [i.message for i in items if isinstance(i, Diagnostic)]
    assert not [m for m in messages if "not decrypted" in m and "cancelled" not in m], messages
    undecoded = [a for a in items if isinstance(a, ConversationAccounted) and a.status == "undecodable"]
    assert all("cancelled" in a.reason for a in undecoded), [a.reason for a in undecoded]


@pytest.mark.parametrize(("types", "contents", "opaque", "data"), [
    ("2,8,11,15,20", "22,20,22,22,22,22", "23,23,23,23", 0),  # the server's flight, decrypted (as tshark shows it)
    ("20", "20,22", "23", 0),  # the client's Finished alone
    ("20", "20,22", "23,23", 1),  # its Finished and a first request that stayed encrypted, in one segment
    ("20", "20,22,23", "23,23", 1),  # the same, the request decrypted
    ("4", "22", "23", 0),  # a NewSessionTicket
    ("", "23", "23", 1),  # application data
    ("20", "22,23", "", 1),  # TLS 1.2: Finished and application data in one segment
])
def test_application_records_are_told_from_handshake_records(types: str, contents: str, opaque: str,
                                                             data: int) -> None:
    from pushscope.sources.tcp_rows import _data_records

    encrypted = max(contents.split(",").count("23"), opaque.split(",").count("23"))
    assert _data_records(types.split(","), contents, opaque, encrypted) == data
