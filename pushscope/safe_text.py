"""Text from a capture, a key log, a saved session or a probed server, made safe for a terminal.

Every byte from outside is hostile: an ESC in a header value could clear the screen, set the window title, query
the terminal or write the clipboard (OSC 52). ``visible`` is the one function every terminal output path uses: it
replaces C0 and C1 control characters, DEL and the bidirectional overrides (which can make text read differently
from what it is) with visible escapes such as ``\\x1b`` and ``\\u202e``. What it keeps is a choice made per use:
a report line keeps nothing (``visible(text)``), a multi-line message keeps newlines (``keep="\\n"``).

It is one ``str.translate`` over a precomputed table, so it costs about as much as a copy of the string.
"""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")

# C0 controls, DEL, C1 controls; the bidi embeddings/overrides/isolates; and the line/paragraph separators that
# some terminals treat as a newline.
_UNSAFE_CODEPOINTS: tuple[int, ...] = (
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0x2028,
    0x2029,
)


def _escape_for(codepoint: int) -> str:
    return f"\\x{codepoint:02x}" if codepoint < 0x100 else f"\\u{codepoint:04x}"


_TABLE: dict[int, str] = {cp: _escape_for(cp) for cp in _UNSAFE_CODEPOINTS}
_TABLES: dict[str, dict[int, str]] = {"": _TABLE}
_UNSAFE_RE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _UNSAFE_CODEPOINTS) + "]")
_ESCAPED_RES: dict[str, re.Pattern[str]] = {"": _UNSAFE_RE}  # per ``keep``: the characters it escapes


def _table(keep: str) -> dict[int, str]:
    table = _TABLES.get(keep)
    if table is None:
        table = {cp: esc for cp, esc in _TABLE.items() if chr(cp) not in keep}
        _TABLES[keep] = table
    return table


def _escaped(keep: str) -> re.Pattern[str]:
    pattern = _ESCAPED_RES.get(keep)
    if pattern is None:
        pattern = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _table(keep)) + "]")
        _ESCAPED_RES[keep] = pattern
    return pattern


def visible(text: object, keep: str = "") -> str:
    """``text`` with every control character shown as an escape; the characters in ``keep`` (e.g. "\\n" or
    "\\n\\t") pass through. A non-string is formatted with ``str`` first; ``None`` becomes ""."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if _escaped(keep).search(text) is None:  # the common case (newlines kept or not): no copy at all
        return text
    return text.translate(_table(keep))


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds any character ``visible`` would escape (including those a caller might keep)."""
    return _UNSAFE_RE.search(text) is not None


def visible_bytes(raw: bytes, keep: str = "") -> str:
    """Bytes that may not be UTF-8, as safe text: undecodable bytes appear as ``\\xNN`` escapes."""
    return visible(raw.decode("utf-8", errors="backslashreplace"), keep)


def visible_lines(text: object) -> str:
    """Multi-line text (a report, a help message): newlines kept, a tab kept, everything else escaped."""
    return visible(text, keep="\n\t")


def visible_tree(value: T) -> T:
    """A copy of a report structure (dicts, lists, tuples of str/int/float/None) with every string made
    ``visible``: for text renderers that format many fields of a report and must not miss one."""
    if isinstance(value, str):
        return visible(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {visible(key) if isinstance(key, str) else key: visible_tree(item)  # type: ignore[return-value]
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [visible_tree(item) for item in value]  # type: ignore[return-value]
    return value


_JSON_TABLE: dict[int, str] = {cp: f"\\u{cp:04x}" for cp in _UNSAFE_CODEPOINTS if cp >= 0x7F}


def json_visible(json_text: str) -> str:
    """JSON text written with ``ensure_ascii=False`` made safe to print: json already escapes C0 controls;
    DEL, C1 controls and bidi overrides (which can only sit inside JSON strings) become ``\\uXXXX`` escapes,
    so the data read back is unchanged."""
    return json_text.translate(_JSON_TABLE) if has_unsafe(json_text) else json_text
