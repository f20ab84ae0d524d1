"""Pushes a client must refuse, so they can never have been used (RFC 9113 §8.4, §5.1.1).

Three kinds, each a protocol error the client must answer by refusing the push: a promise for an authority the
connection is not authoritative for (its server certificate does not name the host), a PUSH_PROMISE sent on a
stream the server itself opened (a pushed stream), and a promised stream ID that is not new on the connection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from pushscope.http.headers import header_value
from pushscope.model.entities import Capture, Connection, Push


@dataclass(frozen=True, slots=True)
class Refusal:
    detail: str  # "not-authoritative", "promise-on-pushed-stream", "reused-stream-id"
    why: str


class RefusalIndex:
    """Per push, whether the client must refuse it; built once in promise order (linear)."""

    def __init__(self, capture: Capture) -> None:
        self._reused: dict[int, int] = {}
        highest: dict[str, int] = {}
        for push in sorted(capture.pushes, key=lambda p: (p.promised_at, p.id)):
            promised = push.promised_stream_id
            if push.protocol != "h2" or promised is None:
                continue
            previous = highest.get(push.connection_id)
            if previous is not None and promised <= previous:
                self._reused[push.id] = previous
            highest[push.connection_id] = max(promised, previous or 0)

    def refusal(self, push: Push, conn: Connection | None) -> Refusal | None:
        if push.protocol == "h2" and push.parent_stream_id and push.parent_stream_id % 2 == 0:
            return Refusal("promise-on-pushed-stream", f"the PUSH_PROMISE came on stream {push.parent_stream_id}, "
                           "which the server itself opened: a client must treat that as a PROTOCOL_ERROR "
                           "(RFC 9113 §8.4) and refuse the push")
        if push.id in self._reused:
            return Refusal("reused-stream-id", f"promised stream {push.promised_stream_id} is not above stream "
                           f"{self._reused[push.id]}, already opened by the server on this connection: a client "
                           "must treat that as a PROTOCOL_ERROR (RFC 9113 §5.1.1) and refuse the push")
        return _authority_refusal(push, conn)


def _authority_refusal(push: Push, conn: Connection | None) -> Refusal | None:
    names = conn.certificate_names if conn is not None else None
    authority = header_value(push.promise_headers, ":authority")
    if not names or not authority or not push.url_known:
        return None  # no certificate seen (cleartext, resumed session, not decrypted): nothing to judge by
    host = _host(authority)
    if host is None or _authoritative(tuple(names), host):
        return None
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return Refusal("not-authoritative", f"the server's certificate names {shown}, not {host}: the connection is "
                   "not authoritative for it, and a client must refuse the push (RFC 9113 §8.4)")


# Every push of a connection asks the same question: answered once per certificate and host (bounded memo).
@lru_cache(maxsize=4096)
def _authoritative(names: tuple[str, ...], host: str) -> bool:
    return any(_covers(name, host) for name in names)


@lru_cache(maxsize=4096)
def _host(authority: str) -> str | None:
    try:
        return (urlsplit(f"//{authority}").hostname or "").lower() or None
    except ValueError:
        return None


def _covers(name: str, host: str) -> bool:
    """RFC 6125 matching: exact (IP addresses compared as addresses), or a wildcard for one left-most label."""
    name = name.strip().lower().rstrip(".")
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(host)
    except ValueError:
        pass
    host = host.rstrip(".")
    if name.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == name[2:]
    return name == host
