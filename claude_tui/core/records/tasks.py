"""The door of the ``tasks`` table."""

from __future__ import annotations

from claude_tui.core.records.guard import Kind
from claude_tui.core.records.rows import TableDoor

KIND = Kind("tasks", text=("title",), json=("payload", "result"))
COLUMNS = (
    "id", "session_id", "agent_id", "parent_task_id", "title", "status", "priority", "payload",
    "result", "created_at", "updated_at", "completed_at",
)  # fmt: skip
SELECT = ", ".join((*COLUMNS, "sealed"))

_DOOR = TableDoor(KIND)
protect = _DOOR.protect
insert = _DOOR.insert
update = _DOOR.update
put = _DOOR.put
