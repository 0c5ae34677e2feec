"""The real app driven by Pilot: every screen, filters, edits, deletes, restore, live updates."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from textual.color import Color
from textual.widgets import DataTable, Input, Static, TextArea, Tree

from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.edit_value import EditValueDialog
from claude_tui.app.screens.help import HelpScreen
from claude_tui.app.state import UIState
from tests.app_helpers import (
    demo_coordinator,
    flowing,
    make_app,
    open_coordinator,
    region_text,
    screen_text,
    settle,
    until,
)
from tests.conftest import run_cli

SIZE = (150, 45)


def _static_text(app, selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    return getattr(content, "code", None) or str(content)


def _table_keys(app, selector: str) -> list[str]:
    table = app.screen.query_one(selector, DataTable)
    return [str(row.value) for row in table.rows]


async def test_every_screen_opens_with_its_key(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        expected = {
            "1": ("sessions", "#sessions-table", 3),
            "2": ("agents", "#agents-table", 4),
            "4": ("memory", "#memory-table", 100),
            "5": ("patterns", "#patterns-table", 24),
        }
        for key, (mode, table, rows) in expected.items():
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode
            assert app.screen.query_one(table, DataTable).row_count == rows
        await pilot.press("3")
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        assert app.current_mode == "tasks" and len(tree.root.children) == 1
        await pilot.press("6")
        await settle(pilot)
        assert app.current_mode == "metrics"
        assert "L1" in str(app.screen.query_one("#plot-cache").render())
        assert "(shared)" in str(app.screen.query_one("#plot-storage").render())
        assert "the 4 largest" in _static_text(app, "#title-storage")  # 3 sessions + shared


async def test_sessions_screen_shows_counts_and_opens_a_session(demo_app):
    app = demo_app(fresh=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#sessions-table", DataTable)
        row = [str(c) for c in table.get_row("ses_demo000002")]
        assert row[1] == "flaky-ci-hunt" and row[6] == "4"  # name, agents
        assert "91 ·" in row[8]  # memory entries of the session
        table.move_cursor(row=table.get_row_index("ses_demo000002"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.session_id == "ses_demo000002"
        assert "flaky-ci-hunt" in app.status.session_label()


def _memory_rows(app) -> dict[str, dict[str, str]]:
    """The memory table as shown: each row's key (the entry id) -> {column: cell text}."""
    table = app.screen.query_one("#memory-table", DataTable)
    labels = [str(column.label) for column in table.columns.values()]
    return {
        str(row.value): dict(zip(labels, map(str, table.get_row(row)), strict=True))
        for row in table.rows
    }


async def test_memory_browser_filters_and_searches_as_you_type(demo_app):
    c = demo_app.coordinator
    stored = {str(e.id): e for e in c.memory.list(all_sessions=True, limit=1000)}
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"idempotency")
        await settle(pilot)
        rows = _memory_rows(app)
        # Each row shown is an entry whose key or value has the word (read back from the store).
        assert rows and all(row["Key"] == stored[k].key for k, row in rows.items())
        assert all("idempotency" in (stored[k].key + stored[k].raw).lower() for k in rows)
        # Clear the search; filter by namespace instead.
        app.screen.query_one("#memory-search", Input).value = ""
        app.screen.query_one("#memory-namespace", Input).value = "decisions"
        await settle(pilot)
        rows = _memory_rows(app)
        assert rows and {row["Namespace"] for row in rows.values()} == {"decisions"}
        assert {row["Session"] for row in rows.values()} == {"ses_demo000001"}
        # All sessions.
        app.screen.query_one(DataTable).focus()
        await pilot.press("a")
        await settle(pilot)
        assert {row["Session"] for row in _memory_rows(app).values()} == {
            "ses_demo000001", "ses_demo000002", "ses_demo000003",
        }  # fmt: skip


async def test_memory_browser_pages_without_loading_everything(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        first = set(_table_keys(app, "#memory-table"))
        assert len(first) == 100
        assert "of 151" in _static_text(app, "#memory-scope")  # 91 private + 60 shared
        await pilot.press("right_square_bracket")
        await settle(pilot)
        second = set(_table_keys(app, "#memory-table"))
        assert len(second) == 51 and not first & second
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert set(_table_keys(app, "#memory-table")) == first


async def _select_entry(pilot, app, key: str) -> None:
    await pilot.press("slash")
    await pilot.press(*key)
    await settle(pilot)
    app.screen.query_one(DataTable).focus()
    entry_id = next(k for k, row in _memory_rows(app).items() if row["Key"] == key)
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(entry_id))
    await settle(pilot)


