"""The app's Textual-free parts: BackgroundServices (status snapshots, the backup-failure rule,
the session name) and UIStore (flushes racing selections), on real data dirs and threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from claude_tui.app.services import BackgroundServices, StatusSnapshot, backup_failure
from claude_tui.app.state import STATE_FILE, UIState, UIStore
from claude_tui.app.sync_info import SyncSummary
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import JobSpec, Scheduler, default_jobs, every
from tests.conftest import ROOT, plain_env
from tests.server_proc import wait_until


class Listener:
    """Collects the snapshots a BackgroundServices emits, in the order they arrive."""

    def __init__(self) -> None:
        self.seen: list[StatusSnapshot] = []
        self._lock = threading.Lock()

    def __call__(self, snapshot: StatusSnapshot) -> None:
        with self._lock:
            self.seen.append(snapshot)


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads take turns every microsecond (not every 5 ms), so their steps interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def start_together(*targets: Callable[[], object]) -> tuple[list[threading.Thread], list[str]]:
    """Start a thread per target, all let go at once; returns them and the errors they raise."""
    start = threading.Barrier(len(targets) + 1)
    errors: list[str] = []

    def run(target: Callable[[], object]) -> None:
        start.wait()
        try:
            target()
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(f"{getattr(target, '__name__', target)}: {exc!r}")

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    start.wait()
    return threads, errors


def join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(60)
        assert not t.is_alive(), f"{t.name} did not end"


def _changed(a: StatusSnapshot, b: StatusSnapshot) -> set[str]:
    return {f.name for f in fields(StatusSnapshot) if getattr(a, f.name) != getattr(b, f.name)}


# -- snapshots ------------------------------------------------------------------------
def test_snapshots_from_many_threads_arrive_in_the_order_they_were_made(
    coordinator: MemoryCoordinator, switch_often: None
) -> None:
    """Each snapshot builds on the one before it: no thread's change is lost or undone."""
    listener = Listener()
    services = BackgroundServices(coordinator, run_scheduler=False, on_status=listener)
    first = services.snapshot
    rounds = 2000

    def pick_sessions() -> None:
        for k in range(rounds):
            services.set_session(f"ses_{k:04d}")

    def read_sync() -> None:
        for k in range(rounds):
            services.note_sync(SyncSummary("up", peers=k + 1))

    threads, errors = start_together(pick_sessions, read_sync)
    join(threads)
    assert errors == []
    seen = listener.seen
    assert len(seen) == 2 * rounds  # every call changed something, so each one emitted once
    # One call's change per snapshot, applied to the snapshot before it (a snapshot made
    # from a stale copy would undo the other thread's latest change).
    for before, after in zip([first, *seen], seen, strict=False):
        assert _changed(before, after) in ({"session_id"}, {"sync"}), (before, after)
    picks = [
        a.session_id
        for a, b in zip(seen, [first, *seen], strict=False)
        if a.session_id != b.session_id
    ]
    assert picks == [f"ses_{k:04d}" for k in range(rounds)]  # in the order they were made
    peers = [s.sync.peers for s in seen]
    assert peers == sorted(peers) and peers[-1] == rounds
    assert seen[-1] == services.snapshot  # the last one to arrive is the current one
    assert services.snapshot.session_id == f"ses_{rounds - 1:04d}"


def test_a_renamed_or_deleted_session_shows_in_the_next_name_read(
    coordinator: MemoryCoordinator,
) -> None:
    listener = Listener()
    services = BackgroundServices(coordinator, run_scheduler=False, on_status=listener)
    session = coordinator.sessions.create(name="payments")
    services.set_session(session.id)
    assert services.snapshot.session_label() == session.id  # the id until the name is read
    services.read_session_name()
    assert services.snapshot.session_label() == f"payments ({session.id})"
    coordinator.sessions.update(session.id, name="payments-v2")
    assert services.snapshot.session_name == "payments"  # nothing re-reads by itself...
    services.read_session_name()  # ...the next read shows the rename
    assert services.snapshot.session_label() == f"payments-v2 ({session.id})"
    emitted = len(listener.seen)
    services.read_session_name()  # the same name again: no new snapshot
    assert len(listener.seen) == emitted
    coordinator.sessions.delete(session.id)
    services.read_session_name()
    assert services.snapshot.session_id == session.id
    assert services.snapshot.session_label() == session.id  # the stale name is gone
    assert [s.session_name for s in listener.seen if s.session_id] == [
        "",
        "payments",
        "payments-v2",
        "",
    ]


