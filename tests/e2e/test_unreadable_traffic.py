"""A capture cut after the first page load: the conversation account alone names the unreadable traffic."""

from __future__ import annotations

from pushscope.analysis import analyse
from pushscope.pipeline import load_capture

from .truth import CAPTURES

NAME = "nginx-cut-after-first-load"


def test_the_conversation_account_alone_makes_later_pushes_unknown() -> None:
    capture = load_capture(str(CAPTURES / f"{NAME}.pcapng"), str(CAPTURES / f"{NAME}.keys"))
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
