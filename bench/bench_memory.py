"""Memory-layer benchmark: coordinator latency against raw SQLite/Redis, hit rate, disk use.

What is measured at each size (default 10k, 100k and 1M entries):

1. get and put latency (p50/p99) through ``MemoryCoordinator`` for an L1 hit, an L2 (Redis)
   hit and a SQLite read (with Redis disabled, and with Redis on but the key absent from it),
   interleaved sample by sample with raw baselines on the same file and server: a point
   ``SELECT value`` on a plain sqlite3 connection, a redis-py ``GET`` of the entry's L2 key,
   an UPSERT + ``COMMIT`` on a plain sqlite3 connection (synchronous=FULL, like the
   coordinator) and a redis-py ``SET``. The coordinator/raw ratio is the layer's overhead.
2. Working-memory hit rate: 10,000 working entries stored through the coordinator, then
   100,000 gets with keys drawn from Zipf(s=1.1) over the 10,000 ranks, once in the process
   that stored them (warm L1) and once in a fresh coordinator (cold L1, warm L2). Hits per
   tier come from ``rt.stats.snapshot()``.
3. Bytes on disk per entry: db file + ``-wal`` after ``PRAGMA wal_checkpoint(TRUNCATE)``,
   divided by the entry count, the overhead beyond the value bytes, and the split by table
   and index from the ``dbstat`` virtual table (right after loading, and after the workload).
4. get latency in the main process while 4 writer processes ``store()`` random existing keys
   through their own coordinators for a few seconds; the writers' put latency and writes/s.

How: the bulk of each data set is inserted with ``executemany`` in large transactions on a
plain connection, into the columns the coordinator writes (after the coordinator has created
the schema), so the FTS and change-log triggers run exactly as for real writes. Values are
150-250 byte JSON objects. Everything else goes through the coordinator. Timings use
``time.perf_counter_ns`` around single calls with random keys. A private redis-server is
started on a free port and stopped at the end; data dirs live in a temp dir removed at the end.

Run from the project root: ``python -m bench.bench_memory [--sizes 10000,100000] [--quick]``.
Prints a table and writes ``bench/results/memory.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import RedisServer, render_table, summary, timed
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.models import cache_key, private_scope
from claude_tui.core.services.memory import COLUMNS

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
NAMESPACE = "default"
WORKING_KEYS = 10_000
ZIPF_S = 1.1
ZIPF_GETS = 100_000
WRITERS = 4
HOT_KEYS = 500  # below the persistent L1 LRU's 1,000 entries, so every hot key stays in L1
BATCH = 50_000
WARMUP = 100  # leading samples of each cell that are run but not counted
US = 1_000.0  # nanoseconds per microsecond

TARGET_GET_P99_US = 1_000.0
TARGET_CONTENDED_P99_US = 10_000.0
TARGET_READ_RATIO = 3.0
TARGET_HIT_RATE = 0.95
TARGET_OVERHEAD_BYTES = 1024

_WORDS_TEXT = (
    "parser module function cache layer agent swarm result error build deploy refactor test "
    "config schema index query commit branch merge review patch retry timeout handler worker "
    "queue event stream session memory router client server request response fixture"
)
WORDS = _WORDS_TEXT.split()
KINDS = ("note", "decision", "observation", "todo", "summary")


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------


def make_value(rng: random.Random) -> dict[str, Any]:
    """A realistic memory value: a JSON object of 150-250 bytes (compact encoding)."""
    value: dict[str, Any] = {
        "kind": rng.choice(KINDS),
        "agent": f"agent-{rng.randrange(64)}",
        "file": f"src/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{rng.randrange(1000)}.py",
        "line": rng.randrange(1, 5000),
        "confidence": round(rng.random(), 3),
        "tags": rng.sample(WORDS, 2),
        "text": "",
    }
    base = len(json.dumps(value, separators=(",", ":")))
    target = rng.randint(150, 250)
    words: list[str] = []
    length = base
    while length < target:
        word = rng.choice(WORDS)
        if length + len(word) + 1 > 250 and words:
            break
        words.append(word)
        length += len(word) + (1 if len(words) > 1 else 0)
    value["text"] = " ".join(words)
    return value


def encode(value: Any) -> str:
    """The value's JSON text as the coordinator stores it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def make_keys(n: int, rng: random.Random) -> list[str]:
    """n distinct keys like ``query/3f9a0c2b71/1234``, random in sort order."""
    return [f"{rng.choice(WORDS)}/{rng.getrandbits(40):010x}/{i}" for i in range(n)]


