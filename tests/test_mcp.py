"""``claude-tui mcp``: the real server in a subprocess over stdio, driven by the SDK's client.

Nothing is mocked: each server is ``python -m claude_tui mcp`` on a temp data
dir with the test Redis, the client is the mcp SDK's ``ClientSession`` over
``stdio_client``, and the embedding model and Chroma index are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput
from claude_tui.mcp.identity import resolve_identity
from tests.conftest import ROOT, cli_env, run_cli
from tests.redis_proc import RedisProcess

pytestmark = pytest.mark.timeout(120)

TOOLS = {
    "memory_store", "memory_retrieve", "memory_list", "memory_delete", "memory_search",
    "pattern_search", "pattern_learn",
    "session_checkpoint", "session_restore", "session_checkpoints",
    "task_create", "task_update", "task_list",
}  # fmt: skip
CLOSED_CHROMA_URL = "http://127.0.0.1:1"  # nothing listens on port 1


@dataclass
class World:
    """Two sessions (A with two agents, B) in one data dir, and a coordinator kept open on it."""

    data_dir: Path
    redis_url: str
    c: MemoryCoordinator
    a: str
    b: str
    a1: str
    a2: str


@pytest.fixture
def world(data_dir: Path, redis_server: RedisProcess, coordinator: MemoryCoordinator) -> World:
    a = coordinator.sessions.create(name="A").id
    b = coordinator.sessions.create(name="B").id
    a1 = coordinator.agents.register(a, "coder").id
    a2 = coordinator.agents.register(a, "tester").id
    return World(data_dir, redis_server.url, coordinator, a, b, a1, a2)


@dataclass
class Server:
    """A connected client and where its server's stderr went."""

    session: ClientSession
    stderr: Path

    async def ok(self, tool: str, **args: Any) -> dict[str, Any]:
        result = await self.session.call_tool(tool, args)
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert not result.is_error, f"{tool}{args} failed: {text}"
        assert result.structured_content is not None
        assert json.loads(text) == result.structured_content  # the text block is the same JSON
        return result.structured_content

    async def refused(self, tool: str, **args: Any) -> str:
        result = await self.session.call_tool(tool, args)
        assert result.is_error, f"{tool} should have been refused: {result.content}"
        [block] = result.content
        text: str = getattr(block, "text", "")
        assert text and "\n" not in text, text  # one line
        assert "Error executing tool" not in text and "pydantic" not in text, text
        return text


@asynccontextmanager
async def serve(
    world: World, *args: str, tmp: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """Start ``claude-tui mcp ARGS`` and yield an initialized client session."""
    env = cli_env(world.data_dir, world.redis_url) | (extra_env or {})
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "claude_tui", "mcp", *args], env=env, cwd=ROOT
    )
    stderr = tmp / f"mcp-stderr-{len(list(tmp.glob('mcp-stderr-*')))}.log"
    with stderr.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield Server(session, stderr)


# -- tools, store and retrieve -----------------------------------------------------------


