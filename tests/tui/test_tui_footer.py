"""The key footer (``widgets.footer.KeyFooter``): composed again once for binding changes that come together, not
at all for a change that shows nothing new or only enables or disables a key (set in place, looking the same),
and whenever the keys shown change."""

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
        self.hidden = False

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield CountingFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return False if self.hidden else True if self.ready else None  # (False hides it)
        return True

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

        app.ready = True  # the export key is enabled: set in place
        for _ in range(3):
            app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed
        assert not _export_key(app).has_class("-disabled") and not _export_key(app)._disabled
        app.ready = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed
        assert _export_key(app).has_class("-disabled") and _export_key(app)._disabled

        app.hidden = True  # a key is no longer shown: composed again, once for changes that come together
        for _ in range(3):
            app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.compositions == composed + 1
        assert [key.action for key in app.query(FooterKey)] == ["quit", "command_palette"]


async def test_a_key_enabled_in_place_looks_as_one_composed_enabled() -> None:
    app = FooterApp()
    async with app.run_test(size=(60, 3)) as pilot:
        await pilot.pause()
        app.ready = True
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        in_place = app.export_screenshot()
    composed = FooterApp()
    composed.ready = True
    async with composed.run_test(size=(60, 3)) as pilot:
        await pilot.pause()
        assert composed.export_screenshot() == in_place
