"""The agent registry: agents of the active session (or all), filterable by type and status."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Select, Static

from claude_tui.app.formatting import esc, json_view, plural, when
from claude_tui.app.messages import AgentsLoaded
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.models import Agent
from claude_tui.core.services.sessions import AGENT_STATUSES

COLUMNS = ("ID", "Session", "Type", "Role", "Status", "Capabilities")


class AgentsScreen(ModeScreen):
    """Agents with a detail pane showing capabilities and memory context."""

    MODE = "agents"
    AUTO_FOCUS = "#agents-table"
    BINDINGS = [
        Binding("a", "toggle_all", "All sessions", id="agents.all"),
        Binding("t", "focus_type", "Type filter", id="agents.type"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self._agents: dict[str, Agent] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(classes="filters"):
            yield Select([], prompt="any type", id="agent-type", allow_blank=True)
            yield Select([(s, s) for s in AGENT_STATUSES], prompt="any status", id="agent-status")
            yield Static("", id="agents-scope", classes="scope")
        with Horizontal(classes="body"):
            yield RecordTable(id="agents-table", cursor_type="row", zebra_stripes=True)
            with Vertical(classes="detail"):
                yield Static("", id="agent-detail")
                yield Static("", id="agent-context")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def scope(self) -> str | None:
        """The session whose agents are shown (None: all sessions)."""
        return None if self.show_all else self.tui.session_id

    def reload(self) -> None:
        self.load(self.scope())

    @work(thread=True, exclusive=True, group="agents", exit_on_error=False)
    def load(self, session_id: str | None) -> None:
        # Reads and posts; the handler draws (a worker never touches a widget).
        self.post_message(
            AgentsLoaded(self.coordinator.agents.list(session_id=session_id), session_id)
        )

    def on_agents_loaded(self, message: AgentsLoaded) -> None:
        if message.session_id != self.scope():
            return  # asked for before the session (or "all sessions") changed: a newer load follows
        self.show(message.agents, message.session_id)

    def show(self, agents: list[Agent], session_id: str | None) -> None:
        type_select = self.query_one("#agent-type", Select)
        types = sorted({a.agent_type for a in agents})
        if [str(o) for o in types] != getattr(self, "_types", None):
            self._types = types
            current = type_select.value
            with self.prevent(Select.Changed):
                type_select.set_options([(t, t) for t in types])
                if current in types:
                    type_select.value = current
        wanted_type = type_select.value if isinstance(type_select.value, str) else None
        status = self.query_one("#agent-status", Select).value
        wanted_status = status if isinstance(status, str) else None
        shown = [
            a for a in agents
            if (wanted_type is None or a.agent_type == wanted_type)
            and (wanted_status is None or a.status == wanted_status)
        ]  # fmt: skip
        scope = "all sessions" if session_id is None else f"session {session_id}"
        self.query_one("#agents-scope", Static).update(
            Text(f"{plural(len(shown), 'agent')} · {scope} · a: toggle")
        )
        self._agents = {a.id: a for a in shown}
        rows = [
            (a.id, (a.id, a.session_id, a.agent_type, a.role or "", a.status,
                    ", ".join(a.capabilities)))
            for a in shown
        ]  # fmt: skip
        self.fill_table(self.query_one(DataTable), rows)
        self.refresh_detail()

    @on(Select.Changed)
    def _filter(self) -> None:
        self.reload()

    def refresh_detail(self) -> None:
        agent = self._agents.get(self.current_key() or "")
        info = self.query_one("#agent-detail", Static)
        context = self.query_one("#agent-context", Static)
        if agent is None:
            info.update("No agents here. Register one with: claude-tui agent register ...")
            context.update("")
            return
        info.update(
            "\n".join([
                f"[b]{esc(agent.agent_type)}[/b] — {esc(agent.role or 'no role')}",
                f"id            {esc(agent.id)}",
                f"session       {esc(agent.session_id)}",
                f"status        {esc(agent.status)}",
                f"registered    {when(agent.created_at)}",
                f"updated       {when(agent.updated_at)}",
                f"capabilities  {esc(json.dumps(agent.capabilities))}",
                "memory context:",
            ])
        )  # fmt: skip
        context.update(json_view(agent.memory_context))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.reload()

    def action_focus_type(self) -> None:
        self.query_one("#agent-type", Select).focus()
