"""One marker per way a secret can enter, then a search for every marker everywhere.

Markers go in through the Python API, the CLI (values on stdin and from files,
never on the command line), the MCP server and the Claude Code importer, with
sync on (a second Redis with AOF persistence as the swarm's server) and the
private L2 Redis on. Then every marker is looked for, byte for byte and in
gzip/zlib-decompressed form, in every file of the data dir (db, WAL, SHM,
backups, the Chroma index), in every checkpoint's snapshot, in the FTS index,
in every key and value of both Redis servers (streams read entry by entry),
in the sync server's AOF, in the logs, and in ``/proc/*/cmdline`` while the
commands run. Every value must still read back in clear for its owner.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.errors import BadInput
from claude_tui.core.importers.claude_code import ClaudeCodeImporter
from tests.conftest import ROOT, cli_env
from tests.redis_proc import RedisProcess
from tests.test_encryption import redis_values


def marker(name: str) -> str:
    """A unique lowercase alphanumeric core (FTS lowercases and splits on punctuation)."""
    return "zq" + name.replace("_", "") + "x7k2"


# Credential-shaped wrappers: the value rules catch these wherever they stand.
def anthropic(core: str) -> str:
    return f"sk-ant-api03-{core}AAAAAAAAAAAA"


def github(core: str) -> str:
    return "ghp_" + (core + "B" * 40)[:36]


CASES = [
    "nested1", "nested4", "inlist", "taskTitle", "taskPayload", "taskResult", "sessionName",
    "agentContext", "checkpointLabel", "patternInput", "metricMeta", "cliStdin", "cliFile",
    "cliTitle", "mcpNested", "importPrompt", "importCommand", "importOutput", "importTodo",
    "importTaskDesc", "keyAsCredential", "patternLearn",
]  # fmt: skip
M = {case: marker(case) for case in CASES}


class SyncRedis(RedisProcess):
    """The swarm's Redis, persisting to an AOF so its files can be searched too."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.extra_args = ["--appendonly", "yes", "--appendfsync", "always"]


@pytest.fixture
def sync_redis(tmp_path: Path) -> Iterator[SyncRedis]:
    workdir = tmp_path / "sync-redis"
    workdir.mkdir()
    server = SyncRedis(workdir)
    server.start()
    yield server
    server.stop()


