"""Sessions, agents, patterns and the recovery app: workers post typed messages, handlers draw.

Driven by Pilot on the real app and the demo data (real SQLite). Every message a
pump handles is recorded through ``run_test(message_hook=...)``; the tests assert
those messages and what the widgets show. A "stale" answer is made real by
holding a worker inside a real coordinator call (a threading gate) while the user
moves on, then letting it finish.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import DataTable, Input, Static

from claude_tui.app.dialogs.actions import ActionsDialog
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.pick import PickDialog
from claude_tui.app.dialogs.prompt import PromptDialog
from claude_tui.app.messages import (
    AgentsLoaded,
    CheckpointRestored,
    CheckpointsListed,
    CheckpointTaken,
    PatternsFound,
    RecoveryBackupFound,
    RecoveryNoBackup,
    RecoveryRestored,
    SessionsLoaded,
    SessionsWritten,
)
from claude_tui.app.recovery import RecoveryApp
from claude_tui.app.screens.sessions import SessionsScreen
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.errors import StoreCorrupt
from tests.app_helpers import (
    DEMO_SESSION,
    demo_coordinator,
    open_coordinator,
    settle,
    until,
)
from tests.test_app_durability import _damage

SIZE = (150, 45)
OTHER = "ses_demo000002"  # flaky-ci-hunt
THIRD = "ses_demo000003"


class Seen:
    """Every message any pump of the app handled, in order (the ``message_hook``)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    def index(self, message: Message) -> int:
        return next(i for i, m in enumerate(self.messages) if m is message)


class Gate:
    """Stands in for a coordinator method: the first call ``matching`` waits until ``open``.

    The real method runs after; only the moment its answer arrives is the test's.
    """

    def __init__(self, real: Callable[..., Any], matching: Callable[..., bool]) -> None:
        self.real, self.matching = real, matching
        self.entered, self.opened = threading.Event(), threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.entered.is_set() and self.matching(*args, **kwargs):
            self.entered.set()
            self.opened.wait(timeout=30)
        return self.real(*args, **kwargs)

    async def held(self) -> None:
        """Wait (off the event loop) until a worker is inside the gate."""
        assert await asyncio.to_thread(self.entered.wait, 10), "no worker reached the gate"

    def open(self) -> None:
        self.opened.set()


