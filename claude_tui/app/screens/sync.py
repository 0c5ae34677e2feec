"""Swarm: cross-host sync as this host sees it — the server, the peers, and the conflicts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from claude_tui.app.dialogs.actions import ActionsDialog, Answer
from claude_tui.app.formatting import duration, one_line, when
from claude_tui.app.messages import ConflictResolved, ConflictValueRead, ResyncDone, SyncRead
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.sync_info import (
    SYNC_OFF,
    PeerRow,
    SyncView,
    current_value,
    peer_rows,
    same_json,
)
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.measured_table import MeasuredTable
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.sync.conflicts import ConflictRow

PEER_COLUMNS = ("Node", "Last event", "Lag ms", "Events", "Unread", "Pending")
CONFLICT_COLUMNS = ("Namespace", "Key", "Field", "Kept", "Lost", "Lost from", "When", "State")
# How the core's resolutions read in the narrow State column.
RESOLUTIONS = {
    "took the winner": "kept",
    "took the loser": "took other",
    "superseded by a later write": "rewritten",
}
REFRESH_SECONDS = 1.0
ABSENT = "(absent: deleted or never set)"


class SyncScreen(ModeScreen):
    """The sync server, the peers and the conflicts, refreshed every second and on changes."""

    MODE = "swarm"
    AUTO_FOCUS = "#conflicts-table"
    BINDINGS = [
        Binding("o", "take_other", "Take other", id="swarm.take_loser"),
        Binding("k", "keep", "Keep winner", id="swarm.keep_winner"),
        Binding("r", "resync", "Resync", id="swarm.resync"),
        Binding("a", "toggle_resolved", "Show resolved", id="swarm.resolved"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.include_resolved = False
        self.view: SyncView | None = None
        self._conflicts: dict[str, ConflictRow] = {}
        self._now: dict[int, str | None] = {}  # conflict id -> its value on this host now
        self._loading = False  # one reading at a time: status() may wait on the network
        self._stale = False  # something changed while reading: read again when done

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Reading the sync status…", id="sync-summary")
        with Vertical(id="peers-panel"):
            yield Label("Peers", classes="panel-title")
            yield MeasuredTable(id="peers-table", cursor_type="none", zebra_stripes=True)
        yield Static("", id="conflicts-scope", classes="scope")
        with Horizontal(classes="body"):
            yield RecordTable(id="conflicts-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="detail", id="conflict-detail-pane"):
                yield Static("", id="conflict-detail")
        yield AppFooter()

    def on_mount(self) -> None:
        peers = self.query_one("#peers-table", DataTable)
        for label in PEER_COLUMNS:
            peers.add_column(label, key=label)
        conflicts = self.query_one("#conflicts-table", DataTable)
        for label in CONFLICT_COLUMNS:
            conflicts.add_column(label, key=label)
        # Peers, the queue and the stream are not in the change feed: poll while shown.
        self.set_interval(REFRESH_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.is_current:
            self.reload()

    # -- loading --------------------------------------------------------------
    def reload(self) -> None:
        if self._loading:
            self._stale = True
            return
        self._loading, self._stale = True, False
        self.load(self.include_resolved)

    @work(thread=True, exclusive=True, group="swarm", exit_on_error=False)
    def load(self, include_resolved: bool) -> None:
        """Read the sync status and the conflicts; posts :class:`SyncRead`, even on failure."""
        view = None
        try:
            view = SyncView.read(self.coordinator, include_resolved=include_resolved)
        finally:
            self.post_message(SyncRead(view))

    def on_sync_read(self, message: SyncRead) -> None:
        if message.view is not None:
            self.show(message.view)
        self._loading = False
        if self._stale:
            self.reload()

    def show(self, view: SyncView) -> None:
        self.view = view
        self.tui.services.note_sync(view.summary)
        self.query_one("#sync-summary", Static).update(summary_text(view))
        panel = self.query_one("#peers-panel")
        panel.display = view.status is not None
        if view.status is not None:
            now = self.coordinator.rt.clock()
            rows = peer_rows(view.status)
            self.fill_table(
                self.query_one("#peers-table", DataTable),
                [(row.node, _peer_cells(row, now)) for row in rows],
            )
        self._conflicts = {str(c.id): c for c in view.conflicts}
        self.fill_table(
            self.query_one("#conflicts-table", DataTable),
            [(str(c.id), _conflict_cells(c)) for c in view.conflicts],
        )
        self._scope_line(view)
        self.refresh_detail()

    def _scope_line(self, view: SyncView) -> None:
        shown = "open and resolved" if view.include_resolved else "open"
        parts = [
            f"Conflicts: {view.open_conflicts} open, {len(view.conflicts)} shown ({shown})",
            "o take the other value · k keep the winner · "
            + ("a hide resolved" if view.include_resolved else "a show resolved"),
        ]
        if view.status is not None:
            parts.append("r resync now")
        self.query_one("#conflicts-scope", Static).update(" · ".join(parts))

    # -- selection and detail -------------------------------------------------
    def current_key(self) -> str | None:
        return self.selected_key(self.query_one("#conflicts-table", DataTable))

    def selected(self) -> ConflictRow | None:
        """The conflict under the cursor."""
        return self._conflicts.get(self.current_key() or "")

    def refresh_detail(self) -> None:
        detail = self.query_one("#conflict-detail", Static)
        conflict = self.selected()
        if conflict is None:
            detail.update(
                Text(
                    "No conflicts. A conflict is kept here when two hosts changed the same "
                    "shared value without seeing each other's change; the later write wins "
                    "everywhere and you can pick the other one."
                )
            )
            return
        if conflict.id in self._now:
            detail.update(conflict_text(conflict, self._now[conflict.id], known=True))
        else:
            detail.update(conflict_text(conflict))
        self.fetch_current(conflict)

    @work(thread=True, exclusive=True, group="swarm-current", exit_on_error=False)
    def fetch_current(self, conflict: ConflictRow) -> None:
        self.post_message(ConflictValueRead(conflict, current_value(self.coordinator, conflict)))

    def on_conflict_value_read(self, message: ConflictValueRead) -> None:
        conflict, value = message.conflict, message.value
        if conflict.id in self._now and self._now[conflict.id] == value:
            return
        self._now[conflict.id] = value
        if self.selected() == conflict:
            detail = self.query_one("#conflict-detail", Static)
            detail.update(conflict_text(conflict, value, known=True))

    # -- actions ----------------------------------------------------------------
    def _open_selected(self) -> ConflictRow | None:
        conflict = self.selected()
        if conflict is None:
            self.notify("No conflict selected.", severity="warning")
            return None
        if conflict.resolved_at is not None:
            self.notify(
                f"Conflict {conflict.id} was resolved already ({conflict.resolution}).",
                severity="warning",
            )
            return None
        return conflict

    def action_take_other(self) -> None:
        conflict = self._open_selected()
        if conflict is None:
            return

        def answered(choice: str | None) -> None:
            if choice == "take":
                self.resolve(conflict.id, "loser")

        self.app.push_screen(
            ActionsDialog(
                f"Take the other value of {_where(conflict)}?",
                _choice_text(conflict),
                [Answer("take", "Take the other value", "y", "warning")],
                "It is written as a new change of the shared entry, so it wins on every host.",
            ),
            answered,
        )

    def action_keep(self) -> None:
        conflict = self._open_selected()
        if conflict is not None:
            self.resolve(conflict.id, "winner")

    @work(thread=True, group="swarm-writes", exit_on_error=False)
    def resolve(self, conflict_id: int, take: str) -> None:
        from claude_tui.core.sync.conflicts import resolve

        row = None
        try:
            row = resolve(self.coordinator, conflict_id, take=take)
        finally:
            self.post_message(ConflictResolved(take, row))

    def on_conflict_resolved(self, message: ConflictResolved) -> None:
        self.reload()
        row = message.row
        if row is not None:
            what = "took the other value" if message.take == "loser" else "kept the winner"
            self.notify(f"Conflict {row.id} ({_where(row)}): {what}.", title="Conflict resolved")

    def action_resync(self) -> None:
        if self.coordinator.sync is None:
            self.notify(SYNC_OFF, title="Sync is off", severity="warning", timeout=8)
            return
        self.notify("Pulling the swarm's whole shared state…", title="Resync", timeout=3)
        self.resync()

    @work(thread=True, exclusive=True, group="swarm-resync", exit_on_error=False)
    def resync(self) -> None:
        sync = self.coordinator.sync
        if sync is None:
            return
        changed = None
        try:
            rows = sync.resync("asked for in the app")
            sync.take_notices()  # its notice is said once, by on_resync_done
            changed = rows
        finally:
            self.post_message(ResyncDone(changed))

    def on_resync_done(self, message: ResyncDone) -> None:
        self.reload()
        if message.changed is not None:
            self.notify(f"{message.changed} rows changed.", title="Resync done", timeout=6)

    def action_toggle_resolved(self) -> None:
        self.include_resolved = not self.include_resolved
        self.reload()


# -- rendering -------------------------------------------------------------------
def summary_text(view: SyncView) -> Text:
    """The lines above the peers: the server, the queue, the last resync, the conflicts."""
    status = view.status
    text = Text()
    if status is None:
        text.append(SYNC_OFF + "\n", style="bold")
    else:
        text.append("Node ", style="bold")
        text.append(f"{status['node']} (this host) · ")
        text.append("swarm ", style="bold")
        text.append(f"{status['swarm']} · ")
        text.append("server ", style="bold")
        text.append(f"{status['url']} ")
        if status["redis_up"]:
            text.append("● up\n", style="green")
        else:
            text.append("○ down\n", style="bold red")
        if status.get("last_error"):
            text.append(f"last error: {status['last_error']}\n", style="red")
        queue, stream = status["queue"], status.get("stream") or {}
        text.append("Queue ", style="bold")
        text.append(
            f"{queue['total']} to send ({queue['immediate']} immediate · {queue['batched']} "
            f"batched · {queue['lazy']} lazy) · {status['deferred']} waiting for a parent · "
        )
        text.append("stream ", style="bold")
        text.append(
            f"{stream.get('length', '-')} entries, applied up to {status['last_applied_id']}\n"
        )
        text.append("Last resync ", style="bold")
        resync = status.get("last_resync")
        if resync:
            changed = resync["rows_changed"]
            text.append(f"{when(resync['at'])}: {resync['reason']} ({changed} rows changed)\n")
        else:
            text.append("never\n")
    if view.open_conflicts:
        plural = "" if view.open_conflicts == 1 else "s"
        text.append(f"{view.open_conflicts} open conflict{plural}", style="bold yellow")
    else:
        text.append("No open conflicts", style="dim")
    return text


def _peer_cells(row: PeerRow, now: float) -> tuple[str, ...]:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:,.0f}"

    seen = "-"
    if row.last_seen is not None:
        stamp = dt.datetime.fromtimestamp(row.last_seen).strftime("%Y-%m-%d %H:%M:%S")
        seen = f"{stamp} ({duration(now - row.last_seen)} ago)"
    return (
        f"{row.node} (this host)" if row.this_host else row.node,
        seen, number(row.lag_ms), number(row.events), number(row.unread), number(row.pending),
    )  # fmt: skip


def _conflict_cells(c: ConflictRow) -> tuple[str, ...]:
    state = "open"
    if c.resolved_at is not None:
        state = RESOLUTIONS.get(c.resolution or "", c.resolution or "resolved")
    stamp = dt.datetime.fromtimestamp(c.detected_at).strftime("%m-%d %H:%M")  # year: detail
    return (
        c.namespace, c.key, c.field or "(whole)", _short(c.winner), _short(c.loser),
        c.loser_origin, stamp, state,
    )  # fmt: skip


def _short(value: str | None) -> str:
    return "(absent)" if value is None else one_line(value, 18)


def _where(c: ConflictRow) -> str:
    """``namespace/key`` and the field, if the conflict is about one field."""
    where = f"{c.namespace}/{c.key}"
    return f"{where} field {c.field!r}" if c.field is not None else where


def _pretty(value: str | None) -> Text:
    """A conflict value in full, indented and highlighted (None: it was absent)."""
    if value is None:
        return Text(ABSENT, style="italic")
    try:
        text = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:
        text = value
    return JSONHighlighter()(Text(text))


def _values_text(c: ConflictRow, kept: str, lost: str) -> Text:
    text = Text()
    text.append(f"{kept} (node {c.winner_origin})\n", style="bold green")
    text.append_text(_pretty(c.winner))
    text.append(f"\n\n{lost} (node {c.loser_origin})\n", style="bold yellow")
    text.append_text(_pretty(c.loser))
    return text


def conflict_text(c: ConflictRow, now: str | None = None, *, known: bool = False) -> Text:
    """The detail pane: where, when, both values in full, and (once ``known``, i.e. read
    in a worker) the value on this host now."""
    text = Text()
    text.append(f"Conflict {c.id}\n", style="bold")
    text.append(f"namespace  {c.namespace}\nkey        {c.key}\n")
    text.append(f"field      {c.field if c.field is not None else '(the whole value)'}\n")
    text.append(f"detected   {when(c.detected_at)}\n")
    if c.resolved_at is not None:
        text.append(f"resolved   {when(c.resolved_at)}: {c.resolution or ''}\n")
    text.append("\n")
    text.append_text(_values_text(c, "Kept", "Lost"))
    if not known:
        return text
    text.append("\n\nOn this host now: ", style="bold")
    if same_json(now, c.winner):
        text.append("the kept value")
    elif same_json(now, c.loser):
        # Only a later write makes it so (the merge keeps the winner everywhere, and
        # the caches follow it): taken instead of the winner, here or on another host.
        if c.resolution == "took the loser":
            text.append("the lost value (taken instead of the kept one)")
        else:
            text.append("the lost value (taken instead, or written again, since)")
    else:
        text.append("changed since\n")
        text.append_text(_pretty(now))
    return text


def _choice_text(c: ConflictRow) -> Text:
    return _values_text(c, "Kept now", "Take instead")