def test_a_name_read_for_a_session_no_longer_picked_is_dropped(
    coordinator: MemoryCoordinator,
) -> None:
    """A read that finishes after another session was picked must not name the new one."""
    first = coordinator.sessions.create(name="first")
    second = coordinator.sessions.create(name="second")
    reading = threading.Event()
    go_on = threading.Event()
    picked: list[str] = []

    def on_status(snapshot: StatusSnapshot) -> None:
        picked.append(snapshot.session_name)

    services = BackgroundServices(coordinator, run_scheduler=False, on_status=on_status)
    services.set_session(first.id)
    get = coordinator.sessions.get

    def slow_get(session_id: str, **kw: object):  # type: ignore[no-untyped-def]
        found = get(session_id, **kw)  # type: ignore[arg-type]
        reading.set()
        go_on.wait(10)  # the user picks another session while this read is in flight
        return found

    coordinator.sessions.get = slow_get  # type: ignore[method-assign]
    try:
        reader = threading.Thread(target=services.read_session_name)
        reader.start()
        assert reading.wait(10)
        services.set_session(second.id)
        go_on.set()
        reader.join(10)
    finally:
        coordinator.sessions.get = get  # type: ignore[method-assign]
    assert services.snapshot.session_id == second.id
    assert services.snapshot.session_name == ""  # not "first"
    services.read_session_name()
    assert services.snapshot.session_label() == f"second ({second.id})"
    assert "first" not in picked


