"""Network profiles: what ``--network NAME`` means, in numbers.

A profile is what the shaper adds to the loopback path between the client and the server:

- ``rtt``: round-trip time added, split evenly between the two directions (half on the way up, half down);
- ``down`` / ``up``: bandwidth of the server-to-client and client-to-server links, in bits per second of payload
  (TCP bytes or UDP datagram payloads; IP/TCP/UDP headers are not counted), shared by every connection;
- ``loss``: the fraction of datagrams dropped in each direction, independently (UDP, hence QUIC, only: a
  byte-stream relay cannot drop a TCP segment, see shaper.py).

The named profiles follow WebPageTest's connectivity presets where one exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MBIT = 1_000_000


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    name: str
    rtt: float = 0.0  # seconds added to the round trip
    down: float | None = None  # bits/s server -> client; None: not limited
    up: float | None = None  # bits/s client -> server; None: not limited
    loss: float = 0.0  # fraction of datagrams dropped, each direction
    meaning: str = ""

    @property
    def shaped(self) -> bool:
        return bool(self.rtt or self.down or self.up or self.loss)

    def describe(self) -> str:
        """``4g: 85 ms RTT, 9/9 Mbit/s, 0 % loss``."""
        if not self.shaped:
            return f"{self.name}: not shaped (the loopback path as it is)"
        return (f"{self.name}: {self.rtt * 1000:g} ms RTT, {rate_text(self.down)}/{rate_text(self.up)} down/up, "
                f"{self.loss * 100:g} % loss")

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "rtt_ms": round(self.rtt * 1000, 3), "down_bps": self.down, "up_bps": self.up,
                "loss": self.loss, "meaning": self.meaning}


def rate_text(bps: float | None) -> str:
    if bps is None:
        return "unlimited"
    if bps >= MBIT:
        return f"{bps / MBIT:.4g} Mbit/s"
    return f"{bps / 1000:.4g} kbit/s"


PROFILES: dict[str, NetworkProfile] = {
    "lan": NetworkProfile("lan", meaning="no shaping: the loopback path itself (well under 1 ms RTT)"),
    "cable": NetworkProfile("cable", 0.028, 5 * MBIT, 1 * MBIT, meaning="WebPageTest Cable: 28 ms, 5/1 Mbit/s"),
    "4g": NetworkProfile("4g", 0.085, 9 * MBIT, 9 * MBIT, meaning="WebPageTest 4G: 85 ms, 9/9 Mbit/s"),
    "3g": NetworkProfile("3g", 0.300, 1.6 * MBIT, 0.768 * MBIT,
                         meaning="WebPageTest 3G: 300 ms, 1.6/0.768 Mbit/s"),
    "lossy": NetworkProfile("lossy", 0.085, 9 * MBIT, 9 * MBIT, 0.03,
                            meaning="4g with 3 % of datagrams lost each way (QUIC only; TCP relay: no loss)"),
}

_UNITS_TIME = {"ms": 0.001, "s": 1.0, "us": 0.000001}
_UNITS_RATE = {"bit": 1, "kbit": 1000, "mbit": MBIT, "gbit": 1000 * MBIT, "bps": 1, "kbps": 1000, "mbps": MBIT,
               "gbps": 1000 * MBIT}
_NUMBER_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z%/]*)\s*$")
MAX_RTT = 10.0  # seconds: more is a typo, and would stall every run
MIN_RATE = 8_000.0  # bits/s: slower links make a page load last hours


def parse_profile(text: str) -> NetworkProfile:
    """A named profile, or ``rtt=100ms,down=5mbit,up=1mbit,loss=1%`` (any subset; the rest: not shaped)."""
    name = text.strip().lower()
    if name in PROFILES:
        return PROFILES[name]
    if "=" not in name:
        raise ValueError(f"unknown network profile {text!r}: use one of {', '.join(PROFILES)} or "
                         "rtt=100ms,down=5mbit,up=1mbit,loss=1%")
    values: dict[str, float] = {}
    for part in name.split(","):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or key not in ("rtt", "down", "up", "loss") or key in values:
            raise ValueError(f"network profile {text!r}: {part.strip()!r} is not one of rtt=, down=, up=, loss=")
        values[key] = _parse_value(key, value, text)
    down, up = values.get("down"), values.get("up")
    return NetworkProfile(custom_name(values), values.get("rtt", 0.0), down, up, values.get("loss", 0.0),
                          meaning="custom")


def custom_name(values: dict[str, float]) -> str:
    parts = []
    if "rtt" in values:
        parts.append(f"rtt={values['rtt'] * 1000:g}ms")
    for key in ("down", "up"):
        if key in values:
            parts.append(f"{key}={values[key] / MBIT:g}mbit")
    if "loss" in values:
        parts.append(f"loss={values['loss'] * 100:g}%")
    return ",".join(parts)


def _parse_value(key: str, value: str, text: str) -> float:
    match = _NUMBER_UNIT.match(value)
    if match is None:
        raise ValueError(f"network profile {text!r}: {key}={value!r} is not a number with a unit")
    number, unit = float(match.group(1)), match.group(2)
    if key == "rtt":
        seconds = number * _UNITS_TIME.get(unit or "ms", -1.0)
        if not 0 <= seconds <= MAX_RTT:
            raise ValueError(f"network profile {text!r}: rtt takes ms, s or us, at most {MAX_RTT:g} s")
        return seconds
    if key == "loss":
        fraction = number / 100 if unit == "%" else number if not unit else -1.0
        if not 0 <= fraction < 0.5:
            raise ValueError(f"network profile {text!r}: loss takes a percentage below 50 % (loss=1%)")
        return fraction
    rate = number * _UNITS_RATE.get(unit or "mbit", -1.0)
    if rate < MIN_RATE:
        raise ValueError(f"network profile {text!r}: {key} takes kbit, mbit or gbit, at least "
                         f"{MIN_RATE / 1000:g} kbit")
    return rate


def parse_profiles(text: str) -> list[NetworkProfile]:
    """``4g,3g,rtt=100ms,down=5mbit``: named profiles, and ``key=value`` parts gathered into one custom profile
    (a second custom profile after a ``;``)."""
    profiles: list[NetworkProfile] = []
    for chunk in text.split(";"):
        custom = [part for part in chunk.split(",") if "=" in part]
        profiles.extend(parse_profile(part) for part in chunk.split(",") if part.strip() and "=" not in part)
        if custom:
            profiles.append(parse_profile(",".join(custom)))
    if not profiles:
        raise ValueError("--network names no profile")
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise ValueError(f"--network names a profile twice: {text!r}")
    return profiles
