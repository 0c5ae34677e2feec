"""Importing real Claude Code transcripts (tests/fixtures/claude-code, see its ATTRIBUTION.md).

Expected counts are computed from the files with plain ``json`` (independently
of the importer), and a few are also asserted as literal numbers checked by
hand, so the test cannot pass by computing the same wrong thing twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.importers.claude_code import ClaudeCodeImporter, discover_transcripts
from tests.conftest import ROOT, cli_env, run_cli
from tests.server_proc import LineReader

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"
VIEWER = FIXTURES / "claude-code-viewer_v1.0.98" / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
SPOTTER_DIR = FIXTURES / "spotter_v2.1.38-39"
LONG = SPOTTER_DIR / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
SUBAGENTS = SPOTTER_DIR / "4d5611e5-241a-462a-8d15-5122611a9569" / "subagents"
SHORT = SPOTTER_DIR / "short.jsonl"
USAGE = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


# -- independent reading of the files --------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected(main: Path, agent_files: list[Path]) -> dict[str, Any]:
    """What a session's files imply, read with plain json."""
    records = _lines(main)
    parents = {r["uuid"]: r.get("parentUuid") for r in records if "uuid" in r}

    def owner(r: dict[str, Any], file_agent: str | None) -> str:
        if file_agent:
            return file_agent
        if not r.get("isSidechain"):
            return "main"
        u = r["uuid"]
        while parents.get(u):
            u = parents[u]
        return u

    todos: set[tuple[str, str]] = set()
    usage: dict[str, list[int]] = {}
    tool_calls = errors = todo_writes = spawns = compactions = 0
    roots = {r["uuid"] for r in records if r.get("isSidechain") and r.get("parentUuid") is None}
    files = [(main, None)] + [(p, p.stem.removeprefix("agent-")) for p in agent_files]
    for path, file_agent in files:
        for r in records if path == main else _lines(path):
            compactions += bool(r.get("isCompactSummary"))
            message = r.get("message") or {}
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if block.get("type") == "tool_result" and block.get("is_error"):
                    errors += 1
                if block.get("type") != "tool_use":
                    continue
                tool_calls += 1
                if block["name"] == "TodoWrite":
                    todo_writes += 1
                    for item in block["input"]["todos"]:
                        todos.add((owner(r, file_agent), item["content"]))
                if block["name"] in ("Task", "Agent"):
                    spawns += 1
            if r["type"] == "assistant":
                key = message["id"]  # one line per content block, usage repeated on each
                old = usage.get(key, [0, 0, 0, 0])
                usage[key] = [
                    max(o, message["usage"].get(f, 0)) for o, f in zip(old, USAGE, strict=True)
                ]
    tokens = [sum(u[i] for u in usage.values()) for i in range(4)]
    user_agents = [p for p in agent_files if not p.stem.startswith("agent-acompact")]
    return {
        "subagents": len(roots) + len(user_agents),
        "todos": len(todos),
        "todo_writes": todo_writes,
        "spawns": spawns,
        "errors": errors,
        "tool_calls": tool_calls,
        "compactions": compactions,
        "messages": len(usage),
        "tokens": dict(
            zip(("input", "output", "cache_read", "cache_creation"), tokens, strict=True)
        ),
    }


# -- helpers ----------------------------------------------------------------------


def _coordinator(path: Path) -> MemoryCoordinator:
    path.mkdir(parents=True, exist_ok=True)
    return MemoryCoordinator.open(Config.load(path, env={}, redis_enabled=False), use_redis=False)


def _count(c: MemoryCoordinator, table: str, where: str = "1", params: tuple[Any, ...] = ()) -> int:
    return int(c.store.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params))


def _snapshot(c: MemoryCoordinator) -> dict[str, list[tuple[Any, ...]]]:
    """Every imported row, without the columns that say when the import ran."""
    return {
        "sessions": c.store.rows(
            "SELECT id, name, user_id, status, created_at, updated_at, metadata FROM sessions "
            "ORDER BY id"
        ),
        "agents": c.store.rows("SELECT * FROM agents ORDER BY id"),
        "tasks": c.store.rows("SELECT * FROM tasks ORDER BY id"),
        "memory": c.store.rows(
            "SELECT session_id, namespace, key, value, created_at FROM memory_entries ORDER BY key"
        ),
        "patterns": c.store.rows("SELECT * FROM neural_patterns ORDER BY id"),
        "metrics": c.store.rows(
            "SELECT session_id, agent_id, metric_type, value, timestamp FROM metrics "
            "ORDER BY session_id, agent_id, metric_type"
        ),
    }


