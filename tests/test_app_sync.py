"""The Swarm screen (8) and the top bar's sync entry, driven by Pilot over a real redis-server.

Two data dirs are two hosts (two SQLite files, two node ids) sharing one
redis-server started for the test, as in tests/test_sync.py. Host A is driven
through its own coordinators in worker threads; host B runs the app.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from claude_tui.app.dialogs.actions import ActionsDialog
from claude_tui.app.screens.help import HelpScreen
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.sync.conflicts import ConflictRow, list_conflicts
from tests.app_helpers import make_app, open_coordinator, settle, until

SIZE = (150, 45)
KEY = "release-owner"


def host_config(root: Path, name: str, url: str | None) -> Config:
    """Host ``name``'s config (no L2 cache; sync through ``url``, or off when None)."""
    path = root / name
    path.mkdir(exist_ok=True)
    return Config.load(path, env={}, redis_enabled=False, sync_url=url)


def shared_value(c: MemoryCoordinator, key: str) -> Any:
    entry = c.memory.get(key, memory_type="shared", track=False)
    assert entry is not None, f"{key} is not on host {c.store.node_id}"
    return entry.value


def store_on(root: Path, name: str, url: str | None, key: str, value: Any) -> None:
    """Open host ``name``, write a shared entry, close (so it is published)."""
    with MemoryCoordinator.open(host_config(root, name, url)) as c:
        c.memory.store(key, value, memory_type="shared")


def read_on(root: Path, name: str, url: str | None, key: str) -> Any:
    """Open host ``name`` (catching up with the swarm when ``url`` is set) and read."""
    with MemoryCoordinator.open(host_config(root, name, url)) as c:
        return shared_value(c, key)


def make_conflict(root: Path, url: str) -> ConflictRow:
    """Both hosts write KEY while sync is off, then meet through Redis: one true conflict.

    Returns host B's record of it; host A has caught up with the winner.
    """
    store_on(root, "a", None, KEY, "ana (written on a)")
    store_on(root, "b", None, KEY, "bo (written on b)")
    read_on(root, "a", url, KEY)  # a joins and publishes its write
    with MemoryCoordinator.open(host_config(root, "b", url)) as b:  # b publishes, receives a's
        [conflict] = list_conflicts(b)
    assert conflict.winner is not None and conflict.loser is not None
    assert {conflict.winner, conflict.loser} == {'"ana (written on a)"', '"bo (written on b)"'}
    assert read_on(root, "a", url, KEY) == _json(conflict.winner)  # a receives b's: converged
    return conflict


def _json(text: str | None) -> Any:
    import json

    assert text is not None
    return json.loads(text)


def _status_bar(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


def _keys_shown(app) -> list[str]:
    """The Key column of the memory table, as shown."""
    table = app.screen.query_one("#memory-table", DataTable)
    return [str(table.get_row_at(row)[0]) for row in range(table.row_count)]


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def _app(coordinator: MemoryCoordinator):
    app = make_app(coordinator)
    app.ui.state.demo_offered = True  # an empty host: no first-run offer in the way
    return app


async def test_a_shared_write_on_another_host_appears_live(tmp_path, own_redis):
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        app = _app(b)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await settle(pilot)
            assert app.current_mode == "memory"
            assert "Sync ● 0 peers" in _status_bar(app)
            await asyncio.to_thread(store_on, tmp_path, "a", url, "from-host-a", {"live": True})
            await until(
                pilot, lambda: "from-host-a" in _keys_shown(app), timeout=10,
                what="host A's write on the screen",
            )  # fmt: skip
            table = app.screen.query_one("#memory-table", DataTable)
            (row,) = [
                [str(cell) for cell in table.get_row_at(i)]
                for i in range(table.row_count)
                if str(table.get_row_at(i)[0]) == "from-host-a"
            ]
            assert row[1] == "shared" and row[-1] == '{"live": true}'  # Type, Value
            await until(pilot, lambda: "Sync ● 1 peer" in _status_bar(app))
            await pilot.press("8")
            await settle(pilot)
            peers = app.screen.query_one("#peers-table", DataTable)
            await until(pilot, lambda: peers.row_count == 2)  # this host and host A
            rows = {str(k.value): [str(v) for v in peers.get_row(k)] for k in peers.rows}
            assert rows[b.store.node_id][0].endswith("(this host)")
            [peer] = set(rows) - {b.store.node_id}
            assert rows[peer][3] == "1"  # one event applied from host A
            summary = _text(app, "#sync-summary")
            assert f"Node {b.store.node_id} (this host)" in summary and "● up" in summary


async def test_a_conflict_is_shown_and_taking_the_other_value_wins_everywhere(tmp_path, own_redis):
    url = own_redis.url
    conflict = make_conflict(tmp_path, url)
    winner, loser = _json(conflict.winner), _json(conflict.loser)
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert shared_value(b, KEY) == winner
        app = _app(b)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("8")
            await settle(pilot)
            assert app.current_mode == "swarm"
            table = app.screen.query_one("#conflicts-table", DataTable)
            await until(pilot, lambda: table.row_count == 1)
            row = [str(v) for v in table.get_row(str(conflict.id))]
            assert row[:3] == ["default", KEY, "(whole)"] and row[-1] == "open"
            assert (
                winner[:10] in row[3] and loser[:10] in row[4] and row[5] == conflict.loser_origin
            )
            await until(pilot, lambda: "1 conflict" in _status_bar(app))
            detail = _text(app, "#conflict-detail")
            assert f"Kept (node {conflict.winner_origin})" in detail and winner in detail
            assert f"Lost (node {conflict.loser_origin})" in detail and loser in detail
            await until(
                pilot, lambda: "On this host now: the kept value" in _text(app, "#conflict-detail")
            )
            await pilot.press("o")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ActionsDialog)  # asks first, showing both values
            shown = str(dialog.query_one("#actions-detail", Static).content)
            assert winner in shown and loser in shown
            await pilot.press("y")
            await until(pilot, lambda: not list_conflicts(b))
            assert shared_value(b, KEY) == loser
            await until(pilot, lambda: table.row_count == 0)
            await until(pilot, lambda: "conflict" not in _status_bar(app))
    # The value taken back was written as a new change: host A catches up to it.
    assert await asyncio.to_thread(read_on, tmp_path, "a", url, KEY) == loser
    # Host A recorded the same conflict; the later write closed it there too.
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        assert list_conflicts(a) == []
        closed = list_conflicts(a, include_resolved=True)
        assert [c.resolution for c in closed] == ["superseded by a later write"]
        app = _app(a)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("8")
            await settle(pilot)
            table = app.screen.query_one("#conflicts-table", DataTable)
            assert table.row_count == 0
            await pilot.press("a")  # show resolved ones
            await until(pilot, lambda: table.row_count == 1)
            assert "On this host now: the lost value" in _text(app, "#conflict-detail")


