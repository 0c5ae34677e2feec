"""The door of the ``neural_patterns`` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from claude_tui.core.records import rows
from claude_tui.core.records.guard import Guard, Kind, Protected

KIND = Kind(
    "neural_patterns",
    text=("pattern_type", "input_pattern", "output_pattern", "context"),
    json=("metadata",),
)
COLUMNS = (
    "id", "session_id", "pattern_type", "context", "input_pattern", "output_pattern",
    "confidence", "usage_count", "success_rate", "outcomes", "created_at", "last_used",
    "last_updated", "metadata",
)  # fmt: skip


def protect(
    guard: Guard, values: Mapping[str, Any], current_sealed: str | None = None
) -> Protected:
    """A pattern row (or the changed columns of one) made safe to store."""
    return guard.protect(KIND, values, current_sealed=current_sealed)


def insert(conn: sqlite3.Connection, row: Protected) -> None:
    """Store a new pattern row."""
    rows.insert(conn, _mine(row))


def update(conn: sqlite3.Connection, pattern_id: str, changes: Protected) -> int:
    """Change columns of one pattern."""
    return rows.update(conn, _mine(changes), pattern_id)


def put(conn: sqlite3.Connection, row: Protected) -> None:
    """Create or replace a whole pattern row (import, sync)."""
    rows.upsert(conn, _mine(row))


def set_usage(
    conn: sqlite3.Connection,
    pattern_id: str,
    *,
    now: float,
    success_rate: float | None,
    confidence: float,
    outcomes: int,
) -> None:
    """Count one more use of a pattern with its new success rate and confidence."""
    conn.execute(
        "UPDATE neural_patterns SET usage_count = usage_count + 1, last_used = ?, "
        "last_updated = ?, success_rate = ?, confidence = ?, outcomes = ? WHERE id = ?",
        (now, now, success_rate, confidence, outcomes, pattern_id),
    )


def delete(conn: sqlite3.Connection, pattern_ids: list[str]) -> int:
    """Delete patterns by id."""
    return rows.delete(conn, KIND.table, pattern_ids)


def _mine(row: Protected) -> Protected:
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the patterns door")
    return row
