"""Child processes and helpers for the backup tests (run as ``python -m tests.backup_helpers``).

The slow-downs live here, patched into the product's modules in the child
process only: the product has no test hooks. A child tells the test where it
is by a line on its stdout, and a child that must stay in the middle of its work
blocks on its stdin (until the test kills it, or ends and closes the pipe).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from claude_tui.core.config import Config
from claude_tui.core.durability import backups, restore
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.errors import StoreReplaced

TABLES = (
    "sessions", "agents", "tasks", "memory_entries", "neural_patterns", "metrics", "checkpoints",
)  # fmt: skip
# Bumped by every read of a value; not part of what a backup must reproduce.
VOLATILE = {"memory_entries": {"accessed_at", "access_count"}}


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every logged table, sorted (read on a separate connection)."""
    conn = sqlite3.connect(str(db_path))
    try:
        found: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            cols = [
                r[1]
                for r in conn.execute(f"PRAGMA table_info({table})")
                if r[1] not in VOLATILE.get(table, set())
            ]
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            found[table] = sorted(rows, key=repr)
        return found
    finally:
        conn.close()


def _config(data_dir: str) -> Config:
    return Config.load(data_dir, env={}, redis_enabled=False)


def slow_full(data_dir: str) -> None:
    """A full backup that prints its temporary copy's path once written, then holds."""
    original = backups.copy_database

    def copy_then_wait(src: Path, dest: Path, busy_timeout_ms: int) -> None:
        original(src, dest, busy_timeout_ms)
        print(dest, flush=True)
        sys.stdin.readline()

    backups.copy_database = copy_then_wait  # type: ignore[assignment]
    BackupService(_config(data_dir)).run("full")


def slow_restore(data_dir: str) -> None:
    """A restore that prints the changes file it replays first, then holds in the middle."""
    original = restore.replay_file

    def replay_then_wait(conn: sqlite3.Connection, path: Path, record: Any) -> int:
        count = original(conn, path, record)
        print(path, flush=True)
        sys.stdin.readline()
        return count

    restore.replay_file = replay_then_wait  # type: ignore[assignment]
    BackupService(_config(data_dir)).restore()


def write_many_telling(data_dir: str, session_id: str, prefix: str, count: str) -> None:
    """Store ``count`` distinct keys; print ``started`` after the tenth, the total at the end."""
    from claude_tui.core.coordinator import MemoryCoordinator

    with MemoryCoordinator.open(_config(data_dir)) as c:
        for i in range(int(count)):
            c.memory.store(f"{prefix}-{i}", {"writer": prefix, "i": i}, session_id=session_id)
            if i == 9:
                print("started", flush=True)
    print(count, flush=True)


def write_until_replaced(data_dir: str) -> None:
    """Store keys one by one, printing each acknowledged one, until StoreReplaced."""
    from claude_tui.core.coordinator import MemoryCoordinator

    with MemoryCoordinator.open(_config(data_dir)) as c:
        session = c.sessions.create(name="writer")
        print(f"session {session.id}", flush=True)
        i = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c.memory.store(f"w-{i}", i, session_id=session.id)
            except StoreReplaced as exc:
                print(f"REPLACED {exc}", flush=True)
                return
            print(f"ack w-{i}", flush=True)
            i += 1
        print("TIMEOUT", flush=True)


if __name__ == "__main__":
    {
        "slow_full": slow_full,
        "slow_restore": slow_restore,
        "write_many_telling": write_many_telling,
        "write_until_replaced": write_until_replaced,
    }[sys.argv[1]](*sys.argv[2:])