async def test_lists_its_tools_and_round_trips_memory(world: World, tmp_path: Path) -> None:
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        listed = (await s.session.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for tool in listed:
            assert tool.description and tool.input_schema["type"] == "object", tool.name
        store = next(t for t in listed if t.name == "memory_store")
        assert set(store.input_schema["required"]) == {"key", "value"}
        # The one list of memory types (core/models.py), in its order.
        assert store.input_schema["properties"]["type"]["enum"] == [
            "working", "persistent", "shared",
        ]  # fmt: skip

        stored = await s.ok("memory_store", key="plan", value={"steps": [1, 2], "done": False})
        assert stored["entry"]["session_id"] == world.a and not stored["entry"]["shared"]
        got = await s.ok("memory_retrieve", key="plan")
        assert got["found"] and got["entry"]["value"] == {"steps": [1, 2], "done": False}
        assert got["entry"]["type"] == "persistent"

        await s.ok("memory_store", key="tmp", value="soon gone", namespace="scratch",
                   type="working", ttl_seconds=600)  # fmt: skip
        listed_entries = await s.ok("memory_list", namespace="scratch")
        assert [e["key"] for e in listed_entries["entries"]] == ["tmp"]
        assert listed_entries["entries"][0]["expires_at"] is not None
        assert (await s.ok("memory_retrieve", key="tmp"))["found"] is False  # wrong namespace
        assert (await s.ok("memory_delete", key="tmp", namespace="scratch"))["deleted"] is True
        assert (await s.ok("memory_delete", key="tmp", namespace="scratch"))["deleted"] is False
        assert (await s.ok("memory_list"))["count"] == 1

        # a secret is stored sealed, masked in listings, readable by key
        await s.ok("memory_store", key="github_token", value="ghp_" + "a1B2" * 9)
        [listed_secret] = [
            e for e in (await s.ok("memory_list"))["entries"] if e["key"] == "github_token"
        ]
        assert listed_secret["sensitive"] and listed_secret["value"].startswith("<secret")
        secret = await s.ok("memory_retrieve", key="github_token")
        assert secret["entry"]["value"] == "ghp_" + "a1B2" * 9

    assert "Traceback" not in s.stderr.read_text()


async def test_a_second_coordinator_sees_mcp_writes_live(world: World, tmp_path: Path) -> None:
    """The app's path: it polls data_version; an MCP write shows up as a change event."""
    world.c.poll_changes()
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        await s.ok("memory_store", key="live", value=42)
        events = world.c.poll_changes()
        assert any(e.table == "memory_entries" and e.session_id == world.a for e in events)
        entry = world.c.memory.get("live", session_id=world.a)
        assert entry is not None and entry.value == 42

        task = await s.ok("task_create", title="shown in the task tree")
        assert any(e.table == "tasks" for e in world.c.poll_changes())
        assert world.c.tasks.get(task["id"]).title == "shown in the task tree"

        # and the other way round: the server reads what another process just wrote
        world.c.memory.store("from-app", "hello", session_id=world.a)
        assert (await s.ok("memory_retrieve", key="from-app"))["entry"]["value"] == "hello"


# -- search --------------------------------------------------------------------------------


async def test_full_text_and_semantic_memory_search(world: World, tmp_path: Path) -> None:
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        facts = {
            "db-choice": "we store timestamps in UTC inside PostgreSQL",
            "lint": "run ruff before every commit",
            "deploy": "production deploys happen on Tuesdays after the standup",
        }
        for key, value in facts.items():
            await s.ok("memory_store", key=key, value=value)

        text = await s.ok("memory_search", query="ruff commit", mode="text")
        assert text["mode"] == "text" and [h["key"] for h in text["hits"]] == ["lint"]
        assert text["hits"][0]["matched"] == ["words"]
        nothing = await s.ok("memory_search", query="nothing-like-this", mode="text")
        assert nothing["hits"] == []

        semantic = await s.ok(
            "memory_search", query="which timezone are dates saved in?", mode="semantic", limit=2
        )
        assert semantic["mode"] == "semantic" and semantic["used"] == ["meaning"]
        assert semantic["hits"][0]["key"] == "db-choice"
        hybrid = await s.ok("memory_search", query="when do we ship to production?", limit=1)
        assert hybrid["mode"] == "hybrid" and hybrid["hits"][0]["key"] == "deploy"
        assert len(semantic["hits"]) == 2
        assert semantic["hits"][0]["score"] >= semantic["hits"][1]["score"]


async def test_pattern_learn_then_search(world: World, tmp_path: Path) -> None:
    async with serve(world, "--agent", world.a1, tmp=tmp_path) as s:
        learned = await s.ok(
            "pattern_learn", type="error_fix", input="ModuleNotFoundError: No module named 'yaml'",
            output="pip install pyyaml", context="python", success=True,
        )  # fmt: skip
        pattern = learned["pattern"]
        assert pattern["session_id"] == world.a and learned["indexed"]
        assert not learned["consolidated"]
        await s.ok("pattern_learn", type="decision", input="use SQLite WAL mode for concurrency")

        found = await s.ok("pattern_search", query="importing the yaml package fails", limit=2)
        assert found["mode"] == "hybrid"
        assert found["hits"][0]["id"] == pattern["id"]
        assert found["hits"][0]["output"] == "pip install pyyaml"
        only = await s.ok("pattern_search", query="yaml import error", type="decision")
        assert pattern["id"] not in [h["id"] for h in only["hits"]]

        again = await s.ok(
            "pattern_learn", type="error_fix", input="ModuleNotFoundError: No module named 'yaml'",
            output="pip install pyyaml", success=True,
        )  # fmt: skip
        assert again["consolidated"] and again["pattern"]["id"] == pattern["id"]
        assert "secrets are never learned" in await s.refused(
            "pattern_learn", type="decision", input="the key is ghp_" + "a1B2" * 9
        )


async def test_pattern_search_reports_the_word_search_fallback(
    world: World, tmp_path: Path
) -> None:
    world.c.patterns.add("error_fix", "flaky test fixed by pinning the clock", "freeze time")
    async with serve(
        world, "--session", world.b, tmp=tmp_path,
        extra_env={"CLAUDE_TUI_CHROMA_URL": CLOSED_CHROMA_URL},
    ) as s:  # fmt: skip
        found = await s.ok("pattern_search", query="flaky clock test")
        assert found["mode"] == "text" and found["note"]
        assert [h["input"] for h in found["hits"]] == ["flaky test fixed by pinning the clock"]


# -- checkpoints and tasks ---------------------------------------------------------------


async def test_checkpoint_and_restore_the_bound_session(world: World, tmp_path: Path) -> None:
    other = world.c.checkpoints.create(world.b, label="B's")
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        await s.ok("memory_store", key="state", value=1)
        await s.ok("memory_store", key="team", value="kept", type="shared")
        cp = await s.ok("session_checkpoint", label="before the refactor")
        assert cp["session_id"] == world.a and cp["label"] == "before the refactor"
        assert cp["counts"]["memory"] == 1  # private memory only; shared is the swarm's

        await s.ok("memory_store", key="state", value=2)
        await s.ok("memory_store", key="later", value="added after")
        restored = await s.ok("session_restore", checkpoint_id=cp["id"])
        assert restored["checkpoint"]["id"] == cp["id"] and restored["safety_checkpoint"]
        assert (await s.ok("memory_retrieve", key="state"))["entry"]["value"] == 1
        assert (await s.ok("memory_retrieve", key="later"))["found"] is False
        assert (await s.ok("memory_retrieve", key="team"))["entry"]["value"] == "kept"

        listed = await s.ok("session_checkpoints")
        assert [c["id"] for c in listed["checkpoints"]][-1] == cp["id"]
        assert {c["reason"] for c in listed["checkpoints"]} == {"manual", "before-restore"}
        assert other.id not in [c["id"] for c in listed["checkpoints"]]
        assert "belongs to session" in await s.refused("session_restore", checkpoint_id=other.id)
        assert "no checkpoint" in await s.refused("session_restore", checkpoint_id="cp_nope")


async def test_task_tree_create_update_and_other_sessions_refused(
    world: World, tmp_path: Path
) -> None:
    foreign = world.c.tasks.add(world.b, "B's task")
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        root = await s.ok("task_create", title="ship the MCP server", priority=5)
        child = await s.ok("task_create", title="write tests", parent_id=root["id"],
                           payload={"files": ["tests/test_mcp.py"]})  # fmt: skip
        assert child["parent_task_id"] == root["id"] and child["session_id"] == world.a
        assert child["payload"] == {"files": ["tests/test_mcp.py"]} and child["status"] == "pending"

        moved = await s.ok("task_update", task_id=child["id"], status="in_progress")
        assert moved["status"] == "in_progress"
        done = await s.ok("task_update", task_id=child["id"], status="completed",
                          result={"passed": 12})  # fmt: skip
        assert done["status"] == "completed" and done["result"] == {"passed": 12}
        assert done["completed_at"] is not None
        assert "cannot become" in await s.refused(
            "task_update", task_id=child["id"], status="in_progress"
        )
        tree = await s.ok("task_list")
        assert [t["id"] for t in tree["tasks"]] == [root["id"], child["id"]]

        # another session's task is neither changed, nor used as a parent, nor listed
        assert "in this session" in await s.refused(
            "task_update", task_id=foreign.id, status="cancelled"
        )
        assert "in this session" in await s.refused(
            "task_create", title="sneaky", parent_id=foreign.id
        )
        assert foreign.id not in [t["id"] for t in (await s.ok("task_list"))["tasks"]]
    assert world.c.tasks.get(foreign.id).status == "pending"


# -- isolation -------------------------------------------------------------------------------


async def test_sessions_are_isolated_and_share_the_swarm(world: World, tmp_path: Path) -> None:
    world.c.memory.store("handbook", "session A's private notes", session_id=world.a)
    world.c.memory.store("scratch", "agent a2's own", session_id=world.a, agent_id=world.a2)
    async with (
        serve(world, "--agent", world.a1, tmp=tmp_path) as a1,
        serve(world, tmp=tmp_path, extra_env={"CLAUDE_TUI_SESSION": world.b}) as b,
    ):
        await a1.ok("memory_store", key="plan", value="A's secret plan")
        await a1.ok("memory_store", key="team-note", value="standup at 10", type="shared")
        await b.ok("memory_store", key="plan", value="B's own plan")

        # the agent sees its own memory, its session's, and the swarm's...
        assert (await a1.ok("memory_retrieve", key="handbook"))["found"]
        assert (await a1.ok("memory_retrieve", key="plan"))["entry"]["value"] == "A's secret plan"
        assert (await a1.ok("memory_retrieve", key="plan"))["entry"]["agent_id"] == world.a1
        # ...but not another agent's private entries
        assert (await a1.ok("memory_retrieve", key="scratch"))["found"] is False

        # session B sees none of A's private memory, by key, type, listing or search
        for kwargs in ({}, {"type": "persistent"}):
            got = await b.ok("memory_retrieve", key="handbook", **kwargs)
            assert got["found"] is False
        assert (await b.ok("memory_retrieve", key="plan"))["entry"]["value"] == "B's own plan"
        keys = {e["key"] for e in (await b.ok("memory_list", limit=100))["entries"]}
        assert keys == {"plan", "team-note"}
        hits = (await b.ok("memory_search", query="secret plan"))["hits"]
        assert {(h["key"], h["value"]) for h in hits} <= {
            ("plan", "B's own plan"),
            ("team-note", "standup at 10"),
        }
        semantic = await b.ok("memory_search", query="private notes", mode="semantic")
        # Only B's own plan and the swarm's note may come back: never A's private
        # "plan" or "handbook", whatever their similarity to the query.
        seen = {(h["key"], h["value"]) for h in semantic["hits"]}
        assert seen and seen <= {("plan", "B's own plan"), ("team-note", "standup at 10")}
        assert (await b.ok("memory_delete", key="handbook"))["deleted"] is False

        # both see the swarm's shared memory
        for s in (a1, b):
            note = await s.ok("memory_retrieve", key="team-note")
            assert note["entry"]["value"] == "standup at 10" and note["entry"]["shared"]

    kept = world.c.memory.get("handbook", session_id=world.a)
    assert kept is not None and kept.value == "session A's private notes"
    a_plan = world.c.memory.get("plan", session_id=world.a, agent_id=world.a1)
    assert a_plan is not None and a_plan.value == "A's secret plan"


# -- bad input -------------------------------------------------------------------------------


async def test_bad_arguments_are_error_results_and_the_server_keeps_serving(
    world: World, tmp_path: Path
) -> None:
    async with serve(world, "--session", world.a, tmp=tmp_path) as s:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("memory_store", {"key": 5, "value": 1}, "key: Input should be a valid string"),
            ("memory_store", {"key": "k"}, "value: Field required"),
            ("memory_store", {"value": 1}, "key: Field required"),
            ("memory_store", {"key": "k", "value": 1, "type": "forever"}, "type:"),
            ("memory_store", {"key": "k", "value": 1, "ttl_seconds": "soon"}, "ttl_seconds:"),
            ("memory_store", {"key": "k", "value": 1, "ttl_seconds": -5}, "TTL"),
            ("memory_store", {"key": "", "value": 1}, "key"),
            ("memory_store", {"key": "big", "value": "x" * (1024 * 1024 + 10)}, "over the limit"),
            ("memory_list", {"limit": "lots"}, "limit:"),
            ("memory_list", {"limit": 0}, "limit:"),
            ("memory_search", {"query": "   "}, "empty"),
            ("memory_search", {"query": "x", "mode": "psychic"}, "mode:"),
            ("task_update", {"task_id": "tsk_nope", "status": "completed"}, "no task 'tsk_nope'"),
            ("task_update", {"task_id": 7}, "task_id:"),
            ("task_create", {"title": "t", "priority": -1}, "priority"),
            ("task_create", {"title": "t", "priority": 1.5}, "priority:"),
            ("task_create", {}, "title: Field required"),
            ("pattern_learn", {"type": "decision", "input": ""}, "empty"),
            ("session_restore", {"checkpoint_id": "cp_nope"}, "no checkpoint"),
        ]
        for tool, args, expected in cases:
            message = await s.refused(tool, **args)
            assert expected in message, (tool, args, message)
            # the server is still there, and the refused call wrote nothing
            assert (await s.ok("memory_list"))["count"] == 0, (tool, args)
        assert "Unknown tool" in await s.refused("memory_drop_everything")
        assert (await s.ok("task_list"))["tasks"] == []
        await s.ok("memory_store", key="still", value="serving")
        assert (await s.ok("memory_retrieve", key="still"))["entry"]["value"] == "serving"
    assert "Traceback" not in s.stderr.read_text()


