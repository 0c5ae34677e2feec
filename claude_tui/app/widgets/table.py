"""A data table that owns its rows: it keeps the cursor on refresh, sorts, and exports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from claude_tui.app.formatting import cell
from claude_tui.app.widgets.measured_table import MeasuredTable

ASCENDING, DESCENDING = "▲", "▼"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Row:
    """One row as the screen gave it: its key and its cells (shown literally)."""

    key: str
    cells: tuple[object, ...]


def sort_key(value: object) -> tuple[int, float, str]:
    """Order cells the way a reader expects: numbers by value, the rest by text.

    A cell that starts with a number (``1,204``, ``0.82``, ``91 · 3``, a date)
    sorts by that number first, so ``9`` comes before ``10``; ties and other
    cells sort case-insensitively by their text, after all the numbers.
    """
    text = str(value).strip()
    found = _NUMBER.match(text)
    if found is not None:
        return (0, float(found.group().replace(",", "")), text.casefold())
    return (1, 0.0, text.casefold())


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under any table's cursor (None when empty)."""
    if table.row_count == 0:
        return None
    try:
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    except Exception:  # the cursor points past a row that was just removed
        return None


class RecordTable(MeasuredTable[Text]):
    """A ``DataTable`` whose rows are data it keeps, not only what it drew.

    Screens hand it ``(key, cells)`` rows with :meth:`set_rows`; it redraws only
    when they changed, keeps the cursor on the same key, and applies the sort
    the user chose (a click on a header, or the screen's sort key) to every
    refresh. :meth:`records` gives the rows back, in the order shown, for copy
    and export.
    """

    @dataclass
    class Sorted(Message):
        """The user sorted the table (``column`` None: back to the order given)."""

        table: RecordTable
        column: str | None
        descending: bool

        @property
        def control(self) -> RecordTable:
            """The table that was sorted."""
            return self.table

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[Row] = []
        self._labels: dict[ColumnKey, str] = {}  # the header text without a sort arrow
        self.sort_column: str | None = None
        self.sort_descending = False

    # -- columns ------------------------------------------------------------
    def add_column(
        self, label: Any, *, width: int | None = None, key: str | None = None, default: Any = None
    ) -> ColumnKey:
        """Add a column (as ``DataTable.add_column``), remembering its plain label."""
        column_key = super().add_column(label, width=width, key=key, default=default)
        self._labels[column_key] = label.plain if isinstance(label, Text) else str(label)
        return column_key

    def column_names(self) -> list[str]:
        """The column labels, in order, without sort arrows."""
        return [self._labels.get(column.key, column.label.plain) for column in self.ordered_columns]

    # -- rows -----------------------------------------------------------------
    def set_rows(
        self, rows: Sequence[tuple[str, Sequence[object]]], keep: str | None = None
    ) -> bool:
        """Show ``rows`` (key, cells), sorted as chosen, keeping the cursor on its key.

        ``keep``: the key to put the cursor on when none is selected yet (e.g.
        the row remembered from the last launch). Identical rows are left
        alone, so a refresh that changes nothing neither flickers nor moves.
        Returns whether the table was redrawn.
        """
        new = [Row(key, tuple(cells)) for key, cells in rows]
        if new == self._rows and self.row_count == len(new):
            return False
        keep = self.cursor_key() or keep
        self._rows = new
        self._redraw(keep)
        return True

    def rows_in_order(self) -> list[Row]:
        """The rows in the order shown (sorted when a sort is chosen)."""
        names = self.column_names()
        if self.sort_column not in names:
            return list(self._rows)
        index = names.index(self.sort_column)

        def by_column(row: Row) -> tuple[int, float, str]:
            return sort_key(row.cells[index]) if index < len(row.cells) else (2, 0.0, "")

        return sorted(self._rows, key=by_column, reverse=self.sort_descending)

    def records(self) -> list[dict[str, str]]:
        """The rows as shown: ``{"id": key, <column>: text, ...}`` in display order."""
        names = self.column_names()
        return [
            {
                "id": row.key,
                **{name: str(value) for name, value in zip(names, row.cells, strict=False)},
            }
            for row in self.rows_in_order()
        ]

    def record(self, key: str) -> dict[str, str] | None:
        """One row as :meth:`records` gives it, or None when it is not shown."""
        return next((r for r in self.records() if r["id"] == key), None)

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when empty)."""
        return cursor_key(self)

    # -- sorting --------------------------------------------------------------
    def sort_by(self, column: str | None, descending: bool = False) -> None:
        """Sort by the column labelled ``column`` (None: the order the screen gave).

        The sort holds for every later refresh; the header shows an arrow.
        """
        if column is not None and column not in self.column_names():
            raise ValueError(f"no column {column!r}")
        self.sort_column, self.sort_descending = column, descending
        self._show_arrow()
        self._redraw(self.cursor_key())
        self.post_message(self.Sorted(self, column, descending))

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table is not self:
            return
        event.stop()
        name = self._labels.get(event.column_key, event.label.plain)
        # The first click sorts ascending, each further click on it flips the order.
        self.sort_by(name, descending=name == self.sort_column and not self.sort_descending)

    def _show_arrow(self) -> None:
        for column in self.ordered_columns:
            plain = self._labels.get(column.key, column.label.plain)
            if plain == self.sort_column:
                arrow = DESCENDING if self.sort_descending else ASCENDING
                column.label = Text(f"{plain} {arrow}")
                column.content_width = max(column.content_width, column.label.cell_len)
            else:
                column.label = Text(plain)

    def _redraw(self, keep: str | None) -> None:
        self.clear()
        for row in self.rows_in_order():
            self.add_row(*map(cell, row.cells), key=row.key)
        if keep is not None and self.row_count:
            try:
                self.move_cursor(row=self.get_row_index(keep))
            except Exception:  # that row is gone: the cursor stays where it was
                pass
