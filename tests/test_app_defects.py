"""The app's defects 1-9 of issue #16, each driven through the real app and read off the screen.

Every test opens the real app (Pilot) on a real data dir with the demo data
(``demo_app``) and asserts on what the terminal shows or which widget has the
focus, at the sizes the issue names (80x24 up to 240x70).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Button, DataTable, Static, TextArea, Tree

from claude_tui.app.dialogs.actions import ActionsDialog
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.edit_value import EditValueDialog
from claude_tui.app.formatting import TASK_STYLES, fixed, plural
from claude_tui.app.screens.help import HelpScreen
from claude_tui.app.state import UIState
from claude_tui.core.durability.backups import BackupService
from tests.app_helpers import (
    DEMO_SESSION,
    flowing,
    make_app,
    open_coordinator,
    region_text,
    screen_text,
    settle,
    until,
)

SMALL, LARGE, HUGE = (80, 24), (160, 45), (240, 70)
FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"


def _dialog_text(app) -> str:  # type: ignore[no-untyped-def]
    """The open dialog's text as one line (wrapped lines joined, frame removed)."""
    return flowing(region_text(app, app.screen.query_one(".dialog", Vertical)))


# -- 1. dialog text wraps, never clipped ------------------------------------------------
@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_the_delete_dialog_text_wraps_whole(demo_app, size):
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("1")
        await until(pilot, lambda: "agents   4" in screen_text(app), what="the session's counts")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        shown = _dialog_text(app)
        assert (
            "4 agents, 22 tasks and 91 private memory entries will be deleted. "
            "Shared memory stays." in shown
        )
        assert "Delete (y)" in shown and "Cancel (n)" in shown


async def test_the_demo_and_import_offers_read_whole_at_80x24(data_dir):
    found = sorted(FIXTURES.glob("*/*.jsonl"))
    with open_coordinator(data_dir) as coordinator:
        app = make_app(coordinator, find_transcripts=lambda: found)
        async with app.run_test(size=SMALL) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            shown = _dialog_text(app)
            assert "Found 3 Claude Code sessions. Import them?" in shown
            assert (
                "Importing again later adds only what is new ('claude-tui import claude-code')."
                in (shown)
            )
            await pilot.press("n")
            await until(pilot, lambda: "demo" in _dialog_text(app))
            assert "You can delete it later." in _dialog_text(app)
            assert "Load demo (y)" in _dialog_text(app)


async def test_the_backup_restore_dialog_reads_whole_at_80x24(demo_app):
    BackupService(demo_app.coordinator.config, demo_app.coordinator).run("full")
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: "1 backup in" in screen_text(app))
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ActionsDialog))
        shown = _dialog_text(app)
        assert "The app closes and reopens on the restored data." in shown
        assert "Restore the latest (l)" in shown and "Cancel (n)" in shown


# -- 2. destructive buttons are never the default ---------------------------------------
async def test_enter_on_the_delete_dialog_cancels_and_escape_too(demo_app):
    app = demo_app()
    sessions = demo_app.coordinator.sessions
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("1")
        await until(pilot, lambda: "agents   4" in screen_text(app), what="the session's counts")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        focused = app.screen.focused
        assert isinstance(focused, Button) and str(focused.label) == "Cancel (n)"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await settle(pilot)
        assert len(sessions.list()) == 3  # nothing was deleted


async def test_the_restore_dialogs_focus_cancel(demo_app):
    BackupService(demo_app.coordinator.config, demo_app.coordinator).run("full")
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: "1 backup in" in screen_text(app))
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ActionsDialog))
        assert app.screen.focused is app.screen.query_one("#cancel", Button)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ActionsDialog))
        assert app.restore_backup_id is None and app.is_running


async def test_an_offer_focuses_its_yes_button(data_dir):
    with open_coordinator(data_dir) as coordinator:
        app = make_app(coordinator)
        async with app.run_test(size=LARGE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            focused = app.screen.focused
            assert isinstance(focused, Button) and str(focused.label) == "Load demo (y)"
            assert focused.variant == "primary"  # not red: nothing is lost


# -- 3. every size from 80x24 to 240x70 -------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "table"),
    [
        ("1", "#sessions-table"),
        ("2", "#agents-table"),
        ("4", "#memory-table"),
        ("5", "#patterns-table"),
        ("7", "#backups-table"),
        ("8", "#conflicts-table"),
    ],
)
async def test_at_80_columns_the_detail_pane_moves_below_the_list(demo_app, mode, table):
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press(mode)
        await settle(pilot)
        listing = app.screen.query_one(table, DataTable)
        detail = app.screen.query_one(".detail")
        assert listing.region.width >= 78  # the whole width, not 30 of 80 columns
        assert detail.region.y >= listing.region.bottom and detail.region.height >= 4
        await pilot.press("d")  # hide it: the list takes the room
        await settle(pilot)
        assert not detail.display and listing.region.height > 12


