"""End to end with the real Claude Code CLI: install, two sessions, recall, uninstall.

Claude Code runs offline in a temp HOME with no account: ``claude -p`` answers
"Not logged in" (exit 1) but fires SessionStart, UserPromptSubmit and
SessionEnd with real payloads and writes its transcript, which is all the
hooks need. claude-tui is installed into a temp project (project scope; the
folder is trusted the way accepting Claude Code's trust prompt records it),
with its data in a temp data dir. The binary comes from ``make claude-code``
(tests/claude_code_cli.py); a missing one fails the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.integrations.claude_code_settings import BACKUP_SUFFIX
from claude_tui.hooks import worker
from tests.claude_code_cli import claude_env, find_claude
from tests.conftest import ROOT
from tests.test_hook_worker import wait_for_worker

NOT_LOGGED_IN = "Not logged in"
DECISION = "split the lexer from the parser"


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    return find_claude()


@dataclass
class World:
    claude: Path
    home: Path
    project: Path
    data: Path
    env: dict[str, str]

    def run_claude(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.claude), *args],
            env=self.env,
            cwd=cwd or self.project,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def tui(self, *args: str) -> str:
        """``python -m claude_tui --data-dir D ARGS`` in the temp HOME; must succeed."""
        result = subprocess.run(
            [sys.executable, "-m", "claude_tui", "--data-dir", str(self.data), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def transcripts(self) -> Path:
        """Where Claude Code keeps this project's transcripts (every non-alphanumeric → '-')."""
        slug = re.sub(r"[^A-Za-z0-9]", "-", os.path.realpath(self.project))
        return self.home / ".claude" / "projects" / slug


@pytest.fixture
def world(claude_bin: Path, tmp_path: Path) -> Iterator[World]:
    """A temp HOME and project; hooks with the warm worker on, as users have them."""
    home = tmp_path / "home"
    project = (tmp_path / "my project").resolve()  # spaces: every command must be quoted
    (project / ".git").mkdir(parents=True)  # a project root, no git needed
    home.mkdir()
    env = {**claude_env(home), "CLAUDE_TUI_HOOK_WORKER": "1"}
    w = World(claude_bin, home, project, tmp_path / "tui data", env)
    try:
        yield w
    finally:
        worker.stop(str(w.data))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def sums(*roots: Path) -> dict[str, str]:
    """Every file under the roots (or the root file itself) with its sha256."""
    found: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def hook_contexts(transcript: Path) -> dict[str, list[str]]:
    """The additionalContext Claude Code took from each hook event, as its transcript records it."""
    found: dict[str, list[str]] = {}
    for line in transcript.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        attachment = record.get("attachment")
        if record.get("type") == "attachment" and isinstance(attachment, dict):
            if attachment.get("type") == "hook_additional_context":
                found.setdefault(attachment["hookEvent"], []).extend(attachment["content"])
    return found


def server_line(listing: str) -> str:
    lines = [line for line in listing.splitlines() if line.startswith("claude-tui:")]
    assert len(lines) == 1, listing
    return lines[0]