def populate(data_dir: Path, n: int, rng: random.Random) -> tuple[str, list[str]]:
    """Create the schema through the coordinator, then bulk-insert n persistent entries.

    Returns the session id and the keys.
    """
    cfg = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(cfg, use_redis=False) as c:
        session_id = c.sessions.create(name="bench").id
        node_id = c.store.node_id
    keys = make_keys(n, rng)
    scope = private_scope(session_id, None)
    conn = sqlite3.connect(str(cfg.db_path), isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -262144")
        started = time.perf_counter()
        for start in range(0, n, BATCH):
            now = time.time()
            version = int(now * 1_000_000)
            rows = [
                (
                    scope,
                    NAMESPACE,
                    key,
                    encode(make_value(rng)),
                    "persistent",
                    session_id,
                    now,
                    now,
                    version + i,
                    node_id,
                )
                for i, key in enumerate(keys[start : start + BATCH])
            ]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO memory_entries (scope, namespace, key, value, memory_type, "
                "session_id, created_at, updated_at, version, origin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    log(f"  loaded {n:,} entries in {elapsed:.1f} s ({n / elapsed:,.0f} rows/s)")
    return session_id, keys


# -- measurement helpers ---------------------------------------------------------------


def raw_redis(url: str) -> Any:
    """A redis-py client with the options the coordinator's L2 uses."""
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=0.25, socket_connect_timeout=0.25, retry_on_timeout=False
    )


# -- 3. disk ---------------------------------------------------------------------------


def disk_usage(db_path: Path) -> dict[str, Any]:
    """Bytes per entry after a TRUNCATE checkpoint, and the split by table/index (dbstat)."""
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        entries, value_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(length(CAST(value AS BLOB))), 0) FROM memory_entries"
        ).fetchone()
        change_log_rows = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
        try:
            rows = conn.execute(
                "SELECT name, count(*), sum(pgsize), sum(payload) FROM dbstat GROUP BY name "
                "ORDER BY sum(pgsize) DESC"
            ).fetchall()
            tables = [
                {
                    "name": name,
                    "pages": pages,
                    "bytes": size,
                    "payload": payload,
                    "bytes_per_entry": size / entries if entries else 0.0,
                }
                for name, pages, size, payload in rows
            ]
        except sqlite3.OperationalError as exc:  # SQLite built without dbstat
            tables = [{"error": str(exc)}]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    wal = db_path.with_name(db_path.name + "-wal")
    db_bytes = db_path.stat().st_size
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    total = db_bytes + wal_bytes
    per_entry = total / entries if entries else 0.0
    return {
        "checkpoint_busy": busy,
        "entries": entries,
        "change_log_rows": change_log_rows,
        "db_bytes": db_bytes,
        "wal_bytes": wal_bytes,
        "page_size": page_size,
        "freelist_pages": freelist,
        "value_bytes": value_bytes,
        "bytes_per_entry": per_entry,
        "value_bytes_per_entry": value_bytes / entries if entries else 0.0,
        "overhead_bytes_per_entry": (total - value_bytes) / entries if entries else 0.0,
        "tables": tables,
    }


# -- 1. latency ------------------------------------------------------------------------


