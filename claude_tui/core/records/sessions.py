"""The door of the ``sessions`` table (and the one place that asks whether a session exists)."""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol

from claude_tui.core.records import memory, rows
from claude_tui.core.records.guard import Kind
from claude_tui.core.records.rows import TableDoor

KIND = Kind("sessions", text=("name", "user_id"), json=("metadata",))
COLUMNS = ("id", "name", "user_id", "status", "created_at", "updated_at", "metadata")
SELECT = ", ".join((*COLUMNS, "sealed"))

_DOOR = TableDoor(KIND)
protect = _DOOR.protect
insert = _DOOR.insert
update = _DOOR.update
put = _DOOR.put


class Reader(Protocol):
    """What :func:`exists` needs: a store or anything with ``scalar``."""

    def scalar(self, sql: str, params: tuple[Any, ...] = ...) -> Any: ...


def exists(reader: Reader | sqlite3.Connection, session_id: str) -> bool:
    """Whether the session exists (read on a store, or on a connection inside a transaction)."""
    sql, params = "SELECT 1 FROM sessions WHERE id = ?", (session_id,)
    if isinstance(reader, sqlite3.Connection):
        return reader.execute(sql, params).fetchone() is not None
    return reader.scalar(sql, params) is not None


def delete(conn: sqlite3.Connection, session_id: str) -> None:
    """Delete a session: its agents and tasks cascade; its private memory goes too."""
    memory.delete_private(conn, session_id)
    rows.delete(conn, KIND.table, [session_id])
