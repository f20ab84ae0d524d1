"""The key footer: Textual's, composed again only when the keys it shows change, once for changes that come
together.

Textual's footer composes all its keys again after the next repaint each time the bindings may have changed
(``refresh_bindings``): some thirty widgets removed and mounted, then the whole screen laid out and painted again,
70-130 ms of the UI thread. The inspector's start brings three such calls at once (the first focus, the app's
focus, the screen's stack), most of them changing nothing shown, and each was a composition of its own: about
300 ms in which a key waited.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _composition_pending = False
    _composed: object = None  # what the last composition showed (``shown_keys``)

    def bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen and (self._composition_pending or (
                self._bindings_ready and self.children and shown_keys(self, screen) == self._composed)):
            # A composition is on its way (it reads the bindings when it runs), or nothing shown changed.
            self._bindings_ready = True  # (what ``Footer.bindings_changed`` sets: its compose waits for it)
            return
        super().bindings_changed(screen)
        # ``Footer.bindings_changed`` asked for a composition after the next repaint if it may compose now.
        self._composition_pending = bool(screen.app.app_focus and self.is_attached and screen is self.screen)

    def compose(self) -> ComposeResult:
        # Run as the composition reads the bindings (``recompose`` first removes the keys shown, which awaits):
        # a change from here on needs a composition of its own.
        self._composition_pending = False
        if self._bindings_ready:
            self._composed = shown_keys(self, self.screen)
        yield from super().compose()


def shown_keys(footer: Footer, screen: Screen) -> object:
    """Everything ``Footer.compose`` shows of ``screen``'s bindings: each shown binding with its key's display,
    whether it is enabled and its tooltip, and whether the command palette's key is shown."""
    app = screen.app
    return (footer.show_command_palette and app.ENABLE_COMMAND_PALETTE, footer.compact, tuple(
        (binding.key, binding.action, binding.description, binding.group, binding.show, app.get_key_display(binding),
         enabled, tooltip)
        for _node, binding, enabled, tooltip in screen.active_bindings.values()))
