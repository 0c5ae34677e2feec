"""Apply numbered migrations in place, each in its own transaction.

The applied version lives in ``PRAGMA user_version`` and every step is also
recorded in ``schema_migrations`` (number, name, time). Two processes opening
an old database at once are safe: the version is re-read under the write lock.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from claude_tui.core.errors import StoreUnusable
from claude_tui.core.store import txn
from claude_tui.core.store.connection import check_openable
from claude_tui.core.store.schema import LATEST_VERSION, MIGRATIONS, Migration


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines(keepends=True):
        current.append(line)
        candidate = "".join(current)
        if sqlite3.complete_statement(candidate):
            if candidate.strip():
                statements.append(candidate.strip())
            current = []
    rest = "".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    for statement in split_statements(migration.sql):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
        (migration.number, migration.name, time.time()),
    )
    conn.execute(f"PRAGMA user_version = {migration.number}")


def migrate(conn: sqlite3.Connection, path: Path, *, target: int = LATEST_VERSION) -> list[int]:
    """Bring the database up to ``target``; return the numbers applied.

    Raises:
        StoreUnusable: the database is newer than this version understands,
            or is a SQLite file that belongs to another program.
    """
    try:
        check_openable(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreUnusable(f"{path} cannot be used as a database: {exc}") from None
    applied: list[int] = []
    # Up to date is the common case: a read, no write lock (a hook must not wait
    # for another process's write just to find nothing to migrate).
    current = schema_version(conn)
    for migration in MIGRATIONS:
        if migration.number > target:
            break
        if migration.number <= current:
            continue

        def step(c: sqlite3.Connection, m: Migration = migration) -> bool:
            if schema_version(c) >= m.number:
                return False  # another process applied it while we waited
            _apply(c, m)
            return True

        try:
            if txn.write(conn, step):
                applied.append(migration.number)
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(
                f"{path}: migration {migration.number} ({migration.name}) failed: {exc}; "
                "the database was left as it was"
            ) from None
    return applied
