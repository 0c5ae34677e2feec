"""The door of the ``neural_patterns`` table."""

from __future__ import annotations

import sqlite3

from claude_tui.core.records import rows
from claude_tui.core.records.guard import Kind
from claude_tui.core.records.rows import TableDoor

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

_DOOR = TableDoor(KIND)
protect = _DOOR.protect
insert = _DOOR.insert
update = _DOOR.update
put = _DOOR.put


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
