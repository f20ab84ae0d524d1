"""Link header values (RFC 8288): the rel=preload targets in them, as a browser reads them on arrival."""

from __future__ import annotations

import re

from pushscope.http.urls import join_url

LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^,;]+(?:=(?:\"[^\"]*\"|[^,;]*))?)*)")
# ``as`` values a preload may name (the fetch destinations); anything else fetches as "empty".
PRELOAD_DESTINATIONS = {"style", "script", "font", "image", "fetch", "document", "audio", "video", "track"}


def link_params(text: str) -> tuple[set[str], bool, str]:
    """(rel values, nopush, the ``as`` destination) of one link's parameters."""
    rels: set[str] = set()
    nopush = False
    destination = "empty"
    for part in text.split(";"):
        name, _sep, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "rel":
            rels |= set(value.strip().strip('"').lower().split())
        elif name == "nopush":
            nopush = True
        elif name == "as":
            named = value.strip().strip('"').lower()
            destination = named if named in PRELOAD_DESTINATIONS else "empty"
    return rels, nopush, destination


def link_preloads(values: list[str], base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, destination) of every rel=preload in these Link header values."""
    found: list[tuple[str, str]] = []
    for value in values:
        for match in LINK_VALUE.finditer(value):
            rels, _nopush, destination = link_params(match.group(2))
            if "preload" not in rels:
                continue
            joined = join_url(base_url, match.group(1).strip())
            if joined is not None:
                found.append((joined, destination))
    return found
