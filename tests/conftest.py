"""Shared fixtures: real SQLite files in temp dirs and a real redis-server process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.app_helpers import demo_app  # noqa: F401  (the fixture, for every test module)
from tests.children import procs  # noqa: F401  (the fixture, for every test module)
from tests.cli_run import run_in_process
from tests.redis_proc import RedisProcess

ROOT = Path(__file__).resolve().parent.parent
HOOK_WORKER_OFF = {"CLAUDE_TUI_HOOK_WORKER": "0"}


def pytest_configure(config: pytest.Config) -> None:
    """Hooks run in-process unless a test asks for the warm worker (and then stops it)."""
    os.environ.update(HOOK_WORKER_OFF)


# The files that take longest (make test --durations, seconds of test time with three
# workers): run first, so that none of them is still running alone at the end while the
# other workers have nothing left (xdist --dist loadfile hands out files in this order).
LONGEST_FIRST = (
    "test_snapshots.py",  # 102 s
    "test_app_defects.py",  # 68 s
    "test_app.py",  # 65 s
    "test_app_features.py",  # 38 s
    "test_conversation.py",  # 31 s
    "test_sync_hosts.py",  # 26 s
    "test_screen_messages_data.py",  # 25 s
    "test_mcp.py",  # 20 s
    "test_search.py",  # 20 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the files longest first (LONGEST_FIRST), the rest as collected."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order


def plain_env() -> dict[str, str]:
    """This process's environment without claude-tui settings (the hook worker stays off)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_TUI_")}
    return {**env, **HOOK_WORKER_OFF}


def run_together(script: str, *args: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    """``python -c script args`` started ``n`` times at once (a race); each one's outcome."""
    started = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env=plain_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    done = []
    for proc in started:
        out, err = proc.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def processes() -> Iterator[tuple[int, list[bytes], Path]]:
    """(pid, command-line words, /proc entry) of every process still readable."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(entry.name), words, entry


def hook_workers_under(root: Path) -> list[int]:
    """Pids of hook workers whose data dir is under ``root``."""
    mark = str(root).encode()
    return [
        pid
        for pid, words, _ in processes()
        if b"claude_tui.hooks.worker" in words and any(mark in w for w in words)
    ]


@pytest.fixture(scope="session", autouse=True)
def no_hook_worker_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run when a test left a hook worker running (and stop it)."""
    yield
    import signal

    left = hook_workers_under(tmp_path_factory.getbasetemp())
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"hook workers left running: {left}"


def redis_servers_under(root: Path) -> list[int]:
    """Pids of redis-servers running in a dir under ``root`` and of their keepers."""
    found = []
    for pid, words, entry in processes():
        try:
            comm = (entry / "comm").read_text().strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        server = comm == "redis-server"  # its cmdline is rewritten as a title
        keeper = any(w.endswith(b"redis_watchdog.py") for w in words)
        if (server and cwd.startswith(str(root))) or (
            keeper and any(str(root).encode() in w for w in words)
        ):
            found.append(pid)
    return found


@pytest.fixture(scope="session", autouse=True)
def no_redis_server_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run when a test left a redis-server of its data dir running (and stop it).

    A private server ends by itself after an idle period, but a test must not
    leave it to that: it stops it (``redis_server.stop_private``) or deletes the
    data dir (the server's keeper then ends it at once).
    """
    yield
    import signal

    left = redis_servers_under(tmp_path_factory.getbasetemp())
    details = []
    for pid in left:
        try:
            details.append(f"{pid} in {os.readlink(f'/proc/{pid}/cwd')}")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"redis-servers left running: {details}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One real redis-server for the whole run (fails, never skips, when missing)."""
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for one test, which the test may kill and restart."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def config(data_dir: Path, redis_server: RedisProcess) -> Config:
    """A config on a temp data dir, using the shared test Redis (flushed per test)."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return Config.load(data_dir, env={}, redis_url=redis_server.url)


@pytest.fixture
def coordinator(config: Config) -> Iterator[MemoryCoordinator]:
    with MemoryCoordinator.open(config) as c:
        yield c


def cli_env(data_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = plain_env()
    env["CLAUDE_TUI_DATA_DIR"] = str(data_dir)
    if redis_url is None:
        env["CLAUDE_TUI_REDIS"] = "off"
    else:
        env["CLAUDE_TUI_REDIS_URL"] = redis_url
    return env


def run_cli(
    data_dir: Path,
    *args: str,
    redis_url: str | None = None,
    check: bool = False,
    isolated: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``claude-tui`` CLI: through ``main(argv)`` here, or in a child.

    ``isolated``: in a subprocess (``python -m claude_tui``), for tests where the
    process is the point; else in this process (``tests/cli_run.py``), which
    saves the interpreter start and the imports of each run.
    """
    if isolated:
        result = subprocess.run(
            [sys.executable, "-m", "claude_tui", *args],
            env=cli_env(data_dir, redis_url),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    else:
        result = run_in_process(args, cli_env(data_dir, redis_url))
    if check and result.returncode != 0:
        raise AssertionError(f"claude-tui {args} failed ({result.returncode}): {result.stderr}")
    return result