def test_two_sessions_remember_through_the_hooks_and_uninstall_restores(world: World) -> None:
    w = world
    # -- what the user had before: settings of their own, the project trusted --------------
    user_hook_ran = w.home / "user-hook-ran"
    write(w.home / ".claude" / "settings.json", {"permissions": {"allow": ["Bash(ls)"]}})
    user_hook = {"type": "command", "command": f"touch {shlex.quote(str(user_hook_ran))}"}
    write(
        w.project / ".claude" / "settings.json",
        {"hooks": {"SessionEnd": [{"matcher": "", "hooks": [user_hook]}]}},
    )
    write(w.project / ".claude" / "settings.local.json", {"permissions": {"allow": ["Read"]}})
    write(w.home / ".claude.json", {"projects": {str(w.project): {"hasTrustDialogAccepted": True}}})
    before = sums(w.home / ".claude", w.project)

    out = w.tui("install", "claude-code", "--scope", "project", "--project", str(w.project))
    assert "installed claude-tui in Claude Code (project scope" in out, out
    server = load(w.project / ".mcp.json")["mcpServers"]["claude-tui"]
    assert server["args"] == ["-m", "claude_tui", "--data-dir", str(w.data.resolve()), "mcp"]

    # -- the first session: registered, its prompt kept ------------------------------------
    first = w.run_claude("-p", "first prompt about the tokenizer")
    assert first.returncode == 1 and NOT_LOGGED_IN in first.stdout, (first.stdout, first.stderr)
    (transcript1,) = w.transcripts().glob("*.jsonl")
    sid1 = transcript1.stem
    session = json.loads(w.tui("session", "show", f"cc_{sid1}", "--json"))
    meta = session["metadata"]
    assert (meta["source"], meta["claude_session_id"]) == ("claude-code", sid1)
    assert meta["project"] == str(w.project) and meta["transcript_path"] == str(transcript1)
    live = ("--namespace", "claude-code/live-prompts", "--json")
    prompts = json.loads(w.tui("memory", "list", "--session", f"cc_{sid1}", *live))
    assert [p["value"]["text"] for p in prompts] == ["first prompt about the tokenizer"]
    assert user_hook_ran.exists()  # the user's own hook beside ours still runs

    # -- between the sessions, a decision is noted (persistent: it outlives the session) ---
    memory_id = w.tui(
        "memory", "store", "tokenizer-decision", DECISION, "--session", f"cc_{sid1}"
    ).strip()
    assert memory_id.isdigit(), memory_id

    # -- the first hook did its work itself and started the worker; the rest go through it --
    wait_for_worker(w.data)

    # -- the second session is told about it, at start and with the matching prompt -------
    second = w.run_claude("-p", "--output-format", "json", "how should the tokenizer be split?")
    assert second.returncode == 1, (second.stdout, second.stderr)
    answer = json.loads(second.stdout)
    assert NOT_LOGGED_IN in answer["result"]
    sid2 = answer["session_id"]
    assert sid2 != sid1
    contexts = hook_contexts(w.transcripts() / f"{sid2}.jsonl")
    assert sorted(contexts) == ["SessionStart", "UserPromptSubmit"], contexts
    for event in ("SessionStart", "UserPromptSubmit"):
        assert any(DECISION in text for text in contexts[event]), contexts[event]
    assert hook_contexts(transcript1) == {}  # the first session had nothing to be told

    # -- recall explains what it injected --------------------------------------------------
    shown = w.tui("recall", "show", f"cc_{sid2}")
    for event in ("SessionStart", "UserPromptSubmit"):
        assert re.search(rf"^\S+ \S+ +{event} +\d+ characters", shown, re.M), shown
    assert shown.count(f"memory:{memory_id} ") == 2 and f"from cc_{sid1}" in shown, shown
    # The MCP server Claude Code started acted for Claude Code's own session: no other
    # session was made for it (it starts while SessionStart runs).
    sessions = {row["id"] for row in json.loads(w.tui("session", "list", "--json"))}
    assert sessions == {f"cc_{sid1}", f"cc_{sid2}"}, sessions
    injections = json.loads(w.tui("recall", "show", f"cc_{sid2}", "--json"))
    assert [i["hook"] for i in injections] == ["SessionStart", "UserPromptSubmit"]
    health = json.loads(w.tui("doctor", "--json"))["hooks"]
    assert health["failed"] == 0 and health["spooled"] == 0, health  # fail-open hides failures
    assert {e: s["fired"] for e, s in health["events"].items()} == {
        "SessionStart": 2,
        "UserPromptSubmit": 2,
        "SessionEnd": 2,
    }
    running = worker.info(str(w.data))
    assert running is not None and running["served"] >= 3, running  # the second session's

    # -- Claude Code connects to the MCP server, registered with no session id -------------
    listing = w.run_claude("mcp", "list")
    assert listing.returncode == 0, (listing.stdout, listing.stderr)
    line = server_line(listing.stdout)
    assert line.endswith(" mcp - ✔ Connected") and "--session" not in line, line

    # -- uninstall: the user's files as they were, ours gone ------------------------------
    # Claude Code rewrites ~/.claude.json as it runs (a project install never touches it):
    # uninstall must leave it exactly as Claude Code last wrote it.
    config = w.home / ".claude.json"
    config_before_uninstall = config.read_bytes()
    out = w.tui("uninstall", "claude-code", "--scope", "project", "--project", str(w.project))
    assert "claude-tui" in out, out
    assert not (w.project / ".mcp.json").exists()
    after = sums(w.home / ".claude", w.project)
    for path, digest in before.items():
        assert after.get(path) == digest, path
    project_files = {p for p in after if p.startswith(str(w.project) + os.sep)}
    assert project_files == {p for p in before if p.startswith(str(w.project) + os.sep)}
    assert not [p for p in after if p.endswith(BACKUP_SUFFIX)]
    assert config.read_bytes() == config_before_uninstall
    assert "claude_tui" not in config.read_text(encoding="utf-8")
    assert load(config)["projects"][str(w.project)]["hasTrustDialogAccepted"] is True


def test_resuming_an_unknown_session_says_so(claude_bin: Path, tmp_path: Path) -> None:
    """What the transcript archive relies on: Claude Code names the id it cannot find."""
    home = tmp_path / "home"
    home.mkdir()
    missing = str(uuid.uuid4())
    result = subprocess.run(
        [str(claude_bin), "--resume", missing, "-p", "x"],
        env=claude_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"No conversation found with session ID: {missing}" in result.stdout + result.stderr