@pytest.fixture
def importer(coordinator: MemoryCoordinator) -> Iterator[ClaudeCodeImporter]:
    yield ClaudeCodeImporter(coordinator)


# -- counts -----------------------------------------------------------------------


CASES = {
    "viewer": (VIEWER, []),
    "long": (LONG, sorted(SUBAGENTS.glob("*.jsonl"))),
    "short": (SHORT, []),
}
# Checked by hand (grep/jq over the files; see ATTRIBUTION.md for what each covers).
BY_HAND = {
    "viewer": {"subagents": 5, "todo_writes": 19, "todos": 21, "spawns": 5, "errors": 23,
               "compactions": 0, "messages": 170, "prompts": 2},
    "long": {"subagents": 1, "todo_writes": 0, "todos": 0, "spawns": 1, "errors": 13,
             "compactions": 1, "messages": 152, "prompts": 2},
    "short": {"subagents": 0, "todo_writes": 0, "todos": 0, "spawns": 0, "errors": 2,
              "compactions": 0, "messages": 1, "prompts": 1},
}  # fmt: skip
SESSION_IDS = {
    "viewer": "cc_fe5e1c67-53e7-4862-81ae-d0e013e3270b",
    "long": "cc_4d5611e5-241a-462a-8d15-5122611a9569",
    "short": "cc_55604662-cf2a-4331-851a-ec234028f8ca",
}


def test_import_every_sample_gives_the_counts_the_files_imply(
    coordinator: MemoryCoordinator, importer: ClaudeCodeImporter
) -> None:
    report = importer.run([FIXTURES])
    assert report.malformed == []
    assert report.files == 5 and len(report.sessions) == 3
    assert _count(coordinator, "sessions") == 3
    for name, (main, agent_files) in CASES.items():
        exp = expected(main, agent_files)
        for key, value in BY_HAND[name].items():
            if key in exp:
                assert exp[key] == value, (name, key)
        sid = SESSION_IDS[name]
        meta = coordinator.sessions.get(sid).metadata
        agents = coordinator.agents.list(sid)
        assert len(agents) == 1 + exp["subagents"], name
        assert meta["subagents"] == exp["subagents"]
        tasks = coordinator.tasks.list(sid)
        todos = [t for t in tasks if ":todo:" in t.id]
        spawned = [t for t in tasks if ":task:" in t.id]
        assert len(todos) == exp["todos"] and len(spawned) == exp["spawns"], name
        assert meta["tool_errors"] == exp["errors"] and meta["tool_calls"] == exp["tool_calls"]
        assert meta["messages"] == exp["messages"] and meta["tokens"] == exp["tokens"], name
        assert meta["compactions"] == exp["compactions"]
        compaction = _count(
            coordinator, "memory_entries", "session_id = ? AND namespace = ?",
            (sid, "claude-code/compaction"),
        )  # fmt: skip
        prompts = _count(
            coordinator, "memory_entries", "session_id = ? AND namespace = ?",
            (sid, "claude-code/prompts"),
        )  # fmt: skip
        assert compaction == exp["compactions"] and prompts == BY_HAND[name]["prompts"], name
        errors = coordinator.metrics.series("claude_code.tool_errors", session_id=sid)
        session_errors = [m.value for m in errors if m.agent_id is None]
        assert session_errors == [exp["errors"]]
        per_agent = sum(m.value for m in errors if m.agent_id is not None)
        acompact_errors = 0  # the summariser made no tool calls
        assert per_agent + acompact_errors == exp["errors"]
        out_tokens = coordinator.metrics.series("claude_code.tokens.output", session_id=sid)
        assert [m.value for m in out_tokens if m.agent_id is None] == [exp["tokens"]["output"]]


