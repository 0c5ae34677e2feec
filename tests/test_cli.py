"""The ``claude-tui`` command line, end to end: the real ``main``, SQLite files and Redis.

Commands run through ``main(argv)`` in this process (``tests/cli_run.py``: its own
environment, stdin, stdout and stderr); the tests about the process itself (what
it imports, its exit on a closed pipe) start ``python -m claude_tui``. Bad input must exit
with code 2, print exactly one line on stderr naming the problem, and write
nothing: that is proven by comparing the database (change-log head, row counts,
rows), the Redis keys of the database and, for broken files, their bytes.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from claude_tui import __version__
from claude_tui.core.store.schema import LATEST_VERSION
from tests.cli_run import run_in_process
from tests.conftest import ROOT, cli_env
from tests.redis_proc import RedisProcess

DB_NAME = "claude-tui.db"
TABLES = ("sessions", "agents", "tasks", "memory_entries", "change_log")
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


# -- helpers ----------------------------------------------------------------


def cli(
    data_dir: Path,
    *args: str,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``run_cli`` from conftest, plus extra ``CLAUDE_TUI_*`` environment variables."""
    full_env = cli_env(data_dir, redis_url)
    full_env.update(env or {})
    return run_in_process(args, full_env)


def ok(data_dir: Path, *args: str, redis_url: str | None = None) -> str:
    """Run a command that must succeed; return its stripped stdout."""
    result = cli(data_dir, *args, redis_url=redis_url)
    assert result.returncode == 0, f"claude-tui {args} exited {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def as_json(data_dir: Path, *args: str, redis_url: str | None = None) -> Any:
    """Run a command with ``--json`` and decode what it printed."""
    return json.loads(ok(data_dir, *args, "--json", redis_url=redis_url))


