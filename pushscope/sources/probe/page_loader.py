"""Loading a page the way a browser does, claiming pushes on the way.

The document is always fetched from the network (as a reload does); its HTML, and every stylesheet, is parsed
with :func:`pushscope.http.references.references_in` (the same extraction the analysis uses) and the
subresources are fetched with a browser's concurrency (six at a time) and headers (User-Agent, an Accept per
destination, ``Accept-Encoding: gzip, deflate, br``, Accept-Language). For each subresource, in order:

1. a fresh copy in the HTTP cache (RFC 9111, Vary honoured) is used without a request;
2. else an unclaimed push promised on this connection for the same URL and method is claimed (and waited
   for); if its response varies on a request header whose promised value differs from ours, it is given up;
3. else the probe sends its own request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pushscope.events import Diagnostic, Headers
from pushscope.http.bodies import BodyUnavailable, undo_encodings
from pushscope.http.freshness import vary_matches
from pushscope.http.headers import header_value, header_values
from pushscope.http.links import link_preloads
from pushscope.http.references import Reference, references_in
from pushscope.http.urls import join_url, normalize_url
from pushscope.sources.probe.connection import (
    ACCEPT_ENCODING,
    ACCEPT_LANGUAGE,
    Origin,
    ProbeConnection,
    ProbeError,
    ProbeOptions,
    Transfer,
)
from pushscope.sources.probe.http_cache import HttpCache

ACCEPT = {
    "document": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "iframe": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "style": "text/css,*/*;q=0.1",
    "image": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "manifest": "application/manifest+json,*/*;q=0.8",
}
FONT_EXTENSIONS = (".woff2", ".woff", ".ttf", ".otf", ".eot")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp")
REDIRECTS = {301, 302, 303, 307, 308}
PARSED_DESTINATIONS = ("document", "iframe", "style")

ConnectionGetter = Callable[[Origin, "tuple[str, Headers] | None"], Awaitable[ProbeConnection]]


def destination_of(reference: Reference) -> str:
    """The fetch destination a browser would give this reference (it picks the Accept header)."""
    kind, path = reference.kind, urlsplit(reference.url).path.lower()
    if kind.startswith("<link rel="):
        rels = set(kind[len("<link rel="):-1].split())
        if "stylesheet" in rels:
            return "style"
        if rels & {"icon", "shortcut", "apple-touch-icon"}:
            return "image"
        if "manifest" in rels:
            return "manifest"
        return _by_extension(path)
    if kind.startswith("<script"):
        return "script"
    if kind.startswith(("<img", "<source", "<link imagesrcset", "<input")) or kind == "<video poster>":
        return "image"
    if kind.startswith("<iframe"):
        return "iframe"
    if kind.startswith(("<video", "<audio")):
        return "media"
    if kind == "@import":
        return "style"
    if "url()" in kind:
        return "font" if path.endswith(FONT_EXTENSIONS) else "image"
    return _by_extension(path)


def _by_extension(path: str) -> str:
    if path.endswith(".css"):
        return "style"
    if path.endswith((".js", ".mjs")):
        return "script"
    if path.endswith(FONT_EXTENSIONS):
        return "font"
    if path.endswith(IMAGE_EXTENSIONS):
        return "image"
    return "empty"


@dataclass(slots=True)
class Fetched:
    """What the page got for one URL, and from where: "network", "push" or "cache"."""

    url: str
    destination: str
    source: str
    status: int | None = None
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    transfer: Transfer | None = None
    error: str | None = None
    referenced_by: str | None = None
    completed_at: float | None = None  # when the page had it (or gave up): the end of its fetch

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return (header_value(self.headers, "content-type") or "").split(";")[0].strip().lower()


def readable_body(status: int | None, headers: Headers, body: bytes, *, truncated: bool = False) -> bytes | None:
    """The body with its Content-Encoding undone (the model's own decoder), or None if it cannot be read. A body
    cut at the probe's limit is read as far as it goes."""
    try:
        return undo_encodings(body, header_value(headers, "content-encoding") or "", complete=not truncated).data
    except BodyUnavailable:
        return None


class CookieJar:
    """Just enough cookies for a page load: name=value pairs set by responses, sent back on later requests."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def take(self, headers: Headers) -> None:
        for value in header_values(headers, "set-cookie"):
            pair = value.split(";", 1)[0]
            name, sep, content = pair.partition("=")
            if sep and name.strip():
                self.cookies[name.strip()] = content.strip()

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


class PageLoader:
    """One page load (one run): fetches the document and its subresources through ``get_connection``."""

    def __init__(self, options: ProbeOptions, cache: HttpCache, cookies: CookieJar, get_connection: ConnectionGetter,
                 diagnose: Callable[[Diagnostic], None], run: str | int) -> None:
        self.options = options
        self.cache = cache
        self.cookies = cookies
        self.get_connection = get_connection
        self.diagnose = diagnose
        self.run = run
        self.fetched: list[Fetched] = []
        self.referenced: dict[str, str] = {}  # normalised URL -> the document that referenced it
        self.requested: dict[str, list[Transfer]] = {}  # normalised URL -> our own requests for it
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        self._seen: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._used_upgrade: set[int] = set()

    # -- the page ----------------------------------------------------------------------------------------
    async def load(self, url: str) -> Fetched:
        document = await self._navigate(url)
        if document.ok:
            self._parse(document)
        while self._tasks:
            pending, self._tasks = self._tasks, []
            await asyncio.gather(*pending)
        return document

    async def _navigate(self, url: str) -> Fetched:
        chain = [normalize_url(url)]
        while True:
            self._seen.add(chain[-1])
            document = await self.fetch(url, "document", navigation=True)
            location = header_value(document.headers, "location")
            if document.status not in REDIRECTS or not location:
                return document
            joined = join_url(url, location)
            if joined is None:  # a Location urllib refuses: the redirect cannot be followed
                document.error = f"redirect to a URL that does not parse: {location[:200]}"
                return document
            url, key = joined, normalize_url(joined)
            if key in chain:
                loop = " -> ".join([*chain[chain.index(key):], key])
                return self._limit(document, "redirects", f"redirect loop: {loop}")
            chain.append(key)
            if len(chain) > self.options.limits.redirects + 1:
                return self._limit(document, "redirects", f"more than {self.options.limits.redirects} redirects "
                                   f"(--max-redirects): {' -> '.join(chain)}")

    def _limit(self, document: Fetched, what: str, message: str) -> Fetched:
        self.options.limits.note(what)
        self.diagnose(Diagnostic(level="error", message=f"run {self.run}: {message}", connection_id=None,
                                 code="probe-limit"))
        document.error = message
        return document

    def _parse(self, fetched: Fetched, depth: int = 0) -> None:
        if fetched.destination not in PARSED_DESTINATIONS:
            return
        truncated = fetched.transfer is not None and fetched.transfer.body_truncated
        body = readable_body(fetched.status, fetched.headers, fetched.body, truncated=truncated)
        if body is None:
            self.diagnose(Diagnostic(level="warning",
                                     message=f"run {self.run}: cannot read {fetched.url} (Content-Encoding "
                                     f"{header_value(fetched.headers, 'content-encoding')}); its references "
                                     "were not loaded",
                                     connection_id=fetched.transfer.connection_id if fetched.transfer else None,
                                     code="probe-unreadable"))
            return
        content_type = fetched.content_type or ("text/css" if fetched.destination == "style" else "text/html")
        limits = self.options.limits
        for reference in references_in(content_type, body, fetched.url):
            key = normalize_url(reference.url)
            self.referenced.setdefault(key, fetched.url)
            if key in self._seen or urlsplit(key).scheme not in ("http", "https"):
                continue
            destination = destination_of(reference)
            if destination == "style" and depth >= limits.import_depth:
                self._say_limit("import depth", f"stylesheets nested deeper than {limits.import_depth} "
                                "(--max-import-depth): the deeper ones are not loaded")
                continue
            if len(self._seen) > limits.requests:
                self._say_limit("requests", f"more than {limits.requests} subresources (--max-requests): the "
                                "rest are not loaded")
                break
            self._seen.add(key)
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._subresource(reference.url, destination, fetched.url, depth + (destination == "style"))))

    def _preload(self, document_url: str, headers: Headers) -> None:
        """Link rel=preload targets of a 103 Early Hints or the final headers: fetched now, before the body is
        parsed, as a browser does (the body's own references to them then find them under way)."""
        for url, destination in link_preloads(header_values(headers, "link"), document_url):
            key = normalize_url(url)
            if key in self._seen or urlsplit(key).scheme not in ("http", "https"):
                continue
            if len(self._seen) > self.options.limits.requests:
                self._say_limit("requests", f"more than {self.options.limits.requests} subresources "
                                "(--max-requests): the rest are not loaded")
                return
            self._seen.add(key)
            self.referenced.setdefault(key, document_url)
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._subresource(url, destination, document_url, int(destination == "style"))))

    def _say_limit(self, what: str, message: str) -> None:
        if self.options.limits.note(what):
            self.diagnose(Diagnostic(level="warning", message=f"run {self.run}: {message}", connection_id=None,
                                     code="probe-limit"))

    async def _subresource(self, url: str, destination: str, referrer: str, depth: int) -> None:
        fetched = await self.fetch(url, destination)
        fetched.referenced_by = referrer
        if fetched.ok:
            self._parse(fetched, depth)

    # -- one URL -----------------------------------------------------------------------------------------
    def headers_for(self, destination: str) -> Headers:
        headers: Headers = [
            ("user-agent", self.options.user_agent),
            ("accept", ACCEPT.get(destination, "*/*")),
            ("accept-encoding", ACCEPT_ENCODING),
            ("accept-language", ACCEPT_LANGUAGE),
        ]
        cookie = self.cookies.header()
        if cookie:
            headers.append(("cookie", cookie))
        names = {name for name, _ in self.options.extra_headers}
        headers = [(n, v) for n, v in headers if n not in names]
        return headers + list(self.options.extra_headers)

    async def fetch(self, url: str, destination: str, *, navigation: bool = False) -> Fetched:
        try:
            fetched = await self._fetch(url, destination, navigation)
        except ProbeError as exc:
            fetched = Fetched(url, destination, "network", error=str(exc))
        except TimeoutError:
            fetched = Fetched(url, destination, "network", error=f"no complete response within "
                                                                 f"{self.options.timeout:g}s")
        fetched.completed_at = time.time()
        if fetched.error is not None:
            self.diagnose(Diagnostic(level="error" if navigation else "warning",
                                     message=f"run {self.run}: {url}: {fetched.error}", connection_id=None,
                                     code="probe-fetch-failed"))
        self.fetched.append(fetched)
        return fetched

    async def _fetch(self, url: str, destination: str, navigation: bool) -> Fetched:
        origin = Origin.of(url)
        headers = self.headers_for(destination)
        if not navigation:
            cached = self.cache.lookup(url, headers)
            if cached is not None:
                return Fetched(url, destination, "cache", cached.status, cached.response_headers, cached.body)
        connection = await self.get_connection(origin, (url, headers) if navigation else None)
        request_headers = connection.request_headers(url, headers)
        upgrade = connection.upgrade_transfer()
        if navigation and upgrade is not None and id(upgrade) not in self._used_upgrade:
            self._used_upgrade.add(id(upgrade))  # the h2c Upgrade request was this document's request
            self.requested.setdefault(normalize_url(url), []).append(upgrade)
            return await self._complete(url, destination, upgrade, "network")
        if not navigation:
            pushed = await self._claim(connection, url, destination, request_headers)
            if pushed is not None:
                return pushed
        async with self._slots:
            transfer = await connection.send_request(url, request_headers)
            self.requested.setdefault(normalize_url(url), []).append(transfer)
            if navigation and self.options.preload:
                transfer.watch_headers(lambda headers: self._preload(url, headers))
            return await self._complete(url, destination, transfer, "network")

    async def _claim(self, connection: ProbeConnection, url: str, destination: str,
                     request_headers: Headers) -> Fetched | None:
        push = connection.unclaimed_push(url, "GET")
        if push is None:
            return None
        push.state, push.claimed_at = "claimed", time.time()
        await asyncio.wait_for(push.headers_seen.wait(), self.options.timeout)
        if push.response_headers:
            matches, why = vary_matches(push.response_headers, push.request_headers, request_headers)
            if not matches:
                push.state = "ignored"
                self.diagnose(Diagnostic(level="info",
                                         message=f"run {self.run}: push of {url} not used: {why} between the "
                                         "promise and the probe's request", connection_id=push.connection_id,
                                         code="probe-push-vary"))
                return None
        await asyncio.wait_for(push.done.wait(), self.options.timeout)
        if not push.complete:
            return None  # the server reset it (or the connection ended): request it ourselves
        fetched = self._result(url, destination, push, "push")
        self._store(push, "push")
        return fetched

    async def _complete(self, url: str, destination: str, transfer: Transfer, source: str) -> Fetched:
        await asyncio.wait_for(transfer.done.wait(), self.options.timeout)
        if not transfer.complete:
            why = "the connection ended" if transfer.abandoned else f"reset by the {transfer.reset_by}"
            return Fetched(url, destination, source, transfer.status, transfer.response_headers, bytes(transfer.body),
                           transfer, error=f"no complete response ({why})")
        self._store(transfer, "request")
        return self._result(url, destination, transfer, source)

    def _result(self, url: str, destination: str, transfer: Transfer, source: str) -> Fetched:
        self.cookies.take(transfer.response_headers)
        return Fetched(url, destination, source, transfer.status, list(transfer.response_headers),
                       bytes(transfer.body), transfer)

    def _store(self, transfer: Transfer, source: str) -> None:
        self.cache.store(transfer.url, transfer.method, transfer.status, transfer.request_headers,
                         transfer.response_headers, bytes(transfer.body), transfer.ended_at or time.time(), source,
                         self.run)
