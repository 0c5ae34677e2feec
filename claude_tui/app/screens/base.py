"""What every mode screen shares: the service, reloads on change, remembered selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Tree
from textual.worker import Worker

from claude_tui.app.formatting import cell
from claude_tui.app.messages import DataChanged
from claude_tui.core.coordinator import MemoryCoordinator

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.core.transcripts.links import Origin


class ModeScreen(Screen[None]):
    """A screen bound to the service: it reloads when data changes or it comes back."""

    MODE = ""
    BINDINGS = [
        Binding("escape", "focus_main", "Back to the list", show=False, id="screen.back"),
        # The transcript line the selected row came from (screens say which: transcript_target).
        # "l" for line: "t" is the agents screen's type filter (and a key this base class also
        # bound would move that screen's own "t" in its footer).
        Binding("l", "transcript", "Transcript line", show=False, id="screen.transcript"),
    ]

    @property
    def tui(self) -> ClaudeTUIApp:
        """The app, typed."""
        return cast("ClaudeTUIApp", self.app)

    @property
    def coordinator(self) -> MemoryCoordinator:
        """The memory coordinator (call it from workers only: it does I/O)."""
        return self.tui.coordinator

    def on_screen_resume(self) -> None:
        self.reload()

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand this screen's worker errors to the app.
        self.tui.worker_failed(event)

    def on_data_changed(self, message: DataChanged) -> None:
        self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows (in a worker) and redraw, keeping the cursor."""

    def refresh_detail(self) -> None:
        """Show the selected row in the detail pane."""

    def current_key(self) -> str | None:
        """The key of the selected row of the screen's main table."""
        for table in self.query(DataTable).results():
            return self.selected_key(table)
        return None

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.remember(self.current_key())
        self.refresh_detail()

    def remember(self, key: str | None) -> None:
        """Record the selected row so the next launch comes back to it."""
        self.tui.remember_selection(self.MODE, key)

    def select_key(self, key: str) -> None:
        """Put the cursor on the row ``key`` (when it is shown) and remember it."""
        self.remember(key)
        for table in self.query(DataTable).results():
            try:
                table.move_cursor(row=table.get_row_index(key))
            except Exception:  # not on this page (or not loaded yet: the remembered row is)
                pass
            return

    def transcript_target(self) -> tuple[str, Origin | None] | None:
        """The session and the origin of the selected row, when it came from a transcript."""
        return None

    def action_transcript(self) -> None:
        """Open the conversation at the line the selected row came from."""
        from claude_tui.app.screens.conversation import ConversationScreen

        target = self.transcript_target()
        if target is None:
            self.notify(
                "The selected row did not come from a Claude Code transcript.",
                title="Transcript",
                severity="warning",
            )
            return
        session_id, origin = target
        self.app.push_screen(ConversationScreen(session_id, origin=origin))

    def action_focus_main(self) -> None:
        """Leave a text box: focus the screen's table or tree (so letter keys act again)."""
        for widget in self.query(DataTable).results():
            widget.focus()
            return
        for tree in self.query(Tree).results():
            tree.focus()
            return

    @staticmethod
    def selected_key(table: DataTable[Any]) -> str | None:
        """The key of the row under the table's cursor (None when empty)."""
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # the cursor points past a row that was just removed
            return None

    def fill_table(
        self, table: DataTable[Any], rows: Sequence[tuple[str, Sequence[object]]]
    ) -> None:
        """Show ``rows`` (key, cells), keeping the cursor on the same key.

        Identical content is left alone, so a refresh that changes nothing
        neither flickers nor moves anything.
        """
        rows = [(key, tuple(cells)) for key, cells in rows]
        if getattr(table, "_claude_rows", None) == rows:
            return
        keep = self.selected_key(table) or self.remembered()
        table.clear()
        for key, cells in rows:
            table.add_row(*map(cell, cells), key=key)
        table._claude_rows = rows  # type: ignore[attr-defined]
        if keep is not None and table.row_count:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:  # that row is gone: the cursor stays where it was
                pass

    def remembered(self) -> str | None:
        """The row selected on this screen last time."""
        return self.tui.state.selected.get(self.MODE)
