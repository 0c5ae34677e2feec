"""Every CLI listing that stops at its limit says so, and how to see the rest.

One data dir written by this process (a coordinator kept open) and listed by
real CLI processes. Text output ends with a "showing A-B of N" line; ``--json``
output stays a plain list (its consumers are unchanged) and the note goes to
stderr. A listing that is not cut says nothing more than before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(120)


@dataclass
class Filled:
    data: Path
    session: str
    c: MemoryCoordinator


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    data = tmp_path_factory.mktemp("listings") / "data"
    with MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False)) as c:
        s = c.sessions.create(name="main")
        for i in range(2):
            c.sessions.create(name=f"other-{i}")
        for i in range(205):
            c.memory.store(f"k{i:03}", i, session_id=s.id)
        for i in range(3):
            c.tasks.add(s.id, f"task {i}")
            c.patterns.add("decision", f"input {i}")
            c.checkpoints.create(s.id, label=f"cp {i}")
        yield Filled(data, s.id, c)


def _ok(data: Path, *args: str) -> tuple[list[str], str]:
    result = run_cli(data, *args, check=True)
    return result.stdout.splitlines(), result.stderr


def test_memory_list_says_it_stopped_at_its_default_limit(filled: Filled) -> None:
    lines, err = _ok(filled.data, "memory", "list", "--all")
    assert len(lines) == 1 + 100 + 1 and err == ""  # header, 100 rows, the note
    assert lines[-1] == "showing 1-100 of 205 entries; --limit N or --offset 100 for more"
    lines, _ = _ok(filled.data, "memory", "list", "--all", "--offset", "100")
    assert lines[-1] == "showing 101-200 of 205 entries; --limit N or --offset 200 for more"
    assert lines[1].startswith("k104")  # newest first: the second page
    lines, err = _ok(filled.data, "memory", "list", "--all", "--offset", "200")
    assert len(lines) == 1 + 5 and lines[-1].startswith("k000") and err == ""  # the rest, no note
    lines, _ = _ok(filled.data, "memory", "list", "--all", "--limit", "300")
    assert len(lines) == 1 + 205  # all of it: nothing to say


def test_json_listings_stay_lists_and_say_it_on_stderr(filled: Filled) -> None:
    result = run_cli(filled.data, "memory", "list", "--all", "--json", check=True)
    listed = json.loads(result.stdout)
    assert isinstance(listed, list) and len(listed) == 100
    assert result.stderr == (
        "claude-tui: showing 1-100 of 205 entries; --limit N or --offset 100 for more\n"
    )
    result = run_cli(filled.data, "memory", "list", "--all", "--json", "--limit", "500")
    assert len(json.loads(result.stdout)) == 205 and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "what", "total"),
    [
        (("session", "list", "--limit", "2"), "sessions", 3),
        (("task", "list", "--session", "{s}", "--limit", "2"), "tasks", 3),
        (("patterns", "list", "--limit", "2"), "patterns", 3),
        (("session", "checkpoints", "{s}", "--limit", "2"), "checkpoints", 3),
    ],
    ids=["session-list", "task-list", "patterns-list", "session-checkpoints"],
)
def test_every_listing_with_a_limit_says_when_it_is_cut(
    filled: Filled, args: tuple[str, ...], what: str, total: int
) -> None:
    argv = [a.replace("{s}", filled.session) for a in args]
    note = f"showing 1-2 of {total} {what}; --limit N or --offset 2 for more"
    lines, err = _ok(filled.data, *argv)
    assert lines[-1] == note and len(lines) == 1 + 2 + 1 and err == ""
    result = run_cli(filled.data, *argv, "--json", check=True)
    assert len(json.loads(result.stdout)) == 2 and result.stderr == f"claude-tui: {note}\n"
    lines, err = _ok(filled.data, *argv, "--offset", "2")
    assert len(lines) == 1 + 1 and err == ""  # the last one, nothing more to say
    lines, err = _ok(filled.data, *argv[:-2])  # the default limit holds them all
    assert len(lines) == 1 + total and err == ""


@pytest.mark.parametrize(
    "args",
    [("session", "list", "--limit", "0"), ("task", "list", "--offset", "-1"),
     ("patterns", "list", "--limit", "x"), ("memory", "list", "--offset", "-5"),
     ("session", "list", "--limit", "10001")],
    ids=["limit-0", "offset-negative", "limit-not-a-number", "memory-offset", "limit-too-big"],
)  # fmt: skip
def test_a_bad_limit_or_offset_is_one_line_and_exit_2(
    filled: Filled, args: tuple[str, ...]
) -> None:
    result = run_cli(filled.data, *args)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("claude-tui: argument --") and "internal error" not in line
