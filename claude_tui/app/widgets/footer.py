"""The screens' footer: Textual's compact footer, without its per-key restyle."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class AppFooter(Footer):
    """``Footer(compact=True)`` whose keys are compact from the start.

    Textual's footer makes each key compact through a watcher once the key is mounted;
    adding that class restyles the key (about 2 ms each here), and the footer is
    rebuilt whenever the bindings change: with ~30 keys, a quarter of a screen's first
    open went there. Each key gets the class before it is mounted instead, so the
    watcher finds it there and does nothing. Same classes, same look.
    """

    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)
            yield widget
