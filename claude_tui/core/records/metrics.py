"""The door of the ``metrics`` table, and of the cache counters every process adds to."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claude_tui.core.durability.files import open_private
from claude_tui.core.records import rows
from claude_tui.core.records.guard import Guard, Kind, Protected
from claude_tui.core.secrets import SecretRules, redact_value, text_is_sensitive

KIND = Kind("metrics", json=("metadata",))
COLUMNS = ("id", "session_id", "agent_id", "metric_type", "value", "timestamp", "metadata")


def protect(guard: Guard, values: Mapping[str, Any]) -> Protected:
    """A metric sample made safe to store."""
    return guard.protect(KIND, values)


def insert(conn: sqlite3.Connection, row: Protected) -> int:
    """Record one sample; return its id."""
    if row.kind is not KIND:
        raise ValueError(f"a {row.kind.table} row at the metrics door")
    return int(rows.insert(conn, row).lastrowid or 0)


def insert_redacted(conn: sqlite3.Connection, rules: SecretRules, values: dict[str, Any]) -> int:
    """Record a sample where no key is at hand (a backup run without a coordinator).

    Credential-shaped text in the metadata is dropped, not sealed: nothing can
    seal it here, and a metric never needs it.
    """
    meta = values.get("metadata")
    if isinstance(meta, str) and text_is_sensitive(meta, rules):
        values = {
            **values,
            "metadata": json.dumps(redact_value(json.loads(meta), rules, "[redacted]")),
        }
    return insert(conn, Protected(KIND, values))


def set_value(conn: sqlite3.Connection, metric_id: int, value: float, timestamp: float) -> None:
    """Change one sample's value and time (the importer's running totals)."""
    conn.execute(
        "UPDATE metrics SET value = ?, timestamp = ? WHERE id = ?", (value, timestamp, metric_id)
    )


def delete(conn: sqlite3.Connection, metric_ids: list[int]) -> int:
    """Delete samples by id."""
    return rows.delete(conn, KIND.table, metric_ids)


# -- the cache counters of every process of a data dir ------------------------------
#
# Hit counts are per process (core/stats.py) and every read counts one: a row
# per read, or a change-log entry per flush, would cost more than the read.
# Each process adds what it counted since its last flush to one small file of
# the data dir instead (not synced, not backed up: it says how this machine's
# caches do), under an flock so two processes never lose each other's counts.

COUNTERS_FILE = "cache-counters.json"
COUNTERS_KEEP_DAYS = 31


def add_counters(
    path: Path,
    day: str,
    counts: Mapping[str, Mapping[str, int]],
    *,
    keep_days: int = COUNTERS_KEEP_DAYS,
) -> None:
    """Add ``{tier: {"hits": n, "misses": n}}`` to ``day``'s counts in the file at ``path``.

    Days beyond the newest ``keep_days`` are dropped. The file is replaced
    whole (temp file, rename): a reader sees the old counts or the new ones.
    """
    lock = path.with_name(path.name + ".lock")
    fd = open_private(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        doc = read_counters(path)
        slot = doc.setdefault(day, {})
        for tier, pair in counts.items():
            have = slot.setdefault(tier, {"hits": 0, "misses": 0})
            for name in ("hits", "misses"):
                have[name] = have.get(name, 0) + int(pair.get(name, 0))
        kept = dict(sorted(doc.items())[-keep_days:])
        tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
        out = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(out, json.dumps({"v": 1, "days": kept}, sort_keys=True).encode())
        finally:
            os.close(out)
        os.replace(tmp, path)  # no fsync: the counts are advisory, a crash loses a few
    finally:
        os.close(fd)  # drops the flock


def read_counters(path: Path) -> dict[str, dict[str, dict[str, int]]]:
    """``{day: {tier: {"hits": n, "misses": n}}}`` from the file (empty when absent or bad)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    days = doc.get("days") if isinstance(doc, dict) else None
    out: dict[str, dict[str, dict[str, int]]] = {}
    if not isinstance(days, dict):
        return out
    for day, tiers in days.items():
        if not isinstance(tiers, dict):
            continue
        out[str(day)] = {
            str(tier): {
                name: int(v)
                for name in ("hits", "misses")
                if isinstance(v := pair.get(name, 0), int) and not isinstance(v, bool) and v >= 0
            }
            for tier, pair in tiers.items()
            if isinstance(pair, dict)
        }
    return out
