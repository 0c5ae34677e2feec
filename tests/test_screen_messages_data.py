"""The memory, backups and sync screens' workers post typed messages; the screens draw them.

Each test drives the real app (Pilot) on the demo data and watches the
messages through ``run_test(message_hook=...)``: what a worker found arrives
as a message, and the table then shows it. The memory screen's TTL countdown
ticks only while the screen shows (its ticks are ``events.Timer`` messages).
"""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.message import Message
from textual.widgets import DataTable, TextArea
from textual.worker import get_current_worker

from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.edit_value import EditValueDialog
from claude_tui.app.messages import (
    BackupRan,
    BackupsVerified,
    MemoryCounted,
    MemoryLoaded,
    MemoryWritten,
    SyncRead,
)
from claude_tui.app.screens import memory as memory_screen
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.durability import backups as backups_module
from claude_tui.core.errors import BackupFailed
from tests.app_helpers import DEMO_SESSION, flowing, screen_text, settle, until

SIZE = (160, 45)


class Posted:
    """The messages of the given types the app dispatched, each once, in order."""

    def __init__(self, *types: type[Message]) -> None:
        self.types = types
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, self.types) and all(m is not message for m in self.messages):
            self.messages.append(message)

    def of(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]


def _table(app: Any) -> DataTable[Any]:
    return app.screen.query_one("#memory-table", DataTable)


def _shown(app: Any) -> str:
    """The terminal's text and the toasts' text, wrapped lines joined."""
    toasts = [str(toast.render()) for toast in app.screen.query("Toast")]
    return flowing("\n".join([screen_text(app), *toasts]))


def _keys(table: DataTable[Any]) -> list[str]:
    return [str(row.value) for row in table.rows]


# -- memory: the load ----------------------------------------------------------------------
async def test_the_memory_page_arrives_as_a_message_and_the_table_shows_its_rows(demo_app):
    posted = Posted(MemoryLoaded, MemoryCounted)
    total = demo_app.coordinator.memory.count(session_id=DEMO_SESSION)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: posted.of(MemoryCounted), what="the count")
        await settle(pilot)
        loaded = posted.of(MemoryLoaded)[-1]
        assert loaded.filters.session_id == DEMO_SESSION and loaded.total == -1
        assert len(loaded.entries) == 100  # one page
        table = _table(app)
        assert sorted(_keys(table)) == sorted(str(e.id) for e in loaded.entries)
        counted = posted.of(MemoryCounted)[-1]
        assert (counted.total, counted.count) == (total, 100)
        assert f"entries 1–100 of {total:,}" in screen_text(app)


# -- memory: save and delete ---------------------------------------------------------------
async def test_a_delete_posts_its_result_and_the_list_reloads_without_the_entry(demo_app):
    stored = demo_app.coordinator.memory.store(
        "zz-delete-me", {"v": 1}, session_id=DEMO_SESSION, namespace="probe"
    )
    posted = Posted(MemoryWritten, MemoryLoaded)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("4")
        table = _table(app)
        await until(pilot, lambda: str(stored.id) in _keys(table), what="the new entry shown")
        app.screen.select_key(str(stored.id))
        await until(pilot, lambda: "zz-delete-me" in screen_text(app), what="its detail")
        await settle(pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        loads_before = len(posted.of(MemoryLoaded))
        await pilot.press("y")
        await until(pilot, lambda: posted.of(MemoryWritten), what="MemoryWritten")
        (written,) = posted.of(MemoryWritten)
        assert (written.key, written.action) == ("zz-delete-me", "deleted")
        await until(pilot, lambda: str(stored.id) not in _keys(table), what="the row gone")
        later = posted.of(MemoryLoaded)[loads_before:]
        assert later and all(e.id != stored.id for e in later[-1].entries)
        await until(pilot, lambda: "Deleted zz-delete-me." in _shown(app), what="the toast")
    assert demo_app.coordinator.memory.get(
        "zz-delete-me", session_id=DEMO_SESSION, namespace="probe", track=False
    ) is None  # fmt: skip


async def test_an_edit_posts_its_result_and_the_list_shows_the_new_value(demo_app):
    stored = demo_app.coordinator.memory.store(
        "zz-edit-me", {"v": 1}, session_id=DEMO_SESSION, namespace="probe"
    )
    posted = Posted(MemoryWritten)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("4")
        table = _table(app)
        key = str(stored.id)
        await until(pilot, lambda: key in _keys(table), what="the new entry shown")
        app.screen.select_key(key)
        await until(pilot, lambda: "zz-edit-me" in screen_text(app), what="its detail")
        await settle(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditValueDialog))
        app.screen.query_one(TextArea).text = '{"v": 2, "edited": true}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: posted.of(MemoryWritten), what="MemoryWritten")
        (written,) = posted.of(MemoryWritten)
        assert (written.key, written.action) == ("zz-edit-me", "saved")
        # The reload after the write brings the new value into the row.
        await until(pilot, lambda: "edited" in str(table.get_cell(key, "Value")), what="new value")
        await until(pilot, lambda: "Saved zz-edit-me." in _shown(app), what="the toast")
    entry = demo_app.coordinator.memory.get(
        "zz-edit-me", session_id=DEMO_SESSION, namespace="probe", track=False
    )
    assert entry is not None and entry.value == {"v": 2, "edited": True}