async def test_wide_terminals_keep_the_detail_pane_beside_the_list(demo_app):
    app = demo_app()
    async with app.run_test(size=HUGE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        listing = app.screen.query_one("#memory-table", DataTable)
        detail = app.screen.query_one(".detail")
        assert detail.region.x >= listing.region.right and detail.region.y == listing.region.y
        assert "swarm-examples-059" in region_text(app, detail)
        await pilot.press("d")
        await settle(pilot)
        assert not detail.display and listing.region.width >= 238
        await pilot.press("d")
        await settle(pilot)
        assert detail.display


@pytest.mark.parametrize("size", [SMALL, LARGE, HUGE])
async def test_the_edit_dialog_shows_save_cancel_and_its_keys(demo_app, size):
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 100)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditValueDialog))
        await settle(pilot)
        screen = app.screen.region
        for button in app.screen.query(Button):
            assert screen.contains_region(button.region) and button.region.height >= 1
        assert app.screen.query_one(TextArea).region.height >= 3
        shown = _dialog_text(app)
        assert "ctrl+s to save · escape to cancel" in shown
        assert "Save (ctrl+s)" in shown and "Cancel" in shown


# -- 4. the Backups table is measured when the app opens on it ---------------------------
async def test_backups_table_is_whole_when_the_app_opens_on_it(demo_app):
    record = BackupService(demo_app.coordinator.config, demo_app.coordinator).run("full")
    UIState(session_id=DEMO_SESSION, mode="backups").save(demo_app.data_dir)
    app = make_app(demo_app.coordinator)  # restores the Backups screen, as after a restore
    async with app.run_test(size=LARGE) as pilot:
        await until(pilot, lambda: app.current_mode == "backups")
        table = app.screen.query_one("#backups-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        await settle(pilot)
        shown = region_text(app, table)
        assert record.id in shown and f"0–{record.seq_hi}" in shown
        assert "b…" not in shown
        jobs = region_text(app, app.screen.query_one("#jobs-table", DataTable))
        assert "differential" in jobs and "incremental" in jobs


# -- 5. the top bar and the footers ------------------------------------------------------
@pytest.mark.parametrize("size", [SMALL, LARGE, HUGE])
async def test_a_long_session_name_is_cut_and_the_backends_stay_visible(demo_app, size):
    long_name = "please refactor the payment retry logic so that " * 4
    session = demo_app.coordinator.sessions.create(name=long_name.strip()[:200])
    app = demo_app(session_id=session.id)
    async with app.run_test(size=size) as pilot:
        bar = app.screen.query_one("#status-bar")
        await until(pilot, lambda: "please refactor" in region_text(app, bar))
        top = region_text(app, bar)
        assert "…" in top
        for name in ("SQLite ●", "Redis –", "Chroma –", "Sync –"):
            assert name in top
        assert "off" in top.split("Sync –")[1]  # the scheduler's state, at the end


@pytest.mark.parametrize("size", [LARGE, HUGE])
async def test_the_sessions_footer_shows_help_quit_and_the_screens(demo_app, size):
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("1")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "x Delete" in footer and "del " not in footer
        for key in ("? Keys", "q Quit", "1 2 3 4 5 6 7 8 Screens", "^p palette"):
            assert key in footer


async def test_at_80_columns_the_footer_starts_with_the_screens_own_keys(demo_app):
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("4")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer.startswith("/ Search a All sessions  [ ] Pages e Edit x Delete")


async def test_the_footer_follows_focus_only_when_the_keys_change(demo_app):
    """Focus moves re-send the bindings; the footer is rebuilt only when what it shows
    changes: the search box hides the letter keys, a widget with a key adds it."""
    from textual.binding import Binding
    from textual.widgets._footer import FooterKey

    class Zapper(Static, can_focus=True):
        BINDINGS = [Binding("z", "app.bell", "Zap")]

    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        keys = list(app.screen.query(FooterKey))
        app.screen.refresh_bindings()  # the signal again, the same keys
        await settle(pilot)
        assert list(app.screen.query(FooterKey)) == keys  # the same widgets: not rebuilt
        footer = lambda: screen_text(app).splitlines()[-1]  # noqa: E731
        await pilot.press("slash")  # typing in the search box: letter keys leave the footer
        await until(pilot, lambda: "e Edit" not in footer())
        await pilot.press("escape")
        await until(pilot, lambda: "e Edit" in footer())
        zapper = Zapper("zap")
        await app.screen.mount(zapper)
        zapper.focus()
        await until(pilot, lambda: "z Zap" in footer())
        await pilot.press("escape")  # back to the list
        await until(pilot, lambda: "z Zap" not in footer())
        assert "/ Search" in footer()


# -- 6. user and config text is never parsed as markup -----------------------------------
async def test_the_sync_off_toast_shows_its_brackets(demo_app):
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("8")
        await settle(pilot)
        await pilot.press("r")
        await until(pilot, lambda: "Sync is off" in screen_text(app))
        assert "set [sync] url in config.toml" in flowing(screen_text(app))


async def test_markup_in_keys_and_queries_is_shown_literally(demo_app):
    demo_app.coordinator.memory.store(
        "[b]not bold[/b]", {"v": 1}, session_id=DEMO_SESSION, namespace="[red]ns"
    )
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("slash", *"not bold")
        await until(pilot, lambda: "[b]not bold[/b]" in screen_text(app))
        app.screen.query_one(DataTable).focus()
        await settle(pilot)
        assert "namespace  [red]ns" in screen_text(app)  # the detail pane
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Delete [b]not bold[/b]?" in _dialog_text(app)
        await pilot.press("escape")
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("slash", *"[i]retry")
        await until(pilot, lambda: "for '[i]retry'" in screen_text(app))


# -- 7. a new pattern search selects its best match --------------------------------------
async def test_a_new_pattern_search_selects_the_best_match(demo_app):
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 24)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=5)
        await settle(pilot)
        await pilot.press("slash", *"retry policy")
        await until(pilot, lambda: "for 'retry policy'" in screen_text(app))
        await settle(pilot)
        assert table.cursor_row == 0
        best = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        assert f"id           {best}" in screen_text(app)  # the detail follows
        await pilot.press("escape")  # back to the table; the same results refresh in place
        table.move_cursor(row=2)
        await settle(pilot)
        app.screen.reload()
        await settle(pilot)
        assert table.cursor_row == 2


