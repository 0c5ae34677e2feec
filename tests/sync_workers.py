"""Host processes for the multi-host sync tests (run as ``python -m tests.sync_workers``)."""

from __future__ import annotations

import json
import random
import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator


def _config(data_dir: str, url: str) -> Config:
    return Config.load(data_dir, env={}, redis_enabled=False, sync_url=url)


def write_shared(data_dir: str, url: str, tag: str, count: str, keys: str) -> None:
    """Write ``count`` shared entries while following the stream, printing each acknowledged index.

    Even writes go to overlapping keys ``k0..k<keys-1>`` (JSON objects with a
    field of this host's own and a common one, or bare numbers); odd writes to
    a key of this host's alone, so every acknowledged write can be checked for.
    """
    rng = random.Random(tag)
    with MemoryCoordinator.open(_config(data_dir, url)) as c:
        assert c.sync is not None
        c.sync.start()  # receive while writing, as a running host does
        for i in range(int(count)):
            if i % 2:
                c.memory.store(f"u-{tag}-{i}", {"host": tag, "i": i}, memory_type="shared")
            else:
                key = f"k{rng.randrange(int(keys))}"
                value: object = {f"f-{tag}": i, "common": f"{tag}{i}"} if i % 3 else i
                c.memory.store(key, value, memory_type="shared")
            print(i, flush=True)
    print("closed", flush=True)


def dump_shared(data_dir: str, url: str) -> None:
    """Open (which catches up) and print the host's shared state as JSON."""
    with MemoryCoordinator.open(_config(data_dir, url)) as c:
        rows = c.store.rows(
            "SELECT namespace, key, value FROM memory_entries WHERE scope = 'swarm' ORDER BY 1, 2"
        )
        print(json.dumps([[ns, key, json.loads(value)] for ns, key, value in rows]))


if __name__ == "__main__":
    workers = {"write_shared": write_shared, "dump_shared": dump_shared}
    workers[sys.argv[1]](*sys.argv[2:])
