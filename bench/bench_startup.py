"""Start-up benchmark: wall time of short-lived ``claude-tui`` processes, spawn to exit.

Cases, each run N times (default 30) after a warm-up, interleaved round by round so
drift on a shared machine hits every case alike:

- ``python -c pass``: the floor (interpreter start, ``site``), same interpreter.
- ``python -c "import claude_tui.cli.main"``: what importing the entry point costs.
- ``claude-tui --version``: argument parsing only, no data dir.
- ``claude-tui memory get KEY`` on a data dir holding 100,000 memory entries, with
  Redis off (``CLAUDE_TUI_REDIS=off``), with the private redis-server of the data
  dir (started once before measuring, as the first ``claude-tui`` of a session
  would), and with an already running Redis given by ``CLAUDE_TUI_REDIS_URL``
  (a server this benchmark starts on a free port, like ``bench_memory``).

How: the entries are written through the door (``records/memory.py``: prepare, then
upsert) inside one write transaction of a coordinator, as shared memory (no session),
so the CLI reads them the way a hook would. Each sample is ``subprocess.run`` of the
installed ``claude-tui`` console script (the interpreter of this run), output thrown
away, timed with ``time.perf_counter_ns``. The key read is a random existing one per
sample. Reused by other start-up benchmarks: ``bench.common.spawn_times`` and
:func:`cli_argv`, :func:`cli_env`, :func:`build_data_dir` here.

Targets (issue "short-lived processes that start fast"): ``memory get`` p50 <= 150 ms.

Run from the project root: ``python -m bench.bench_startup [--runs 30] [--entries 100000]``.
Prints a table and writes ``bench/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import RedisServer, render_table, spawn_times, summary

RESULTS = Path(__file__).resolve().parent / "results" / "startup.json"
DEFAULT_RUNS = 30
DEFAULT_ENTRIES = 100_000
WARMUP = 3
BATCH = 20_000
TARGET_GET_P50_MS = 150.0


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cli_argv(*args: str) -> list[str]:
    """``claude-tui ARGS`` as installed next to this interpreter (else ``python -m``)."""
    script = Path(sys.executable).with_name("claude-tui")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), *args]
    return [sys.executable, "-m", "claude_tui", *args]


def cli_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """This environment without any ``CLAUDE_TUI_*`` setting, then the data dir and ``overrides``.

    Keyword names are the variables without the prefix: ``cli_env(d, REDIS="off")``.
    ``PYTHONDONTWRITEBYTECODE`` is dropped: an installed package has its bytecode
    compiled, so the warm-up writes what is missing instead of every run compiling it.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLAUDE_TUI_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["CLAUDE_TUI_DATA_DIR"] = str(data_dir)
    env.update({f"CLAUDE_TUI_{k}": v for k, v in overrides.items()})
    return env


def build_data_dir(data_dir: Path, n: int, rng: random.Random) -> list[str]:
    """Create a data dir holding ``n`` shared memory entries; return their keys.

    Written through the memory door inside write transactions of ``BATCH`` rows, so the
    FTS and change-log triggers run as for real writes.
    """
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.models import SWARM_SCOPE
    from claude_tui.core.records import memory as memory_door

    keys = [f"bench/{rng.getrandbits(40):010x}/{i}" for i in range(n)]
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        guard, origin = c.guard, c.store.node_id
        for start in range(0, n, BATCH):
            chunk = keys[start : start + BATCH]
            sealed = [
                memory_door.prepare(
                    guard, key, "default",
                    json.dumps({"n": start + i, "text": f"note {key} " + "x" * rng.randrange(150)}),
                )
                for i, key in enumerate(chunk)
            ]  # fmt: skip
            now = time.time()

            def body(
                conn: Any, chunk: list[str] = chunk, sealed: list[Any] = sealed, now: float = now
            ) -> None:
                for key, value in zip(chunk, sealed, strict=True):
                    memory_door.upsert(
                        conn, value, key=key, namespace="default", scope=SWARM_SCOPE,
                        session_id=None, agent_id=None, memory_type="shared", expires=None,
                        now=now, origin=origin,
                    )  # fmt: skip

            c.rt.write(body)
    return keys


def _fmt(ms: float) -> str:
    return f"{ms:.1f} ms"


RUFLO_BIN = (
    Path(__file__).resolve().parent.parent / ".cache/claude-flow/node_modules/.bin/claude-flow"
)
RUFLO_RUNS = 10  # one of its CLI calls takes a second or more
RUFLO_ENTRIES = 5  # stored through its own CLI, one process (about 1.5 s) each


