"""A structural check of the archive tables, for backup verification (no key needed).

Every version must be covered by its parts exactly (no gap, no overlap, up
to its size) and every part must name a stored chunk of its size. The chunk
payloads themselves are covered by the backup file's SHA-256; opening them
needs the key (``transcripts restore`` checks every byte against its digest).
"""

from __future__ import annotations

import sqlite3


def archive_check(conn: sqlite3.Connection) -> str | None:
    """What is wrong with the archive in this database (None: sound, or no archive)."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "archive_parts" not in names:
        return None
    dangling = conn.execute(
        "SELECT count(*) FROM archive_parts p LEFT JOIN archive_chunks c ON c.id = p.chunk_id "
        "WHERE c.id IS NULL OR c.size != p.size OR length(c.data) = 0"
    ).fetchone()[0]
    if dangling:
        return f"has {dangling} part(s) without their chunk"
    gaps = conn.execute(
        "SELECT count(*) FROM (SELECT offset, lag(offset + size, 1, 0) OVER "
        "(PARTITION BY version_id ORDER BY offset) AS prev_end FROM archive_parts) "
        "WHERE offset != prev_end"
    ).fetchone()[0]
    if gaps:
        return f"has {gaps} gap(s) or overlap(s) between parts"
    short = conn.execute(
        "SELECT count(*) FROM archive_versions v WHERE v.size != coalesce("
        "(SELECT sum(size) FROM archive_parts p WHERE p.version_id = v.id), 0)"
    ).fetchone()[0]
    if short:
        return f"has {short} version(s) whose parts do not add up to their size"
    orphans = conn.execute(
        "SELECT count(*) FROM archive_versions v WHERE NOT EXISTS "
        "(SELECT 1 FROM archive_files f WHERE f.id = v.file_id)"
    ).fetchone()[0]
    if orphans:
        return f"has {orphans} version(s) of no file"
    return None
