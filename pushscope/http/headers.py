"""Header lists as every layer holds them: ``[(name, value), ...]``, names lower-case (HTTP/2 and HTTP/3)."""

from __future__ import annotations

from pushscope.events import Headers


def header_value(headers: Headers, name: str) -> str | None:
    """The first value of ``name`` (lower-case) in a header list."""
    for key, value in headers:
        if key == name:
            return value
    return None


def header_values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key == name]
