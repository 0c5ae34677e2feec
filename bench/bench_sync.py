"""Cross-host sync benchmark: propagation latency, 3-host throughput and convergence, catch-up.

A "host" is a data dir of its own (its own SQLite file and node id) opened by its own
process; every host of a measure shares one private redis-server (started on a free
port, nothing on disk, stopped at the end) and one swarm (a swarm per measure, so each
starts from an empty stream). The L2 cache tier is off (``redis_enabled=False``), so
only sync uses Redis. Processes are started with multiprocessing (spawn); all run on
this machine, so their wall clocks (``time.time()``) agree, and so does Redis' (stream
ids carry its wall-clock milliseconds).

1. Propagation latency of immediate shared writes, host A -> host B. Both hosts run
   their sync thread (``coordinator.sync.start()``), as a running app does. A stores
   N shared entries (``memory.store(key, value, memory_type="shared")``, namespace
   ``bench-lat``, immediate by default), pausing 5-20 ms (random, seeded) before each,
   so it is not a throughput test; each value carries ``time.time()`` taken just before
   the ``store()`` call. B subscribes to its ``EventBus`` and notes ``time.time()`` when
   each key's ChangeEvent first arrives (ckey ``swarm\\x1fbench-lat\\x1f<key>``); after the
   run it reads the values from its own SQLite file: latency = arrival - start time in
   the value. Split at the XADD (the stream entry id's milliseconds, read back with
   XRANGE): A's side (write commit, capture, publish transaction) and B's side (XREAD
   wake-up, XREADGROUP, apply transaction, ack, change-log drain, listener). A's
   ``store()`` latency is reported too. Raw baseline in the same run, same N and
   pauses: redis-py ``XADD`` in one process, ``XREAD BLOCK`` in another; latency from
   just before XADD to just after XREAD returns. Target: p99 < 50 ms.
2. Throughput with 3 hosts: 3 processes, each storing M shared writes to 50
   overlapping keys (JSON objects: a field of the host's own, a common field, a
   ~150-byte text) as fast as they can, sync threads running. writes/s = all writes /
   (last writer's end - first writer's start). Convergence: after the last write, the
   main process polls ``SELECT namespace, key, value FROM memory_entries WHERE
   scope='swarm' ORDER BY 1,2`` (values parsed as JSON) on the 3 SQLite files every
   10 ms until they are equal (deadline 60 s), then checks the converged state keeps
   every host's last write of its own field of each key. Raw baseline in the same run:
   3 processes each doing a plain sqlite3 UPSERT + COMMIT (WAL, synchronous=FULL, a
   file each) plus a redis-py XADD per write.
3. Catch-up: host C joins the swarm, closes; another host publishes K shared entries
   (namespace ``bench-catchup`` set to the batched level, so the publisher is quick;
   the stream still gets K entries); then the time of ``MemoryCoordinator.open(config)`` on
   C is measured in a fresh process (after a warm-up open of a scratch dir with sync
   off, so lazy imports are not on the clock), which is the catch-up (K stream entries
   applied before the constructor returns). Also: the same open with nothing to catch
   up, and a host that never joined (its first open is a full resync from the swarm's
   state hash). Raw baseline: XREAD of the K entries in
   batches of 500 and a plain sqlite3 UPSERT of each batch in one transaction (WAL,
   synchronous=FULL), connect included.

Everything lives in a temp dir under /tmp, removed at the end. Prints a table, writes
``bench/results/sync.json`` and exits 1 if a target fails.
Run from the project root: ``python -m bench.bench_sync [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections.abc import Sequence
from pathlib import Path
from queue import Empty
from typing import Any

from bench.common import RedisServer, render_table, summary
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sync.json"

NS_LAT = "bench-lat"
NS_TP = "bench-tp"
NS_CU = "bench-catchup"
PAUSE_S = (0.005, 0.020)
TP_KEYS = 50
CONVERGE_DEADLINE_S = 60.0
POLL_S = 0.010
ARRIVAL_GRACE_S = 15.0
CATCHUP_READ_BATCH = 500  # the engine's READ_BATCH
TARGET_P99_MS = 50.0
SHARED_QUERY = (
    "SELECT namespace, key, value FROM memory_entries WHERE scope = 'swarm' ORDER BY 1, 2"
)
_WORDS_TEXT = (
    "sync stream swarm host node event merge clock replica commit apply publish consume "
    "latency batch epoch resync outbox register conflict field value shared memory agent"
)
_WORDS = _WORDS_TEXT.split()


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def text_pad(rng: random.Random, size: int = 150) -> str:
    return " ".join(rng.choices(_WORDS, k=size // 6))[:size]


def pauses(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(*PAUSE_S) for _ in range(n)]


def stream_key(swarm: str) -> str:
    """The swarm's event stream (see claude_tui/core/sync/transport.py)."""
    return f"ctui:sync:{{{swarm}}}:events"


