"""What every mode screen shares: the service, reloads on change, remembered selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Tree
from textual.worker import Worker

from claude_tui.app.formatting import cell, plural
from claude_tui.app.messages import DataChanged, Exported
from claude_tui.app.widgets.table import RecordTable, cursor_key
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
        # Upper case where the lower-case letter is some screen's own key; not in the
        # footer (it is full), but in help (?) and the command palette.
        Binding("S", "sort", "Sort by a column", show=False, id="screen.sort"),
        Binding("y", "copy_id", "Copy the id", show=False, id="screen.copy_id"),
        Binding("Y", "copy_value", "Copy the value", show=False, id="screen.copy_value"),
        Binding("E", "export", "Export (JSON, Markdown)", show=False, id="screen.export"),
        # The detail pane: beside the list, below it on narrow terminals, or hidden.
        Binding("d", "toggle_detail", "Show/hide the detail pane", show=False, id="screen.detail"),
    ]

    def __init__(self, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        # Textual numbers its CSS generations, and switching to a mode whose screen is
        # behind the app's number runs a full refresh_css (reparse, restyle every node:
        # ~200 ms of UI-thread CPU here). A new screen starts at -1 and, not being
        # mounted yet when that refresh runs, stays there, so every switch to it paid
        # that again, twice on the first open. It is styled at mount from the stylesheet
        # as it is now, so it is current: a later theme change still leaves it behind,
        # and it is then refreshed on its next switch as before.
        self._css_update_count = self.app._css_update_count

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

    def action_toggle_detail(self) -> None:
        """Hide the detail pane (the list takes the room) or show it again."""
        self.toggle_class("-no-detail")

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
        return cursor_key(table)

    def fill_table(
        self, table: DataTable[Any], rows: Sequence[tuple[str, Sequence[object]]]
    ) -> None:
        """Show ``rows`` (key, cells), keeping the cursor on the same key.

        Identical content is left alone, so a refresh that changes nothing
        neither flickers nor moves anything.
        """
        if isinstance(table, RecordTable):  # it owns its rows (and their sort)
            table.set_rows(rows, keep=self.remembered())
            return
        keep = self.selected_key(table) or self.remembered()
        table.clear()
        for key, cells in rows:
            table.add_row(*map(cell, cells), key=key)
        if keep is not None and table.row_count:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:  # that row is gone: the cursor stays where it was
                pass

    def remembered(self) -> str | None:
        """The row selected on this screen last time."""
        return self.tui.ui.state.selected.get(self.MODE)

    # -- sort, copy, export -------------------------------------------------
    def main_table(self) -> RecordTable | None:
        """The table the screen's sort, copy and export work on (None: the screen has none)."""
        for table in self.query(RecordTable).results():
            return table
        return None

    def action_sort(self) -> None:
        """Pick the column to sort by (the sorted column again: the other way round)."""
        from claude_tui.app.dialogs.choose import ChooseDialog

        table = self.main_table()
        if table is None:
            self.notify("This screen has no table to sort.", title="Sort", severity="warning")
            return
        unsorted = "(the original order)"

        def chosen(name: str | None) -> None:
            if name is None:
                return
            if name == unsorted:
                table.sort_by(None)
            else:
                flip = name == table.sort_column and not table.sort_descending
                table.sort_by(name, descending=flip)

        self.app.push_screen(
            ChooseDialog("Sort by", [*table.column_names(), unsorted], table.sort_column),
            chosen,
        )

    def copy_text(self, key: str) -> str | None:
        """What ``Y`` copies for the row ``key`` (screens with a value say which)."""
        table = self.main_table()
        record = table.record(key) if table is not None else None
        if record is None:
            return None
        return "\n".join(f"{name}: {value}" for name, value in record.items())

    def action_copy_id(self) -> None:
        """Copy the selected row's id (a session, agent, entry, task, pattern id)."""
        key = self.current_key()
        if key is None:
            self.notify("Nothing is selected.", title="Copy", severity="warning")
            return
        self.app.copy_to_clipboard(key)
        self.notify(f"Copied {key}", title="Copy", markup=False)

    def action_copy_value(self) -> None:
        """Copy the selected row's value (memory: the JSON value; elsewhere: the row)."""
        key = self.current_key()
        text = None if key is None else self.copy_text(key)
        if text is None:
            self.notify("Nothing to copy here.", title="Copy", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        lines = text.count("\n") + 1
        self.notify(
            f"Copied {len(text):,} characters" + (f" ({lines} lines)" if lines > 1 else ""),
            title="Copy",
        )

    def export_list(self) -> list[dict[str, Any]]:
        """The rows ``E`` writes as the list, in the order shown."""
        table = self.main_table()
        return table.records() if table is not None else []

    def export_entry(self, key: str) -> dict[str, Any] | None:
        """What ``E`` writes for the selected row (screens with more than the row say so).

        Runs on a worker thread: it may read the store, never a widget.
        """
        return None

    def action_export(self) -> None:
        """Write the list or the selected entry to a file (JSON or Markdown)."""
        from claude_tui.app.dialogs.choose import ChooseDialog

        choices = {
            "This list as JSON": ("list", "json"),
            "This list as Markdown": ("list", "md"),
            "The selected entry as JSON": ("entry", "json"),
            "The selected entry as Markdown": ("entry", "md"),
        }
        key = self.current_key()
        if key is None:
            choices = {k: v for k, v in choices.items() if v[0] == "list"}

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            what, ext = choices[choice]
            rows = self.export_list()
            row = next((r for r in rows if r.get("id") == key), None) if key else None
            self.write_export(what, ext, rows, key, row)

        self.app.push_screen(ChooseDialog("Export", list(choices)), chosen)

    @work(thread=True, group="export", exit_on_error=False)
    def write_export(
        self, what: str, ext: str, rows: list[dict[str, Any]], key: str | None,
        row: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        """Write the file (I/O: a worker) and name it in a toast."""
        from claude_tui.app.export import entry_markdown, list_markdown, to_json, write_export

        mode = self.MODE or "screen"
        if what == "list":
            title = f"claude-tui {mode}: {plural(len(rows), 'row')}"
            text = to_json(rows) if ext == "json" else list_markdown(title, rows)
            name = mode
        else:
            entry = (self.export_entry(key) if key else None) or row or {"id": key}
            title = f"claude-tui {mode} {key}"
            text = to_json(entry) if ext == "json" else entry_markdown(title, entry)
            name = f"{mode}-{key}"
        count = plural(len(rows), "row") if what == "list" else "1 entry"
        try:
            path = write_export(self.tui.data_dir, name, ext, text, self.coordinator.rt.clock())
        except OSError as exc:
            self.post_message(Exported(None, count, str(exc)))
            return
        self.post_message(Exported(path, count))

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        if message.path is None:
            self.notify(
                f"Could not write the export: {message.error}", title="Export",
                severity="error", markup=False,
            )  # fmt: skip
        else:
            self.notify(
                f"Wrote {message.what} to {message.path}", title="Export", markup=False,
                timeout=10,
            )  # fmt: skip
