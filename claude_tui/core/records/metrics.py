"""The door of the ``metrics`` table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from claude_tui.core.records import rows
from claude_tui.core.records.guard import Guard, Kind, Protected
from claude_tui.core.secrets import SecretRules, redact_value, text_is_sensitive

KIND = Kind("metrics", json=("metadata",))
COLUMNS = ("id", "session_id", "agent_id", "metric_type", "value", "timestamp", "metadata")


def protect(guard: Guard, values: Mapping[str, Any]) -> Protected:
    """A metric sample made safe to store."""
    return guard.protect(KIND, values)


def insert(conn: sqlite3.Connection, row: Protected) -> int:
    """Record one sample; return its id."""
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the metrics door")
    return int(rows.insert(conn, row).lastrowid or 0)


def insert_redacted(conn: sqlite3.Connection, rules: SecretRules, values: dict[str, Any]) -> int:
    """Record a sample where no key is at hand (a backup run without a coordinator).

    Credential-shaped text in the metadata is dropped, not sealed: nothing can
    seal it here, and a metric never needs it.
    """
    meta = values.get("metadata")
    if isinstance(meta, str) and text_is_sensitive(meta, rules):
        values = {
            **values,
            "metadata": json.dumps(redact_value(json.loads(meta), rules, "[redacted]")),
        }
    return insert(conn, Protected(KIND, values))


def set_value(conn: sqlite3.Connection, metric_id: int, value: float, timestamp: float) -> None:
    """Change one sample's value and time (the importer's running totals)."""
    conn.execute(
        "UPDATE metrics SET value = ?, timestamp = ? WHERE id = ?", (value, timestamp, metric_id)
    )


def delete(conn: sqlite3.Connection, metric_ids: list[int]) -> int:
    """Delete samples by id."""
    return rows.delete(conn, KIND.table, metric_ids)
