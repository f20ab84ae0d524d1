"""Modal screens: help (bindings and legend), export (format and path), diagnostics, and copied text.

The help screen is generated from the app's bindings, so it cannot drift from what the keys really do.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static, TextArea

from pushscope.presentation import OUTCOME_GLYPHS, OUTCOME_MEANINGS, OUTCOME_STYLES, OUTCOMES
from pushscope.tui.export import default_path
from pushscope.tui.widgets.waterfall import LEGEND

MOVEMENT_KEYS = (
    ("↑ ↓ j k", "move the selection in the waterfall (or in the connections tree)"),
    ("pgup pgdn", "move a page in the waterfall"),
    ("home end", "first / last row"),
    ("tab shift+tab", "move the focus: waterfall, detail pane, connections tree"),
    ("enter", "on a connection or page load in the tree: filter the waterfall to it and fit the axis"),
    ("ctrl+p", "the command palette: every action by name, and one entry per connection"),
    ("ctrl+q", "quit (as q and ctrl+c do)"),
)


def legend_content() -> Content:
    """Outcome glyphs with their colours, and the bar characters: the same legend as the waterfall's."""
    lines = [Content.assemble(("Outcomes", "bold $accent"))]
    for outcome in OUTCOMES:
        lines.append(Content.assemble("  ", (f"{OUTCOME_GLYPHS[outcome]} {outcome:<17}", OUTCOME_STYLES[outcome]),
                                      OUTCOME_MEANINGS[outcome]))
    lines.append(Content(""))
    lines.append(Content.assemble(("Bars", "bold $accent")))
    for char, name, meaning in LEGEND:
        lines.append(Content.assemble("  ", (char * 3, "bold"), f"  {name:<11}", meaning))
    lines.append(Content.assemble("  ", ("✘1.2 KiB", "$error"), "  bytes a wasted push cost (size column)"))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """Every binding of the app and the legend; any of escape, q, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "pushscope help"
            dialog.border_subtitle = "esc, q or ? closes this help"
            yield Static(Content.assemble(("esc", "bold $secondary"), ", ", ("q", "bold $secondary"), " or ",
                                          ("?", "bold $secondary"), " closes this help; ↑ ↓ scroll it."),
                         id="help-close")
            yield Static(self._bindings_content(), id="help-keys")
            yield Static(legend_content(), id="help-legend")
            yield Static(Content.assemble(
                ("Mouse: ", "bold"), "click a row to select it, a connection to filter to it; scroll to move."),
                id="help-mouse")

    def _bindings_content(self) -> Content:
        lines = [Content.assemble(("Keys", "bold $accent"))]
        seen: set[str] = set()
        for binding in self.app.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            keys = " ".join(self.app.get_key_display(Binding(k.strip(), binding.action))
                            for k in binding.key.split(","))
            lines.append(Content.assemble("  ", (f"{keys:<14}", "bold $secondary"),
                                          binding.tooltip or binding.description))
        for keys, meaning in MOVEMENT_KEYS:
            lines.append(Content.assemble("  ", (f"{keys:<14}", "bold $secondary"), meaning))
        return Content("\n").join(lines)

    def action_close(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen[tuple[str, Path] | None]):
    """Pick a format and a path; returns ``(format, path)`` or ``None`` when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, capture_name: str, formats: tuple[str, ...]) -> None:
        super().__init__()
        self.capture_name = capture_name
        self.formats = formats
        self.fmt = formats[0]

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog") as dialog:
            dialog.border_title = "Export report"
            yield Label("Write the report (Cookie/Set-Cookie/Authorization redacted) to:")
            yield Input(str(default_path(self.capture_name, self.fmt)), id="export-path")
            if len(self.formats) > 1:
                with RadioSet(id="export-format"):
                    for fmt in self.formats:
                        yield RadioButton(fmt, value=fmt == self.fmt, name=fmt)
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(RadioSet.Changed)
    def _format_changed(self, event: RadioSet.Changed) -> None:
        new = event.pressed.name or self.fmt
        path_input = self.query_one("#export-path", Input)
        if Path(path_input.value) == default_path(self.capture_name, self.fmt):
            path_input.value = str(default_path(self.capture_name, new))
        self.fmt = new

    @on(Input.Submitted)
    @on(Button.Pressed, "#export-ok")
    def _submit(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if value:
            self.dismiss((self.fmt, Path(value)))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class DiagnosticsScreen(ModalScreen[None]):
    """All capture diagnostics, full width: what was decrypted, what is missing, what failed."""

    BINDINGS = [Binding("escape,q,d", "close", "Close")]

    def __init__(self, diagnostics: Content) -> None:
        super().__init__()
        self.body = diagnostics

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diagnostics-dialog") as dialog:
            dialog.border_title = "Diagnostics"
            yield Static(self.body)

    def action_close(self) -> None:
        self.dismiss(None)


class CopyScreen(ModalScreen[None]):
    """What was just copied: sent to the clipboard by OSC 52, and shown here for terminals that ignore it."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, what: str, text: str) -> None:
        super().__init__()
        self.what = what
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="copy-dialog") as dialog:
            dialog.border_title = f"Copied the {self.what}"
            dialog.border_subtitle = "esc closes"
            yield Label(Content(f"Sent the {self.what} to the clipboard (OSC 52). If your terminal does not allow "
                                "that, select it below (shift+drag or your terminal's selection) and copy it."))
            yield TextArea(self.text, read_only=True, soft_wrap=True, id="copy-text")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.select_all()

    def action_close(self) -> None:
        self.dismiss(None)
