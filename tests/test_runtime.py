"""Regressions from the benchmark: own writes, reads never waiting on writers, log pruning."""

from __future__ import annotations

import sqlite3
import time

from claude_tui.core.coordinator import MemoryCoordinator
from tests.test_coherence import _rewrite_in_another_process

# Own writes in a row: past the 1,024 a fixed-size memory of them would typically keep
# (the regression these tests hold off), at ~1.5 ms a write. (The timings these tests
# once asserted are bench_memory's to measure.)
N_OWN = 1500


def test_own_writes_never_count_as_remote_changes(coordinator):
    s = coordinator.sessions.create()
    m = coordinator.memory
    for i in range(N_OWN):  # more than a fixed-size memory of "our" rows would hold
        m.store(f"k{i}", i, session_id=s.id)
    assert len(coordinator.rt._own) == 0  # nothing foreign was unseen: nothing to remember
    _rewrite_in_another_process(coordinator.config, s.id, "other", "x")
    assert m.get("k0", session_id=s.id).value == 0
    # Our own entries stayed cached (neither dropped nor read back); only the foreign
    # write was applied.
    assert m.get("k0", session_id=s.id).tier == "l1"
    assert m.get(f"k{N_OWN - 1}", session_id=s.id).tier == "l1"
    assert m.get("other", session_id=s.id).value == "x"


def test_ranges_are_kept_only_while_foreign_rows_are_unseen(coordinator):
    s = coordinator.sessions.create()
    _rewrite_in_another_process(coordinator.config, s.id, "foreign", "1")
    coordinator.memory.store("mine", 1, session_id=s.id)  # a foreign row is still unseen
    assert len(coordinator.rt._own) == 1
    remote = coordinator.poll_changes()
    assert [e.ckey.split("\x1f")[-1] for e in remote if e.ckey] == ["foreign"]
    assert len(coordinator.rt._own) == 0
    assert coordinator.memory.get("mine", session_id=s.id).tier == "l1"


def test_a_read_never_waits_for_another_writers_lock(coordinator):
    s = coordinator.sessions.create()
    coordinator.memory.store("k", 1, session_id=s.id)
    coordinator.memory.get("k", session_id=s.id)
    blocker = sqlite3.connect(coordinator.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        coordinator.memory._last_flush = 0.0  # the next read wants to flush access counts
        started = time.perf_counter()
        assert coordinator.memory.get("k", session_id=s.id).value == 1
        assert time.perf_counter() - started < 0.5
        assert coordinator.memory._touches  # counts kept for a later flush
    finally:
        blocker.execute("ROLLBACK")
    coordinator.memory.flush_access()
    assert coordinator.memory._touches == {}
    assert coordinator.memory.list(session_id=s.id)[0].access_count == 2


def test_pruning_the_change_log_makes_lagging_readers_drop_their_cache(coordinator):
    s = coordinator.sessions.create()
    coordinator.memory.store("k", "v1", session_id=s.id)
    with MemoryCoordinator.open(coordinator.config) as reader:
        assert reader.memory.get("k", session_id=s.id).value == "v1"
        assert reader.memory.get("k", session_id=s.id).tier == "l1"
        coordinator.memory.store("k", "v2", session_id=s.id)
        coordinator.memory.store("unrelated", 1, session_id=s.id)
        # Prune everything, including the rows the reader has not seen yet.
        assert coordinator.store.prune_change_log(time.time() + 60) > 0
        coordinator.memory.store("after", 1, session_id=s.id)
        assert reader.memory.get("k", session_id=s.id).value == "v2"
    conn = sqlite3.connect(coordinator.store.path)
    assert conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == 1


def test_own_writes_after_an_unseen_foreign_write_stay_cheap(coordinator):
    s = coordinator.sessions.create()
    _rewrite_in_another_process(coordinator.config, s.id, "foreign", "1")
    m = coordinator.memory
    for i in range(N_OWN):  # all written while a foreign row is still unseen
        m.store(f"k{i}", i, session_id=s.id)
    assert len(coordinator.rt._own) == 1  # consecutive own writes merge into one range
    # Draining the N_OWN + 1 rows keeps our cache: the newest of ours is still in L1.
    assert m.get(f"k{N_OWN - 1}", session_id=s.id).tier == "l1"
    assert m.get("foreign", session_id=s.id).value == "1"
    assert coordinator.rt._own == []
