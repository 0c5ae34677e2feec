"""Stopping the background memory indexer mid-pass: real SQLite, the real model, real Chroma.

A long first pass (a big import, a first start on an old database) used to run
on after ``stop()`` gave up waiting, and the coordinator then closed the store
and Chroma under it: "Cannot operate on a closed database" and an onnxruntime
abort at exit. The thread now stops between batches; these tests stop it right
after its first upsert (a hook on the real ``put``, no sleeps) and check what
it left: fewer vectors than entries, a cursor that claims nothing it did not
store, and a later pass that finishes the job without embedding anything twice.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.search import memory_index
from claude_tui.core.search.memory_index import MemoryIndexer, text_hash
from claude_tui.core.search.text import entry_text
from tests.conftest import ROOT, plain_env

SMALL_BATCH = 16  # vectors per upsert here: a pass of ENTRIES takes several batches
ENTRIES = 6 * SMALL_BATCH + 5
WAIT = 120.0  # a bound on waits for the real model on a busy machine, never a pause


def open_c(root: Path) -> MemoryCoordinator:
    root.mkdir(parents=True, exist_ok=True)
    return MemoryCoordinator.open(Config.load(root, env={}, redis_enabled=False))


def fill(c: MemoryCoordinator, n: int, prefix: str = "k") -> None:
    s = c.sessions.create()
    for i in range(n):
        c.memory.store(f"{prefix}{i}", f"note {i} about {prefix} and the cache", session_id=s.id)


def wanted_hashes(c: MemoryCoordinator) -> dict[int, str]:
    model = c.search.indexer.model_id
    rows = c.store.rows("SELECT id, key, value FROM memory_entries WHERE sensitive = 0")
    return {int(r[0]): text_hash(model, entry_text(r[1], r[2])) for r in rows}


class FirstUpsertHook:
    """Wraps the real ``put``: counts every id stored; after the first upsert of the
    background thread it signals ``first`` and holds that thread until ``stop()`` has
    set the stop flag, so the stop lands between two batches every time."""

    def __init__(self, indexer: MemoryIndexer) -> None:
        self.indexer = indexer
        self.first = threading.Event()
        self.put_ids: list[int] = []
        vectors = indexer.vectors
        self.real = vectors.put
        vectors.put = self.put  # type: ignore[method-assign]

    def put(self, ids: Sequence[int], vectors: Any, metas: Any) -> None:
        self.real(ids, vectors, metas)
        self.put_ids += list(ids)
        if threading.current_thread() is self.indexer._runner and not self.first.is_set():
            self.first.set()
            assert self.indexer._stop.wait(WAIT), "stop() never came"


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(memory_index, "PUT_BATCH", SMALL_BATCH)
    yield


def stop_after_first_upsert(indexer: MemoryIndexer, hook: FirstUpsertHook) -> float:
    """Start the background thread, stop it after its first upsert; the seconds stop() took."""
    indexer.start()
    assert hook.first.wait(WAIT), "the background pass never stored a batch"
    runner = indexer._runner
    assert runner is not None
    started = time.monotonic()
    indexer.stop()
    took = time.monotonic() - started
    assert not runner.is_alive(), "stop() returned with the indexer thread still running"
    return took


def test_stop_ends_a_first_pass_between_batches_and_the_next_pass_finishes_it(
    tmp_path: Path, small_batches: None
) -> None:
    with open_c(tmp_path / "d") as c:
        fill(c, ENTRIES)
        indexer = c.search.indexer
        hook = FirstUpsertHook(indexer)
        stop_after_first_upsert(indexer, hook)
        stored = indexer.vectors.count()
        assert SMALL_BATCH <= stored < ENTRIES  # it stopped after a batch, not after the pass
        assert stored == len(hook.put_ids)
        assert indexer.vectors.cursor() is None  # a first pass claims nothing until it ends
        assert indexer.pending() == ENTRIES  # so what is left is seen as left
        assert indexer.last_error is None  # stopping is not a failure

        # A foreground pass (another thread; the stop flag is still set) runs to its end
        # and embeds only what the stopped pass had not stored.
        done = indexer.drain()
        assert done.embedded == ENTRIES - stored and done.unchanged == stored
        assert indexer.vectors.all_hashes() == wanted_hashes(c)
        assert sorted(hook.put_ids) == sorted(set(hook.put_ids))  # no entry embedded twice
        assert len(hook.put_ids) == ENTRIES
        assert indexer.pending() == 0 and indexer.vectors.cursor() is not None


def test_stop_while_following_the_log_keeps_the_cursor_where_the_last_pass_left_it(
    tmp_path: Path, small_batches: None
) -> None:
    with open_c(tmp_path / "d") as c:
        fill(c, 3, prefix="early")
        indexer = c.search.indexer
        indexer.drain()
        before = indexer.vectors.cursor()
        assert before is not None
        fill(c, ENTRIES, prefix="late")
        hook = FirstUpsertHook(indexer)
        stop_after_first_upsert(indexer, hook)
        assert indexer.vectors.cursor() == before  # not moved past what was stored
        assert indexer.pending() == ENTRIES
        stored = indexer.vectors.count()
        assert 3 + SMALL_BATCH <= stored < 3 + ENTRIES

        done = indexer.drain()
        assert done.embedded == 3 + ENTRIES - stored and done.unchanged == stored - 3
        assert indexer.vectors.all_hashes() == wanted_hashes(c)
        assert len(hook.put_ids) == len(set(hook.put_ids)) == ENTRIES
        assert indexer.pending() == 0


# The app's and the CLI worker's way out: the indexer runs in the background and the
# coordinator is closed (store, Chroma) while its first pass is under way.
CLOSE_DURING_PASS = """
import sys, threading
from pathlib import Path
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.search import memory_index

memory_index.PUT_BATCH = int(sys.argv[2])
c = MemoryCoordinator.open(Config.load(Path(sys.argv[1]), env={}, redis_enabled=False))
indexer = c.search.indexer
vectors = indexer.vectors
real, first = vectors.put, threading.Event()

def put(ids, vecs, metas):
    real(ids, vecs, metas)
    if not first.is_set():
        first.set()
        indexer._stop.wait(120)  # hold the pass until close() asks it to stop

vectors.put = put
c.search.start_indexer()
assert first.wait(120), "no batch stored"
c.close()
print("closed", flush=True)
"""


def test_closing_the_coordinator_during_a_first_pass_exits_cleanly(
    tmp_path: Path,
) -> None:
    root = tmp_path / "d"
    with open_c(root) as c:
        fill(c, ENTRIES)
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_DURING_PASS, str(root), str(SMALL_BATCH)],
        cwd=ROOT, env=plain_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "closed"
    assert "Traceback" not in proc.stderr and "closed database" not in proc.stderr, proc.stderr
    with open_c(root) as c:
        indexer = c.search.indexer
        stored = indexer.vectors.count()
        assert SMALL_BATCH <= stored < ENTRIES  # the process ended mid-pass, not after it
        assert indexer.vectors.cursor() is None
        assert indexer.drain().embedded == ENTRIES - stored
        assert indexer.vectors.all_hashes() == wanted_hashes(c)
