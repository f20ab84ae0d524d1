"""Which URLs a document or stylesheet references, and where in its bytes each reference sits.

The position matters: a browser's parser can ask for a subresource only once the bytes that name it have
arrived, so the offset, mapped to the time its DATA frame arrived, is the moment the resource became needed.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from html.parser import HTMLParser

from pushscope.http.urls import join_url, normalize_url

IMPORT_LOOKBACK = 256  # characters looked at before url( for an "@import"
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.IGNORECASE)
# <link rel> values whose href the browser fetches.
FETCHED_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "apple-touch-icon", "manifest",
                     "prefetch"}
URL_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "input": ("src",),
    "track": ("src",),
}


@dataclass(frozen=True, slots=True)
class Reference:
    url: str
    offset: int  # byte offset in the decoded body where the reference ends
    kind: str  # e.g. "<link rel=stylesheet>", "<script>", "url()"


def _srcset_urls(value: str) -> list[str]:
    return [candidate.strip().split()[0] for candidate in value.split(",") if candidate.strip()]


class _ReferenceParser(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, int, str]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._in_style = False
        self._text = text
        self.base_href: str | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        offset = self._offset()
        tag_end = self._text.find(">", offset)
        end = tag_end + 1 if tag_end >= 0 else offset
        if tag == "base" and self.base_href is None and values.get("href"):
            self.base_href = values["href"]
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if rels & FETCHED_LINK_RELS and values.get("href"):
                self.found.append((values["href"], end, f"<link rel={' '.join(sorted(rels))}>"))
            if "imagesrcset" in values:
                self.found += [(u, end, "<link imagesrcset>") for u in _srcset_urls(values["imagesrcset"])]
        for name in URL_ATTRIBUTES.get(tag, ()):
            value = values.get(name)
            if not value:
                continue
            urls = _srcset_urls(value) if name == "srcset" else [value]
            self.found += [(u, end, f"<{tag} {name}>") for u in urls]
        if tag == "style":
            self._in_style = True
        if "style" in values:
            self.found += [(u, end, "style=url()") for u, _, _ in _css_urls(values["style"])]

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            base = self._offset()
            self.found += [(u, base + pos, f"<style> {kind}") for u, pos, kind in _css_urls(data)]


def _css_urls(text: str) -> list[tuple[str, int, str]]:
    """(url, end offset, kind): kind is "@import" for `@import "x"` and `@import url(x)`, else "url()"."""
    found = []
    for match in CSS_URL.finditer(text):
        url = match.group(2) or match.group(4)
        if not url or url.startswith("data:"):
            continue
        # A bounded look-back: slicing from the start of the text for every url() would be quadratic.
        before = text[max(0, match.start() - IMPORT_LOOKBACK):match.start()]
        imported = match.group(4) is not None or before.rstrip().lower().endswith("@import")
        found.append((url, match.end(), "@import" if imported else "url()"))
    return found


class _ByteOffsets:
    """Character offsets to UTF-8 byte offsets, encoding each stretch of text once when asked in increasing
    order (as references are found), so 100,000 references do not re-encode the page 100,000 times."""

    def __init__(self, text: str) -> None:
        self._text, self._ascii = text, text.isascii()
        self._char, self._byte = 0, 0

    def __call__(self, char_offset: int) -> int:
        if self._ascii:
            return char_offset
        if char_offset < self._char:  # out of order (rare): count from the start again
            self._char, self._byte = 0, 0
        self._byte += len(self._text[self._char:char_offset].encode("utf-8", "surrogatepass"))
        self._char = char_offset
        return self._byte


def html_references(body: bytes, base_url: str) -> list[Reference]:
    text = body.decode("utf-8", "replace")
    parser = _ReferenceParser(text)
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # html.parser is lenient, but a hostile document must never stop the analysis
        pass
    if parser.base_href:
        base_url = join_url(base_url, parser.base_href) or base_url
    return _resolve(parser.found, text, base_url)


def css_references(body: bytes, base_url: str) -> list[Reference]:
    text = body.decode("utf-8", "replace")
    return _resolve(_css_urls(text), text, base_url)


def _resolve(found: list[tuple[str, int, str]], text: str, base_url: str) -> list[Reference]:
    references = []
    byte_offset = _ByteOffsets(text)
    for url, char_offset, kind in found:
        url = url.strip()
        if not url or url.startswith(("data:", "javascript:", "about:", "#", "mailto:")):
            continue
        joined = join_url(base_url, url)
        if joined is None:  # a URL urllib refuses (bad IPv6 brackets, port out of range): no resource to match
            continue
        absolute = normalize_url(joined)
        references.append(Reference(absolute, byte_offset(char_offset), kind))
    return references


# The same page served again and again (every load of a site) is parsed once: results by (type, base URL, digest of
# the body), at most MEMO_ENTRIES of them, none with more than MEMO_REFERENCES references (memory stays bounded).
MEMO_ENTRIES = 512
MEMO_REFERENCES = 5000
_memo_lock = threading.Lock()
_memo: OrderedDict[tuple[str, str, bytes], tuple[Reference, ...]] = OrderedDict()


def references_in(content_type: str, body: bytes, base_url: str) -> list[Reference]:
    key = (content_type, base_url, hashlib.sha256(body).digest())
    with _memo_lock:  # the inspector analyses in a worker thread
        found = _memo.get(key)
        if found is not None:
            _memo.move_to_end(key)
            return list(found)
    if content_type == "text/css" or (not content_type and base_url.endswith(".css")):
        references = css_references(body, base_url)
    else:
        references = html_references(body, base_url)
    if len(references) <= MEMO_REFERENCES:
        with _memo_lock:
            _memo[key] = tuple(references)
            if len(_memo) > MEMO_ENTRIES:
                _memo.popitem(last=False)
    return references
