"""Child processes for the concurrency and coherence tests (run as ``python -m tests.workers``)."""

from __future__ import annotations

import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator


def _config(data_dir: str, redis_url: str) -> Config:
    if redis_url == "-":
        return Config.load(data_dir, env={}, redis_enabled=False)
    return Config.load(data_dir, env={}, redis_url=redis_url)


def write_many(data_dir: str, redis_url: str, session_id: str, prefix: str, count: str) -> None:
    """Store ``count`` distinct keys; print how many stores were acknowledged."""
    acknowledged = 0
    with MemoryCoordinator.open(_config(data_dir, redis_url)) as c:
        for i in range(int(count)):
            c.memory.store(f"{prefix}-{i}", {"writer": prefix, "i": i}, session_id=session_id)
            acknowledged += 1
    print(acknowledged)


def store_one(data_dir: str, redis_url: str, session_id: str, key: str, value: str) -> None:
    """Rewrite one key (the 'process B' of the coherence test)."""
    with MemoryCoordinator.open(_config(data_dir, redis_url)) as c:
        c.memory.store(key, value, session_id=session_id)


def write_acked(data_dir: str, redis_url: str, session_id: str, prefix: str) -> None:
    """Store keys until killed; print each index once its store has returned (acknowledged)."""
    with MemoryCoordinator.open(_config(data_dir, redis_url)) as c:
        i = 0
        while True:
            c.memory.store(f"{prefix}-{i}", {"writer": prefix, "i": i}, session_id=session_id)
            print(i, flush=True)
            i += 1


def hold_open(data_dir: str, redis_url: str, session_id: str) -> None:
    """Open the data dir, write, then wait for a line on stdin before writing again."""
    with MemoryCoordinator.open(_config(data_dir, redis_url)) as c:
        c.memory.store("before", 1, session_id=session_id)
        print("ready", flush=True)
        sys.stdin.readline()
        c.memory.store("after", 2, session_id=session_id)
    print("done", flush=True)


if __name__ == "__main__":
    workers = {
        "write_many": write_many, "store_one": store_one, "write_acked": write_acked,
        "hold_open": hold_open,
    }  # fmt: skip
    workers[sys.argv[1]](*sys.argv[2:])
