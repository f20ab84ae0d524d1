"""How much of a capture was decoded, from a report dict: what gates and comparisons must check before judging.

A connection that carries application data pushscope could not read (no key, wrong key, no handshake) hides its
pushes: a report of it would show zeros, and a gate would pass on nothing. The sources say so per connection
(diagnostic code ``not-decrypted``) and per conversation (``conversations[].status == "undecodable"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DECODED_PROTOCOLS = ("h2", "h3", "http/1.1")


@dataclass(slots=True)
class Coverage:
    undecoded: list[tuple[str, str]] = field(default_factory=list)  # (connection id or "", why)
    decoded: int = 0  # connections whose HTTP was read

    @property
    def complete(self) -> bool:
        return not self.undecoded

    @property
    def nothing_decoded(self) -> bool:
        return bool(self.undecoded) and self.decoded == 0

    def headline(self) -> str | None:
        """One line for the top of a report, or None when every connection with application data was read."""
        count = len(self.undecoded)
        if not count:
            return None
        if self.nothing_decoded:
            return (f"NOTHING DECODED: {_connections(count)} with application data could not be decrypted or read, "
                    "so this shows no HTTP at all (see the diagnostics: a key log is missing or wrong)")
        return (f"PARTLY DECODED: {count} of {count + self.decoded} connections with application data could not be "
                "decrypted or read; their requests and pushes are missing (see the diagnostics)")


def _connections(count: int) -> str:
    return "1 connection" if count == 1 else f"{count} connections"


def coverage_of(report: dict[str, Any]) -> Coverage:
    undecoded: dict[str, str] = {}
    for diagnostic in report.get("diagnostics") or []:
        if diagnostic.get("code") == "not-decrypted":
            key = diagnostic.get("connection") or f"#{len(undecoded)}"
            undecoded.setdefault(key, diagnostic.get("message", ""))
    for conversation in report.get("conversations") or []:
        if conversation.get("status") == "undecodable":
            key = conversation.get("connection") or conversation.get("connection_id") or \
                f"{conversation.get('client')}-{conversation.get('server')}"
            undecoded.setdefault(key, conversation.get("reason", ""))
    decoded = sum(1 for conn in report.get("connections") or []
                  if conn.get("id") not in undecoded and conn.get("protocol") in DECODED_PROTOCOLS)
    return Coverage([(key if not key.startswith("#") else "", why) for key, why in undecoded.items()], decoded)


def coverage_of_capture(capture: Any) -> Coverage:
    """The same account read from the model (a ``Capture``), without building the whole report."""
    return coverage_of({
        "diagnostics": [{"code": d.code, "connection": d.connection_id, "message": d.message}
                        for d in capture.diagnostics],
        "conversations": [{"status": c.status, "connection": c.connection_id, "reason": c.reason,
                           "client": str(c.client), "server": str(c.server)} for c in capture.conversations],
        "connections": [{"id": c.id, "protocol": c.protocol} for c in capture.connections.values()],
    })
