"""``claude-tui hook EVENT`` against the payloads Claude Code 2.1.332 sends.

Payloads are the ones recorded from the real CLI (offline, ``claude -p``),
with their ids; each hook runs in-process through ``run()`` (fast) and, where
the process is the point, as ``python -m claude_tui`` exactly as Claude Code
starts it. Real SQLite, a real second process holding the write lock, a real
read-only mount.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.hooks import status
from claude_tui.hooks.command import run
from tests.conftest import ROOT, plain_env

CLAUDE_ID = "5b8d2f4e-1c3a-4e6b-9d7f-0a1b2c3d4e5f"
SID = f"cc_{CLAUDE_ID}"


def payloads(cwd: Path, claude_id: str = CLAUDE_ID) -> dict[str, dict[str, Any]]:
    """The events as Claude Code 2.1.332 sends them (long ids kept as recorded)."""
    transcript = str(cwd / f"{claude_id}.jsonl")
    base = {"session_id": claude_id, "transcript_path": transcript, "cwd": str(cwd)}
    turn = {**base, "prompt_id": "c1f0e2d3-4b5a-6978-8a9b-0c1d2e3f4a5b"}
    tool = {
        **turn, "permission_mode": "default", "effort": {"level": "medium"},
        "tool_name": "Bash", "tool_input": {"command": "pytest -q", "description": "run tests"},
        "tool_use_id": "toolu_7752934c1dde41c784b9",
    }  # fmt: skip
    return {
        "SessionStart": {**base, "hook_event_name": "SessionStart", "source": "startup"},
        "UserPromptSubmit": {
            **turn,
            "permission_mode": "default",
            "hook_event_name": "UserPromptSubmit",
            "prompt": "Refactor the tokenizer so the lexer handles unicode identifiers",
        },
        "PostToolUse": {
            **tool,
            "hook_event_name": "PostToolUse",
            "duration_ms": 55,
            "tool_response": {"stdout": "3 passed", "stderr": "", "interrupted": False},
        },
        "PostToolUseFailure": {
            **tool,
            "hook_event_name": "PostToolUseFailure",
            "tool_use_id": "toolu_fail01",
            "error": "Exit code 1: 2 failed",
        },
        "PreCompact": {
            **turn,
            "hook_event_name": "PreCompact",
            "trigger": "manual",
            "custom_instructions": None,
        },
        "Stop": {
            **turn,
            "permission_mode": "default",
            "hook_event_name": "Stop",
            "stop_hook_active": False,
            "last_assistant_message": "DONE",
        },
        "SubagentStop": {**turn, "hook_event_name": "SubagentStop", "stop_hook_active": False},
        "SessionEnd": {**turn, "hook_event_name": "SessionEnd", "reason": "other"},
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/feature/x\n")
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def hook(data: Path, event: str, payload: Any) -> str:
    """Run one hook in-process; return what it printed (its exit code must be 0)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    out = io.StringIO()
    with redirect_stdout(out):
        assert run(event, str(data), io.BytesIO(raw)) == 0
    return out.getvalue()


def context(printed: str) -> str:
    """The additionalContext of a hook's answer ('' when it printed nothing)."""
    if not printed:
        return ""
    answer = json.loads(printed)
    return str(answer["hookSpecificOutput"]["additionalContext"])


def opened(data: Path) -> MemoryCoordinator:
    return MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False))


