"""Edit a memory entry's JSON value; invalid JSON is refused with the reason."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

from claude_tui.core.errors import BadInput
from claude_tui.core.validation import parse_json

_NOTHING = object()


class EditValueDialog(ModalScreen[Any]):
    """Dismisses with the parsed new value, or ``EditValueDialog.CANCELLED``."""

    CANCELLED = _NOTHING
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="edit.save"),
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
    ]

    def __init__(self, key: str, text: str) -> None:
        super().__init__()
        self.key = key
        self.text = text

    def compose(self) -> ComposeResult:
        # "editor": the text area takes what is left, so Save/Cancel and the key hint stay
        # on screen at any height (80x24 too).
        with Vertical(classes="dialog wide editor"):
            yield Label(f"Edit {self.key}", classes="dialog-title", markup=False)
            yield TextArea(self.text, language="json", id="editor")
            yield Label(
                "ctrl+s to save · escape to cancel", id="edit-error", classes="dialog-detail",
                markup=False,
            )  # fmt: skip
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        try:
            value = parse_json(self.query_one(TextArea).text)
        except BadInput as exc:
            error = self.query_one("#edit-error", Label)
            error.update(f"Not saved — {exc.message}. The old value is kept.")
            error.add_class("error")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(_NOTHING)
