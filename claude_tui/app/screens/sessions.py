"""Sessions: the table of sessions with their counts, and what can be done to them.

Workers read and write through the coordinator and post the messages of
``app/messages.py``; the handlers here draw and open the dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from claude_tui.app.dialogs.actions import ActionsDialog, Answer
from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.pick import PickDialog
from claude_tui.app.dialogs.prompt import PromptDialog
from claude_tui.app.formatting import esc, plural, size, when
from claude_tui.app.messages import (
    CheckpointRestored,
    CheckpointsListed,
    CheckpointTaken,
    RestorePreviewed,
    SessionDetailLoaded,
    SessionsLoaded,
    SessionsWritten,
)
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.durability.checkpoints import Checkpoint, RestorePlan
from claude_tui.core.models import TASK_STATUSES, Session
from claude_tui.core.services.sessions import SESSION_STATUSES
from claude_tui.core.transcripts.links import Origin

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
        # Not in the footer (it would change the screen's snapshots); ? and ctrl+p list it.
        Binding("t", "transcript", "Transcript", id="sessions.transcript", show=False),
        Binding("n", "new", "New", id="sessions.new"),
        Binding("e", "rename", "Rename", id="sessions.rename"),
        Binding("s", "status", "Status", id="sessions.status"),
        Binding("a", "archive", "Archive", id="sessions.archive"),
        Binding("x,delete", "delete", "Delete", id="sessions.delete"),
        Binding("c", "checkpoint", "Checkpoint", id="sessions.checkpoint"),
        Binding("R", "restore_checkpoint", "Restore", id="sessions.restore"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._latest_checkpoint: dict[str, Checkpoint | None] = {}
        self._injections: dict[str, list[dict[str, Any]]] = {}  # what recall gave each session
        self._checkpoint_asked: set[str] = set()  # looked up since the last reload
        self._generation = 0  # the newest reload: the answers of older ones are dropped

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(classes="body"):
            yield RecordTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="session-detail", classes="detail")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def reload(self) -> None:
        self._checkpoint_asked.clear()
        self._generation += 1
        self.load_sessions(self._generation)

    # -- workers: they read or write and post; nothing here touches a widget ----
    @work(thread=True, exclusive=True, group="sessions", exit_on_error=False)
    def load_sessions(self, generation: int) -> None:
        sessions = self.coordinator.sessions.list()
        self.post_message(SessionsLoaded(generation, sessions))
        # The counts scan large tables: fetched after the first paint.
        self.post_message(SessionsLoaded(generation, sessions, self.coordinator.sessions.counts()))

    @work(thread=True, group="session-checkpoint", exit_on_error=False)
    def load_latest_checkpoint(self, session_id: str) -> None:
        from claude_tui.hooks.handlers import injections_of

        found = self.coordinator.checkpoints.list(session_id, limit=1)
        injected = injections_of(self.coordinator, session_id)
        self.post_message(SessionDetailLoaded(session_id, found[0] if found else None, injected))

    @work(thread=True, group="session-writes", exit_on_error=False)
    def take_checkpoint(self, session_id: str, label: str | None) -> None:
        checkpoint = self.coordinator.checkpoints.create(session_id, label=label)
        self.post_message(CheckpointTaken(session_id, checkpoint))

    @work(thread=True, group="session-checkpoint-restore", exit_on_error=False)
    def list_checkpoints(self, session_id: str) -> None:
        found = self.coordinator.checkpoints.list(session_id, limit=200)
        self.post_message(CheckpointsListed(session_id, found))

    @work(thread=True, group="session-checkpoint-restore", exit_on_error=False)
    def preview_restore(self, session_id: str, checkpoint_id: str) -> None:
        checkpoints = self.coordinator.checkpoints
        plan = checkpoints.preview(session_id, checkpoint_id)
        keeping = checkpoints.preview(session_id, checkpoint_id, keep_new=True)
        self.post_message(RestorePreviewed(plan, keeping))

    @work(thread=True, group="session-writes", exit_on_error=False)
    def restore_checkpoint(self, session_id: str, checkpoint_id: str, keep_new: bool) -> None:
        result = self.coordinator.checkpoints.restore(session_id, checkpoint_id, keep_new=keep_new)
        self.post_message(CheckpointRestored(session_id, checkpoint_id, result))

    @work(thread=True, group="session-writes", exit_on_error=False)
    def run_write(self, write: Callable[[], object]) -> None:
        write()
        self.post_message(SessionsWritten())

    # -- handlers: they draw ---------------------------------------------------------
    def on_sessions_loaded(self, message: SessionsLoaded) -> None:
        if message.generation != self._generation:
            return  # an older reload's answer, after a newer one was asked for
        self.show(SessionRows(message.sessions, message.counts or {}))

    def on_session_detail_loaded(self, message: SessionDetailLoaded) -> None:
        session_id, latest, injected = message.session_id, message.checkpoint, message.injections
        if self._latest_checkpoint.get(session_id, False) == latest and (
            self._injections.get(session_id) == injected
        ):
            return
        self._latest_checkpoint[session_id] = latest
        self._injections[session_id] = injected
        if self.current_key() == session_id:  # (another session's: kept for when it is selected)
            self.refresh_detail()

    def on_sessions_written(self, message: SessionsWritten) -> None:
        self.reload()

    def on_checkpoint_taken(self, message: CheckpointTaken) -> None:
        checkpoint = message.checkpoint
        self.notify(
            f"{checkpoint.id}: {_checkpoint_counts(checkpoint.counts)}", title="Checkpoint taken"
        )
        self.reload()

    def on_checkpoints_listed(self, message: CheckpointsListed) -> None:
        if self.current_key() == message.session_id:  # not when another session is selected now
            self.pick_checkpoint(message.session_id, message.checkpoints)

    def on_restore_previewed(self, message: RestorePreviewed) -> None:
        if self.current_key() == message.plan.session_id:
            self.confirm_restore(message.plan, message.keeping)

    def on_checkpoint_restored(self, message: CheckpointRestored) -> None:
        result = message.result
        undo = f" Undo: R and pick {result.safety_checkpoint}." if result.safety_checkpoint else ""
        self.notify(
            f"{message.session_id} is back to {message.checkpoint_id}: "
            f"{result.plan.summary()}.{undo}",
            title="Checkpoint restored",
            timeout=10,
        )
        self.reload()

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
            f"id       {esc(session.id)}",
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
        lines.append(f"checkpoint {self._checkpoint_line(session.id)}")
        lines += self._recall_lines(session.id)
        lines.append(
            "\nenter: open · n new · e rename · s status · a archive · x delete"
            "\nc checkpoint · R restore a checkpoint"
        )
        detail.update("\n".join(lines))

    def _checkpoint_line(self, session_id: str) -> str:
        # The cached line stays on screen while a reload looks it up again (no flicker).
        if session_id not in self._checkpoint_asked:
            self._checkpoint_asked.add(session_id)
            self.load_latest_checkpoint(session_id)
        if session_id not in self._latest_checkpoint:
            return "…"
        checkpoint = self._latest_checkpoint[session_id]
        if checkpoint is None:
            return "none (c to take one)"
        label = f" {esc(checkpoint.label)}" if checkpoint.label else ""
        return f"{when(checkpoint.created_at)}{label} [dim]({checkpoint.reason})[/dim]"

    def _recall_lines(self, session_id: str) -> list[str]:
        """What the Claude Code hooks injected into this session, and why (newest last)."""
        shown = self._injections.get(session_id) or []
        if not shown:
            return []
        last = shown[-1]
        lines = [
            f"recall   {plural(len(shown), 'injection')}; last {esc(last['hook'])} "
            f"{when(last['at'])}, {last['chars']} characters"
        ]
        for item in last["items"][:6]:
            lines.append(
                f"  [dim]{esc(item['kind'])}[/dim] {esc(item['ref'])} — {esc(item['why'])}"
            )
        return lines

    # -- actions ------------------------------------------------------------
    def action_activate(self) -> None:
        key = self.current_key()
        if key is not None:
            self.tui.set_session(key)
            self.reload()

    def transcript_target(self) -> tuple[str, Origin | None] | None:
        """The whole conversation of the selected session (t)."""
        key = self.current_key()
        return None if key is None else (key, None)

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
        detail = "Its agents, tasks and private memory will be deleted."
        if counts:
            entries = plural(
                counts["memory_entries"], "private memory entry", "private memory entries"
            )
            tasks = plural(sum(counts["tasks"].values()), "task")
            detail = (
                f"{plural(counts['agents'], 'agent')}, {tasks} and {entries} will be deleted. "
                "Shared memory stays."
            )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_write(lambda: self.coordinator.sessions.delete(key))
                if self.tui.session_id == key:
                    self.tui.set_session(None)

        self.app.push_screen(ConfirmDialog(f"Delete session {key}?", detail, "Delete"), confirmed)

    # -- checkpoints ----------------------------------------------------------
    def action_checkpoint(self) -> None:
        key = self.current_key()
        if key is None:
            return

        def labelled(label: str | None) -> None:
            if label is not None:
                self.take_checkpoint(key, label.strip() or None)

        self.app.push_screen(
            PromptDialog(
                f"Checkpoint session {key}", placeholder="label (optional), e.g. before the merge"
            ),
            labelled,
        )

    def action_restore_checkpoint(self) -> None:
        key = self.current_key()
        if key is not None:
            self.list_checkpoints(key)

    def pick_checkpoint(self, session_id: str, found: list[Checkpoint]) -> None:
        if not found:
            self.notify(
                f"Session {session_id} has no checkpoint yet; press c to take one.",
                title="Nothing to restore",
                severity="warning",
            )
            return
        rows = [
            (
                cp.id,
                f"{when(cp.created_at)}  {cp.reason:<14} {cp.label or '':<24.24}  "
                f"{_checkpoint_counts(cp.counts)}",
            )
            for cp in found
        ]

        def picked(checkpoint_id: str | None) -> None:
            if checkpoint_id is not None:
                self.preview_restore(session_id, checkpoint_id)

        self.app.push_screen(
            PickDialog(
                f"Restore session {session_id} to which checkpoint? (newest first)",
                rows,
                "enter to choose · escape to cancel · a preview follows, nothing is changed yet",
            ),
            picked,
        )

    def confirm_restore(self, plan: RestorePlan, keeping: RestorePlan) -> None:
        cp = plan.checkpoint
        if plan.empty:
            self.notify(
                f"Session {plan.session_id} is as it was at {cp.id}; nothing would change.",
                title="Nothing to restore",
            )
            return
        label = f" “{cp.label}”" if cp.label else ""

        def answered(choice: str | None) -> None:
            if choice is not None:
                self.restore_checkpoint(plan.session_id, cp.id, choice == "keep")

        answers = [Answer("restore", "Restore", "y", "error")]
        if any(t.removed for t in plan.tables.values()):
            answers.append(Answer("keep", "Restore, keep what was added since", "k", "warning"))
        self.app.push_screen(
            ActionsDialog(
                f"Restore session {plan.session_id} to {cp.id}{label}?",
                restore_plan_text(plan, keeping),
                answers,
                "A checkpoint of the session as it is now is taken first, so this can be undone.",
            ),
            answered,
        )


def _checkpoint_counts(counts: dict[str, int]) -> str:
    return (
        f"{plural(counts.get('agents', 0), 'agent')} · {plural(counts.get('tasks', 0), 'task')} "
        f"({counts.get('pending_tasks', 0)} open) · {counts.get('memory', 0)} memory · "
        f"{plural(counts.get('patterns', 0), 'pattern')}"
    )


def restore_plan_text(plan: RestorePlan, keeping: RestorePlan) -> Text:
    """What a restore changes, per table, and what keeping the new rows would change."""
    text = Text()
    text.append(plan.summary() + "\n\n", style="bold")
    text.append(f"{'':12}{'back':>8}{'reverted':>10}{'removed':>9}\n", style="dim")
    names = {"agents": "agents", "tasks": "tasks", "memory_entries": "memory",
             "neural_patterns": "patterns"}  # fmt: skip
    for table, change in plan.tables.items():
        name = names.get(table, table)
        text.append(f"{name:12}{change.added:>8}{change.changed:>10}{change.removed:>9}\n")
    if plan.session_changed:
        text.append("the session's name, status or metadata are reverted too\n")
    kept = sum(t.kept for t in keeping.tables.values())
    if kept:
        text.append(
            f"\nk keeps the {plural(kept, 'row')} added since the checkpoint instead: "
            f"{keeping.summary()}",
            style="italic",
        )
    return text


def _task_summary(by_status: dict[str, int]) -> str:
    order = TASK_STATUSES
    short = {"pending": "pend", "in_progress": "run", "blocked": "blk", "completed": "done",
             "failed": "fail", "cancelled": "canc"}  # fmt: skip
    return " ".join(f"{by_status[s]} {short[s]}" for s in order if by_status.get(s))