def host_config(data_dir: str, url: str, swarm: str, **overrides: Any) -> Config:
    return Config.load(
        data_dir, env={}, redis_enabled=False, sync_url=url, sync_swarm=swarm, **overrides
    )


def open_host(data_dir: str, url: str, swarm: str, **overrides: Any) -> MemoryCoordinator:
    c = MemoryCoordinator.open(host_config(data_dir, url, swarm, **overrides), use_redis=False)
    if c.sync is None:
        c.close()
        raise RuntimeError("sync is not on")
    return c


def raw_redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2)


def raw_sqlite(path: str) -> sqlite3.Connection:
    """A plain connection like the coordinator's: WAL, synchronous=FULL, a kv table."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, "
        "value TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (namespace, key))"
    )
    return conn


UPSERT = (
    "INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- child processes --------------------------------------------------------------------
# Each puts (name, None) on ``ready`` once it can start (or (name, error) if it cannot),
# then its outcome (a dict with an ``error`` key) on ``out``.


def lat_sender(
    data_dir: str, url: str, swarm: str, n: int, seed: int, ready: Any, go: Any, out: Any
) -> None:
    """Host A: store n shared entries, each carrying its start time, pausing between them."""
    signalled = False
    result: dict[str, Any] = {"error": None}
    try:
        gaps = pauses(seed, n)
        pad = text_pad(random.Random(seed))
        with open_host(data_dir, url, swarm) as c:
            assert c.sync is not None
            c.sync.start()
            result["node"] = c.store.node_id
            ready.put(("sender", None))
            signalled = True
            go.wait(120)
            store_ns: list[int] = []
            for i in range(n):
                time.sleep(gaps[i])
                t0 = time.time()
                p0 = time.perf_counter_ns()
                c.memory.store(
                    f"lat-{i:05d}",
                    {"i": i, "t0": t0, "text": pad},
                    namespace=NS_LAT,
                    memory_type="shared",
                )
                store_ns.append(time.perf_counter_ns() - p0)
            result["store_ns"] = store_ns
    except Exception as exc:
        result["error"] = _error(exc)
    if not signalled:
        ready.put(("sender", result["error"] or "ended before it was ready"))
    out.put(("sender", result))


def lat_receiver(
    data_dir: str, url: str, swarm: str, n: int, ready: Any, sent: Any, out: Any
) -> None:
    """Host B: note when each key's ChangeEvent arrives; read the start times afterwards."""
    signalled = False
    result: dict[str, Any] = {"error": None}
    prefix = f"swarm\x1f{NS_LAT}\x1f"
    arrivals: dict[str, float] = {}

    def listener(events: list[Any]) -> None:
        now = time.time()
        for e in events:
            ckey = e.ckey
            if ckey and ckey.startswith(prefix) and not e.local:
                arrivals.setdefault(ckey[len(prefix) :], now)

    try:
        with open_host(data_dir, url, swarm) as c:
            assert c.sync is not None
            c.events.subscribe(listener)
            c.sync.start()
            ready.put(("receiver", None))
            signalled = True
            sent.wait(600)
            deadline = time.monotonic() + ARRIVAL_GRACE_S
            while len(arrivals) < n and time.monotonic() < deadline:
                time.sleep(0.01)
            rows = c.store.rows(
                "SELECT key, value FROM memory_entries WHERE scope = 'swarm' AND namespace = ?",
                (NS_LAT,),
            )
            result["rows"] = len(rows)
            result["samples"] = {
                key: (float(json.loads(value)["t0"]), arrivals[key])
                for key, value in rows
                if key in arrivals
            }
            result["peers"] = c.sync.status()["peers"]
    except Exception as exc:
        result["error"] = _error(exc)
    if not signalled:
        ready.put(("receiver", result["error"] or "ended before it was ready"))
    out.put(("receiver", result))


