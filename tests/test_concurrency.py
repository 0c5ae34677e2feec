"""Many processes writing one database at once lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from tests.conftest import ROOT

WRITERS = 8
WRITES = 500


def test_eight_processes_times_500_writes_keep_all_4000_rows(coordinator, redis_server):
    session = coordinator.sessions.create(name="concurrency")
    data_dir = str(coordinator.config.data_dir)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.workers",
                "write_many",
                data_dir,
                redis_server.url,
                session.id,
                f"w{n}",
                str(WRITES),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    acknowledged = 0
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        acknowledged += int(out.strip())
    assert acknowledged == WRITERS * WRITES

    conn = sqlite3.connect(coordinator.store.path)
    rows = conn.execute(
        "SELECT count(*), count(DISTINCT key) FROM memory_entries WHERE session_id = ?",
        (session.id,),
    ).fetchone()
    assert rows == (WRITERS * WRITES, WRITERS * WRITES)
    logged = conn.execute(
        "SELECT count(*) FROM change_log WHERE tbl = 'memory_entries' AND op = 'insert'"
    ).fetchone()[0]
    assert logged == WRITERS * WRITES
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every row is readable through the coordinator, values intact.
    for n in range(WRITERS):
        entry = coordinator.memory.get(f"w{n}-{WRITES - 1}", session_id=session.id)
        assert entry is not None and entry.value == {"writer": f"w{n}", "i": WRITES - 1}
    assert coordinator.memory.count(session_id=session.id) == WRITERS * WRITES
