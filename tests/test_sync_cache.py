"""A sync conflict and the caches (issue 15, item 3), driven by Pilot on the losing host.

Two hosts (two data dirs), each with a private redis-server as its L2, and a
third redis-server as the swarm's sync server. Both hosts change one field
while the sync server is out of reach; after it is back they record the same
conflict and keep the same winner. On the host whose value lost, every reader
- a fresh process, the Memory screen's row and its detail pane (read through
L1 and L2), the Swarm screen - sees the winner, never its own cached loser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.sync.conflicts import list_conflicts
from tests.app_helpers import make_app, settle, until
from tests.redis_proc import RedisProcess

SIZE = (160, 45)
KEY = "style"
DEAD = "redis://127.0.0.1:1/0"  # nothing listens there: the sync server is down


@pytest.fixture
def private(tmp_path: Path) -> Iterator[dict[str, RedisProcess]]:
    """Each host's own redis-server (its L2)."""
    servers: dict[str, RedisProcess] = {}
    try:
        for h in ("a", "b"):
            (tmp_path / h).mkdir()
            servers[h] = RedisProcess(tmp_path / h)
            servers[h].start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _config(root: Path, host: str, l2: RedisProcess, sync_url: str) -> Config:
    return Config.load(root / host, env={}, redis_url=l2.url, sync_url=sync_url)


def _store(config: Config, value: Any) -> None:
    with MemoryCoordinator.open(config) as c:
        c.memory.store(KEY, value, memory_type="shared")
        got = c.memory.get(KEY, memory_type="shared", track=False)
        assert got is not None and got.value == value


def _make_conflict(root: Path, url: str, private: dict[str, RedisProcess]) -> tuple[str, int]:
    """The conflict on ``width``; (the losing host, the winning width)."""
    _store(_config(root, "a", private["a"], url), {"owner": "ana", "width": 80})
    for h in ("b", "a", "b"):  # b joins and receives the base
        with MemoryCoordinator.open(_config(root, h, private[h], url)):
            pass
    for h, width in (("a", 100), ("b", 120)):
        _store(_config(root, h, private[h], DEAD), {"owner": "ana", "width": width})
    winners = set()
    for h in ("a", "b", "a"):  # reconnect: each publishes its queue and applies the other's
        with MemoryCoordinator.open(_config(root, h, private[h], url)) as c:
            winners |= {json.loads(x.winner or "null") for x in list_conflicts(c)}
    assert len(winners) == 1
    (winner,) = winners
    return {120: "a", 100: "b"}[winner], winner  # the host whose width lost


def _text(app: Any, selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    return str(getattr(content, "code", content))  # a JSON value is shown as Syntax


async def test_the_losing_host_shows_and_serves_the_winner(
    tmp_path: Path, own_redis: RedisProcess, private: dict[str, RedisProcess]
) -> None:
    url = own_redis.url
    loser, winner = _make_conflict(tmp_path, url, private)
    config = _config(tmp_path, loser, private[loser], url)
    with MemoryCoordinator.open(config) as c:
        [conflict] = list_conflicts(c)
        assert conflict.loser_origin == c.store.node_id  # this host's value lost
        got = c.memory.get(KEY, memory_type="shared", track=False)
        assert got is not None and got.value["width"] == winner and got.tier == "l2"
        app = make_app(c)
        app.ui.state.demo_offered = True
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await settle(pilot)
            table = app.screen.query_one("#memory-table", DataTable)

            def shown_row() -> list[str] | None:
                """The row of KEY as shown (Key ... Value), or None."""
                rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
                return next((r for r in rows if r[0] == KEY), None)

            await until(pilot, lambda: shown_row() is not None, what="the entry's row")
            row = shown_row()
            assert row is not None and json.loads(row[-1])["width"] == winner  # the Value column
            detail = app.screen.query_one("#memory-detail", Static)
            await until(
                pilot,
                lambda: str(detail.render()).partition("\n")[0] == KEY,
                what="the detail pane",
            )
            assert json.loads(_text(app, "#memory-value")) == json.loads(row[-1])  # they agree
            assert f'"width": {winner}' in _text(app, "#memory-value")
            await pilot.press("8")
            await settle(pilot)
            await until(
                pilot,
                lambda: "On this host now:" in _text(app, "#conflict-detail"),
                what="the current value in the Swarm detail",
            )
            detail = _text(app, "#conflict-detail")
            assert "On this host now: the kept value" in detail
            assert "taken back" not in detail
