"""Checkpoint benchmark: restore a session of 10,000 memory entries and 1,000 tasks.

The session also has 10 agents and 100 patterns. Each case is run ``--repeat``
times (default 5) on a fresh copy of the same database; the median is reported.

- checkpoint: ``checkpoints.create`` (read all five parts, compress, store).
- restore cases, through ``checkpoints.restore(..., safety=False)``:
  unchanged (nothing to do), 10% changed (1,000 memory values rewritten, 100
  tasks completed, 500 entries added), all changed (every memory value and task
  rewritten), deleted session (every row comes back).
- raw baseline, in the same run, on the same file: the least a restore has to do
  with the raw library, i.e. one ``sqlite3`` transaction that deletes the
  session's rows and inserts the checkpointed rows again with ``executemany``
  (same schema, so the same triggers and FTS index fire).

Target (issue 5): restore of this session in < 1 s. Writes
``bench/results/checkpoints.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import render_table
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator

RESULTS = Path(__file__).resolve().parent / "results" / "checkpoints.json"
PARTS = {
    "agents": "session_id = ?",
    "tasks": "session_id = ?",
    "memory_entries": "session_id = ? AND scope != 'swarm'",
    "neural_patterns": "session_id = ?",
}


def build(root: Path) -> tuple[Path, str, str]:
    """A data dir with the session, and the id of a checkpoint of it."""
    config = Config.load(root, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        s = c.sessions.create(name="bench")
        agents = [c.agents.register(s.id, "coder", f"a{i}").id for i in range(10)]
        now = time.time()

        def body(conn: sqlite3.Connection) -> None:
            scope = f"{s.id}/"
            conn.executemany(
                "INSERT INTO memory_entries (session_id, memory_type, key, value, created_at, "
                "namespace, scope, updated_at, version) VALUES (?, 'persistent', ?, ?, ?, "
                "'notes', ?, ?, ?)",
                [(s.id, f"key-{i}", json.dumps({"note": f"observation {i} " * 8}), now, scope,
                  now, int(now * 1e6)) for i in range(10_000)],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO tasks (id, session_id, agent_id, parent_task_id, title, status, "
                "priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                [(f"t{i:05d}", s.id, agents[i % 10], None if i < 10 else f"t{i // 10:05d}",
                  f"task {i}", i % 5, now, now) for i in range(1_000)],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO neural_patterns (id, session_id, pattern_type, input_pattern, "
                "created_at) VALUES (?, ?, 'tool_sequence', ?, ?)",
                [(f"p{i:04d}", s.id, f"read grep edit {i}", now) for i in range(100)],
            )

        c.rt.write(body)
        checkpoint = c.checkpoints.create(s.id, label="bench")
    return config.db_path, s.id, checkpoint.id


def change_some(c: MemoryCoordinator, sid: str) -> None:
    def body(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE memory_entries SET value = '\"changed\"' WHERE session_id = ? AND id % 10 = 0",
            (sid,),
        )
        conn.execute("UPDATE tasks SET status = 'completed' WHERE session_id = ? AND "
                     "CAST(substr(id, 2) AS INTEGER) % 10 = 0", (sid,))  # fmt: skip
        conn.executemany(
            "INSERT INTO memory_entries (session_id, memory_type, key, value, created_at, scope) "
            "VALUES (?, 'persistent', ?, '1', 0, ?)",
            [(sid, f"extra-{i}", f"{sid}/") for i in range(500)],
        )

    c.rt.write(body)


def change_all(c: MemoryCoordinator, sid: str) -> None:
    def body(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE memory_entries SET value = '\"changed\"' WHERE session_id = ?", (sid,))
        conn.execute("UPDATE tasks SET status = 'completed' WHERE session_id = ?", (sid,))

    c.rt.write(body)


def raw_restore(db: Path, sid: str, snapshot: dict[str, list[tuple[Any, ...]]]) -> None:
    """The raw-library floor: delete the session's rows, insert the saved ones, one commit."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("PRAGMA defer_foreign_keys = ON")
    session = snapshot["sessions"][0]
    conn.execute(
        f"INSERT OR IGNORE INTO sessions VALUES ({', '.join('?' for _ in session)})", session
    )
    for table, where in PARTS.items():
        conn.execute(f"DELETE FROM {table} WHERE {where}", (sid,))
    for table, rows in snapshot.items():
        if rows and table != "sessions":
            marks = ", ".join("?" for _ in rows[0])
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    conn.execute("COMMIT")
    conn.close()


