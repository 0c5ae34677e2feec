"""The door of the ``memory_entries`` table.

An entry is sealed whole: when its key, namespace or value (at any depth)
says it is a credential, the value is encrypted before the write transaction
(:func:`prepare`) and the row is flagged ``sensitive`` — which keeps it out of
Redis, the full-text index, the vector index and the sync stream. Keys and
namespaces that are themselves credentials are refused: they are stored in
clear, because they are how an entry is found again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from claude_tui.core.ids import next_version
from claude_tui.core.models import SWARM_SCOPE, private_scope
from claude_tui.core.records.guard import Guard

COLUMNS = (
    "id, key, value, memory_type, namespace, scope, session_id, agent_id, ttl, created_at, "
    "updated_at, accessed_at, access_count, version, origin, sensitive, encrypted"
)


@dataclass(frozen=True)
class Sealed:
    """A value ready for the door: the text to store and whether it is a sealed secret."""

    raw: str
    stored: str
    sensitive: bool
    encrypted: bool


def prepare(guard: Guard, key: str, namespace: str, raw: str) -> Sealed:
    """Decide sensitivity with the configured rules and seal (outside any transaction).

    Raises:
        BadInput: the key or the namespace looks like a credential.
    """
    guard.check_identifier(key, "key")
    guard.check_identifier(namespace, "namespace")
    sensitive = guard.entry_sensitive(key, namespace, raw)
    stored, encrypted = guard.seal(raw) if sensitive else (raw, False)
    return Sealed(raw, stored, sensitive, encrypted)


def upsert(
    conn: sqlite3.Connection,
    value: Sealed,
    *,
    key: str,
    namespace: str,
    scope: str,
    session_id: str | None,
    agent_id: str | None,
    memory_type: str,
    expires: float | None,
    now: float,
    origin: str | None,
    created_at: float | None = None,
) -> tuple[Any, ...]:
    """Create or replace an entry with a new version; return the row in COLUMNS order."""
    old = conn.execute(
        "SELECT version FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ?",
        (scope, namespace, key),
    ).fetchone()
    version = next_version(now, old[0] if old else None)
    row: tuple[Any, ...] = conn.execute(
        "INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl, "
        "created_at, accessed_at, namespace, scope, updated_at, version, origin, "
        "sensitive, encrypted) VALUES (?,?,?,?,?,?,?,NULL,?,?,?,?,?,?,?) "
        "ON CONFLICT (scope, namespace, key) DO UPDATE SET "
        "session_id = excluded.session_id, agent_id = excluded.agent_id, "
        "memory_type = excluded.memory_type, value = excluded.value, ttl = excluded.ttl, "
        "updated_at = excluded.updated_at, version = excluded.version, "
        "origin = excluded.origin, sensitive = excluded.sensitive, "
        "encrypted = excluded.encrypted "
        f"RETURNING {COLUMNS}",
        (
            session_id if scope != SWARM_SCOPE or session_id else None,
            agent_id,
            memory_type,
            key,
            value.stored,
            expires,
            now if created_at is None else created_at,
            namespace,
            scope,
            now,
            version,
            origin,
            int(value.sensitive),
            int(value.encrypted),
        ),
    ).fetchone()
    return row


def insert_loaded(conn: sqlite3.Connection, value: Sealed, columns: dict[str, Any]) -> None:
    """Insert an entry with every column given (the demo's rows, with their read history)."""
    names = [c for c in columns if c not in ("value", "sensitive", "encrypted")]
    if not all(n.isidentifier() for n in names):
        raise ValueError(f"bad column names {names!r}")
    params = [columns[n] for n in names] + [
        value.stored,
        int(value.sensitive),
        int(value.encrypted),
    ]
    conn.execute(
        f"INSERT INTO memory_entries ({', '.join(names)}, value, sensitive, encrypted) "
        f"VALUES ({', '.join('?' * len(params))})",
        params,
    )


def changed_since(conn: sqlite3.Connection, seq: int) -> list[tuple[str, int]]:
    """(cache key, newest clock) of every entry the change log names past ``seq``.

    Called inside the write transaction that made the changes, with the
    sequence it started at: what a sync apply or an import changed, for the
    caches to be brought in line once it has committed.
    """
    rows = conn.execute(
        "SELECT ckey, max(coalesce(clock, 0)) FROM change_log WHERE seq > ? "
        "AND tbl = 'memory_entries' AND ckey IS NOT NULL GROUP BY ckey",
        (seq,),
    ).fetchall()
    return [(str(ckey), int(clock)) for ckey, clock in rows]


def delete_ids(conn: sqlite3.Connection, entry_ids: list[int]) -> list[tuple[Any, ...]]:
    """Delete entries by id; return (scope, namespace, key, version, id, session_id) of each."""
    gone: list[tuple[Any, ...]] = []
    for entry_id in entry_ids:
        row = conn.execute(
            "DELETE FROM memory_entries WHERE id = ? "
            "RETURNING scope, namespace, key, version, id, session_id",
            (entry_id,),
        ).fetchone()
        if row is not None:
            gone.append(tuple(row))
    return gone


def delete_same_key(
    conn: sqlite3.Connection, scope: str, namespace: str, key: str, keep_id: Any
) -> None:
    """Drop another row holding this identity (a restore brings back an older id)."""
    conn.execute(
        "DELETE FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ? AND id != ?",
        (scope, namespace, key, keep_id),
    )


def purge_expired(conn: sqlite3.Connection, now: float, batch: int) -> list[tuple[Any, ...]]:
    """Delete up to ``batch`` expired entries; return their identities as :func:`delete_ids`."""
    rows: list[tuple[Any, ...]] = conn.execute(
        "DELETE FROM memory_entries WHERE id IN (SELECT id FROM memory_entries "
        "WHERE ttl IS NOT NULL AND ttl <= ? LIMIT ?) "
        "RETURNING scope, namespace, key, version, id, session_id",
        (now, batch),
    ).fetchall()
    return rows


def delete_private(conn: sqlite3.Connection, session_id: str) -> int:
    """Delete a session's private entries (its shared ones stay with the swarm)."""
    return conn.execute(
        "DELETE FROM memory_entries WHERE session_id = ? AND scope != ?",
        (session_id, SWARM_SCOPE),
    ).rowcount


def add_access(conn: sqlite3.Connection, params: list[tuple[float, float, int]]) -> None:
    """Fold batched read counts in: (count, last read time, id) per entry."""
    conn.executemany(
        "UPDATE memory_entries SET access_count = access_count + ?, "
        "accessed_at = max(coalesce(accessed_at, 0), ?) WHERE id = ?",
        params,
    )


def reseal(
    conn: sqlite3.Connection, updates: list[tuple[str, int, str]], *, was_encrypted: bool
) -> int:
    """Replace sealed values (token, id, value as read) where unchanged since read.

    Used to seal secrets stored before a key existed and by key rotation; a row
    changed meanwhile was sealed by its own write and is left alone.
    """
    done = 0
    for token, entry_id, value in updates:
        done += conn.execute(
            "UPDATE memory_entries SET value = ?, encrypted = 1 "
            "WHERE id = ? AND value = ? AND encrypted = ? AND sensitive = 1",
            (token, entry_id, value, int(was_encrypted)),
        ).rowcount
    return done


def mark_sensitive(conn: sqlite3.Connection, updates: list[tuple[Sealed, int]]) -> int:
    """Seal entries the rules now call sensitive (each: its sealed value, its id).

    Only where the value is unchanged since read: a newer write decided for itself.
    """
    done = 0
    for sealed, entry_id in updates:
        done += conn.execute(
            "UPDATE memory_entries SET value = ?, sensitive = 1, encrypted = ? "
            "WHERE id = ? AND value = ? AND sensitive = 0",
            (sealed.stored, int(sealed.encrypted), entry_id, sealed.raw),
        ).rowcount
    return done


def import_scope(session_id: str) -> str:
    """The scope of the entries the Claude Code import keeps for a session."""
    return private_scope(session_id, None)


def put_imported(
    conn: sqlite3.Connection,
    value: Sealed,
    *,
    existing_id: int | None,
    existing_version: int | None,
    session_id: str,
    namespace: str,
    key: str,
    at: float,
    now: float,
    origin: str,
) -> int:
    """Write one entry the importer keeps (a prompt, a summary); return its id."""
    version = next_version(now, existing_version)
    if existing_id is None:
        cur = conn.execute(
            "INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl, "
            "created_at, accessed_at, namespace, scope, updated_at, version, origin, "
            "sensitive, encrypted) VALUES (?, NULL, 'persistent', ?, ?, NULL, ?, NULL, ?, ?, "
            "?, ?, ?, ?, ?)",
            (session_id, key, value.stored, at, namespace, import_scope(session_id), at, version,
             origin, int(value.sensitive), int(value.encrypted)),
        )  # fmt: skip
        return int(cur.lastrowid or 0)
    conn.execute(
        "UPDATE memory_entries SET value = ?, updated_at = ?, version = ?, origin = ?, "
        "sensitive = ?, encrypted = ? WHERE id = ?",
        (value.stored, at, version, origin, int(value.sensitive), int(value.encrypted),
         existing_id),
    )  # fmt: skip
    return existing_id
