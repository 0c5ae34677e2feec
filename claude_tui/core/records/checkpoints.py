"""The door of the ``checkpoints`` table, and the writes of a checkpoint restore.

A checkpoint's snapshot holds rows as they were stored (already protected:
redacted columns, sealed originals, sealed memory values), so a restore puts
them back whole, set-based, without deciding sensitivity again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from claude_tui.core.records import memory, rows, sessions
from claude_tui.core.records.guard import Guard, Kind, Protected

KIND = Kind("checkpoints", text=("label",))
COLUMNS = ("id", "session_id", "label", "reason", "created_at", "seq", "counts", "size", "data")


def protect(guard: Guard, values: Mapping[str, Any]) -> Protected:
    """A checkpoint row made safe to store (its label is the only user text)."""
    return guard.protect(KIND, values)


def insert(conn: sqlite3.Connection, row: Protected) -> None:
    """Store a checkpoint row."""
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the checkpoints door")
    rows.insert(conn, row)


def replace_data(conn: sqlite3.Connection, checkpoint_id: str, old: Any, new: bytes) -> None:
    """Swap a checkpoint's snapshot (key rotation) if it is unchanged since read."""
    conn.execute(
        "UPDATE checkpoints SET data = ?, size = ? WHERE id = ? AND data = ?",
        (new, len(new), checkpoint_id, old),
    )


def delete(conn: sqlite3.Connection, checkpoint_id: str) -> int:
    """Delete one checkpoint."""
    return rows.delete(conn, KIND.table, [checkpoint_id])


def prune_automatic(conn: sqlite3.Connection, keep: int) -> int:
    """Keep the newest ``keep`` automatic checkpoints per session; return how many went."""
    return conn.execute(
        "DELETE FROM checkpoints WHERE id IN (SELECT id FROM ("
        "  SELECT id, row_number() OVER (PARTITION BY session_id "
        "    ORDER BY created_at DESC, rowid DESC) AS n "
        "  FROM checkpoints WHERE reason != 'manual') WHERE n > ?)",
        (keep,),
    ).rowcount


def restore_session_row(conn: sqlite3.Connection, saved: dict[str, Any]) -> None:
    """Put a session row back as the snapshot holds it."""
    sessions.put(conn, Protected(sessions.KIND, dict(saved)))


def restore_rows(
    conn: sqlite3.Connection,
    table: str,
    columns: list[str],
    inserts: list[list[Any]],
    updates: list[tuple[list[Any], tuple[int, ...]]],
) -> None:
    """Insert snapshot rows and update only the columns that differ, set-based.

    Never delete + insert for an update: deleting a task would cascade to its
    children, and untouched columns keep their indexes.
    """
    if table == "memory_entries":
        at = {c: columns.index(c) for c in ("id", "scope", "namespace", "key")}
        for row in inserts:
            # The same key may have been deleted and written again under a new id since.
            memory.delete_same_key(
                conn, row[at["scope"]], row[at["namespace"]], row[at["key"]], row[at["id"]]
            )
    if inserts:
        rows.bulk_insert(conn, table, columns, inserts)
    by_columns: dict[tuple[int, ...], list[list[Any]]] = {}
    for row, differing in updates:
        by_columns.setdefault(differing, []).append([row[0], *(row[i] for i in differing)])
    for differing, params in by_columns.items():
        rows.bulk_update(conn, table, [columns[i] for i in differing], params)


def delete_rows(conn: sqlite3.Connection, table: str, ids: list[Any]) -> None:
    """Delete rows a restore does not keep."""
    rows.delete(conn, table, ids)
