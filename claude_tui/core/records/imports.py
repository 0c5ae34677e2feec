"""The door of the import ledger (``import_files``, ``import_sessions``).

The ledger keeps offsets and hashes in clear; the importer's fold state —
which holds prompts, commands and tool output on their way to becoming rows —
is sealed whole (Fernet) before it is stored, so no transcript content is
ever in the ledger in clear.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from claude_tui.core.errors import SecretUnavailable
from claude_tui.core.records.guard import Guard

FILE_COLUMNS = "path, session_id, size, mtime, lines, offset, sha256_head, imported_at"
SEALED_PREFIX = "sealed:"


def seal_state(guard: Guard, state: dict[str, Any]) -> str:
    """The fold state as stored (outside the write transaction: sealing may write the key check)."""
    token, encrypted = guard.seal(json.dumps(state, separators=(",", ":"), ensure_ascii=False))
    return SEALED_PREFIX + token if encrypted else token


def open_state(guard: Guard, stored: str) -> dict[str, Any] | None:
    """The fold state back (None when unreadable: the session is imported from scratch)."""
    try:
        if stored.startswith(SEALED_PREFIX):
            stored = guard.sealer.open(stored[len(SEALED_PREFIX) :], True)
        state = json.loads(stored)
    except (SecretUnavailable, ValueError):
        return None
    return state if isinstance(state, dict) else None


def save(
    conn: sqlite3.Connection,
    session_id: str,
    stored_state: str,
    marks: Iterable[tuple[Any, ...]],
    now: float,
    *,
    source: str,
) -> None:
    """Record a session's sealed state and its files' marks (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO import_sessions (session_id, source, state, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        (session_id, source, stored_state, now),
    )
    conn.executemany(
        f"INSERT OR REPLACE INTO import_files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        list(marks),
    )


def reseal_states(conn: sqlite3.Connection, updates: list[tuple[str, str, str]]) -> int:
    """Replace stored states (new text, session id, text as read) unchanged since read."""
    done = 0
    for new, session_id, old in updates:
        done += conn.execute(
            "UPDATE import_sessions SET state = ? WHERE session_id = ? AND state = ?",
            (new, session_id, old),
        ).rowcount
    return done