def raw_lat_sender(url: str, stream: str, n: int, seed: int, ready: Any, go: Any, out: Any) -> None:
    """Raw baseline, sender: XADD the start time, with the same pauses."""
    result: dict[str, Any] = {"error": None}
    try:
        r = raw_redis(url)
        r.ping()
        gaps = pauses(seed, n)
        ready.put(("raw sender", None))
        go.wait(120)
        for i in range(n):
            time.sleep(gaps[i])
            r.xadd(stream, {"i": i, "t0": repr(time.time())})
        r.close()
    except Exception as exc:
        ready.put(("raw sender", _error(exc)))
        result["error"] = _error(exc)
    out.put(("raw sender", result))


def raw_lat_receiver(url: str, stream: str, n: int, ready: Any, out: Any) -> None:
    """Raw baseline, receiver: XREAD BLOCK from the last id; latency per entry."""
    result: dict[str, Any] = {"error": None}
    try:
        r = raw_redis(url)
        r.ping()
        last = "0-0"
        lat: list[float] = []
        ready.put(("raw receiver", None))
        deadline = time.monotonic() + n * PAUSE_S[1] + 120
        while len(lat) < n and time.monotonic() < deadline:
            reply = r.xread({stream: last}, block=1000)
            now = time.time()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    lat.append(now - float(fields[b"t0"]))
                    last = entry_id
        result["lat_s"] = lat
        r.close()
    except Exception as exc:
        ready.put(("raw receiver", _error(exc)))
        result["error"] = _error(exc)
    out.put(("raw receiver", result))


def tp_host(
    data_dir: str,
    url: str,
    swarm: str,
    tag: str,
    m: int,
    seed: int,
    ready: Any,
    go: Any,
    stop: Any,
    out: Any,
) -> None:
    """One of 3 hosts: m shared writes to overlapping keys, as fast as it can."""
    signalled = False
    result: dict[str, Any] = {"error": None, "tag": tag}
    rng = random.Random(seed)
    pad = text_pad(rng)
    try:
        with open_host(data_dir, url, swarm) as c:
            assert c.sync is not None
            c.sync.start()
            ready.put((tag, None))
            signalled = True
            go.wait(120)
            lat: list[int] = []
            last: dict[str, int] = {}
            result["start"] = time.time()
            for i in range(m):
                key = f"k{rng.randrange(TP_KEYS):02d}"
                p0 = time.perf_counter_ns()
                c.memory.store(
                    key,
                    {"common": f"{tag}-{i}", f"f-{tag}": i, "text": pad},
                    namespace=NS_TP,
                    memory_type="shared",
                )
                lat.append(time.perf_counter_ns() - p0)
                last[key] = i
            result["end"] = time.time()
            result["lat_ns"] = lat
            result["last"] = last
            out.put((tag, result))
            stop.wait(CONVERGE_DEADLINE_S + 60)  # keep applying until the main process is done
            return
    except Exception as exc:
        result["error"] = _error(exc)
    if not signalled:
        ready.put((tag, result["error"] or "ended before it was ready"))
    out.put((tag, result))


def tp_raw_host(
    db_path: str, url: str, stream: str, tag: str, m: int, seed: int, ready: Any, go: Any, out: Any
) -> None:
    """Raw baseline host: plain sqlite3 UPSERT + COMMIT and an XADD per write."""
    result: dict[str, Any] = {"error": None, "tag": tag}
    rng = random.Random(seed)
    pad = text_pad(rng)
    try:
        conn = raw_sqlite(db_path)
        r = raw_redis(url)
        r.ping()
        ready.put((tag, None))
        go.wait(120)
        lat: list[int] = []
        result["start"] = time.time()
        for i in range(m):
            key = f"k{rng.randrange(TP_KEYS):02d}"
            p0 = time.perf_counter_ns()
            value = json.dumps({"common": f"{tag}-{i}", f"f-{tag}": i, "text": pad})
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(UPSERT, (NS_TP, key, value, time.time()))
            conn.execute("COMMIT")
            r.xadd(stream, {"e": value}, maxlen=100_000, approximate=True)
            lat.append(time.perf_counter_ns() - p0)
        result["end"] = time.time()
        result["lat_ns"] = lat
        conn.close()
        r.close()
    except Exception as exc:
        ready.put((tag, _error(exc)))
        result["error"] = _error(exc)
    out.put((tag, result))