def test_every_event_is_recorded_from_real_payloads(data: Path, project: Path) -> None:
    p = payloads(project)
    assert hook(data, "UserPromptSubmit", p["UserPromptSubmit"]) == ""  # before SessionStart
    for event in ("SessionStart", "PostToolUse", "PostToolUseFailure", "PreCompact",
                  "Stop", "SubagentStop", "SessionEnd"):  # fmt: skip
        hook(data, event, p[event])
    with opened(data) as c:
        session = c.sessions.get(SID)
        assert session.metadata["project"] == str(project.resolve())
        assert session.metadata["git_branch"] == "feature/x"
        [prompt] = c.memory.list(session_id=SID, namespace="claude-code/live-prompts")
        assert "unicode identifiers" in prompt.value["text"]
        tools = c.metrics.series("hook.tool", session_id=SID)
        assert sorted((m.metadata["tool_use_id"], m.value) for m in tools) == [
            ("toolu_7752934c1dde41c784b9", 1.0), ("toolu_fail01", 0.0),
        ]  # fmt: skip
        assert next(m for m in tools if not m.value).metadata["error"] == "Exit code 1: 2 failed"
        assert [cp.reason for cp in c.checkpoints.list(SID)] == ["pre-compact"]
    # A Stop imports the transcript; the import keeps what only the hooks know.
    transcript = Path(p["Stop"]["transcript_path"])
    transcript.write_text(json.dumps({
        "type": "user", "sessionId": CLAUDE_ID, "uuid": "u1", "cwd": str(project),
        "timestamp": "2026-01-01T00:00:00Z", "version": "2.1.332",
        "message": {"role": "user", "content": "Refactor the tokenizer"}}) + "\n")  # fmt: skip
    hook(data, "Stop", p["Stop"])
    with opened(data) as c:
        meta = c.sessions.get(SID).metadata
        assert meta["project"] == str(project.resolve()) and meta["version"] == "2.1.332"
        assert meta["transcript_path"] == str(transcript)
        imported = c.memory.list(session_id=SID, namespace="claude-code/prompts")
        assert [e.value["text"] for e in imported] == ["Refactor the tokenizer"]
    counts = status.summary(data)
    assert set(counts["events"]) == set(p) and counts["failed"] == 0


def test_replayed_events_write_once(data: Path, project: Path) -> None:
    p = payloads(project)
    for _ in range(2):
        for event in ("SessionStart", "UserPromptSubmit", "PostToolUse", "PreCompact"):
            hook(data, event, p[event])
    with opened(data) as c:
        assert len(c.memory.list(session_id=SID, namespace="claude-code/live-prompts")) == 1
        assert len(c.metrics.series("hook.tool", session_id=SID)) == 1
        assert len(c.checkpoints.list(SID)) == 1
        assert len(c.sessions.list()) == 1


def test_the_next_session_of_a_project_starts_with_what_the_first_left(
    data: Path, project: Path, tmp_path: Path
) -> None:
    first = payloads(project)
    hook(data, "SessionStart", first["SessionStart"])
    with opened(data) as c:
        c.memory.store("tokenizer-plan", "split the lexer from the parser first", session_id=SID)
        c.tasks.add(SID, "Port the lexer to the new tokenizer")
        c.memory.store("password-note", {"db": {"password": "hunter2"}}, session_id=SID)
        c.tasks.add(SID, "use sk-ant-api03-" + "T" * 30 + " for the deploy")
        c.memory.store("scratch", "working notes", session_id=SID, memory_type="working")
        c.memory.store("convention", "tabs, never spaces", namespace="conventions",
                       memory_type="shared")  # fmt: skip
        c.memory.store("release-freeze", {"text": "no deploys on Fridays", "important": True},
                       memory_type="shared")  # fmt: skip
    other = tmp_path / "elsewhere"
    other.mkdir()
    hook(
        data,
        "SessionStart",
        payloads(other, "99999999-0000-0000-0000-000000000000")["SessionStart"],
    )
    with opened(data) as c:
        c.memory.store("other-plan", "tokenizer lexer secrets of another project",
                       session_id="cc_99999999-0000-0000-0000-000000000000")  # fmt: skip
    second_id = "6c9e3a5f-2d4b-5f7c-0e8a-1b2c3d4e5f60"
    second = payloads(project / "src", second_id)  # a subfolder: the same git project
    (project / "src").mkdir()
    start = context(hook(data, "SessionStart", second["SessionStart"]))
    assert "split the lexer from the parser first" in start
    assert "Port the lexer to the new tokenizer" in start and "a task left open" in start
    assert "tabs, never spaces" in start and "marked important" in start
    assert "no deploys on Fridays" in start
    for never in ("hunter2", "sk-ant-api03", "working notes", "another project"):
        assert never not in start
    answer = context(hook(data, "UserPromptSubmit", second["UserPromptSubmit"]))
    assert "split the lexer from the parser first" in answer and "matches" in answer
    assert "another project" not in answer
    unrelated = {**second["UserPromptSubmit"], "prompt": "What is the weather in Lisbon?",
                 "prompt_id": "p-weather"}  # fmt: skip
    assert hook(data, "UserPromptSubmit", unrelated) == ""  # nothing relevant: nothing said
    with opened(data) as c:
        from claude_tui.hooks.handlers import injections_of

        shown = injections_of(c, f"cc_{second_id}")
    assert [i["hook"] for i in shown] == ["SessionStart", "UserPromptSubmit"]
    assert all(item["why"] and item["ref"] for i in shown for item in i["items"])
    assert len(start) <= 9_000


