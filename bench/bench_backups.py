"""Backup benchmark: full and incremental backups and recovery of a ~1 GB database.

One run, on one data dir built for it (``--size-gb``, default 1.0); every timed case
is run ``--repeat`` times (default 3) and the median is reported. ``os.sync()`` runs
before each timed case so no earlier case's write-back is billed to it.

1. Build: a ``MemoryCoordinator`` creates the schema (5 sessions, 10 agents), then a
   plain ``sqlite3`` connection bulk-inserts with ``executemany`` in large transactions
   (the FTS and change-log triggers fire as for real writes): 50,000 memory entries per
   GB (~1 KB JSON values), checkpoint blobs (128 KB of incompressible bytes, like zlib
   output; ~8% of the size) and metrics rows with ~1 KB JSON metadata until the file
   reaches the size. Build time and file size are reported.
2. Full backup: ``BackupService(config).run("full")`` (online-backup copy, fsync,
   sha256, row counts, then the verification: sha256 again, ``integrity_check`` and
   row counts of the copy; manifest, metric, retention), each time into an empty
   backup dir. Where its time goes is measured by wrapping the module's functions
   (copy, fsync, sha256, row counts, verify) with timers, exclusive of nested calls.
   Raw baselines in the same run: ``sqlite3.Connection.backup()`` of the same file
   into a new file (one step; SQLite's own fsync at commit, no verification),
   ``PRAGMA integrity_check`` of the live file, sha256 of the file. Ratio = ours / raw backup().
3. Full backup while a writer keeps writing: a writer stores a ~1 KB value every 5 ms
   through ``memory.store`` of its own coordinator, in another process (a shell's
   ``claude-tui backup run`` while the app writes) and in a thread of the backing-up
   process sharing its coordinator (the app's scheduled backup). Writes starting in
   the 3 s before the backup are "before"; writes overlapping the backup are "during".
   Reported: backup time, the writer's writes/s and latency p99/max before and during
   (samples of all repeats pooled), and each write >= 200 ms with the backup phase it
   overlapped most (phases timed as in 2.); whether each copy passes ``integrity_check`` (ours
   verifies itself and raises BackupFailed otherwise; raw copies are checked off the
   clock); whether the writer process ended up holding a deleted ``-wal``/``-shm``
   (read from /proc/<pid>/fd: another process deleted them under it); ``quick_check``
   of the live file afterwards. Each case runs on its own copy of the database, so
   damage in one cannot leak into the next. Raw baselines: ``backup()`` under the same
   coordinator writer process, and a control where both sides are the raw library
   (``backup()`` while a plain sqlite3 process runs the same INSERT, WAL,
   synchronous=FULL). Targets: every copy intact, no deleted WAL, live file intact.
   Writer latency during the copy is reported, not judged: the fsynced commits queue
   behind the copy's writes to the same disk, and the raw control shows the same.
4. Incremental backup after 1,000 changed memory entries (one UPDATE of 1,000 random
   entries' values, then ``run("incremental")``; each repeat follows the previous
   backup). Raw baseline: ``SELECT`` of the same 1,000 rows by id (no change-log
   lookup) written as gzip JSON lines, fsynced.
5. Recovery: the live file is damaged, then restored from the latest state (the full
   plus every incremental of 4.). End to end: ``python -m claude_tui --data-dir DIR
   backup restore latest --yes`` as a subprocess (CLAUDE_TUI_REDIS=off) after 64 KB
   in the middle of the file were overwritten with random bytes; in process:
   ``BackupService(config).restore()`` after the file was truncated to half its size
   (its phases timed like the backup's). Raw baseline: ``shutil.copyfile`` of the
   full backup file to a new path + fsync. After each restore the file must pass
   ``PRAGMA quick_check``, hold the row counts of the last backup and the last 1,000
   changed values, or the bench stops with an error. Target: restore < 30 s.

Everything lives in a temp dir under /tmp, removed at the end. Prints a table, writes
``bench/results/backups.json`` and exits 1 if a target fails.
Run: ``python -m bench.bench_backups [--size-gb 1.0] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gzip
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import render_table
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability import backups as backing
from claude_tui.core.durability import integrity, swap
from claude_tui.core.durability import restore as restoring
from claude_tui.core.durability.backups import DATA_TABLES, BackupService
from claude_tui.core.durability.manifest import Manifest
from claude_tui.core.errors import BackupFailed
from claude_tui.core.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "backups.json"
GB = 1 << 30
MB = 1 << 20
MEMORY_PER_GB = 50_000
CHECKPOINT_SHARE = 0.08
CHECKPOINT_BLOB = 128 * 1024
METRICS_BATCH = 25_000
CHANGED = 1_000
WRITER_INTERVAL_S = 0.005
BEFORE_S = 3.0
RESTORE_TARGET_S = 30.0
SLOW_S = 0.2  # writes this slow are listed with the backup phase they overlapped
WORDS_TEXT = (
    "read grep edit test build refactor cache index schema backup restore session agent "
    "task memory pattern latency commit branch merge review deploy config parser token "
    "handler request response retry timeout queue worker lock snapshot migration query"
)
WORDS = WORDS_TEXT.split(" ")
METRIC_TYPES = (
    "tool.latency",
    "memory.store",
    "memory.get",
    "tokens.in",
    "tokens.out",
    "task.duration",
    "agent.turn",
    "cache.hit",
)


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def note(rng: random.Random, i: int, size: int = 1_000) -> str:
    """A ~``size``-byte JSON object like an agent's note."""
    text = " ".join(rng.choices(WORDS, k=size // 6))[: size - 160]
    return json.dumps(
        {
            "summary": text,
            "file": f"src/module_{i % 500}.py",
            "line": i % 997,
            "tags": [WORDS[i % len(WORDS)], WORDS[(i * 7) % len(WORDS)]],
            "tokens": 100 + i % 900,
        }
    )


# -- 1. build -----------------------------------------------------------------------------
def db_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])


