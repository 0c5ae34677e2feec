"""Secrets: sealed before SQLite, never in Redis or the index in clear, keys that rotate."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
import redis

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.rotation import rotate_keys
from claude_tui.core.errors import SecretUnavailable
from claude_tui.core.services.memory import LOCKED_VALUE
from tests.conftest import ROOT, cli_env, run_cli

SECRET = "sk-ant-api03-" + "Q7x" * 12  # looks like an Anthropic key
PASSWORD = "correct horse battery staple"


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes hold ``needle``."""
    hits = []
    raw = needle.encode()
    for path in root.rglob("*"):
        if path.is_file() and raw in path.read_bytes():
            hits.append(path)
    return hits


@pytest.fixture
def secrets_stored(coordinator: MemoryCoordinator) -> dict[str, Any]:
    s = coordinator.sessions.create(name="s")
    coordinator.memory.store("anthropic", SECRET, session_id=s.id)  # judged by its value
    coordinator.memory.store("db_password", PASSWORD, session_id=s.id)  # judged by its name
    coordinator.memory.store("plain", "nothing to hide", session_id=s.id)
    return {"s": s.id}


def test_secrets_are_sealed_everywhere_they_rest(
    coordinator: MemoryCoordinator,
    config: Config,
    secrets_stored: dict[str, Any],
    redis_server: Any,
) -> None:
    sid = secrets_stored["s"]
    assert coordinator.memory.get("anthropic", session_id=sid).value == SECRET
    assert coordinator.memory.get("db_password", session_id=sid).value == PASSWORD
    rows = dict(coordinator.store.rows("SELECT key, encrypted FROM memory_entries"))
    assert rows == {"anthropic": 1, "db_password": 1, "plain": 0}
    key_mode = stat.S_IMODE(config.key_path.stat().st_mode)
    assert key_mode == 0o600
    # A checkpoint keeps the sealed form.
    coordinator.checkpoints.create(sid)
    blob = coordinator.store.scalar("SELECT data FROM checkpoints")
    assert SECRET.encode() not in zlib.decompress(blob)
    # Not in the database file, its WAL, the FTS index, or Redis.
    coordinator.store.write(lambda conn: None)
    assert files_containing(config.data_dir, SECRET) == []
    assert files_containing(config.data_dir, PASSWORD) == []
    assert coordinator.memory.search("horse", session_id=sid) == []
    assert coordinator.memory.get("plain", session_id=sid).value == "nothing to hide"
    redis_text = b"".join(redis_values(redis.Redis.from_url(redis_server.url)))
    assert b"nothing to hide" in redis_text  # the check sees what Redis holds
    assert SECRET.encode() not in redis_text and PASSWORD.encode() not in redis_text


