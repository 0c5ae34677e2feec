"""Sort, copy, export, import from the app, the command palette and user keymaps (issue #16).

The real app on a real data dir (SQLite file, demo data, the Claude Code
fixtures), driven by Pilot; the tests look at what is on screen, what the app
posted, the clipboard and the files written.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import Footer, Input, OptionList, ProgressBar, Static
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.dialogs.import_dialog import ImportDialog
from claude_tui.app.keys import binding_ids, check_keymap
from claude_tui.app.screens.help import HelpScreen
from claude_tui.app.widgets.table import RecordTable, sort_key
from claude_tui.cli.main import main
from claude_tui.core.errors import ConfigError
from tests.app_helpers import demo_coordinator, make_app, open_coordinator, settle

SIZE = (160, 45)
FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"


async def _until(pilot, check, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``check()`` holds (fails after ``seconds``).

    Unlike ``app_helpers.until`` it never waits for workers to finish: the import
    test checks the dialog while its worker is held on a gate.
    """
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause()


def _column(table: RecordTable, name: str) -> list[str]:
    index = table.column_names().index(name)
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


def _toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The toasts on screen, as shown: title, newline, message."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


def _text(app, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(selector, Static).content)


async def _choose(pilot, option: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``option`` in the open ChooseDialog (as arrow keys and enter would)."""
    dialog = pilot.app.screen
    assert isinstance(dialog, ChooseDialog)
    choices = dialog.query_one(OptionList)
    choices.focus()
    choices.highlighted = dialog.options.index(option)
    await pilot.press("enter")
    await settle(pilot)


# -- sort -----------------------------------------------------------------------


def test_cells_sort_as_numbers_first_then_as_text():
    cells = ["10", "9", "b", "A", "1,204", "0.5", "2026-11-20 12:00"]
    assert sorted(cells, key=sort_key) == ["0.5", "9", "10", "1,204", "2026-11-20 12:00", "A", "b"]


async def test_a_click_on_a_header_sorts_and_a_second_click_reverses(data_dir):
    sorted_messages: list[RecordTable.Sorted] = []

    def hook(message: Message) -> None:
        # A bubbling message reaches the hook once per node it visits: count it once.
        if isinstance(message, RecordTable.Sorted) and all(
            m is not message for m in sorted_messages
        ):
            sorted_messages.append(message)

    with demo_coordinator(data_dir) as c:
        app = make_app(c, fresh=True)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#sessions-table", RecordTable)
            names = _column(table, "Name")
            assert len(names) == 3 and names != sorted(names)  # newest first
            columns = table.ordered_columns
            x = sum(col.get_render_width(table) for col in columns[:1]) + 2  # inside "Name"
            await pilot.click("#sessions-table", offset=(x, 0))
            await settle(pilot)
            assert _column(table, "Name") == sorted(names, key=str.casefold)
            assert columns[1].label.plain == "Name ▲"
            await pilot.click("#sessions-table", offset=(x, 0))
            await settle(pilot)
            assert _column(table, "Name") == sorted(names, key=str.casefold, reverse=True)
            assert columns[1].label.plain == "Name ▼"
            assert [(m.column, m.descending) for m in sorted_messages] == [
                ("Name", False), ("Name", True),
            ]  # fmt: skip
            # The sort holds when the data changes underneath (a write from elsewhere).
            c.sessions.create(name="aaa-first", user_id="ana")
            await _until(pilot, lambda: table.row_count == 4)
            assert _column(table, "Name")[-1] == "aaa-first"


async def test_the_sort_key_picks_a_column_and_keeps_the_cursor_row(data_dir):
    with demo_coordinator(data_dir) as c:
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await settle(pilot)
            table = app.screen.query_one("#patterns-table", RecordTable)
            await _until(pilot, lambda: table.row_count == 24)
            table.move_cursor(row=5)
            selected = table.cursor_key()
            await pilot.press("S")
            await settle(pilot)
            await _choose(pilot, "Uses")
            uses = [float(u) for u in _column(table, "Uses")]
            assert uses == sorted(uses)
            assert table.cursor_key() == selected  # the cursor stayed on its row
            await pilot.press("S")
            await settle(pilot)
            await _choose(pilot, "Uses")  # the same column again: the other way round
            assert [float(u) for u in _column(table, "Uses")] == sorted(uses, reverse=True)


# -- copy -----------------------------------------------------------------------


async def test_y_copies_the_id_and_Y_the_value_a_secret_only_once_revealed(data_dir):
    with demo_coordinator(data_dir) as c:
        secret = c.memory.store(
            "deploy_token", "sk-live-0123456789abcdefSECRET", session_id="ses_demo000001",
            namespace="api_keys",
        )  # fmt: skip
        assert secret.sensitive
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("4")
            await settle(pilot)
            table = app.screen.query_one("#memory-table", RecordTable)
            await _until(pilot, lambda: table.row_count > 0)
            table.move_cursor(row=2)
            await settle(pilot)
            key = table.cursor_key()
            assert key is not None
            await pilot.press("y")
            assert app.clipboard == key
            await pilot.press("Y")
            entry = next(
                e for e in c.memory.list(all_sessions=True, limit=1000) if str(e.id) == key
            )
            assert json.loads(app.clipboard) == entry.value
            # The secret: Y refuses until r reveals it.
            app.screen.query_one("#memory-namespace", Input).value = "api_keys"
            await _until(pilot, lambda: str(secret.id) in {str(k.value) for k in table.rows})
            table.move_cursor(row=table.get_row_index(str(secret.id)))
            await settle(pilot)
            assert str(table.get_row(str(secret.id))[-1]) == "••••••"
            await pilot.press("Y")
            assert "SECRET" not in app.clipboard
            await _until(pilot, lambda: any("press r to reveal" in t for t in _toasts(app)))
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("Y")
            assert json.loads(app.clipboard) == "sk-live-0123456789abcdefSECRET"


# -- export ---------------------------------------------------------------------


async def test_export_writes_the_list_and_an_entry_to_private_files(data_dir):
    with demo_coordinator(data_dir) as c:
        secret = c.memory.store(
            "deploy_token", "sk-live-0123456789abcdefSECRET", session_id="ses_demo000001",
            namespace="api_keys",
        )  # fmt: skip
        app = make_app(c, session_id="ses_demo000001")
        exports = data_dir / "exports"
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("2")
            await settle(pilot)
            table = app.screen.query_one("#agents-table", RecordTable)
            await _until(pilot, lambda: table.row_count == 4)
            await pilot.press("E")
            await settle(pilot)
            await _choose(pilot, "This list as JSON")
            await _until(pilot, lambda: exports.exists() and len(list(exports.iterdir())) == 1)
            (written,) = exports.iterdir()
            assert written.name.startswith("agents-") and written.suffix == ".json"
            assert json.loads(written.read_text()) == table.records()
            assert [r["id"] for r in table.records()] == [str(k.value) for k in table.rows]
            assert stat.S_IMODE(written.stat().st_mode) == 0o600
            assert stat.S_IMODE(exports.stat().st_mode) == 0o700
            await _until(pilot, lambda: any(str(written) in t for t in _toasts(app)))
            # One entry as Markdown: the memory screen's whole entry, a secret masked.
            await pilot.press("4")
            await settle(pilot)
            memory = app.screen.query_one("#memory-table", RecordTable)
            app.screen.query_one("#memory-namespace", Input).value = "api_keys"
            await _until(pilot, lambda: str(secret.id) in {str(k.value) for k in memory.rows})
            memory.move_cursor(row=memory.get_row_index(str(secret.id)))
            await settle(pilot)
            await pilot.press("E")
            await settle(pilot)
            await _choose(pilot, "The selected entry as Markdown")
            await _until(pilot, lambda: len(list(exports.iterdir())) == 2)
            (entry_file,) = [p for p in exports.iterdir() if p.suffix == ".md"]
            text = entry_file.read_text()
            assert text.startswith(f"# claude-tui memory {memory.cursor_key()}")
            assert "| key | deploy_token |" in text and "| namespace | api_keys |" in text
            assert "SECRET" not in text and "sensitive: not exported" in text
            assert stat.S_IMODE(entry_file.stat().st_mode) == 0o600
            # The whole list as Markdown: a table with a header row and one row per entry.
            await pilot.press("E")
            await settle(pilot)
            await _choose(pilot, "This list as Markdown")
            await _until(pilot, lambda: len(list(exports.iterdir())) == 3)
            (listed,) = [p for p in exports.iterdir() if p.suffix == ".md" and p != entry_file]
            lines = listed.read_text().splitlines()
            assert lines[2].startswith("| id | Key | Type |") and "deploy_token" in lines[4]
            assert "SECRET" not in listed.read_text()


# -- import from the app ----------------------------------------------------------


async def test_import_from_the_app_shows_progress_and_the_sessions(data_dir):
    found = sorted(FIXTURES.glob("*/*.jsonl"))
    assert len(found) == 3
    posted: list[Message] = []

    def hook(message: Message) -> None:
        if isinstance(message, ImportDialog.Progress | ImportDialog.Finished):
            if all(m is not message for m in posted):
                posted.append(message)

    with demo_coordinator(data_dir) as c:
        app = make_app(c, fresh=True, find_transcripts=lambda: found)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            await pilot.press("i")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ImportDialog)
            await _until(
                pilot, lambda: "Found 3 Claude Code sessions" in _text(app, "#import-detail")
            )
            await pilot.press("enter")  # in the path box, empty: the sessions found
            await _until(pilot, lambda: any(isinstance(m, ImportDialog.Finished) for m in posted))
            await settle(pilot)
            progress = [m for m in posted if isinstance(m, ImportDialog.Progress)]
            assert [(m.done, m.total) for m in progress] == [(0, 3), (1, 3), (2, 3)]
            bar = dialog.query_one(ProgressBar)
            assert bar.total == 3 and bar.progress == 3
            assert _text(app, "#import-status").startswith("Imported 3 sessions: ")
            assert len([s for s in c.sessions.list() if s.id.startswith("cc_")]) == 3
            await pilot.press("escape")
            await settle(pilot)
            table = app.screen.query_one("#sessions-table", RecordTable)
            await _until(pilot, lambda: table.row_count == 6)


async def test_closing_the_import_dialog_stops_after_the_session_being_read(data_dir):
    import threading

    from claude_tui.core.importers.claude_code import ClaudeCodeImporter

    found = sorted(FIXTURES.glob("*/*.jsonl"))
    gate = threading.Event()
    progress: list[ImportDialog.Progress] = []

    class HeldImporter(ClaudeCodeImporter):
        """The real importer, held before its first session until the test lets it go."""

        def import_session(self, files, *, final=True):  # type: ignore[no-untyped-def]
            assert gate.wait(30)
            return super().import_session(files, final=final)

    def hook(message: Message) -> None:
        if isinstance(message, ImportDialog.Progress) and message not in progress:
            progress.append(message)

    outcomes: list[object] = []
    with open_coordinator(data_dir) as c:
        app = make_app(c)
        app.ui.state.demo_offered = True
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            dialog = ImportDialog(c, lambda: found, importer=HeldImporter)
            # Pushed from the app's own task (as a key would), so message_hook sees its messages.
            app.call_later(app.push_screen, dialog, outcomes.append)
            await settle(pilot)
            await _until(pilot, lambda: "Found 3" in _text(app, "#import-detail"))
            await pilot.press("enter")
            try:
                await _until(pilot, lambda: len(progress) == 1)
                await pilot.press("escape")  # while the first session is being read
                assert _text(app, "#import-status") == "Stopping…"
            finally:
                gate.set()  # never leave the worker thread waiting
            await _until(pilot, lambda: outcomes != [])
            (outcome,) = outcomes
            assert getattr(outcome, "stopped", False)
            assert getattr(outcome, "summary", "") == "Stopped after 1 of 3 sessions"
            assert not isinstance(app.screen, ImportDialog)
        assert len(c.sessions.list()) == 1  # the one being read was finished, no more


async def test_import_from_the_app_says_when_a_typed_path_does_not_exist(data_dir, tmp_path):
    with open_coordinator(data_dir) as c:
        app = make_app(c)
        app.ui.state.demo_offered = True  # no first-run offer in the way
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("i")
            await settle(pilot)
            assert isinstance(app.screen, ImportDialog)
            await _until(
                pilot, lambda: "No Claude Code transcripts" in _text(app, "#import-detail")
            )
            app.screen.query_one("#import-path", Input).value = str(tmp_path / "nowhere")
            await pilot.press("enter")
            await _until(pilot, lambda: "no such file" in _text(app, "#import-status"))
            assert (
                _text(app, "#import-status")
                == f"✖ no such file or directory: {tmp_path / 'nowhere'}"
            )
            assert c.sessions.list() == []


# -- the command palette ----------------------------------------------------------


async def test_the_palette_lists_other_screens_actions_and_runs_them_there(data_dir):
    with demo_coordinator(data_dir) as c:
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1")
            await settle(pilot)
            assert app.current_mode == "sessions"
            await pilot.press("ctrl+p")
            await settle(pilot)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"memory all")
            await _until(pilot, lambda: _palette_prompts(app))
            prompts = _palette_prompts(app)
            assert "Memory: All sessions" in prompts
            assert prompts[0] == "Memory: All sessions"
            await pilot.press("enter")
            await _until(pilot, lambda: app.current_mode == "memory")
            await _until(pilot, lambda: "all sessions" in _text(app, "#memory-scope"))
            # Discovery (nothing typed) lists every screen switch and every screen's actions.
            await pilot.press("ctrl+p")
            await settle(pilot)
            await _until(pilot, lambda: len(_palette_prompts(app)) > 40)
            listed = set(_palette_prompts(app))
            assert {"Go to Swarm", "Backups: Verify", "Tasks: Expand all"} <= listed
            assert {"Sessions: Export (JSON, Markdown)", "Import Claude Code history"} <= listed
            await pilot.press("escape")


def _palette_prompts(app) -> list[str]:  # type: ignore[no-untyped-def]
    from textual.command import CommandList

    options = app.screen.query_one(CommandList)
    return [
        str(getattr(option.prompt, "plain", option.prompt)).split("\n")[0]
        for option in options.options
    ]


# -- user keymaps ---------------------------------------------------------------


async def test_keys_moved_in_config_toml_work_and_show_in_footer_and_help(data_dir):
    (data_dir / "config.toml").write_text(
        '[keys]\n"memory.search" = "ctrl+f"\napp.help = "f1"\n', encoding="utf-8"
    )
    with demo_coordinator(data_dir) as c:
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await settle(pilot)
            search = app.screen.query_one("#memory-search", Input)
            await pilot.press("slash")  # no longer bound
            assert not search.has_focus
            await pilot.press("ctrl+f")
            assert search.has_focus
            await pilot.press("escape")
            await settle(pilot)
            footer = {
                key.description: key.key for key in app.screen.query_one(Footer).query(FooterKey)
            }
            assert footer["Search"] == "ctrl+f" and footer["Keys"] == "f1"
            await pilot.press("f1")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            assert ("memory", "ctrl+f", "Search", "memory.search") in app.screen.rows
            assert ("everywhere", "f1", "Keys", "app.help") in app.screen.rows
            assert ("everywhere", "?", "Keys", "app.help") not in app.screen.rows


def test_a_mistyped_key_id_is_one_line_with_a_suggestion(data_dir, capsys):
    (data_dir / "config.toml").write_text('[keys]\nmemory.serch = "ctrl+f"\n', encoding="utf-8")
    assert main(["--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "[keys]" in err and "'memory.serch'" in err and "did you mean 'memory.search'?" in err
    assert not (data_dir / "claude-tui.db").exists()  # refused before anything opened


@pytest.mark.parametrize(
    ("keymap", "said"),
    [
        ({"nothing.like.it": "f2"}, "no key binding has the id 'nothing.like.it' (the app"),
        ({"memory.search": "ctrl f"}, "memory.search: 'ctrl f' is not a key string"),
        ({"memory.search": ""}, "memory.search: '' is not a key string"),
    ],
)
def test_bad_keymaps_are_refused_naming_the_id(keymap, said):
    with pytest.raises(ConfigError) as caught:
        check_keymap(keymap)
    assert said in caught.value.message


def test_every_binding_has_an_id_and_the_ids_are_unique_per_class():
    from claude_tui.app.keys import binding_classes, bindings_of

    for node_class in binding_classes():
        own = [b for b in bindings_of(node_class) if b.id]
        ours = [b for cls in node_class.__mro__ if cls.__module__.startswith("claude_tui")
                for b in cls.__dict__.get("BINDINGS", [])]  # fmt: skip
        assert all(getattr(b, "id", None) for b in ours), node_class
        assert len({b.id for b in own}) == len(own)
    assert {"memory.search", "screen.sort", "screen.copy_id", "app.import"} <= binding_ids()


async def test_a_key_moved_onto_another_binding_says_which_lost_it(data_dir):
    (data_dir / "config.toml").write_text('[keys]\n"memory.search" = "e"\n', encoding="utf-8")
    with demo_coordinator(data_dir) as c:
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("4")
            await settle(pilot)
            await pilot.press("e")
            assert app.screen.query_one("#memory-search", Input).has_focus
            await _until(pilot, lambda: any(t.startswith("Keys\n") for t in _toasts(app)))
            (warned,) = [t for t in _toasts(app) if t.startswith("Keys\n")]
            assert warned == (
                "Keys\nconfig.toml [keys]: e is both memory.search and memory.edit; "
                "give one of them another key"
            )


async def test_the_task_tree_copies_and_exports_its_tasks(data_dir):
    with demo_coordinator(data_dir) as c:
        tasks = {t.id: t for t in c.tasks.list("ses_demo000001")}
        app = make_app(c, session_id="ses_demo000001")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await settle(pilot)
            await pilot.press("y")
            assert app.clipboard in tasks
            await pilot.press("Y")
            assert app.clipboard in {t.title for t in tasks.values()}
            await pilot.press("E")
            await settle(pilot)
            await _choose(pilot, "This list as JSON")
            exports = data_dir / "exports"
            await _until(pilot, lambda: exports.exists() and any(exports.iterdir()))
            (written,) = exports.iterdir()
            rows = json.loads(written.read_text())
            assert {r["id"] for r in rows} == set(tasks) and "payload" not in rows[0]
