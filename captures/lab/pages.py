"""What the lab clients read from a page, and the HTTP cache they keep: the same rules for HTTP/2 and HTTP/3.

A page's references are what a browser would fetch for it: ``<link rel=stylesheet|preload|modulepreload href>``,
``<script src>`` and ``<img src>`` in HTML, ``url()`` and ``@import`` in CSS. The cache is a private browser cache
reduced to what the demo site needs: freshness from ``Cache-Control: max-age`` only, ``no-cache`` never fresh,
``no-store`` never stored; the validators (``ETag``, ``Last-Modified``) are kept for revalidation.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser


class _RefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []  # (tag, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        if tag == "link" and a.get("href") and {"stylesheet", "preload", "modulepreload"} & set(rels):
            self.refs.append(("link", a["href"]))
        elif tag in ("script", "img") and a.get("src"):
            self.refs.append((tag, a["src"]))


def tagged_html_references(body: bytes) -> list[tuple[str, str]]:
    """``(tag, href)`` of every reference in the page, in document order (tag: ``link``, ``script``, ``img``)."""
    p = _RefParser()
    p.feed(body.decode("utf-8", errors="replace"))
    p.close()
    return p.refs


def html_references(body: bytes) -> list[str]:
    return [href for _, href in tagged_html_references(body)]


_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.I)


def css_references(body: bytes) -> list[str]:
    text = body.decode("utf-8", errors="replace")
    refs = [m.group(2) for m in _CSS_IMPORT.finditer(text)]
    refs += [m.group(2) for m in _CSS_URL.finditer(text)]
    return [r for r in refs if not r.startswith("data:")]


@dataclass
class CacheEntry:
    url: str
    stored_at: float
    max_age: int | None
    no_cache: bool
    body: bytes
    content_type: str
    source: str  # "request" / "push"
    etag: str | None = None
    last_modified: str | None = None

    def fresh(self, now: float) -> bool:
        return (not self.no_cache and self.max_age is not None
                and now - self.stored_at < self.max_age)


class HttpCache:
    """A tiny private HTTP cache: freshness from ``Cache-Control: max-age`` only."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    def store(self, url: str, headers: dict[str, str], body: bytes, source: str) -> None:
        cc = headers.get("cache-control", "").lower()
        if "no-store" in cc:
            return
        m = re.search(r"max-age\s*=\s*(\d+)", cc)
        self.entries[url] = CacheEntry(
            url=url, stored_at=time.monotonic(), max_age=int(m.group(1)) if m else None,
            no_cache="no-cache" in cc, body=body, content_type=headers.get("content-type", ""),
            source=source, etag=headers.get("etag"), last_modified=headers.get("last-modified"))

    def fresh(self, url: str) -> CacheEntry | None:
        e = self.entries.get(url)
        return e if e is not None and e.fresh(time.monotonic()) else None
