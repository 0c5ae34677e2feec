"""Short-lived processes: what one-shot commands import, the L2 client, the open check's stamp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from claude_tui.core.cache import redis_server as rs
from claude_tui.core.cache import resp
from claude_tui.core.cache.l2 import RedisTier
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability import integrity
from claude_tui.core.errors import StoreCorrupt
from tests.conftest import ROOT
from tests.redis_proc import RedisProcess

HEAVY = ("redis", "sqlite_utils", "numpy", "cryptography", "textual", "chromadb", "socket")


# -- what a one-shot command loads ------------------------------------------------------


def test_memory_get_imports_nothing_heavy_with_the_private_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"  # short: the private server's socket lives in it
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_TUI_")}
    env["CLAUDE_TUI_DATA_DIR"] = str(data_dir)
    script = f"""
import sys
from claude_tui.cli.main import main
code = main(sys.argv[1:])
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
print(code, heavy)
"""
    try:
        for argv in (["memory", "store", "k", '{"v": 1}'], ["memory", "get", "k"]):
            out = subprocess.run(
                [sys.executable, "-c", script, *argv], env=env, cwd=ROOT, capture_output=True,
                text=True, timeout=60, check=True,
            )  # fmt: skip
            assert out.stdout.strip().splitlines()[-1] == "0 []", out.stderr
        with MemoryCoordinator.open(Config.load(data_dir, env={})) as c:
            assert c.redis_endpoint.private and c.redis_endpoint.url  # it was L2 all along
            entry = c.memory.get("k")
            assert entry is not None and entry.tier == "l2"
    finally:
        rs.stop_private(Config.load(data_dir, env={}))


def test_the_sqlite_utils_view_is_made_on_first_use(data_dir: Path) -> None:
    with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False)) as c:
        assert c.store._db is None
        assert "memory_entries" in c.store.db.table_names()
        assert c.store.db is c.store.db


# -- the small Redis client ---------------------------------------------------------------


def test_the_small_client_answers_as_redis_py(redis_server: RedisProcess) -> None:
    reference = redis.Redis.from_url(redis_server.url)
    reference.flushall()
    client = resp.connect(redis_server.url, timeout=1.0)
    assert client is not None
    try:
        assert client.ping() is True
        assert client.set("a", "é|1") is True and client.set("b", b"\x00\xff", ex=60) is True
        assert client.get("a") == reference.get("a") == "é|1".encode()
        assert client.mget(["a", "missing", "b"]) == [b"\xc3\xa9|1", None, b"\x00\xff"]
        assert 0 < reference.ttl("b") <= 60
        script = client.register_script("return {KEYS[1], ARGV[1], 7}")
        assert script(keys=["k"], args=[12]) == [b"k", b"12", 7]
        reference.script_flush()  # NOSCRIPT: loaded again by EVAL
        assert script(keys=["k"], args=["x"]) == [b"k", b"x", 7]
        assert client.publish("nobody-listens", "m") == 0
        assert client.delete("a", "b", "missing") == 2
        assert client.info("server")["redis_version"] == reference.info("server")["redis_version"]
        with pytest.raises(resp.ResponseError):
            client.execute("NO-SUCH-COMMAND")
        assert client.ping()  # an error reply leaves the connection usable
    finally:
        client.close()
        reference.close()


def test_the_small_client_authenticates_and_selects_the_database(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.extra_args = ["--requirepass", "s3cret:@/"]
    server.start()
    try:
        base = f"127.0.0.1:{server.port}"
        for url in (f"redis://:s3cret%3A%40%2F@{base}/3", f"redis://default:s3cret%3A%40%2F@{base}/3",
                    f"redis://:s3cret%3A%40%2F@{base}?db=3"):  # fmt: skip
            client = resp.connect(url, timeout=1.0)
            assert client is not None
            assert client.set("here", url) is True
            client.close()
            seen = redis.Redis(port=server.port, password="s3cret:@/", db=3).get("here")
            assert seen == url.encode()
        wrong = resp.connect(f"redis://:nope@{base}/0", timeout=1.0)
        assert wrong is not None
        with pytest.raises(resp.ResponseError):
            wrong.ping()
        tier = RedisTier(f"redis://:nope@{base}/0", "db", timeout=0.5)
        assert tier.ping() is False and "WRONGPASS" in str(tier.last_error)
    finally:
        server.stop()


def test_the_small_client_comes_back_after_a_restart(own_redis: RedisProcess) -> None:
    client = resp.connect(own_redis.url, timeout=1.0)
    assert client is not None
    assert client.ping()
    own_redis.kill()
    with pytest.raises((resp.RespError, OSError)):
        client.ping()
    own_redis.start()
    assert client.ping()  # a new connection, without anyone asking
    assert client.set("k", 1) and client.ping()  # and the idle one is reused
    own_redis.kill()
    own_redis.start()
    assert client.get("k") is None  # the pooled connection was dropped: sent again, anew
    client.close()


@pytest.mark.parametrize(
    "url",
    ["rediss://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0?ssl_cert_reqs=none",
     "redis://127.0.0.1/x", "unix://", "http://127.0.0.1/"],
)  # fmt: skip
def test_urls_the_small_client_leaves_to_redis_py(url: str) -> None:
    assert resp.parse_url(url) is None


def test_the_tier_uses_the_small_client_and_redis_py_only_for_pubsub(
    redis_server: RedisProcess,
) -> None:
    tier = RedisTier(redis_server.url, "dbid", timeout=1.0)
    try:
        assert isinstance(tier.client, resp.Client)
        assert tier.put("ck", 5, "payload", 60_000) and tier.put("ck", 4, "older", 60_000)
        assert tier.get_many(["ck", "none"]) == {"ck": (5, "payload")}
        pubsub = tier.subscribe()
        assert pubsub is not None
        pubsub.close()
    finally:
        tier.close()
    assert isinstance(RedisTier("rediss://127.0.0.1:1/0", "d").client, redis.Redis)


# -- the open check and its stamp -----------------------------------------------------


def _quick_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each ``PRAGMA quick_check`` the integrity checks run."""
    ran: list[str] = []
    real = integrity._pragma_problem

    def counting(conn: Any, pragma: str) -> str | None:
        ran.append(pragma)
        return real(conn, pragma)

    monkeypatch.setattr(integrity, "_pragma_problem", counting)
    return ran


