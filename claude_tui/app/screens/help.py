"""``?``: every key of the app and of the screen underneath."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from claude_tui.app.widgets.measured_table import MeasuredTable


class HelpScreen(ModalScreen[None]):
    """A table of keys, built from the bindings themselves so it never goes stale."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Label("Keys", classes="dialog-title")
            yield MeasuredTable(id="help-table", cursor_type="none", zebra_stripes=True)
            yield Label("escape to close · ctrl+p for the command palette", classes="dialog-detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # The id is what config.toml's [keys] takes to move a key ("memory.search" = "ctrl+f").
        table.add_columns("Where", "Key", "Does", Text("Id ([keys])"))  # not markup
        for row in self.rows:
            table.add_row(*(Text(text) for text in row))  # key names as typed, never markup

    def action_close(self) -> None:
        self.dismiss(None)
