"""The memory browser: filter, search as you type, page, inspect, edit, delete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select, Static

from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.edit_value import EditValueDialog
from claude_tui.app.formatting import (
    MASK,
    cell,
    duration,
    esc,
    json_view,
    one_line,
    plural,
    when,
)
from claude_tui.app.messages import (
    DataChanged,
    MemoryCounted,
    MemoryEntryRead,
    MemoryLoaded,
    MemoryWritten,
)
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.models import MEMORY_TYPES, MemoryEntry
from claude_tui.core.transcripts.links import Origin

PAGE = 100
PAGES = Binding.Group("Pages")
COLUMNS = ("Key", "Type", "Namespace", "Session", "Agent", "TTL", "Reads", "Updated", "Value")
TTL_SECONDS = 1.0  # how often the TTLs on screen count down
TTL_TIMER = "memory-ttl"  # the name of that timer (its ticks are events.Timer messages)


@dataclass
class Filters:
    """What the browser is asked to show."""

    session_id: str | None
    all_sessions: bool
    agent_id: str | None
    namespace: str | None
    memory_type: str | None
    text: str


class MemoryScreen(ModeScreen):
    """Memory entries one page at a time (keyset paging: never loads them all)."""

    MODE = "memory"
    AUTO_FOCUS = "#memory-table"
    BINDINGS = [
        Binding("slash", "search", "Search", id="memory.search"),
        Binding("a", "toggle_all", "All sessions", id="memory.all"),
        # One "[ ] Pages" entry in the footer (help lists each).
        Binding("left_square_bracket", "previous_page", "Prev page", id="memory.prev", group=PAGES),
        Binding("right_square_bracket", "next_page", "Next page", id="memory.next", group=PAGES),
        Binding("e", "edit", "Edit", id="memory.edit"),
        Binding("x,delete", "delete", "Delete", id="memory.delete"),
        Binding("r", "reveal", "Reveal secret", id="memory.reveal"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self._pages: list[int | None] = [None]  # before_id of each page visited
        self._entries: dict[str, MemoryEntry] = {}
        self._revealed: set[str] = set()
        self._detail_entry: MemoryEntry | None = None
        self._totals: dict[str, int] = {}  # entry count per filter set; dropped on changes
        self._ttl_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(classes="filters"):
            yield Input(placeholder="/ search keys and values", id="memory-search")
            yield Select([(t, t) for t in MEMORY_TYPES], prompt="any type", id="memory-type")
            yield Input(placeholder="namespace", id="memory-namespace", classes="narrow")
            yield Select([], prompt="any agent", id="memory-agent")
        yield Static("", id="memory-scope", classes="scope")
        with Horizontal(classes="body"):
            yield RecordTable(id="memory-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="detail"):
                yield Static("", id="memory-detail")
                yield Static("", id="memory-value")
        yield AppFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        # No callback: each tick is an events.Timer message (handled below), which can be
        # observed. It runs while the screen shows (suspend pauses it, resume restarts it).
        self._ttl_timer = self.set_interval(TTL_SECONDS, name=TTL_TIMER)

    def on_screen_suspend(self) -> None:
        if self._ttl_timer is not None:
            self._ttl_timer.pause()

    def on_screen_resume(self) -> None:
        if self._ttl_timer is not None:
            self._ttl_timer.resume()
        super().on_screen_resume()

    @on(events.Timer)
    def _ttl_timer_ticked(self, event: events.Timer) -> None:
        if event.timer is self._ttl_timer:
            self._tick()

    # -- loading ------------------------------------------------------------
    def filters(self) -> Filters:
        """The current filter settings."""
        kind = self.query_one("#memory-type", Select).value
        agent = self.query_one("#memory-agent", Select).value
        namespace = self.query_one("#memory-namespace", Input).value.strip()
        session = None if self.show_all else self.tui.session_id
        return Filters(
            session_id=session,
            all_sessions=self.show_all or session is None,
            agent_id=agent if isinstance(agent, str) and session else None,
            namespace=namespace or None,
            memory_type=kind if isinstance(kind, str) else None,
            text=self.query_one("#memory-search", Input).value.strip(),
        )

    def reload(self) -> None:
        f = self.filters()
        self.load(f, self._pages[-1], self._totals.get(repr(f)))

    def on_data_changed(self, message: DataChanged) -> None:
        self._totals.clear()  # the data changed: counts must be taken again
        super().on_data_changed(message)

    def _restart(self) -> None:
        self._pages = [None]
        self.reload()

    @work(thread=True, exclusive=True, group="memory", exit_on_error=False)
    def load(self, f: Filters, before_id: int | None, known_total: int | None = None) -> None:
        """Read a page for ``f`` (``known_total``: the count taken last time, if any).

        Posts :class:`MemoryLoaded`, then (unless a search) :class:`MemoryCounted`.
        """
        memory = self.coordinator.memory
        common: dict[str, Any] = {
            "session_id": f.session_id, "agent_id": f.agent_id, "namespace": f.namespace,
            "memory_type": f.memory_type, "all_sessions": f.all_sessions,
        }  # fmt: skip
        if f.text and any(ch.isalnum() for ch in f.text):
            from claude_tui.core.search.service import Filters as SearchFilters

            # The search service: words and meaning when vectors are on, words otherwise.
            found = self.coordinator.search.memory(
                f.text, mode="hybrid" if self.tui.vector_search else "text",
                limit=min(PAGE, 1000), filters=SearchFilters(**common),
            )  # fmt: skip
            entries = [h.entry for h in found.hits]
            total = None
        else:
            entries = memory.list(limit=PAGE, before_id=before_id, **common)
            total = -1  # counted below, after the page is on screen
        agents = self.coordinator.agents.list(f.session_id) if f.session_id else []
        self.post_message(MemoryLoaded(f, entries, total, [a.id for a in agents]))
        if total == -1:
            total = known_total if known_total is not None else memory.count(**common)
            self.post_message(MemoryCounted(f, total, len(entries)))

    def on_memory_loaded(self, message: MemoryLoaded) -> None:
        self.show(message.filters, message.entries, message.total, message.agents)

    def on_memory_counted(self, message: MemoryCounted) -> None:
        self._totals[repr(message.filters)] = message.total
        self._show_total(message.filters, message.total, message.count)

    def show(
        self, f: Filters, entries: list[MemoryEntry], total: int | None, agents: list[str]
    ) -> None:
        agent_select = self.query_one("#memory-agent", Select)
        if agents != getattr(self, "_agent_ids", None):
            self._agent_ids = agents
            current = agent_select.value
            with self.prevent(Select.Changed):
                agent_select.set_options([(a, a) for a in agents])
                if current in agents:
                    agent_select.value = current
        self._entries = {str(e.id): e for e in entries}
        now = self.coordinator.rt.clock()
        table = self.query_one(DataTable)
        self.fill_table(table, [(str(e.id), self._cells(e, now)) for e in entries])
        # A new search, filter or page starts at its first row (a search's best match); a
        # refresh of the same view keeps the cursor where it was.
        asked = (f, len(self._pages))
        if getattr(self, "_shown_view", asked) != asked and table.row_count:
            table.move_cursor(row=0)
        self._shown_view = asked
        self._scope_line(f, total, len(entries))
        self.refresh_detail()

    def _cells(self, e: MemoryEntry, now: float) -> tuple[str, ...]:
        value = "••••••" if e.sensitive else one_line(e.value)
        if not e.valid_json:
            value = "⚠ " + one_line(e.raw)
        return (
            e.key, e.memory_type, e.namespace, e.session_id or "(swarm)", e.agent_id or "-",
            duration(e.ttl_remaining(now)), str(e.access_count), when(e.updated_at), value,
        )  # fmt: skip

    def _scope_line(self, f: Filters, total: int | None, count: int) -> None:
        where = "all sessions" if f.all_sessions else f"session {esc(f.session_id)} + shared"
        page = len(self._pages)
        if total is None:
            counted = f"{plural(count, 'best match')} for {esc(repr(f.text))}"
        elif total < 0:
            counted = f"page {page} · {plural(count, 'entry', 'entries')} · counting…"
        else:
            start = (page - 1) * PAGE
            counted = (
                f"page {page} · entries {start + 1 if count else 0}–{start + count} of {total:,}"
            )
        self.query_one("#memory-scope", Static).update(
            f"{counted} · {where} · a all · [ ] pages · e edit · x delete"
        )

    def _show_total(self, f: Filters, total: int, count: int) -> None:
        self._scope_line(f, total, count)

    # -- selection and detail -----------------------------------------------
    def refresh_detail(self) -> None:
        """Read the selected entry through the tiers (so the detail says which served it)."""
        entry = self._entries.get(self.current_key() or "")
        if entry is None:
            self._detail_entry = None
            self.query_one("#memory-detail", Static).update("No entry selected.")
            self.query_one("#memory-value", Static).update("")
            return
        self.fetch_detail(entry)

    @work(thread=True, exclusive=True, group="memory-detail", exit_on_error=False)
    def fetch_detail(self, entry: MemoryEntry) -> None:
        fresh = self.coordinator.memory.get(
            entry.key,
            session_id=entry.session_id if entry.memory_type != "shared" else None,
            agent_id=entry.agent_id if entry.memory_type != "shared" else None,
            namespace=entry.namespace,
            memory_type=entry.memory_type,
            track=False,  # the owner looking is not an agent reading
        )
        self.post_message(MemoryEntryRead(fresh or entry, fresh is None))

    def on_memory_entry_read(self, message: MemoryEntryRead) -> None:
        self.show_detail(message.entry, message.gone)

    def show_detail(self, entry: MemoryEntry, gone: bool) -> None:
        self._detail_entry = entry
        now = self.coordinator.rt.clock()
        served = "gone (deleted or expired)" if gone else entry.tier.upper()
        lines = [
            f"[b]{esc(entry.key)}[/b]",
            f"type       {entry.memory_type}",
            f"namespace  {esc(entry.namespace)}",
            f"session    {esc(entry.session_id or '(swarm)')}",
            f"agent      {esc(entry.agent_id or '-')}",
            f"expires    {duration(entry.ttl_remaining(now))}",
            f"reads      {entry.access_count}",
            f"created    {when(entry.created_at)}",
            f"updated    {when(entry.updated_at)}",
            f"served by  {served}",
        ]
        if entry.sensitive:
            lines.append("sensitive  yes (never cached in Redis, not indexed)")
        self.query_one("#memory-detail", Static).update("\n".join(lines))
        value = self.query_one("#memory-value", Static)
        if entry.sensitive and str(entry.id) not in self._revealed:
            value.update(MASK)
        elif not entry.valid_json:
            value.update(json_view(None, raw_invalid=entry.raw))
        else:
            value.update(json_view(entry.value))

    def _tick(self) -> None:
        """Count TTLs down on screen, once a second."""
        now = self.coordinator.rt.clock()
        table = self.query_one(DataTable)
        for key, entry in self._entries.items():
            if entry.expires_at is not None:
                try:
                    table.update_cell(key, "TTL", cell(duration(entry.ttl_remaining(now))))
                except Exception:  # the row was removed by a reload in between
                    continue
        shown = self._detail_entry
        if shown is not None and shown.expires_at is not None:
            self.show_detail(shown, False)

    # -- filters --------------------------------------------------------------
    @on(Input.Changed, "#memory-search")
    @on(Input.Changed, "#memory-namespace")
    @on(Select.Changed)
    def _filters_changed(self) -> None:
        if self.filters() != getattr(self, "_applied", None):
            self._applied = self.filters()
            self._restart()

    def action_search(self) -> None:
        self.query_one("#memory-search", Input).focus()

    def transcript_target(self) -> tuple[str, Origin | None] | None:
        """The record an imported prompt or compaction summary came from (l)."""
        from claude_tui.core.transcripts.links import origin_of_memory

        entry = self._entries.get(self.current_key() or "")
        origin = origin_of_memory(entry) if entry is not None else None
        return None if origin is None else (origin.session_id, origin)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._restart()

    def action_next_page(self) -> None:
        if len(self._entries) < PAGE:
            self.notify("This is the last page.")
            return
        self._pages.append(min(int(k) for k in self._entries))
        self.reload()

    def action_previous_page(self) -> None:
        if len(self._pages) > 1:
            self._pages.pop()
            self.reload()

    # -- copy and export -----------------------------------------------------
    def action_copy_value(self) -> None:
        """Copy the selected entry's value as JSON (a secret only once revealed with r)."""
        key = self.current_key() or ""
        entry = self._entries.get(key)
        if entry is None:
            self.notify("No entry selected.", title="Copy", severity="warning")
            return
        if entry.sensitive and key not in self._revealed:
            self.notify(
                "The value is a secret: press r to reveal it, then Y to copy it.",
                title="Copy", severity="warning",
            )  # fmt: skip
            return
        text = (
            json.dumps(entry.value, indent=2, ensure_ascii=False) if entry.valid_json else entry.raw
        )
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the value of {entry.key}", title="Copy", markup=False)

    def export_entry(self, key: str) -> dict[str, Any] | None:
        """The whole entry; a secret's value stays masked (an export is a file that stays)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.sensitive:
            value: Any = "•••••• (sensitive: not exported)"
        else:
            value = entry.value if entry.valid_json else entry.raw
        return {
            "id": entry.id, "key": entry.key, "type": entry.memory_type,
            "namespace": entry.namespace, "session": entry.session_id, "agent": entry.agent_id,
            "expires_at": entry.expires_at, "created_at": entry.created_at,
            "updated_at": entry.updated_at, "reads": entry.access_count,
            "version": entry.version, "sensitive": entry.sensitive, "value": value,
        }  # fmt: skip

    # -- edit, delete, reveal -----------------------------------------------
    def action_reveal(self) -> None:
        entry = self._detail_entry
        if entry is None or not entry.sensitive:
            return
        key = str(entry.id)
        self._revealed.symmetric_difference_update({key})
        self.show_detail(entry, False)

    def action_edit(self) -> None:
        entry = self._detail_entry
        if entry is None:
            return
        text = (
            json.dumps(entry.value, indent=2, ensure_ascii=False) if entry.valid_json else entry.raw
        )

        def edited(value: Any) -> None:
            if value is not EditValueDialog.CANCELLED:
                self.save(entry, value)

        self.app.push_screen(EditValueDialog(entry.key, text), edited)

    @work(thread=True, group="memory-writes", exit_on_error=False)
    def save(self, entry: MemoryEntry, value: Any) -> None:
        remaining = entry.ttl_remaining(self.coordinator.rt.clock())
        self.coordinator.memory.store(
            entry.key, value,
            session_id=entry.session_id if entry.memory_type != "shared" else None,
            agent_id=entry.agent_id, namespace=entry.namespace, memory_type=entry.memory_type,
            ttl=remaining if remaining else None,
        )  # fmt: skip
        self.post_message(MemoryWritten(entry.key, "saved"))

    def action_delete(self) -> None:
        entry = self._detail_entry
        if entry is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.delete_entry(entry)

        self.app.push_screen(
            ConfirmDialog(
                f"Delete {entry.key}?", f"{entry.memory_type} · {entry.namespace}", "Delete"
            ),
            confirmed,
        )

    @work(thread=True, group="memory-writes", exit_on_error=False)
    def delete_entry(self, entry: MemoryEntry) -> None:
        self.coordinator.memory.delete(
            entry.key,
            session_id=entry.session_id if entry.memory_type != "shared" else None,
            agent_id=entry.agent_id, namespace=entry.namespace, memory_type=entry.memory_type,
        )  # fmt: skip
        self.post_message(MemoryWritten(entry.key, "deleted"))

    def on_memory_written(self, message: MemoryWritten) -> None:
        self.notify(f"{message.action.capitalize()} {message.key}.")
        self.reload()
