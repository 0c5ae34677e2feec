"""The door of the transcript archive (``archive_files``, ``archive_versions``, ``archive_parts``,
``archive_chunks``).

Chunk payloads arrive sealed already (``core/archive/codec.py``: compressed,
then Fernet): this door never sees a transcript's bytes in clear. Paths,
sizes, offsets and SHA-256 digests are kept in clear, as the import ledger
keeps them. Every statement runs in the caller's write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

FILE_COLUMNS = (
    "path", "claude_session", "role", "rel", "project", "cwd", "size", "mtime_ns", "inode",
    "first_seen", "last_seen",
)  # fmt: skip


def insert_chunks(
    conn: sqlite3.Connection, chunks: Iterable[tuple[str, int, str, bytes, float]]
) -> None:
    """Store sealed chunks (id, plain size, codec, payload, time); a kept one stays as it is."""
    conn.executemany(
        "INSERT OR IGNORE INTO archive_chunks (id, size, codec, data, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        list(chunks),
    )


def put_file(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    """Create a file's row, or refresh it (its stat always; what it is only when that changed).

    Only a change of what the file is (session, role, place, project, cwd) is
    a change the log records; its stat is a cache (see the schema's trigger).
    """
    conn.execute(
        f"INSERT OR IGNORE INTO archive_files ({', '.join(FILE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(FILE_COLUMNS))})",
        [values.get(c) for c in FILE_COLUMNS],
    )
    path = values["path"]
    conn.execute(
        "UPDATE archive_files SET size = ?, mtime_ns = ?, inode = ?, last_seen = ? WHERE path = ?",
        (values["size"], values["mtime_ns"], values["inode"], values["last_seen"], path),
    )
    conn.execute(
        "UPDATE archive_files SET claude_session = ?, role = ?, rel = ?, project = ?, "
        "cwd = coalesce(?, cwd) WHERE path = ? AND (claude_session IS NOT ? OR role IS NOT ? "
        "OR rel IS NOT ? OR project IS NOT ? OR (cwd IS NULL AND ? IS NOT NULL))",
        (
            values["claude_session"], values["role"], values["rel"], values["project"],
            values["cwd"], path, values["claude_session"], values["role"], values["rel"],
            values["project"], values["cwd"],
        ),
    )  # fmt: skip
    return int(conn.execute("SELECT id FROM archive_files WHERE path = ?", (path,)).fetchone()[0])


def new_version(
    conn: sqlite3.Connection,
    file_id: int,
    n: int,
    size: int,
    sha256: str,
    reason: str,
    now: float,
) -> int:
    """Add version ``n`` of a file; its id."""
    cur = conn.execute(
        "INSERT INTO archive_versions (file_id, n, size, sha256, reason, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (file_id, n, size, sha256, reason, now, now),
    )
    return int(cur.lastrowid or 0)


def grow_version(
    conn: sqlite3.Connection, version_id: int, size: int, sha256: str, now: float
) -> None:
    """The version took in appended bytes: its new size and digest."""
    conn.execute(
        "UPDATE archive_versions SET size = ?, sha256 = ?, updated_at = ? WHERE id = ?",
        (size, sha256, now, version_id),
    )


def add_parts(
    conn: sqlite3.Connection, version_id: int, parts: Sequence[tuple[int, int, str]]
) -> None:
    """Parts (offset, size, chunk id) of a version."""
    conn.executemany(
        "INSERT INTO archive_parts (version_id, offset, size, chunk_id) VALUES (?, ?, ?, ?)",
        [(version_id, o, s, c) for o, s, c in parts],
    )


def drop_parts(conn: sqlite3.Connection, version_id: int, lo: int, hi: int) -> list[str]:
    """Remove a version's parts starting in ``[lo, hi)``; the chunk ids they named."""
    found = [
        str(r[0])
        for r in conn.execute(
            "SELECT chunk_id FROM archive_parts "
            "WHERE version_id = ? AND offset >= ? AND offset < ?",
            (version_id, lo, hi),
        )
    ]
    conn.execute(
        "DELETE FROM archive_parts WHERE version_id = ? AND offset >= ? AND offset < ?",
        (version_id, lo, hi),
    )
    return found


def drop_unused_chunks(conn: sqlite3.Connection, chunk_ids: Iterable[str]) -> int:
    """Delete those of ``chunk_ids`` no part names any more; how many went."""
    done = 0
    for chunk_id in set(chunk_ids):
        done += conn.execute(
            "DELETE FROM archive_chunks WHERE id = ? AND NOT EXISTS "
            "(SELECT 1 FROM archive_parts WHERE chunk_id = ?)",
            (chunk_id, chunk_id),
        ).rowcount
    return done


def reseal_chunks(conn: sqlite3.Connection, updates: list[tuple[bytes, str, bytes]]) -> int:
    """Replace chunk payloads (new, id, payload as read) unchanged since read (key rotation)."""
    done = 0
    for new, chunk_id, old in updates:
        done += conn.execute(
            "UPDATE archive_chunks SET data = ? WHERE id = ? AND data = ?", (new, chunk_id, old)
        ).rowcount
    return done
