"""The connections / page loads tree: pick a connection (or a page load on it) to filter the waterfall to it.

Nodes are updated in place as snapshots arrive while a capture loads, so the cursor does not jump. Textual's Tree
costs about 0.1 ms per node added and walks every shown line after each change, so the tree is kept small and fed
in steps: it lists the first ``LISTED_CONNECTIONS`` connections (a last line counts the others), unfolds them only
while there are few (a folded connection gets its detail lines when it is unfolded), and applies at most ``STEP``
connections' changes at a time, between which keys are answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from rich.cells import cell_len
from rich.style import Style
from rich.text import Span, Text, TextType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from pushscope.presentation import OUTCOME_GLYPHS, OUTCOME_STYLES, OUTCOMES
from pushscope.safe_text import visible
from pushscope.tui.view import ConnectionInfo

NodeKind = Literal["all", "connection", "page"]
NodeData = tuple[NodeKind, str | None, int | None]  # kind, connection id, exchange id
# Tree labels are Rich Text: resolve the theme variables by hand (and again when the theme changes).
OUTCOME_VARIABLES = {outcome: style.lstrip("$") for outcome, style in OUTCOME_STYLES.items()}
UNFOLDED_CONNECTIONS = 20  # connections shown with their details unfolded; those after them start folded
STEP = 100  # connections added or changed per step while loading: about 20 ms of the UI thread
LISTED_CONNECTIONS = 500  # the loader sends changes for these only (each tree update walks all its lines)
STEP_PAUSE = 0.01  # seconds between steps, for the keys and the screen


class ConnectionsTree(Tree[NodeData]):
    """All connections, each with its server details and the page loads that triggered pushes."""

    _width = 0  # the content's width, as of the last resize (a class default: Tree's __init__ builds lines)
    _batching = False  # see _laid_out_once (class defaults, as above: Tree's __init__ invalidates)
    _invalidated = False

    class Chosen(Message):
        """The user chose a connection (``None``: all of them) and possibly a page load on it."""

        def __init__(self, connection_id: str | None, exchange_id: int | None) -> None:
            super().__init__()
            self.connection_id = connection_id
            self.exchange_id = exchange_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("capture", data=("all", None, None), id=id)
        self.show_root = True
        self.guide_depth = 2
        self.auto_expand = False  # selecting a connection filters; space/click on the arrow folds
        self._conn_nodes: dict[str, TreeNode[NodeData]] = {}
        self._infos: dict[str, ConnectionInfo] = {}
        self._detailed: set[str] = set()  # connections whose detail lines are in the tree
        self._pending: dict[str, ConnectionInfo] = {}  # changes not applied yet, the latest of each
        self._stepping = False
        self._step_size = STEP
        self._when_applied: list[Callable[[], object]] = []
        self._unlisted: TreeNode[NodeData] | None = None
        self._colours: dict[str, str] | None = None  # the theme's variables: resolving them costs 3 ms

    def on_mount(self) -> None:
        self.root.expand()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._relabel())

    def update_connections(self, name: str, changes: tuple[ConnectionInfo, ...], connections: int,
                           requests: int, *, final: bool = False) -> None:
        """``changes``: the listed connections new or changed since the last update; ``connections`` and
        ``requests``: the totals over the whole capture, listed or not. ``final``: the load is over, nothing is
        left to interleave with: the rest goes in at once (a reopen from the cache shows its tree sooner)."""
        if final:
            self._step_size = LISTED_CONNECTIONS
        self.root.set_label(Text(f"{visible(name)} · {connections} conn · {requests} req"))
        for info in changes:
            self._pending[info.id] = info
        unlisted = connections - len(self._infos.keys() | self._pending.keys())
        with self._laid_out_once():
            if unlisted > 0:
                label = Text(f"… {unlisted} more connections, not listed here (the waterfall shows them)", style="dim")
                if self._unlisted is None:
                    self._unlisted = self.root.add_leaf(label)  # no data: choosing it does nothing
                else:
                    self._unlisted.set_label(label)
            if not self._stepping:
                self._step()

    def after_updates(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once every update given so far is shown (at once when none is pending)."""
        if self._pending:
            self._when_applied.append(callback)
        else:
            callback()

    def _step(self) -> None:
        """Apply the next ``STEP`` pending changes; the rest after a pause (a timer), until none is left."""
        with self._laid_out_once():
            for conn_id in list(self._pending)[:self._step_size]:
                self._apply(self._pending.pop(conn_id))
        self._stepping = bool(self._pending)
        if self._stepping:
            self.set_timer(STEP_PAUSE, self._step)
            return
        callbacks, self._when_applied = self._when_applied, []
        for callback in callbacks:
            callback()

    @contextmanager
    def _laid_out_once(self) -> Iterator[None]:
        """Nodes added or removed within: the tree's lines are invalidated (and laid out) once, at the end."""
        if self._batching:
            yield
            return
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            if self._invalidated:
                self._invalidated = False
                self._invalidate()

    def _invalidate(self) -> None:
        # Textual's Tree calls this (private) after every node added or removed: it clears the lines and asks for a
        # layout. Deferred within _laid_out_once (tests.tui.test_tui_inspector fails if Tree stops calling it).
        if self._batching:
            self._invalidated = True
        else:
            super()._invalidate()

    def process_label(self, label: TextType) -> Text:
        # Tree's own splits off the first line, a copy: these labels are one line already (``visible``).
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def _apply(self, info: ConnectionInfo) -> None:
        node = self._conn_nodes.get(info.id)
        old = self._infos.get(info.id)
        if node is None:
            expand = len(self._conn_nodes) < UNFOLDED_CONNECTIONS
            # The count of the unlisted ones stays last (an index: Tree looks a node up in the list).
            before = None if self._unlisted is None else len(self._conn_nodes)
            node = self.root.add(self._label(info), data=("connection", info.id, None), expand=expand, before=before)
            self._conn_nodes[info.id] = node
        elif old != info:
            node.set_label(self._label(info))
        self._infos[info.id] = info
        if node.is_expanded or info.id in self._detailed:
            self._detail(node, old, info)

    def _detail(self, node: TreeNode[NodeData], old: ConnectionInfo | None, info: ConnectionInfo) -> None:
        """The connection's detail lines and page loads, (re)written when they changed."""
        if info.id in self._detailed and old is not None and \
                (old.page_loads, self._details(old)) == (info.page_loads, self._details(info)):
            return
        node.remove_children()
        for line in self._details(info):  # short lines: a narrow sidebar cuts nothing that matters
            node.add_leaf(Text(line, style="dim"), data=("connection", info.id, None))
        for exchange_id, path in info.page_loads:
            node.add_leaf(Text(f"⌂ {path}"), data=("page", info.id, exchange_id))  # path: visible()
        self._detailed.add(info.id)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if data is not None and data[0] == "connection" and data[1] is not None:
            conn_id = data[1]
            info = self._infos.get(conn_id)
            if info is not None and conn_id not in self._detailed and self._conn_nodes.get(conn_id) is event.node:
                self._detail(event.node, None, info)

    def render_label(self, node: TreeNode[NodeData], base_style: Style, style: Style) -> Text:
        """The label, cut with an ellipsis where the sidebar is too narrow (never silently clipped)."""
        text = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        room = self._width - depth * self.guide_depth
        if room > 1 and text.cell_len > room:
            text.truncate(room, overflow="ellipsis")
        return text

    def get_label_width(self, node: TreeNode[NodeData]) -> int:
        """What ``render_label`` gives, without rendering: the tree asks for every line each time it changes."""
        label = node.label
        width = label.cell_len if isinstance(label, Text) else cell_len(label)
        natural = width + (2 if node.allow_expand else 0)  # "▶ ": Tree's fold icon
        depth = 0 if node.parent is None else 1 if node.parent.parent is None else 2
        room = self._width - depth * self.guide_depth
        return min(natural, room) if room > 1 else natural

    def on_resize(self) -> None:
        self._width = self.scrollable_content_region.width

    def _relabel(self) -> None:
        self._colours = None
        for conn_id, node in self._conn_nodes.items():
            node.set_label(self._label(self._infos[conn_id]))

    def _label(self, info: ConnectionInfo) -> Text:
        if self._colours is None:
            self._colours = self.app.get_css_variables()
        colours = self._colours
        parts: list[tuple[str, str | None]] = [(f"{info.id} ", "dim"), (f"{info.protocol_label} ", "bold"),
                                               (info.sni or info.server, None)]
        if info.anomalies:
            parts.append((f" ⚠{len(info.anomalies)}", colours.get("warning", "") or None))
        if info.pushes == 0:
            parts.append(("  no push", "dim"))
            return _assembled(parts)
        parts.append((" ", None))
        for outcome in OUTCOMES:
            count = info.pushes_by_outcome.get(outcome, 0)
            if count:
                colour = colours.get(OUTCOME_VARIABLES[outcome], "") or None
                parts.append((f" {OUTCOME_GLYPHS[outcome]}{count}", colour))
        return _assembled(parts)

    @staticmethod
    def _details(info: ConnectionInfo) -> tuple[str, ...]:
        parts = [f"ALPN {info.alpn or '-'}"]
        if info.decrypted is False:
            parts.append("NOT decrypted")
        if info.tls_version:
            parts.append(f"TLS {info.tls_version}")
        elif info.transport != "tls":
            parts.append(info.transport)
        lines = [" · ".join(parts), f"{info.requests} req · {info.server}"]
        if info.anomalies:
            lines.append(f"⚠ {len(info.anomalies)} protocol anomalies: {info.anomalies[0]}")
        return tuple(lines)

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is None:
            return
        kind, connection_id, exchange_id = data
        self.post_message(self.Chosen(connection_id if kind != "all" else None, exchange_id))


def _assembled(parts: list[tuple[str, str | None]]) -> Text:
    """``Text.assemble(*parts)`` made in one piece: each of its appends strips control codes and measures the text
    (a fifth of a reopen's fill of 500 connections at once). The parts are ``visible`` text: nothing to strip."""
    spans, offset = [], 0
    for text, style in parts:
        end = offset + len(text)
        if style and end > offset:
            spans.append(Span(offset, end, style))
        offset = end
    return Text("".join(text for text, _ in parts), spans=spans)
