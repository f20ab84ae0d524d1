"""Reading tshark's ``-T fields`` values: several occurrences of a field arrive joined by commas."""

from __future__ import annotations

from collections.abc import Mapping

from pushscope.events import Endpoint


def field_list(row: Mapping[str, str], name: str) -> list[str]:
    value = row.get(name, "")
    return value.split(",") if value else []


def field_first(row: Mapping[str, str], name: str) -> str:
    value = row.get(name, "")
    return value.split(",", 1)[0] if value else ""


def field_last(row: Mapping[str, str], name: str) -> str:
    return row.get(name, "").rsplit(",", 1)[-1]


def field_int(text: str | None) -> int:
    """The first value of ``text`` as an integer (decimal, or hex with 0x as tshark prints some fields); 0 when it
    is absent or not a number: a field from the wire is data, never an exception."""
    if not text:
        return 0
    value = text.split(",", 1)[0] if "," in text else text
    try:
        return int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    except ValueError:
        return 0


def endpoints(row: Mapping[str, str], transport: str) -> tuple[Endpoint, Endpoint]:
    """The packet's (source, destination), IPv4 or IPv6, with ``transport``'s ("tcp" or "udp") ports."""
    src = field_first(row, "ip.src") or field_first(row, "ipv6.src")
    dst = field_first(row, "ip.dst") or field_first(row, "ipv6.dst")
    return (Endpoint(src, field_int(row.get(f"{transport}.srcport"))),
            Endpoint(dst, field_int(row.get(f"{transport}.dstport"))))