def timed_open(data_dir: str, url: str, swarm: str, out: Any) -> None:
    """Time ``MemoryCoordinator.open(config)`` (with sync on: the catch-up) in a fresh process."""
    result: dict[str, Any] = {"error": None}
    try:
        # Load what an open imports lazily (sqlite_utils pulls in numpy: ~170 ms), so the
        # clock sees the open and not imports: open a scratch dir with sync off first.
        import redis  # noqa: F401

        import claude_tui.core.sync.engine  # noqa: F401

        scratch = Config.load(f"{data_dir}-warmup", env={}, redis_enabled=False)
        MemoryCoordinator.open(scratch, use_redis=False).close()
        config = host_config(data_dir, url, swarm)
        p0 = time.perf_counter()
        c = MemoryCoordinator.open(config, use_redis=False)
        result["open_s"] = time.perf_counter() - p0
        try:
            assert c.sync is not None
            result["rows"] = int(
                c.store.scalar(
                    "SELECT count(*) FROM memory_entries WHERE scope = 'swarm' AND namespace = ?",
                    (NS_CU,),
                )
            )
            result["notices"] = c.sync.take_notices()
            result["last_resync"] = c.sync.status()["last_resync"]
        finally:
            c.close()
    except Exception as exc:
        result["error"] = _error(exc)
    out.put(("open", result))


def catchup_publisher(data_dir: str, url: str, swarm: str, k: int, seed: int, out: Any) -> None:
    """Another host publishes k shared entries (batched level: quick to write)."""
    result: dict[str, Any] = {"error": None}
    pad = text_pad(random.Random(seed))
    try:
        p0 = time.perf_counter()
        with open_host(data_dir, url, swarm, sync_levels={f"memory:{NS_CU}": "batched"}) as c:
            for i in range(k):
                c.memory.store(
                    f"cu-{i:05d}", {"i": i, "text": pad}, namespace=NS_CU, memory_type="shared"
                )
        result["seconds"] = time.perf_counter() - p0
    except Exception as exc:
        result["error"] = _error(exc)
    out.put(("publisher", result))


def catchup_raw(db_path: str, url: str, stream: str, out: Any) -> None:
    """Raw baseline: XREAD the stream in batches of 500, UPSERT each batch in one transaction."""
    result: dict[str, Any] = {"error": None}
    try:
        raw_sqlite(db_path).close()  # the table exists before the clock starts
        p0 = time.perf_counter()
        conn = raw_sqlite(db_path)
        r = raw_redis(url)
        last, n = "0-0", 0
        while True:
            reply = r.xread({stream: last}, count=CATCHUP_READ_BATCH)
            if not reply:
                break
            entries = reply[0][1]
            now = time.time()
            rows = []
            for _, fields in entries:
                event = json.loads(fields[b"e"])
                rows.append((NS_CU, event["r"], json.dumps(event["p"]), now))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(UPSERT, rows)
            conn.execute("COMMIT")
            n += len(entries)
            last = entries[-1][0]
        conn.close()
        r.close()
        result["seconds"] = time.perf_counter() - p0
        result["entries"] = n
    except Exception as exc:
        result["error"] = _error(exc)
    out.put(("raw catch-up", result))


# -- orchestration -----------------------------------------------------------------------


