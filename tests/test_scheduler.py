"""The scheduler: one lease holder per data dir, coalesced catch-up, loud failures, the worker.

Real APScheduler, real worker processes, real SQLite files. The jobs are
injected test jobs, so the engine is tested apart from the backup and
checkpoint services.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import (
    DEFAULT_JOB_NAMES,
    JobSpec,
    Scheduler,
    every,
)
from claude_tui.core.errors import NotFound
from tests.conftest import ROOT, run_cli
from tests.server_proc import wait_until


def _open(data_dir: Path) -> MemoryCoordinator:
    return MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False))


@pytest.fixture
def coord(data_dir: Path) -> Iterator[MemoryCoordinator]:
    with _open(data_dir) as c:
        yield c


def _set_meta(c: MemoryCoordinator, key: str, value: str) -> None:
    c.store.write(
        lambda conn: conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
    )


def _ticks(data_dir: Path) -> dict[int, int]:
    """Runs of the worker's tick job per pid, read straight from the database file."""
    conn = sqlite3.connect(f"file:{data_dir / 'claude-tui.db'}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT json_extract(metadata, '$.pid'), count(*) FROM metrics "
            "WHERE metric_type = 'test.tick' GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    return {int(pid): int(n) for pid, n in rows}


class Counter:
    """A job body counting its calls (thread-safe); a test can wait for a number of calls.

    ``error``: raised by each call (after it is counted) instead of returning ``result``.
    """

    def __init__(self, result: object = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error
        self._cond = threading.Condition()

    def __call__(self, c: MemoryCoordinator) -> object:
        with self._cond:
            self.calls += 1
            self._cond.notify_all()
        if self.error is not None:
            raise self.error
        return self.result

    def wait_calls(self, n: int, timeout: float = 10.0) -> None:
        """Return once the job ran ``n`` times; fail after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.calls >= n, timeout):
                raise AssertionError(f"the job ran {self.calls} time(s) in {timeout:g} s, not {n}")


class Gate:
    """A job body that holds each run until the test lets it go (runs overlap or not).

    Each run takes a ticket as it starts and waits until :meth:`release` let
    that many runs through, so whether two runs were inside at once is seen
    (``most``), not guessed from timings.
    """

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.inside = 0
        self.most = 0  # the most runs inside at once
        self._released = 0
        self._cond = threading.Condition()

    def __call__(self, c: MemoryCoordinator) -> str:
        with self._cond:
            ticket = self.started
            self.started += 1
            self.inside += 1
            self.most = max(self.most, self.inside)
            self._cond.notify_all()
            let_go = self._cond.wait_for(lambda: self._released > ticket, 30)
            self.inside -= 1
            self.finished += 1
            self._cond.notify_all()
        if not let_go:
            raise RuntimeError(f"run {ticket} was never released")
        return f"run {ticket}"

    def release(self) -> None:
        """Let one more run finish."""
        with self._cond:
            self._released += 1
            self._cond.notify_all()

    def wait(self, what: Callable[[], bool], timeout: float = 10.0, name: str = "") -> None:
        """Wait until ``what()`` (read under the gate's lock) holds; fail after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(what, timeout):
                raise AssertionError(
                    f"timed out waiting for {name}: started {self.started}, "
                    f"finished {self.finished}, inside {self.inside}"
                )


def _in_function(thread: threading.Thread, *names: str) -> bool:
    """Whether ``thread`` is now running (or blocked) inside a function called one of ``names``."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name in names:
            return True
        frame = frame.f_back
    return False


# -- lease: two worker processes ------------------------------------------------
def _spawn_worker(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_TUI_")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler_helpers", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def test_one_worker_holds_the_lease_and_another_takes_over_after_kill_9(
    data_dir: Path, tmp_path: Path
) -> None:
    with _open(data_dir):
        pass  # create the database before two processes race to migrate it
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_spawn_worker(data_dir, log) for log in logs]
    try:
        # Both are up and one of them is in standby (it says so on stderr)...
        wait_until(
            lambda: sum("standby" in log.read_text() for log in logs) == 1,
            timeout=20,
            what="one of the two workers in standby",
        )
        # ...while the holder ticks on: 5 runs (one a second) span several lease retries
        # (every 0.5 s) of the standby one, any of which would have shown as its own tick.
        wait_until(lambda: sum(_ticks(data_dir).values()) >= 5, timeout=20, what="5 ticks")
        ticks = _ticks(data_dir)
        assert len(ticks) == 1, f"more than one worker ran jobs: {ticks}"
        (holder_pid,) = ticks
        assert holder_pid in {p.pid for p in procs}
        info = json.loads((data_dir / "scheduler.lock").read_text())
        assert info["pid"] == holder_pid and info["host"] and info["started_at"] > 0

        holder = next(p for p in procs if p.pid == holder_pid)
        other = next(p for p in procs if p.pid != holder_pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed_at = time.monotonic()
        wait_until(lambda: _ticks(data_dir).get(other.pid, 0) >= 2, timeout=10, what="the takeover")
        assert time.monotonic() - killed_at < 6
        assert set(_ticks(data_dir)) == {holder_pid, other.pid}
        assert json.loads((data_dir / "scheduler.lock").read_text())["pid"] == other.pid

        other.send_signal(signal.SIGTERM)
        assert other.wait(15) == 0
        text = logs[procs.index(other)].read_text()
        assert "standby" in text and "took the scheduler lease" in text
        assert "job tick ok" in text and "Traceback" not in text
        assert (data_dir / "scheduler.lock").read_text() == ""  # released on a clean stop
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_standby_in_process_and_run_now_is_serialised(coord: MemoryCoordinator) -> None:
    gate = Gate()
    jobs = [JobSpec("slow", every(hours=1), gate)]
    with _open(coord.config.data_dir) as second:
        a = Scheduler(coord, jobs=jobs, lease_retry=0.5)
        b = Scheduler(second, jobs=jobs, lease_retry=0.5)
        a.start()
        b.start()
        try:
            assert (a.state, b.state) == ("running", "standby")
            assert b.holder() == {**a.holder(), "self": False}
            assert a.holder()["pid"] == os.getpid()
            threads = [threading.Thread(target=s.run_now, args=("slow",)) for s in (a, b, a, b)]
            for t in threads:
                t.start()
            for done in range(4):
                # One run is inside the job; every other caller has got as far as running
                # it (inside the scheduler's run), where only its locks can hold it back.
                gate.wait(lambda n=done: gate.started > n, name=f"run {done} to start")
                # (A caller whose run just ended may still be on its way out: it counts
                # once gone, as it has no frame left to be looked at.)
                waiting = [t for t in threads if t.is_alive()]
                wait_until(
                    lambda w=waiting: all(
                        not t.is_alive() or _in_function(t, "_execute") for t in w
                    ),
                    what="every caller inside the scheduler's run",
                )
                assert gate.inside == 1, f"{gate.inside} runs of one job at once"
                gate.release()
                gate.wait(lambda n=done: gate.finished > n, name=f"run {done} to finish")
            for t in threads:
                t.join(20)
            assert gate.finished == 4 and gate.most == 1
            (status,) = b.status()
            assert status.last_status == "ok" and status.last_run is not None
            with pytest.raises(NotFound):
                a.run_now("nope")
        finally:
            gate.release()  # whatever still waits (a failed assertion) ends
            for _ in range(4):
                gate.release()
            b.stop()
            a.stop()
        assert (a.state, b.state) == ("stopped", "stopped")
        assert a.holder() is None


def test_stop_waits_for_the_running_job_and_releases_the_lease(coord: MemoryCoordinator) -> None:
    gate = Gate()
    s = Scheduler(coord, jobs=[JobSpec("long", every(hours=1), gate, run_if_never=True)])
    s.start()
    order: list[str] = []
    try:
        gate.wait(lambda: gate.started == 1, name="the job to start")
        assert s.status()[0].running
        stopper = threading.Thread(target=lambda: (s.stop(), order.append("stopped")))
        stopper.start()
        # stop() is waiting in APScheduler's shutdown, for the job still held at the gate.
        wait_until(
            lambda: (
                not stopper.is_alive()
                or (_in_function(stopper, "shutdown") and _in_function(stopper, "join"))
            ),
            what="stop() to wait for the running job",
        )
        assert order == [] and gate.inside == 1, "stop() returned while the job ran"
        order.append("released")
        gate.release()
        stopper.join(20)
        assert not stopper.is_alive()
    finally:
        gate.release()
        s.stop()
    assert order == ["released", "stopped"]
    assert gate.finished == 1 and s.state == "stopped"
    assert coord.store.meta("job.long.last_status") == "ok"
    again = Scheduler(coord, jobs=[JobSpec("long", every(hours=1), gate)])
    again.start()
    try:
        assert again.state == "running"
    finally:
        again.stop()


# -- coalesced catch-up -----------------------------------------------------------
def test_missed_runs_are_coalesced_into_one_run_at_start(coord: MemoryCoordinator) -> None:
    now = time.time()
    _set_meta(coord, "job.x.last_run", repr(now - 10 * 86_400))  # 240 hourly runs missed
    _set_meta(coord, "job.recent.last_run", repr(now - 600))  # next one in 50 minutes
    x, recent, fresh, eager = Counter(), Counter(), Counter(), Counter()
    s = Scheduler(
        coord,
        jobs=[
            JobSpec("x", every(hours=1), x),
            JobSpec("recent", every(hours=1), recent),
            JobSpec("fresh", every(hours=1), fresh),
            JobSpec("eager", every(hours=1), eager, run_if_never=True),
        ],
    )
    assert s.due_jobs() == ["x", "eager"]
    s.start()
    try:
        x.wait_calls(1, 5)
        eager.wait_calls(1, 5)
        # Once both catch-up runs are recorded and none runs, APScheduler's plan is final:
        # every next run is (at least) 50 minutes away, so no burst of missed runs follows.
        wait_until(
            lambda: all(
                (st.last_run or 0) >= now - 1 and not st.running
                for st in s.status()
                if st.name in ("x", "eager")
            ),
            what="the catch-up runs recorded",
        )
        by_name = {st.name: st for st in s.status()}
        assert all(st.next_run is not None and st.next_run > now + 2900 for st in by_name.values())
        assert (x.calls, recent.calls, fresh.calls, eager.calls) == (1, 0, 0, 1)
        assert by_name["x"].last_status == "ok" and by_name["x"].last_run >= now - 1
        assert by_name["x"].next_run == pytest.approx(by_name["x"].last_run + 3600, abs=5)
        assert by_name["recent"].next_run == pytest.approx(now - 600 + 3600, abs=1)
        assert by_name["fresh"].last_run is None and by_name["fresh"].next_run > now + 3000
        assert s.due_jobs() == []
    finally:
        s.stop()
    # a restart right after runs nothing again
    s2 = Scheduler(coord, jobs=[JobSpec("x", every(hours=1), x)])
    s2.start()  # takes the lease and plans the jobs before it returns
    try:
        assert s2.state == "running" and s2.due_jobs() == []
        (planned,) = s2.status()
        assert planned.next_run is not None and planned.next_run > time.time() + 3000
    finally:
        s2.stop()
    assert x.calls == 1


# -- failures are loud ----------------------------------------------------------------
def test_a_failing_job_is_recorded_and_the_others_keep_running(
    coord: MemoryCoordinator, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Counter(error=RuntimeError("disk on fire"))
    good = Counter(result="fine")
    skipper = Counter(result=("skipped", "nothing changed"))
    s = Scheduler(
        coord,
        jobs=[
            JobSpec("bad", every(seconds=1), bad, run_if_never=True),
            JobSpec("good", every(seconds=1), good, run_if_never=True),
            JobSpec("skip", every(hours=1), skipper, run_if_never=True),
        ],
    )
    with caplog.at_level("INFO", logger="claude_tui.core.durability.scheduler"):
        s.start()
        try:
            bad.wait_calls(2)
            good.wait_calls(3)
            assert s.state == "running"
        finally:
            s.stop()  # waits for the running jobs, so their records are written
    assert len(coord.metrics.series("job.failed")) >= 2
    by_name = {st.name: st for st in s.status()}
    assert by_name["bad"].last_status == "failed"
    assert by_name["bad"].last_message == "RuntimeError: disk on fire"
    assert by_name["good"].last_status == "ok" and by_name["good"].last_message == "fine"
    assert by_name["skip"].last_status == "skipped"
    assert by_name["skip"].last_message == "nothing changed"
    failed = coord.metrics.series("job.failed")
    assert {m.metadata["job"] for m in failed} == {"bad"}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all("bad" in r.getMessage() for r in errors)
    assert "disk on fire" in errors[0].getMessage()


# -- the CLI worker -----------------------------------------------------------------------
def test_worker_once_runs_due_jobs_and_exits_0(data_dir: Path) -> None:
    with _open(data_dir) as c:
        s = c.sessions.create()
        c.memory.store("old", 1, session_id=s.id, ttl=3600)
        c.memory.store("keep", 2, session_id=s.id)
        c.store.write(
            lambda conn: conn.execute(
                "UPDATE memory_entries SET ttl = ? WHERE key = 'old'", (time.time() - 10,)
            )
        )
        # the backup jobs are owned by other services; mark them as just run
        for name in ("full", "differential", "incremental", "retention", "checkpoints"):
            _set_meta(c, f"job.{name}.last_run", repr(time.time()))
    first = run_cli(data_dir, "worker", "--once")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "ran 1 job(s)"
    assert "job purge ok" in first.stderr and "1 expired entries purged" in first.stderr
    assert "Traceback" not in first.stderr
    with _open(data_dir) as c:
        assert c.store.meta("job.purge.last_status") == "ok"
        assert c.store.scalar("SELECT count(*) FROM memory_entries WHERE key = 'old'") == 0
        assert c.store.scalar("SELECT count(*) FROM memory_entries WHERE key = 'keep'") == 1
    second = run_cli(data_dir, "worker", "--once")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "ran 0 job(s)"


def test_worker_with_bad_config_exits_2_with_one_line(data_dir: Path) -> None:
    (data_dir / "config.toml").write_text('[backup]\nfull_at = "25:99"\n')
    result = run_cli(data_dir, "worker", "--once")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "25:99" in lines[0] and "Traceback" not in result.stderr


def test_worker_help_and_default_job_names() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", "worker", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0 and "--once" in result.stdout
    assert DEFAULT_JOB_NAMES == (
        "full", "differential", "incremental", "retention", "purge", "checkpoints",
    )  # fmt: skip


# -- enable once claude_tui.core.durability.backups and .checkpoints exist ----------------
def test_default_jobs(data_dir: Path) -> None:
    """Rename to ``test_default_jobs`` once BackupService and CheckpointService are in.

    A new data dir: ``worker --once`` runs the first full backup and a purge;
    the default jobs are named and timed from the config.
    """
    with _open(data_dir) as c:
        s = c.sessions.create()
        c.memory.store("k", {"v": 1}, session_id=s.id)
        sched = Scheduler(c)
        assert sched.job_names == list(DEFAULT_JOB_NAMES)
        assert sched.due_jobs() == ["full", "purge"]
    result = run_cli(data_dir, "worker", "--once")
    assert result.returncode == 0, result.stderr
    assert "job full ok" in result.stderr and "job purge ok" in result.stderr
    with _open(data_dir) as c:
        sched = Scheduler(c)
        by_name = {st.name: st for st in sched.status()}
        assert by_name["full"].last_status == "ok"
        assert by_name["purge"].last_status == "ok"
        assert by_name["incremental"].last_run is None
        assert sched.due_jobs() == []
        for name in ("incremental", "differential", "retention", "checkpoints"):
            sched.run_now(name)
        statuses = {st.name: st.last_status for st in sched.status()}
        assert set(statuses.values()) <= {"ok", "skipped"}, statuses
        assert statuses["full"] == "ok"
        assert c.metrics.series("job.failed") == []
        assert any(c.config.backups_path.iterdir())
