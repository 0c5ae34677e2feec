"""Cross-process coherence: a write in one process reaches the other processes' L1 at once."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.conftest import ROOT


def _rewrite_in_another_process(config: Config, session_id: str, key: str, value: str) -> None:
    url = config.redis_url if config.redis_enabled and config.redis_url else "-"
    subprocess.run(
        [sys.executable, "-m", "tests.workers", "store_one", str(config.data_dir), url,
         session_id, key, value],
        cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "no-redis"])
def test_process_a_reads_the_value_process_b_just_wrote(data_dir, redis_server, with_redis):
    if with_redis:
        config = Config.load(data_dir, env={}, redis_url=redis_server.url)
    else:
        config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as a:
        s = a.sessions.create()
        a.memory.store("plan", "v1", session_id=s.id)
        assert a.memory.get("plan", session_id=s.id).tier == "l1"
        for version in ("v2", "v3"):
            _rewrite_in_another_process(config, s.id, "plan", version)
            entry = a.memory.get("plan", session_id=s.id)
            assert entry.value == version
            assert entry.tier != "l1"  # the stale L1 copy was dropped, not served
        # Known-absent keys are invalidated the same way.
        assert a.memory.get("later", session_id=s.id) is None
        _rewrite_in_another_process(config, s.id, "later", "now here")
        assert a.memory.get("later", session_id=s.id).value == "now here"


def test_remote_changes_reach_listeners(coordinator):
    s = coordinator.sessions.create()
    seen = []
    coordinator.events.subscribe(seen.extend)
    _rewrite_in_another_process(coordinator.config, s.id, "k", "v")
    remote = coordinator.poll_changes()
    assert [(e.table, e.local) for e in remote] == [("memory_entries", False)]
    assert seen == remote
    assert coordinator.poll_changes() == []


def test_without_per_read_checks_pubsub_invalidates_l1(data_dir, redis_server):
    """With strict coherence off, the watcher thread (woken by pub/sub) drops stale copies."""
    config = Config.load(data_dir, env={}, redis_url=redis_server.url, strict_coherence=False)
    with MemoryCoordinator.open(config) as a:
        s = a.sessions.create()
        a.memory.store("k", "v1", session_id=s.id)
        assert a.memory.get("k", session_id=s.id).tier == "l1"
        drained = threading.Event()  # the watcher drops stale copies, then publishes
        a.events.subscribe(
            lambda events: (
                any(e.table == "memory_entries" and not e.local for e in events) and drained.set()
            )
        )
        _rewrite_in_another_process(config, s.id, "k", "v2")
        assert drained.wait(5), "the watcher never drained the other process's write"
        assert a.memory.get("k", session_id=s.id).value == "v2"
