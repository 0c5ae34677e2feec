"""Child processes for the concurrent-restore tests (run as ``python -m tests.restore_helpers``).

``writer DATA_DIR SESSION`` stores ``w-0``, ``w-1``, ... one by one through a
real coordinator and prints ``ack w-N`` once each store returned
(acknowledged), until it is killed (the tests end it with ``SIGKILL``: nothing
it acknowledged may depend on a clean close). When a restore replaced the file
it has open it prints ``replaced``, reopens the data dir and stores the same
key again on the new file. Any other error: ``ERROR <type>: <message>`` and
exit 1. Kill points come from ``CLAUDE_TUI_FAULT`` as for any process.
``holder DATA_DIR SESSION`` keeps the data dir open without writing (below).
"""

from __future__ import annotations

import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import ClaudeTUIError, StoreReplaced


def writer(data_dir: str, session_id: str) -> None:
    """Store keys until killed; print each acknowledged one."""
    config = Config.load(data_dir, env={}, redis_enabled=False)
    c = MemoryCoordinator.open(config, use_redis=False)
    print("ready", flush=True)
    i = 0
    while True:
        key = f"w-{i}"
        try:
            c.memory.store(key, i, session_id=session_id)
        except StoreReplaced:
            print("replaced", flush=True)
            c.close()
            c = MemoryCoordinator.open(config, use_redis=False)
            continue  # the same key again, on the restored file
        except ClaudeTUIError as exc:
            print(f"ERROR {type(exc).__name__}: {exc.message}", flush=True)
            sys.exit(1)
        print(f"ack {key}", flush=True)
        i += 1


def holder(data_dir: str, session_id: str) -> None:
    """Store ``before``, then hold the data dir open, idle, until a line on stdin; store ``after``.

    Idle, it never meets a swap journal itself: whoever opens the data dir next must.
    """
    config = Config.load(data_dir, env={}, redis_enabled=False)
    c = MemoryCoordinator.open(config, use_redis=False)
    c.memory.store("before", 1, session_id=session_id)
    print("ack before", flush=True)
    print("ready", flush=True)
    sys.stdin.readline()
    while True:
        try:
            c.memory.store("after", 2, session_id=session_id)
            break
        except StoreReplaced:
            print("replaced", flush=True)
            c.close()
            c = MemoryCoordinator.open(config, use_redis=False)
    print("ack after", flush=True)
    sys.stdin.readline()  # held open until the test kills it


if __name__ == "__main__":
    {"writer": writer, "holder": holder}[sys.argv[1]](*sys.argv[2:])
