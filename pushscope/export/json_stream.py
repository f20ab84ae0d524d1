"""Indented JSON written piece by piece: ``indented_chunks`` gives the text of ``json.dumps(document, indent=N,
ensure_ascii=False)`` where a list may be an iterator, written one item at a time.

HAR and qlog documents are one object around a list that grows with the capture (entries, traces); made this
way, the output never holds more than one item's text and the model. Each item is dumped by ``json.dumps`` and
re-indented to its depth: a newline can only be indentation there, since json escapes it inside strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pushscope.safe_text import json_visible


def _lazy(value: Any) -> bool:
    """Whether ``value`` is an iterator or an object holding one: those are written piece by piece."""
    return isinstance(value, Iterator) or (isinstance(value, dict) and any(_lazy(v) for v in value.values()))


def _dumped(value: Any, indent: int, level: int) -> str:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return text.replace("\n", "\n" + " " * (indent * level)) if level else text


def _pieces(value: Any, indent: int, level: int) -> Iterator[str]:
    if not _lazy(value):
        yield _dumped(value, indent, level)
        return
    inner = "\n" + " " * (indent * (level + 1))
    close = "\n" + " " * (indent * level)
    if isinstance(value, dict):
        yield "{" + inner if value else "{"
        for n, (key, item) in enumerate(value.items()):
            yield ("," + inner if n else "") + json.dumps(key, ensure_ascii=False) + ": "
            yield from _pieces(item, indent, level + 1)
        yield close + "}" if value else "}"
        return
    opened = False
    for item in value:
        yield ("," if opened else "[") + inner
        opened = True
        yield from _pieces(item, indent, level + 1)
    yield close + "]" if opened else "[]"


def indented_chunks(document: Any, indent: int) -> Iterator[str]:
    """The text of ``json_visible(json.dumps(document, indent=indent, ensure_ascii=False)) + "\\n"``, with every
    iterator inside ``document`` written as a list, item by item (so it is consumed once, as the text goes out)."""
    for piece in _pieces(document, indent, 0):
        yield json_visible(piece)
    yield "\n"