async def _pumped(pilot, condition: Callable[[], object], what: str) -> None:  # type: ignore[no-untyped-def]
    """Like ``until``, for while a worker is held in a gate (``until`` waits for workers)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause()


@dataclass
class _Toast:
    event: Notify
    message: str


def _toast(seen: Seen, title: str) -> _Toast:
    """The one toast titled ``title`` the app was asked to show."""
    found = [n for n in seen.of(Notify) if n.notification.title == title]
    assert len(found) == 1, f"{len(found)} toasts titled {title!r}"
    return _Toast(found[0], found[0].notification.message)


def _keys(table: DataTable[Any]) -> list[str]:
    return [str(row.value) for row in table.rows]


def _cells(table: DataTable[Any], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


def _detail(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#session-detail", Static).content)


async def _on_sessions(app, pilot, select: str | None = None):  # type: ignore[no-untyped-def]
    """The sessions screen with its counts drawn (and ``select`` under the cursor)."""
    await until(pilot, lambda: isinstance(app.screen, SessionsScreen), what="the sessions screen")
    table = app.screen.query_one("#sessions-table", DataTable)
    await until(pilot, lambda: table.row_count and "…" not in _cells(table, _keys(table)[0]))
    if select is not None:
        table.move_cursor(row=table.get_row_index(select))
        await until(pilot, lambda: select in _detail(app) and "checkpoint …" not in _detail(app))
    return table


async def test_the_sessions_screen_posts_its_rows_and_the_table_shows_them(demo_app):
    seen = Seen()
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        table = await _on_sessions(app, pilot)
        loaded = seen.of(SessionsLoaded)
        assert loaded, "no SessionsLoaded was handled"
        last = loaded[-1]
        assert last.counts is not None  # the second message of the load: with the counts
        assert [s.id for s in last.sessions] == _keys(table)
        assert {s.id for s in last.sessions} == {s.id for s in demo_app.coordinator.sessions.list()}
        row = _cells(table, OTHER)
        assert row[1] == "flaky-ci-hunt" and row[6] == str(last.counts[OTHER]["agents"])
        assert row[8].startswith(f"{last.counts[OTHER]['memory_entries']} ·")


async def test_a_checkpoint_taken_arrives_as_a_message_and_the_list_reloads(demo_app):
    seen = Seen()
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await _on_sessions(app, pilot, OTHER)
        assert "checkpoint none" in _detail(app)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press(*"before merge", "enter")
        await until(pilot, lambda: seen.of(CheckpointTaken), what="CheckpointTaken")
        taken = seen.of(CheckpointTaken)[0]
        assert taken.session_id == OTHER and taken.checkpoint.label == "before merge"
        assert [cp.id for cp in demo_app.coordinator.checkpoints.list(OTHER)] == [
            taken.checkpoint.id
        ]
        after = seen.index(taken)
        await until(
            pilot,
            lambda: any(seen.index(m) > after for m in seen.of(SessionsLoaded)),
            what="a reload after the checkpoint",
        )
        await until(pilot, lambda: "before merge" in _detail(app), what="the detail pane")
        # The toast, from the handler (a worker never calls notify).
        toast = _toast(seen, "Checkpoint taken")
        assert toast.message.startswith(f"{taken.checkpoint.id}: ")
        assert seen.index(toast.event) > after  # posted on the UI thread, after the message


async def test_a_restore_arrives_as_a_message_and_the_list_shows_the_data_back(demo_app):
    c = demo_app.coordinator
    good = c.checkpoints.create(OTHER, label="good state")
    before = c.sessions.counts()[OTHER]["memory_entries"]  # what the Memory column counts
    for n in range(3):
        c.memory.store(f"added-after-{n}", {"n": n}, session_id=OTHER)
    seen = Seen()
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        table = await _on_sessions(app, pilot, OTHER)
        assert _cells(table, OTHER)[8].startswith(f"{before + 3} ·")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PickDialog), what="the picker")
        assert seen.of(CheckpointsListed)[-1].session_id == OTHER
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ActionsDialog), what="the plan")
        await pilot.press("y")
        await until(pilot, lambda: seen.of(CheckpointRestored), what="CheckpointRestored")
        restored = seen.of(CheckpointRestored)[0]
        assert (restored.session_id, restored.checkpoint_id) == (OTHER, good.id)
        assert restored.result.safety_checkpoint  # the state before, kept as a checkpoint
        after = seen.index(restored)
        await until(
            pilot,
            lambda: any(seen.index(m) > after and m.counts for m in seen.of(SessionsLoaded)),
            what="a reload with counts after the restore",
        )
        await until(pilot, lambda: _cells(table, OTHER)[8].startswith(f"{before} ·"))
        assert c.sessions.counts()[OTHER]["memory_entries"] == before
        toast = _toast(seen, "Checkpoint restored")
        assert toast.message.startswith(f"{OTHER} is back to {good.id}: ")
        assert f"Undo: R and pick {restored.result.safety_checkpoint}." in toast.message


async def test_a_delete_arrives_as_a_message_and_the_row_goes(demo_app):
    seen = Seen()
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        table = await _on_sessions(app, pilot, THIRD)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: seen.of(SessionsWritten), what="SessionsWritten")
        after = seen.index(seen.of(SessionsWritten)[0])
        await until(pilot, lambda: THIRD not in _keys(table), what="the row to go")
        assert any(seen.index(m) > after for m in seen.of(SessionsLoaded))
        assert THIRD not in {s.id for s in demo_app.coordinator.sessions.list()}
        assert _keys(table) == [s.id for s in seen.of(SessionsLoaded)[-1].sessions]


async def test_checkpoints_listed_for_a_session_no_longer_selected_open_no_picker(
    demo_app, monkeypatch
):
    c = demo_app.coordinator
    c.checkpoints.create(OTHER, label="other's")
    c.checkpoints.create(THIRD, label="third's")
    gate = Gate(c.checkpoints.list, lambda *a, limit=1000, **k: limit == 200)
    seen = Seen()
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        table = await _on_sessions(app, pilot, OTHER)
        monkeypatch.setattr(c.checkpoints, "list", gate)
        await pilot.press("R")  # lists OTHER's checkpoints: held in the gate
        await gate.held()
        table.move_cursor(row=table.get_row_index(THIRD))  # the user moves on meanwhile
        await _pumped(pilot, lambda: THIRD in _detail(app), "the third session's detail")
        gate.open()
        await until(pilot, lambda: seen.of(CheckpointsListed), what="CheckpointsListed")
        await settle(pilot)
        assert seen.of(CheckpointsListed)[0].session_id == OTHER
        assert isinstance(app.screen, SessionsScreen)  # OTHER's picker is not opened over THIRD
        assert THIRD in _detail(app)
        # The same answer for the selected session does open the picker.
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PickDialog), what="THIRD's picker")
        assert "third's" in app.screen.rows[0][1]


async def test_agents_loaded_for_the_previous_session_are_not_drawn(demo_app, monkeypatch):
    c = demo_app.coordinator
    mine = [a.id for a in c.agents.list(session_id=DEMO_SESSION)]
    others = [a.id for a in c.agents.list(session_id=OTHER)]
    assert mine and others and set(mine) != set(others)
    seen = Seen()
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "agents")
        table = app.screen.query_one("#agents-table", DataTable)
        await until(pilot, lambda: sorted(_keys(table)) == sorted(mine), what="this session's")
        assert seen.of(AgentsLoaded)[-1].session_id == DEMO_SESSION
        gate = Gate(c.agents.list, lambda session_id=None, **k: session_id == DEMO_SESSION)
        monkeypatch.setattr(c.agents, "list", gate)
        app.set_session(DEMO_SESSION)  # a reload of this session's agents: held in the gate
        await gate.held()
        app.set_session(OTHER)  # the user switched session meanwhile
        await _pumped(pilot, lambda: sorted(_keys(table)) == sorted(others), "OTHER's agents")
        gate.open()
        stale = lambda: [m for m in seen.of(AgentsLoaded) if m.session_id == DEMO_SESSION]  # noqa: E731
        count = len(stale())
        await until(pilot, lambda: len(stale()) > count, what="the held AgentsLoaded")
        await settle(pilot)
        assert sorted(_keys(table)) == sorted(others)
        scope = str(app.screen.query_one("#agents-scope", Static).content)
        assert f"session {OTHER}" in scope


# -- the recovery app posts to itself ------------------------------------------------
def _recovery_app(data_dir, *, backup: bool):  # type: ignore[no-untyped-def]
    """The recovery app on the demo's database, damaged; and its full backup (or None)."""
    with demo_coordinator(data_dir) as c:
        taken = BackupService(c.config, c).run("full") if backup else None
        config = c.config
    _damage(config.db_path)
    with pytest.raises(StoreCorrupt) as caught:
        open_coordinator(data_dir)
    return RecoveryApp(config, caught.value), taken


