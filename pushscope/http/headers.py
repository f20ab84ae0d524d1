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


def status_code(value: str | None) -> int | None:
    """A ``:status`` value as a number: three ASCII digits, else None. int() alone would also take "+200", " 200",
    "2_00" and other scripts' digits, so a hostile status would pass for a real one."""
    if value is None or len(value) != 3 or not value.isascii() or not value.isdigit():
        return None
    return int(value)
