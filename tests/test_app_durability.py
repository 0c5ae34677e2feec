"""The app side of durability, driven by Pilot on real SQLite files: checkpoints on the
sessions screen, the backups screen, the scheduler in the status bar, crash recovery."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import DataTable, OptionList, Static

from claude_tui.app.app import RELAUNCH, ClaudeTUIApp
from claude_tui.app.dialogs.actions import ActionsDialog
from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.dialogs.pick import PickDialog
from claude_tui.app.dialogs.prompt import PromptDialog
from claude_tui.app.launch import launch, restore_backup
from claude_tui.app.recovery import RecoveryApp
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.config import Config
from claude_tui.core.durability import backups as backups_module
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.durability.scheduler import JobSpec, Scheduler, every
from claude_tui.core.errors import BackupFailed, StoreCorrupt
from tests.app_helpers import demo_coordinator, make_app, open_coordinator, settle, until

SIZE = (150, 45)
SESSION = "ses_demo000002"


def _text(widget: Static) -> str:
    return str(widget.content)


def _db_scalar(coordinator, sql: str, args: tuple = ()) -> object:
    conn = sqlite3.connect(coordinator.config.db_path)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


async def _select_session(app, pilot, session_id: str) -> None:
    await settle(pilot)
    table = app.screen.query_one("#sessions-table", DataTable)
    table.move_cursor(row=table.get_row_index(session_id))
    await settle(pilot)


async def test_checkpoint_from_the_sessions_screen(data_dir):
    with demo_coordinator(data_dir) as c:
        app = make_app(c, fresh=True)
        async with app.run_test(size=SIZE) as pilot:
            await _select_session(app, pilot, SESSION)
            assert "checkpoint none" in _text(app.screen.query_one("#session-detail", Static))
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, PromptDialog)
            await pilot.press(*"before merge", "enter")
            await settle(pilot)
            found = c.checkpoints.list(SESSION)
            assert [(cp.label, cp.reason) for cp in found] == [("before merge", "manual")]
            assert (
                _db_scalar(c, "SELECT count(*) FROM checkpoints WHERE session_id = ?", (SESSION,))
                == 1
            )
            await settle(pilot)
            detail = _text(app.screen.query_one("#session-detail", Static))
            assert "before merge" in detail and "manual" in detail


async def test_restore_a_checkpoint_shows_the_plan_and_brings_data_back(data_dir):
    with demo_coordinator(data_dir) as c:
        c.memory.store("keep-me", {"v": 1}, session_id=SESSION)
        before_memory = c.memory.count(session_id=SESSION)
        before_tasks = len(c.tasks.list(SESSION))
        older = c.checkpoints.create(SESSION, label="older")
        checkpoint = c.checkpoints.create(SESSION, label="good state")
        c.memory.store("added-after", {"x": 1}, session_id=SESSION)
        c.memory.delete("keep-me", session_id=SESSION)
        c.tasks.add(SESSION, "a task added after the checkpoint")
        app = make_app(c, fresh=True)
        async with app.run_test(size=SIZE) as pilot:
            await _select_session(app, pilot, SESSION)
            assert "good state" in _text(app.screen.query_one("#session-detail", Static))
            await pilot.press("R")
            await settle(pilot)
            picker = app.screen
            assert isinstance(picker, PickDialog)
            assert [key for key, _ in picker.rows] == [checkpoint.id, older.id]  # newest first
            assert picker.query_one(OptionList).highlighted == 0
            await pilot.press("enter")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ActionsDialog)
            plan = str(dialog.query_one("#actions-detail", Static).content)
            assert "memory: 1 back, 1 removed" in plan and "tasks: 1 removed" in plan
            assert "k keeps the 2 rows" in plan
            await pilot.press("y")
            await settle(pilot)
            assert c.memory.count(session_id=SESSION) == before_memory
            assert len(c.tasks.list(SESSION)) == before_tasks
            assert c.memory.get("added-after", session_id=SESSION) is None
            assert c.memory.get("keep-me", session_id=SESSION).value == {"v": 1}
            # A safety checkpoint was taken first: the restore can be undone.
            assert c.checkpoints.list(SESSION)[0].reason == "before-restore"


# -- the backups screen ---------------------------------------------------------------
def _status_bar(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


def _notes(app) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_backups_screen_lists_backups_and_b_runs_one(data_dir):
    with demo_coordinator(data_dir) as c:
        service = BackupService(c.config, c)
        full = service.run("full")
        c.memory.store("after-full", {"v": 1}, session_id=SESSION)
        incremental = service.run("incremental")
        app = make_app(c, session_id=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("7")
            await settle(pilot)
            assert app.current_mode == "backups"
            table = app.screen.query_one("#backups-table", DataTable)
            keys = [str(k.value) for k in table.rows]
            assert keys == [incremental.id, full.id]  # newest first
            row = [str(v) for v in table.get_row(incremental.id)]
            assert row[1:3] == ["incremental", full.id] and row[6] == "ok"
            detail = str(app.screen.query_one("#backup-detail", Static).content)
            assert incremental.sha256 in detail and str(incremental.file) in detail
            jobs = app.screen.query_one("#jobs-table", DataTable)
            assert [str(k.value) for k in jobs.rows] == [
                "full", "differential", "incremental", "retention", "purge", "checkpoints",
            ]  # fmt: skip
            await pilot.press("b")
            await settle(pilot)
            assert isinstance(app.screen, ChooseDialog)
            await pilot.press("down", "enter")  # auto, *full*, differential, incremental
            await settle(pilot)
            records = service.list()
            assert len(records) == 3 and records[-1].kind == "full" and records[-1].status == "ok"
            await until(pilot, lambda: table.row_count == 3)
            assert "Scheduler off" in _status_bar(app)


async def test_a_failed_backup_is_red_in_the_table_and_the_status_bar(data_dir, monkeypatch):
    def broken(path, record):
        raise BackupFailed("simulated: the disk lied")

    with demo_coordinator(data_dir) as c:
        BackupService(c.config, c).run("full")
        app = make_app(c, session_id=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("7")
            await settle(pilot)
            assert "backup FAILED" not in _status_bar(app)
            monkeypatch.setattr(backups_module, "verify_file", broken)
            await pilot.press("b", "down", "enter")  # full
            await until(pilot, lambda: "simulated: the disk lied" in _notes(app))
            table = app.screen.query_one("#backups-table", DataTable)
            await until(pilot, lambda: table.row_count == 2)
            failed = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
            status = table.get_cell(failed, "Status")
            assert "FAILED" in str(status) and "red" in str(status.style)
            await until(pilot, lambda: "backup FAILED" in _status_bar(app))
            table.move_cursor(row=0)
            await settle(pilot)
            detail = str(app.screen.query_one("#backup-detail", Static).content)
            assert "FAILED" in detail and "simulated: the disk lied" in detail


def _job(name: str, body):
    return JobSpec(name, every(hours=1), body, run_if_never=True)


async def test_status_bar_shows_the_scheduler_running_standby_and_failed(data_dir):
    def broken_backup(c):
        raise RuntimeError("no space left on device")

    with demo_coordinator(data_dir) as c:
        jobs = Scheduler(c, jobs=[_job("purge", lambda c: "ok")], lease_retry=0.5)
        app = make_app(c, session_id=SESSION, scheduler=True, job_scheduler=jobs)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Scheduler running" in _status_bar(app))
        assert app.services.scheduler.state == "stopped"  # stopped with the app

    with open_coordinator(data_dir) as c, open_coordinator(data_dir) as other:
        holder = Scheduler(other, jobs=[_job("incremental", broken_backup)], lease_retry=0.5)
        holder.start()  # another process's scheduler holds the lease; its backup fails
        try:
            jobs = [_job("purge", lambda c: "ok"), _job("incremental", lambda c: "ok")]
            app = make_app(
                c, session_id=SESSION, scheduler=True,
                job_scheduler=Scheduler(c, jobs=jobs, lease_retry=0.5),
            )  # fmt: skip
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.services.scheduler_state() == "standby")
                await until(pilot, lambda: "backup FAILED" in _status_bar(app))
                await pilot.press("7")
                await settle(pilot)
                scope = str(app.screen.query_one("#backups-scope", Static).content)
                assert "standby" in scope
        finally:
            holder.stop()


async def test_the_app_runs_the_default_jobs_a_full_backup_at_first_start(data_dir):
    with demo_coordinator(data_dir) as c:
        app = make_app(c, session_id=SESSION, scheduler=True)
        async with app.run_test(size=SIZE) as pilot:
            service = BackupService(c.config, c)
            await until(pilot, lambda: any(r.status == "ok" for r in service.list()), timeout=20)
            await until(pilot, lambda: "Scheduler running" in _status_bar(app))
            assert [r.kind for r in service.list()] == ["full"]


# -- restore from a backup ------------------------------------------------------------
async def test_restore_from_the_backups_screen_reopens_on_the_restored_data(data_dir):
    with demo_coordinator(data_dir) as c:
        c.memory.store("precious", {"v": 42}, session_id=SESSION)
        full = BackupService(c.config, c).run("full")
        c.memory.delete("precious", session_id=SESSION)
        app = make_app(c, session_id=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("R")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ActionsDialog)
            text = str(dialog.query_one("#actions-detail", Static).content)
            assert full.id in text and "kept aside" in text and "reopens" in text
            await pilot.press("l")
            await settle(pilot)
        assert app.return_code == RELAUNCH and app.restore_backup_id == full.id
        config = c.config
    notice = restore_backup(config, full.id)  # what launch() does between the two apps
    assert notice.severity == "information" and f"restored from backup {full.id}" in notice.message
    with open_coordinator(data_dir) as c:
        assert c.memory.get("precious", session_id=SESSION).value == {"v": 42}
        app = make_app(c, notice=notice)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert f"restored from backup {full.id}" in _notes(app)
            assert app.current_mode == "backups"  # back where the user was


# -- crash recovery at launch ---------------------------------------------------------
def _damage(path) -> None:
    """Overwrite the middle of the file: the header is fine, the pages are not."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\xde\xad" * 8192)