# -- memory: the TTL countdown -------------------------------------------------------------
async def test_the_ttl_countdown_ticks_only_while_the_memory_screen_shows(demo_app, monkeypatch):
    interval = 0.05
    monkeypatch.setattr(memory_screen, "TTL_SECONDS", interval)
    ticks = {"ttl": 0, "witness": 0}

    def hook(message: Message) -> None:
        if isinstance(message, events.Timer):
            if message.timer.name == memory_screen.TTL_TIMER:
                ticks["ttl"] += 1
            elif message.timer.name == "witness":
                ticks["witness"] += 1

    async def hidden_for(n: int) -> None:
        start = ticks["witness"]
        await until(pilot, lambda: ticks["witness"] >= start + n, what=f"{n} witness ticks")

    coordinator = demo_app.coordinator
    clock = coordinator.rt.clock  # the demo's FixedClock: moved by hand
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        # A clock of the same period, to wait on (its ticks reach the app as messages).
        app.set_interval(interval, name="witness")
        await pilot.press("4")
        table = _table(app)
        await until(pilot, lambda: table.row_count == 100, what="the first page")
        shown = set(_keys(table))
        expiring = [
            str(e.id)
            for e in coordinator.memory.list(limit=1000, session_id=DEMO_SESSION)
            if e.expires_at is not None and str(e.id) in shown
        ]
        assert expiring, "the demo's first page has entries with a TTL"
        key = expiring[0]

        def ttl() -> str:
            return str(table.get_cell(key, "TTL"))

        # Shown: the countdown follows the clock without a reload.
        before = ttl()
        clock.now += 120
        await until(pilot, lambda: ttl() != before, what="the TTL counted down")
        assert ticks["ttl"] > 0

        # Hidden (another mode): not one tick, and the cell stays as it was.
        await pilot.press("1")
        await until(pilot, lambda: app.current_mode == "sessions")
        await settle(pilot)  # a tick posted before the switch is dispatched by now
        seen, frozen = ticks["ttl"], ttl()
        clock.now += 120
        await hidden_for(20)  # twenty periods of the TTL timer
        assert ticks["ttl"] == seen
        assert ttl() == frozen

        # Back: it ticks again, and the cell catches up with the clock.
        await pilot.press("4")
        await until(pilot, lambda: ticks["ttl"] > seen, what="the timer resumed")
        await until(pilot, lambda: ttl() != frozen, what="the TTL caught up")


# -- backups: a run from the screen --------------------------------------------------------
class Spy:
    """Wraps a function; records the group of the worker each call ran in."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.groups: list[str | None] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            group: str | None = get_current_worker().group
        except Exception:  # not in a worker: the UI thread
            group = None
        self.groups.append(group)
        return self.fn(*args, **kwargs)


@pytest.mark.parametrize("fails", [False, True], ids=["ok", "failed"])
async def test_a_backup_run_posts_its_result_and_refreshes_the_status_through_services(
    demo_app, monkeypatch, fails
):
    posted = Posted(BackupRan)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: app.current_mode == "backups")
        await settle(pilot)
        check = Spy(app.services.check_backends)
        monkeypatch.setattr(app.services, "check_backends", check)
        if fails:

            def broken(path: object, record: object) -> None:
                raise BackupFailed("simulated: the disk lied")

            monkeypatch.setattr(backups_module, "verify_file", broken)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ChooseDialog))
        await pilot.press("enter")  # auto: a full, none yet
        await until(pilot, lambda: posted.of(BackupRan), what="BackupRan")
        (ran,) = posted.of(BackupRan)
        assert ran.kind == "auto"
        table = app.screen.query_one("#backups-table", DataTable)
        await until(pilot, lambda: table.row_count == 1, what="the new backup listed")
        # The top bar's reading was taken again by the backup's own worker, in the services.
        await until(pilot, lambda: "backup-run" in check.groups, what="a services check")
        bar = app.screen.query_one(StatusBar)
        if fails:
            assert ran.record is None  # it raised: the app says why
            await until(pilot, lambda: "simulated: the disk lied" in _shown(app), what="why")
            await until(pilot, lambda: "backup FAILED" in str(bar.render()), what="FAILED")
        else:
            assert ran.record is not None and ran.record.status == "ok"
            assert _keys(table) == [ran.record.id]
            done = f"full backup {ran.record.id}"
            await until(pilot, lambda: done in _shown(app), what="the toast")
            assert "backup FAILED" not in str(bar.render())


async def test_verify_all_posts_the_results_and_the_screen_says_intact(demo_app):
    record = backups_module.BackupService(demo_app.coordinator.config, demo_app.coordinator).run(
        "full"
    )
    posted = Posted(BackupsVerified)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("7")
        table = app.screen.query_one("#backups-table", DataTable)
        await until(pilot, lambda: _keys(table) == [record.id], what="the backup listed")
        await pilot.press("V")
        await until(pilot, lambda: posted.of(BackupsVerified), what="BackupsVerified")
        (verified,) = posted.of(BackupsVerified)
        assert verified.backup_id is None and verified.results is not None
        assert [(r.id, problem) for r, problem in verified.results] == [(record.id, None)]
        await until(pilot, lambda: "all 1 backups: intact." in _shown(app), what="the toast")
        assert "✔" in str(table.get_cell(record.id, "Verified"))  # the reload shows it


# -- sync: a reading -----------------------------------------------------------------------
async def test_the_sync_reading_arrives_as_a_message_and_the_screen_shows_it(demo_app):
    posted = Posted(SyncRead)
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=posted) as pilot:
        await pilot.press("8")
        await until(pilot, lambda: posted.of(SyncRead), what="SyncRead")
        view = posted.of(SyncRead)[0].view
        assert view is not None and view.status is None  # sync is off in the demo
        summary = app.screen.query_one("#sync-summary")
        await until(pilot, lambda: "Sync is off" in str(summary.render()), what="the summary")
        assert not app.screen.query_one("#peers-panel").display
        # The screen polls while shown: one reading at a time, each posted when it ends.
        await until(pilot, lambda: len(posted.of(SyncRead)) >= 3, what="more readings")