def _fill(config: Config, n: int = 300) -> None:
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        for i in range(n):  # past 1,000 WAL pages: checkpoints inside commits too
            c.memory.store(f"key-{i}", "x" * 300, session_id=s.id)


def _garble(db: Path) -> None:
    size = db.stat().st_size
    with db.open("r+b") as handle:
        for page in range(size // 4096 // 3, size // 4096 // 3 + 4):
            handle.seek(page * 4096)
            handle.write(b"\xa5" * 4096)


@pytest.fixture(params=["fine", "coarse"])
def timestamps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with this kernel's timestamps, and as if they were a coarse clock's."""
    if request.param == "coarse":
        monkeypatch.setattr(integrity, "_fine_timestamps", lambda directory: False)
    return str(request.param)


def test_an_unchanged_file_is_not_read_again_at_open(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, timestamps: str
) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    _fill(config)
    ran = _quick_checks(monkeypatch)
    for _ in range(3):  # each reads and writes (access counts): the stamp follows them
        with MemoryCoordinator.open(config) as c:
            [s] = c.sessions.list()
            entry = c.memory.get("key-7", session_id=s.id)
            assert entry is not None and entry.value == "x" * 300
    assert ran == []
    assert integrity.stamp_path(config.db_path).stat().st_mode & 0o077 == 0
    import sqlite3

    conn = sqlite3.connect(config.db_path)
    try:
        found, known = integrity.open_check(config.db_path, conn)
    finally:
        conn.close()
    assert (found.ok, found.level, known.known is not None) == (True, "unchanged", True)


def test_damage_right_after_a_clean_close_is_found_at_the_next_open(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, timestamps: str
) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    _fill(config)
    stamp = integrity.read_stamp(config.db_path)
    assert stamp is not None and stamp.state == integrity.file_state(config.db_path)
    _garble(config.db_path)  # same size, at once: only the file's times tell
    with pytest.raises(StoreCorrupt):
        MemoryCoordinator.open(config)


def test_damage_with_its_mtime_put_back_is_found_too(data_dir: Path) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    _fill(config)
    before = os.stat(config.db_path)
    _garble(config.db_path)
    os.utime(config.db_path, ns=(before.st_atime_ns, before.st_mtime_ns))  # ctime moves on
    with pytest.raises(StoreCorrupt):
        MemoryCoordinator.open(config)


def test_an_old_stamp_or_a_replaced_file_is_checked_again(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    _fill(config)
    ran = _quick_checks(monkeypatch)
    monkeypatch.setattr(integrity, "STAMP_MAX_AGE_SECONDS", 0.0)
    MemoryCoordinator.open(config).close()
    assert ran == ["quick_check"]  # and stamped anew, with the time of this check
    monkeypatch.undo()
    ran = _quick_checks(monkeypatch)
    MemoryCoordinator.open(config).close()
    assert ran == []
    copy = config.db_path.with_name("copy.db")
    copy.write_bytes(config.db_path.read_bytes())
    os.replace(copy, config.db_path)  # another inode (as a restore, or a sync tool)
    MemoryCoordinator.open(config).close()
    assert ran == ["quick_check"]


def test_a_change_no_claude_tui_process_followed_is_checked(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    config = Config.load(data_dir, env={}, redis_enabled=False)
    _fill(config)
    conn = sqlite3.connect(config.db_path)  # another program, through SQLite even
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("UPDATE memory_entries SET access_count = 9 WHERE key = 'key-1'")
    conn.commit()
    conn.close()  # the last connection: checkpoints into the file
    ran = _quick_checks(monkeypatch)
    MemoryCoordinator.open(config).close()
    assert ran == ["quick_check"]
