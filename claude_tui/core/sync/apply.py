"""Apply a received event: merge its state into the row's, then write the result.

Runs inside the consumer's write transaction. Each event gets a savepoint, so
one that cannot apply yet (its session or parent task has not arrived) is set
aside in ``sync_deferred`` without undoing the rest of the batch. The
change-log rows an apply produces are marked with the event's origin, so the
capture never sends a received change back out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from claude_tui.core.ids import next_version
from claude_tui.core.secrets import DEFAULT_RULES, SecretRules, is_sensitive
from claude_tui.core.store.db import Store
from claude_tui.core.sync import registers
from claude_tui.core.sync.capture import (
    TABLES,
    close_superseded,
    load_state,
    memory_row,
    read_row,
    save_state,
    split_ckey,
)

Sealer = Callable[[str], tuple[str, bool]]


def decode(fields: dict[str, Any]) -> dict[str, Any]:
    """An event from its stream or hash form (one JSON field ``e``).

    Raises:
        ValueError: not an event of this protocol.
    """
    event = json.loads(fields["e"])
    if not isinstance(event, dict) or event.get("t") not in TABLES:
        raise ValueError("not a claude-tui sync event")
    for name in ("o", "r"):
        if not isinstance(event.get(name), str):
            raise ValueError(f"event field {name!r} missing")
    if not isinstance(event.get("p"), dict) or not isinstance(event.get("q"), int):
        raise ValueError("event payload missing")
    return event


def apply_event(
    conn: sqlite3.Connection,
    event: dict[str, Any],
    *,
    seal: Sealer,
    now: float,
    rules: SecretRules = DEFAULT_RULES,
) -> tuple[bool, list[registers.Conflict]]:
    """Merge one event into the local row; return (row changed, true conflicts).

    Raises:
        sqlite3.IntegrityError: the row's parent is missing (the caller defers it).
    """
    tbl, rkey, theirs = event["t"], event["r"], event["p"]
    mine = load_state(conn, tbl, rkey)
    state, conflicts = registers.merge(mine, theirs)
    if mine is not None and state == mine:
        return False, []
    before = Store.last_seq(conn)
    conn.execute("SAVEPOINT sync_apply")
    try:
        if tbl == "memory_entries":
            _write_memory(conn, rkey, state, seal, now, rules)
        else:
            _write_row(conn, tbl, rkey, registers.row_value(state))
        save_state(conn, tbl, rkey, state)
        closed = close_superseded(conn, tbl, rkey, state, now)
        for c in conflicts:
            conn.execute(
                "INSERT OR IGNORE INTO sync_conflicts (tbl, rkey, field, winner, loser, "
                "winner_origin, loser_origin, winner_hlc, loser_hlc, detected_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    tbl, rkey, c.field, _text(c.winner, c.field), _text(c.loser, c.field),
                    c.winner_origin, c.loser_origin, c.winner_hlc, c.loser_hlc, now,
                ),
            )  # fmt: skip
        if conflicts or closed:
            # Tell the screens even when the local value won (no row changed).
            conn.execute(
                "INSERT INTO change_log (ts, tbl, row_id, op) VALUES (?, 'meta', ?, 'conflict')",
                (now, rkey),
            )
        # Whatever the triggers logged here came from elsewhere: never capture it.
        conn.execute("UPDATE change_log SET origin = ? WHERE seq > ?", (event["o"], before))
    except BaseException:
        conn.execute("ROLLBACK TO sync_apply")
        conn.execute("RELEASE sync_apply")
        raise
    conn.execute("RELEASE sync_apply")
    return True, conflicts


def _text(value: Any, field: str | None) -> str | None:
    """A register value as JSON text for the conflicts table (None: absent)."""
    if value is None:
        return None
    if field is None:
        return str(value)  # a whole value is JSON text already
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _write_memory(
    conn: sqlite3.Connection,
    rkey: str,
    state: registers.State,
    seal: Sealer,
    now: float,
    rules: SecretRules,
) -> None:
    raw, expires, node = registers.memory_value(state)
    scope, namespace, key = split_ckey(rkey)
    current = memory_row(conn, rkey, "id, value, ttl, version, encrypted")
    if raw is None or (expires is not None and expires <= now):
        if current is not None:
            conn.execute("DELETE FROM memory_entries WHERE id = ?", (current[0],))
        return
    if current is not None and not current[4] and (current[1], current[2]) == (raw, expires):
        return
    sensitive = is_sensitive(key, namespace, raw, rules)
    stored, encrypted = seal(raw) if sensitive else (raw, False)
    version = next_version(now, current[3] if current else None)
    conn.execute(
        "INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl, "
        "created_at, namespace, scope, updated_at, version, origin, sensitive, encrypted) "
        "VALUES (NULL, NULL, 'shared', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (scope, namespace, key) DO UPDATE SET value = excluded.value, "
        "ttl = excluded.ttl, updated_at = excluded.updated_at, version = excluded.version, "
        "origin = excluded.origin, sensitive = excluded.sensitive, encrypted = excluded.encrypted",
        (key, stored, expires, now, namespace, scope, now, version, node, int(sensitive),
         int(encrypted)),
    )  # fmt: skip


def _write_row(conn: sqlite3.Connection, tbl: str, row_id: str, row: dict[str, Any] | None) -> None:
    if row is None:
        conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
        return
    current = read_row(conn, tbl, row_id)
    if current == row:
        return
    local_columns = {r[1] for r in conn.execute(f"PRAGMA table_info({tbl})")}
    columns = [c for c in row if c in local_columns]
    marks = ",".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    conn.execute(
        f"INSERT INTO {tbl} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [row[c] for c in columns],
    )


def defer(conn: sqlite3.Connection, event: dict[str, Any], reason: str, now: float) -> None:
    """Keep an event that cannot apply yet, to retry after later batches."""
    conn.execute(
        "INSERT INTO sync_deferred (origin, event, reason, deferred_at) VALUES (?,?,?,?)",
        (event["o"], json.dumps(event, separators=(",", ":")), reason, now),
    )


def retry_deferred(
    conn: sqlite3.Connection, *, seal: Sealer, now: float, rules: SecretRules = DEFAULT_RULES
) -> int:
    """Apply set-aside events whose parents have arrived since; return how many."""
    applied = 0
    for row_id, text in conn.execute("SELECT id, event FROM sync_deferred ORDER BY id").fetchall():
        try:
            apply_event(conn, json.loads(text), seal=seal, now=now, rules=rules)
        except sqlite3.IntegrityError:
            continue
        conn.execute("DELETE FROM sync_deferred WHERE id = ?", (row_id,))
        applied += 1
    return applied
