"""Which key log a command uses for a capture, the same way for every command.

In order: ``--keylog FILE`` (or tshark's ``-o tls.keylog_file:FILE``); a key log beside the capture named after it
(``NAME.keys``, ``NAME.keys.log``, ``NAME.keylog``, for ``NAME.pcapng``/``NAME.pcap``/``NAME.pcapng.gz``);
``$SSLKEYLOGFILE``. ``--no-keylog`` uses none of them. Secrets embedded in a pcapng (DSB) are always used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CAPTURE_SUFFIXES = (".gz", ".pcapng", ".pcap", ".cap")
BESIDE_SUFFIXES = (".keys", ".keys.log", ".keylog")


@dataclass(frozen=True, slots=True)
class KeySource:
    path: str | None
    origin: str  # "--keylog", "beside the capture", "SSLKEYLOGFILE", or "" for none

    def describe(self) -> str:
        return f"{self.path} ({self.origin})" if self.path else "none"


def capture_stem(path: str) -> Path:
    """``dir/NAME`` for ``dir/NAME.pcapng.gz`` and friends."""
    stem = Path(path)
    for suffix in CAPTURE_SUFFIXES:
        if stem.name.endswith(suffix) and stem.name != suffix:
            stem = stem.with_name(stem.name[: -len(suffix)])
    return stem


def beside(capture: str) -> str | None:
    """The key log named after the capture in its folder, if there is one."""
    stem = capture_stem(capture)
    for suffix in BESIDE_SUFFIXES:
        for candidate in (stem.with_name(stem.name + suffix), stem.with_name(stem.name + suffix + ".gz")):
            if candidate.is_file():
                return str(candidate)
    return None


def find_keylog(capture: str, explicit: str | None, *, disabled: bool = False) -> KeySource:
    if disabled:
        return KeySource(None, "")
    if explicit:
        return KeySource(explicit, "--keylog")
    found = beside(capture)
    if found:
        return KeySource(found, "beside the capture")
    env = os.environ.get("SSLKEYLOGFILE")
    if env:
        return KeySource(env, "SSLKEYLOGFILE")
    return KeySource(None, "")
