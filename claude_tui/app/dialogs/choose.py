"""Pick one of a few options."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList


class ChooseDialog(ModalScreen[str | None]):
    """Dismisses with the chosen option, or None (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choose.cancel")]

    def __init__(self, question: str, options: list[str], current: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            yield OptionList(*(Text(o) for o in self.options), id="choices")  # literally

    def on_mount(self) -> None:
        if self.current in self.options:
            self.query_one(OptionList).highlighted = self.options.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.options[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
