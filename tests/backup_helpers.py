"""Child processes and helpers for the backup tests (run as ``python -m tests.backup_helpers``).

The slow-downs live here, patched into the product's modules in the child
process only: the product has no test hooks.
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


def slow_full(data_dir: str, marker: str) -> None:
    """A full backup that stops for a minute once its temporary copy is written."""
    original = backups.copy_database

    def copy_then_wait(src: Path, dest: Path, busy_timeout_ms: int) -> None:
        original(src, dest, busy_timeout_ms)
        Path(marker).write_text(str(dest))
        time.sleep(60)

    backups.copy_database = copy_then_wait  # type: ignore[assignment]
    BackupService(_config(data_dir)).run("full")


def slow_restore(data_dir: str, marker: str) -> None:
    """A restore that stops for a minute in the middle of replaying its first changes file."""
    original = restore.replay_file

    def replay_then_wait(conn: sqlite3.Connection, path: Path, record: Any) -> int:
        count = original(conn, path, record)
        Path(marker).write_text(str(path))
        time.sleep(60)
        return count

    restore.replay_file = replay_then_wait  # type: ignore[assignment]
    BackupService(_config(data_dir)).restore()


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
            time.sleep(0.005)
        print("TIMEOUT", flush=True)


if __name__ == "__main__":
    {
        "slow_full": slow_full,
        "slow_restore": slow_restore,
        "write_until_replaced": write_until_replaced,
    }[sys.argv[1]](*sys.argv[2:])
