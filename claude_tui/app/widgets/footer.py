"""The screens' footer: Textual's compact footer, without its per-key restyle."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class AppFooter(Footer):
    """``Footer(compact=True)`` whose keys are compact from the start.

    Textual's footer makes each key compact through a watcher once the key is mounted;
    adding that class restyles the key (about 2 ms each here), and the footer is
    rebuilt whenever the bindings change: with ~30 keys, a quarter of a screen's first
    open went there. Each key gets the class before it is mounted instead, so the
    watcher finds it there and does nothing. Same classes, same look.

    Nor is it rebuilt when the bindings "change" to what it already shows: every
    focus change and every switch back to the screen sends that signal, and most
    leave the footer's keys as they were (typing in a search box does hide the
    letter keys, and that is redrawn).
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = tuple(
                (b.key, b.action, b.description, screen.app.get_key_display(b), on, tip)
                for _, b, on, tip in screen.active_bindings.values()
                if b.show
            )
            if shown == self._shown:
                return  # the same keys, enabled alike: nothing to redraw
            self._shown = shown
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)
            yield widget
