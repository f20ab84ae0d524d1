"""A capture cut after the first page load: the conversation account alone names the unreadable traffic."""

from __future__ import annotations

from pathlib import Path

from pushscope.analysis import analyse
from pushscope.pipeline import load_capture

from .truth import CAPTURES

NAME = "nginx-cut-after-first-load"


def _keys_without_the_cut_connection(tmp_path: Path) -> str:
    """The key log less the first connection's secrets: with them, pushscope would decrypt what is left of that
    connection by trying them (it is TLS 1.3), and it would no longer be unreadable."""
    lines = (CAPTURES / f"{NAME}.keys").read_text().splitlines()
    first = next(line.split()[1] for line in lines if line.startswith("CLIENT_TRAFFIC_SECRET_0"))
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(line for line in lines if first not in line) + "\n")
    return str(keys)


def test_what_is_left_of_the_cut_connection_is_decrypted_and_still_makes_later_pushes_unknown() -> None:
    capture = load_capture(str(CAPTURES / f"{NAME}.pcapng"), str(CAPTURES / f"{NAME}.keys"))
    trial = [conn for conn in capture.connections.values() if (conn.decrypted_how or "").startswith("trial")]
    assert len(trial) == 1
    assert capture.pushes and all((p.outcome, p.reason) == ("unknown", "earlier-traffic-unreadable")
                                  for p in capture.pushes)
    text = " ".join(e.text for e in capture.pushes[0].evidence if e.kind == "unreadable-traffic")
    assert "began before the capture" in text


def test_the_conversation_account_alone_makes_later_pushes_unknown(tmp_path: Path) -> None:
    capture = load_capture(str(CAPTURES / f"{NAME}.pcapng"), _keys_without_the_cut_connection(tmp_path))
    [unreadable] = [c for c in capture.conversations if c.status == "undecodable"]
    assert "handshake is not in the capture" in unreadable.reason
    for conn in capture.connections.values():
        if conn.decrypted is False:
            conn.decrypted = None  # forget the connection's own flag: only the conversation ledger remains
    analyse(capture)
    assert capture.pushes and all((p.outcome, p.reason) == ("unknown", "earlier-traffic-unreadable")
                                  for p in capture.pushes)
    text = " ".join(e.text for e in capture.pushes[0].evidence if e.kind == "unreadable-traffic")
    assert "could not be read: not decrypted" in text
    capture.conversations.clear()
    analyse(capture)
    assert {p.reason for p in capture.pushes} != {"earlier-traffic-unreadable"}