def test_session_mapping_details(
    coordinator: MemoryCoordinator, importer: ClaudeCodeImporter
) -> None:
    importer.run([VIEWER, LONG])
    viewer = coordinator.sessions.get(SESSION_IDS["viewer"])
    assert viewer.name == "Empty Repo Setup: CLAUDE.md Foundation Created"  # the summary record
    assert viewer.metadata["cwd"] == "/path/to/Demo" and viewer.metadata["version"] == "1.0.98"
    assert viewer.metadata["models"] == ["claude-sonnet-4-20250514"]
    # Each embedded sidechain is linked to the Task call whose prompt started it.
    sub = {a.role: a for a in coordinator.agents.list(viewer.id) if a.role != "main"}
    assert set(sub) == {
        "Setup Next.js project", "Create data models", "Build TODO components",
        "Implement state management", "Create main page integration",
    }  # fmt: skip
    assert {a.agent_type for a in sub.values()} == {"general-purpose"}
    spawn = {t.agent_id: t for t in coordinator.tasks.list(viewer.id) if ":task:" in t.id}
    for agent in sub.values():
        assert spawn[agent.id].title == agent.role and spawn[agent.id].status == "completed"
        # The subagent's own todo list hangs under the Task call that spawned it.
        own = [t for t in coordinator.tasks.list(viewer.id) if t.agent_id == agent.id]
        assert all(t.parent_task_id == spawn[agent.id].id for t in own if ":todo:" in t.id)
    # The main agent's list, written three times: 5 pending; 3 done, 1 in progress; all done.
    main_todos = [t for t in coordinator.tasks.list(viewer.id) if ":todo:main:" in t.id]
    assert len(main_todos) == 5 and all(t.parent_task_id is None for t in main_todos)
    history = {t.title: [h["status"] for h in t.payload["history"]] for t in main_todos}
    assert history["Set up Next.js project structure and dependencies"] == ["pending", "completed"]
    assert history["Implement state management and CRUD operations"] == [
        "pending", "in_progress", "completed",
    ]  # fmt: skip
    assert [t.priority for t in main_todos] == [5, 4, 3, 2, 1]  # the list's order
    assert {t.status for t in main_todos} == {"completed"}
    # A separate subagent file: typed from the Task input, model differs from the parent's.
    long = coordinator.sessions.get(SESSION_IDS["long"])
    agents = coordinator.agents.list(long.id)
    assert sorted(a.id.split(":")[1] for a in agents) == ["a2898e3", "main"]
    explore = next(a for a in agents if a.agent_type == "Explore")
    assert explore.memory_context["models"] == ["claude-sonnet-4-5-20250929"]
    assert explore.memory_context["tool_errors"] == 8
    assert not any("acompact" in a.id for a in agents)  # the summariser is no subagent
    assert long.metadata["git_branch"] == "spotter-dov" and long.metadata["slug"]
    # Compaction summaries and prompts are searchable memory, private to the session.
    hits = coordinator.memory.search("continued previous conversation", session_id=long.id)
    assert [h.namespace for h in hits] == ["claude-code/compaction"]
    assert hits[0].value["trigger"] == "auto" and hits[0].value["pre_tokens"] == 170251
    hits = coordinator.memory.search("bead spotter-dov", session_id=long.id)
    assert any(h.namespace == "claude-code/prompts" for h in hits)
    slash = coordinator.memory.search("orchestrator", session_id=viewer.id)
    assert slash[0].value["text"] == "/orchestrator create TODO app by Next.js"
    # Patterns: tool sequences and error -> fix pairs, queued for the vector index.
    kinds = dict(coordinator.store.rows(
        "SELECT pattern_type, count(*) FROM neural_patterns GROUP BY 1"))  # fmt: skip
    assert kinds.get("tool_sequence", 0) > 0 and kinds.get("error_fix", 0) > 0
    queued = _count(coordinator, "pattern_index_queue")
    assert queued == _count(coordinator, "neural_patterns")


# -- idempotency, append, replace ---------------------------------------------------


def test_second_import_adds_nothing(
    coordinator: MemoryCoordinator, importer: ClaudeCodeImporter
) -> None:
    importer.run([FIXTURES])
    seq = coordinator.store.current_seq()
    before = _snapshot(coordinator)
    again = importer.run([FIXTURES])
    assert all(v == [0, 0, 0] for v in again.totals().values())
    assert {s.status for s in again.sessions} == {"unchanged"}
    assert coordinator.store.current_seq() == seq
    assert _snapshot(coordinator) == before
    # Touched but unchanged files are read again from the offset: still nothing.
    for path in FIXTURES.rglob("*.jsonl"):
        os.utime(path)
    third = importer.run([FIXTURES])
    assert all(v == [0, 0, 0] for v in third.totals().values())
    assert coordinator.store.current_seq() == seq