def redis_values(client: redis.Redis) -> list[bytes]:
    """Every key and value Redis holds, read by type (DUMP may compress)."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == "list":
            out += client.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            out += list(client.smembers(key) if kind == "set" else client.zrange(key, 0, -1))
        else:
            out.append(client.dump(key) or b"")
    return out


def test_missing_key_is_a_clear_error_and_other_data_stays_readable(
    config: Config, secrets_stored: dict[str, Any], coordinator: MemoryCoordinator
) -> None:
    sid = secrets_stored["s"]
    coordinator.close()
    stored = dict(sqlite3.connect(config.db_path).execute("SELECT key, value FROM memory_entries"))
    config.key_path.rename(config.key_path.with_name("elsewhere.key"))
    with MemoryCoordinator.open(config) as c:
        with pytest.raises(SecretUnavailable, match=r"no key was found.*secret\.key"):
            c.memory.get("anthropic", session_id=sid)
        assert c.memory.get("plain", session_id=sid).value == "nothing to hide"
        listed = {e.key: e.value for e in c.memory.list(session_id=sid)}
        assert listed == {"anthropic": LOCKED_VALUE, "db_password": LOCKED_VALUE,
                          "plain": "nothing to hide"}  # fmt: skip
        with pytest.raises(SecretUnavailable):
            c.memory.store("new_token", "x", session_id=sid)  # never sealed with a new key
        assert c.memory.get("new_token", session_id=sid, memory_type="persistent") is None
    assert not config.key_path.exists()  # no new key was made behind the user's back
    after = dict(sqlite3.connect(config.db_path).execute("SELECT key, value FROM memory_entries"))
    assert after == stored
    result = run_cli(config.data_dir, "memory", "get", "anthropic", "--session", sid)
    assert result.returncode == 2
    assert "no key was found" in result.stderr and result.stderr.count("\n") == 1
    config.key_path.with_name("elsewhere.key").rename(config.key_path)
    with MemoryCoordinator.open(config) as c:
        assert c.memory.get("anthropic", session_id=sid).value == SECRET


def test_wrong_key_is_refused_before_anything_is_written(
    config: Config, secrets_stored: dict[str, Any], coordinator: MemoryCoordinator
) -> None:
    from cryptography.fernet import Fernet

    sid = secrets_stored["s"]
    coordinator.close()
    right = config.key_path.read_bytes()
    config.key_path.write_bytes(Fernet.generate_key() + b"\n")
    with MemoryCoordinator.open(config) as c:
        with pytest.raises(SecretUnavailable, match="does not open this database"):
            c.memory.get("db_password", session_id=sid)
        with pytest.raises(SecretUnavailable, match="does not open this database"):
            c.memory.store("other_password", "y", session_id=sid)
    config.key_path.write_bytes(right)
    with MemoryCoordinator.open(config) as c:
        assert c.memory.get("db_password", session_id=sid).value == PASSWORD
        assert c.memory.get("other_password", session_id=sid) is None


def test_key_from_the_environment(data_dir: Path) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    config = Config.load(data_dir, env={"CLAUDE_TUI_ENCRYPTION_KEY": key}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        s = c.sessions.create()
        c.memory.store("token", "t0k3n", session_id=s.id)
        sealed = c.store.scalar("SELECT value FROM memory_entries")
    assert not config.key_path.exists()
    assert Fernet(key.encode()).decrypt(sealed.encode()) == b'"t0k3n"'
    bad = Config.load(data_dir, env={"CLAUDE_TUI_ENCRYPTION_KEY": "not-a-key"})
    result = run_cli(data_dir, "memory", "get", "token", "--session", s.id)
    assert result.returncode == 2  # no key in this environment: a sentence, not a traceback
    with MemoryCoordinator.open(bad, use_redis=False) as c, pytest.raises(SecretUnavailable):
        c.memory.get("token", session_id=s.id)


def test_secrets_stored_in_clear_before_are_sealed_at_open(data_dir: Path) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        s = c.sessions.create()
    conn = sqlite3.connect(config.db_path)
    conn.execute(
        "INSERT INTO memory_entries (session_id, memory_type, key, value, created_at, scope, "
        "sensitive) VALUES (?, 'persistent', 'old_token', ?, 0, ?, 1)",
        (s.id, f'"{SECRET}"', f"{s.id}/"),
    )
    conn.commit()
    conn.close()
    with MemoryCoordinator.open(config, use_redis=False) as c:
        assert c.store.rows("SELECT encrypted FROM memory_entries") == [(1,)]
        assert c.memory.get("old_token", session_id=s.id).value == SECRET
    assert files_containing(data_dir, SECRET) == []


def test_rotation_re_encrypts_everything(
    config: Config, secrets_stored: dict[str, Any], coordinator: MemoryCoordinator
) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    sid = secrets_stored["s"]
    coordinator.checkpoints.create(sid)
    old_key = config.key_path.read_bytes().strip()
    before = coordinator.store.scalar("SELECT value FROM memory_entries WHERE key = 'anthropic'")
    report = rotate_keys(coordinator, drop_old=True)
    assert (report.values, report.checkpoints, report.old_keys_kept) == (2, 1, 0)
    assert not report.resumed
    new_key = config.key_path.read_bytes().strip()
    assert new_key != old_key and b"\n" not in new_key
    after = coordinator.store.scalar("SELECT value FROM memory_entries WHERE key = 'anthropic'")
    assert after != before
    assert Fernet(new_key).decrypt(after.encode()) == f'"{SECRET}"'.encode()
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(after.encode())
    coordinator.close()
    with MemoryCoordinator.open(config) as c:  # the new key alone opens values and checkpoints
        assert c.memory.get("anthropic", session_id=sid).value == SECRET
        c.memory.store("anthropic", "sk-ant-" + "z" * 30, session_id=sid)
        c.checkpoints.restore(sid)
        assert c.memory.get("anthropic", session_id=sid).value == SECRET


ROTATE_AND_DIE = """
import os, signal, sys
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.rotation import rotate_keys

