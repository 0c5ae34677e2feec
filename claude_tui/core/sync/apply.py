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

from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import patterns as pattern_door
from claude_tui.core.records import rows as row_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records import tasks as task_door
from claude_tui.core.records.guard import Guard, Protected
from claude_tui.core.store.db import Store
from claude_tui.core.sync import registers
from claude_tui.core.sync.capture import (
    LOCAL_COLUMNS,
    TABLES,
    close_superseded,
    load_state,
    memory_row,
    read_row,
    save_state,
    split_ckey,
)

_DOORS: dict[str, Callable[[sqlite3.Connection, Protected], None]] = {
    "sessions": session_door.put,
    "agents": agent_door.put,
    "tasks": task_door.put,
    "neural_patterns": pattern_door.put,
}
_KINDS = {
    "sessions": session_door.KIND,
    "agents": agent_door.KIND,
    "tasks": task_door.KIND,
    "neural_patterns": pattern_door.KIND,
}


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
    guard: Guard,
    now: float,
) -> tuple[bool, list[registers.Conflict]]:
    """Merge one event into the local row; return (row changed, true conflicts).

    What arrives goes through the same doors as a local write: a value that
    holds a credential (a peer of an older version may send one) is sealed
    here, with this host's rules. Call :meth:`Guard` sealing only once the key
    is ready (the engine readies it before its transaction).

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
            _write_memory(conn, rkey, state, guard, now)
        else:
            _write_row(conn, guard, tbl, rkey, registers.row_value(state))
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
    conn: sqlite3.Connection, rkey: str, state: registers.State, guard: Guard, now: float
) -> None:
    raw, expires, node = registers.memory_value(state)
    scope, namespace, key = split_ckey(rkey)
    current = memory_row(conn, rkey, "id, value, ttl, version, encrypted")
    if raw is None or (expires is not None and expires <= now):
        if current is not None:
            memory_door.delete_ids(conn, [current[0]])
        return
    if current is not None and not current[4] and (current[1], current[2]) == (raw, expires):
        return
    try:
        sealed = memory_door.prepare(guard, key, namespace, raw)
    except ClaudeTUIError:
        # A key that is a credential: this host refuses to store it, as locally.
        return
    memory_door.upsert(
        conn, sealed, key=key, namespace=namespace, scope=scope, session_id=None, agent_id=None,
        memory_type="shared", expires=expires, now=now, origin=node,
    )  # fmt: skip


def _write_row(
    conn: sqlite3.Connection, guard: Guard, tbl: str, row_id: str, row: dict[str, Any] | None
) -> None:
    if row is None:
        row_door.delete(conn, tbl, [row_id])
        return
    current = read_row(conn, tbl, row_id)
    if current == row:
        return
    local_columns = {r[1] for r in conn.execute(f"PRAGMA table_info({tbl})")}
    values = {c: row[c] for c in row if c in local_columns and c not in LOCAL_COLUMNS}
    # The originals this host sealed stay with it where the peer's copy still shows
    # their redacted form (the guard compares column by column).
    token = row_door.read(conn, tbl, row_id)
    current = None if token is None else token.get("sealed")
    _DOORS[tbl](conn, guard.protect(_KINDS[tbl], values, current_sealed=current))


def defer(conn: sqlite3.Connection, event: dict[str, Any], reason: str, now: float) -> None:
    """Keep an event that cannot apply yet, to retry after later batches."""
    conn.execute(
        "INSERT INTO sync_deferred (origin, event, reason, deferred_at) VALUES (?,?,?,?)",
        (event["o"], json.dumps(event, separators=(",", ":")), reason, now),
    )


def retry_deferred(conn: sqlite3.Connection, *, guard: Guard, now: float) -> int:
    """Apply set-aside events whose parents have arrived since; return how many."""
    applied = 0
    for row_id, text in conn.execute("SELECT id, event FROM sync_deferred ORDER BY id").fetchall():
        try:
            apply_event(conn, json.loads(text), guard=guard, now=now)
        except sqlite3.IntegrityError:
            continue
        conn.execute("DELETE FROM sync_deferred WHERE id = ?", (row_id,))
        applied += 1
    return applied