def test_unknown_identity_exits_2_with_one_line_before_the_protocol(world: World) -> None:
    other_session_agent = world.c.agents.register(world.b, "reviewer").id
    cases = [
        (["--session", "ses_nope"], "unknown session 'ses_nope'"),
        (["--agent", "agt_nope"], "unknown agent 'agt_nope'"),
        (["--session", world.a, "--agent", other_session_agent], "does not belong"),
        (["--session", world.a, "--create-session", "x"], "not both"),
    ]
    for args, expected in cases:
        result = run_cli(world.data_dir, "mcp", *args, redis_url=world.redis_url)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == "", args  # stdout is the protocol's alone
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)


def test_identity_from_flags_environment_and_create_session(world: World, config: Config) -> None:
    c = world.c
    assert resolve_identity(c, session=world.a).to_dict() == {
        "session_id": world.a, "agent_id": None,
    }  # fmt: skip
    env = {"CLAUDE_TUI_SESSION": world.b, "CLAUDE_TUI_AGENT": ""}
    assert resolve_identity(c, env=env).session_id == world.b
    assert resolve_identity(c, session=world.a, env=env).session_id == world.a  # flag wins
    by_agent = resolve_identity(c, env={"CLAUDE_TUI_AGENT": world.a2})
    assert (by_agent.session_id, by_agent.agent_id) == (world.a, world.a2)

    made = resolve_identity(c, create_session="nightly", env={})
    assert made.created and c.sessions.get(made.session_id).name == "nightly"
    again = resolve_identity(c, create_session="nightly", env={})
    assert not again.created and again.session_id == made.session_id  # same one after a restart
    with pytest.raises(BadInput, match="does not belong"):
        resolve_identity(c, create_session="nightly", agent=world.a1, env={})
    with pytest.raises(BadInput, match="unknown session"):
        resolve_identity(c, session="ses_gone", env={})


def test_mcp_is_imported_only_by_the_mcp_command(data_dir: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "claude_tui", "memory", "list"],
        env=cli_env(data_dir, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    imported = {line.split("|")[-1].strip() for line in probe.stderr.splitlines()}
    assert "claude_tui" in imported
    assert not {m for m in imported if m == "mcp" or m.startswith(("mcp.", "claude_tui.mcp"))}