async def test_recovery_app_restores_the_latest_backup_of_a_damaged_database(data_dir):
    with demo_coordinator(data_dir) as c:
        c.memory.store("precious", {"v": 7}, session_id=SESSION)
        BackupService(c.config, c).run("full")
        config = c.config
    _damage(config.db_path)
    with pytest.raises(StoreCorrupt) as caught:
        open_coordinator(data_dir)
    app = RecoveryApp(config, caught.value)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "latest verified backup" in str(app.query_one("#recovery-backups", Static).content)
        await pilot.press("r")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value.kept_aside
    with open_coordinator(data_dir) as c:
        assert c.memory.get("precious", session_id=SESSION).value == {"v": 7}


async def test_recovery_app_without_a_backup_says_so_and_quits_with_2(data_dir):
    with demo_coordinator(data_dir) as c:
        config = c.config
    _damage(config.db_path)
    with pytest.raises(StoreCorrupt) as caught:
        open_coordinator(data_dir)
    app = RecoveryApp(config, caught.value)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "no verified backup" in str(app.query_one("#recovery-backups", Static).content)
        await pilot.press("r")  # nothing to restore: ignored
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 2 and app.return_value is None


def test_launch_restores_between_two_apps_and_recovers_a_damaged_database(data_dir, monkeypatch):
    """launch()'s loop, with the terminal part of App.run replaced."""
    with demo_coordinator(data_dir) as c:
        c.memory.store("precious", {"v": 1}, session_id=SESSION)
        full = BackupService(c.config, c).run("full")
        c.memory.delete("precious", session_id=SESSION)
    config = Config.load(data_dir, env={}, redis_enabled=False)
    runs: list[tuple[object, object]] = []
    restores = [full.id]  # the first app asks for a restore, the next ones quit

    def run(self, *args, **kwargs):
        precious = self.coordinator.memory.get("precious", session_id=SESSION)
        runs.append((self.notice, precious and precious.value))
        if restores:
            self.request_restore(restores.pop())
            self._return_code = RELAUNCH
        else:
            self._return_code = 0

    monkeypatch.setattr(ClaudeTUIApp, "run", run)
    assert launch(config) == 0
    (first_notice, before), (notice, after) = runs
    assert first_notice is None and before is None
    assert after == {"v": 1} and f"restored from backup {full.id}" in notice.message

    _damage(config.db_path)
    monkeypatch.setattr(RecoveryApp, "run", lambda self: BackupService(config).restore())
    runs.clear()
    assert launch(config) == 0
    ((notice, after),) = runs
    assert after == {"v": 1} and notice.severity == "warning" and full.id in notice.message
    monkeypatch.setattr(RecoveryApp, "run", lambda self: None)  # the user quits
    _damage(config.db_path)
    with pytest.raises(StoreCorrupt):
        launch(config)
