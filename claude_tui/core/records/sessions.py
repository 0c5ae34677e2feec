"""The door of the ``sessions`` table (and the one place that asks whether a session exists)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Protocol

from claude_tui.core.records import memory, rows
from claude_tui.core.records.guard import Guard, Kind, Protected

KIND = Kind("sessions", text=("name", "user_id"), json=("metadata",))
COLUMNS = ("id", "name", "user_id", "status", "created_at", "updated_at", "metadata")
SELECT = ", ".join((*COLUMNS, "sealed"))


class Reader(Protocol):
    """What :func:`exists` needs: a store or anything with ``scalar``."""

    def scalar(self, sql: str, params: tuple[Any, ...] = ...) -> Any: ...


def exists(reader: Reader | sqlite3.Connection, session_id: str) -> bool:
    """Whether the session exists (read on a store, or on a connection inside a transaction)."""
    sql, params = "SELECT 1 FROM sessions WHERE id = ?", (session_id,)
    if isinstance(reader, sqlite3.Connection):
        return reader.execute(sql, params).fetchone() is not None
    return reader.scalar(sql, params) is not None


def protect(
    guard: Guard, values: Mapping[str, Any], current_sealed: str | None = None
) -> Protected:
    """A session row (or the changed columns of one) made safe to store."""
    return guard.protect(KIND, values, current_sealed=current_sealed)


def insert(conn: sqlite3.Connection, row: Protected) -> None:
    """Create a session row."""
    rows.insert(conn, _mine(row))


def update(conn: sqlite3.Connection, session_id: str, changes: Protected) -> int:
    """Change columns of one session."""
    return rows.update(conn, _mine(changes), session_id)


def put(conn: sqlite3.Connection, row: Protected) -> None:
    """Create or replace a whole session row (import, sync, checkpoint restore)."""
    rows.upsert(conn, _mine(row))


def delete(conn: sqlite3.Connection, session_id: str) -> None:
    """Delete a session: its agents and tasks cascade; its private memory goes too."""
    memory.delete_private(conn, session_id)
    rows.delete(conn, KIND.table, [session_id])


def _mine(row: Protected) -> Protected:
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the sessions door")
    return row
