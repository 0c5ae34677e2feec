"""Opening the SQLite file: checks, pragmas, and clear errors for unusable files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from claude_tui.core.durability.files import PRIVATE_DIR, create_private
from claude_tui.core.errors import StoreUnusable

SQLITE_HEADER = b"SQLite format 3\x00"


def check_database_file(path: Path) -> None:
    """Refuse a path that exists but cannot be a database file (a directory, unreadable).

    The file is not opened here: on POSIX, closing any descriptor of a file drops
    every lock this process holds on it, SQLite's included (another connection
    of this process may have it open). SQLite itself tells a file of another
    kind; see :func:`not_a_database`.

    Raises:
        StoreUnusable: a directory, or a file this user cannot read.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise StoreUnusable(f"{path} is a directory, not a database file")
    if not os.access(path, os.R_OK):
        raise StoreUnusable(f"cannot read {path}: permission denied")


def not_a_database(path: Path) -> StoreUnusable:
    """The error for a file SQLite cannot read as a database.

    Safe to read the header here: SQLite refused the file, so no connection of
    this process holds a lock on it.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        return StoreUnusable(f"cannot read {path}: {exc.strerror or exc}")
    if header != SQLITE_HEADER:
        return StoreUnusable(
            f"{path} is not a SQLite database; move it aside or choose another --data-dir"
        )
    return StoreUnusable(f"{path} cannot be used as a database: file is not a database")


def connect(
    path: Path, *, busy_timeout_ms: int = 5000, synchronous: str = "FULL"
) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with a busy timeout, in autocommit mode.

    Transactions are explicit (``BEGIN IMMEDIATE``); see ``store.txn``.

    Raises:
        StoreUnusable: the file or its directory cannot be used.
    """
    check_database_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    except OSError as exc:
        raise StoreUnusable(
            f"cannot create data dir {path.parent}: {exc.strerror or exc}"
        ) from None
    try:
        create_private(path)  # 0600 before SQLite makes it: its -wal and -shm copy that mode
    except OSError as exc:
        raise StoreUnusable(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        conn = sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
    except sqlite3.Error as exc:
        raise StoreUnusable(f"cannot open {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Refuse before anything writes: switching to WAL rewrites the header.
        check_openable(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreUnusable(f"{path}: could not switch to WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc).lower():
            raise not_a_database(path) from None
        raise StoreUnusable(f"{path} cannot be used as a database: {exc}") from None
    except StoreUnusable:
        conn.close()
        raise
    return conn


def check_openable(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse, with reads only, a schema newer than ours or another program's database.

    Raises:
        StoreUnusable: naming what is wrong and what to do.
    """
    from claude_tui.core.store.schema import LATEST_VERSION

    # One statement, so one snapshot: read apart, a first process creating the
    # database between the two reads made a second one see tables at version 0
    # and call it another program's database.
    version, listed = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT group_concat(name, char(31)) FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%')"
    ).fetchone()
    version = int(version)
    if version > LATEST_VERSION:
        raise StoreUnusable(
            f"{path} has schema version {version}, newer than this claude-tui understands "
            f"({LATEST_VERSION}); upgrade claude-tui to open it"
        )
    if version == 0:
        names = set(listed.split(chr(31))) if listed else set()
        if names:
            raise StoreUnusable(
                f"{path} is a SQLite database of another program (tables: "
                f"{', '.join(sorted(names)[:5])}); choose another --data-dir"
            )
