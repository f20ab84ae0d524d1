"""A scrolling widget's virtual size set without laying the whole screen out.

Textual lays out every widget of the screen when any one's virtual size changes (40-60 ms of the UI thread at a
snapshot of a loading capture, 15-35 ms twice for a key that changes the detail pane). A widget drawn line by line
(a ``ScrollView``) keeps its own size whatever its virtual size: only its scrollbar follows, and Textual's
``_scroll_update`` updates that in place (and still lays the screen out when a scrollbar is shown or hidden).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView


def set_virtual_size(widget: ScrollView, size: Size) -> None:
    if size == widget.virtual_size:
        return
    scroll_update = getattr(widget, "_scroll_update", None)  # (Textual's own; a Textual without it lays out)
    if not widget.container_size or scroll_update is None:  # (not laid out yet)
        widget.virtual_size = size
        return
    widget.set_reactive(type(widget).virtual_size, size)
    scroll_update(size)
