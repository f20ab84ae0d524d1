"""Command-palette entries: every described binding as a command, plus one per connection to filter to it.

Derived from the bindings (not a second hand-kept list) so the palette always offers every keyboard action.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding
from textual.content import Content

if TYPE_CHECKING:
    from pushscope.tui.app import PushscopeApp


def palette_commands(app: PushscopeApp) -> Iterator[SystemCommand]:
    seen: set[str] = set()
    for binding in app.BINDINGS:
        if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        key = binding.key.split(",")[0]
        title = binding.tooltip or binding.description
        help_text = f"{binding.description} (key: {app.get_key_display(Binding(key, ''))})"
        yield SystemCommand(_plain(title), _plain(help_text), partial(app.run_action, binding.action))
    yield SystemCommand("Show all connections", "Clear the connection filter", partial(app.filter_connection, None))
    for info in app.view.connections:
        host = info.sni or info.server  # already made visible (no control characters) by the view
        yield SystemCommand(_plain(f"Show connection {info.id} {info.protocol_label} {host}"),
                            f"Filter the waterfall to connection {info.id}", partial(app.filter_connection, info.id))


def _plain(text: str) -> str:
    """The palette reads titles and help as markup: escape them so ``[`` (a key, or a hostile SNI) is text."""
    return Content(text).markup
