"""Command-palette entries: every described binding as a command, plus one per connection to filter to it.

Derived from the bindings (not a second hand-kept list) so the palette always offers every keyboard action.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding

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
        yield SystemCommand(title, f"{binding.description} (key: {app.get_key_display(Binding(key, ''))})",
                            partial(app.run_action, binding.action))
    yield SystemCommand("Show all connections", "Clear the connection filter", partial(app.filter_connection, None))
    for info in app.view.connections:
        host = info.sni or info.server
        yield SystemCommand(f"Show connection c{info.index} {info.protocol} {host}",
                            f"Filter the waterfall to connection {info.id}", partial(app.filter_connection, info.id))