def read_snapshot(db: Path, sid: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    out = {t: conn.execute(f"SELECT * FROM {t} WHERE {w}", (sid,)).fetchall()
           for t, w in PARTS.items()}  # fmt: skip
    out["sessions"] = conn.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchall()
    conn.close()
    return out


def measure(
    base: Path, work: Path, sid: str, cp: str, prepare: Callable[[MemoryCoordinator], None]
) -> float:
    """Seconds of one restore on a fresh copy of the base data dir."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work)
    config = Config.load(work, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        prepare(c)
        started = time.perf_counter()
        c.checkpoints.restore(sid, cp, safety=False)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-checkpoints-"))
    try:
        base_db, sid, cp = build(tmp / "base")
        base = base_db.parent
        saved = read_snapshot(base_db, sid)
        work = tmp / "work"

        def deleted(c: MemoryCoordinator) -> None:
            c.sessions.before_delete.clear()  # no second checkpoint inside the measurement
            c.sessions.delete(sid)

        cases: dict[str, Callable[[MemoryCoordinator], None]] = {
            "restore, unchanged": lambda c: None,
            "restore, 10% changed": lambda c: change_some(c, sid),
            "restore, all changed": lambda c: change_all(c, sid),
            "restore, deleted session": deleted,
        }
        results: list[dict[str, Any]] = []
        create_times = []
        for _ in range(args.repeat):
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(base, work)
            with MemoryCoordinator.open(
                Config.load(work, env={}, redis_enabled=False), use_redis=False
            ) as c:
                started = time.perf_counter()
                c.checkpoints.create(sid)
                create_times.append(time.perf_counter() - started)
        created = statistics.median(create_times)
        results.append({"measure": "checkpoint (create)", "seconds": created, "raw": None})
        for name, prepare in cases.items():
            ours, raw = [], []
            for _ in range(args.repeat):
                ours.append(measure(base, work, sid, cp, prepare))
                shutil.rmtree(work)
                shutil.copytree(base, work)
                with MemoryCoordinator.open(
                    Config.load(work, env={}, redis_enabled=False), use_redis=False
                ) as c:
                    prepare(c)
                started = time.perf_counter()
                raw_restore(work / "claude-tui.db", sid, saved)
                raw.append(time.perf_counter() - started)
            results.append({"measure": name, "seconds": statistics.median(ours),
                            "raw": statistics.median(raw)})  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for r in results:
        restore = r["measure"].startswith("restore")
        ok = r["seconds"] < 1.0
        rows.append({
            "measure": r["measure"],
            "ours": f"{r['seconds']:.3f}",
            "raw": "-" if r["raw"] is None else f"{r['raw']:.3f}",
            "ratio": "-" if not r["raw"] else f"{r['seconds'] / r['raw']:.2f}x",
            "target": "< 1 s" if restore else "-",
            "result": ("PASS" if ok else "FAIL") if restore else "info",
        })  # fmt: skip
    headers = {"measure": "measure (10,000 memory, 1,000 tasks, 10 agents, 100 patterns)",
               "ours": "claude-tui s", "raw": "raw sqlite3 s", "ratio": "ratio",
               "target": "target", "result": "result"}  # fmt: skip
    print(f"Checkpoint restore (median of {args.repeat})")
    print(render_table(headers, rows, [0] * len(rows)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"repeat": args.repeat, "results": results}, indent=2))
    return 0 if all(r["result"] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
