"""The door of the ``tasks`` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from claude_tui.core.records import rows
from claude_tui.core.records.guard import Guard, Kind, Protected

KIND = Kind("tasks", text=("title",), json=("payload", "result"))
COLUMNS = (
    "id", "session_id", "agent_id", "parent_task_id", "title", "status", "priority", "payload",
    "result", "created_at", "updated_at", "completed_at",
)  # fmt: skip
SELECT = ", ".join((*COLUMNS, "sealed"))


def protect(
    guard: Guard, values: Mapping[str, Any], current_sealed: str | None = None
) -> Protected:
    """A task row (or the changed columns of one) made safe to store."""
    return guard.protect(KIND, values, current_sealed=current_sealed)


def insert(conn: sqlite3.Connection, row: Protected) -> None:
    """Add a task row."""
    rows.insert(conn, _mine(row))


def update(conn: sqlite3.Connection, task_id: str, changes: Protected) -> int:
    """Change columns of one task."""
    return rows.update(conn, _mine(changes), task_id)


def put(conn: sqlite3.Connection, row: Protected) -> None:
    """Create or replace a whole task row (import, sync)."""
    rows.upsert(conn, _mine(row))


def _mine(row: Protected) -> Protected:
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the tasks door")
    return row