class Bench:
    """One data dir of one size, its coordinators and raw connections."""

    def __init__(
        self, data_dir: Path, redis_url: str, session_id: str, keys: list[str], rng: random.Random
    ) -> None:
        self.data_dir = data_dir
        self.redis_url = redis_url
        self.session_id = session_id
        self.scope = private_scope(session_id, None)
        self.keys = keys
        self.rng = rng
        self.cfg = Config.load(data_dir, env={}, redis_url=redis_url)
        self.c = MemoryCoordinator.open(self.cfg)  # L1 -> L2 -> SQLite
        self.cs = MemoryCoordinator.open(  # L1 -> SQLite
            Config.load(data_dir, env={}, redis_enabled=False), use_redis=False
        )
        self.raw = sqlite3.connect(str(self.cfg.db_path), isolation_level=None)
        self.raw.execute("PRAGMA busy_timeout = 5000")
        self.raw.execute("PRAGMA synchronous = FULL")
        self.redis = raw_redis(redis_url)
        # Keys are used without replacement where a cell needs keys untouched by earlier cells.
        self._fresh = list(range(len(keys)))
        rng.shuffle(self._fresh)

    def fresh_keys(self, count: int) -> list[str]:
        """Keys no earlier cell has read (falls back to random keys when they run out)."""
        take = self._fresh[:count]
        del self._fresh[:count]
        chosen = [self.keys[i] for i in take]
        while len(chosen) < count:
            chosen.append(self.rng.choice(self.keys))
        return chosen

    def ckey(self, key: str) -> str:
        return cache_key(self.scope, NAMESPACE, key)

    def close(self) -> None:
        self.c.close()
        self.cs.close()
        self.raw.close()
        self.redis.close()

    # raw baselines
    def raw_get(self, key: str) -> Any:
        return self.raw.execute(
            "SELECT value FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ?",
            (self.scope, NAMESPACE, key),
        ).fetchone()

    def raw_get_row(self, key: str) -> Any:
        """The same work as the coordinator's SQLite path: the coherence check and the whole row."""
        self.raw.execute("PRAGMA data_version").fetchone()
        return self.raw.execute(
            f"SELECT {COLUMNS} FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ?",
            (self.scope, NAMESPACE, key),
        ).fetchone()

    def raw_put(self, key: str, raw: str) -> None:
        now = time.time()
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            self.raw.execute(
                "INSERT INTO memory_entries (scope, namespace, key, value, memory_type, "
                "session_id, created_at, updated_at, version, origin) "
                "VALUES (?, ?, ?, ?, 'persistent', ?, ?, ?, ?, NULL) "
                "ON CONFLICT (scope, namespace, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at, version = excluded.version",
                (self.scope, NAMESPACE, key, raw, self.session_id, now, now, int(now * 1e6)),
            )
            self.raw.execute("COMMIT")
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise

    def get(self, c: MemoryCoordinator, key: str) -> Any:
        return c.memory.get(key, session_id=self.session_id, memory_type="persistent")

    def read_cell(
        self,
        name: str,
        coordinator: MemoryCoordinator,
        keys: list[str],
        expect: str,
        raw_name: str,
        raw_fn: Callable[[str], Any],
        drop_l1: bool,
    ) -> dict[str, Any]:
        """Interleave coordinator gets of ``keys`` with raw reads of other random keys.

        The first ``WARMUP`` pairs are run but not counted.
        """
        ours: list[int] = []
        theirs: list[int] = []
        tiers: Counter[str] = Counter()
        for i, key in enumerate(keys):
            other = self.rng.choice(self.keys)
            if drop_l1:
                coordinator.rt.l1.invalidate(self.ckey(key))
            if i % 2:
                t_raw, _ = timed(lambda k=other: raw_fn(k))
            t, entry = timed(lambda c=coordinator, k=key: self.get(c, k))
            if not i % 2:
                t_raw, _ = timed(lambda k=other: raw_fn(k))
            if i < WARMUP:
                continue
            ours.append(t)
            theirs.append(t_raw)
            tiers[entry.tier if entry is not None else "missing"] += 1
        cell = {
            "name": name,
            "expect_tier": expect,
            "tiers": dict(tiers),
            "coordinator": summary(ours),
            "raw_name": raw_name,
            "raw": summary(theirs),
        }
        cell["ratio_p50"] = cell["coordinator"]["p50_us"] / max(cell["raw"]["p50_us"], 1e-9)
        cell["ratio_p99"] = cell["coordinator"]["p99_us"] / max(cell["raw"]["p99_us"], 1e-9)
        wrong = sum(v for k, v in tiers.items() if k != expect)
        if wrong:
            log(f"  warning: {name}: {wrong} of {len(ours)} gets not served by {expect}: {tiers}")
        return cell

    def reads(self, samples: int) -> list[dict[str, Any]]:
        cells = []
        hot = self.fresh_keys(min(HOT_KEYS, len(self.keys) // 4))
        for key in hot:
            self.get(self.c, key)
        hot_draw = [self.rng.choice(hot) for _ in range(WARMUP + samples)]
        cells.append(
            self.read_cell(
                "get L1 hit", self.c, hot_draw, "l1", "sqlite3 SELECT", self.raw_get, False
            )
        )
        log(f"  {_cell_line(cells[-1])}")

        l2_keys = self.fresh_keys(WARMUP + samples)
        for key in l2_keys:  # SQLite read fills L2 (and L1, dropped before each timed get)
            self.get(self.c, key)
        l2 = self.c.rt.l2
        assert l2 is not None, "L2 is not configured"
        cells.append(
            self.read_cell(
                "get L2 hit",
                self.c,
                l2_keys,
                "l2",
                "redis GET",
                lambda k: self.redis.get(l2.key(self.ckey(k))),
                True,
            )
        )
        log(f"  {_cell_line(cells[-1])}")

        sql_keys = [self.rng.choice(self.keys) for _ in range(WARMUP + samples)]
        cells.append(
            self.read_cell(
                "get SQLite (Redis off)",
                self.cs,
                sql_keys,
                "sqlite",
                "sqlite3 SELECT",
                self.raw_get,
                True,
            )
        )
        log(f"  {_cell_line(cells[-1])}")

        row_keys = [self.rng.choice(self.keys) for _ in range(WARMUP + samples)]
        cells.append(
            self.read_cell(
                "get SQLite vs same work",
                self.cs,
                row_keys,
                "sqlite",
                "data_version + row SELECT",
                self.raw_get_row,
                True,
            )
        )
        log(f"  {_cell_line(cells[-1])}")

        miss_keys = self.fresh_keys(WARMUP + samples)
        cells.append(
            self.read_cell(
                "get SQLite (L2 miss)",
                self.c,
                miss_keys,
                "sqlite",
                "sqlite3 SELECT",
                self.raw_get,
                True,
            )
        )
        log(f"  {_cell_line(cells[-1])}")
        return cells

    def puts(self, samples: int) -> list[dict[str, Any]]:
        """store() with and without Redis, raw UPSERT+COMMIT and raw SET, interleaved."""
        l2 = self.c.rt.l2
        assert l2 is not None
        record = self.redis.get(l2.key(self.ckey(self.keys[0])))
        if record is None:
            self.get(self.c, self.keys[0])
            record = self.redis.get(l2.key(self.ckey(self.keys[0]))) or b"x" * 400
        times: dict[str, list[int]] = {"l2": [], "nol2": [], "raw": [], "set": []}
        warmup = WARMUP // 5
        for i in range(warmup + samples):
            jobs: list[tuple[str, Callable[[], Any]]] = []
            key, value = self.rng.choice(self.keys), make_value(self.rng)
            jobs.append(
                (
                    "l2",
                    lambda k=key, v=value: self.c.memory.store(
                        k, v, session_id=self.session_id, memory_type="persistent"
                    ),
                )
            )
            key, value = self.rng.choice(self.keys), make_value(self.rng)
            jobs.append(
                (
                    "nol2",
                    lambda k=key, v=value: self.cs.memory.store(
                        k, v, session_id=self.session_id, memory_type="persistent"
                    ),
                )
            )
            key, raw = self.rng.choice(self.keys), encode(make_value(self.rng))
            jobs.append(("raw", lambda k=key, r=raw: self.raw_put(k, r)))
            jobs.append(("set", lambda n=i: self.redis.set(f"bench:raw:{n % 1000}", record)))
            shift = i % len(jobs)
            for label, job in jobs[shift:] + jobs[:shift]:
                t, _ = timed(job)
                if i >= warmup:
                    times[label].append(t)
        raw = summary(times["raw"])
        cells = []
        for label, name in (("l2", "put (Redis on)"), ("nol2", "put (Redis off)")):
            ours = summary(times[label])
            cells.append(
                {
                    "name": name,
                    "coordinator": ours,
                    "raw_name": "sqlite3 UPSERT+COMMIT",
                    "raw": raw,
                    "ratio_p50": ours["p50_us"] / max(raw["p50_us"], 1e-9),
                    "ratio_p99": ours["p99_us"] / max(raw["p99_us"], 1e-9),
                }
            )
        cells.append(
            {
                "name": "raw redis SET",
                "coordinator": None,
                "raw_name": "redis SET",
                "raw": summary(times["set"]),
            }
        )
        for cell in cells:
            log(f"  {_cell_line(cell)}")
        return cells

    # -- 2. hit rate -----------------------------------------------------------------
    def zipf(self, gets: int, seed: int) -> dict[str, Any]:
        import numpy as np

        session = self.c.sessions.create(name="zipf").id
        wkeys = [f"wm/{i:05d}/{self.rng.getrandbits(32):08x}" for i in range(WORKING_KEYS)]
        started = time.perf_counter()
        put_ns = []
        for key in wkeys:
            t, _ = timed(
                lambda k=key: self.c.memory.store(
                    k, make_value(self.rng), session_id=session, memory_type="working"
                )
            )
            put_ns.append(t)
        log(f"  stored {WORKING_KEYS:,} working entries in {time.perf_counter() - started:.1f} s")
        gen = np.random.default_rng(seed)
        ranks = np.arange(1, WORKING_KEYS + 1, dtype=np.float64)
        weights = ranks**-ZIPF_S
        draws = gen.choice(WORKING_KEYS, size=gets, p=weights / weights.sum())
        order = gen.permutation(WORKING_KEYS)  # rank -> key, so hot keys are not the first stored
        sequence = [wkeys[int(order[d])] for d in draws]
        distinct = len(set(sequence))
        result: dict[str, Any] = {
            "keys": WORKING_KEYS,
            "gets": gets,
            "zipf_s": ZIPF_S,
            "distinct_keys_drawn": distinct,
            "best_cold_hit_rate": 1 - distinct / gets,
            "store": summary(put_ns),
        }
        fresh = MemoryCoordinator.open(self.cfg)
        try:
            for label, c in (("warm", self.c), ("cold", fresh)):
                before = c.rt.stats.snapshot()["tiers"]
                l1_working_before = c.rt.l1.sizes()["working"]
                lat = []
                missing = 0
                for key in sequence:
                    t, entry = timed(
                        lambda k=key, c=c: c.memory.get(
                            k, session_id=session, memory_type="working"
                        )
                    )
                    lat.append(t)
                    missing += entry is None
                after = c.rt.stats.snapshot()["tiers"]
                hits = {t: after[t]["hits"] - before[t]["hits"] for t in ("l1", "l2", "sqlite")}
                result[label] = {
                    "hits": hits,
                    "missing": missing,
                    "l1_hit_rate": hits["l1"] / gets,
                    "get": summary(lat),
                    "first_get_us": lat[0] / US,
                    "l1_working_before": l1_working_before,
                    "l1_sizes": c.rt.l1.sizes(),
                }
                log(
                    f"  zipf {label}: L1 hit rate {hits['l1'] / gets:.2%} hits {hits}; "
                    f"first get {lat[0] / US / 1000:.1f} ms, "
                    f"max {result[label]['get']['max_us'] / 1000:.1f} ms"
                )
        finally:
            fresh.close()
        return result

    # -- 4. contention ----------------------------------------------------------------
    def contended(self, duration: float, seed: int) -> dict[str, Any]:
        ctx = multiprocessing.get_context("spawn")
        ready, results = ctx.Queue(), ctx.Queue()
        go = ctx.Event()
        sample = self.keys if len(self.keys) <= 20_000 else self.rng.sample(self.keys, 20_000)
        procs = [
            ctx.Process(
                target=_writer,
                args=(
                    str(self.data_dir),
                    self.redis_url,
                    self.session_id,
                    sample,
                    seed + n,
                    duration,
                    ready,
                    go,
                    results,
                ),
                daemon=True,
            )
            for n in range(WRITERS)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=120)
        go.set()
        started = time.perf_counter()
        lat: list[int] = []
        tiers: Counter[str] = Counter()
        while time.perf_counter() - started < duration:
            key = self.rng.choice(self.keys)
            t, entry = timed(lambda k=key: self.get(self.c, k))
            lat.append(t)
            tiers[entry.tier if entry is not None else "missing"] += 1
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        puts = [t for o in outcomes for t in o["lat"]]
        elapsed = max(o["elapsed"] for o in outcomes)
        errors = [o["error"] for o in outcomes if o["error"]]
        for err in errors:
            log(f"  writer error: {err}")
        result = {
            "writers": WRITERS,
            "duration_s": duration,
            "get": summary(lat),
            "get_tiers": dict(tiers),
            "put": summary(puts),
            "writes": len(puts),
            "writes_per_s": len(puts) / elapsed,
            "per_writer_writes": [len(o["lat"]) for o in outcomes],
            "errors": errors,
        }
        log(
            f"  4 writers: get p50 {result['get']['p50_us']:.0f} us p99 "
            f"{result['get']['p99_us']:.0f} us; put p50 {result['put']['p50_us']:.0f} us "
            f"p99 {result['put']['p99_us']:.0f} us; {result['writes_per_s']:.0f} writes/s"
        )
        return result


def _writer(
    data_dir: str,
    redis_url: str,
    session_id: str,
    keys: list[str],
    seed: int,
    duration: float,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """A writer process: store() random keys through its own coordinator for ``duration``."""
    rng = random.Random(seed)
    values = [make_value(rng) for _ in range(256)]
    lat: list[int] = []
    error = None
    elapsed = 0.0
    signalled = False
    try:
        with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_url=redis_url)) as c:
            ready.put(os.getpid())
            signalled = True
            go.wait(120)
            started = time.perf_counter()
            while time.perf_counter() - started < duration:
                key, value = rng.choice(keys), rng.choice(values)
                t0 = time.perf_counter_ns()
                c.memory.store(key, value, session_id=session_id, memory_type="persistent")
                lat.append(time.perf_counter_ns() - t0)
            elapsed = time.perf_counter() - started
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    if not signalled:
        ready.put(os.getpid())
    results.put({"lat": lat, "error": error, "elapsed": elapsed or duration})


# -- report ----------------------------------------------------------------------------


def _fmt_us(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _pair(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "-"
    return f"{_fmt_us(stats['p50_us'])} / {_fmt_us(stats['p99_us'])}"


def _cell_line(cell: dict[str, Any]) -> str:
    ratio = f" ratio {cell['ratio_p50']:.2f}x" if "ratio_p50" in cell else ""
    return (
        f"{cell['name']}: coordinator {_pair(cell['coordinator'])} us, "
        f"{cell['raw_name']} {_pair(cell['raw'])} us{ratio}"
    )


def _verdict(checks: list[tuple[str, bool]]) -> str:
    if not checks:
        return "info"
    if len(checks) == 1:
        return "PASS" if checks[0][1] else "FAIL"
    return ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in checks)


def table_rows(size: int, r: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per measure, with its targets and verdict."""
    rows: list[dict[str, Any]] = []

    def add(
        measure: str,
        coord: str,
        raw: str,
        baseline: str,
        ratio: str,
        target: str,
        checks: list[tuple[str, bool]],
    ) -> None:
        rows.append(
            {
                "size": size,
                "measure": measure,
                "coordinator": coord,
                "raw": raw,
                "baseline": baseline,
                "ratio": ratio,
                "target": target,
                "result": _verdict(checks),
                "pass": all(ok for _, ok in checks),
            }
        )

    for cell in r["reads"]:
        p99_ok = ("p99", cell["coordinator"]["p99_us"] < TARGET_GET_P99_US)
        targets: dict[str, tuple[str, list[tuple[str, bool]]]] = {
            "get L1 hit": ("p99 < 1 ms", [p99_ok]),
            "get SQLite (Redis off)": (
                "p99 < 1 ms; ratio <= 3x",
                [p99_ok, ("ratio", cell["ratio_p50"] <= TARGET_READ_RATIO)],
            ),
            "get SQLite (L2 miss)": ("p99 < 1 ms", [p99_ok]),
        }
        target, checks = targets.get(cell["name"], ("-", []))
        add(
            cell["name"],
            _pair(cell["coordinator"]),
            _pair(cell["raw"]),
            cell["raw_name"],
            f"{cell['ratio_p50']:.2f}x ({cell['ratio_p99']:.2f}x)",
            target,
            checks,
        )
    for cell in r["puts"]:
        ratio = (
            f"{cell['ratio_p50']:.2f}x ({cell['ratio_p99']:.2f}x)" if "ratio_p50" in cell else "-"
        )
        add(
            cell["name"],
            _pair(cell["coordinator"]),
            _pair(cell["raw"]),
            cell["raw_name"],
            ratio,
            "-",
            [],
        )
    z = r["zipf"]
    for label in ("warm", "cold"):
        s = z[label]
        hits = s["hits"]
        add(
            f"zipf working L1 hit rate ({label})",
            f"{s['l1_hit_rate']:.2%} (l1 {hits['l1']}, l2 {hits['l2']}, sqlite {hits['sqlite']})",
            _pair(s["get"]),
            "get p50/p99 us"
            + (f"; cold bound {z['best_cold_hit_rate']:.2%}" if label == "cold" else ""),
            "-",
            ">= 95%",
            [("hit", s["l1_hit_rate"] >= TARGET_HIT_RATE)],
        )
    for label, disk in (("loaded", r["disk"]), ("after workload", r["disk_after"])):
        add(
            f"disk per entry ({label})",
            f"{disk['bytes_per_entry']:,.0f} B total, "
            f"{disk['overhead_bytes_per_entry']:,.0f} B over value",
            f"{disk['value_bytes_per_entry']:,.0f} B value",
            f"{disk['entries']:,} entries",
            "-",
            "overhead <= 1 KiB",
            [("overhead", disk["overhead_bytes_per_entry"] <= TARGET_OVERHEAD_BYTES)],
        )
    w = r["contended"]
    add(
        f"get under {w['writers']} writers",
        _pair(w["get"]),
        "-",
        f"{w['get']['n']:,} gets in {w['duration_s']:g} s",
        "-",
        "p99 < 10 ms",
        [("p99", w["get"]["p99_us"] < TARGET_CONTENDED_P99_US)],
    )
    add(
        f"put by {w['writers']} writers",
        _pair(w["put"]),
        "-",
        f"{w['writes_per_s']:,.0f} writes/s total",
        "-",
        "-",
        [],
    )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    headers = {
        "size": "size",
        "measure": "measure",
        "coordinator": "coordinator p50 / p99 us",
        "raw": "raw p50 / p99 us",
        "baseline": "raw baseline",
        "ratio": "ratio p50 (p99)",
        "target": "target",
        "result": "result",
    }
    shown = [{**row, "size": f"{row['size']:,}"} for row in rows]
    return render_table(headers, shown, [row["size"] for row in rows])


def render_disk(size: int, disk: dict[str, Any], label: str) -> str:
    lines = [
        f"dbstat, {size:,} entries ({label}): db {disk['db_bytes']:,} B"
        f" + wal {disk['wal_bytes']:,} B, {disk['change_log_rows']:,} change_log rows,"
        f" {disk['freelist_pages']:,} free pages"
    ]
    small = [t for t in disk["tables"] if "error" not in t and t["pages"] <= 1]
    for t in disk["tables"]:
        if "error" in t:
            lines.append(f"  dbstat unavailable: {t['error']}")
            continue
        if t in small:
            continue
        lines.append(
            f"  {t['name']:<32} {t['bytes']:>14,} B  {t['bytes_per_entry']:>8.1f} B/entry"
            f"  payload {t['payload']:>14,} B"
        )
    if small:
        other = f"other ({len(small)} one-page objects)"
        lines.append(f"  {other:<32} {sum(t['bytes'] for t in small):>14,} B")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def run_size(n: int, tmp: Path, redis: RedisServer, args: argparse.Namespace) -> dict[str, Any]:
    log(f"size {n:,} (1-min load average {os.getloadavg()[0]:.2f})")
    rng = random.Random(args.seed + n)
    data_dir = tmp / f"data-{n}"
    session_id, keys = populate(data_dir, n, rng)
    db_path = data_dir / "claude-tui.db"
    result: dict[str, Any] = {"entries": n, "disk": disk_usage(db_path)}
    log(
        f"  disk: {result['disk']['bytes_per_entry']:,.0f} B/entry, "
        f"{result['disk']['overhead_bytes_per_entry']:,.0f} B overhead/entry"
    )
    result["loadavg_before"] = os.getloadavg()
    bench = Bench(data_dir, redis.url, session_id, keys, rng)
    try:
        result["reads"] = bench.reads(args.read_samples)
        result["puts"] = bench.puts(args.put_samples)
        result["zipf"] = bench.zipf(ZIPF_GETS, args.seed)
        bench.cs.close()
        result["contended"] = bench.contended(args.writer_seconds, args.seed)
        result["coordinator_stats"] = bench.c.rt.stats.snapshot()
    finally:
        bench.close()
    result["loadavg_after"] = os.getloadavg()
    result["disk_after"] = disk_usage(db_path)
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_memory", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        help="comma-separated entry counts (default 10000,100000,1000000; --quick: 10000)",
    )
    parser.add_argument("--quick", action="store_true", help="10k entries only, fewer samples")
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)
    if args.sizes:
        try:
            args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
        if not args.size_list or min(args.size_list) < 1_000:
            parser.error("--sizes needs at least one size of 1000 entries or more")
    else:
        args.size_list = [10_000] if args.quick else list(DEFAULT_SIZES)
    args.read_samples = 500 if args.quick else 3_000
    args.put_samples = 200 if args.quick else 2_000
    args.writer_seconds = 3.0 if args.quick else 5.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="claude-tui-bench-"))
    redis = None
    report: dict[str, Any] = {}
    try:
        redis = RedisServer(tmp)
        log(f"redis-server {redis.version} on port {redis.port}; data in {tmp}")
        report = {
            "meta": {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
                "argv": sys.argv[1:] if argv is None else list(argv),
                "quick": args.quick,
                "sizes": args.size_list,
                "seed": args.seed,
                "read_samples": args.read_samples,
                "put_samples": args.put_samples,
                "writer_seconds": args.writer_seconds,
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
                "redis": redis.version,
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "targets": {
                    "get_p99_us": TARGET_GET_P99_US,
                    "contended_get_p99_us": TARGET_CONTENDED_P99_US,
                    "read_ratio_vs_raw_sqlite_p50": TARGET_READ_RATIO,
                    "working_l1_hit_rate": TARGET_HIT_RATE,
                    "overhead_bytes_per_entry": TARGET_OVERHEAD_BYTES,
                },
            },
            "sizes": {},
        }
        rows: list[dict[str, Any]] = []
        for n in args.size_list:
            result = run_size(n, tmp, redis, args)
            report["sizes"][str(n)] = result
            rows += table_rows(n, result)
        report["table"] = rows
        report["meta"]["elapsed_s"] = time.time() - started
        report["all_pass"] = all(row["pass"] for row in rows)
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(report["table"]))
    print()
    for n in args.size_list:
        r = report["sizes"][str(n)]
        print(render_disk(n, r["disk"], "after loading"))
        print(render_disk(n, r["disk_after"], "after workload"))
        print()
    failed = [row for row in report["table"] if not row["pass"]]
    print(
        f"{len(report['table']) - len(failed)} of {len(report['table'])} rows pass "
        f"(rows marked info have no target); {report['meta']['elapsed_s']:.0f} s; "
        f"JSON in {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
