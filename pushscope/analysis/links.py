"""Link headers (RFC 8288) of a response and its 103 Early Hints: which preloads caused which pushes."""

from __future__ import annotations

from dataclasses import dataclass

from pushscope.http.headers import header_values
from pushscope.http.links import LINK_VALUE, link_params
from pushscope.http.urls import join_url, normalize_url
from pushscope.model.entities import Exchange


@dataclass(frozen=True, slots=True)
class PreloadLink:
    url: str
    text: str  # the link as the server wrote it
    nopush: bool
    early_hint: bool


def preload_links(exchange: Exchange) -> list[PreloadLink]:
    found: list[PreloadLink] = []
    sources = [(exchange.response_headers, False)] + [(h, True) for h in exchange.informational]
    for headers, early in sources:
        for value in header_values(headers, "link"):
            for match in LINK_VALUE.finditer(value):
                rels, nopush, _as = link_params(match.group(2))
                if "preload" not in rels:
                    continue
                joined = join_url(exchange.url, match.group(1).strip())
                if joined is None:  # urllib refuses it: nothing a browser would preload
                    continue
                url = normalize_url(joined)
                found.append(PreloadLink(url, match.group(0).strip(), nopush, early))
    return found
