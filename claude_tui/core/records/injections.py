"""The door of the ``injections`` table: what recall put into a session's context, and why."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def record(
    conn: sqlite3.Connection,
    *,
    session_id: str,
    hook: str,
    at: float,
    mode: str,
    chars: int,
    items: list[dict[str, Any]],
) -> int:
    """Keep one injection (items hold references, scores and reasons: no secret text)."""
    cur = conn.execute(
        "INSERT INTO injections (session_id, hook, created_at, mode, chars, items) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (session_id, hook, at, mode, chars, json.dumps(items, ensure_ascii=False)),
    )
    return int(cur.lastrowid or 0)
