"""Capture local changes of replicated rows into the outbox, inside their transaction.

The change log already names every mutation; capture walks it from a cursor
kept in ``meta``, so a change made by a process with sync off (or killed
before it could publish) is still captured by the next one. Each captured
change gets a fresh HLC, becomes the row's new state in ``sync_state`` and an
event in ``sync_outbox`` — in the same transaction as the change itself, so
an acknowledged write is never missing from the queue.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.models import ckey_sql, split_cache_key
from claude_tui.core.records import rows as row_door
from claude_tui.core.store.db import Store
from claude_tui.core.sync import clocks, registers
from claude_tui.core.sync.levels import level_for

# Replicated tables, parents first (a receiver applies in this order).
TABLES = ("sessions", "agents", "tasks", "neural_patterns", "memory_entries")
KIND = {
    "sessions": "sessions",
    "agents": "agents",
    "tasks": "tasks",
    "neural_patterns": "patterns",
    "memory_entries": "memory",
}
SWARM_PREFIX = "swarm\x1f"
CURSOR_KEY = "sync_captured_seq"
SUPERSEDED = "superseded by a later write"
HLC_KEY = "sync_hlc"


def meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    """A ``meta`` value read on ``conn`` (inside the caller's transaction)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def meta_set(conn: sqlite3.Connection, key: str, value: object) -> None:
    """Write a ``meta`` value on ``conn``."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))


def split_ckey(rkey: str) -> tuple[str, str, str]:
    """(scope, namespace, key) of a memory row key."""
    return split_cache_key(rkey)


def load_state(conn: sqlite3.Connection, tbl: str, rkey: str) -> registers.State | None:
    """The row's replicated state, or None if it never took part in sync."""
    row = conn.execute(
        "SELECT state FROM sync_state WHERE tbl = ? AND rkey = ?", (tbl, rkey)
    ).fetchone()
    return None if row is None else json.loads(row[0])


def save_state(conn: sqlite3.Connection, tbl: str, rkey: str, state: registers.State) -> str:
    """Store a row's state; return its JSON."""
    hlc, origin = registers.state_dot(state)
    text = json.dumps(state, separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        "INSERT INTO sync_state (tbl, rkey, hlc, origin, state) VALUES (?,?,?,?,?) "
        "ON CONFLICT (tbl, rkey) DO UPDATE SET hlc = excluded.hlc, origin = excluded.origin, "
        "state = excluded.state",
        (tbl, rkey, hlc, origin, text),
    )
    return text


def close_superseded(
    conn: sqlite3.Connection, tbl: str, rkey: str, state: registers.State, now: float
) -> int:
    """Close open conflicts of a row whose register a later write has replaced since.

    Once anyone writes the field again (taking the other value on another
    host, say), both recorded values are history. Returns how many closed.
    """
    closed = 0
    for conflict_id, name, winner_hlc in conn.execute(
        "SELECT id, field, winner_hlc FROM sync_conflicts "
        "WHERE tbl = ? AND rkey = ? AND resolved_at IS NULL",
        (tbl, rkey),
    ).fetchall():
        reg = state.get("w") if name is None else state.get("f", {}).get(name)
        if reg is not None and int(reg[2]) > int(winner_hlc):
            conn.execute(
                "UPDATE sync_conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
                (now, SUPERSEDED, conflict_id),
            )
            closed += 1
    return closed


LOCAL_COLUMNS = ("sealed",)


def read_row(conn: sqlite3.Connection, tbl: str, row_id: str) -> dict[str, Any] | None:
    """A whole row as a column -> value dict, as the swarm may see it.

    The ``sealed`` originals never leave their host: a peer gets the redacted
    columns (``[sealed on host N]``), which is all it could read anyway.
    """
    row = row_door.read(conn, tbl, row_id)
    if row is not None:
        for name in LOCAL_COLUMNS:
            row.pop(name, None)
    return row


def memory_row(conn: sqlite3.Connection, rkey: str, columns: str) -> tuple[Any, ...] | None:
    """The given columns of the memory entry a row key names, or None if absent."""
    scope, namespace, key = split_ckey(rkey)
    return conn.execute(
        f"SELECT {columns} FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ?",
        (scope, namespace, key),
    ).fetchone()


def read_memory(conn: sqlite3.Connection, rkey: str) -> tuple[str, float | None, bool] | None:
    """(value, expiry, sensitive) of a shared entry, or None if absent."""
    row = memory_row(conn, rkey, "value, ttl, sensitive")
    return None if row is None else (row[0], row[1], bool(row[2]))


@dataclass
class Captured:
    """What one capture queued, by level."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"immediate": 0, "batched": 0, "lazy": 0}
    )

    def add(self, other: Captured) -> None:
        for level, n in other.counts.items():
            self.counts[level] += n


class Capture:
    """Turns this host's committed changes into outbox events (call inside a write)."""

    def __init__(
        self,
        node: str,
        levels: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.levels = dict(levels)
        self.clock = clock

    def next_hlc(self, conn: sqlite3.Connection, *, remote: int = 0) -> int:
        """Advance and persist this host's HLC (inside the caller's transaction)."""
        last = int(meta_get(conn, HLC_KEY) or 0)
        hlc = clocks.hlc_now(last, remote=remote, wall_ms=int(self.clock() * 1000))
        meta_set(conn, HLC_KEY, hlc)
        return hlc

    def __call__(self, conn: sqlite3.Connection) -> Captured:
        """Capture everything this host changed since the cursor."""
        done = Captured()
        cursor = int(meta_get(conn, CURSOR_KEY) or 0)
        head = Store.last_seq(conn)
        if head <= cursor:
            return done
        marks = ",".join("?" * len(TABLES))
        rows = conn.execute(
            f"SELECT seq, tbl, row_id, ckey FROM change_log WHERE seq > ? AND origin = ? "
            f"AND tbl IN ({marks}) ORDER BY seq",
            (cursor, self.node, *TABLES),
        ).fetchall()
        changed: dict[tuple[str, str], int] = {}
        for seq, tbl, row_id, ckey in rows:  # a row changed twice is captured once
            if tbl != "memory_entries":
                changed[(tbl, str(row_id))] = seq
            elif ckey and ckey.startswith(SWARM_PREFIX):  # private memory stays on its host
                changed[(tbl, ckey)] = seq
        order = {t: i for i, t in enumerate(TABLES)}
        for (tbl, rkey), seq in sorted(changed.items(), key=lambda kv: (order[kv[0][0]], kv[1])):
            level = self._capture_one(conn, tbl, rkey, seq)
            if level is not None:
                done.counts[level] += 1
        meta_set(conn, CURSOR_KEY, head)
        return done

    def _capture_one(self, conn: sqlite3.Connection, tbl: str, rkey: str, seq: int) -> str | None:
        prev = load_state(conn, tbl, rkey)
        now = self.clock()
        if tbl == "memory_entries":
            found = read_memory(conn, rkey)
            if found is not None and found[2]:
                return None  # secrets are never sent to Redis, sealed or not
            if found is None:
                if prev is None:
                    return None
                raw_prev, expires, _ = registers.memory_value(prev)
                if raw_prev is None or (expires is not None and expires <= now):
                    return None  # already deleted, or purged on expiry (every host expires it)
            elif prev is not None and registers.memory_value(prev)[:2] == (found[0], found[1]):
                return None  # same value and expiry as the state already holds
            hlc = self.next_hlc(conn)
            raw, expires = (None, None) if found is None else (found[0], found[1])
            state = registers.memory_write(prev, raw, expires, hlc, self.node)
            namespace = split_ckey(rkey)[1]
            level = level_for(self.levels, "memory", namespace=namespace)
        else:
            row = read_row(conn, tbl, rkey)
            if row is None and (prev is None or registers.row_value(prev) is None):
                return None
            if row is not None and prev is not None and registers.row_value(prev) == row:
                return None
            hlc = self.next_hlc(conn)
            state = registers.row_write(prev, row, hlc, self.node)
            status = None if row is None else row.get("status")
            level = level_for(self.levels, KIND[tbl], status=status)
        payload = save_state(conn, tbl, rkey, state)
        if tbl == "memory_entries":
            close_superseded(conn, tbl, rkey, state, now)
        enqueue(conn, level, tbl, rkey, seq, hlc, payload, now)
        return level


def enqueue(
    conn: sqlite3.Connection,
    level: str,
    tbl: str,
    rkey: str,
    seq: int | None,
    hlc: int,
    payload: str,
    now: float,
) -> None:
    """Append one event to the durable outbox."""
    conn.execute(
        "INSERT INTO sync_outbox (level, tbl, rkey, seq, hlc, payload, queued_at) "
        "VALUES (?,?,?,?,?,?,?)",
        (level, tbl, rkey, seq, hlc, payload, now),
    )


def seed(conn: sqlite3.Connection, capture: Capture, *, republish: bool) -> int:
    """Give every replicated row that has no state one, and queue states to publish.

    On a host's first join only the new states are queued; after the swarm's
    Redis lost its data (``republish``) every state is queued again, tombstones
    included, so the other hosts get back whatever the stream lost.
    Returns how many events were queued.
    """
    now = capture.clock()
    queued = 0
    new_keys: set[tuple[str, str]] = set()
    for tbl in TABLES:
        if tbl == "memory_entries":
            rkey_sql = ckey_sql("m")
            rows = conn.execute(
                f"SELECT {rkey_sql}, value, ttl "
                "FROM memory_entries m WHERE scope = 'swarm' AND sensitive = 0 AND NOT EXISTS "
                "(SELECT 1 FROM sync_state s WHERE s.tbl = 'memory_entries' "
                f"AND s.rkey = {rkey_sql}) ORDER BY id"
            ).fetchall()
            for rkey, raw, expires in rows:
                hlc = capture.next_hlc(conn)
                save_state(
                    conn, tbl, rkey, registers.memory_write(None, raw, expires, hlc, capture.node)
                )
                new_keys.add((tbl, rkey))
        else:
            ids = conn.execute(
                f"SELECT id FROM {tbl} t WHERE NOT EXISTS (SELECT 1 FROM sync_state s "
                f"WHERE s.tbl = '{tbl}' AND s.rkey = t.id) ORDER BY created_at, id"
            ).fetchall()
            for (row_id,) in ids:
                row = read_row(conn, tbl, str(row_id))
                hlc = capture.next_hlc(conn)
                save_state(
                    conn, tbl, str(row_id), registers.row_write(None, row, hlc, capture.node)
                )
                new_keys.add((tbl, str(row_id)))
    order_sql = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(TABLES))
    for tbl, rkey, hlc, text in conn.execute(
        f"SELECT tbl, rkey, hlc, state FROM sync_state ORDER BY CASE tbl {order_sql} END, hlc"
    ).fetchall():
        if republish or (tbl, rkey) in new_keys:
            enqueue(conn, "batched", tbl, rkey, None, hlc, text, now)
            queued += 1
    meta_set(conn, CURSOR_KEY, Store.last_seq(conn))
    return queued
