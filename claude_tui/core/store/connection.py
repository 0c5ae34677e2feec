"""Opening the SQLite file: checks, pragmas, and clear errors for unusable files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from claude_tui.core.durability.files import PRIVATE_DIR, create_private
from claude_tui.core.errors import DiskFull, StoreReadOnly, StoreUnusable

SQLITE_HEADER = b"SQLite format 3\x00"


# Below this much free space an I/O error is taken for a full disk: SQLite reports
# ENOSPC while growing its -shm file as a plain "disk I/O error".
_NEARLY_FULL_BYTES = 1 << 20


def unwritable_error(path: Path, exc: sqlite3.Error) -> StoreUnusable | None:
    """A read-only database or a full disk, said plainly; None for any other error."""
    extended = getattr(exc, "sqlite_errorcode", 0) or 0
    code = extended & 0xFF  # the primary code of an extended one
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY):
        try:
            mounted_ro = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
        except OSError:
            mounted_ro = False
        if mounted_ro:  # SQLite cannot even make its -wal and -shm files there
            return StoreReadOnly(
                f"cannot write to {path}: it is on a read-only file system; nothing was written"
            )
    # READONLY_DBMOVED: the file was moved under us (a restore), not a read-only disk
    if code == sqlite3.SQLITE_READONLY and extended != sqlite3.SQLITE_READONLY_DBMOVED:
        return StoreReadOnly(
            f"cannot write to {path}: the database is read-only (an immutable file, a "
            "read-only mount or no write permission); nothing was written"
        )
    full = code == sqlite3.SQLITE_FULL
    if not full and code == sqlite3.SQLITE_IOERR:
        import shutil

        try:
            full = shutil.disk_usage(path.parent).free < _NEARLY_FULL_BYTES
        except OSError:
            full = False
    if full:
        return DiskFull(
            f"the disk is full: cannot write to {path}; nothing was written "
            "(free some space and try again)"
        )
    return None


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
        problem = unwritable_error(path, exc)
        if problem is not None:
            raise problem from None
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
