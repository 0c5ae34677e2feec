"""Crashes and secrets at rest: kill -9 writers mid-burst; no secret in clear in any backup."""

from __future__ import annotations

import gzip
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.backups import BackupService
from tests.conftest import ROOT

WRITERS = 4
BEFORE_KILL = 150  # acknowledged writes each writer makes before the kill


def test_kill_9_mid_burst_keeps_every_acknowledged_write(
    config: Config, coordinator: MemoryCoordinator, redis_server: Any
) -> None:
    session = coordinator.sessions.create(name="burst")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.workers",
                "write_acked",
                str(config.data_dir),
                redis_server.url,
                session.id,
                f"w{n}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    acked: list[list[int]] = [[] for _ in procs]

    def follow(n: int) -> None:
        assert procs[n].stdout is not None
        for line in procs[n].stdout:
            acked[n].append(int(line))

    readers = [threading.Thread(target=follow, args=(n,), daemon=True) for n in range(WRITERS)]
    for t in readers:
        t.start()
    try:
        for n, proc in enumerate(procs):
            while len(acked[n]) < BEFORE_KILL:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                readers[n].join(timeout=0.05)
        for proc in procs:  # every writer is mid-burst: kill -9, no clean-up of any kind
            proc.send_signal(signal.SIGKILL)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
    for t in readers:
        t.join(timeout=10)
    assert all(p.returncode == -signal.SIGKILL for p in procs)
    coordinator.close()

    conn = sqlite3.connect(config.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    stored = {k for (k,) in conn.execute("SELECT key FROM memory_entries")}
    conn.close()
    for n in range(WRITERS):
        assert len(acked[n]) >= BEFORE_KILL
        missing = [i for i in acked[n] if f"w{n}-{i}" not in stored]
        assert missing == [], f"writer {n} lost acknowledged writes {missing[:5]}"
    with MemoryCoordinator.open(config) as reopened:  # and the product reads them back
        last = acked[0][-1]
        entry = reopened.memory.get(f"w0-{last}", session_id=session.id)
        assert entry is not None and entry.value == {"writer": "w0", "i": last}


def test_another_process_closing_its_connection_never_deletes_our_wal(
    config: Config, coordinator: MemoryCoordinator
) -> None:
    """Opening the data dir must keep SQLite's locks (a Python open/close of the file drops them).

    Without its shared lock, a process looks gone to SQLite: the next process that
    closes a connection checkpoints and deletes the WAL under it.
    """
    session = coordinator.sessions.create()
    coordinator.close()
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "hold_open", str(config.data_dir), "-",
         session.id],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "ready", holder.stderr
        wal = config.data_dir / "claude-tui.db-wal"
        assert wal.exists()
        for _ in range(3):  # other processes come and go
            other = sqlite3.connect(config.db_path)
            other.execute("SELECT count(*) FROM memory_entries").fetchone()
            other.close()
            with MemoryCoordinator.open(config, use_redis=False) as c:
                c.memory.store("from another process", 3, session_id=session.id)
        assert wal.exists(), "the WAL of a process still writing was deleted"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "done", holder.stderr.read()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    conn = sqlite3.connect(config.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    keys = {k for (k,) in conn.execute("SELECT key FROM memory_entries")}
    conn.close()
    assert keys == {"before", "after", "from another process"}


SECRET = "ghp_" + "S3cr3tT0k3n" * 4


def _plain_bytes(path: Path) -> bytes:
    """A backup file's bytes, decompressed when it is gzip (diff/incremental)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def test_no_backup_holds_a_secret_in_clear(data_dir: Path, tmp_path: Path) -> None:
    secondary = tmp_path / "mirror"
    config = Config.load(data_dir, env={}, redis_enabled=False, backup_secondary_dir=str(secondary))
    with MemoryCoordinator.open(config, use_redis=False) as c:
        s = c.sessions.create()
        c.memory.store("github", SECRET, session_id=s.id)
        c.memory.store("visible", "plain words", session_id=s.id)
        backups = BackupService(config, c)
        assert backups.run("full").status == "ok"
        c.memory.store("github_2", SECRET + "2", session_id=s.id)
        c.memory.store("visible_2", "more plain words", session_id=s.id)
        c.checkpoints.create(s.id)
        assert backups.run("incremental").status == "ok"
        c.memory.store("deploy_token", SECRET + "3", session_id=s.id)
        assert backups.run("differential").status == "ok"
    files = [p for root in (config.backups_path, secondary) for p in root.rglob("*") if p.is_file()]
    contents = b"".join(_plain_bytes(p) for p in files)
    assert len([p for p in files if p.suffix != ".json"]) >= 6  # 3 backups, 2 places
    assert b"plain words" in contents and b"more plain words" in contents  # the check can see
    assert SECRET.encode() not in contents
