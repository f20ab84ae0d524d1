"""The summary bar fits its height to its text after an update: arranged again only when the text's height and the
bar's differ (an update that landed while the screen was being arranged), not after every snapshot."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pushscope.tui.widgets.summary import SummaryBar

LONG = "pushes " + "word " * 30  # wraps to several lines at 40 columns
SHORT = "pushes 3"


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SummaryBar(SHORT, id="summary")


async def test_the_bar_is_arranged_again_only_when_its_text_no_longer_fits() -> None:
    app = BarApp()
    async with app.run_test(size=(40, 10)) as pilot:
        bar = app.query_one(SummaryBar)
        await pilot.pause()
        assert bar.content_region.height == 1
        layouts: list[bool] = []
        refresh = bar.refresh

        def noted(*args: object, layout: bool = False, **kwargs: object) -> object:
            layouts.append(layout)
            return refresh(*args, layout=layout, **kwargs)  # type: ignore[arg-type]

        bar.refresh = noted  # type: ignore[method-assign]
        bar._fit_height()  # the text fits: nothing to arrange
        assert layouts == []
        bar.update(LONG, layout=False)  # as if the layout had been measured for the previous text
        await pilot.pause()
        layouts.clear()
        bar._fit_height()
        assert layouts == [True]
        await pilot.pause()
        assert bar.content_region.height > 1


async def test_diagnostics_shown_before_the_panel_is_mounted_are_kept() -> None:
    """The first snapshot can come before the diagnostics panel's children are mounted: it is shown, not lost,
    and it raises nothing."""
    from pushscope.events import Diagnostic
    from pushscope.tui.widgets.summary import DiagnosticsPanel

    panel = DiagnosticsPanel(id="diagnostics")
    panel.show((Diagnostic(level="warning", message="keys missing for t3", code="not-decrypted"),))

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            yield panel

    async with Holder().run_test() as pilot:
        await pilot.pause()
        body = panel.query_one("#diagnostics-body")
        assert "keys missing for t3" in str(body.render())
        assert panel.border_title is not None and "⚠1" in str(panel.border_title)