def _copy_session(dest: Path) -> Path:
    shutil.copytree(SPOTTER_DIR / LONG.stem, dest / LONG.stem)
    return dest / LONG.name


def test_appended_transcript_adds_only_new_lines(tmp_path: Path) -> None:
    whole_dir, part_dir = tmp_path / "whole", tmp_path / "part"
    whole_dir.mkdir()
    part_dir.mkdir()
    shutil.copy(LONG, whole_dir / LONG.name)
    _copy_session(whole_dir)
    target = _copy_session(part_dir)
    data = LONG.read_bytes()
    lines = data.splitlines(keepends=True)
    half = b"".join(lines[: len(lines) // 2])
    partial = lines[len(lines) // 2][:40]  # Claude Code mid-write: no newline yet
    target.write_bytes(half + partial)
    with _coordinator(tmp_path / "a") as c:
        importer = ClaudeCodeImporter(c)
        first = importer.run([part_dir])
        assert [str(m) for m in first.malformed] == [
            f"{target}:{len(lines) // 2 + 1}: incomplete last line (no newline)"
        ]
        assert first.lines == len(lines) // 2 + 144 + 5
        target.write_bytes(data)
        second = importer.run([part_dir])
        assert second.malformed == [] and second.lines == len(lines) - len(lines) // 2
        assert second.totals()["sessions"] == [0, 1, 0]
        appended = _snapshot(c)
    with _coordinator(tmp_path / "b") as c:
        ClaudeCodeImporter(c).run([whole_dir])
        once = _snapshot(c)
    for kind in once:
        if kind == "sessions":  # the file paths in the metadata differ
            assert [r[:6] for r in appended[kind]] == [r[:6] for r in once[kind]]
            a_meta, o_meta = (json.loads(r[0][6]) for r in (appended[kind], once[kind]))
            a_meta.pop("files"), o_meta.pop("files")
            assert a_meta == o_meta
        else:
            assert appended[kind] == once[kind], kind


def test_replaced_transcript_is_reimported_after_a_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "in" / VIEWER.name
    target.parent.mkdir()
    shutil.copy(VIEWER, target)
    with _coordinator(tmp_path / "data") as c:
        importer = ClaudeCodeImporter(c)
        importer.run([target])
        sid = SESSION_IDS["viewer"]
        mine = c.tasks.add(sid, "a task a person added")  # not the import's: must stay
        records = target.read_text().splitlines(keepends=True)
        kept = [r for r in records if '"isSidechain":true' not in r.replace(" ", "")]
        target.write_text("".join(kept[:-5]))  # shorter, and a different file
        report = importer.run([target])
        assert report.sessions[0].status == "reimported"
        assert [cp.reason for cp in c.checkpoints.list(sid)] == ["before-import"]
        assert len(c.agents.list(sid)) == 1  # the sidechains are gone
        assert report.totals()["agents"][2] == 5
        assert c.tasks.get(mine.id).title == "a task a person added"
        assert c.sessions.get(sid).metadata["prompts"] == 1  # the last prompt was cut
        assert report.totals()["memory"] == [0, 0, 1]  # ...and its memory entry removed
        assert len(c.memory.list(session_id=sid, namespace="claude-code/prompts")) == 1


# -- malformed lines ------------------------------------------------------------------


def test_malformed_lines_are_reported_and_the_rest_imports(tmp_path: Path) -> None:
    lines = SHORT.read_text().splitlines(keepends=True)
    bad = [
        '{"type": "user", "message": {"role": "user", "content": "trunc\n',
        "[1, 2, 3]\n",
        '{"type": "user", "uuid": "x", "message": "not an object"}\n',
        '{"type": "assistant", "message": {"id": "m", "content": [], "usage": "lots"}}\n',
        '{"uuid": "no-type"}\n',
        '{"type": "user", "isSidechain": "yes", "message": {"content": "hi"}}\n',
        '{"type": "brand-new-record-type", "whatever": [1]}\n',  # unknown: kept, no error
    ]
    mixed = lines[:3] + bad + lines[3:]
    target = tmp_path / "in" / SHORT.name
    target.parent.mkdir()
    target.write_text("".join(mixed))
    with _coordinator(tmp_path / "data") as c:
        report = ClaudeCodeImporter(c).run([target])
        got = [str(m) for m in report.malformed]
        assert [g.split(": ")[0] for g in got] == [f"{target}:{n}" for n in (4, 5, 8)]
        assert "invalid JSON" in got[0] and "not an object" in got[1]
        assert "no record type" in got[2]
        # A wrong-typed field is ignored (or coerced): the record is kept, and said so.
        kept = [str(m) for m in report.coerced]
        assert [k.split(": ")[0] for k in kept] == [f"{target}:{n}" for n in (6, 7, 9)]
        assert "message: str, not an object (ignored)" in kept[0]
        assert "message usage: str, not an object (ignored)" in kept[1]
        assert "isSidechain: text 'yes', read as true/false" in kept[2]
        meta = c.sessions.get(SESSION_IDS["short"]).metadata
        assert meta["malformed_lines"] == 3
        assert meta["tool_errors"] == 2 and meta["prompts"] == 1 and meta["messages"] == 1
        assert meta["records"]["user"] == 4 + 2 and meta["records"]["assistant"] == 5 + 1
        assert meta["records"]["brand-new-record-type"] == 1


def test_cli_import_and_missing_path(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "projects" / "demo"
    src.mkdir(parents=True)
    shutil.copy(SHORT, src / SHORT.name)
    result = run_cli(data_dir, "import", "claude-code", str(src.parent), "--json", check=True)
    summary = json.loads(result.stdout)
    assert summary["sessions"]["new"] == 1 and summary["rows"]["agents"]["added"] == 1
    assert summary["rows"]["memory"]["added"] == 1 and summary["malformed"] == []
    text = run_cli(data_dir, "import", "claude-code", str(src), check=True).stdout
    assert "1 unchanged" in text and "malformed lines: 0" in text
    missing = run_cli(data_dir, "import", "claude-code", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"claude-tui: no such file or directory: {tmp_path / 'nope'}"
    ]
    # With no PATH the discovered directories are used ($CLAUDE_CONFIG_DIR/projects here).
    env = cli_env(data_dir, None) | {"CLAUDE_CONFIG_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "claude_tui", "import", "claude-code", "--json"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0 and json.loads(done.stdout)["sessions"]["unchanged"] == 1


def test_discover_transcripts(tmp_path: Path) -> None:
    project = tmp_path / "home" / ".claude" / "projects" / "-home-me-app"
    (project / LONG.stem).mkdir(parents=True)
    shutil.copy(SHORT, project / "55604662-cf2a-4331-851a-ec234028f8ca.jsonl")
    shutil.copytree(SUBAGENTS, project / LONG.stem / "subagents")
    found = discover_transcripts({"HOME": str(tmp_path / "home")})
    assert [p.name for p in found] == ["55604662-cf2a-4331-851a-ec234028f8ca.jsonl"]
    assert discover_transcripts({"HOME": str(tmp_path / "nobody")}) == []


def test_task_tools_sibling_agents_and_secrets(tmp_path: Path) -> None:
    """TaskCreate/TaskUpdate todos, an ``agent-<id>.jsonl`` beside the session with its
    ``.meta.json``, and a prompt holding a credential (sealed at rest)."""
    sid = "11111111-2222-3333-4444-555555555555"
    base = {"sessionId": sid, "cwd": "/w", "version": "2.1.50", "gitBranch": "main"}

    def rec(i: int, kind: str, content: Any, **extra: Any) -> str:
        msg = {"role": kind, "content": content}
        if kind == "assistant":
            msg |= {
                "id": f"msg{i}",
                "model": "claude-x",
                "usage": {"input_tokens": 1, "output_tokens": 2},
            }
        stamp = f"2026-01-01T00:00:{i:02d}Z"
        line = base | {"type": kind, "uuid": f"u{i}", "timestamp": stamp, "message": msg}
        return json.dumps(line | extra) + "\n"

    def use(i: int, name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "tool_use", "id": f"t{i}", "name": name, "input": data}]

    def res(i: int, text: str) -> list[dict[str, Any]]:
        return [{"type": "tool_result", "tool_use_id": f"t{i}", "content": text}]

    main = [
        rec(1, "user", "deploy with key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA please"),
        rec(2, "assistant", use(2, "TaskCreate", {"subject": "Write docs", "description": "d"})),
        rec(3, "user", res(2, "Task #1 created successfully: Write docs"),
            toolUseResult={"task": {"id": "1", "subject": "Write docs"}}),
        rec(4, "assistant", use(4, "TaskUpdate", {"taskId": "1", "status": "in_progress"})),
        rec(5, "user", res(4, "Updated task #1 status")),
        rec(6, "assistant", use(6, "Agent", {"subagent_type": "reviewer", "description": "Review",
                                             "prompt": "Review the docs"})),
        rec(7, "user", res(6, "done\nagentId: b77 (for resuming)")),
        rec(8, "assistant", use(8, "TaskUpdate", {"taskId": "1", "status": "completed"})),
    ]  # fmt: skip
    agent = [
        json.dumps(base | {"type": "user", "uuid": "s1", "parentUuid": None, "isSidechain": True,
                           "agentId": "b77", "timestamp": "2026-01-01T00:00:06Z",
                           "message": {"role": "user", "content": "Review the docs"}}) + "\n",
    ]  # fmt: skip
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / f"{sid}.jsonl").write_text("".join(main))
    (folder / "agent-b77.jsonl").write_text("".join(agent))
    (folder / "agent-b77.meta.json").write_text(json.dumps({"agentType": "reviewer-from-meta"}))
    with _coordinator(tmp_path / "data") as c:
        ClaudeCodeImporter(c).run([folder / f"{sid}.jsonl"])  # brings its sibling agent file
        session = f"cc_{sid}"
        agents = {a.id.split(":")[1]: a for a in c.agents.list(session)}
        assert set(agents) == {"main", "b77"} and agents["b77"].agent_type == "reviewer"
        todo = next(t for t in c.tasks.list(session) if t.title == "Write docs")
        assert todo.id.endswith(":todo:main:t1") and todo.status == "completed"
        assert [h["status"] for h in todo.payload["history"]] == [
            "pending",
            "in_progress",
            "completed",
        ]
        spawn = next(t for t in c.tasks.list(session) if ":task:" in t.id)
        assert spawn.agent_id == agents["b77"].id and spawn.result is None
        row = c.store.row(
            "SELECT sensitive, encrypted, value FROM memory_entries WHERE session_id = ?",
            (session,),
        )
        assert row is not None and row[0] == 1 and row[1] == 1 and "sk-ant" not in row[2]
        entry = c.memory.list(session_id=session, namespace="claude-code/prompts")[0]
        assert "sk-ant-api03" in entry.value["text"]  # opened for the owner


# -- watch ----------------------------------------------------------------------------


def test_watch_follows_appended_lines(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "projects"
    src.mkdir()
    target = src / SHORT.name
    lines = SHORT.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:5]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_tui", "import", "claude-code", str(src), "--watch"],
        env=cli_env(data_dir, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT,
    )  # fmt: skip
    db = data_dir / "claude-tui.db"

    def prompts() -> int:
        if not db.exists():
            return -1
        try:
            with closing(sqlite3.connect(db, timeout=5)) as conn:
                return int(conn.execute(
                    "SELECT count(*) FROM memory_entries WHERE namespace = 'claude-code/prompts'"
                ).fetchone()[0])  # fmt: skip
        except sqlite3.OperationalError:
            return -1

    assert proc.stdout is not None and proc.stderr is not None
    out = LineReader(proc.stdout, "import --watch")
    err = LineReader(proc.stderr, "import --watch (stderr)")  # read as it comes: never a full pipe
    try:
        # The first import is committed before the watcher says it watches.
        watching = out.expect(lambda line: line.startswith("watching"), 60, "'watching'")
        assert prompts() == 1
        with open(target, "a") as fh:
            fh.write("".join(lines[5:]))
            fh.write(json.dumps({
                "type": "user", "sessionId": "55604662-cf2a-4331-851a-ec234028f8ca",
                "uuid": "appended", "timestamp": "2026-02-10T22:00:00Z",
                "message": {"role": "user", "content": "a prompt written while watching"},
            }) + "\n")  # fmt: skip
        # The watcher prints a session's line once its new lines are committed.
        out.expect(
            lambda line: "new line(s)" in line and prompts() == 2,
            30,
            "the appended prompt imported",
            start=watching + 1,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(
                "import --watch did not stop on SIGINT; stdout:\n"
                + "".join(out.lines[-5:])
                + "stderr:\n"
                + "".join(err.lines[-20:])
            ) from None
    assert code == 0, "".join(err.lines)