def progress(what, done):
    if what == "values" and done >= 400:
        os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9 halfway through

with MemoryCoordinator.open(Config.load(sys.argv[1]), use_redis=False) as c:
    rotate_keys(c, batch=200, progress=progress)
"""


def test_an_interrupted_rotation_resumes_and_loses_nothing(data_dir: Path) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config, use_redis=False) as c:
        s = c.sessions.create()
        for i in range(1000):
            c.memory.store(f"token_{i}", f"value {i}", session_id=s.id)
    killed = subprocess.run(
        [sys.executable, "-c", ROTATE_AND_DIE, str(data_dir)],
        env=cli_env(data_dir, None),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    assert len(config.key_path.read_text().split()) == 2  # new key first, old one behind
    with MemoryCoordinator.open(config, use_redis=False) as c:  # readable in the middle
        assert c.store.meta("key_rotation") is not None
        assert [c.memory.get(f"token_{i}", session_id=s.id).value for i in (0, 500, 999)] == [
            "value 0", "value 500", "value 999",
        ]  # fmt: skip
    result = run_cli(data_dir, "keys", "rotate", "--drop-old", check=True)
    assert "resumed an interrupted rotation" in result.stdout
    assert len(config.key_path.read_text().split()) == 1
    with MemoryCoordinator.open(config, use_redis=False) as c:
        assert c.store.meta("key_rotation") is None
        values = {e.key: e.value for e in c.memory.list(session_id=s.id, limit=2000)}
        assert values == {f"token_{i}": f"value {i}" for i in range(1000)}
    assert os.stat(config.key_path).st_mode & 0o077 == 0


def test_what_counts_as_a_secret_is_configurable(data_dir: Path) -> None:
    (data_dir / "config.toml").write_text(
        '[secrets]\nnamespaces = ["vault"]\nkey_pattern = "^pin"\nvalue_pattern = "ACME-[0-9]{6}"\n'
    )
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as c:
        c.memory.store("door", "1234", namespace="vault")  # by namespace
        c.memory.store("pin_code", 4321)  # by key pattern
        c.memory.store("license", "ACME-123456")  # by value pattern
        c.memory.store("tokens_left", 3)  # built-in rules still apply
        c.memory.store("colour", "blue")
        flags = dict(c.store.rows("SELECT key, encrypted FROM memory_entries"))
        assert flags == {"door": 1, "pin_code": 1, "license": 1, "tokens_left": 1, "colour": 0}
        assert c.memory.get("license").value == "ACME-123456"
    (data_dir / "config.toml").write_text('[secrets]\nkey_pattern = "(unclosed"\n')
    result = run_cli(data_dir, "doctor")
    assert result.returncode == 2
    assert "[secrets] key_pattern must be a valid regular expression" in result.stderr


def test_secrets_never_reach_the_logs(
    coordinator: MemoryCoordinator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        s = coordinator.sessions.create(name="s")
        coordinator.memory.store("anthropic", SECRET, session_id=s.id)
        coordinator.memory.store("db_password", PASSWORD, session_id=s.id)
        coordinator.memory.get("anthropic", session_id=s.id)
        coordinator.memory.list(session_id=s.id)
        coordinator.checkpoints.create(s.id)
        coordinator.memory.store("plain", "visible marker", session_id=s.id)
    # The same run through the CLI with debug logging on, stderr captured.
    env = cli_env(tmp_path / "cli", None) | {"CLAUDE_TUI_DEBUG": "1"}
    (tmp_path / "cli").mkdir()
    stored = subprocess.run(
        [sys.executable, "-m", "claude_tui", "memory", "store", "k", SECRET],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    got = subprocess.run(
        [sys.executable, "-m", "claude_tui", "memory", "get", "k"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert stored.returncode == got.returncode == 0
    assert got.stdout.strip().strip('"') == SECRET  # asked for, it is shown
    logged = caplog.text + stored.stderr + got.stderr
    assert SECRET not in logged and PASSWORD not in logged
