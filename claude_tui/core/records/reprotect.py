"""Bring stored rows in line with the secret rules in force (after an upgrade or a rule change).

Rows written before a rule existed — a nested ``password`` field before
version 8, a custom ``value_pattern`` added to config.toml last week — may
hold in clear what the rules now call a secret. The first open under new
rules walks every record kind once and protects what needs it, through the
same doors as a write; a fingerprint of the rules in ``meta`` makes every
later open free.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from functools import partial
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import SecretUnavailable
from claude_tui.core.models import cache_key
from claude_tui.core.records import agents, checkpoints, patterns, rows, sessions, tasks
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import metrics as metric_door
from claude_tui.core.records.guard import Kind, Protected
from claude_tui.core.secrets import SecretRules

if TYPE_CHECKING:
    from claude_tui.core.services.runtime import Runtime

log = logging.getLogger(__name__)

# Bumped whenever the built-in rules learn something new (forces one walk).
BUILT_IN_RULES = "2"
_META_KEY = "protect_rules"
_KINDS: tuple[Kind, ...] = (
    sessions.KIND, agents.KIND, tasks.KIND, patterns.KIND, metric_door.KIND, checkpoints.KIND,
)  # fmt: skip


def fingerprint(rules: SecretRules) -> str:
    """A short digest of the rules in force."""
    parts = [
        BUILT_IN_RULES,
        ",".join(sorted(rules.namespaces)),
        rules.key_pattern.pattern if rules.key_pattern else "",
        rules.value_pattern.pattern if rules.value_pattern else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def needed(rt: Runtime) -> bool:
    """Whether rows were written under other rules than the ones in force (a meta read)."""
    return rt.store.meta(_META_KEY) != fingerprint(rt.secret_rules)


def reprotect(rt: Runtime, *, batch: int = 500) -> int:
    """Protect every row the rules now call sensitive; return how many changed.

    Live rows, checkpoint snapshots, the sync queue and state, L2 and the
    full-text index are all brought in line (deleted content is overwritten:
    ``secure_delete`` while this runs, and the FTS index is merged afterwards).
    Leaves the fingerprint unset (and says so in the log) when a secret cannot
    be sealed because the key is missing: the next open tries again.
    """
    changed = 0
    with rt.store.lock:
        rt.store.conn.execute("PRAGMA secure_delete = ON")
    try:
        touched: list[tuple[str, str]] = []  # (table, sync row key) of every row changed
        changed += _memory(rt, batch, touched)
        for kind in _KINDS:
            changed += _kind(rt, kind, batch, touched)
        changed += _checkpoints(rt)
        if touched:
            rt.write(partial(_forget_sync, touched=touched))
            # Merge the indexes: deleted tokens linger in old segments until then.
            rt.write(_optimize_fts)
    except SecretUnavailable as exc:
        log.warning("rows holding secrets in clear were not sealed: %s", exc.message)
        return changed
    finally:
        with rt.store.lock:
            rt.store.conn.execute("PRAGMA secure_delete = OFF")
    mark = fingerprint(rt.secret_rules)
    rt.write(
        lambda conn: conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_META_KEY, mark)
        )
    )
    if changed:
        rt.l1.clear()
        log.info("sealed %d stored row(s) that the secret rules now cover", changed)
    return changed


def _optimize_fts(conn: sqlite3.Connection) -> None:
    """Merge every full-text index into one segment (dropping deleted tokens)."""
    conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO pattern_fts (pattern_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO task_fts (task_fts) VALUES ('optimize')")


def _memory(rt: Runtime, batch: int, touched: list[tuple[str, str]]) -> int:
    done, last = 0, 0
    while True:
        found = rt.store.rows(
            "SELECT id, key, namespace, value, scope FROM memory_entries "
            "WHERE sensitive = 0 AND id > ? ORDER BY id LIMIT ?",
            (last, batch),
        )
        if not found:
            return done
        last = found[-1][0]
        updates: list[tuple[memory_door.Sealed, int]] = []
        ckeys: list[str] = []
        for entry_id, key, namespace, value, scope in found:
            if rt.guard.entry_sensitive(key, namespace, value):
                stored, encrypted = rt.guard.seal(value)
                updates.append((memory_door.Sealed(value, stored, True, encrypted), entry_id))
                ckeys.append(cache_key(scope, namespace, key))
        if updates:
            touched.extend(("memory_entries", ck) for ck in ckeys)
            if rt.l2 is not None:
                rt.l2.delete_keys(ckeys)  # the clear copy goes now, not when its TTL ends
            batch_done: int = rt.write(partial(memory_door.mark_sensitive, updates=updates))
            done += batch_done
            rt.l2_missed()  # L2 may hold the clear form: move every process to a new epoch


def _kind(rt: Runtime, kind: Kind, batch: int, touched: list[tuple[str, str]]) -> int:
    columns = ", ".join(kind.guarded)
    done = 0
    last: Any = -1 if kind.table == "metrics" else ""
    while True:
        found = rt.store.rows(
            f"SELECT id, {columns} FROM {kind.table} WHERE sealed IS NULL AND id > ? "
            "ORDER BY id LIMIT ?",
            (last, batch),
        )
        if not found:
            return done
        last = found[-1][0]
        updates: list[tuple[Any, Protected]] = []
        for row in found:
            values = dict(zip(kind.guarded, row[1:], strict=True))
            if any(isinstance(v, str) and rt.guard.text_sensitive(v) for v in values.values()):
                updates.append((row[0], rt.guard.protect(kind, values)))
        if updates:
            kind_done: int = rt.write(partial(_apply, updates=updates))
            done += kind_done
            touched.extend((kind.table, str(row_id)) for row_id, _ in updates)


def _apply(conn: sqlite3.Connection, updates: list[tuple[Any, Protected]]) -> int:
    return sum(rows.update(conn, protected, row_id) for row_id, protected in updates)


def _forget_sync(conn: sqlite3.Connection, touched: list[tuple[str, str]]) -> None:
    """Drop queued events and replicated states that still carry the clear text.

    A memory entry that became a secret never travels again (capture skips
    secrets); any other row's next capture queues its redacted form.
    """
    for table, rkey in touched:
        conn.execute("DELETE FROM sync_outbox WHERE tbl = ? AND rkey = ?", (table, rkey))
        conn.execute("DELETE FROM sync_state WHERE tbl = ? AND rkey = ?", (table, rkey))


def _checkpoints(rt: Runtime) -> int:
    """Re-protect the rows inside every checkpoint snapshot; return how many changed."""
    from claude_tui.core.durability.checkpoints import decode_snapshot, encode_snapshot

    done = 0
    kinds = {k.table: k for k in _KINDS}
    for (checkpoint_id,) in rt.store.rows("SELECT id FROM checkpoints ORDER BY rowid"):
        blob = rt.store.scalar("SELECT data FROM checkpoints WHERE id = ?", (checkpoint_id,))
        if blob is None:
            continue
        snapshot = decode_snapshot(bytes(blob))
        touched = False
        for table, part in snapshot["tables"].items():
            if table in kinds and "sealed" not in part["columns"]:
                # Taken before migration 8: give it the column its originals go in.
                part["columns"].append("sealed")
                for row in part["rows"]:
                    row.append(None)
            columns: list[str] = part["columns"]
            for row in part["rows"]:
                values = dict(zip(columns, row, strict=True))
                if table == "memory_entries":
                    if not values["sensitive"] and rt.guard.entry_sensitive(
                        values["key"], values["namespace"], values["value"]
                    ):
                        stored, encrypted = rt.guard.seal(values["value"])
                        values.update(value=stored, sensitive=1, encrypted=int(encrypted))
                    else:
                        continue
                elif table in kinds and not values.get("sealed"):
                    guarded = {c: values[c] for c in kinds[table].guarded if c in values}
                    if not any(
                        isinstance(v, str) and rt.guard.text_sensitive(v) for v in guarded.values()
                    ):
                        continue
                    values.update(rt.guard.protect(kinds[table], guarded).values)
                else:
                    continue
                row[:] = [values[c] for c in columns]
                touched = True
        saved = snapshot["session"]
        if not saved.get("sealed"):
            guarded = {c: saved[c] for c in sessions.KIND.guarded if c in saved}
            if any(isinstance(v, str) and rt.guard.text_sensitive(v) for v in guarded.values()):
                saved.update(rt.guard.protect(sessions.KIND, guarded).values)
                touched = True
        if touched:
            new = encode_snapshot(snapshot)
            rt.write(
                partial(checkpoints.replace_data, checkpoint_id=checkpoint_id, old=blob, new=new)
            )
            done += 1
    return done
