"""L2 on a real redis-server: hits, a server killed mid-run, its return, the private server."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from claude_tui.core.cache import redis_server as rs
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.conftest import ROOT, run_cli


def _config(data_dir, url, **kw):
    return Config.load(data_dir, env={}, redis_url=url, redis_retry_seconds=0.2, **kw)


def test_a_second_process_is_served_from_l2(coordinator):
    s = coordinator.sessions.create()
    coordinator.memory.store("k", {"v": 1}, session_id=s.id)
    with MemoryCoordinator.open(coordinator.config) as other:
        entry = other.memory.get("k", session_id=s.id)
        assert (entry.value, entry.tier) == ({"v": 1}, "l2")
        assert other.memory.get("k", session_id=s.id).tier == "l1"
        other.rt.l1.clear()
        assert other.memory.get("k", session_id=s.id).tier == "l2"


def test_killing_redis_mid_run_fails_nothing_and_loses_nothing(data_dir, own_redis):
    with MemoryCoordinator.open(_config(data_dir, own_redis.url)) as c:
        s = c.sessions.create()
        for i in range(50):
            c.memory.store(f"before-{i}", i, session_id=s.id)
        assert c.backends()["redis"]["up"]

        own_redis.kill()
        # Every read and write still works, served by L1 and SQLite.
        for i in range(50):
            c.memory.store(f"during-{i}", i, session_id=s.id)
            c.memory.store(f"before-{i}", i * 10, session_id=s.id)  # overwrite while down
        c.rt.l1.clear()
        for i in range(50):
            assert c.memory.get(f"before-{i}", session_id=s.id).value == i * 10
            assert c.memory.get(f"during-{i}", session_id=s.id).value == i
        assert c.memory.count(session_id=s.id) == 100
        assert c.memory.search("during", session_id=s.id, limit=1000)
        report = c.backends()["redis"]
        assert not report["up"] and report["reason"]

        own_redis.start()  # same port, empty: as after a crash
        # Probe now rather than wait out the tier's retry back-off (no sleep).
        assert c.rt.l2 is not None and c.rt.l2.ping()
        for i in range(50):
            c.memory.store(f"after-{i}", i, session_id=s.id)
        assert c.backends()["redis"]["up"]
        c.rt.l1.clear()
        # L2 is used again once it is back, with the latest values only.
        assert c.memory.get("after-0", session_id=s.id).tier == "l2"
        assert c.memory.get("before-3", session_id=s.id).value == 30
    conn = sqlite3.connect(data_dir / "claude-tui.db")
    assert conn.execute("SELECT count(*) FROM memory_entries").fetchone()[0] == 150


def test_writes_that_missed_redis_never_leave_a_stale_value_in_l2(data_dir, own_redis):
    """Process A caches v1 in L2; B rewrites the key while it cannot reach Redis; A reads v2."""
    with MemoryCoordinator.open(_config(data_dir, own_redis.url)) as a:
        s = a.sessions.create()
        a.memory.store("k", "v1", session_id=s.id)
        # B believes Redis is unreachable (a closed port), commits v2, and exits.
        blind = _config(data_dir, "redis://127.0.0.1:1/0")
        with MemoryCoordinator.open(blind) as b:
            b.memory.store("k", "v2", session_id=s.id)
        # A new process C, with no history of the change, must not trust L2's v1.
        with MemoryCoordinator.open(_config(data_dir, own_redis.url)) as c:
            assert c.memory.get("k", session_id=s.id).value == "v2"
        assert a.memory.get("k", session_id=s.id).value == "v2"
        a.rt.l1.clear()
        assert a.memory.get("k", session_id=s.id).value == "v2"


def test_no_redis_at_all_runs_on_l1_and_sqlite(data_dir):
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        c.memory.store("k", 1, session_id=s.id)
        c.rt.l1.clear()
        assert c.memory.get("k", session_id=s.id).tier == "sqlite"
        assert c.memory.get("k", session_id=s.id).tier == "l1"
        assert c.backends()["redis"] == {
            "up": False, "url": None, "private": False, "reason": "disabled by configuration",
        }  # fmt: skip


def test_private_server_is_started_in_the_data_dir_and_shared(tmp_path):
    data_dir = tmp_path / "d"
    config = Config.load(data_dir, env={})
    try:
        with MemoryCoordinator.open(config) as c:
            endpoint = c.redis_endpoint
            assert endpoint.private and endpoint.url.startswith("unix://")
            assert endpoint.socket_path == data_dir / "redis" / "redis.sock"
            assert oct(endpoint.socket_path.stat().st_mode & 0o777) == "0o700"
            s = c.sessions.create()
            c.memory.store("k", "from the parent", session_id=s.id)
        # A second process finds the same server rather than starting another.
        out = run_cli(data_dir, "doctor", "--json", check=True, redis_url=None)
        assert '"up": false' in out.stdout  # that run had Redis switched off ...
        env = {"CLAUDE_TUI_DATA_DIR": str(data_dir)}
        probe = subprocess.run(
            [sys.executable, "-c",
             "from claude_tui.core.config import Config;"
             "from claude_tui.core.coordinator import MemoryCoordinator;"
             "c = MemoryCoordinator.open(Config.load());"
             "print(c.redis_endpoint.url, c.backends()['redis']['up']); c.close()"],
            env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, cwd=ROOT,
            timeout=60,
        )  # fmt: skip
        assert probe.stdout.split() == [f"unix://{endpoint.socket_path}", "True"], probe.stderr
        pids = (data_dir / "redis" / "redis.pid").read_text().split()
        assert len(pids) == 1
    finally:
        assert rs.stop_private(config)
    assert not rs.stop_private(config)


def test_long_data_dir_paths_get_a_short_socket(tmp_path):
    deep = tmp_path / ("x" * 120)
    sock = rs.socket_path_for(deep)
    assert len(str(sock)) <= 100
    assert sock == rs.socket_path_for(deep)


def test_missing_redis_binary_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_TUI_REDIS_SERVER", str(tmp_path / "no-such-redis"))
    config = Config.load(tmp_path / "d", env={})
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        c.memory.store("k", 1, session_id=s.id)
        report = c.backends()["redis"]
        assert report["up"] is False and "redis-server" in report["reason"]
