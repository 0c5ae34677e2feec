"""The import ledger: how far each transcript file was read, and each session's fold state.

Per file: its size and mtime when last read, how many complete lines and
bytes were consumed, and a SHA-256 of its first bytes (up to 4 KiB of what was
consumed). A file that shrank, or whose head no longer hashes the same, is a
different file at the same path: its session is imported again from scratch.
The ledger is written in the same transaction as the rows it accounts for,
through its door (``records/imports.py``), which seals the fold state: the
ledger keeps offsets and hashes in clear, never transcript content.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.records import imports as import_door
from claude_tui.core.records.guard import Guard
from claude_tui.core.store.db import Store

HEAD_BYTES = 4096
_COLS = "path, session_id, size, mtime, lines, offset, sha256_head, imported_at"


@dataclass
class FileMark:
    """One transcript file as far as it was read."""

    path: str
    session_id: str
    size: int
    mtime: float
    lines: int
    offset: int
    sha256_head: str
    imported_at: float


def head_hash(path: Path, length: int) -> str:
    """SHA-256 of the first ``min(length, HEAD_BYTES)`` bytes of ``path``."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(min(length, HEAD_BYTES))).hexdigest()


def marks_for(store: Store, session_id: str) -> dict[str, FileMark]:
    """The ledger rows of one session's files, by path."""
    rows = store.rows(f"SELECT {_COLS} FROM import_files WHERE session_id = ?", (session_id,))
    return {r[0]: FileMark(*r) for r in rows}


def mark_of(store: Store, path: str) -> FileMark | None:
    """The ledger row of one file, if it was ever read."""
    row = store.row(f"SELECT {_COLS} FROM import_files WHERE path = ?", (path,))
    return None if row is None else FileMark(*row)


def load_state(
    store: Store, guard: Guard, session_id: str
) -> tuple[dict[str, Any] | None, float | None]:
    """A session's fold state and the time it was saved (None, None when never imported).

    An unreadable state (or one sealed with a key that is gone) reads as None:
    the session is imported from scratch.
    """
    row = store.row(
        "SELECT state, updated_at FROM import_sessions WHERE session_id = ?", (session_id,)
    )
    if row is None:
        return None, None
    return import_door.open_state(guard, row[0]), row[1]


def saved_at(conn: sqlite3.Connection, session_id: str) -> float | None:
    """When the state was saved, read inside a write transaction (to detect a race)."""
    row = conn.execute(
        "SELECT updated_at FROM import_sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else row[0]


def save(
    conn: sqlite3.Connection,
    session_id: str,
    sealed_state: str,
    marks: list[FileMark],
    now: float,
    *,
    source: str = "claude-code",
) -> None:
    """Record the sealed state (:func:`seal`) and the files' marks, in the caller's transaction."""
    import_door.save(
        conn, session_id, sealed_state, [astuple(m) for m in marks], now, source=source
    )


def seal(guard: Guard, state: dict[str, Any]) -> str:
    """The fold state as the ledger keeps it: sealed (before the write transaction)."""
    return import_door.seal_state(guard, state)
