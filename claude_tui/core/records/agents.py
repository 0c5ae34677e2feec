"""The door of the ``agents`` table (and the one place that asks whose an agent is)."""

from __future__ import annotations

from claude_tui.core.records.guard import Kind
from claude_tui.core.records.rows import TableDoor
from claude_tui.core.records.sessions import Reader

KIND = Kind("agents", text=("agent_type", "role"), json=("capabilities", "memory_context"))
COLUMNS = (
    "id", "session_id", "agent_type", "role", "status", "capabilities", "memory_context",
    "created_at", "updated_at",
)  # fmt: skip
SELECT = ", ".join((*COLUMNS, "sealed"))

_DOOR = TableDoor(KIND)
protect = _DOOR.protect
insert = _DOOR.insert
update = _DOOR.update
put = _DOOR.put


def owner(reader: Reader, agent_id: str) -> str | None:
    """The session an agent belongs to (None: no such agent)."""
    found = reader.scalar("SELECT session_id FROM agents WHERE id = ?", (agent_id,))
    return None if found is None else str(found)