async def test_a_new_memory_search_starts_at_its_first_row(demo_app):
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 100)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=7)
        await settle(pilot)
        await pilot.press("slash", *"retry")
        await until(pilot, lambda: "for 'retry'" in screen_text(app))
        await settle(pilot)
        assert table.cursor_row == 0


# -- 8. key names, plurals, no -0.00 ------------------------------------------------------
async def test_help_shows_keys_as_people_type_them(demo_app):
    app = demo_app()
    async with app.run_test(size=HUGE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await settle(pilot)
        shown = screen_text(app)
        assert "question_mark" not in shown and "square_bracket" not in shown
        rows = {(row[1], row[2]) for row in app.screen.rows}  # where, key, what, id
        assert ("?", "Keys") in rows and ("]", "Next page") in rows and ("[", "Prev page") in rows


async def test_counts_read_as_english(demo_app):
    coordinator = demo_app.coordinator
    session = coordinator.sessions.create(name="one of each")
    coordinator.tasks.add(session.id, "the only task")
    coordinator.agents.register(session.id, "coder")
    coordinator.memory.store("zebraunique", {"v": 1}, session_id=session.id)
    app = demo_app(session_id=session.id)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: "1 task ·" in screen_text(app))
        await pilot.press("2")
        await until(pilot, lambda: "1 agent ·" in screen_text(app))
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("slash", *"zebraunique")
        await until(pilot, lambda: "1 best match for" in screen_text(app))
        await pilot.press("escape", "1")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(session.id))
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "1 agent, 1 task and 1 private memory entry will be deleted" in _dialog_text(app)


def test_numbers_never_read_minus_zero():
    assert [fixed(-0.001), fixed(-0.0), fixed(0.004), fixed(-0.5)] == [
        "0.00", "0.00", "0.00", "-0.50",
    ]  # fmt: skip
    assert plural(1, "best match") == "1 best match" and plural(2, "match") == "2 matches"
    assert plural(1, "task") == "1 task" and plural(1_204, "task") == "1,204 tasks"


# -- 9. task status glyphs with meaning -----------------------------------------------------
async def test_task_glyphs_are_coloured_and_explained(demo_app):
    app = demo_app()
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        legend = app.screen.query_one("#tasks-legend", Static)
        shown = region_text(app, legend)
        for words in ("○ pending", "◐ in progress", "⊘ blocked", "● completed", "✖ failed"):
            assert words in shown
        tree = app.screen.query_one(Tree)
        colours: dict[str, str] = {}
        for line in range(tree.last_line + 1):
            node = tree.get_node_at_line(line)
            assert node is not None and isinstance(node.label, Text)
            glyph = node.label.plain[0]
            colours[glyph] = str(node.label.get_style_at_offset(app.console, 0))
        assert colours["●"] != colours["✖"] != colours["○"]
        assert colours["✖"] == TASK_STYLES["failed"] and colours["●"] == TASK_STYLES["completed"]