async def test_editing_a_value_refuses_invalid_json_and_saves_valid_json(demo_app):
    c = demo_app.coordinator
    key = "retry-policy-000"
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await _select_entry(pilot, app, key)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EditValueDialog)
        dialog.query_one(TextArea).text = '{"note": "broken",'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EditValueDialog)  # still open
        assert "not valid JSON" in str(app.screen.query_one("#edit-error").render())
        old = c.memory.get(key, session_id="ses_demo000001", namespace="decisions").value
        assert old["note"].startswith("Decided")
        app.screen.query_one(TextArea).text = '{"note": "edited in the app"}'
        await pilot.press("ctrl+s")
        await settle(pilot)
    fresh = c.memory.get(key, session_id="ses_demo000001", namespace="decisions")
    assert fresh.value == {"note": "edited in the app"}


async def test_deleting_asks_first(demo_app):
    c = demo_app.coordinator
    key = "retry-policy-000"
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await _select_entry(pilot, app, key)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert c.memory.get(key, session_id="ses_demo000001", namespace="decisions")
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert c.memory.get(key, session_id="ses_demo000001", namespace="decisions") is None
        assert key not in {row["Key"] for row in _memory_rows(app).values()}


async def test_secrets_are_masked_until_revealed(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await _select_entry(pilot, app, "staging_token")
        assert "sensitive" in _static_text(app, "#memory-value")
        assert "sk-demo" not in _static_text(app, "#memory-value")
        await pilot.press("r")
        await settle(pilot)
        assert "sk-demo" in _static_text(app, "#memory-value")


async def test_task_tree_expands_jumps_to_parent_and_filters(demo_app):
    c = demo_app.coordinator
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        tree = app.screen.query_one(Tree)

        def visible() -> int:
            return sum(1 for _ in range(tree.last_line + 1))

        collapsed = visible()
        await pilot.press("e")
        await settle(pilot)
        assert visible() == 22 > collapsed  # all 22 tasks of the session, 4 levels
        tree.move_cursor(tree.get_node_at_line(tree.last_line))
        leaf = tree.cursor_node.data
        await pilot.press("p")
        await settle(pilot)
        assert tree.cursor_node.data == c.tasks.get(leaf).parent_task_id
        assert "payload" in _static_text(app, "#task-detail")
        await pilot.press("f")  # first filter: pending
        await settle(pilot)
        assert "filter: pending" in _static_text(app, "#tasks-scope")


async def test_restore_on_launch_across_two_runs(data_dir):
    with demo_coordinator(data_dir) as c:
        app = make_app(c, fresh=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=table.get_row_index("ses_demo000002"))
            await pilot.press("enter")
            await pilot.press("4")
            await settle(pilot)
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=5)
            await settle(pilot)
            chosen = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    state = UIState.load(data_dir)
    assert (state.session_id, state.mode, state.selected["memory"]) == (
        "ses_demo000002", "memory", chosen,
    )  # fmt: skip
    with open_coordinator(data_dir) as c:
        app = make_app(c)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.session_id == "ses_demo000002"
            assert app.current_mode == "memory"
            table = app.screen.query_one(DataTable)
            assert (
                str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value) == chosen
            )
        # --fresh skips the restore.
        app = make_app(c, fresh=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.session_id is None and app.current_mode == "sessions"


async def test_a_vanished_last_session_is_reported_and_the_list_opens(demo_app, data_dir):
    UIState(session_id="ses_gone", mode="memory").save(data_dir)
    app = demo_app(session_id=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.current_mode == "sessions" and app.session_id is None
        assert any("no longer exists" in n.message for n in app._notifications)


async def test_a_write_from_another_process_appears_live_keeping_the_cursor(data_dir, redis_server):
    with demo_coordinator(data_dir, redis_server.url) as c:
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await settle(pilot)
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=3)
            await settle(pilot)
            before = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            result = await asyncio.to_thread(
                run_cli, data_dir, "memory", "store", "from-elsewhere", '{"live": true}',
                "--session", "ses_demo000001", redis_url=redis_server.url,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            shown = app.screen.query_one(DataTable)
            await until(
                pilot, lambda: any(
                    str(shown.get_row_at(row)[0]) == "from-elsewhere"
                    for row in range(shown.row_count)
                ), timeout=1.0, what="the write on the screen within 1 s",
            )  # fmt: skip
            after = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            assert after == before


async def test_bad_data_in_the_database_is_shown_raw_and_flagged(demo_app):
    c = demo_app.coordinator
    conn = sqlite3.connect(c.store.path)
    conn.execute("UPDATE memory_entries SET value = '{not json' WHERE key = 'retry-policy-000'")
    conn.commit()
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await _select_entry(pilot, app, "retry-policy-000")
        shown = _static_text(app, "#memory-value")
        assert "not valid JSON" in shown and "{not json" in shown


async def test_help_lists_every_key_of_the_screen(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        listed = {row[1] for row in app.screen.rows}
        wanted = {"1", "2", "3", "4", "5", "6", "?", "e", "x / del", "r", "S", "y", "E"}
        assert wanted <= listed


async def test_first_run_offers_the_demo_and_loads_it(data_dir):
    with open_coordinator(data_dir) as c:
        app = make_app(c)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await settle(pilot, rounds=5)
            assert app.session_id is not None
            assert len(c.sessions.list()) == 3
        # Offered once only.
        assert UIState.load(data_dir).demo_offered


async def test_first_run_offers_to_import_claude_code_history(data_dir):
    fixtures = Path(__file__).parent / "fixtures" / "claude-code"
    found = sorted(fixtures.glob("*/*.jsonl"))  # the three session transcripts
    assert len(found) == 3
    with open_coordinator(data_dir) as c:
        app = make_app(c, find_transcripts=lambda: found)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            assert app.screen.question == "Found 3 Claude Code sessions. Import them?"
            await pilot.press("y")
            await settle(pilot, rounds=8)
            sessions = c.sessions.list()
            assert len(sessions) == 3 and all(s.id.startswith("cc_") for s in sessions)
            assert app.session_id == sessions[0].id
        state = UIState.load(data_dir)
        assert state.import_offered and not state.demo_offered


async def test_declining_the_import_offers_the_demo(data_dir):
    found = sorted((Path(__file__).parent / "fixtures" / "claude-code").glob("*/*.jsonl"))
    with open_coordinator(data_dir) as c:
        app = make_app(c, find_transcripts=lambda: found)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            assert "demo" in app.screen.question
            await pilot.press("n")
            await settle(pilot)
        assert c.sessions.list() == []


def test_app_refuses_an_unknown_session_and_an_unusable_data_dir(data_dir, tmp_path):
    result = run_cli(data_dir, "--session", "ses_nope")
    assert result.returncode == 2 and "unknown session" in result.stderr
    assert "Traceback" not in result.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "claude-tui.db").write_text("definitely not sqlite")
    result = run_cli(bad)
    assert result.returncode == 2 and "not a SQLite database" in result.stderr
    assert json.loads('"ok"') == "ok"


@pytest.mark.parametrize("theme", ["claude-tui-dark", "claude-tui-light"])
async def test_both_themes_render(demo_app, data_dir, theme):
    UIState(session_id="ses_demo000001", mode="sessions", theme=theme).save(data_dir)
    app = demo_app(session_id=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == theme
        await pilot.press("ctrl+t")
        assert app.theme != theme


async def test_a_theme_change_reaches_the_screens_opened_before_it(demo_app, data_dir):
    """A screen counts as styled when it is built (no full restyle on each switch to it):
    a theme changed while it is hidden must still show on it when it comes back."""
    UIState(session_id="ses_demo000001", mode="sessions", theme="claude-tui-dark").save(data_dir)
    app = demo_app(session_id=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("2", "1"):  # agents built, then left
            await pilot.press(key)
            await settle(pilot)
        dark = Color.parse(app.theme_variables["background"])
        assert app.screen.styles.background == dark
        await pilot.press("ctrl+t")
        await settle(pilot)
        light = Color.parse(app.theme_variables["background"])
        assert light != dark and app.screen.styles.background == light
        await pilot.press("2")
        await settle(pilot)
        assert app.current_mode == "agents" and app.screen.styles.background == light


async def test_pattern_search_finds_by_meaning_and_reports_the_index(demo_app):
    c = demo_app.coordinator
    app = demo_app(vector_search=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await until(  # indexed off the first paint
            pilot, lambda: "Chroma ●" in region_text(app, app.screen.query_one("#status-bar")),
            timeout=60, what="the vector index",
        )  # fmt: skip
        assert c.learning.index.count() == 24  # the demo's patterns, repaired in
        await pilot.press("slash", *"requests time out in the test suite")
        await settle(pilot, rounds=5)
        scope = _static_text(app, "#patterns-scope")
        assert "by meaning" in scope
        best = next(iter(app.screen._results.values()))
        assert best[1] is not None and 0 < best[1] <= 1
        assert "timeout" in best[0].input_pattern


async def test_a_workers_error_reaches_the_user_once(demo_app):
    """A product error becomes a toast in its own words; any other error a dialog."""
    from claude_tui.app.dialogs.error import ErrorDialog
    from claude_tui.core.errors import ClaudeTUIError

    def refuse() -> None:
        raise ClaudeTUIError("the [sync] url is not set", title="Sync")

    def crash() -> None:
        raise ValueError("boom")

    app = demo_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.run_worker(refuse, thread=True, exit_on_error=False)
        await until(pilot, lambda: "the [sync] url is not set" in flowing(screen_text(app)))
        assert not isinstance(app.screen, ErrorDialog)
        app.run_worker(crash, thread=True, exit_on_error=False)
        await until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert "ValueError: boom" in flowing(screen_text(app))
