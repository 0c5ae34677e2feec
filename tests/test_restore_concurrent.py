"""A backup restore killed at each step of its swap while other processes have the db open.

Real processes on one data dir: a writer storing keys one by one (it prints
each acknowledged key), the real ``claude-tui backup restore`` killed by
``SIGKILL`` at a kill point (``CLAUDE_TUI_FAULT=restore:<step>``, see
``core/durability/faults.py``), fresh CLI processes opening meanwhile. After
recovery every acknowledged write is in the database it was committed to:
the final one, or - for writes acknowledged before a swap that went through -
the old file kept under ``replaced/``; never in a file no database uses. No
process is ever told the database is damaged.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability import swap
from claude_tui.core.durability.backups import BackupService
from tests.children import Output
from tests.conftest import ROOT, cli_env, plain_env, run_cli

# Every file operation of the swap, in order. Up to the rename of the restored
# file over the database the swap is undone; from it on it is finished.
UNDONE = [
    "restore:journal",  # journal written, nothing locked or moved
    "restore:locked",  # the old file's write lock held with an empty WAL
    "restore:link",  # the old file hard-linked under replaced/
    "restore:wal",  # its -wal moved aside
    "restore:shm",  # its -shm moved aside
    "restore:aside-synced",  # replaced/ fsynced
]
FINISHED = [
    "restore:replace",  # the restored file renamed over the database (the commit point)
    "restore:synced",  # the data dir fsynced
    "restore:vectors",  # the vector index reset
    "restore:done",  # the journal removed, the swap lock still held
]
BEFORE_RESTORE = 8  # acknowledged writes before the restore starts
AFTER_RECOVERY = 8  # and after it was killed (the writer must go on)
DAMAGE_WORDS = ("damaged", "malformed", "internal error", "Traceback")


class Writer(Output):
    """The writer child's output, with what it acknowledged."""

    def acks(self) -> list[str]:
        with self._cond:
            return [line.split()[1] for line in self.lines if line.startswith("ack ")]

    def finish(self, *, kill: bool = False, timeout: float = 60) -> str:
        """Wait for the child to exit (``kill``: SIGKILL it first); its stderr."""
        if kill:
            self.proc.send_signal(signal.SIGKILL)
        _, err = self.proc.communicate(timeout=timeout)
        self._thread.join(timeout=10)
        return err


def _plain(data_dir: Path) -> Config:
    return Config.load(data_dir, env={}, redis_enabled=False)


def _prepare(data_dir: Path) -> str:
    """A session with one key and a verified full backup of it; the session id."""
    config = _plain(data_dir)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        session = c.sessions.create(name="restore under writers")
        c.memory.store("base", 0, session_id=session.id)
        assert BackupService(config, c).run("full").status == "ok"
        return session.id


def _start(
    procs: list[subprocess.Popen[str]],
    data_dir: Path,
    session: str,
    fault: str = "",
    role: str = "writer",
) -> Writer:
    env = plain_env()
    if fault:
        env["CLAUDE_TUI_FAULT"] = fault
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.restore_helpers", role, str(data_dir), session],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(proc)
    out = Writer(proc)
    out.until(lambda lines: "ready" in lines, "the writer to open the data dir")
    return out


def _restore(data_dir: Path, fault: str | None) -> subprocess.CompletedProcess[str]:
    env = cli_env(data_dir, None)
    if fault:
        env["CLAUDE_TUI_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "claude_tui", "backup", "restore", "latest", "--yes"],
        cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


def _keys(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], db
        return {k for (k,) in conn.execute("SELECT key FROM memory_entries")}
    finally:
        conn.close()


def _fresh_reader_says_ok(data_dir: Path, session: str) -> None:
    """A process opening the data dir now reads it; nobody is told it is damaged."""
    got = run_cli(data_dir, "memory", "get", "base", "--session", session)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "0"
    assert not any(word in got.stderr for word in DAMAGE_WORDS), got.stderr


def _no_swap_left(data_dir: Path, config: Config) -> None:
    assert not swap.pending(config.db_path)
    assert not list(data_dir.glob("*.restore-*.tmp")), "the restore's temp file was left"


def _aside_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "replaced").glob("*.db")) if (data_dir / "replaced").is_dir() else []


