"""URLs from a capture or a probed server, split without ever raising.

``urllib`` refuses some URLs with a ValueError (an unclosed IPv6 bracket, a port out of range or not a number),
sometimes only when ``.port`` is read. Such a URL is data, not an exception: these helpers return ``None`` (or
the reason) and the caller records an anomaly showing the raw value safely.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit


def url_problem(url: str) -> str | None:
    """Why urllib refuses ``url`` (its own message), or None when it splits and its port reads."""
    try:
        urlsplit(url).port  # noqa: B018  (reading .port is what validates it)
    except ValueError as exc:
        return str(exc)
    return None


def split_url(url: str) -> SplitResult | None:
    """``urlsplit(url)`` whose ``.port`` is safe to read, or None when urllib refuses the URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        return None
    return parts


def join_url(base: str, reference: str) -> str | None:
    """``urljoin`` that returns None instead of raising on a URL urllib refuses (the joined URL's port is not
    checked here: callers that need it use ``split_url``, and ``normalize_url`` tolerates it)."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return None


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default ports and fragments dropped: the form push matching uses."""
    try:
        parts = urlsplit(url)
        port_number = parts.port
    except ValueError:  # a malformed URL or port in a document must never stop the analysis
        return url
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = port_number if port_number not in (None, 443 if parts.scheme == "https" else 80) else None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
