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
from tests.redis_proc import RedisProcess

ROOT = Path(__file__).resolve().parent.parent


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_TUI_")}
    env["CLAUDE_TUI_DATA_DIR"] = str(data_dir)
    if redis_url is None:
        env["CLAUDE_TUI_REDIS"] = "off"
    else:
        env["CLAUDE_TUI_REDIS_URL"] = redis_url
    return env


def run_cli(
    data_dir: Path, *args: str, redis_url: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real ``claude-tui`` CLI in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", *args],
        env=cli_env(data_dir, redis_url),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"claude-tui {args} failed ({result.returncode}): {result.stderr}")
    return result