def _check_outcome(
    data_dir: Path, lines: list[str], acks: list[str], *, finished: bool, after_swap: int
) -> None:
    """Every acknowledged write is where it belongs; the swap left nothing half-done."""
    config = _plain(data_dir)
    final = _keys(config.db_path)
    assert "base" in final
    if not finished:
        missing = [k for k in acks if k not in final]
        assert missing == [], f"acknowledged writes lost: {missing[:5]} of {len(acks)}"
        assert "replaced" not in lines
        assert _aside_files(data_dir) == [], "an undone swap left a copy of the live file"
        _no_swap_left(data_dir, config)
        return
    assert lines.count("replaced") == 1, lines[-20:]
    cut = lines.index("replaced")
    before = [line.split()[1] for line in lines[:cut] if line.startswith("ack ")]
    after = [line.split()[1] for line in lines[cut:] if line.startswith("ack ")]
    [aside] = _aside_files(data_dir)
    kept = _keys(aside)
    missing = [k for k in before if k not in kept]
    assert missing == [], f"writes acknowledged before the swap lost: {missing[:5]}"
    assert not set(before) & final, "the restore did not bring the backup's state back"
    missing = [k for k in after if k not in final]
    assert missing == [], f"writes acknowledged on the restored file lost: {missing[:5]}"
    assert len(after) >= after_swap
    _no_swap_left(data_dir, config)


@pytest.mark.parametrize("step", [*UNDONE, *FINISHED, None])
def test_restore_killed_at_each_step_while_another_process_writes(
    step: str | None, data_dir: Path, procs: list[subprocess.Popen[str]]
) -> None:
    session = _prepare(data_dir)
    writer = _start(procs, data_dir, session)
    writer.until(lambda _: len(writer.acks()) >= BEFORE_RESTORE, "writes before the restore")

    result = _restore(data_dir, step)
    if step is None:  # the restore completes with the writer open
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
    _fresh_reader_says_ok(data_dir, session)
    # The writer goes on: it finished or undid the swap itself, or waited for the
    # fresh process that did, then wrote on the file now at the path.
    acked = len(writer.acks())
    writer.until(lambda _: len(writer.acks()) >= acked + AFTER_RECOVERY, "writes after the restore")
    # Killed, not closed: a clean close would checkpoint whatever it wrote into
    # the file at the path, even from a WAL moved aside.
    err = writer.finish(kill=True)
    assert writer.proc.returncode == -signal.SIGKILL, err
    assert not any(line.startswith("ERROR") for line in writer.lines), writer.lines[-5:]
    assert not any(word in err for word in DAMAGE_WORDS), err
    _check_outcome(
        data_dir, writer.lines, writer.acks(), finished=step not in UNDONE,
        after_swap=AFTER_RECOVERY,
    )  # fmt: skip


@pytest.mark.parametrize("step", ["recover:wal", "recover:shm", "recover:aside"])
def test_a_recovery_killed_half_way_is_finished_by_the_next_process(
    step: str, data_dir: Path, procs: list[subprocess.Popen[str]]
) -> None:
    session = _prepare(data_dir)
    # This writer undoes the swap the killed restore left, and is killed doing it.
    first = _start(procs, data_dir, session, fault=step)
    first.until(lambda _: len(first.acks()) >= BEFORE_RESTORE, "writes before the restore")
    result = _restore(data_dir, "restore:aside-synced")
    assert result.returncode == -signal.SIGKILL, result.stderr
    first.finish()
    assert first.proc.returncode == -signal.SIGKILL, first.lines[-5:]
    assert swap.pending(_plain(data_dir).db_path)  # the journal goes last

    _fresh_reader_says_ok(data_dir, session)  # finishes the undo
    second = _start(procs, data_dir, session)
    second.until(lambda _: len(second.acks()) >= AFTER_RECOVERY, "writes after the recovery")
    err = second.finish(kill=True)
    assert not any(word in err for word in DAMAGE_WORDS), err
    final = _keys(_plain(data_dir).db_path)
    lost = [k for k in first.acks() if k not in final]
    assert lost == [], f"the killed writer's acknowledged writes lost: {lost[:5]}"
    assert set(second.acks()) <= final
    _no_swap_left(data_dir, _plain(data_dir))
    assert _aside_files(data_dir) == []


@pytest.mark.parametrize("step", ["restore:wal", "restore:shm", "restore:replace"])
def test_a_fresh_process_meets_the_half_swapped_files_and_is_never_told_damaged(
    step: str, data_dir: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """The other process stays idle, so the fresh one is the first to find the journal."""
    session = _prepare(data_dir)
    holder = _start(procs, data_dir, session, role="holder")
    result = _restore(data_dir, step)
    assert result.returncode == -signal.SIGKILL, result.stderr
    config = _plain(data_dir)
    assert swap.pending(config.db_path)
    _fresh_reader_says_ok(data_dir, session)
    assert not swap.pending(config.db_path)  # the fresh process settled the swap
    assert holder.proc.stdin is not None
    holder.proc.stdin.write("go\n")
    holder.proc.stdin.flush()
    holder.until(lambda lines: "ack after" in lines, "the idle process to write again")
    err = holder.finish(kill=True)
    assert not any(word in err for word in DAMAGE_WORDS), err
    _check_outcome(data_dir, holder.lines, holder.acks(), finished=step not in UNDONE, after_swap=1)