# -- the backup-failure rule ---------------------------------------------------------------
class DiskFull:
    """A backup job that fails as a full disk would (counting its runs)."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, c: MemoryCoordinator) -> None:
        self.runs += 1
        raise OSError(28, "No space left on device")


def test_a_failed_scheduled_backup_after_the_last_success_shows_until_a_success(
    coordinator: MemoryCoordinator,
) -> None:
    real = {spec.name: spec for spec in default_jobs(coordinator)}
    failing = DiskFull()
    jobs = [
        real["full"],  # the real full backup (run by hand below)
        JobSpec("incremental", every(hours=1), failing, run_if_never=True, group="backup"),
    ]
    scheduler = Scheduler(coordinator, jobs=jobs)
    listener = Listener()
    services = BackgroundServices(coordinator, scheduler=scheduler, on_status=listener)
    try:
        services.check_backends()
        assert services.snapshot.backup_failure is None  # nothing attempted yet
        assert scheduler.run_now("full").last_status == "ok"
        services.check_backends()
        assert services.snapshot.backup_failure is None
        assert [r.status for r in services.backups.list()] == ["ok"]

        # The scheduler's own run (due at start: never ran) fails after that success.
        services.start_scheduler()
        wait_until(
            lambda: {s.name: s.last_status for s in scheduler.status()}["incremental"] == "failed",
            what="the scheduled incremental backup to fail",
        )
        services.check_backends()
        failure = services.snapshot.backup_failure
        assert failure is not None and "No space left on device" in failure
        assert services.snapshot.scheduler_status() == ("backup FAILED", "bold red")
        assert failure == backup_failure(services.backups, scheduler)
        assert listener.seen[-1].backup_failure == failure  # the bar was told

        # A success after the failure clears it.
        assert scheduler.run_now("full").last_status == "ok"
        services.check_backends()
        assert services.snapshot.backup_failure is None
        assert services.snapshot.scheduler_status() == ("running", "green")
        assert listener.seen[-1].backup_failure is None
    finally:
        services.stop_scheduler()
    assert failing.runs == 1
    assert [s.backup_failure is not None for s in listener.seen].count(True) >= 1


def test_a_failure_older_than_the_last_success_is_not_reported(
    coordinator: MemoryCoordinator,
) -> None:
    real = {spec.name: spec for spec in default_jobs(coordinator)}
    jobs = [real["full"], JobSpec("incremental", every(hours=1), DiskFull(), group="backup")]
    scheduler = Scheduler(coordinator, jobs=jobs)
    assert scheduler.run_now("incremental").last_status == "failed"
    assert backup_failure(BackgroundServices(coordinator, scheduler=scheduler).backups, scheduler)
    assert scheduler.run_now("full").last_status == "ok"
    services = BackgroundServices(coordinator, scheduler=scheduler, run_scheduler=False)
    services.check_backends()
    assert services.snapshot.backup_failure is None
    assert services.snapshot.scheduler_status() == ("off", "dim")


# -- UIStore ----------------------------------------------------------------------------------
def test_flushes_racing_selections_always_save_a_whole_state_and_the_last_select_wins(
    data_dir: Path, switch_often: None
) -> None:
    store = UIStore.open(data_dir)
    store.update(mode="memory", theme="nord")
    modes = ("sessions", "agents", "memory", "patterns")
    rounds = 400
    done = threading.Event()
    saved: list[dict[str, object]] = []
    problems: list[str] = []
    wrote = threading.Condition()
    writes = 0

    def selector(mode: str) -> Callable[[], None]:
        def select() -> None:
            for k in range(rounds):
                store.select(mode, f"{mode}-{k:04d}")
                store.select("shared", f"{mode}-{k:04d}")  # every thread picks on one screen too
                if k % 20 == 19:  # let a flush write in between (picks are faster than writes)
                    with wrote:
                        seen = writes
                        assert wrote.wait_for(lambda s=seen: writes > s, 10), "no flush wrote"

        return select

    def flush() -> None:
        nonlocal writes
        while not done.is_set():
            if store.flush():
                with wrote:
                    writes += 1
                    wrote.notify_all()

    def read() -> None:
        """Read the file as a restart would, while it is being replaced."""
        while not done.is_set():
            try:
                text = (data_dir / STATE_FILE).read_text(encoding="utf-8")
            except FileNotFoundError:
                continue  # before the first flush
            try:
                saved.append(json.loads(text))
            except ValueError:
                problems.append(f"half a file: {text[:80]!r}")

    threads, errors = start_together(*map(selector, modes), flush, flush, read)
    join(threads[: len(modes)])
    done.set()
    join(threads)
    assert errors == []
    assert writes >= rounds // 20, f"only {writes} flushes wrote while the selections ran"
    assert problems == []
    assert saved, "the reader never saw a saved file"
    fresh = asdict(UIState())
    last: dict[str, int] = {}
    for data in saved:
        assert set(data) == set(fresh) and data["mode"] == "memory" and data["theme"] == "nord"
        for mode, key in data["selected"].items():  # type: ignore[union-attr]
            if mode == "shared":
                continue
            assert key.startswith(f"{mode}-")
            n = int(key.rsplit("-", 1)[1])
            # Flushes write in the order of their copies: a screen's pick never goes back.
            assert n >= last.get(mode, -1), f"{mode} went back from {last[mode]} to {n}"
            last[mode] = n

    store.flush()  # what the last selections left dirty, if anything
    assert not store.dirty and store.flush() is False
    on_disk = UIState.load(data_dir)
    assert on_disk == store.state
    assert on_disk.selected == {
        **{m: f"{m}-{rounds - 1:04d}" for m in modes},
        "shared": store.state.selected["shared"],
    }
    assert on_disk.selected["shared"].endswith(f"-{rounds - 1:04d}")  # some thread's last pick
    store.select("shared", "picked-after")  # the last select wins
    assert store.dirty and store.flush()
    assert UIState.load(data_dir).selected["shared"] == "picked-after"


def test_a_flush_that_cannot_write_keeps_the_app_going(data_dir: Path) -> None:
    store = UIStore.open(data_dir)
    store.select("memory", "42")
    (data_dir / STATE_FILE).mkdir()  # the rename onto a directory fails, as a broken disk would
    assert store.flush() is False
    assert not store.dirty  # dropped until the next change (the file is a convenience)
    with pytest.raises(TypeError):
        store.update(selected={})  # a dict field is changed through select() only


# -- layering -----------------------------------------------------------------------------------
def test_importing_the_services_does_not_import_textual() -> None:
    script = (
        "import sys, claude_tui.app.services, claude_tui.app.state; "
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    # The check itself sees textual when it is imported (it is installed).
    shown = subprocess.run(
        [sys.executable, "-c", script.replace("import sys,", "import sys, textual.app,")],
        cwd=ROOT,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "'textual'" in shown.stdout, shown.stderr
