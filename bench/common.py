"""Measurement helpers shared by the benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claude_tui.core.stats import percentile

NS_PER = {"us": 1_000.0, "ms": 1_000_000.0}


def summary(samples_ns: Sequence[int], unit: str = "us") -> dict[str, Any]:
    """p50/p90/p99/p99.9/max/mean of nanosecond samples, in ``unit`` (us or ms)."""
    scale = NS_PER[unit]
    ordered = sorted(samples_ns)
    n = len(ordered)
    return {
        "n": n,
        f"p50_{unit}": percentile(ordered, 50) / scale,
        f"p90_{unit}": percentile(ordered, 90) / scale,
        f"p99_{unit}": percentile(ordered, 99) / scale,
        f"p999_{unit}": percentile(ordered, 99.9) / scale,
        f"max_{unit}": (ordered[-1] / scale) if n else 0.0,
        f"mean_{unit}": (sum(ordered) / n / scale) if n else 0.0,
    }


def timed(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(nanoseconds, result) of one call."""
    start = time.perf_counter_ns()
    result = fn()
    return time.perf_counter_ns() - start, result


def render_table(headers: dict[str, str], rows: list[dict[str, Any]], groups: list[Any]) -> str:
    """Aligned columns under a header and a rule; a blank line where ``groups`` changes.

    ``rows`` hold the cells by column key, already formatted as text.
    """
    cols = list(headers)
    cells = [[str(row[c]) for c in cols] for row in rows]
    widths = [max(len(headers[c]), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(headers[c].ljust(w) for c, w in zip(cols, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for i, line in enumerate(cells):
        if i and groups[i] != groups[i - 1]:
            out.append("")
        out.append("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(out)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server on 127.0.0.1 and a free port, keeping nothing on disk.

    Started by the constructor (waits for PING); ``stop()`` ends it.
    """

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not on PATH; the benchmark needs a real Redis")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise SystemExit(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        self.version = str(client.info("server").get("redis_version"))
        client.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def spawn_times(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    n: int = 30,
    *,
    warmup: int = 3,
    cwd: Path | str | None = None,
    timeout: float = 60.0,
) -> list[int]:
    """Wall nanoseconds of ``n`` runs of ``argv``, each from spawn to exit (``subprocess.run``).

    ``warmup`` runs come first and are not counted (page cache, bytecode). Output is
    discarded; a run that exits non-zero stops the benchmark with its stderr, since a
    fast failure is no measurement. ``env`` replaces the environment (None: inherit).
    """
    samples: list[int] = []
    for i in range(warmup + n):
        start = time.perf_counter_ns()
        done = subprocess.run(
            list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter_ns() - start
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace').strip()[-500:]}"
            )
        if i >= warmup:
            samples.append(elapsed)
    return samples