def error_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Assert a failure with ``code``: one stderr line naming ``words``, no traceback."""
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}\nstdout: {result.stdout}\n"
        f"stderr: {result.stderr}"
    )
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("claude-tui: ")
    for word in words:
        assert word.lower() in lines[0].lower(), f"{word!r} not in {lines[0]!r}"
    assert result.stdout == ""
    return lines[0]


def db_state(data_dir: Path) -> dict[str, Any]:
    """Change-log head, row counts and every row of the tables the CLI writes."""
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        state: dict[str, Any] = {
            "max_seq": conn.execute("SELECT max(seq) FROM change_log").fetchone()[0]
        }
        for table in TABLES:
            state[f"{table}.count"] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            state[table] = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    return state


def redis_state(data_dir: Path, redis_url: str | None) -> dict[bytes, bytes | None]:
    """Every Redis key (and dumped value) of the database in ``data_dir``."""
    if redis_url is None:
        return {}
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        db_id = conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0]
    client = redis.Redis.from_url(redis_url)
    try:
        return {k: client.dump(k) for k in client.scan_iter(match=f"ctui:{{{db_id}}}*")}
    finally:
        client.close()


def file_tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for directories)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def new_session(data_dir: Path, redis_url: str | None = None, *extra: str) -> str:
    session_id = ok(data_dir, "session", "new", *extra, redis_url=redis_url)
    assert session_id.startswith("ses_") and len(session_id.split()) == 1
    return session_id


def new_agent(data_dir: Path, session_id: str, redis_url: str | None = None) -> str:
    agent_id = ok(
        data_dir, "agent", "register", "--session", session_id, "--type", "coder",
        redis_url=redis_url,
    )  # fmt: skip
    assert agent_id.startswith("agt_")
    return agent_id


# -- fixtures ---------------------------------------------------------------


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    """The shared test Redis (the commands' keys are prefixed by their database id)."""
    return redis_server.url


@pytest.fixture(params=["redis", "no-redis"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """Run a test with the test Redis as L2, then again with Redis turned off."""
    if request.param == "no-redis":
        return None
    return request.getfixturevalue("redis_server").url


@dataclass
class World:
    """A data dir with two sessions, an agent in the second, an entry and two tasks."""

    data_dir: Path
    redis_url: str | None
    ids: dict[str, str]


def build_world(data_dir: Path, url: str | None, *, tasks: bool) -> World:
    s1 = new_session(data_dir, url, "--name", "alpha")
    s2 = new_session(data_dir, url, "--name", "beta")
    ids = {"S1": s1, "S2": s2, "A2": new_agent(data_dir, s2, url)}
    ok(data_dir, "memory", "store", "note", '"kept"', "--session", s1, redis_url=url)
    if tasks:
        ids["T_open"] = ok(data_dir, "task", "add", "--session", s1, "open task", redis_url=url)
        ids["T_done"] = ok(data_dir, "task", "add", "--session", s1, "done task", redis_url=url)
        ok(data_dir, "task", "update", ids["T_done"], "--status", "completed", redis_url=url)
    return World(data_dir, url, ids)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Shared by the bad-input cases (each proves it wrote nothing), Redis off."""
    return build_world(tmp_path_factory.mktemp("world"), None, tasks=True)


@pytest.fixture(scope="module")
def redis_world(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisProcess) -> World:
    """Like ``world`` with the test Redis as L2, for refused memory writes."""
    return build_world(tmp_path_factory.mktemp("redis-world"), redis_server.url, tasks=False)


# -- sessions, agents, tasks (with Redis) -----------------------------------


def test_session_new_prints_id_and_list_shows_it(data_dir: Path, redis_url: str) -> None:
    first = new_session(data_dir, redis_url, "--name", "alpha", "--user", "ana")
    second = new_session(data_dir, redis_url)
    assert first != second

    listed = {s["id"]: s for s in as_json(data_dir, "session", "list", redis_url=redis_url)}
    assert set(listed) == {first, second}
    assert (listed[first]["name"], listed[first]["user_id"]) == ("alpha", "ana")
    assert listed[first]["status"] == "active"
    assert listed[second]["name"] is None

    text = ok(data_dir, "session", "list", redis_url=redis_url)
    assert text.splitlines()[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert first in text and second in text and "alpha" in text


def test_session_show_includes_counts(data_dir: Path, redis_url: str) -> None:
    session = new_session(data_dir, redis_url, "--name", "counted")
    new_agent(data_dir, session, redis_url)
    ok(data_dir, "task", "add", "--session", session, "one", redis_url=redis_url)
    done = ok(data_dir, "task", "add", "--session", session, "two", redis_url=redis_url)
    ok(data_dir, "task", "update", done, "--status", "completed", redis_url=redis_url)
    ok(data_dir, "memory", "store", "a", '{"x": 1}', "--session", session, redis_url=redis_url)
    ok(data_dir, "memory", "store", "b", "word", "--session", session, redis_url=redis_url)
    ok(data_dir, "memory", "store", "c", "shared, not counted", redis_url=redis_url)

    shown = as_json(data_dir, "session", "show", session, redis_url=redis_url)
    assert (shown["id"], shown["name"], shown["status"]) == (session, "counted", "active")
    assert shown["agents"] == 1
    assert shown["tasks"] == {"pending": 1, "completed": 1}
    assert shown["memory_entries"] == 2
    assert shown["memory_bytes"] == len('{"x":1}') + len('"word"')

    text = ok(data_dir, "session", "show", session, redis_url=redis_url)
    assert session in text and "counted" in text
    assert any(line.split() == ["memory_entries", "2"] for line in text.splitlines())

    missing = cli(data_dir, "session", "show", "ses_missing", redis_url=redis_url)
    error_line(missing, 1, "ses_missing")


def test_agent_register_prints_id_and_list_filters_by_session(
    data_dir: Path, redis_url: str
) -> None:
    s1, s2 = new_session(data_dir, redis_url), new_session(data_dir, redis_url)
    a1 = ok(data_dir, "agent", "register", "--session", s1, "--type", "coder", "--role", "writer",
            redis_url=redis_url)  # fmt: skip
    a2 = ok(data_dir, "agent", "register", "--session", s2, "--type", "reviewer", "--role",
            "critic", "--capability", "lint", redis_url=redis_url)  # fmt: skip
    assert a1.startswith("agt_") and a2.startswith("agt_") and a1 != a2

    everyone = {a["id"]: a for a in as_json(data_dir, "agent", "list", redis_url=redis_url)}
    assert set(everyone) == {a1, a2}
    assert everyone[a2]["capabilities"] == ["lint"]

    (only,) = as_json(data_dir, "agent", "list", "--session", s1, redis_url=redis_url)
    assert (only["id"], only["session_id"], only["agent_type"], only["role"]) == (
        a1, s1, "coder", "writer",
    )  # fmt: skip

    text = ok(data_dir, "agent", "list", "--session", s2, redis_url=redis_url)
    assert a2 in text and "reviewer" in text and a1 not in text


def test_task_add_update_list_round_trip(data_dir: Path, redis_url: str) -> None:
    session, other = new_session(data_dir, redis_url), new_session(data_dir, redis_url)
    agent = new_agent(data_dir, session, redis_url)
    parent = ok(data_dir, "task", "add", "--session", session, "plan the work", "--priority", "5",
                redis_url=redis_url)  # fmt: skip
    child = ok(data_dir, "task", "add", "--session", session, "write the code", "--parent", parent,
               "--priority", "1", "--agent", agent, redis_url=redis_url)  # fmt: skip
    ok(data_dir, "task", "add", "--session", other, "someone else's", redis_url=redis_url)
    assert parent.startswith("tsk_") and child.startswith("tsk_")

    assert ok(data_dir, "task", "update", child, "--status", "in_progress",
              redis_url=redis_url) == "in_progress"  # fmt: skip
    result = {"ok": True, "files": ["a.py", "ü.py"], "score": 0.5}
    assert ok(data_dir, "task", "update", child, "--status", "completed", "--result",
              json.dumps(result), redis_url=redis_url) == "completed"  # fmt: skip

    tasks = as_json(data_dir, "task", "list", "--session", session, redis_url=redis_url)
    assert [t["id"] for t in tasks] == [parent, child]  # highest priority first
    first, second = tasks
    assert first["parent_task_id"] is None and first["status"] == "pending"
    assert second["parent_task_id"] == parent
    assert (second["status"], second["agent_id"], second["priority"]) == ("completed", agent, 1)
    assert second["result"] == result
    assert second["completed_at"] is not None

    text = ok(data_dir, "task", "list", "--session", session, redis_url=redis_url)
    assert parent in text and child in text and "write the code" in text
    assert "someone else's" not in text


# -- memory (with and without Redis) ----------------------------------------


def test_memory_store_and_get_json_and_bare_values(data_dir: Path, backend: str | None) -> None:
    values = {
        "greeting": ("hello world", "hello world"),  # not JSON: stored as a string
        "config": ('{"depth": 2, "tags": ["a", "b"]}', {"depth": 2, "tags": ["a", "b"]}),
        "count": ("42", 42),
        "quoted": ('"42"', "42"),
    }
    for key, (given, _) in values.items():
        assert ok(data_dir, "memory", "store", key, given, redis_url=backend).isdigit()

    for key, (_, expected) in values.items():
        entry = as_json(data_dir, "memory", "get", key, redis_url=backend)
        assert (entry["key"], entry["value"], entry["memory_type"]) == (key, expected, "shared")
        # a fresh process has an empty L1: the value comes from Redis when it is up
        assert entry["tier"] == ("sqlite" if backend is None else "l2")

    printed = ok(data_dir, "memory", "get", "config", redis_url=backend)
    assert json.loads(printed) == {"depth": 2, "tags": ["a", "b"]}
    error_line(cli(data_dir, "memory", "get", "never-stored", redis_url=backend), 1, "never-stored")


def test_memory_get_and_delete_follow_agent_then_session_then_shared(
    data_dir: Path, backend: str | None
) -> None:
    session = new_session(data_dir, backend)
    agent = new_agent(data_dir, session, backend)
    ok(data_dir, "memory", "store", "k", "swarm", redis_url=backend)
    ok(data_dir, "memory", "store", "k", "sess", "--session", session, redis_url=backend)
    ok(data_dir, "memory", "store", "k", "mine", "--session", session, "--agent", agent,
       redis_url=backend)  # fmt: skip

    def get(*scope: str) -> str:
        return ok(data_dir, "memory", "get", "k", *scope, redis_url=backend)

    def delete(*scope: str) -> subprocess.CompletedProcess[str]:
        return cli(data_dir, "memory", "delete", "k", *scope, redis_url=backend)

    assert get() == "swarm"
    assert get("--session", session) == "sess"
    assert get("--session", session, "--type", "shared") == "swarm"
    entry = as_json(data_dir, "memory", "get", "k", "--agent", agent, redis_url=backend)
    assert (entry["value"], entry["session_id"], entry["agent_id"]) == ("mine", session, agent)
    assert entry["memory_type"] == "persistent"

    assert delete("--session", session, "--agent", agent).stdout.strip() == "deleted"
    assert get("--session", session, "--agent", agent) == "sess"  # Redis must not serve "mine"
    assert delete("--session", session, "--type", "persistent").returncode == 0
    error_line(delete("--session", session, "--type", "persistent"), 1, "'k'")
    assert get("--agent", agent) == "swarm"
    assert db_state(data_dir)["memory_entries.count"] == 1


def test_memory_list_and_search_filters(data_dir: Path, backend: str | None) -> None:
    s1, s2 = new_session(data_dir, backend), new_session(data_dir, backend)
    ok(data_dir, "memory", "store", "shared-notes", "nothing relevant", redis_url=backend)
    ok(data_dir, "memory", "store", "parser-notes", "the parser handles unicode carefully",
       "--session", s1, redis_url=backend)  # fmt: skip
    ok(data_dir, "memory", "store", "cache-notes", '{"layer": "redis keeps parser output"}',
       "--session", s2, "--namespace", "notes", redis_url=backend)  # fmt: skip

    def keys(*args: str) -> set[str]:
        return {e["key"] for e in as_json(data_dir, "memory", *args, redis_url=backend)}

    assert keys("list") == {"shared-notes"}  # without a session: shared entries only
    assert keys("list", "--session", s1) == {"shared-notes", "parser-notes"}
    assert keys("list", "--all", "--namespace", "notes") == {"cache-notes"}
    assert keys("search", "parser", "--all") == {"parser-notes", "cache-notes"}
    assert keys("search", "parser", "--session", s1) == {"parser-notes"}
    assert keys("search", "shared") == {"shared-notes"}  # keys are searched too

    listed = ok(data_dir, "memory", "list", "--all", redis_url=backend)
    assert listed.splitlines()[0].split()[:2] == ["KEY", "TYPE"]
    assert all(key in listed for key in ("shared-notes", "parser-notes", "cache-notes"))
    found = ok(data_dir, "memory", "search", "unicode carefully", "--all", redis_url=backend)
    assert "parser-notes" in found and "cache-notes" not in found


def test_memory_namespace_type_and_ttl(data_dir: Path, redis_url: str) -> None:
    session = new_session(data_dir, redis_url)
    ok(data_dir, "memory", "store", "draft", '["x"]', "--session", session, "--namespace",
       "notes", "--type", "working", "--ttl", "120", redis_url=redis_url)  # fmt: skip

    absent = cli(data_dir, "memory", "get", "draft", "--session", session, redis_url=redis_url)
    error_line(absent, 1, "draft")  # it lives in another namespace

    entry = as_json(data_dir, "memory", "get", "draft", "--session", session, "--namespace",
                    "notes", redis_url=redis_url)  # fmt: skip
    assert (entry["value"], entry["namespace"], entry["memory_type"]) == (["x"], "notes", "working")
    assert entry["expires_at"] - entry["created_at"] == pytest.approx(120, abs=1)


# -- doctor ------------------------------------------------------------------


def test_doctor_reports_versions_schema_and_redis_up(data_dir: Path, redis_url: str) -> None:
    report = as_json(data_dir, "doctor", redis_url=redis_url)
    assert report["claude_tui"] == __version__
    assert report["python"] == platform.python_version()
    assert report["sqlite"] == sqlite3.sqlite_version
    assert report["data_dir"] == str(data_dir)
    assert report["database"] == str(data_dir / DB_NAME)
    assert report["schema_version"] == report["schema_latest"] == LATEST_VERSION
    assert report["backends"]["sqlite"]["up"] is True
    assert report["backends"]["redis"]["up"] is True
    assert report["backends"]["redis"]["url"] == redis_url
    assert report["backends"]["redis"]["reason"] is None

    text = ok(data_dir, "doctor", redis_url=redis_url)
    assert f"up ({redis_url})" in text
    assert f"{LATEST_VERSION} (latest {LATEST_VERSION})" in text


def test_doctor_reports_unreachable_redis_as_down(data_dir: Path) -> None:
    report = as_json(data_dir, "doctor", redis_url=CLOSED_REDIS_URL)
    redis_report = report["backends"]["redis"]
    assert redis_report["up"] is False
    assert redis_report["url"] == CLOSED_REDIS_URL
    assert isinstance(redis_report["reason"], str) and redis_report["reason"]
    assert report["backends"]["sqlite"]["up"] is True

    text = ok(data_dir, "doctor", redis_url=CLOSED_REDIS_URL)
    assert "DOWN: " in text and redis_report["reason"] in text

    # and memory still works on L1 + SQLite
    ok(data_dir, "memory", "store", "k", "v", redis_url=CLOSED_REDIS_URL)
    assert ok(data_dir, "memory", "get", "k", redis_url=CLOSED_REDIS_URL) == "v"


def test_doctor_reports_redis_turned_off(data_dir: Path) -> None:
    redis_report = as_json(data_dir, "doctor")["backends"]["redis"]
    assert redis_report["up"] is False
    assert "disabled" in redis_report["reason"]


# -- bad input: exit 2, one line, nothing written ---------------------------

BIG = "x" * 200  # over CLAUDE_TUI_MAX_VALUE_BYTES=100
SMALL_LIMIT = {"CLAUDE_TUI_MAX_VALUE_BYTES": "100"}


def bad(name: str, *args: str, words: tuple[str, ...], env: dict[str, str] | None = None) -> Any:
    return pytest.param(args, words, env or {}, id=name)


BAD_INPUT = [
    bad("json-unclosed-object", "memory", "store", "k", '{"a": 1', words=("value", "JSON")),
    bad("json-unclosed-array", "memory", "store", "k", "[1,", "--session", "@S1",
        words=("value", "JSON")),
    bad("json-unterminated-string", "memory", "store", "k", '"unterminated',
        words=("value", "JSON")),
    bad("json-bad-task-result", "task", "update", "@T_open", "--status", "in_progress",
        "--result", '{"ok": tru', words=("result", "JSON")),
    bad("json-bad-task-payload", "task", "add", "--session", "@S1", "t", "--payload", "[1,",
        words=("payload", "JSON")),
    bad("unknown-session-memory", "memory", "store", "k", "1", "--session", "ses_missing",
        words=("unknown session", "ses_missing")),
    bad("unknown-session-agent", "agent", "register", "--session", "ses_missing", "--type", "x",
        words=("unknown session", "ses_missing")),
    bad("unknown-session-task", "task", "add", "--session", "ses_missing", "t",
        words=("unknown session", "ses_missing")),
    bad("unknown-agent-memory", "memory", "store", "k", "1", "--session", "@S1", "--agent",
        "agt_missing", words=("unknown agent", "agt_missing")),
    bad("unknown-agent-task", "task", "add", "--session", "@S1", "t", "--agent", "agt_missing",
        words=("unknown agent", "agt_missing")),
    bad("foreign-agent-memory", "memory", "store", "k", "1", "--session", "@S1", "--agent",
        "@A2", words=("@A2", "does not belong", "@S1")),
    bad("foreign-agent-task", "task", "add", "--session", "@S1", "t", "--agent", "@A2",
        words=("@A2", "does not belong")),
    bad("foreign-parent-task", "task", "add", "--session", "@S2", "t", "--parent", "@T_open",
        words=("@T_open", "another session")),
    bad("ttl-negative", "memory", "store", "k", "1", "--ttl", "-5", words=("TTL", "-5")),
    bad("ttl-zero", "memory", "store", "k", "1", "--ttl", "0", words=("TTL", "positive")),
    bad("ttl-unparsable", "memory", "store", "k", "1", "--ttl", "soon", words=("TTL", "soon")),
    bad("value-too-large", "memory", "store", "big", BIG, "--session", "@S1",
        words=("over the limit", "100"), env=SMALL_LIMIT),
    bad("result-too-large", "task", "update", "@T_open", "--result", json.dumps(BIG),
        words=("over the limit",), env=SMALL_LIMIT),
    bad("unknown-memory-type", "memory", "store", "k", "1", "--type", "ephemeral",
        words=("--type", "ephemeral")),
    bad("unknown-command", "bogus", words=("invalid choice", "bogus")),
    bad("missing-value", "memory", "store", "k", words=("required", "value")),
    bad("missing-agent-type", "agent", "register", "--session", "@S1",
        words=("required", "--type")),
    bad("missing-task-title", "task", "add", "--session", "@S1", words=("required", "title")),
    bad("missing-task-session", "task", "add", "t", words=("required", "--session")),
    bad("completed-to-in-progress", "task", "update", "@T_done", "--status", "in_progress",
        words=("completed", "in_progress")),
    bad("unknown-task-status", "task", "update", "@T_open", "--status", "finished",
        words=("status", "finished")),
    bad("priority-negative", "task", "add", "--session", "@S1", "t", "--priority", "-1",
        words=("priority", "-1")),
    bad("priority-garbage", "task", "add", "--session", "@S1", "t", "--priority", "high",
        words=("priority", "high")),
    bad("priority-overflow", "task", "add", "--session", "@S1", "t", "--priority",
        "99999999999999999999", words=("priority",)),
]  # fmt: skip


REFUSED_MEMORY_WRITES = [
    case for case in BAD_INPUT
    if case.id in {"json-unclosed-object", "json-unterminated-string", "unknown-session-memory",
                   "foreign-agent-memory", "ttl-negative", "value-too-large"}
]  # fmt: skip


def assert_refused(
    world: World, args: tuple[str, ...], words: tuple[str, ...], env: dict[str, str]
) -> None:
    """Run a bad command in ``world``: exit 2, one line, SQLite and Redis untouched."""

    def fill(text: str) -> str:  # "@S1" stands for the id of the world's session S1
        return world.ids[text[1:]] if text.startswith("@") else text

    before = db_state(world.data_dir), redis_state(world.data_dir, world.redis_url)
    result = cli(world.data_dir, *map(fill, args), redis_url=world.redis_url, env=env)
    error_line(result, 2, *map(fill, words))
    assert (db_state(world.data_dir), redis_state(world.data_dir, world.redis_url)) == before


@pytest.mark.parametrize(("args", "words", "env"), BAD_INPUT)
def test_bad_input_exits_2_and_writes_nothing(
    world: World, args: tuple[str, ...], words: tuple[str, ...], env: dict[str, str]
) -> None:
    assert_refused(world, args, words, env)


@pytest.mark.parametrize(("args", "words", "env"), REFUSED_MEMORY_WRITES)
def test_bad_memory_input_with_redis_writes_nothing_anywhere(
    redis_world: World, args: tuple[str, ...], words: tuple[str, ...], env: dict[str, str]
) -> None:
    assert redis_state(redis_world.data_dir, redis_world.redis_url)  # the world is cached in L2
    assert_refused(redis_world, args, words, env)


# -- unusable files: exit 2, one line, file untouched ------------------------


def make_directory(data_dir: Path) -> None:
    (data_dir / DB_NAME).mkdir()


def make_random_bytes(data_dir: Path) -> None:
    (data_dir / DB_NAME).write_bytes(random.Random(7).randbytes(8192))


def make_text_file(data_dir: Path) -> None:
    (data_dir / DB_NAME).write_text("my notes, which are not a database\n" * 50)


def make_foreign_sqlite(data_dir: Path) -> None:
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT, minutes INTEGER)")
        conn.execute("INSERT INTO recipes VALUES ('soup', 30)")
        conn.execute("PRAGMA user_version = 0")
        conn.commit()


def make_newer_schema(data_dir: Path, journal: str = "wal") -> None:
    session = new_session(data_dir)
    ok(data_dir, "memory", "store", "k", "v", "--session", session)
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal}")
        conn.execute("PRAGMA user_version = 999")
        conn.commit()


def make_newer_schema_rollback_journal(data_dir: Path) -> None:
    make_newer_schema(data_dir, journal="delete")


def config_file(text: str) -> Callable[[Path], None]:
    def make(data_dir: Path) -> None:
        new_session(data_dir)
        (data_dir / "config.toml").write_text(text)

    return make


# (how to break the data dir, words the error must contain, holds a claude-tui database)
UNUSABLE = [
    pytest.param(make_directory, ("directory",), False, id="db-is-a-directory"),
    pytest.param(make_random_bytes, ("not a SQLite database",), False, id="random-bytes"),
    pytest.param(make_text_file, ("not a SQLite database",), False, id="text-file"),
    pytest.param(make_foreign_sqlite, ("another program", "recipes"), False,
                 id="foreign-sqlite"),
    pytest.param(make_newer_schema, ("999", "newer"), True, id="newer-schema"),
    pytest.param(make_newer_schema_rollback_journal, ("999", "newer"), True,
                 id="newer-schema-rollback-journal"),
    pytest.param(config_file("[memory\nmax_value_bytes = 1\n"), ("config.toml", "TOML"), True,
                 id="config-invalid-toml"),
    pytest.param(config_file("[memory]\nmax_value_bytez = 10\n"),
                 ("unknown setting", "max_value_bytez"), True, id="config-unknown-setting"),
    pytest.param(config_file("colour = 'blue'\n"), ("unknown", "colour"), True,
                 id="config-unknown-section"),
    pytest.param(config_file('[memory]\nmax_value_bytes = "big"\n'), ("max_value_bytes",),
                 True, id="config-bad-value"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "words", "ours"), UNUSABLE)
def test_unusable_data_dir_exits_2_and_leaves_files_alone(
    data_dir: Path, make: Callable[[Path], None], words: tuple[str, ...], ours: bool
) -> None:
    make(data_dir)
    rows_before = db_state(data_dir) if ours else None
    files_before = file_tree(data_dir)

    error_line(cli(data_dir, "memory", "store", "k", '"v"'), 2, *words)

    changed = sorted(k for k, v in file_tree(data_dir).items() if files_before.get(k, b"") != v)
    assert file_tree(data_dir) == files_before, f"a refused data dir was modified: {changed}"
    if ours:
        assert db_state(data_dir) == rows_before


# -- data dir, imports --------------------------------------------------------


def test_data_dir_flag_wins_over_environment(tmp_path: Path) -> None:
    from_env, from_flag = tmp_path / "env", tmp_path / "flag"
    session = ok(from_env, "--data-dir", str(from_flag), "session", "new")
    assert (from_flag / DB_NAME).is_file()
    assert not from_env.exists()

    listed = as_json(from_env, "--data-dir", str(from_flag), "session", "list")
    assert [s["id"] for s in listed] == [session]
    assert as_json(from_env, "session", "list") == []
    assert as_json(from_env, "--data-dir", str(from_flag), "doctor")["data_dir"] == str(from_flag)


IMPORT_PROBE = """
import json, sys
from claude_tui.cli.main import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"textual", "chromadb"})
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_store_commands_import_neither_textual_nor_chromadb(data_dir: Path) -> None:
    # both are installed, so not finding them below means they were not imported
    assert importlib.util.find_spec("textual") and importlib.util.find_spec("chromadb")
    commands = [
        ["memory", "store", "k", "v"], ["memory", "get", "k"], ["memory", "list"],
        ["memory", "search", "k"], ["memory", "delete", "k"], ["session", "new"],
        ["session", "list"], ["agent", "list"], ["task", "list"], ["doctor"],
    ]  # fmt: skip
    probe = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, json.dumps(commands)],
        env=cli_env(data_dir, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.splitlines()[-1])
    assert report["codes"] == [0] * len(commands)
    assert report["heavy"] == []

    # the entry point itself, as `python -m claude_tui`, per -X importtime
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "claude_tui", "memory", "list"],
        env=cli_env(data_dir, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert timed.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in timed.stderr.splitlines()}
    assert "claude_tui" in imported  # the probe sees our own imports...
    assert not imported & {"textual", "chromadb"}  # ...and not these
