"""The private redis-server's lifetime: idle exit, data dir deleted, one per dir, ``redis stop``.

Real redis-servers started the product's way (``redis_server.resolve``), real
processes opening the same data dir, real ``kill -9``. Waiting is on the
processes themselves (pidfds), never a sleep.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_tui.core.cache import redis_server as rs
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.conftest import ROOT, plain_env, redis_servers_under, run_together

pytestmark = pytest.mark.timeout(120)


def exits_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` exits within ``seconds`` (waits on a pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], seconds)
        return bool(ready)
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def server_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text().split()[0])


def keeper_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / rs.SERVER_LOCK).read_text().split()[0])


def config(data_dir: Path, idle: float = 600.0) -> Config:
    return Config.load(data_dir, env={"CLAUDE_TUI_REDIS_IDLE": repr(idle)})


@pytest.fixture
def stopped(tmp_path: Path) -> Iterator[list[Path]]:
    """Data dirs whose servers are stopped (killed) after the test, whatever happened."""
    dirs: list[Path] = []
    yield dirs
    for pid in redis_servers_under(tmp_path):
        os.kill(pid, signal.SIGKILL)


def test_it_ends_after_the_idle_period_and_not_while_a_client_is_connected(
    tmp_path: Path, stopped: list[Path]
) -> None:
    data = tmp_path / "d"
    with MemoryCoordinator.open(config(data, idle=0.4)) as c:
        assert c.redis_endpoint.private and c.backends()["redis"]["up"]
        s = c.sessions.create()
        c.memory.store("k", 1, session_id=s.id)
        pid, keeper = server_pid(data), keeper_pid(data)
        assert keeper != pid and alive(keeper)
        # A connected client (this coordinator's L2) keeps it: several idle periods pass.
        assert not exits_within(pid, 1.5)
        c.rt.l1.clear()
        assert c.memory.get("k", session_id=s.id).tier == "l2"
    # Closed: no client, so it ends one idle period later; the keeper with it.
    assert exits_within(pid, 10) and exits_within(keeper, 10)
    assert not (data / "redis" / "redis.sock").exists()  # a clean shutdown of its own files
    # The next process starts a fresh one.
    with MemoryCoordinator.open(config(data, idle=0.4)) as c:
        assert c.backends()["redis"]["up"]
        again, again_keeper = server_pid(data), keeper_pid(data)
        assert again != pid
    # The keeper outlives its server by a moment: wait on both.
    assert exits_within(again, 10) and exits_within(again_keeper, 10)
    assert redis_servers_under(tmp_path) == []


def test_a_deleted_data_dir_ends_it_at_once(tmp_path: Path, stopped: list[Path]) -> None:
    data = tmp_path / "d"
    env = {**plain_env(), "CLAUDE_TUI_DATA_DIR": str(data), "CLAUDE_TUI_REDIS_IDLE": "600"}
    run = subprocess.run(
        [sys.executable, "-m", "claude_tui", "memory", "store", "k", "v"],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    pid, keeper = server_pid(data), keeper_pid(data)
    assert alive(pid)
    # The data dir is deleted while the server runs: it ends at once (within a poll).
    shutil.rmtree(data)
    assert exits_within(pid, 10) and exits_within(keeper, 10)
    assert redis_servers_under(tmp_path) == []


def test_one_server_per_data_dir_and_a_replaced_dir_gets_its_own(
    tmp_path: Path, stopped: list[Path]
) -> None:
    data = tmp_path / "d"
    # Four processes open the fresh data dir at once: one server, found by all.
    script = (
        "import sys; from claude_tui.core.config import Config;"
        "from claude_tui.core.cache import redis_server as rs;"
        "e = rs.resolve(Config.load(sys.argv[1], env={})); print(e.url)"
    )
    urls = {d.stdout.strip() for d in run_together(script, str(data), n=4)}
    assert urls == {f"unix://{data / 'redis' / 'redis.sock'}"}
    running = redis_servers_under(data)
    servers = [p for p in running if Path(f"/proc/{p}/comm").read_text() == "redis-server\n"]
    assert servers == [server_pid(data)] and len(running) == 2  # one server, one keeper
    first = server_pid(data)

    # A server that is alive but does not answer (stopped) is never doubled.
    os.kill(first, signal.SIGSTOP)
    try:
        endpoint = rs.resolve(config(data))
        assert endpoint.url is None and "does not answer" in endpoint.reason
        assert server_pid(data) == first
    finally:
        os.kill(first, signal.SIGCONT)
    assert rs.resolve(config(data)).url is not None and server_pid(data) == first

    # The data dir is replaced (deleted, made again) while the old server still runs:
    # the new dir gets its own, and the old one's end never touches the new one's files.
    keeper = keeper_pid(data)
    os.kill(keeper, signal.SIGSTOP)  # hold the old keeper so both servers overlap
    shutil.rmtree(data)
    try:
        with MemoryCoordinator.open(config(data)) as c:
            assert c.backends()["redis"]["up"]
            second = server_pid(data)
            assert second != first and alive(first)
    finally:
        os.kill(keeper, signal.SIGCONT)
    assert exits_within(first, 10) and exits_within(keeper, 10)
    sock = data / "redis" / "redis.sock"
    assert sock.exists() and rs._ping(sock) and server_pid(data) == second
    assert rs.stop_private(config(data))
    assert not alive(second) and redis_servers_under(tmp_path) == []


def test_kill_9_of_the_keeper_or_the_server_leaves_nothing_running(
    tmp_path: Path, stopped: list[Path]
) -> None:
    data = tmp_path / "d"
    assert rs.resolve(config(data)).url
    pid, keeper = server_pid(data), keeper_pid(data)
    os.kill(keeper, signal.SIGKILL)
    assert exits_within(pid, 10)  # the server goes with its keeper
    endpoint = rs.resolve(config(data))  # its socket file is left: stale, replaced
    assert endpoint.url and server_pid(data) != pid
    pid, keeper = server_pid(data), keeper_pid(data)
    os.kill(pid, signal.SIGKILL)
    assert exits_within(keeper, 10)  # the keeper goes with its server
    assert redis_servers_under(tmp_path) == []


def test_redis_stop_stops_only_its_own(tmp_path: Path, stopped: list[Path]) -> None:
    # A long data dir path: the socket lives in the runtime dir under a hash of the
    # path, so a data dir made again at the same path finds the old server's socket.
    data = tmp_path / ("long-" * 20)
    sock = rs.socket_path_for(data)
    assert not str(sock).startswith(str(data))
    env = {**plain_env(), "CLAUDE_TUI_DATA_DIR": str(data)}

    def redis_stop() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "claude_tui", "redis", "stop"],
            env=env, capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip

    assert rs.resolve(config(data)).url == f"unix://{sock}"
    orphan, keeper = server_pid(data), keeper_pid(data)
    os.kill(keeper, signal.SIGSTOP)  # so the orphan outlives its data dir for a while
    try:
        shutil.rmtree(data)
        data.mkdir()
        (data / "redis").mkdir(mode=0o700)
        (data / "redis" / "redis.pid").write_text(f"{orphan}\n")  # even a pidfile naming it
        result = redis_stop()
        assert result.returncode == 1, result
        assert "not this data dir's" in result.stderr and "left running" in result.stderr
        assert result.stderr.count("\n") == 1
        assert alive(orphan) and rs._ping(sock)  # untouched
    finally:
        os.kill(keeper, signal.SIGCONT)
    assert exits_within(orphan, 10)  # its keeper sees the dir replaced and ends it
    shutil.rmtree(data)

    # Its own: stopped, and the command returns once server and keeper are gone.
    assert rs.resolve(config(data)).url
    pid, keeper = server_pid(data), keeper_pid(data)
    result = redis_stop()
    assert (result.returncode, result.stdout) == (0, "stopped\n"), result.stderr
    assert not alive(pid) and not alive(keeper)
    again = redis_stop()
    assert (again.returncode, again.stdout) == (0, "not running\n")
    # A pidfile that names another process: refused, nothing stopped.
    assert rs.resolve(config(data)).url
    pid = server_pid(data)
    (data / "redis" / "redis.pid").write_text(f"{os.getpid()}\n")
    result = redis_stop()
    assert result.returncode == 1 and "not this data dir's" in result.stderr
    assert alive(pid)
    (data / "redis" / "redis.pid").write_text(f"{pid}\n")
    assert redis_stop().stdout == "stopped\n" and not alive(pid)
