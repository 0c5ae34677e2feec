"""A scheduler worker with a test job (run as ``python -m tests.scheduler_helpers DATA_DIR``).

The ``tick`` job fires every second and records a ``test.tick`` metric with
the worker's pid, so a test can tell from the database which process ran jobs.
"""

from __future__ import annotations

import os
import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import JobSpec, Scheduler, every, run_worker


def tick(c: MemoryCoordinator) -> str:
    c.metrics.record("test.tick", 1, metadata={"pid": os.getpid()})
    return f"tick from {os.getpid()}"


def main(data_dir: str) -> int:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    jobs = [JobSpec("tick", every(seconds=1), tick, run_if_never=True)]
    with MemoryCoordinator.open(config) as c:
        return run_worker(c, jobs=jobs, lease_retry=0.5)


def hourly(c: MemoryCoordinator) -> str:
    return "hourly ran"


HOURLY = [JobSpec("hourly", every(hours=1), hourly)]


def once_at(data_dir: str, at: float, job: str | None) -> int:
    """Another process's scheduler at clock ``at``: run what is due (or ``job``), print it."""
    import json

    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as c:
        s = Scheduler(c, jobs=None if job else HOURLY, clock=lambda: at)
        ran = [s.run_now(job)] if job else s.run_once() or []
        print(json.dumps([[st.name, st.last_status, st.last_message] for st in ran]))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--at":  # --at EPOCH [--job NAME] DATA_DIR
        named = sys.argv[3] == "--job"
        sys.exit(once_at(sys.argv[-1], float(sys.argv[2]), sys.argv[4] if named else None))
    sys.exit(main(sys.argv[1]))
