"""The key footer (``widgets.footer.KeyFooter``): composed again once for binding changes that come together, not
at all for a change that shows nothing new, and always when what it shows changes."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from pushscope.tui.widgets.footer import KeyFooter


class CountingFooter(KeyFooter):
    compositions = 0

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            CountingFooter.compositions += 1
        yield from super().compose()


class FooterApp(App[None]):
    BINDINGS = [Binding("e", "export", "Export"), Binding("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.ready = False

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield CountingFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return (True if self.ready else None) if action == "export" else True

    def action_export(self) -> None:
        pass


def _export_key(app: FooterApp) -> FooterKey:
    return next(key for key in app.query(FooterKey) if key.action == "export")


async def test_changes_together_make_one_composition_and_no_change_makes_none() -> None:
    CountingFooter.compositions = 0
    app = FooterApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert _export_key(app).has_class("-disabled")
        composed = CountingFooter.compositions
        assert composed >= 1
        for _ in range(3):  # nothing shown changes
            app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed

        app.ready = True  # the export key is enabled: what the footer shows changes
        for _ in range(3):
            app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed + 1
        assert not _export_key(app).has_class("-disabled")

        app.ready = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed + 2
        assert _export_key(app).has_class("-disabled")