async def test_recovery_posts_what_it_found_and_the_restore(data_dir):
    app, backup = _recovery_app(data_dir, backup=True)
    assert backup is not None
    seen = Seen()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await until(pilot, lambda: seen.of(RecoveryBackupFound), what="RecoveryBackupFound")
        found = seen.of(RecoveryBackupFound)[0]
        assert backup.id in found.text
        await settle(pilot)
        shown = str(app.query_one("#recovery-backups", Static).content)
        assert "latest verified backup" in shown and backup.id in shown
        await pilot.press("r")
        await until(pilot, lambda: app.return_value is not None)
    restored = seen.of(RecoveryRestored)
    assert len(restored) == 1 and restored[0].report is app.return_value
    assert not seen.of(RecoveryNoBackup)


async def test_recovery_without_a_backup_posts_why(data_dir):
    app, _ = _recovery_app(data_dir, backup=False)
    seen = Seen()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await until(pilot, lambda: seen.of(RecoveryNoBackup), what="RecoveryNoBackup")
        await settle(pilot)
        none = seen.of(RecoveryNoBackup)[0]
        assert none.directory in str(app.query_one("#recovery-backups", Static).content)
        assert app.outcome.startswith(f"there is no backup to restore from in {none.directory}")
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 2 and not seen.of(RecoveryBackupFound)


async def test_patterns_found_for_an_older_query_are_not_drawn(demo_app, monkeypatch):
    c = demo_app.coordinator
    seen = Seen()
    app = demo_app()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await until(pilot, lambda: app.current_mode == "patterns")
        await until(pilot, lambda: seen.of(PatternsFound), what="the first PatternsFound")
        table = app.screen.query_one("#patterns-table", DataTable)
        scope = app.screen.query_one("#patterns-scope", Static)
        box = app.screen.query_one("#pattern-query", Input)
        gate = Gate(c.search.patterns, lambda query, **k: query == "retry")
        monkeypatch.setattr(c.search, "patterns", gate)
        box.value = "retry"  # searched for: held in the gate
        await gate.held()
        box.value = "cache"  # the user typed on meanwhile
        newer = lambda: [m for m in seen.of(PatternsFound) if m.asked == ("cache", None)]  # noqa: E731
        await _pumped(pilot, lambda: newer() and "'cache'" in str(scope.content), "'cache'")
        gate.open()
        older = lambda: [m for m in seen.of(PatternsFound) if m.asked == ("retry", None)]  # noqa: E731
        await until(pilot, older, what="the held PatternsFound")
        await settle(pilot)
        assert older()[0].results and [p.id for p, _ in older()[0].results] != _keys(table)
        assert _keys(table) == [p.id for p, _ in newer()[-1].results]
        assert str(scope.content) == newer()[-1].how and "'cache'" in newer()[-1].how