async def test_with_sync_off_the_swarm_screen_says_how_to_turn_it_on(data_dir):
    with open_coordinator(data_dir) as c:
        app = _app(c)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("8")
            await settle(pilot)
            assert app.current_mode == "swarm"
            summary = _text(app, "#sync-summary")
            assert summary.startswith("Sync is off: set [sync] url in config.toml or ")
            assert "CLAUDE_TUI_SYNC_URL" in summary and "No open conflicts" in summary
            assert not app.screen.query_one("#peers-panel").display
            assert app.screen.query_one("#conflicts-table", DataTable).row_count == 0
            assert "Sync –" in _status_bar(app)
            from claude_tui.app.commands import screen_commands

            titles = [name for name, _, _ in screen_commands(app)]
            assert "Go to Swarm" in titles and "Swarm: Take other" in titles
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            assert {"8", "o", "k", "r", "a"} <= {row[1] for row in app.screen.rows}


async def test_with_sync_off_conflicts_are_listed_kept_and_shown_when_resolved(tmp_path, own_redis):
    conflict = make_conflict(tmp_path, own_redis.url)
    winner = _json(conflict.winner)
    with MemoryCoordinator.open(host_config(tmp_path, "b", None)) as b:
        app = _app(b)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("8")
            await settle(pilot)
            assert _text(app, "#sync-summary").startswith("Sync is off")
            assert "1 open conflict" in _text(app, "#sync-summary")
            table = app.screen.query_one("#conflicts-table", DataTable)
            await until(pilot, lambda: table.row_count == 1)
            await until(pilot, lambda: "Sync –  ⚠ 1 conflict" in _status_bar(app))
            await pilot.press("k")  # keep the winner: nothing is written
            await until(pilot, lambda: table.row_count == 0)
            [resolved] = list_conflicts(b, include_resolved=True)
            assert resolved.resolution == "took the winner"
            assert shared_value(b, KEY) == winner
            await pilot.press("a")  # resolved ones too
            await until(pilot, lambda: table.row_count == 1)
            assert str(table.get_row(str(conflict.id))[-1]) == "kept"
            assert "resolved" in _text(app, "#conflict-detail")
            await pilot.press("o")
            await settle(pilot)
            assert not isinstance(app.screen, ActionsDialog)  # nothing left to choose
            assert any("resolved already" in n.message for n in app._notifications)


async def test_the_top_bar_follows_the_sync_server_going_down_and_coming_back(tmp_path, own_redis):
    with MemoryCoordinator.open(host_config(tmp_path, "b", own_redis.url)) as b:
        b.memory.store("survives", {"v": 1}, memory_type="shared")
        app = _app(b)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("8")
            await settle(pilot)
            await until(pilot, lambda: "Sync ● 0 peers" in _status_bar(app))
            await asyncio.to_thread(own_redis.kill)
            await until(pilot, lambda: "Sync ○ down" in _status_bar(app))
            await until(pilot, lambda: "○ down" in _text(app, "#sync-summary"))
            await asyncio.to_thread(own_redis.start)  # same port, empty: the stream is lost
            await until(pilot, lambda: "Sync ● 0 peers" in _status_bar(app))
            await until(
                pilot, lambda: any("lost its stream" in n.message for n in app._notifications)
            )
            await until(pilot, lambda: "republished" in _text(app, "#sync-summary"))
