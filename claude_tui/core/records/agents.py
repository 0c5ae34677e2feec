"""The door of the ``agents`` table (and the one place that asks whose an agent is)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from claude_tui.core.records import rows
from claude_tui.core.records.guard import Guard, Kind, Protected
from claude_tui.core.records.sessions import Reader

KIND = Kind("agents", text=("agent_type", "role"), json=("capabilities", "memory_context"))
COLUMNS = (
    "id", "session_id", "agent_type", "role", "status", "capabilities", "memory_context",
    "created_at", "updated_at",
)  # fmt: skip
SELECT = ", ".join((*COLUMNS, "sealed"))


def owner(reader: Reader, agent_id: str) -> str | None:
    """The session an agent belongs to (None: no such agent)."""
    found = reader.scalar("SELECT session_id FROM agents WHERE id = ?", (agent_id,))
    return None if found is None else str(found)


def protect(
    guard: Guard, values: Mapping[str, Any], current_sealed: str | None = None
) -> Protected:
    """An agent row (or the changed columns of one) made safe to store."""
    return guard.protect(KIND, values, current_sealed=current_sealed)


def insert(conn: sqlite3.Connection, row: Protected) -> None:
    """Register an agent row."""
    rows.insert(conn, _mine(row))


def update(conn: sqlite3.Connection, agent_id: str, changes: Protected) -> int:
    """Change columns of one agent."""
    return rows.update(conn, _mine(changes), agent_id)


def put(conn: sqlite3.Connection, row: Protected) -> None:
    """Create or replace a whole agent row (import, sync)."""
    rows.upsert(conn, _mine(row))


def _mine(row: Protected) -> Protected:
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the agents door")
    return row