def ruflo_times(work: Path, runs: int) -> list[int] | None:
    """Ruflo's (claude-flow's) ``memory retrieve`` wall times, or None when it is not installed.

    Its memory lives in ``<cwd>/.swarm``; ``HOME`` is a temp dir so nothing of the
    user's is read. Its store holds a handful of entries: its best case, beside
    ours at 100,000.
    """
    if not RUFLO_BIN.is_file():
        return None
    import subprocess

    home = work / "home"
    home.mkdir(parents=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "NO_COLOR": "1"}
    log("Ruflo: memory init and a few stores")

    def ruflo(*args: str) -> None:
        subprocess.run([str(RUFLO_BIN), *args], cwd=work, env=env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip

    ruflo("memory", "init")
    for i in range(RUFLO_ENTRIES):
        ruflo("memory", "store", "-k", f"key-{i}", "--value", f"value number {i}")
    argv = [str(RUFLO_BIN), "memory", "retrieve", "-k", "key-1"]
    return spawn_times(argv, env, n=runs, warmup=1, cwd=work, timeout=120)


def measure(
    cases: dict[str, tuple[Sequence[str], dict[str, str] | None]],
    runs: int,
    keys: list[str],
    rng: random.Random,
) -> dict[str, list[int]]:
    """Warm every case up, then ``runs`` rounds of one sample per case (``{KEY}``: a random key)."""

    def argv_of(argv: Sequence[str]) -> list[str]:
        key = rng.choice(keys)
        return [key if a == "{KEY}" else a for a in argv]

    for name, (argv, env) in cases.items():
        log(f"warm-up: {name}")
        spawn_times(argv_of(argv), env, n=0, warmup=WARMUP)
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (argv, env) in cases.items():
            samples[name].extend(spawn_times(argv_of(argv), env, n=1, warmup=0))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--entries", type=int, default=DEFAULT_ENTRIES)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    server: RedisServer | None = None
    private_env: dict[str, str] | None = None
    try:
        data_dir = tmp / "data"
        log(f"writing {args.entries:,} entries")
        started = time.perf_counter()
        keys = build_data_dir(data_dir, args.entries, rng)
        log(f"  done in {time.perf_counter() - started:.1f} s")
        db_bytes = (data_dir / "claude-tui.db").stat().st_size
        server = RedisServer(tmp)
        off = cli_env(data_dir, REDIS="off")
        private_env = cli_env(data_dir)
        running = cli_env(data_dir, REDIS_URL=server.url)
        py = sys.executable
        import_main = "import claude_tui.cli.main"
        cases: dict[str, tuple[Sequence[str], dict[str, str] | None]] = {
            "python -c pass (floor)": ([py, "-c", "pass"], off),
            f"python -c '{import_main}'": ([py, "-c", import_main], off),
            "claude-tui --version": (cli_argv("--version"), off),
            "memory get, Redis off": (cli_argv("memory", "get", "{KEY}"), off),
            "memory get, private Redis": (cli_argv("memory", "get", "{KEY}"), private_env),
            "memory get, running Redis (URL)": (cli_argv("memory", "get", "{KEY}"), running),
        }  # fmt: skip
        samples = measure(cases, args.runs, keys, rng)
        floor_name = next(iter(cases))
        ruflo = ruflo_times(tmp / "ruflo", min(args.runs, RUFLO_RUNS))
        if ruflo is not None:
            samples[f"Ruflo memory retrieve ({RUFLO_ENTRIES} entries)"] = ruflo
    finally:
        if private_env is not None:  # the private server outlives the CLI: stop it
            import subprocess

            stop = cli_argv("redis", "stop")
            subprocess.run(stop, env=private_env, capture_output=True, check=False)
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    floor = summary(samples[floor_name], "ms")["p50_ms"]
    results = []
    for name, ns in samples.items():
        s = summary(ns, "ms")
        results.append({"case": name, **s, "p50_over_floor": s["p50_ms"] / floor})
    rows = [
        {"case": r["case"], "p50": _fmt(r["p50_ms"]), "p99": _fmt(r["p99_ms"]),
         "max": _fmt(r["max_ms"]), "ratio": f"{r['p50_over_floor']:.1f}x"}
        for r in results
    ]  # fmt: skip
    get_p50 = max(r["p50_ms"] for r in results if r["case"].startswith("memory get"))
    print(
        f"{args.entries:,} entries ({db_bytes / 1e6:.0f} MB db), {args.runs} runs per case "
        f"after {WARMUP} warm-up; Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(
        render_table(
            {"case": "CASE", "p50": "P50", "p99": "P99", "max": "MAX", "ratio": "P50/FLOOR"},
            rows,
            [0, 0, 1, 2, 2, 2, 3][: len(rows)],
        )
    )
    if not any(r["case"].startswith("Ruflo") for r in results):
        print(f"(Ruflo's CLI not measured: `make claude-flow` installs it into {RUFLO_BIN.parent})")
    verdict = "meets" if get_p50 <= TARGET_GET_P50_MS else "misses"
    print(f"\nslowest memory get p50 {get_p50:.1f} ms: {verdict} {TARGET_GET_P50_MS:.0f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "runs": args.runs, "warmup": WARMUP, "entries": args.entries, "db_bytes": db_bytes,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "target_get_p50_ms": TARGET_GET_P50_MS,
    }  # fmt: skip
    RESULTS.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
