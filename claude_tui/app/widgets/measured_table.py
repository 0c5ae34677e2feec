"""A DataTable that redraws its cells once it has measured its columns."""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellType


class MeasuredTable(DataTable[CellType]):
    """``DataTable`` without the collapsed columns of a first paint (``b…  full  -  0–…``).

    A DataTable measures new rows when it is idle, but cells it drew before that
    stay cached at the old column widths until something else clears the cache
    (Textual 8.2.8: the cell cache key has no width). Which comes first, the
    first paint or the measuring, depends on timing, so a screen opened at
    launch could keep its table collapsed until the user switched screens.
    Here the measuring is always followed by a redraw.
    """

    async def _on_idle(self, event: events.Idle) -> None:
        # Private hooks of the pinned Textual (pyproject pins it exactly): measured means
        # no updated cells and no new rows are waiting any more.
        pending = bool(self._updated_cells) or self._require_update_dimensions
        await super()._on_idle(event)
        if pending:
            self._clear_caches()
            self.refresh()
