"""The conversation viewer (issue 13, "Read it in the app"): the paged reader on real
transcripts, and the app's conversation screen driven with Pilot.

Transcripts: tests/fixtures/claude-code (see its ATTRIBUTION.md), the excerpts of
tests/fixtures/claude-code-defects, and one the real Claude Code CLI writes offline.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, Tree

from claude_tui.app.dialogs.pick import PickDialog
from claude_tui.app.screens.conversation import ConversationScreen
from claude_tui.app.screens.sessions import SessionsScreen
from claude_tui.app.widgets.turn import ThreadBox, TurnView
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import NotFound
from claude_tui.core.importers.claude_code import ClaudeCodeImporter
from claude_tui.core.importers.naming import COMPACTION_NS, PROMPTS_NS
from claude_tui.core.transcripts import links
from claude_tui.core.transcripts import turns as t
from claude_tui.core.transcripts.conversation import Conversation, TranscriptFiles
from claude_tui.core.transcripts.lines import TranscriptUnreadable
from claude_tui.core.transcripts.locate import transcript_files
from claude_tui.core.transcripts.reader import Transcript
from claude_tui.core.transcripts.search import text_search
from tests.app_helpers import FixedClock, make_app, open_coordinator, settle
from tests.claude_code_cli import claude_env, find_claude

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"
SPOTTER = FIXTURES / "spotter_v2.1.38-39"
LARGEST = SPOTTER / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
SUBAGENTS = SPOTTER / LARGEST.stem / "subagents"
SHORT = SPOTTER / "short.jsonl"
VIEWER = FIXTURES / "claude-code-viewer_v1.0.98" / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
MERGED = Path(__file__).parent / "fixtures" / "claude-code-defects" / "entire_v2.1.7-12"
MERGED = MERGED / "excerpt.jsonl"  # two machines' records, two lines holding two records each
LARGEST_SID = f"cc_{LARGEST.stem}"
TASK_LINE = 44  # the Explore Task call of the largest fixture
BOUNDARY = 754  # its compaction boundary
SIZE = (140, 36)


def _agents() -> dict[str, Path]:
    return {p.stem.removeprefix("agent-"): p for p in sorted(SUBAGENTS.glob("agent-*.jsonl"))}


def _all_turns(conversation: Conversation, page: int = 25) -> list[t.Turn]:
    out: list[t.Turn] = []
    position = 0
    while True:
        found = conversation.main.page(position, page)
        out += found.turns
        if found.at_end:
            return out
        position = found.end


@pytest.fixture(scope="module")
def largest() -> Iterator[Conversation]:
    conversation = Conversation(TranscriptFiles(LARGEST, str(LARGEST), agents=_agents()))
    yield conversation
    conversation.close()


@pytest.fixture(scope="module")
def largest_turns(largest: Conversation) -> list[t.Turn]:
    return _all_turns(largest)


# -- the reader ---------------------------------------------------------------------------


def test_first_page_reads_only_the_lines_it_shows() -> None:
    conversation = Conversation(TranscriptFiles(LARGEST, str(LARGEST)))
    page = conversation.main.page(0, 10)
    lines = conversation.transcript.lines
    assert len(page.turns) >= 10 and not page.at_end and page.at_start
    first = page.turns[0]
    assert (first.kind, first.line) == (t.PROMPT, 7)
    assert first.text.startswith("Work on bead spotter-dov.")
    # Lazily: newlines found in the first megabyte only (1,512 lines in all), and only the
    # lines up to the page's end parsed (its calls' results are among them).
    assert not lines.complete and lines.known() < 1512 // 2
    assert max(conversation.transcript._cache) < page.end < 200
    assert conversation.structure_ready is None  # nothing read every line yet
    conversation.close()


def test_the_largest_transcript_reads_in_order_with_every_call_paired(
    largest: Conversation, largest_turns: list[t.Turn]
) -> None:
    keys = [(turn.line, turn.part) for turn in largest_turns]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    calls = [turn for turn in largest_turns if turn.kind == t.TOOL]
    assert len(calls) == 150  # every tool_use of the main thread, once
    assert all(c.tool and c.tool.result is not None for c in calls)
    assert sum(c.is_error for c in calls) == 5  # the fixture's five failed calls
    kinds = {turn.kind for turn in largest_turns}
    assert {t.PROMPT, t.TEXT, t.THINKING, t.TOOL, t.COMPACTION, t.SUMMARY} <= kinds
    assert t.QUIET not in kinds and t.RESULT not in kinds  # progress hidden, results folded
    read = next(c for c in calls if c.tool and c.tool.name == "Read")
    assert read.tool and read.tool.result and read.tool.result.line > read.line
    # Paging backwards gives the same turns.
    backwards: list[t.Turn] = []
    end = largest.transcript.lines.count()
    while end > 0:
        page = largest.main.page_before(end, 30)
        backwards = page.turns + backwards
        end = page.start
    assert [(b.line, b.part) for b in backwards] == keys
    # So does reading it through in one go (as an export does).
    assert [(x.line, x.part) for x in largest.main.every_turn()] == keys


def test_the_branch_resume_follows_and_the_compaction(
    largest: Conversation, largest_turns: list[t.Turn]
) -> None:
    structure = largest.structure()
    assert structure.compactions == [BOUNDARY] and structure.malformed == []
    assert structure.counts() == {"live": 221, "compacted": 193, "off": 0}
    assert structure.leaf_line == 1512
    assert structure.branches[BOUNDARY] == "live" and structure.branches[7] == "compacted"
    boundary = next(x for x in largest_turns if x.kind == t.COMPACTION)
    summary = next(x for x in largest_turns if x.kind == t.SUMMARY)
    assert boundary.line == BOUNDARY and boundary.note == "auto, 170,251 tokens before"
    assert summary.line == BOUNDARY + 1
    assert summary.text.startswith("This session is being continued from a previous conversation")
    summariser = structure.thread_for_boundary(BOUNDARY)
    assert summariser is not None and summariser.agent_id == "acompact-e1f845"


def test_a_subagent_file_is_nested_at_its_task_call(largest: Conversation) -> None:
    structure = largest.structure()
    call = largest.main.turns_at(TASK_LINE - 1)
    assert call and call[0].tool and call[0].tool.spawns
    ref = structure.thread_for_call(call[0].tool.id)
    assert ref is not None and (ref.kind, ref.agent_id) == ("file", "a2898e3")
    assert ref.call_line == TASK_LINE and ref.title.startswith("Explore")
    thread = largest.thread(ref)
    turns, position = [], 0
    while True:
        page = thread.page(position, 40)
        turns += page.turns
        if page.at_end:
            break
        position = page.end
    assert turns[0].kind == t.PROMPT and turns[0].text.startswith("Very thorough exploration")
    assert sum(x.is_error for x in turns) == 8  # the subagent file's eight failed calls
    assert all(x.tool and x.tool.result for x in turns if x.kind == t.TOOL)
    assert structure.unlinked() == []


def test_embedded_sidechains_are_threads_of_their_task_calls() -> None:
    conversation = Conversation(TranscriptFiles(VIEWER, str(VIEWER)))
    structure = conversation.structure()
    sidechains = [r for r in structure.threads if r.kind == "sidechain"]
    assert len(sidechains) == 5 and all(r.call_id for r in sidechains)
    main = _all_turns(conversation)
    in_threads = {line for r in sidechains for line in r.lines}
    assert len(in_threads) == 405 and not any(x.line in in_threads for x in main)
    spawns = [x for x in main if x.tool and x.tool.spawns]
    assert {x.line for x in spawns} == {r.call_line for r in sidechains}
    thread = conversation.thread(sidechains[0])
    first = thread.page(0, 5).turns
    assert first and all(x.line in sidechains[0].lines for x in first)
    conversation.close()


def test_malformed_lines_and_unknown_records_are_shown_marked(tmp_path: Path) -> None:
    conversation = Conversation(TranscriptFiles(MERGED, str(MERGED)))
    turns = _all_turns(conversation)
    joined = [x for x in turns if x.kind == t.MALFORMED]
    assert [x.line for x in joined] == [8, 20] == conversation.structure().malformed
    assert all("2 records joined on one line" in x.note for x in joined)
    # The records of a joined line still read (the text after the marker).
    assert any(x.line == 8 and x.kind == t.TEXT for x in turns)
    conversation.close()

    broken = tmp_path / "broken.jsonl"
    lines = SHORT.read_bytes().splitlines(keepends=True)
    extra = [b"{not json\n", b"[1, 2]\n", b'{"type": "brand-new-record", "x": 1}\n',
             b"\xff\xfe bytes\n", b"\n", b'{"type": "user", "message": 7}\n']  # fmt: skip
    broken.write_bytes(b"".join(lines[:5] + extra + lines[5:]) + b'{"type":"assistant","mess')
    conversation = Conversation(TranscriptFiles(broken, str(broken)))
    turns = _all_turns(conversation)
    marked = {x.line: (x.kind, x.note) for x in turns if x.kind in (t.MALFORMED, t.OTHER)}
    assert marked[6] == (t.MALFORMED, "invalid JSON (Expecting property name enclosed in "
                         "double quotes at column 2)")  # fmt: skip
    assert marked[7] == (t.MALFORMED, "a JSON list, not an object")
    assert marked[8] == (t.OTHER, "unknown record type 'brand-new-record'")
    assert marked[9] == (t.MALFORMED, "not UTF-8 text")
    assert marked[11] == (t.OTHER, "user record without a message")
    last = conversation.transcript.lines.count()
    assert marked[last][0] == t.MALFORMED and "still being written" in marked[last][1]
    assert len([x for x in turns if x.kind == t.TOOL]) == 2  # the real records still read
    conversation.close()


def test_off_branch_records_are_marked() -> None:
    conversation = Conversation(TranscriptFiles(MERGED, str(MERGED)))
    structure = conversation.structure()
    turns = {x.text: x for x in _all_turns(conversation)}
    # /exit and its "Bye!" were left behind when the session was resumed on another machine.
    assert turns["/exit"].branch == "off"
    assert turns["<local-command-stdout>Bye!</local-command-stdout>"].branch == "off"
    assert structure.counts()["off"] == 2
    conversation.close()
    # Parallel tool calls: the result of the first sits beside the chain, still on the branch.
    short = Conversation(TranscriptFiles(SHORT, str(SHORT)))
    assert short.structure().counts() == {"live": 11, "compacted": 0, "off": 0}
    short.close()


@pytest.fixture(scope="module")
def cli_transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A transcript the real Claude Code CLI wrote offline (no account: an API error)."""
    home = tmp_path_factory.mktemp("cc-home")
    project = home / "project"
    project.mkdir()
    done = subprocess.run(
        [str(find_claude()), "-p", "hello"], env=claude_env(home), cwd=project,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    (found,) = (home / ".claude" / "projects").rglob("*.jsonl")
    return found


def test_api_errors_and_new_record_types_of_the_real_cli(cli_transcript: Path) -> None:
    conversation = Conversation(TranscriptFiles(cli_transcript, str(cli_transcript)))
    turns = _all_turns(conversation)
    assert [x.kind for x in turns if x.kind in (t.PROMPT, t.ERROR)] == [t.PROMPT, t.ERROR]
    error = next(x for x in turns if x.kind == t.ERROR)
    assert error.is_error and "Not logged in" in error.text and error.note
    assert not [x for x in turns if x.kind in (t.OTHER, t.MALFORMED)]  # every type is known
    assert any(x.kind == t.META and x.note.startswith("attachment") for x in turns)
    quiet = conversation.main.page(0, 500, quiet=True).turns
    types = {x.note.split()[0] for x in quiet if x.kind == t.QUIET}
    assert {"queue-operation", "last-prompt", "cost-state", "atis-latch"} <= types
    assert {"api-request", "api-request-shape"} <= types
    assert error.branch == "" and conversation.structure().branches[error.line] == "live"
    conversation.close()


def test_text_search_finds_turns_in_the_main_thread_and_the_subagent(
    largest: Conversation,
) -> None:
    hits = text_search(largest, "ashcomputer.liveview")  # any case
    assert hits and [(h.line, h.part) for h in hits] == sorted((h.line, h.part) for h in hits)
    for hit in hits:
        assert "ashcomputer.liveview" in hit.snippet.lower()
    in_thread = [h for h in hits if h.thread]
    # Matches in a subagent's file show at its Task call, the summariser's at its boundary.
    assert {(h.line, h.thread) for h in in_thread} == {
        (TASK_LINE, "Explore: Explore transcript rendering codebase"),
        (BOUNDARY, "compaction summariser"),
    }
    assert all(h.thread_line for h in in_thread)
    assert any(not h.thread for h in hits)
    # A word only in a tool result is found at its call; a quoted phrase is searched as written.
    result_only = text_search(largest, "15 tests, 0 failures")
    assert result_only and all(
        largest.main.turns_at(h.line - 1)[h.part].kind == t.TOOL for h in result_only
    )
    assert text_search(largest, '"description": "Explore') == []  # JSON syntax is not text
    assert text_search(largest, "   ") == []


def test_the_reader_takes_bytes_and_file_objects_and_refreshes(tmp_path: Path) -> None:
    data = SHORT.read_bytes()
    from_bytes = Transcript.open(data)
    with open(SHORT, "rb") as handle:
        from_file = Transcript.open(handle)
        assert [x.key for x in from_file.turns_at(3)] == [x.key for x in from_bytes.turns_at(3)]
    growing = tmp_path / "growing.jsonl"
    half = data.index(b"\n", len(data) // 2) + 1
    growing.write_bytes(data[:half])
    conversation = Conversation(TranscriptFiles(growing, str(growing)))
    before = len(_all_turns(conversation))
    growing.write_bytes(data)
    assert conversation.refresh() and not conversation.refresh()
    assert len(_all_turns(conversation)) > before
    assert len(_all_turns(conversation)) == len(
        _all_turns(Conversation(TranscriptFiles(SHORT, str(SHORT))))
    )
    conversation.close()


# -- where a session's transcript is, and the links to imported rows --------------------


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir with the largest fixture (and its subagents) and the v1.0.98 one imported."""
    root = tmp_path_factory.mktemp("imported")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAUDE_CONFIG_DIR", str(root / "claude"))
        (root / "claude").mkdir()
        (root / "claude" / "settings.json").write_text('{"cleanupPeriodDays": 100000}')
        data_dir = root / "data"
        with open_coordinator(data_dir, clock=FixedClock()) as c:
            ClaudeCodeImporter(c).run([SPOTTER, VIEWER])
        yield data_dir


@pytest.fixture
def opened(imported: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryCoordinator]:
    # No purge warning (the app says it when cleanupPeriodDays is 30 or less).
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(imported.parent / "claude"))
    with open_coordinator(imported, clock=FixedClock()) as c:
        yield c


def test_a_sessions_transcript_is_read_from_the_archive_else_its_file(
    opened: MemoryCoordinator, tmp_path: Path
) -> None:
    files = transcript_files(opened, LARGEST_SID)
    assert files.origin == "archive" and isinstance(files.main, bytes)
    assert files.main == LARGEST.read_bytes()
    assert sorted(files.agents) == ["a2898e3", "acompact-e1f845"]
    # A session the hooks recorded: its transcript_path, read from disk.
    copy = tmp_path / "live.jsonl"
    shutil.copy(SHORT, copy)
    live = opened.sessions.create(name="live", metadata={"transcript_path": str(copy)})
    files = transcript_files(opened, live.id)
    assert (files.origin, files.main) == ("file", copy)
    copy.unlink()
    with pytest.raises(TranscriptUnreadable, match=r"is gone: .*live\.jsonl"):
        transcript_files(opened, live.id)
    bare = opened.sessions.create(name="typed by hand")
    with pytest.raises(NotFound, match="has no transcript"):
        transcript_files(opened, bare.id)
    with pytest.raises(NotFound, match="no session"):
        transcript_files(opened, "ses_nope")
    for bad, message in ((tmp_path, "directory"), (tmp_path / "f" / "x.jsonl", "cannot read")):
        if message == "cannot read":
            (tmp_path / "f").write_text("a file, not a folder")
        with pytest.raises(TranscriptUnreadable, match=message):
            Transcript.open(bad)


def test_rows_lead_to_their_lines_and_lines_back_to_their_rows(
    opened: MemoryCoordinator, largest: Conversation
) -> None:
    prompts = opened.memory.list(session_id=LARGEST_SID, namespace=PROMPTS_NS, limit=50)
    summary = opened.memory.list(session_id=LARGEST_SID, namespace=COMPACTION_NS, limit=5)
    assert prompts and summary
    for entry in [*prompts, *summary]:
        origin = links.origin_of_memory(entry)
        assert origin is not None and origin.uuid
        found = links.find_origin(largest, origin)
        assert found is not None and found.thread is None
        facts = largest.transcript.facts(found.line)
        assert facts is not None and facts.uuid == origin.uuid
        back = links.extracted_from(opened, LARGEST_SID, facts)
        assert ("memory", str(entry.id)) in {(x.kind, x.id) for x in back}
    assert links.find_origin(largest, links.origin_of_memory(summary[0])).line == BOUNDARY + 1  # type: ignore[arg-type,union-attr]

    task = opened.tasks.get(f"{LARGEST_SID}:task:{largest.main.turns_at(TASK_LINE - 1)[0].tool.id}")  # type: ignore[union-attr]
    origin = links.origin_of_task(task)
    assert origin is not None and links.find_origin(largest, origin).line == TASK_LINE  # type: ignore[union-attr]
    facts = largest.transcript.facts(TASK_LINE)
    assert facts is not None
    assert ("task", task.id) in {
        (x.kind, x.id) for x in links.extracted_from(opened, LARGEST_SID, facts)
    }

    pattern_ids = [r[0] for r in opened.store.rows(
        "SELECT id FROM neural_patterns WHERE session_id = ?", (LARGEST_SID,))]  # fmt: skip
    assert pattern_ids
    for pattern_id in pattern_ids:
        pattern = opened.patterns.get(pattern_id)
        origin = links.origin_of_pattern(pattern)
        assert origin is not None
        found = links.find_origin(largest, origin)
        assert found is not None
        where = largest.agent(found.thread.agent_id) if found.thread else largest.transcript  # type: ignore[arg-type]
        facts = where.facts(found.thread_line or found.line)
        assert facts is not None
        back = links.extracted_from(opened, LARGEST_SID, facts)
        assert ("pattern", pattern_id) in {(x.kind, x.id) for x in back}
    # A row made by hand has no origin.
    own = opened.tasks.add(LARGEST_SID, "by hand")
    assert links.origin_of_task(own) is None


def test_todos_of_an_older_session_lead_to_their_todowrite_call(opened: MemoryCoordinator) -> None:
    sid = f"cc_{VIEWER.stem}"
    conversation = Conversation(transcript_files(opened, sid))
    todos = [x for x in opened.tasks.list(sid) if ":todo:main:" in x.id]
    assert todos
    for task in todos[:5]:
        found = links.find_origin(conversation, links.origin_of_task(task))  # type: ignore[arg-type]
        assert found is not None and found.thread is None
        facts = conversation.transcript.facts(found.line)
        assert facts is not None and any(name == "TodoWrite" for _, name in facts.tool_uses)
        assert task.id in {x.id for x in links.extracted_from(opened, sid, facts)}
    conversation.close()


# -- the screen -----------------------------------------------------------------------


def _screen(app) -> ConversationScreen:  # type: ignore[no-untyped-def]
    assert isinstance(app.screen, ConversationScreen), app.screen
    return app.screen


def _view(screen: ConversationScreen, line: int, part: int = 0, thread: str = "") -> TurnView:
    return screen._views[f"{thread}|{line}.{part}"]


async def _until(pilot, check, what: str = "the screen") -> None:  # type: ignore[no-untyped-def]
    """Let the app work until ``check()`` holds (no sleeping: each round waits on the app)."""
    for _ in range(200):
        if check():
            return
        await settle(pilot, rounds=1)
    raise AssertionError(f"{what} never got there")


def _ready(pilot):  # type: ignore[no-untyped-def]
    """The conversation screen is up, its first page shown and its structure read."""

    def check() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, ConversationScreen) and bool(
            screen.error or (screen.structure is not None and screen._pagers[""].views)
        )

    return check


async def _open_from_sessions(pilot, session_id: str) -> ConversationScreen:  # type: ignore[no-untyped-def]
    table = pilot.app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(session_id))
    await pilot.press("t")
    await _until(pilot, lambda: isinstance(pilot.app.screen, ConversationScreen))
    screen = _screen(pilot.app)

    def shown() -> bool:
        return bool(
            screen.error
            or (screen.structure is not None and screen._pagers[""].views)
            or "holds no turns" in str(screen.query_one("#conv-bottom", Static).render())
        )

    await _until(pilot, shown)
    return screen


async def test_the_largest_conversation_on_screen(opened: MemoryCoordinator) -> None:
    """t opens it (enter still activates), turns fold, a Task call unfolds into its
    subagent, the compaction shows, and it pages as the cursor and the scroll move."""
    app = make_app(opened, fresh=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(LARGEST_SID))
        await pilot.press("enter")
        await _until(pilot, lambda: app.session_id == LARGEST_SID)
        assert isinstance(app.screen, SessionsScreen)
        screen = await _open_from_sessions(pilot, LARGEST_SID)
        main = screen._pagers[""]
        first = main.views[0]
        assert (first.turn.kind, first.turn.line) == (t.PROMPT, 7) and screen.cursor is first
        header = str(screen.query_one("#conv-header", Static).render())
        assert "(archived copy)" in header and "221 live, 193 before compaction, 0 off" in header
        assert len(main.views) >= 40 and not main.at_end

        # Thinking folded; enter unfolds it. Tool calls folded with their outcome.
        thinking = _view(screen, 9)
        assert thinking.turn.kind == t.THINKING and thinking.folded
        assert "Let me start by checking" not in str(thinking.render_turn())
        await pilot.press("down")
        assert screen.cursor is thinking
        await pilot.press("enter")
        assert "Let me start by checking" in str(thinking.render_turn())
        tool = _view(screen, 10)
        assert tool.folded and "Bash  bd show spotter-dov   ✓ 44 lines" in str(tool.render_turn())

        # The Task call unfolds into its subagent's thread, nested under it.
        call = _view(screen, TASK_LINE)
        screen.set_cursor(call)
        await pilot.press("enter")
        await _until(pilot, lambda: bool(screen._pagers.get("agent:a2898e3", None)
                                        and screen._pagers["agent:a2898e3"].views))  # fmt: skip
        box = screen.query_one(ThreadBox)
        assert box.key == "agent:a2898e3" and box.parent is call.parent
        thread = screen._pagers["agent:a2898e3"]
        assert thread.views[0].turn.kind == t.PROMPT
        assert "subagent thread: Explore" in str(box.query_one(".thread-head", Static).render())
        await pilot.press("down")  # into the subagent's thread
        assert screen.cursor is thread.views[0]
        await pilot.press("up", "enter")  # back on the call: folding it hides the thread
        assert call.folded and not box.display

        # Paging: ] and scrolling to the end load more; end and home jump.
        count = len(main.views)
        await pilot.press("right_square_bracket")
        await _until(pilot, lambda: len(main.views) > count)
        count = len(main.views)
        screen.query_one("#conv-turns").scroll_end(animate=False)
        await _until(pilot, lambda: len(main.views) > count, "scrolling down")
        await pilot.press("end")
        await _until(pilot, lambda: main.at_end and main.views[-1].turn.line == 1512)
        assert "end of the conversation" in str(screen.query_one("#conv-bottom", Static).render())
        assert screen.query_one("#conv-top", Static).display  # earlier turns above
        earlier = main.views[0].turn.line
        screen.set_cursor(main.views[0])
        await pilot.press("up")  # at the first turn: the page before comes in
        await _until(pilot, lambda: main.views[0].turn.line < earlier)
        await pilot.press("home")
        await _until(pilot, lambda: main.at_start and main.views[0].turn.line == 7)
        assert not screen.query_one("#conv-top", Static).display

        # The compaction boundary unfolds into the summariser's run; its summary is folded.
        screen.load_around(BOUNDARY)
        await _until(pilot, lambda: f"|{BOUNDARY}.0" in screen._views)
        boundary = _view(screen, BOUNDARY)
        assert screen.cursor is boundary
        assert "compacted (auto, 170,251 tokens before)" in str(boundary.render_turn())
        assert _view(screen, BOUNDARY + 1).folded
        await pilot.press("enter")
        await _until(pilot, lambda: bool(screen._pagers.get("agent:acompact-e1f845", None)))
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, SessionsScreen))


async def test_search_with_slash_and_n(opened: MemoryCoordinator) -> None:
    app = make_app(opened, fresh=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await _open_from_sessions(pilot, LARGEST_SID)
        await pilot.press("slash")
        assert screen.query_one("#conv-search", Input).has_focus
        await pilot.press(*"15 tests, 0 failures", "enter")  # n, e, a… typed, not keys
        await _until(pilot, lambda: bool(screen.hits))
        assert screen.query_text == "15 tests, 0 failures" and len(screen.hits) >= 2
        cursor = screen.cursor
        assert cursor is not None
        assert (cursor.turn.line, cursor.turn.part) == (screen.hits[0].line, screen.hits[0].part)
        assert "15 tests, 0 failures" in str(cursor.render_turn())
        header = str(screen.query_one("#conv-header", Static).render())
        assert f"1/{len(screen.hits)} match(es)" in header
        await pilot.press("n")
        await _until(pilot, lambda: screen.cursor is not None
                     and screen.cursor.turn.line == screen.hits[1].line)  # fmt: skip
        assert screen.hit_index == 1
        await pilot.press("N")
        assert screen.hit_index == 0
        # A match inside the subagent's file opens its thread at the matching line.
        search = screen.query_one("#conv-search", Input)
        await pilot.press("slash")
        search.value = "Let me find the correct paths"  # (typed above: letters are not keys)
        await pilot.press("enter")
        await _until(pilot, lambda: screen.query_text == "Let me find the correct paths")
        hit = screen.hits[screen.hit_index]
        assert hit.thread and hit.line == TASK_LINE
        await _until(pilot, lambda: screen.cursor is not None
                     and screen.cursor.thread_key == "agent:a2898e3")  # fmt: skip
        assert screen.cursor is not None and screen.cursor.turn.line == hit.thread_line
        await pilot.press("slash")
        search.value = "no such words anywhere"
        await pilot.press("enter")
        await _until(pilot, lambda: screen.query_text == "no such words anywhere")
        assert screen.hits == []


async def test_a_key_jumps_from_a_row_to_its_line_and_back(opened: MemoryCoordinator) -> None:
    app = make_app(opened, session_id=LARGEST_SID, fresh=True)
    prompts = opened.memory.list(session_id=LARGEST_SID, namespace=PROMPTS_NS, limit=50)
    first_prompt = next(e for e in prompts if e.value["text"].startswith("Work on bead"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await _until(pilot, lambda: any(str(k.value) == str(first_prompt.id) for k in table.rows))
        table.move_cursor(row=table.get_row_index(str(first_prompt.id)))
        await pilot.press("l")
        await _until(pilot, _ready(pilot))
        screen = _screen(app)
        assert screen.cursor is not None and screen.cursor.turn.line == 7
        await pilot.press("escape")
        await _until(pilot, lambda: app.current_mode == "memory" and app.screen.is_current)
        memory = app.screen
        table.move_cursor(row=0 if table.get_row_index(str(first_prompt.id)) else 1)
        assert memory.current_key() != str(first_prompt.id)  # type: ignore[attr-defined]

        # From a line: what was made of it, and into the memory screen on that row.
        await pilot.press("1")
        await settle(pilot)
        await _open_from_sessions(pilot, LARGEST_SID)
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, PickDialog))
        assert (f"memory:{first_prompt.id}", f"{PROMPTS_NS} · {first_prompt.key}") in (
            app.screen.rows  # type: ignore[attr-defined]
        )
        await pilot.press("enter")
        await _until(pilot, lambda: app.current_mode == "memory" and app.screen is memory)
        assert memory.current_key() == str(first_prompt.id)  # type: ignore[attr-defined]

        await pilot.press("3")  # the task of the Task call
        await _until(
            pilot,
            lambda: any(t.root.children for t in app.screen.query("#task-tree").results(Tree)),
        )
        tree = app.screen.query_one("#task-tree", Tree)
        shown, stack = [], [tree.root]  # the tree's nodes, depth first, as the rows go
        while stack:
            shown.append(stack.pop())
            stack.extend(reversed(shown[-1].children))
        node = next(n for n in shown if n.data and ":task:" in str(n.data))
        tree.move_cursor(node)
        await pilot.press("l")
        await _until(pilot, _ready(pilot))
        screen = _screen(app)
        assert screen.cursor is not None and screen.cursor.turn.line == TASK_LINE
        await pilot.press("escape")

        await pilot.press("5")  # a pattern the import learned
        await _until(pilot, lambda: bool(getattr(app.screen, "_results", None)))
        table = app.screen.query_one(DataTable)
        pattern_id = next(k for k in app.screen._results if k.startswith(LARGEST_SID))  # type: ignore[attr-defined]
        table.move_cursor(row=table.get_row_index(pattern_id))
        await pilot.press("l")
        await _until(pilot, _ready(pilot))
        screen = _screen(app)
        pattern = opened.patterns.get(pattern_id)
        expected = screen.conversation.find_time(pattern.created_at)  # type: ignore[union-attr]
        assert expected is not None and screen.cursor is not None
        assert screen.cursor.turn.line <= expected.line
        await pilot.press("escape")
        await pilot.press("6", "l")  # a screen whose rows never come from a transcript
        await settle(pilot)
        assert app.current_mode == "metrics" and not isinstance(app.screen, ConversationScreen)


async def test_a_missing_or_unreadable_transcript_is_a_clear_message(
    opened: MemoryCoordinator, tmp_path: Path
) -> None:
    gone = opened.sessions.create(
        name="gone", metadata={"transcript_path": str(tmp_path / "deleted.jsonl")}
    )
    bare = opened.sessions.create(name="typed by hand")
    folder = opened.sessions.create(name="folder", metadata={"transcript_path": str(tmp_path)})
    empty_file = tmp_path / "empty.jsonl"
    empty_file.write_bytes(b"")
    empty = opened.sessions.create(name="empty", metadata={"transcript_path": str(empty_file)})
    garbage_file = tmp_path / "garbage.jsonl"
    garbage_file.write_bytes(random.Random(5).randbytes(3000) + b"\n" + b"\x00" * 100)
    garbage = opened.sessions.create(
        name="garbage", metadata={"transcript_path": str(garbage_file)}
    )
    app = make_app(opened, fresh=True)
    cases = [
        (gone.id, f"the transcript of session {gone.id} is gone"),
        (bare.id, "has no transcript"),
        (folder.id, "is a directory"),
        (empty.id, "holds no turns"),
    ]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for session_id, message in cases:
            screen = await _open_from_sessions(pilot, session_id)
            assert message in str(screen.query_one("#conv-bottom", Static).render())
            await pilot.press("escape")
            await _until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        screen = await _open_from_sessions(pilot, garbage.id)
        kinds = {v.turn.kind for v in screen._pagers[""].views}
        assert kinds == {t.MALFORMED}
        assert not app._notifications or all(
            n.severity != "error" for n in app._notifications
        )  # nothing went wrong: the lines are shown for what they are
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        # Off the branch --resume follows: dimmed and marked; joined records marked too.
        app.push_screen(ConversationScreen("merged", files=TranscriptFiles(MERGED, str(MERGED))))
        await _until(pilot, _ready(pilot))
        screen = _screen(app)
        views = {v.turn.text: v for v in screen._pagers[""].views}
        exit_view = views["/exit"]
        assert exit_view.has_class("-off") and "⎇ off the branch" in str(exit_view.render_turn())
        live = [v for v in screen._pagers[""].views if v.turn.kind == t.PROMPT]
        assert [v.has_class("-off") for v in live] == [False, True, False, False]
        joined = [v for v in screen._pagers[""].views if v.turn.kind == t.MALFORMED]
        assert len(joined) == 2 and all("2 records joined" in str(v.render_turn()) for v in joined)
        assert "2 malformed line(s)" in str(screen.query_one("#conv-header", Static).render())


def test_snapshot_of_the_largest_conversation(snap_compare, imported: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The first page of the largest fixture, its Task call unfolded into the subagent thread."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(imported.parent / "claude"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    with open_coordinator(imported, clock=FixedClock()) as c:
        app = make_app(c, fresh=True)

        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await settle(pilot)
            screen = await _open_from_sessions(pilot, LARGEST_SID)
            screen.set_cursor(_view(screen, 9))
            await pilot.press("enter")
            await settle(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    monkeypatch.delenv("TZ")
    time.tzset()


def test_a_subagents_meta_json_links_it_to_its_task_call(
    opened: MemoryCoordinator, tmp_path: Path
) -> None:
    """Found beside the transcript (``<session>/subagents/``) with its ``.meta.json``."""
    session = tmp_path / "projects" / "-p" / "s1.jsonl"
    session.parent.mkdir(parents=True)
    task = {
        "type": "tool_use",
        "id": "toolu_x",
        "name": "Task",
        "input": {"description": "look", "prompt": "go", "subagent_type": "Explore"},
    }
    call = {"type": "assistant", "uuid": "a1", "parentUuid": None, "sessionId": "s1",
            "message": {"id": "m1", "role": "assistant", "content": [task]}}  # fmt: skip
    session.write_text(json.dumps(call) + "\n")
    sub = session.parent / "s1" / "subagents"
    sub.mkdir(parents=True)
    first = {"type": "user", "uuid": "u1", "isSidechain": True, "agentId": "q1",
             "message": {"role": "user", "content": "not the prompt"}}  # fmt: skip
    (sub / "agent-q1.jsonl").write_text(json.dumps(first) + "\n")
    (sub / "agent-q1.meta.json").write_text(json.dumps({"toolUseId": "toolu_x"}))
    recorded = opened.sessions.create(name="hooks", metadata={"transcript_path": str(session)})
    files = transcript_files(opened, recorded.id)
    assert files.agents == {"q1": sub / "agent-q1.jsonl"}
    assert files.meta == {"q1": {"toolUseId": "toolu_x"}}
    conversation = Conversation(files)
    ref = conversation.structure().thread_for_call("toolu_x")
    assert ref is not None and ref.agent_id == "q1" and ref.title == "Explore: look"
    conversation.close()