def build(root: Path, size_gb: float, rng: random.Random) -> dict[str, Any]:
    """The data dir: schema through a coordinator, the bulk through executemany."""
    started = time.perf_counter()
    target = int(size_gb * GB)
    config = Config.load(root, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        sessions = [c.sessions.create(name=f"bench-{i}").id for i in range(5)]
        agents = [c.agents.register(s, "coder", f"a{i}").id for s in sessions for i in range(2)]
    conn = sqlite3.connect(config.db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # the build only: not part of any measurement
    now = time.time()
    n_memory = max(2_000, int(MEMORY_PER_GB * size_gb))
    spaces = ("notes", "decisions", "code", "errors")
    for lo in range(0, n_memory, 10_000):
        rows = []
        for i in range(lo, min(lo + 10_000, n_memory)):
            sid = sessions[i % len(sessions)]
            at = now - (n_memory - i)
            rows.append((sid, "persistent", f"key-{i}", note(rng, i), at, spaces[i % 4],
                         f"{sid}/", at, int(at * 1e6)))  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO memory_entries (session_id, memory_type, key, value, created_at, "
            "namespace, scope, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        log(
            f"  build: {min(lo + 10_000, n_memory):,} memory entries, {db_bytes(conn) / MB:,.0f} MB"
        )
    n_checkpoints = max(1, int(target * CHECKPOINT_SHARE / CHECKPOINT_BLOB))
    blobs = [(f"cp{i:06d}", sessions[i % len(sessions)], now - i, CHECKPOINT_BLOB,
              os.urandom(CHECKPOINT_BLOB)) for i in range(n_checkpoints)]  # fmt: skip
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO checkpoints (id, session_id, label, reason, created_at, seq, counts, size, "
        "data) VALUES (?, ?, NULL, 'auto', ?, 0, '{}', ?, ?)",
        blobs,
    )
    conn.execute("COMMIT")
    log(f"  build: {n_checkpoints:,} checkpoints, {db_bytes(conn) / MB:,.0f} MB")
    pool = [note(rng, i)[:-1] for i in range(1_024)]
    n_metrics = 0
    next_report = 0.0
    batch = max(1_000, min(METRICS_BATCH, target // 20_000))  # ~20 batches at most sizes
    while db_bytes(conn) < target:
        rows_m = []
        for i in range(n_metrics, n_metrics + batch):
            sid = sessions[i % len(sessions)]
            rows_m.append((sid, agents[i % len(agents)], METRIC_TYPES[i % len(METRIC_TYPES)],
                           float(i % 1_000), now - 1e6 + i * 0.5,
                           f'{pool[i % len(pool)]}, "n": {i}}}'))  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO metrics (session_id, agent_id, metric_type, value, timestamp, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows_m,
        )
        conn.execute("COMMIT")
        n_metrics += batch
        done = db_bytes(conn) / target
        if done >= next_report:
            log(
                f"  build: {n_metrics:,} metrics, {db_bytes(conn) / MB:,.0f} MB "
                f"({done:.0%}, {time.perf_counter() - started:.0f} s)"
            )
            next_report = done + 0.1
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    conn.close()
    seconds = time.perf_counter() - started
    size = config.db_path.stat().st_size
    log(f"  build: done in {seconds:.1f} s, {size / MB:,.0f} MB")
    return {
        "seconds": seconds,
        "bytes": size,
        "sessions": sessions,
        "memory_entries": n_memory,
        "checkpoints": n_checkpoints,
        "metrics": n_metrics,
    }


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in DATA_TABLES
        }
    finally:
        conn.close()


# -- timing helpers -----------------------------------------------------------------------
class Phases:
    """Wrap functions with timers; each keeps its time exclusive of the wrapped calls inside."""

    def __init__(self, targets: dict[str, tuple[Any, str]]) -> None:
        self.targets = targets
        self.totals = dict.fromkeys(targets, 0.0)
        self.calls = dict.fromkeys(targets, 0)
        self.spans: list[tuple[str, float, float]] = []  # (name, start, end), time.monotonic
        self._stack: list[float] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.perf_counter()
            at = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.spans.append((name, at, time.monotonic()))
                inner = self._stack.pop()
                self.totals[name] += elapsed - inner
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1] += elapsed

        return timed_call

    def __enter__(self) -> Phases:
        for name, (owner, attr) in self.targets.items():
            fn = getattr(owner, attr)
            self._saved.append((owner, attr, fn))
            setattr(owner, attr, self._wrap(name, fn))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attr, fn in reversed(self._saved):
            setattr(owner, attr, fn)
        self._saved.clear()


BACKUP_PHASES: dict[str, tuple[Any, str]] = {
    "copy (online backup API)": (backing, "copy_database"),
    "fsync of the copy": (backing, "fsync_file"),
    "sha256 of the copy": (backing, "sha256_file"),
    "row counts (identity)": (backing, "_file_identity"),
    "integrity_check (verify)": (backing, "verify_full"),
    "manifest writes": (Manifest, "save"),
    "metric row": (BackupService, "_metric"),
    "retention": (BackupService, "_prune_locked"),
}
RESTORE_PHASES: dict[str, tuple[Any, str]] = {
    "sha256 of the backup files": (backing, "sha256_file"),
    "copy of the full + fsync": (restoring, "_copy_synced"),
    "replay of the incrementals": (restoring, "replay_file"),
    "checks (integrity, foreign keys, FTS)": (restoring, "_check_result"),
    "swap in (lock, checkpoint, link, rename)": (restoring, "swap_in"),
    "vector index reset": (swap, "retire_vectors"),  # inside the swap since issue 15
}


def seconds_of(fn: Callable[[], Any]) -> tuple[float, Any]:
    os.sync()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raw_backup(src: Path, dest: Path) -> None:
    """The raw library: one-step online backup into a new file, nothing else."""
    source = sqlite3.connect(src, isolation_level=None)
    target = sqlite3.connect(dest, isolation_level=None)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def raw_integrity(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        found = conn.execute("PRAGMA integrity_check").fetchall()
        if found != [("ok",)]:
            raise RuntimeError(f"the live database fails integrity_check: {found[:3]}")
    finally:
        conn.close()


def fresh_full(config: Config, coordinator: MemoryCoordinator | None = None) -> Any:
    """``run("full")`` into an empty backup dir (each full is 1 GB: keep one at a time)."""
    shutil.rmtree(config.backups_path, ignore_errors=True)
    record = BackupService(config, coordinator).run("full")
    if record.kind != "full" or record.status != "ok":
        raise RuntimeError(f"expected a verified full backup, got {record}")
    return record


# -- 3. a writer during the backup -----------------------------------------------------------
def unlinked_files(db_name: str) -> list[str]:
    """The database's files this process still has open although they were deleted."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if db_name in target and target.endswith("(deleted)"):
                found.append(target)
    return sorted(found)


def writer_loop(
    data_dir: str, sid: str, stop: Any, ready: Any, out: Any, tag: str, plain: bool
) -> None:
    """Store a ~1 KB value every few ms; report (start, seconds) of each write.

    Through its own coordinator, or with ``plain`` through a plain sqlite3 connection
    (WAL, synchronous=FULL, the same INSERT and triggers) as the raw-library control.
    """
    samples: list[tuple[float, float]] = []
    error = None
    unlinked: list[str] = []
    rng = random.Random(tag)
    values = [json.loads(note(rng, i)) for i in range(64)]
    config = Config.load(data_dir, env={}, redis_enabled=False)
    try:
        with contextlib.ExitStack() as stack:
            if plain:
                conn = sqlite3.connect(config.db_path, isolation_level=None, timeout=30)
                stack.callback(conn.close)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")

                def store(i: int, value: Any) -> None:
                    now = time.time()
                    params = (sid, f"load-{tag}-{i}", json.dumps(value), now, f"{sid}/", now,
                              int(now * 1e6))  # fmt: skip
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(
                        "INSERT INTO memory_entries (session_id, memory_type, key, value, "
                        "created_at, namespace, scope, updated_at, version) VALUES "
                        "(?, 'persistent', ?, ?, ?, 'load', ?, ?, ?)",
                        params,
                    )
                    conn.execute("COMMIT")
            else:
                c = stack.enter_context(MemoryCoordinator.open(config, use_redis=False))

                def store(i: int, value: Any) -> None:
                    c.memory.store(f"load-{tag}-{i}", value, session_id=sid, namespace="load")

            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                store(i, values[i % 64])
                samples.append((t0, time.monotonic() - t0))
                if i == 0:
                    ready.set()
                i += 1
                time.sleep(WRITER_INTERVAL_S)
            unlinked = unlinked_files(config.db_path.name)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    ready.set()
    out.put({"samples": samples, "error": error, "unlinked": unlinked})


def thread_writer(
    c: MemoryCoordinator,
    sid: str,
    stop: threading.Event,
    ready: threading.Event,
    samples: list[tuple[float, float]],
    errors: list[str],
    tag: str,
) -> None:
    """The same writer as a thread sharing the backing-up process's coordinator."""
    rng = random.Random(tag)
    values = [json.loads(note(rng, i)) for i in range(64)]
    try:
        i = 0
        while not stop.is_set():
            t0 = time.monotonic()
            c.memory.store(f"load-{tag}-{i}", values[i % 64], session_id=sid, namespace="load")
            samples.append((t0, time.monotonic() - t0))
            if i == 0:
                ready.set()
            i += 1
            time.sleep(WRITER_INTERVAL_S)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    ready.set()


def split(
    samples: list[tuple[float, float]], t0: float, t1: float
) -> tuple[list[float], list[float]]:
    """Latencies of writes started in the BEFORE_S before t0, and of writes overlapping [t0, t1]."""
    before = [d for s, d in samples if t0 - BEFORE_S <= s and s + d < t0]
    during = [d for s, d in samples if s <= t1 and s + d >= t0]
    return before, during


def under_load(
    config: Config,
    sid: str,
    writer: str,
    backup: Callable[[MemoryCoordinator | None], Any],
    tag: str,
) -> dict[str, Any]:
    """One backup while a writer (``process``, ``plain`` process or ``thread``) stores."""
    os.sync()
    outcome: Any = None
    unlinked: list[str] = []
    if writer in ("process", "plain"):
        ctx = multiprocessing.get_context("spawn")
        stop, ready, out = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(
            target=writer_loop,
            args=(str(config.data_dir), sid, stop, ready, out, tag, writer == "plain"),
            daemon=True,
        )
        proc.start()
        ready.wait(120)
        time.sleep(BEFORE_S)
        t0 = time.monotonic()
        try:
            outcome = backup(None)
        except BackupFailed as exc:
            outcome = exc
        t1 = time.monotonic()
        time.sleep(0.3)
        stop.set()
        got = out.get(timeout=120)
        proc.join(timeout=60)
        samples, errors = got["samples"], [got["error"]] if got["error"] else []
        unlinked = got["unlinked"]
    else:
        samples, errors = [], []
        stop_t, ready_t = threading.Event(), threading.Event()
        with MemoryCoordinator.open(config, use_redis=False) as c:
            thread = threading.Thread(
                target=thread_writer, args=(c, sid, stop_t, ready_t, samples, errors, tag)
            )
            thread.start()
            ready_t.wait(120)
            time.sleep(BEFORE_S)
            t0 = time.monotonic()
            try:
                outcome = backup(c)
            except BackupFailed as exc:
                outcome = exc
            t1 = time.monotonic()
            time.sleep(0.3)
            stop_t.set()
            thread.join(60)
            unlinked = unlinked_files(config.db_path.name)
    if errors:
        raise RuntimeError(f"the writer failed during the backup: {errors[0]}")
    before, during = split(samples, t0, t1)
    slow = [(st, d) for st, d in samples if st <= t1 and st + d >= t0 and d >= SLOW_S]
    return {
        "t0": t0,
        "slow": slow,
        "seconds": t1 - t0,
        "before": before,
        "during": during,
        "outcome": outcome,
        "writer_files_unlinked": unlinked,
    }


def phase_of(start: float, seconds: float, spans: list[tuple[str, float, float]]) -> str:
    """The backup phase a write overlapped most (the innermost on a tie), or ``other``."""
    best, best_overlap = "other", 0.0
    for name, lo, hi in sorted(spans, key=lambda span: span[1]):
        overlap = min(hi, start + seconds) - max(lo, start)
        if overlap > 0 and overlap >= best_overlap:
            best, best_overlap = name, overlap
    return best


def latency_stats(lat: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(lat)
    return {
        "writes": len(ordered),
        "writes_per_s": len(ordered) / seconds if seconds else 0.0,
        "p50_ms": percentile(ordered, 50) * 1e3 if ordered else 0.0,
        "p99_ms": percentile(ordered, 99) * 1e3 if ordered else 0.0,
        "max_ms": ordered[-1] * 1e3 if ordered else 0.0,
    }


def check_copy(path: Path) -> str | None:
    """integrity_check of a backup copy: None when it is intact, else the first problem."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if found == ["ok"] else found[0].replace("\n", " ")[:200]


def live_problem(db: Path) -> str | None:
    """quick_check of a live file no process has open: None when it is intact."""
    try:
        conn = sqlite3.connect(db)
        try:
            found = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if found == ["ok"] else found[0].replace("\n", " ")[:200]


def load_case(
    pristine: Path, work: Path, sid: str, writer: str, ours: bool, repeat: int
) -> dict[str, Any]:
    """``repeat`` backups under a writer, on a fresh copy of the database (damage stays there)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copyfile(pristine, work / pristine.name)
    config = Config.load(work, env={}, redis_enabled=False)
    runs = []
    for r in range(repeat):
        tag = f"{writer}-{'ours' if ours else 'raw'}-{r}"
        dest = work.parent / f"raw-load-{r}.db"
        if ours:
            shutil.rmtree(config.backups_path, ignore_errors=True)

        def backup(c: MemoryCoordinator | None, dest: Path = dest) -> Any:
            if ours:
                return BackupService(config, c).run("full")
            return raw_backup(config.db_path, dest)

        with Phases(BACKUP_PHASES) if ours else contextlib.nullcontext() as phases:
            run = under_load(config, sid, writer, backup, tag)
        spans = (
            phases.spans
            if phases
            else [("sqlite3 backup()", run["t0"], run["t0"] + run["seconds"])]
        )
        run["slow"] = [
            {
                "at_s": round(st - run["t0"], 3),
                "ms": round(d * 1e3, 1),
                "phase": phase_of(st, d, spans),
            }
            for st, d in run.pop("slow")
        ]
        run.pop("t0")
        if ours:  # our backup verifies itself: it either returns a verified record or raises
            run["problem"] = str(run["outcome"]) if isinstance(run["outcome"], Exception) else None
        else:
            run["problem"] = check_copy(dest)
            dest.unlink(missing_ok=True)
        run.pop("outcome")
        runs.append(run)
        log(
            f"  {tag}: backup {run['seconds']:.2f} s, {len(run['during'])} writes during, max "
            f"{max(run['during'], default=0) * 1e3:.0f} ms, copy "
            f"{'ok' if run['problem'] is None else 'BAD: ' + run['problem'][:100]}"
            f"{', writer files deleted under it' if run['writer_files_unlinked'] else ''}"
        )
    damage = live_problem(config.db_path)
    shutil.rmtree(work, ignore_errors=True)
    slow = [w for r in runs for w in r["slow"]]
    during_s = sum(r["seconds"] for r in runs)
    before = [d for r in runs for d in r["before"]]
    during = [d for r in runs for d in r["during"]]
    return {
        "writer": writer,
        "backup": "BackupService.run('full')" if ours else "sqlite3 backup()",
        "seconds": statistics.median(r["seconds"] for r in runs),
        "runs_seconds": [r["seconds"] for r in runs],
        "copies_ok": sum(r["problem"] is None for r in runs),
        "copies": len(runs),
        "problems": [r["problem"] for r in runs if r["problem"]],
        "writer_files_unlinked": [r["writer_files_unlinked"] for r in runs],
        "live_db_after": damage or "ok",
        "slow_writes": slow,
        "slow_by_phase": dict(collections.Counter(w["phase"] for w in slow).most_common()),
        "before": latency_stats(before, BEFORE_S * len(runs)),
        "during": latency_stats(during, during_s),
    }


# -- 4. incremental --------------------------------------------------------------------------
def change_entries(db: Path, ids: list[int], token: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        now = time.time()
        conn.executemany(
            "UPDATE memory_entries SET value = ?, updated_at = ?, version = version + 1 "
            "WHERE id = ?",
            [
                (json.dumps({"summary": f"{token} entry {i} " + "revised " * 100}), now, i)
                for i in ids
            ],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def raw_incremental(db: Path, ids: list[int], dest: Path) -> int:
    """The raw floor: the changed rows by id, as gzip JSON lines, fsynced."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        cur = conn.execute(
            "SELECT * FROM memory_entries WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        conn.execute("COMMIT")
    finally:
        conn.close()
    with dest.open("wb") as handle:
        with gzip.GzipFile(fileobj=handle, mode="wb") as gz:
            for row in rows:
                gz.write(json.dumps(dict(zip(names, row, strict=True))).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return len(rows)


# -- 5. recovery -------------------------------------------------------------------------------
def corrupt(db: Path, how: str) -> None:
    """Damage the live file: 64 KB of random bytes in the middle, or cut it in half."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    conn.close()
    size = db.stat().st_size
    with db.open("r+b") as handle:
        if how == "overwrite":
            handle.seek(size // 2)
            handle.write(os.urandom(64 * 1024))
        else:
            handle.truncate(size // 2)
        handle.flush()
        os.fsync(handle.fileno())


def check_restored(db: Path, expected: dict[str, int], token: str, backup_id: str) -> None:
    """quick_check, row counts, the last changed values: raise unless the restore is right."""
    conn = sqlite3.connect(db)
    try:
        found = conn.execute("PRAGMA quick_check").fetchall()
        if found != [("ok",)]:
            raise RuntimeError(f"the restored database fails quick_check: {found[:3]}")
        got = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in DATA_TABLES}
        if got != expected:
            raise RuntimeError(f"restored row counts {got} differ from the backup's {expected}")
        changed = conn.execute(
            "SELECT count(*) FROM memory_entries WHERE instr(value, ?) > 0", (token,)
        ).fetchone()[0]
        if changed != CHANGED:
            raise RuntimeError(f"{changed} of the last {CHANGED} changed values were restored")
        source = conn.execute("SELECT value FROM meta WHERE key = 'restored_from'").fetchone()
        if source is None or source[0] != backup_id:
            raise RuntimeError(f"restored from {source}, expected {backup_id}")
    finally:
        conn.close()


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_TUI_")}
    env["CLAUDE_TUI_REDIS"] = "off"
    return env


def check_breakdown(db: Path) -> dict[str, float]:
    """The restore's checks one by one on the restored file (warm cache), in seconds."""
    conn = sqlite3.connect(db, isolation_level=None)
    out: dict[str, float] = {}
    try:
        for name, sql in (
            ("integrity_check", "PRAGMA integrity_check"),
            ("quick_check", "PRAGMA quick_check"),
            ("foreign_key_check", "PRAGMA foreign_key_check"),
            (
                "fts integrity-check",
                "INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')",
            ),
        ):
            started = time.perf_counter()
            conn.execute(sql).fetchall()
            out[name] = time.perf_counter() - started
    finally:
        conn.close()
    return out


# -- report ------------------------------------------------------------------------------------
def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def row(
    measure: str,
    ours: str,
    raw: str = "-",
    ratio: str = "-",
    target: str = "-",
    result: str = "info",
) -> dict[str, str]:
    return {
        "measure": measure,
        "ours": ours,
        "raw": raw,
        "ratio": ratio,
        "target": target,
        "result": result,
    }


def ratio(ours: float, raw: float | None) -> str:
    return f"{ours / raw:.2f}x" if raw else "-"


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    run_started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-backups-", dir="/tmp"))
    res: dict[str, Any] = {
        "size_gb": args.size_gb,
        "repeat": args.repeat,
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
    }
    try:
        data = tmp / "data"
        log(f"building a {args.size_gb} GB data dir in {data}")
        res["build"] = build(data, args.size_gb, rng)
        sid = res["build"]["sessions"][0]
        config = Config.load(data, env={}, redis_enabled=False)
        db = config.db_path

        # -- 2. full backup, quiet
        log("full backup")
        ours, raws, integ, shas = [], [], [], []
        phases: dict[str, list[float]] = {}
        record = None
        for _ in range(args.repeat):
            shutil.rmtree(config.backups_path, ignore_errors=True)
            with Phases(BACKUP_PHASES) as p:
                t, record = seconds_of(lambda: BackupService(config).run("full"))
            ours.append(t)
            spent = dict(p.totals)
            spent["other (locks, open, rename, fsync dir)"] = t - sum(spent.values())
            for k, v in spent.items():
                phases.setdefault(k, []).append(v)
            raw_dest = tmp / "raw-backup.db"
            t_raw, _ = seconds_of(functools.partial(raw_backup, db, raw_dest))
            raws.append(t_raw)
            raw_dest.unlink()
            integ.append(seconds_of(lambda: raw_integrity(db))[0])
            shas.append(seconds_of(lambda: backing.sha256_file(db))[0])
            log(
                f"  ours {t:.2f} s, raw backup() {t_raw:.2f} s, integrity_check "
                f"{integ[-1]:.2f} s, sha256 {shas[-1]:.2f} s"
            )
        assert record is not None
        if record.status != "ok" or record.kind != "full":
            raise RuntimeError(f"the full backup did not succeed: {record}")
        res["full"] = {
            "seconds": median(ours),
            "runs": ours,
            "backup_size": record.size,
            "rows": record.rows,
            "phases": {k: median(v) for k, v in phases.items()},
            "raw_backup_seconds": median(raws),
            "raw_backup_runs": raws,
            "raw_integrity_check_seconds": median(integ),
            "raw_sha256_seconds": median(shas),
        }

        # -- 3. full backup with a writer, each case on its own copy of the database
        log("full backup with a writer")
        work = tmp / "load"
        res["load"] = {
            "process": load_case(db, work, sid, "process", True, args.repeat),
            "process_raw": load_case(db, work, sid, "process", False, args.repeat),
            "plain_raw": load_case(db, work, sid, "plain", False, args.repeat),
            "thread": load_case(db, work, sid, "thread", True, args.repeat),
        }

        # -- 4. incremental
        log("incremental backup")
        fresh_full(config)
        conn = sqlite3.connect(db)
        all_ids = [r[0] for r in conn.execute("SELECT id FROM memory_entries")]
        conn.close()
        inc, inc_raw, inc_rows = [], [], []
        expected: dict[str, int] = {}
        token = ""
        last_id = ""
        for r in range(args.repeat):
            ids = rng.sample(all_ids, CHANGED)
            token = f"changed-r{r}-{rng.randrange(1 << 30)}"
            change_entries(db, ids, token)
            expected = counts(db)
            t, rec = seconds_of(lambda: BackupService(config).run("incremental"))
            if rec.kind != "incremental" or rec.status != "ok" or rec.rows < CHANGED:
                raise RuntimeError(f"expected an incremental of >= {CHANGED} rows, got {rec}")
            inc.append(t)
            inc_rows.append(rec.rows)
            last_id = rec.id
            dest = tmp / "raw-incremental.jsonl.gz"
            t_raw, n = seconds_of(functools.partial(raw_incremental, db, ids, dest))
            if n != CHANGED:
                raise RuntimeError(f"raw incremental read {n} rows")
            inc_raw.append(t_raw)
            dest.unlink()
            log(f"  ours {t:.3f} s ({rec.rows} rows, {rec.size / 1024:.0f} KB), raw {t_raw:.3f} s")
        res["incremental"] = {
            "seconds": median(inc),
            "runs": inc,
            "rows": inc_rows,
            "raw_seconds": median(inc_raw),
            "raw_runs": inc_raw,
        }

        # -- 5. recovery
        log("recovery")
        chain = BackupService(config).plan()
        full_file = config.backups_path / str(chain[0].file)
        cli, inproc, raw_restore = [], [], []
        restore_phases: dict[str, list[float]] = {}
        detected: dict[str, Any] = {}
        cli_out = ""
        for r in range(args.repeat):
            corrupt(db, "overwrite")
            if r == 0:
                found = integrity.full_check(db)
                detected["overwrite"] = {
                    "ok": found.ok,
                    "problem": found.problem,
                    "check_seconds": found.seconds,
                }
            cmd = [
                sys.executable,
                "-m",
                "claude_tui",
                "--data-dir",
                str(data),
                "backup",
                "restore",
                "latest",
                "--yes",
            ]
            t, proc = seconds_of(
                functools.partial(
                    subprocess.run,
                    cmd,
                    env=cli_env(),
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
            )
            if proc.returncode != 0:
                raise RuntimeError(f"restore CLI exit {proc.returncode}: {proc.stderr.strip()}")
            cli_out = proc.stdout.strip()
            cli.append(t)
            check_restored(db, expected, token, last_id)
            shutil.rmtree(data / "replaced", ignore_errors=True)

            corrupt(db, "truncate")
            if r == 0:
                found = integrity.quick_check(db)
                detected["truncate"] = {
                    "ok": found.ok,
                    "problem": found.problem,
                    "check_seconds": found.seconds,
                }
            with Phases(RESTORE_PHASES) as p:
                t_in, report = seconds_of(lambda: BackupService(config).restore())
            spent = dict(p.totals)
            spent["other (plan, open, journal mode, fsync)"] = t_in - sum(spent.values())
            for k, v in spent.items():
                restore_phases.setdefault(k, []).append(v)
            inproc.append(t_in)
            check_restored(db, expected, token, last_id)
            if r == 0:
                res["restore_checks_one_by_one"] = check_breakdown(db)
            shutil.rmtree(data / "replaced", ignore_errors=True)

            dest = tmp / "raw-restore.db"

            def copy(dest: Path = dest) -> None:
                shutil.copyfile(full_file, dest)
                fsync_path(dest)

            raw_restore.append(seconds_of(copy)[0])
            dest.unlink()
            log(
                f"  CLI {t:.2f} s, in process {t_in:.2f} s ({report.rows_replayed} rows "
                f"replayed), raw copy+fsync {raw_restore[-1]:.2f} s"
            )
        res["restore"] = {
            "cli_seconds": median(cli),
            "cli_runs": cli,
            "cli_output": cli_out,
            "in_process_seconds": median(inproc),
            "in_process_runs": inproc,
            "raw_copy_fsync_seconds": median(raw_restore),
            "raw_runs": raw_restore,
            "chain": [f"{r.kind} {r.id}" for r in chain],
            "full_size": chain[0].size,
            "phases": {k: median(v) for k, v in restore_phases.items()},
            "corruption_detected": {k: not v["ok"] for k, v in detected.items()},
            "corruption_checks": detected,
            "expected_counts": expected,
            "verified": "quick_check ok, row counts and the last 1,000 changed values match",
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["run_seconds"] = time.perf_counter() - run_started
    rows, groups = report_rows(res)
    headers = {
        "measure": f"measure ({res['build']['bytes'] / GB:.2f} GB database)",
        "ours": "claude-tui s",
        "raw": "raw s",
        "ratio": "ratio",
        "target": "target",
        "result": "result",
    }
    print(f"Backups and recovery (median of {args.repeat}; run took {res['run_seconds']:.0f} s)")
    print(render_table(headers, rows, groups))
    res["table"] = rows
    res["failed"] = [r["measure"] for r in rows if r["result"] == "FAIL"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if res["failed"] else 0


Getter = Callable[[dict[str, Any]], Any]
LOAD_CASES = (
    ("process", "writer process (coordinator)", "process_raw"),
    ("plain_raw", "control: plain sqlite3 writer process", None),
    ("thread", "writer thread (shared coordinator)", None),
)


def _slow(case: dict[str, Any]) -> str:
    found = case["slow_by_phase"].items()
    return ", ".join(f"{n} {name.split(' (')[0]}" for name, n in found) or "0"


# (measure, the cell of a case, target, the pass condition or None for info)
LOAD_LINES: tuple[tuple[str, Getter, str, Getter | None], ...] = (
    ("  copies passing integrity_check", lambda c: f"{c['copies_ok']}/{c['copies']}", "all",
     lambda c: c["copies_ok"] == c["copies"]),
    ("  writer's -wal/-shm deleted under it",
     lambda c: f"{sum(map(bool, c['writer_files_unlinked']))}/{c['copies']} runs", "never",
     lambda c: not any(c["writer_files_unlinked"])),
    ("  live db after the runs (quick_check)",
     lambda c: "ok" if c["live_db_after"] == "ok" else "DAMAGED", "ok",
     lambda c: c["live_db_after"] == "ok"),
    ("  writer writes/s, before -> during",
     lambda c: f"{c['before']['writes_per_s']:.0f} -> {c['during']['writes_per_s']:.0f}", "-",
     None),
    ("  writer p99 ms, before -> during",
     lambda c: f"{c['before']['p99_ms']:.1f} -> {c['during']['p99_ms']:.1f}",
     "-", None),
    ("  writer max ms, before -> during",
     lambda c: f"{c['before']['max_ms']:.1f} -> {c['during']['max_ms']:.1f}",
     "-", None),
    (f"  writes >= {SLOW_S * 1e3:.0f} ms during, by phase", _slow, "-", None),
)  # fmt: skip


def report_rows(res: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """The table's rows (cells as text) and the group of each row."""
    rows: list[dict[str, str]] = []
    groups: list[str] = []

    def add(group: str, measure: str, ours: float | str, raw: float | None = None,
            target: str = "-", ok: bool | None = None) -> None:  # fmt: skip
        rows.append({
            "measure": measure, "ours": ours if isinstance(ours, str) else fmt_s(ours),
            "raw": fmt_s(raw), "ratio": ratio(ours, raw) if isinstance(ours, float) else "-",
            "target": target, "result": "info" if ok is None else pass_fail(ok),
        })  # fmt: skip
        groups.append(group)

    b, f = res["build"], res["full"]
    add("build", f"build ({b['memory_entries']:,} memory, {b['metrics']:,} metrics, "
        f"{b['checkpoints']:,} checkpoints)", b["seconds"])  # fmt: skip
    add("full", "full backup, run('full') incl. verify", f["seconds"], f["raw_backup_seconds"])
    raw_of = {"copy (online backup API)": f["raw_backup_seconds"],
              "integrity_check (verify)": f["raw_integrity_check_seconds"],
              "sha256 of the copy": f["raw_sha256_seconds"]}  # fmt: skip
    for name, spent in f["phases"].items():
        add("full", f"  {name}", spent, raw_of.get(name))
    for key, label, raw_key in LOAD_CASES:
        case = res["load"][key]
        mine = None if key == "plain_raw" else case
        raw_case = res["load"][raw_key] if raw_key else (case if mine is None else None)
        seconds = mine["seconds"] if mine else "-"
        add(key, f"full backup, {label} storing every 5 ms", seconds,
            raw_case["seconds"] if raw_case else None)  # fmt: skip
        for measure, cell, target, ok in LOAD_LINES:
            rows.append({
                "measure": measure, "ours": cell(mine) if mine else "-",
                "raw": cell(raw_case) if raw_case else "-", "ratio": "-", "target": target,
                "result": pass_fail(ok(mine)) if mine and ok else "info",
            })  # fmt: skip
            groups.append(key)
    i, r = res["incremental"], res["restore"]
    add("inc", f"incremental after {CHANGED:,} changed entries", i["seconds"], i["raw_seconds"])
    raw = r["raw_copy_fsync_seconds"]
    target = f"< {RESTORE_TARGET_S:.0f} s"
    add("restore", f"restore latest (full + {len(r['chain']) - 1} incr.), CLI end to end",
        r["cli_seconds"], raw, target, r["cli_seconds"] < RESTORE_TARGET_S)  # fmt: skip
    add("restore", "restore latest, in process", r["in_process_seconds"], raw, target,
        r["in_process_seconds"] < RESTORE_TARGET_S)  # fmt: skip
    for name, spent in r["phases"].items():
        add("restore", f"  {name}", spent, raw if name.startswith("copy") else None)
    add("restore", "  restored db: quick_check, counts, changed values", "ok", ok=True)
    return rows, groups


if __name__ == "__main__":
    raise SystemExit(main())
