"""Which header values no report or view shows: Cookie, Set-Cookie and Authorization by default (``--redact NAME``
adds more, ``--no-redact`` shows them in reports). One place, below the inspector and the exports alike."""

from __future__ import annotations

from pushscope.events import Headers

REDACTED_HEADERS = {"cookie", "set-cookie", "set-cookie2", "authorization", "proxy-authorization"}
REDACTED = "[redacted]"


def redact_headers(headers: Headers, redact: bool = True) -> list[list[str]]:
    if not redact:
        return [[name, value] for name, value in headers]
    # The name test is inlined: this runs for every header of every exchange. The common case (a lower-case name
    # with no surrounding space) costs a set lookup and islower(); others are trimmed and lower-cased, since a
    # hostile peer may send " Cookie" or "COOKIE\t" (HTTP/1.1).
    return [[name, REDACTED if name in REDACTED_HEADERS or (
        (not name.islower() or name[:1] <= " " or name[-1:] <= " ") and name.strip().lower() in REDACTED_HEADERS)
        else value] for name, value in headers]


def redact_more(names: list[str]) -> None:
    """``--redact NAME``: redact these header names too, in every report this process makes."""
    REDACTED_HEADERS.update(name.strip().lower() for name in names if name.strip())
