"""The warm hook worker and the hook client, as Claude Code runs them (real processes).

The installed hook command is ``python -I -S …/hooks/client.py --data-dir DIR EVENT``;
it hands the payload to the data dir's worker, or does the work itself (and starts
a worker) when none answers. Each test starts the worker it needs and stops it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.integrations.claude_code_settings import hook_command
from claude_tui.hooks import status, worker
from tests.conftest import ROOT, hook_workers_under, plain_env, run_together
from tests.test_hooks import SID, payloads


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    (folder / ".git").mkdir(parents=True)
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    return folder


def env_on(**extra: str) -> dict[str, str]:
    return {**plain_env(), "CLAUDE_TUI_HOOK_WORKER": "1", **extra}


class Running:
    """A worker started by a test, waited for on its "ready" line, stopped at the end."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claude_tui.hooks.worker", "--data-dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_on(**env), cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert line == f"ready {self.proc.pid}\n", (
            line,
            self.proc.stderr.read() if not line else "",
        )

    def stop(self) -> None:
        worker.stop(str(self.data))
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def running(data: Path) -> Iterator[Running]:
    w = Running(data)
    try:
        yield w
    finally:
        w.stop()


def fire(data: Path, event: str, payload: Any, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command, run as Claude Code runs it (its shell words, payload on stdin)."""
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    result = subprocess.run(
        shlex.split(hook_command(sys.executable, str(data), event)),
        input=raw, capture_output=True, text=True, timeout=60, env=env_on(**env), cwd=ROOT,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result
    return result


def served(data: Path) -> int:
    found = worker.info(str(data))
    assert found is not None, "no worker runs"
    return found["served"]


def tool_count(data: Path) -> int:
    with sqlite3.connect(data / "claude-tui.db") as conn:
        return int(
            conn.execute("SELECT count(*) FROM metrics WHERE metric_type = 'hook.tool'").fetchone()[
                0
            ]
        )


def test_the_worker_answers_the_installed_hooks(
    running: Running, data: Path, project: Path
) -> None:
    p = payloads(project)
    fire(data, "SessionStart", p["SessionStart"])
    fire(data, "PostToolUse", p["PostToolUse"])
    fire(data, "PostToolUse", p["PostToolUse"])  # a replay: written once
    fire(data, "SessionEnd", p["SessionEnd"])
    assert served(data) == 4
    assert tool_count(data) == 1
    events = status.summary(data)["events"]
    assert events["SessionStart"]["fired"] == 1 and events["PostToolUse"]["fired"] == 2
    assert status.summary(data)["failed"] == 0


def test_the_worker_gives_the_same_context_as_the_in_process_hook(
    data: Path, project: Path, tmp_path: Path
) -> None:
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator

    p = payloads(project)
    fire(data, "SessionStart", p["SessionStart"], CLAUDE_TUI_HOOK_WORKER="0")
    with MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False)) as c:
        c.memory.store("decision", "the tokenizer keeps unicode identifiers whole",
                       session_id=SID, memory_type="persistent")  # fmt: skip
    second = {**p["UserPromptSubmit"], "session_id": "6c9e3f5a-2d4b-4f7c-8e1a-1b2c3d4e5f60",
              "prompt_id": "p2"}  # fmt: skip
    alone = fire(data, "UserPromptSubmit", second, CLAUDE_TUI_HOOK_WORKER="0").stdout
    w = Running(data)
    try:
        third = {**second, "session_id": "7d0f4a6b-3e5c-4a8d-9f2b-2c3d4e5f6a71", "prompt_id": "p3"}
        warm = fire(data, "UserPromptSubmit", third).stdout
        assert served(data) == 1
    finally:
        w.stop()
    assert "unicode identifiers whole" in alone
    assert (
        json.loads(warm)["hookSpecificOutput"]["additionalContext"]
        == json.loads(alone)["hookSpecificOutput"]["additionalContext"]
    )


def test_no_worker_the_hook_does_it_itself_and_starts_one(data: Path, project: Path) -> None:
    p = payloads(project)
    try:
        fire(data, "PostToolUse", p["PostToolUse"])
        assert tool_count(data) == 1  # written by the hook process, not waiting for a worker
        # The worker it started comes up in the background; wait on its lock.
        pid = wait_for_worker(data)
        assert pid in hook_workers_under(data)
    finally:
        worker.stop(str(data))
    assert worker.pid_of(str(data)) is None
    assert not hook_workers_under(data)


def wait_for_worker(data: Path) -> int:
    """Block until the spawned worker listens (its socket accepts), by connecting."""
    import time

    sock_path = data / "hooks" / "worker.sock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the condition itself, polled; never a fixed sleep
        pid = worker.pid_of(str(data))
        if pid is not None and sock_path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(sock_path))
                return pid
            except OSError:
                pass
            finally:
                probe.close()
        os.sched_yield()
    raise AssertionError("the hook did not start a worker")


def test_a_killed_worker_loses_nothing(running: Running, data: Path, project: Path) -> None:
    p = payloads(project)
    fire(data, "SessionStart", p["SessionStart"])
    os.kill(running.proc.pid, signal.SIGKILL)
    running.proc.wait(timeout=10)
    assert (data / "hooks" / "worker.sock").exists()  # left behind by the kill
    try:
        fire(data, "PostToolUse", p["PostToolUse"])  # refused connection: done in-process
        assert tool_count(data) == 1
        wait_for_worker(data)  # a new worker took the stale socket over
        fire(data, "PostToolUseFailure", p["PostToolUseFailure"])
        assert tool_count(data) == 2 and served(data) == 1
    finally:
        worker.stop(str(data))
    assert status.summary(data)["failed"] == 0


def test_a_worker_stops_for_a_changed_config_and_the_hook_uses_the_new_one(
    running: Running, data: Path, project: Path
) -> None:
    p = payloads(project)
    fire(data, "SessionStart", p["SessionStart"])
    (data / "config.toml").write_text("[recall]\nenabled = false\n")
    fire(data, "PostToolUse", p["PostToolUse"])
    running.proc.wait(timeout=10)  # it answered FALLBACK and exited
    assert tool_count(data) == 1
    assert worker.pid_of(str(data)) is None  # the next hook starts a new one, not this one


def test_one_worker_per_data_dir(running: Running, data: Path) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "claude_tui.hooks.worker", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, env=env_on(), cwd=ROOT,
    )  # fmt: skip
    assert (second.returncode, second.stdout) == (0, "")
    assert worker.pid_of(str(data)) == running.proc.pid


def test_garbage_on_the_socket_is_dropped_and_the_worker_goes_on(
    running: Running, data: Path, project: Path
) -> None:
    for junk in (b"", b"GET / HTTP/1.1\r\n\r\n", b"CTH1 PostToolUse 99999999999\n", b"\xff" * 5000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(data / "hooks" / "worker.sock"))
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""
        s.close()
    fire(data, "PostToolUse", payloads(project)["PostToolUse"])
    assert tool_count(data) == 1 and served(data) == 1


def test_bad_payloads_through_the_worker_fail_open_and_are_counted(
    running: Running, data: Path
) -> None:
    for raw in ("", "not json", "[1, 2]", json.dumps({"session_id": "../x", "cwd": "/"})):
        result = fire(data, "UserPromptSubmit", raw)
        assert result.stdout == ""
    assert status.summary(data)["events"]["UserPromptSubmit"]["failed"] == 4
    assert served(data) == 4


def test_a_data_dir_path_longer_than_a_socket_path_works(tmp_path: Path, project: Path) -> None:
    data = tmp_path.joinpath(*["a-rather-long-folder-name"] * 5, "data")
    data.mkdir(parents=True, mode=0o700)
    assert len(str(data / "hooks" / "worker.sock")) > 108
    w = Running(data)
    try:
        fire(data, "PostToolUse", payloads(project)["PostToolUse"])
        assert served(data) == 1
    finally:
        w.stop()


def test_the_worker_exits_when_idle(data: Path) -> None:
    w = Running(data, CLAUDE_TUI_HOOK_WORKER_IDLE="0.2")
    assert w.proc.wait(timeout=30) == 0  # nothing to wait for but its own idle timer
    w.stop()
    assert not (data / "hooks" / "worker.sock").exists()


def test_first_opens_racing_on_a_new_data_dir_all_succeed(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    script = (
        "import sys\n"
        "from claude_tui.core.config import Config\n"
        "from claude_tui.core.coordinator import MemoryCoordinator\n"
        "with MemoryCoordinator.open(Config.load(sys.argv[1], env={}, redis_enabled=False)):\n"
        "    pass\n"
    )
    done = run_together(script, str(data), n=6)
    assert [d.returncode for d in done] == [0] * 6, [d.stderr for d in done]


def test_doctor_names_the_running_worker(running: Running, data: Path, project: Path) -> None:
    fire(data, "PostToolUse", payloads(project)["PostToolUse"])
    env = {**env_on(), "CLAUDE_TUI_DATA_DIR": str(data), "CLAUDE_TUI_REDIS": "off"}
    shown = subprocess.run(
        [sys.executable, "-m", "claude_tui", "doctor", "--json"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    hooks = json.loads(shown.stdout)["hooks"]
    assert hooks["worker"]["pid"] == running.proc.pid and hooks["worker"]["served"] == 1
    text = subprocess.run(
        [sys.executable, "-m", "claude_tui", "doctor"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    ).stdout  # fmt: skip
    assert f"warm worker pid {running.proc.pid} (1 hook served)" in text, text


def test_a_worker_killed_with_a_request_in_hand_loses_nothing(
    running: Running, data: Path, project: Path
) -> None:
    p = payloads(project)
    fire(data, "SessionStart", p["SessionStart"])
    os.kill(running.proc.pid, signal.SIGSTOP)  # hung: it accepts nothing from here on
    hook = subprocess.Popen(
        shlex.split(hook_command(sys.executable, str(data), "PostToolUse")),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env_on(), cwd=ROOT,
    )  # fmt: skip
    assert hook.stdin is not None
    hook.stdin.write(json.dumps(p["PostToolUse"]))
    hook.stdin.close()
    os.kill(running.proc.pid, signal.SIGKILL)  # with the request queued or in hand
    running.proc.wait(timeout=10)
    try:
        assert hook.wait(timeout=60) == 0
        assert hook.stdout is not None and hook.stdout.read() == ""
        assert tool_count(data) == 1  # done by the hook itself, once
        wait_for_worker(data)  # the one the hook started for the next hooks
    finally:
        assert hook.stdout is not None and hook.stderr is not None
        hook.stdout.close()
        hook.stderr.close()
        worker.stop(str(data))  # the worker the fallback started
    assert status.summary(data)["failed"] == 0


@pytest.mark.parametrize("xdg", [None, "", "/srv/xdg data"])
def test_the_clients_default_data_dir_is_the_configs(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from claude_tui.core.config import default_data_dir
    from claude_tui.hooks.client import default_data_dir as client_default

    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert client_default() == str(default_data_dir())