def test_private_spans_are_never_stored_and_recall_can_be_turned_off(
    data: Path, project: Path
) -> None:
    p = payloads(project)
    prompt = {**p["UserPromptSubmit"], "prompt": "deploy <private>my key is xyzzy42</private> now"}
    hook(data, "UserPromptSubmit", prompt)
    with opened(data) as c:
        [entry] = c.memory.list(session_id=SID, namespace="claude-code/live-prompts")
        assert "xyzzy42" not in json.dumps(entry.value) and "deploy" in entry.value["text"]
        c.memory.store("deploy-notes", "deploy with blue green", session_id=SID)
        from claude_tui.hooks.handlers import set_recall

        set_recall(c, str(project.resolve()), on=False)
    again = {**p["UserPromptSubmit"], "prompt": "deploy blue green", "prompt_id": "p2"}
    assert hook(data, "UserPromptSubmit", again) == ""
    with opened(data) as c:
        assert len(c.memory.list(session_id=SID, namespace="claude-code/live-prompts")) == 2
    assert b"xyzzy42" not in b"".join(
        f.read_bytes() for f in data.rglob("*") if f.is_file()
    )  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage", b"[1, 2]", b'{"session_id": 5, "cwd": "/x"}', b'{"cwd": "/x"}',
     b'{"session_id": "../../etc", "cwd": "/x"}', b"\xff\xfe", b"{" * 100_000,
     b'{"session_id": "a", "cwd": "' + b"x" * (5 * 1024 * 1024) + b'"}'],
    ids=["empty", "garbage", "list", "wrong-type", "no-session", "bad-id", "not-utf8",
         "deep", "oversized"],
)  # fmt: skip
def test_bad_input_exits_0_writes_nothing_and_is_counted(data: Path, raw: bytes) -> None:
    assert hook(data, "UserPromptSubmit", raw) == ""
    assert not (data / "claude-tui.db").exists()  # nothing written: not even a database
    summary = status.summary(data)
    assert summary["failed"] == 1 and summary["events"]["UserPromptSubmit"]["last_error"]


def test_an_unknown_event_fails_open(data: Path, project: Path) -> None:
    assert hook(data, "NoSuchEvent", payloads(project)["SessionStart"]) == ""
    assert status.summary(data)["failed"] == 1


