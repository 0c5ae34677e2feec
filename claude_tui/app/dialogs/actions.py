"""A question with more than two answers, each with its own key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import RenderableType
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

Variant = Literal["default", "primary", "success", "warning", "error"]


@dataclass(frozen=True)
class Answer:
    """One button: what it returns, its label, its key."""

    id: str
    label: str
    key: str
    variant: Variant = "default"


class ActionsDialog(ModalScreen[str | None]):
    """Dismisses with the id of the answer chosen (button or key), or None (escape, n).

    Cancel has the focus: the answers replace or restore data, so a stray enter
    must not choose one.
    """

    BINDINGS = [Binding("escape,n", "cancel", "Cancel", id="actions.cancel")]

    def __init__(
        self, question: str, detail: RenderableType, answers: Sequence[Answer], note: str = ""
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.answers = list(answers)
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.question, classes="dialog-title", markup=False)
            # A str detail is shown literally (it may hold user data); Text keeps its styles.
            yield Static(self.detail, id="actions-detail", markup=False)
            if self.note:
                yield Label(self.note, classes="dialog-detail", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for answer in self.answers:
                    yield Button(
                        f"{answer.label} ({answer.key})", variant=answer.variant, id=answer.id
                    )
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def on_key(self, event: events.Key) -> None:
        for answer in self.answers:
            if event.key == answer.key:
                event.stop()
                self.dismiss(answer.id)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
