"""What every mode screen shares: the service, reloads on change, remembered selection."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Tree

from claude_tui.app.messages import DataChanged
from claude_tui.core.coordinator import MemoryCoordinator

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp


class ModeScreen(Screen[None]):
    """A screen bound to the service: it reloads when data changes or it comes back."""

    MODE = ""
    BINDINGS = [Binding("escape", "focus_main", "Back to the list", show=False, id="screen.back")]

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

    def on_data_changed(self, message: DataChanged) -> None:
        self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows (in a worker) and redraw, keeping the cursor."""

    def remember(self, key: str | None) -> None:
        """Record the selected row so the next launch comes back to it."""
        self.tui.remember_selection(self.MODE, key)

    def action_focus_main(self) -> None:
        """Leave a text box: focus the screen's table or tree (so letter keys act again)."""
        for widget in self.query(DataTable).results():
            widget.focus()
            return
        for tree in self.query(Tree).results():
            tree.focus()
            return

    def remembered(self) -> str | None:
        """The row selected on this screen last time."""
        return self.tui.state.selected.get(self.MODE)
