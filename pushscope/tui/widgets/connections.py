"""The connections / page loads tree: pick a connection (or a page load on it) to filter the waterfall to it.

Nodes are updated in place as snapshots arrive while a capture loads, so the cursor does not jump.
"""

from __future__ import annotations

from typing import Literal

from rich.style import Style
from rich.text import Text
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


class ConnectionsTree(Tree[NodeData]):
    """All connections, each with its server details and the page loads that triggered pushes."""

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

    def on_mount(self) -> None:
        self.root.expand()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._relabel())

    def update_connections(self, name: str, connections: tuple[ConnectionInfo, ...]) -> None:
        requests = sum(info.requests for info in connections)
        self.root.set_label(Text(f"{visible(name)} · {len(connections)} conn · {requests} req"))
        for info in connections:
            node = self._conn_nodes.get(info.id)
            old = self._infos.get(info.id)
            if node is None:
                node = self.root.add(self._label(info), data=("connection", info.id, None), expand=True)
                self._conn_nodes[info.id] = node
            elif old != info:
                node.set_label(self._label(info))
            if old is None or (old.page_loads, self._details(old)) != (info.page_loads, self._details(info)):
                node.remove_children()
                for line in self._details(info):  # short lines: a narrow sidebar cuts nothing that matters
                    node.add_leaf(Text(line, style="dim"), data=("connection", info.id, None))
                for exchange_id, path in info.page_loads:
                    node.add_leaf(Text(f"⌂ {path}"), data=("page", info.id, exchange_id))  # path: visible()
            self._infos[info.id] = info

    def render_label(self, node: TreeNode[NodeData], base_style: Style, style: Style) -> Text:
        """The label, cut with an ellipsis where the sidebar is too narrow (never silently clipped)."""
        text = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if room > 1 and text.cell_len > room:
            text.truncate(room, overflow="ellipsis")
        return text

    def _relabel(self) -> None:
        for conn_id, node in self._conn_nodes.items():
            node.set_label(self._label(self._infos[conn_id]))

    def _label(self, info: ConnectionInfo) -> Text:
        colours = self.app.get_css_variables()
        host = info.sni or info.server
        text = Text.assemble((f"{info.id} ", "dim"), (f"{info.protocol_label} ", "bold"), host)
        if info.anomalies:
            text.append(f" ⚠{len(info.anomalies)}", style=colours.get("warning", "") or None)
        if info.pushes == 0:
            text.append("  no push", style="dim")
            return text
        text.append(" ")
        for outcome in OUTCOMES:
            count = info.pushes_by_outcome.get(outcome, 0)
            if count:
                colour = colours.get(OUTCOME_VARIABLES[outcome], "")
                text.append(f" {OUTCOME_GLYPHS[outcome]}{count}", style=colour or None)
        return text

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
