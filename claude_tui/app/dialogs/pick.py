"""Pick one item of a list whose rows say more than their key."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class PickDialog(ModalScreen[str | None]):
    """Dismisses with the key of the chosen row, or None (escape).

    Args:
        question: the title.
        rows: ``(key, text)`` pairs, shown in order; the text is shown literally.
        detail: a line under the list.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]

    def __init__(self, question: str, rows: Sequence[tuple[str, str]], detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.rows = list(rows)
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.question, classes="dialog-title", markup=False)
            yield OptionList(
                *(Option(Text(text, no_wrap=True), id=key) for key, text in self.rows),
                id="picks",
            )
            if self.detail:
                yield Label(self.detail, classes="dialog-detail", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