def _transcript(folder: Path) -> Path:
    """A Claude Code session whose prompt, Bash command, tool output, todo and Task hold keys."""
    sid = "aaaaaaaa-2222-3333-4444-555555555555"
    base = {"sessionId": sid, "cwd": "/w", "version": "2.1.50", "gitBranch": "main"}
    lines: list[dict[str, Any]] = []

    def rec(i: int, kind: str, content: Any, **extra: Any) -> None:
        msg: dict[str, Any] = {"role": kind, "content": content}
        if kind == "assistant":
            msg |= {"id": f"m{i}", "model": "claude-x", "usage": {"input_tokens": 1}}
        stamp = f"2026-01-01T00:00:{i:02d}Z"
        lines.append(base | {"type": kind, "uuid": f"u{i}", "timestamp": stamp, "message": msg})
        lines[-1].update(extra)

    def use(i: int, name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "tool_use", "id": f"t{i}", "name": name, "input": data}]

    def res(i: int, text: str, error: bool = False) -> list[dict[str, Any]]:
        return [{"type": "tool_result", "tool_use_id": f"t{i}", "content": text, "is_error": error}]

    rec(1, "user", f"deploy with {anthropic(M['importPrompt'])} please")
    rec(2, "assistant", use(2, "Bash", {"command": f"export GH={github(M['importCommand'])}"}))
    rec(3, "user", res(2, f"AKIA1234567890ABCDEF and {anthropic(M['importOutput'])}", True))
    rec(4, "assistant", use(4, "Bash", {"command": "ls"}))
    rec(5, "user", res(4, "ok"))
    todos = [{"content": f"rotate {anthropic(M['importTodo'])}", "status": "pending",
              "activeForm": "rotating"}]  # fmt: skip
    rec(6, "assistant", use(6, "TodoWrite", {"todos": todos}))
    rec(7, "user", res(6, "todos updated"))
    task = {"subagent_type": "coder", "description": f"use {github(M['importTaskDesc'])}",
            "prompt": f"do it with {anthropic(M['importTaskDesc'])}"}  # fmt: skip
    rec(8, "assistant", use(8, "Task", task))
    rec(9, "user", res(8, "done"))
    folder.mkdir(parents=True)
    path = folder / f"{sid}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _all_cmdlines() -> str:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes().decode("utf-8", "replace"))
            except OSError:
                continue
    return "\n".join(out)


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; while it waits on stdin, no process's command line may hold a marker."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_tui", *args],
        env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen = _all_cmdlines()
    assert not [m for m in M.values() if m in seen], "a marker is on a command line"
    out, err = proc.communicate(stdin or "", timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _forms(data: bytes) -> list[bytes]:
    """The bytes as they are and, where they decompress, decompressed (gzip, zlib)."""
    forms = [data]
    for opener in (gzip.decompress, zlib.decompress):
        try:
            forms.append(opener(data))
        except Exception:  # not in that format: nothing to add
            continue
    return forms


def _hits(blobs: dict[str, bytes]) -> dict[str, list[str]]:
    """Which markers appear in which blob (markers compared lowercase, as FTS stores them)."""
    found: dict[str, list[str]] = {}
    for where, data in blobs.items():
        texts = [f.lower() for f in _forms(data)]
        for case, m in M.items():
            if any(m.lower().encode() in t for t in texts):
                found.setdefault(case, []).append(where)
    return found


def _redis_everything(url: str) -> bytes:
    client = redis.Redis.from_url(url)
    parts = redis_values(client)
    for key in client.scan_iter(count=1000):
        if client.type(key) == b"stream":
            for _, fields in client.xrange(key):
                for k, v in fields.items():
                    parts += [k, v]
    return b"\n".join(parts)


def test_no_marker_is_in_clear_anywhere_and_each_reads_back(
    tmp_path: Path, redis_server: RedisProcess, sync_redis: SyncRedis, caplog: Any
) -> None:
    redis.Redis.from_url(redis_server.url).flushall()
    data = tmp_path / "data"
    data.mkdir()
    config = Config.load(data, env={}, redis_url=redis_server.url, sync_url=sync_redis.url)
    env = cli_env(data, redis_server.url) | {
        "CLAUDE_TUI_SYNC_URL": sync_redis.url,
        "CLAUDE_TUI_DEBUG": "1",
    }
    stderr_text: list[str] = []
    caplog.set_level(logging.DEBUG)
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create(name=f"release {github(M['sessionName'])}")
        agent = c.agents.register(s.id, "coder", memory_context={"token": M["agentContext"]})
        # Memory: credential fields at depth 1 and 4 and inside a list.
        c.memory.store("cfg1", {"db": {"password": M["nested1"]}}, session_id=s.id)
        deep = {"a": {"b": {"c": {"aws": {"secret_access_key": M["nested4"]}}}}}
        c.memory.store("cfg4", deep, memory_type="shared")
        c.memory.store("servers", [{"host": "h", "auth": {"token": M["inlist"]}}], session_id=s.id)
        with pytest.raises(BadInput, match="key looks like a credential"):
            c.memory.store(github(M["keyAsCredential"]), "x", session_id=s.id)
        task = c.tasks.add(
            s.id,
            f"deploy with {anthropic(M['taskTitle'])}",
            payload={"api_key": M["taskPayload"]},
            agent_id=agent.id,
        )
        c.tasks.update(task.id, status="completed", result={"credentials": M["taskResult"]})
        c.patterns.add("decision", f"login using {anthropic(M['patternInput'])}", "worked")
        c.metrics.record("deploys", 1.0, metadata={"authorization": f"Bearer {M['metricMeta']}"})
        c.checkpoints.create(s.id, label=f"before {github(M['checkpointLabel'])}")
        ClaudeCodeImporter(c).run([_transcript(tmp_path / "projects" / "-w")])
        assert c.learning.reindex() >= 1  # the Chroma index embeds what the rows show
        if c.sync is not None:
            c.sync.flush()
        # The owner reads every value back in clear.
        assert c.memory.get("cfg1", session_id=s.id).value["db"]["password"] == M["nested1"]
        assert M["nested4"] in json.dumps(c.memory.get("cfg4").value)
        assert c.memory.get("servers", session_id=s.id).value[0]["auth"]["token"] == M["inlist"]
        shown = c.tasks.get(task.id, reveal=True)
        assert M["taskTitle"] in shown.title and shown.payload == {"api_key": M["taskPayload"]}
        assert shown.result == {"credentials": M["taskResult"]}
        assert M["taskTitle"] not in c.tasks.get(task.id).title  # redacted unless revealed
        assert M["sessionName"] in (c.sessions.get(s.id, reveal=True).name or "")
        assert c.agents.get(agent.id, reveal=True).memory_context == {"token": M["agentContext"]}
        [pattern] = [p for p in c.patterns.list() if p.sealed]
        assert M["patternInput"] in c.patterns.reveal(pattern).input_pattern
        imported = f"cc_{'aaaaaaaa-2222-3333-4444-555555555555'}"
        prompts = c.memory.list(session_id=imported, namespace="claude-code/prompts")
        assert any(M["importPrompt"] in json.dumps(e.value) for e in prompts)
        titles = [c.tasks.get(t.id, reveal=True).title for t in c.tasks.list(imported)]
        assert any(M["importTodo"] in t for t in titles)
        assert any(M["importTaskDesc"] in t for t in titles)
        BackupService(c.config, coordinator=c).run("full")

    # The CLI: values on stdin and from a file, never on a command line.
    secret_file = tmp_path / "value.json"
    secret_file.write_text(json.dumps({"deploy": {"password": M["cliFile"]}}))
    stored = _cli(env, "memory", "store", "fromstdin", "-", "--session", s.id,
                  stdin=json.dumps({"client_secret": M["cliStdin"]}))  # fmt: skip
    from_file = _cli(env, "memory", "store", "fromfile", f"@{secret_file}", "--session", s.id)
    titled = _cli(env, "task", "add", "-", "--session", s.id,
                  stdin=f"rotate {anthropic(M['cliTitle'])}")  # fmt: skip
    learned = _cli(env, "patterns", "learn", "--type", "decision", "--input", "-",
                   stdin=f"use {anthropic(M['patternLearn'])}")  # fmt: skip
    for result in (stored, from_file, titled, learned):
        stderr_text.append(result.stderr)
    assert stored.returncode == from_file.returncode == titled.returncode == 0, stderr_text
    assert learned.returncode == 2 and "never learned" in learned.stderr
    got = _cli(env, "memory", "get", "fromstdin", "--session", s.id)
    assert json.loads(got.stdout) == {"client_secret": M["cliStdin"]}
    secret_file.unlink()

    # MCP: a nested credential stored by an agent over the protocol.
    mcp = _mcp_store(env, s.id, {"service": {"auth": {"token": M["mcpNested"]}}})
    assert mcp.returncode == 0, mcp.stderr
    stderr_text.append(mcp.stderr)

    with MemoryCoordinator.open(Config.load(data, env={}, redis_url=redis_server.url)) as c:
        entry = c.memory.get("mcp_cfg", session_id=s.id)
        assert entry is not None and entry.value["service"]["auth"]["token"] == M["mcpNested"]
        blobs_sql = {
            f"checkpoint {cid}": zlib.decompress(bytes(blob))
            for cid, blob in c.store.rows("SELECT id, data FROM checkpoints")
        }
        fts = c.store.rows("SELECT key, value FROM memory_fts")
        blobs_sql["fts"] = json.dumps(fts).encode()
        blobs_sql["sync_state"] = json.dumps(c.store.rows("SELECT * FROM sync_state")).encode()
        blobs_sql["import ledger"] = json.dumps(
            c.store.rows("SELECT * FROM import_sessions")
        ).encode()
        assert blobs_sql["checkpoint " + c.checkpoints.list(s.id)[0].id]  # there is one to read
        c.store.write(lambda conn: None)

    blobs: dict[str, bytes] = {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name != "value.json" and "projects" not in p.parts
    }
    assert any(name.endswith("claude-tui.db") for name in blobs)
    assert any("chroma" in name for name in blobs), "the pattern index was searched"
    assert any("backups" in name for name in blobs), "a backup was searched"
    assert any("appendonly" in name for name in blobs), "the sync server's AOF was searched"
    blobs.update(blobs_sql)
    blobs["private redis"] = _redis_everything(redis_server.url)
    blobs["sync redis"] = _redis_everything(sync_redis.url)
    blobs["logs"] = (caplog.text + "\n".join(stderr_text)).encode()
    sync_client = redis.Redis.from_url(sync_redis.url)
    streams = [
        k for k in sync_client.scan_iter(match="*:events") if sync_client.type(k) == b"stream"
    ]
    assert streams and sync_client.xlen(streams[0]) >= 5, "the sync stream was searched"
    assert _hits(blobs) == {}


def _mcp_store(env: dict[str, str], session: str, value: Any) -> subprocess.CompletedProcess[str]:
    """Store one entry through the real MCP server (stdio, the mcp SDK's client)."""
    script = f"""
import asyncio, json, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    params = StdioServerParameters(command=sys.executable,
        args=["-m", "claude_tui", "mcp", "--session", {session!r}], env={env!r}, cwd={str(ROOT)!r})
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        value = json.loads(sys.stdin.read())
        res = await s.call_tool("memory_store", {{"key": "mcp_cfg", "value": value}})
        assert not res.is_error, res.content
asyncio.run(main())
"""
    return subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(value), capture_output=True,
        text=True, timeout=120, env=os.environ | {"PYTHONPATH": str(ROOT)}, cwd=ROOT,
    )  # fmt: skip