def test_a_locked_database_spools_and_the_next_hook_applies_it_in_order(
    data: Path, project: Path
) -> None:
    p = payloads(project)
    hook(data, "SessionStart", p["SessionStart"])
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.readline(); "
         "c.execute('ROLLBACK')", str(data / "claude-tui.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        first = {**p["UserPromptSubmit"], "prompt": "first while locked", "prompt_id": "p-1"}
        second = {**p["UserPromptSubmit"], "prompt": "second while locked", "prompt_id": "p-2"}
        assert hook(data, "UserPromptSubmit", first) == ""
        assert hook(data, "UserPromptSubmit", second) == ""
        assert status.summary(data)["spooled"] == 2
        spooled = (data / "hooks" / "spool.jsonl").read_bytes()
        assert b"while locked" not in spooled  # sealed: prompts may hold secrets
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    hook(data, "PostToolUse", p["PostToolUse"])  # the next hook drains the spool first
    with opened(data) as c:
        entries = c.memory.list(session_id=SID, namespace="claude-code/live-prompts")
        assert sorted(e.key for e in entries) == ["p-1", "p-2"]
        assert entries[0].id > entries[1].id  # newest first: applied in order
    assert status.summary(data)["applied_from_spool"] == 2
    assert not [f for f in (data / "hooks").iterdir() if f.name.startswith("spool.jsonl")]


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_read_only_data_dir_fails_open(read_only_data: Path, project: Path) -> None:
    p = payloads(project)
    hook(read_only_data, "SessionStart", p["SessionStart"])
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_data)], check=True)
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", "--data-dir", str(read_only_data), "hook",
         "UserPromptSubmit"],
        input=json.dumps(p["UserPromptSubmit"]), capture_output=True, text=True, timeout=60,
        cwd=ROOT, env=plain_env(),
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    conn = sqlite3.connect(f"file:{read_only_data / 'claude-tui.db'}?mode=ro&immutable=1", uri=True)
    assert conn.execute("SELECT count(*) FROM memory_entries").fetchone()[0] == 0


def test_the_process_prints_only_its_answer_and_exits_0(data: Path, project: Path) -> None:
    p = payloads(project)
    env = plain_env()
    for event, payload in (("SessionStart", p["SessionStart"]), ("SessionEnd", "not json")):
        result = subprocess.run(
            [sys.executable, "-m", "claude_tui", "--data-dir", str(data), "hook", event],
            input=json.dumps(payload), capture_output=True, text=True, timeout=60, cwd=ROOT,
            env=env,
        )  # fmt: skip
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_mcp_with_no_ids_acts_for_the_projects_latest_claude_code_session(
    data: Path, project: Path
) -> None:
    from claude_tui.mcp.identity import project_session

    with opened(data) as c:
        made = project_session(c, str(project))
        assert made.created and "new session for the project" in made.how
        assert project_session(c, str(project)).session_id == made.session_id  # found again
    hook(data, "SessionStart", payloads(project)["SessionStart"])
    with opened(data) as c:
        bound = project_session(c, str(project / "sub"))  # anywhere in the project
        assert bound.session_id == SID and "Claude Code session" in bound.how
        assert not bound.created


async def test_the_sessions_screen_shows_what_recall_injected_and_why(
    data: Path, project: Path
) -> None:
    from textual.widgets import DataTable, Static

    from tests.app_helpers import make_app, settle

    first = payloads(project)
    hook(data, "SessionStart", first["SessionStart"])
    with opened(data) as c:
        c.memory.store("lexer-plan", "keep the lexer free of parser state", session_id=SID)
    second = payloads(project, "77777777-0000-0000-0000-000000000007")
    assert context(hook(data, "SessionStart", second["SessionStart"]))
    with opened(data) as c:
        app = make_app(c, fresh=True)
        async with app.run_test(size=(150, 45)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#sessions-table", DataTable)
            table.move_cursor(row=table.get_row_index("cc_77777777-0000-0000-0000-000000000007"))
            await settle(pilot)
            detail = str(app.screen.query_one("#session-detail", Static).content)
            assert "recall   1 injection; last SessionStart" in detail
            assert "a recent decision or note" in detail


def test_an_mcp_server_started_by_claude_code_binds_to_its_session(
    data: Path, project: Path
) -> None:
    """Claude Code starts its MCP servers while SessionStart runs: whichever is first creates."""
    from claude_tui.mcp.identity import resolve_identity

    env = {"CLAUDE_CODE_SESSION_ID": CLAUDE_ID, "CLAUDE_PROJECT_DIR": str(project)}
    with opened(data) as c:
        who = resolve_identity(c, env=env)
        assert who.session_id == SID and who.created
    hook(data, "SessionStart", payloads(project)["SessionStart"])  # finds it, adds nothing
    with opened(data) as c:
        assert [s.id for s in c.sessions.list()] == [SID]
        assert c.sessions.get(SID).metadata["project"] == str(project.resolve())
        assert not resolve_identity(c, env=env).created