class Procs:
    """Spawned child processes, their ready queue and their outcome queue."""

    def __init__(self) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.ready = self.ctx.Queue()
        self.out = self.ctx.Queue()
        self.procs: list[Any] = []

    def start(self, target: Any, *args: Any) -> None:
        """Start ``target(*args, out)`` in a new process."""
        p = self.ctx.Process(target=target, args=(*args, self.out), daemon=True)
        p.start()
        self.procs.append(p)

    def _get(self, queue: Any, timeout: float) -> Any:
        """The next item of ``queue``; raise if a child died without a word or time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return queue.get(timeout=0.5)
            except Empty:
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a child process exited with {dead[0].exitcode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("a child process did not answer in time") from None

    def wait_ready(self, count: int, timeout: float = 120) -> None:
        for _ in range(count):
            name, error = self._get(self.ready, timeout)
            if error:
                raise RuntimeError(f"{name} could not start: {error}")

    def results(self, count: int, timeout: float = 600) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for _ in range(count):
            name, result = self._get(self.out, timeout)
            if result.get("error"):
                raise RuntimeError(f"{name} failed: {result['error']}")
            found[name] = result
        return found

    def join(self) -> None:
        for p in self.procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)


def run_one(target: Any, *args: Any) -> dict[str, Any]:
    """Run one child to its end; return its outcome."""
    procs = Procs()
    procs.start(target, *args)
    (result,) = procs.results(1).values()
    procs.join()
    return result


def ns_of(seconds: Sequence[float]) -> list[int]:
    return [int(s * 1e9) for s in seconds]


def propagation(tmp: Path, url: str, n: int, seed: int) -> dict[str, Any]:
    swarm = "bench-lat"
    log(f"1. propagation: {n} immediate shared writes A -> B, pauses 5-20 ms")
    procs = Procs()
    go, sent = procs.ctx.Event(), procs.ctx.Event()
    procs.start(lat_receiver, str(tmp / "lat-b"), url, swarm, n, procs.ready, sent)
    procs.wait_ready(1)  # B joins first, so its group starts before A's first write
    procs.start(lat_sender, str(tmp / "lat-a"), url, swarm, n, seed, procs.ready, go)
    procs.wait_ready(1)
    load_before = os.getloadavg()
    go.set()
    sender = procs.results(1)["sender"]
    sent.set()
    receiver = procs.results(1)["receiver"]
    procs.join()
    load_after = os.getloadavg()

    # The XADD time of each of A's events (the stream id's milliseconds, Redis' clock).
    r = raw_redis(url)
    xadd_ms: dict[str, int] = {}
    for entry_id, fields in r.xrange(stream_key(swarm)):
        event = json.loads(fields[b"e"])
        if event.get("o") == sender["node"] and event.get("t") == "memory_entries":
            key = event["r"].split("\x1f", 2)[2]
            xadd_ms.setdefault(key, int(entry_id.split(b"-")[0]))
    r.close()
    samples = receiver["samples"]
    total = [arrived - t0 for t0, arrived in samples.values()]
    a_side = [xadd_ms[k] / 1000 - t0 for k, (t0, _) in samples.items() if k in xadd_ms]
    b_side = [arrived - xadd_ms[k] / 1000 for k, (_, arrived) in samples.items() if k in xadd_ms]
    slowest = sorted(samples.items(), key=lambda kv: kv[1][0] - kv[1][1])[:5]
    result: dict[str, Any] = {
        "n": n,
        "received": len(samples),
        "rows_on_b": receiver["rows"],
        "latency": summary(ns_of(total), "ms"),
        "a_store_to_xadd": summary(ns_of(a_side), "ms"),
        "xadd_to_b_listener": summary(ns_of(b_side), "ms"),
        "a_store_call": summary(sender["store_ns"], "ms"),
        "slowest": [
            {
                "key": k,
                "total_ms": (arr - t0) * 1e3,
                "a_side_ms": (xadd_ms[k] / 1000 - t0) * 1e3 if k in xadd_ms else None,
                "b_side_ms": (arr - xadd_ms[k] / 1000) * 1e3 if k in xadd_ms else None,
            }
            for k, (t0, arr) in slowest
        ],
        "b_peers": receiver["peers"],
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    lat = result["latency"]
    log(
        f"  coordinator: {len(samples)}/{n} received, p50 {lat['p50_ms']:.2f} ms, "
        f"p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms; A side p99 "
        f"{result['a_store_to_xadd']['p99_ms']:.1f} ms, B side p99 "
        f"{result['xadd_to_b_listener']['p99_ms']:.1f} ms"
    )

    log("   raw baseline: XADD -> XREAD BLOCK, same pauses")
    procs = Procs()
    go = procs.ctx.Event()
    stream = "bench:raw:lat"
    procs.start(raw_lat_receiver, url, stream, n, procs.ready)
    procs.wait_ready(1)
    procs.start(raw_lat_sender, url, stream, n, seed, procs.ready, go)
    procs.wait_ready(1)
    go.set()
    raw = procs.results(2)
    procs.join()
    raw_lat = raw["raw receiver"]["lat_s"]
    result["raw"] = summary(ns_of(raw_lat), "ms")
    result["raw_received"] = len(raw_lat)
    log(
        f"  raw: {len(raw_lat)}/{n} received, p50 {result['raw']['p50_ms']:.2f} ms, "
        f"p99 {result['raw']['p99_ms']:.2f} ms"
    )
    return result


def shared_state(conn: sqlite3.Connection) -> list[list[Any]]:
    return [[ns, key, json.loads(value)] for ns, key, value in conn.execute(SHARED_QUERY)]


def throughput(tmp: Path, url: str, m: int, seed: int) -> dict[str, Any]:
    swarm = "bench-tp"
    tags = ("a", "b", "c")
    log(f"2. throughput: 3 hosts x {m} shared writes to {TP_KEYS} keys, sync threads on")
    procs = Procs()
    go, stop = procs.ctx.Event(), procs.ctx.Event()
    for n, tag in enumerate(tags):
        data_dir = tmp / f"tp-{tag}"
        procs.start(tp_host, str(data_dir), url, swarm, tag, m, seed + n, procs.ready, go, stop)
    converged_at = None
    states: list[list[list[Any]]] = []
    polls = 0
    try:
        procs.wait_ready(len(tags))
        load_before = os.getloadavg()
        go.set()
        hosts = procs.results(len(tags))
        written = max(h["end"] for h in hosts.values())
        conns = [
            sqlite3.connect(f"file:{tmp / f'tp-{tag}' / 'claude-tui.db'}?mode=ro", uri=True)
            for tag in tags
        ]
        deadline = time.time() + CONVERGE_DEADLINE_S
        while time.time() < deadline:
            polls += 1
            states = [shared_state(conn) for conn in conns]
            if states[0] == states[1] == states[2]:
                converged_at = time.time()
                break
            time.sleep(POLL_S)
        for conn in conns:
            conn.close()
        load_after = os.getloadavg()
    finally:
        stop.set()
        procs.join()
    started = min(h["start"] for h in hosts.values())
    lat = [t for h in hosts.values() for t in h["lat_ns"]]
    # A host's own field of a key gets a value from that host alone (another host's
    # whole-value store may only remove it, as a tombstone, once it has seen it): where
    # the converged value has it, it must hold that host's last write to the key.
    final = {key: value for _, key, value in states[0]} if states else {}
    keys_written = {key for h in hosts.values() for key in h["last"]}
    wrong, present, own = [], 0, 0
    for tag, h in hosts.items():
        for key, i in h["last"].items():
            own += 1
            value = final.get(key)
            if not isinstance(value, dict) or "common" not in value:
                wrong.append(f"{key}: {value!r}")
            elif f"f-{tag}" in value:
                present += 1
                if value[f"f-{tag}"] != i:
                    wrong.append(f"{key}.f-{tag} = {value[f'f-{tag}']} (last written {i})")
    result: dict[str, Any] = {
        "hosts": len(tags),
        "writes_per_host": m,
        "keys": TP_KEYS,
        "writes_per_s": len(lat) / (written - started),
        "write_seconds": written - started,
        "per_host_writes_per_s": {t: m / (h["end"] - h["start"]) for t, h in hosts.items()},
        "store": summary(lat, "ms"),
        "converged": converged_at is not None,
        "converge_after_last_write_s": (converged_at - written) if converged_at else None,
        "converge_after_first_write_s": (converged_at - started) if converged_at else None,
        "polls": polls,
        "state_rows": [len(s) for s in states],
        "keys_written": len(keys_written),
        "keys_match": set(final) == keys_written,
        "own_fields": own,
        "own_fields_present": present,
        "wrong": wrong[:20],
        "wrong_count": len(wrong),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    conv = result["converge_after_last_write_s"]
    log(
        f"  coordinator: {result['writes_per_s']:.0f} writes/s total, store p50 "
        f"{result['store']['p50_ms']:.2f} ms p99 {result['store']['p99_ms']:.2f} ms; "
        + (f"converged {conv * 1e3:.0f} ms after the last write" if conv is not None else "NOT")
        + f" ({result['state_rows']} rows, {len(wrong)} wrong values)"
    )

    log("   raw baseline: 3 processes, sqlite3 UPSERT+COMMIT (FULL) + XADD per write")
    procs = Procs()
    go = procs.ctx.Event()
    for n, tag in enumerate(tags):
        procs.start(
            tp_raw_host,
            str(tmp / f"tp-raw-{tag}.db"),
            url,
            "bench:raw:tp",
            tag,
            m,
            seed + n,
            procs.ready,
            go,
        )
    procs.wait_ready(len(tags))
    go.set()
    raw = procs.results(len(tags))
    procs.join()
    raw_lat = [t for h in raw.values() for t in h["lat_ns"]]
    raw_span = max(h["end"] for h in raw.values()) - min(h["start"] for h in raw.values())
    result["raw_writes_per_s"] = len(raw_lat) / raw_span
    result["raw_store"] = summary(raw_lat, "ms")
    log(
        f"  raw: {result['raw_writes_per_s']:.0f} writes/s total, p50 "
        f"{result['raw_store']['p50_ms']:.2f} ms p99 {result['raw_store']['p99_ms']:.2f} ms"
    )
    return result


def catchup(tmp: Path, url: str, k: int, seed: int) -> dict[str, Any]:
    swarm = "bench-catchup"
    c_dir, d_dir, pub_dir = (str(tmp / f"cu-{x}") for x in ("c", "d", "pub"))
    log(f"3. catch-up: host C offline while {k:,} shared events are published")
    joined = run_one(timed_open, c_dir, url, swarm)
    idle = run_one(timed_open, c_dir, url, swarm)
    publisher = run_one(catchup_publisher, pub_dir, url, swarm, k, seed)
    r = raw_redis(url)
    stream_len = int(r.xlen(stream_key(swarm)))
    r.close()
    log(f"  published {k:,} entries in {publisher['seconds']:.1f} s (stream length {stream_len:,})")
    caught = run_one(timed_open, c_dir, url, swarm)
    fresh = run_one(timed_open, d_dir, url, swarm)
    raw = run_one(catchup_raw, str(tmp / "cu-raw.db"), url, stream_key(swarm))
    result = {
        "k": k,
        "stream_length": stream_len,
        "publish_seconds": publisher["seconds"],
        "first_join_open_s": joined["open_s"],
        "idle_open_s": idle["open_s"],
        "catchup_open_s": caught["open_s"],
        "catchup_rows": caught["rows"],
        "catchup_notices": caught["notices"],
        "never_joined_open_s": fresh["open_s"],
        "never_joined_rows": fresh["rows"],
        "never_joined_last_resync": fresh["last_resync"],
        "raw_seconds": raw["seconds"],
        "raw_entries": raw["entries"],
    }
    log(
        f"  open: idle {idle['open_s'] * 1e3:.0f} ms, after {k:,} events "
        f"{caught['open_s']:.2f} s ({caught['rows']:,} rows), never joined "
        f"{fresh['open_s']:.2f} s ({fresh['rows']:,} rows); raw {raw['seconds']:.2f} s "
        f"({raw['entries']:,} entries)"
    )
    return result


# -- report -----------------------------------------------------------------------------


def _pair(stats: dict[str, Any]) -> str:
    return f"{stats['p50_ms']:.2f} / {stats['p99_ms']:.2f}"


def _ratio(ours: float, raw: float) -> str:
    return f"{ours / raw:.1f}x" if raw else "-"


def report_rows(res: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    rows: list[dict[str, str]] = []
    groups: list[str] = []

    def add(group: str, measure: str, measured: str, raw: str = "-", ratio: str = "-",
            target: str = "-", ok: bool | None = None) -> None:  # fmt: skip
        rows.append({"measure": measure, "measured": measured, "raw": raw, "ratio": ratio,
                     "target": target, "result": "info" if ok is None else
                     ("PASS" if ok else "FAIL")})  # fmt: skip
        groups.append(group)

    p = res["propagation"]
    lat, raw = p["latency"], p["raw"]
    add("p", f"propagation A store -> B listener, p50 / p99 ms ({p['n']} writes)", _pair(lat),
        _pair(raw), f"{_ratio(lat['p50_ms'], raw['p50_ms'])} "
        f"({_ratio(lat['p99_ms'], raw['p99_ms'])})", f"p99 < {TARGET_P99_MS:.0f} ms",
        lat["p99_ms"] < TARGET_P99_MS)  # fmt: skip
    add("p", "  writes received by B", f"{p['received']}/{p['n']}",
        f"{p['raw_received']}/{p['n']}", target="all", ok=p["received"] == p["n"])  # fmt: skip
    add("p", "  A: store start -> XADD, p50 / p99 ms", _pair(p["a_store_to_xadd"]))
    add("p", "  B: XADD -> listener, p50 / p99 ms", _pair(p["xadd_to_b_listener"]))
    add("p", "  A: store() call, p50 / p99 ms", _pair(p["a_store_call"]))
    add("p", "  max ms", f"{lat['max_ms']:.2f}", f"{raw['max_ms']:.2f}",
        _ratio(lat["max_ms"], raw["max_ms"]))  # fmt: skip

    t = res["throughput"]
    add("t", f"3 hosts x {t['writes_per_host']} shared writes, {t['keys']} keys: writes/s total",
        f"{t['writes_per_s']:,.0f}", f"{t['raw_writes_per_s']:,.0f}",
        _ratio(t["raw_writes_per_s"], t["writes_per_s"]) + " slower")  # fmt: skip
    add("t", "  write latency p50 / p99 ms", _pair(t["store"]), _pair(t["raw_store"]),
        f"{_ratio(t['store']['p50_ms'], t['raw_store']['p50_ms'])} "
        f"({_ratio(t['store']['p99_ms'], t['raw_store']['p99_ms'])})")  # fmt: skip
    conv = t["converge_after_last_write_s"]
    add("t", "  converged after the last write", f"{conv * 1e3:,.0f} ms" if conv is not None
        else f"not in {CONVERGE_DEADLINE_S:.0f} s", target=f"< {CONVERGE_DEADLINE_S:.0f} s",
        ok=conv is not None)  # fmt: skip
    first = t["converge_after_first_write_s"]
    add("t", "  converged after the first write", f"{first:.2f} s" if first is not None else "-")
    add("t", "  converged state: keys, own fields = last write",
        f"{t['state_rows'][0] if t['state_rows'] else 0}/{t['keys_written']} keys, "
        f"{t['wrong_count']} wrong", target="all keys, 0 wrong",
        ok=t["converged"] and t["keys_match"] and t["wrong_count"] == 0)  # fmt: skip
    add("t", "  own fields still present (others removed by later stores)",
        f"{t['own_fields_present']}/{t['own_fields']}")  # fmt: skip

    if "catchup" in res:
        c = res["catchup"]
        add("c", f"catch-up: open after {c['k']:,} events offline", f"{c['catchup_open_s']:.2f} s",
            f"{c['raw_seconds']:.2f} s", _ratio(c["catchup_open_s"], c["raw_seconds"]),
            f"{c['k']:,} rows", c["catchup_rows"] == c["k"])  # fmt: skip
        add("c", "  open with nothing to catch up", f"{c['idle_open_s'] * 1e3:.0f} ms")
        add("c", "  open of a host that never joined (full resync)",
            f"{c['never_joined_open_s']:.2f} s", target=f"{c['k']:,} rows",
            ok=c["never_joined_rows"] == c["k"])  # fmt: skip
    return rows, groups


NOTES = (
    "raw baselines: propagation = redis-py XADD in one process -> XREAD BLOCK in another; "
    "throughput = 3 processes doing sqlite3 UPSERT+COMMIT (WAL, synchronous=FULL) + XADD per "
    "write; catch-up = XREAD the stream in batches of 500 + sqlite3 UPSERT per batch."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_sync", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer writes and events")
    parser.add_argument("--no-catchup", action="store_true", help="skip the catch-up measure")
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)
    args.n = 100 if args.quick else 500
    args.m = 100 if args.quick else 300
    args.k = 1_000 if args.quick else 5_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="claude-tui-bench-sync-"))
    redis = None
    res: dict[str, Any] = {}
    try:
        redis = RedisServer(tmp)
        log(f"redis-server {redis.version} on port {redis.port}; data in {tmp}")
        res["meta"] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "quick": args.quick,
            "n": args.n,
            "m": args.m,
            "k": args.k,
            "seed": args.seed,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "redis": redis.version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_start": os.getloadavg(),
            "targets": {"propagation_p99_ms": TARGET_P99_MS},
        }
        res["propagation"] = propagation(tmp, redis.url, args.n, args.seed)
        res["throughput"] = throughput(tmp, redis.url, args.m, args.seed)
        if not args.no_catchup:
            res["catchup"] = catchup(tmp, redis.url, args.k, args.seed)
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    res["meta"]["elapsed_s"] = time.time() - started
    res["meta"]["loadavg_end"] = os.getloadavg()
    rows, groups = report_rows(res)
    res["table"] = rows
    res["failed"] = [r["measure"] for r in rows if r["result"] == "FAIL"]
    headers = {
        "measure": "measure",
        "measured": "measured",
        "raw": "raw baseline",
        "ratio": "ratio",
        "target": "target",
        "result": "result",
    }
    load = res["meta"]["loadavg_start"]
    print(
        f"Cross-host sync ({res['meta']['cpus']} CPUs, load average {load[0]:.2f} at start; "
        f"run took {res['meta']['elapsed_s']:.0f} s)"
    )
    print(render_table(headers, rows, groups))
    print(NOTES)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    with contextlib.suppress(ValueError):
        print(f"wrote {args.output.relative_to(ROOT)}")
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
