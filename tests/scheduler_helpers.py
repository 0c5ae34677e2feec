"""A scheduler worker with a test job (run as ``python -m tests.scheduler_helpers DATA_DIR``).

The ``tick`` job fires every second and records a ``test.tick`` metric with
the worker's pid, so a test can tell from the database which process ran jobs.
"""

from __future__ import annotations

import os
import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import JobSpec, every, run_worker


def tick(c: MemoryCoordinator) -> str:
    c.metrics.record("test.tick", 1, metadata={"pid": os.getpid()})
    return f"tick from {os.getpid()}"


def main(data_dir: str) -> int:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    jobs = [JobSpec("tick", every(seconds=1), tick, run_if_never=True)]
    with MemoryCoordinator.open(config) as c:
        return run_worker(c, jobs=jobs, lease_retry=0.5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
