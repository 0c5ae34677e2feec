"""Sessions: the table of sessions with their counts, and what can be done to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Static

from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.prompt import PromptDialog
from claude_tui.app.formatting import esc, size, when
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.models import Session
from claude_tui.core.services.sessions import SESSION_STATUSES

COLUMNS = ("ID", "Name", "Status", "User", "Created", "Updated", "Agents", "Tasks", "Memory")


@dataclass
class SessionRows:
    """What the sessions screen shows: the sessions, then (later) their counts."""

    sessions: list[Session]
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)


class SessionsScreen(ModeScreen):
    """All sessions; enter makes one active."""

    MODE = "sessions"
    AUTO_FOCUS = "#sessions-table"
    BINDINGS = [
        Binding("enter", "activate", "Open", id="sessions.open"),
        Binding("n", "new", "New", id="sessions.new"),
        Binding("e", "rename", "Rename", id="sessions.rename"),
        Binding("s", "status", "Status", id="sessions.status"),
        Binding("a", "archive", "Archive", id="sessions.archive"),
        Binding("delete,x", "delete", "Delete", id="sessions.delete"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(classes="body"):
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="session-detail", classes="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def reload(self) -> None:
        self.load_sessions()

    @work(thread=True, exclusive=True, group="sessions", exit_on_error=False)
    def load_sessions(self) -> None:
        rows = SessionRows(self.coordinator.sessions.list())
        self.app.call_from_thread(self.show, rows)
        # The counts scan large tables: fetched after the first paint.
        rows.counts = self.coordinator.sessions.counts()
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: SessionRows) -> None:
        table = self.query_one(DataTable)
        lines: list[tuple[str, tuple[str, ...]]] = []
        for s in rows.sessions:
            c = rows.counts.get(s.id)
            tasks = "…" if c is None else _task_summary(c["tasks"])
            memory = "…" if c is None else f"{c['memory_entries']} · {size(c['memory_bytes'])}"
            agents = "…" if c is None else str(c["agents"])
            marker = "▶ " if s.id == self.tui.session_id else ""
            values = (
                marker + s.id, s.name or "", s.status, s.user_id or "", when(s.created_at),
                when(s.updated_at), agents, tasks, memory,
            )  # fmt: skip
            lines.append((s.id, values))
        self.fill_table(table, lines)
        self._rows = {s.id: s for s in rows.sessions}
        self._counts = rows.counts
        self.refresh_detail()

    @on(DataTable.RowSelected)
    def _selected_row(self) -> None:
        self.action_activate()

    def refresh_detail(self) -> None:
        key = self.current_key()
        session = getattr(self, "_rows", {}).get(key)
        detail = self.query_one("#session-detail", Static)
        if session is None:
            detail.update("No sessions yet. Press n to create one.")
            return
        counts = getattr(self, "_counts", {}).get(session.id)
        lines = [
            f"[b]{esc(session.name or '(unnamed)')}[/b]",
            f"id       {session.id}",
            f"status   {esc(session.status)}",
            f"user     {esc(session.user_id or '-')}",
            f"created  {when(session.created_at)}",
            f"updated  {when(session.updated_at)}",
        ]
        if counts:
            lines += [
                f"agents   {counts['agents']}",
                f"tasks    {_task_summary(counts['tasks']) or 'none'}",
                f"memory   {counts['memory_entries']} entries, {size(counts['memory_bytes'])}",
            ]
        lines.append("\nenter: open · n new · e rename · s status · a archive · x delete")
        detail.update("\n".join(lines))

    # -- actions ------------------------------------------------------------
    def action_activate(self) -> None:
        key = self.current_key()
        if key is not None:
            self.tui.set_session(key)
            self.reload()

    def action_new(self) -> None:
        def created(name: str | None) -> None:
            if name is not None:
                self.run_write(lambda: self.coordinator.sessions.create(name=name.strip() or None))

        self.app.push_screen(
            PromptDialog("Name of the new session", placeholder="e.g. auth-refactor"), created
        )

    def action_rename(self) -> None:
        key = self.current_key()
        if key is None:
            return
        current = self._rows[key].name or ""

        def renamed(name: str | None) -> None:
            if name:
                self.run_write(lambda: self.coordinator.sessions.update(key, name=name))

        self.app.push_screen(PromptDialog("Rename session", value=current), renamed)

    def action_status(self) -> None:
        key = self.current_key()
        if key is None:
            return

        def chosen(status: str | None) -> None:
            if status:
                self.run_write(lambda: self.coordinator.sessions.update(key, status=status))

        self.app.push_screen(
            ChooseDialog("Set status", list(SESSION_STATUSES), self._rows[key].status), chosen
        )

    def action_archive(self) -> None:
        key = self.current_key()
        if key is not None:
            self.run_write(lambda: self.coordinator.sessions.archive(key))

    def action_delete(self) -> None:
        key = self.current_key()
        if key is None:
            return
        counts = getattr(self, "_counts", {}).get(key)
        detail = (
            f"{counts['agents']} agents, {sum(counts['tasks'].values())} tasks and "
            f"{counts['memory_entries']} private memory entries will be deleted. "
            "Shared memory stays."
            if counts
            else "Its agents, tasks and private memory will be deleted."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_write(lambda: self.coordinator.sessions.delete(key))
                if self.tui.session_id == key:
                    self.tui.set_session(None)

        self.app.push_screen(ConfirmDialog(f"Delete session {key}?", detail, "Delete"), confirmed)

    @work(thread=True, group="session-writes", exit_on_error=False)
    def run_write(self, write: Any) -> None:
        write()
        self.app.call_from_thread(self.reload)


def _task_summary(by_status: dict[str, int]) -> str:
    order = ("pending", "in_progress", "blocked", "completed", "failed", "cancelled")
    short = {"pending": "pend", "in_progress": "run", "blocked": "blk", "completed": "done",
             "failed": "fail", "cancelled": "canc"}  # fmt: skip
    return " ".join(f"{by_status[s]} {short[s]}" for s in order if by_status.get(s))
