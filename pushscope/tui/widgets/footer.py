"""The key footer: Textual's, composed again only when the keys it shows change (not when one is only enabled or
disabled), once for changes that come together.

Textual's footer composes all its keys again after the next repaint each time the bindings may have changed
(``refresh_bindings``): some thirty widgets removed and mounted, then the whole screen laid out and painted again,
70-140 ms of the UI thread. The inspector's start brings three such calls at once (the first focus, the app's
focus, the screen's stack), most of them changing nothing shown, and each was a composition of its own: about
300 ms in which a key waited. The end of a load enables the export key: one more composition, where setting one
key's class does.
"""

from __future__ import annotations

from typing import NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class ShownBinding(NamedTuple):
    """What ``Footer.compose`` shows of one binding, but whether it is enabled."""

    binding: Binding
    display: str  # its key as shown (the app's keymap may change it)
    tooltip: str


class ShownKeys(NamedTuple):
    """What ``Footer.compose`` shows for a screen's bindings."""

    palette: bool  # the command palette's key
    compact: bool
    bindings: tuple[ShownBinding, ...]
    enabled: tuple[bool, ...]  # per binding


class KeyFooter(Footer):
    _composition_pending = False
    _composed: ShownKeys | None = None  # what the last composition showed

    def bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen and (self._composition_pending or (
                self._bindings_ready and self.children and self._enabled_in_place(screen))):
            # A composition is on its way (it reads the bindings when it runs), or nothing shown changed but
            # which keys are enabled (updated in place).
            self._bindings_ready = True  # (what ``Footer.bindings_changed`` sets: its compose waits for it)
            return
        super().bindings_changed(screen)
        # ``Footer.bindings_changed`` asked for a composition after the next repaint if it may compose now.
        self._composition_pending = bool(screen.app.app_focus and self.is_attached and screen is self.screen)

    def _enabled_in_place(self, screen: Screen) -> bool:
        """True when the keys shown are the ones composed, but for which are enabled: those are then updated in
        place. False when a composition is needed."""
        shown, composed = shown_keys(self, screen), self._composed
        if composed is None or shown[:3] != composed[:3]:
            return False
        if shown.enabled == composed.enabled:
            return True
        # Per action: a footer key stands for its action's first shown binding (the command palette's key, shown
        # apart, for its binding).
        enabled: dict[str, bool] = {}
        for shown_only in (True, False):
            for shown_binding, is_enabled in zip(shown.bindings, shown.enabled, strict=True):
                if shown_binding.binding.show or not shown_only:
                    enabled.setdefault(shown_binding.binding.action, is_enabled)
        keys = list(self.query(FooterKey))
        if any(key.action not in enabled for key in keys):
            return False
        for key in keys:
            disabled = not enabled[key.action]
            key._disabled = disabled  # (what a click on the key checks)
            key.set_class(disabled, "-disabled")
        self._composed = shown
        return True

    def compose(self) -> ComposeResult:
        # Run as the composition reads the bindings (``recompose`` first removes the keys shown, which awaits):
        # a change from here on needs a composition of its own.
        self._composition_pending = False
        if self._bindings_ready:
            self._composed = shown_keys(self, self.screen)
        yield from super().compose()


def shown_keys(footer: Footer, screen: Screen) -> ShownKeys:
    app = screen.app
    active = list(screen.active_bindings.values())
    return ShownKeys(
        palette=bool(footer.show_command_palette and app.ENABLE_COMMAND_PALETTE), compact=footer.compact,
        bindings=tuple(ShownBinding(binding, app.get_key_display(binding), tooltip)
                       for _node, binding, _enabled, tooltip in active),
        enabled=tuple(enabled for _node, _binding, enabled, _tooltip in active))
