"""What the capture cannot show, so that no verdict rests on it.

Three gaps: a URL whose ``:path``/``:authority`` refers to a header-table entry from before the capture (such
URLs never equal one another), a document with such a URL (its references are kept where they do not depend
on what is missing), and a client's earlier traffic that could not be decrypted or decoded (it may have
filled the client's cache, so no push of that client can be proven used or unreferenced after it).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from pushscope.http.references import Reference, references_in
from pushscope.http.urls import normalize_url
from pushscope.model.entities import Capture, Exchange, Push

# Two hosts no URL in a capture can name (RFC 2606 .invalid): resolving against both finds what depends on them.
_PROBE_HOSTS = ("unknown-a.invalid", "unknown-b.invalid")
_PROBE_PATHS = ("/unknown-a/document", "/unknown-b/x/document")


def url_key(thing: Exchange | Push) -> str:
    """The URL a cache or a push match compares; an unreadable URL gets a key equal to nothing else."""
    if thing.url_known:
        return normalize_url(thing.url)
    kind = "push" if isinstance(thing, Push) else "exchange"
    return f"<unreadable URL of {kind} #{thing.id}>"


def known_authorities(capture: Capture) -> dict[str, str]:
    """Per connection, the authority its readable requests and promises name (the first one seen)."""
    found: dict[str, str] = {}
    for exchange in capture.exchanges:
        if exchange.connection_id not in found and ":authority" not in exchange.unknown_fields and exchange.authority:
            found[exchange.connection_id] = exchange.authority
    return found


@dataclass(slots=True)
class ResolvedDocument:
    references: list[Reference]
    assumed: str  # what was assumed to resolve them, for evidence
    unresolved: int  # references that depend on the part of the URL nobody knows


def resolve_unreadable_document(document: Exchange, body: bytes, capture: Capture,
                                authorities: dict[str, str]) -> ResolvedDocument:
    """References of a document whose URL the capture cannot show, resolved from what its connection shows.

    The authority comes from the connection's other requests and promises, else its SNI; an unknown path is
    not guessed: references relative to it are resolved against two different paths (and hosts, if no authority
    is known) and only those that come out the same are kept.
    """
    missing = [name for name in (":authority", ":path") if name in document.unknown_fields]
    authority, source = document.authority, "the request"
    if not authority:
        conn = capture.connections.get(document.connection_id)
        authority, source = authorities.get(document.connection_id, ""), "the connection's other requests"
        if not authority and conn is not None and conn.sni:
            authority, source = conn.sni, "the connection's SNI"
    hosts = (authority, authority) if authority else _PROBE_HOSTS
    paths = (document.path, document.path) if ":path" not in document.unknown_fields else _PROBE_PATHS
    scheme = document.scheme
    first, second = (references_in(document.content_type, body, f"{scheme}://{host}{path or '/'}")
                     for host, path in zip(hosts, paths, strict=True))
    stable = {(r.url, r.offset) for r in second}
    kept = [r for r in first if (r.url, r.offset) in stable]
    assumed = f"its {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in the capture"
    if authority and ":authority" in missing:
        assumed += f"; authority {authority} taken from {source}"
    unresolved = len(first) - len(kept)
    if unresolved:
        assumed += f"; {unresolved} references that depend on the unknown part were not resolved"
    return ResolvedDocument(kept, assumed, unresolved)


class UnreadableTraffic:
    """Per client and server address, the connections and conversations the capture holds but could not read.

    Keyed by the server's address too: only traffic with the same server can have put its resources in the
    client's cache (a client's unreadable connection to some other site says nothing about this one). The pair
    is unordered: without its handshake or SYN, which end of an unreadable connection was the client is a guess.
    """

    def __init__(self, capture: Capture) -> None:
        by_client: dict[frozenset[str], list[tuple[float, str]]] = {}
        named: set[str] = set()
        for conn in capture.connections.values():
            if conn.decrypted is False:
                named.add(conn.id)
                by_client.setdefault(frozenset((conn.client.address, conn.server.address)), []).append(
                    (conn.opened_at, f"connection {conn.id} ({conn.client} to {conn.server}) could not be decrypted"))
            elif (conn.decrypted_how or "").startswith("trial"):
                # Decrypted without its handshake: it began before the capture, and what it carried then is not
                # in the capture.
                by_client.setdefault(frozenset((conn.client.address, conn.server.address)), []).append(
                    (conn.opened_at, f"connection {conn.id} ({conn.client} to {conn.server}) began before the "
                                     "capture (decrypted without its handshake): its earlier traffic is not in it"))
        for conversation in capture.conversations:
            if conversation.status != "undecodable" or conversation.connection_id in named:
                continue
            where = f"{conversation.transport.upper()} {conversation.client} to {conversation.server}"
            why = f": {conversation.reason}" if conversation.reason else ""
            at = conversation.first_at if conversation.first_at is not None else float("-inf")
            key = frozenset((conversation.client.address, conversation.server.address))
            by_client.setdefault(key, []).append((at, f"{where} could not be read{why}"))
        for entries in by_client.values():
            entries.sort(key=lambda entry: entry[0])
        self._by_client = by_client

    def before(self, client: str, server: str, at: float, *, shown: int = 3) -> tuple[int, list[str]]:
        """How much of the client's traffic with ``server`` that began by ``at`` was unreadable; the first few."""
        entries = self._by_client.get(frozenset((client, server)), [])
        count = bisect_right(entries, at, key=lambda entry: entry[0])
        return count, [text for _, text in entries[:min(count, shown)]]
