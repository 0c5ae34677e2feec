"""The Textual app. For now one screen: the sessions of the data dir and which tiers are up."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.models import Session

STYLES = Path(__file__).resolve().parent.parent / "styles"


class ClaudeTUIApp(App[int]):
    """claude-tui's terminal app."""

    TITLE = "claude-tui"
    CSS_PATH = STYLES / "app.tcss"
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self, coordinator: MemoryCoordinator, *, session_id: str | None = None, fresh: bool = False
    ) -> None:
        super().__init__()
        self.coordinator = coordinator
        self.requested_session = session_id
        self.fresh = fresh

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="backends")
        yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        table.add_columns("ID", "Name", "Status", "User", "Agents")
        self.action_refresh()
        self.set_interval(1.0, self.action_refresh)

    def action_refresh(self) -> None:
        """Reload sessions and tier status off the UI thread."""
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> tuple[list[Session], dict[str, int], dict[str, dict[str, object]]]:
        c = self.coordinator
        c.poll_changes()
        sessions = c.sessions.list()
        agents = {s.id: len(c.agents.list(s.id)) for s in sessions}
        return sessions, agents, c.backends()

    @on(Worker.StateChanged)
    def loaded(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error", title="Could not load")
            return
        if event.state != WorkerState.SUCCESS or event.worker.group != "load":
            return
        if event.worker.result is None:
            return
        sessions, agents, backends = event.worker.result
        up = " · ".join(
            f"{name}: {'up' if info['up'] else 'down'}" for name, info in backends.items()
        )
        self.query_one("#backends", Static).update(up)
        table = self.query_one("#sessions", DataTable)
        cursor = table.cursor_row
        table.clear()
        for s in sessions:
            table.add_row(s.id, s.name or "", s.status, s.user_id or "", agents[s.id], key=s.id)
        if sessions:
            table.move_cursor(row=min(cursor, len(sessions) - 1))
