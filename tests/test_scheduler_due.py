"""Due times come from the data dir, not from process start; a full taken instead says why.

An injected clock stands in for the hours between launches (no sleep): the
scheduler's plan is read back from APScheduler while it holds the lease, and
another process (``tests.scheduler_helpers --at``) runs what is due at a given
time on the same data dir. Backups and restores are the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import Scheduler
from tests.conftest import ROOT, plain_env, run_cli
from tests.scheduler_helpers import HOURLY

pytestmark = pytest.mark.timeout(120)


class Clock:
    """A wall clock the test moves."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _open(data_dir: Path) -> MemoryCoordinator:
    return MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False))


def _other_process(data_dir: Path, at: float, job: str | None = None) -> list[list[str]]:
    """Run what is due at ``at`` (or ``job``) in another process on the same data dir."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.scheduler_helpers", "--at", repr(at),
         *(["--job", job] if job else []), str(data_dir)],
        capture_output=True, text=True, cwd=ROOT, env=plain_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ran: list[list[str]] = json.loads(result.stdout)
    return ran


def _planned(s: Scheduler, name: str) -> float | None:
    return next(st.next_run for st in s.status() if st.name == name)


def test_a_never_run_job_is_due_one_period_after_first_planned_not_after_each_start(
    data_dir: Path,
) -> None:
    # 50 minutes ago: the plans land in the real future, so APScheduler (which fires
    # on the real clock) never runs the job while the test looks at them.
    t0 = time.time() - 50 * 60
    clock = Clock(t0)
    with _open(data_dir) as c:
        plans = []
        for minutes in (0, 7, 9, 14):  # four launches, as in the report: 19:05, 19:12, ...
            clock.t = t0 + minutes * 60
            s = Scheduler(c, jobs=HOURLY, clock=clock)
            s.start()
            try:
                assert s.state == "running"
                plans.append(_planned(s, "hourly"))
            finally:
                s.stop()
        assert plans == [pytest.approx(t0 + 3600, abs=0.01)] * 4
        assert c.store.meta("job.hourly.since") == repr(t0)
        # A scheduler that is not running shows the same plan from the data dir.
        assert _planned(Scheduler(c, jobs=HOURLY, clock=clock), "hourly") == pytest.approx(
            t0 + 3600, abs=0.01
        )
    # Another process: not due at 59 minutes, due (and run once) at 61.
    assert _other_process(data_dir, t0 + 59 * 60) == []
    assert _other_process(data_dir, t0 + 61 * 60) == [["hourly", "ok", "hourly ran"]]
    assert _other_process(data_dir, t0 + 62 * 60) == []
    with _open(data_dir) as c:
        later = Scheduler(c, jobs=HOURLY, clock=Clock(t0 + 63 * 60))
        assert later.due_jobs() == []
        assert _planned(later, "hourly") == pytest.approx(t0 + 61 * 60 + 3600, abs=0.01)


def test_the_first_incremental_after_a_restore_says_it_took_a_full_and_why(
    data_dir: Path,
) -> None:
    run_cli(data_dir, "memory", "store", "a", "1", check=True)
    run_cli(data_dir, "backup", "run", "--kind", "full", check=True)
    run_cli(data_dir, "memory", "store", "b", "2", check=True)
    inc = run_cli(data_dir, "backup", "run", "--kind", "incremental", check=True)
    assert inc.stdout.startswith("incremental backup ") and inc.stderr == ""
    incremental_id = inc.stdout.split()[2].rstrip(":")
    run_cli(data_dir, "backup", "restore", "latest", "--yes", check=True)
    run_cli(data_dir, "memory", "store", "c", "3", check=True)

    # The scheduler's incremental job, in another process: a full, and it says why.
    [[name, status, message]] = _other_process(data_dir, time.time(), job="incremental")
    assert (name, status) == ("incremental", "ok")
    assert message.startswith("full backup b_"), message
    assert "took a full backup instead of the incremental asked for" in message
    assert f"restored from backup {incremental_id}" in message and "new backup chain" in message
    listed = json.loads(run_cli(data_dir, "backup", "list", "--json", check=True).stdout)
    assert listed[-1]["kind"] == "full" and listed[-1]["extra"] == {"asked": "incremental"}
    # The next incremental builds on that full: a real incremental, with no note.
    run_cli(data_dir, "memory", "store", "d", "4", check=True)
    again = run_cli(data_dir, "backup", "run", "--kind", "incremental", check=True)
    assert again.stdout.startswith("incremental backup ") and again.stderr == ""

    # The CLI says the same after the next restore.
    run_cli(data_dir, "backup", "restore", "latest", "--yes", check=True)
    run_cli(data_dir, "memory", "store", "e", "5", check=True)
    cli = run_cli(data_dir, "backup", "run", "--kind", "incremental", check=True)
    assert cli.stdout.startswith("full backup b_"), cli.stdout
    [note] = cli.stderr.splitlines()
    assert note.startswith("note: took a full backup instead of the incremental asked for: ")
    assert "the database was restored from backup" in note
