"""Every bad input gets one line and exit 2, never "internal error", and nothing is written.

Real CLI processes on one data dir (the table's cases run side by side),
undecodable bytes passed as real argv bytes, a config file per data dir, an
immutable database (``chattr +i``), a read-only mount and a full disk (a small
tmpfs filled up).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from tests.conftest import ROOT, cli_env, run_cli

pytestmark = pytest.mark.timeout(180)

DEEP = "[" * 50_000 + "]" * 50_000
SESSION = "{session}"  # replaced by the table's session id


def _cli(data_dir: Path, args: list[str | bytes], env: dict[str, str] | None = None) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "claude_tui", *args],
        env={**cli_env(data_dir, None), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


def _counts(data_dir: Path) -> tuple[int, ...]:
    conn = sqlite3.connect(f"file:{data_dir / 'claude-tui.db'}?mode=ro", uri=True)
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "agents", "tasks", "memory_entries", "change_log")
        )
    finally:
        conn.close()


# (case id, argv (bytes for undecodable ones), extra env, what the one line must say)
ARGV_CASES: list[tuple[str, list[str | bytes], dict[str, str], str]] = [
    (
        "session-name-not-utf8",
        ["session", "new", "--name", b"a\xff"],
        {},
        "--name is not valid UTF-8 text (byte 0xff at position 1)",
    ),
    (
        "agent-type-not-utf8",
        ["agent", "register", "--session", SESSION, "--type", b"\xff"],
        {},
        "--type is not valid UTF-8 text",
    ),
    (
        "task-title-not-utf8",
        ["task", "add", "--session", SESSION, b"\xffx"],
        {},
        "TITLE is not valid UTF-8 text",
    ),
    (
        "memory-store-key-not-utf8",
        ["memory", "store", b"k\xff", "1"],
        {},
        "KEY is not valid UTF-8 text",
    ),
    ("memory-get-key-not-utf8", ["memory", "get", b"k\xff"], {}, "KEY is not valid UTF-8 text"),
    (
        "memory-store-value-not-utf8",
        ["memory", "store", "k", b"v\xed\xa0\x80"],
        {},
        "VALUE is not valid UTF-8 text (byte 0xed",
    ),
    ("memory-delete-key-not-utf8", ["memory", "delete", b"\xc3"], {}, "KEY is not valid UTF-8"),
    (
        "namespace-not-utf8",
        ["memory", "list", "--namespace", b"n\x80"],
        {},
        "--namespace is not valid UTF-8",
    ),
    (
        "json-50000-deep",
        ["memory", "store", "deep", "@{deep}"],
        {},
        "value is nested too deeply to be read as JSON",
    ),
    (
        "payload-50000-deep",
        ["task", "add", "--session", SESSION, "t", "--payload", "@{deep}"],
        {},
        "payload is nested too deeply",
    ),
    (
        "lone-surrogate-value",
        ["memory", "store", "s", '"\\ud800"'],
        {},
        "not valid Unicode text: a lone surrogate U+D800",
    ),
    (
        "lone-surrogate-in-a-key-of-a-payload",
        ["task", "add", "--session", SESSION, "t", "--payload", '{"\\udc00": 1}'],
        {},
        "a lone surrogate U+DC00",
    ),
    (
        "redis-url-garbage",
        ["memory", "get", "k"],
        {"CLAUDE_TUI_REDIS": "on", "CLAUDE_TUI_REDIS_URL": "garbage"},
        "CLAUDE_TUI_REDIS_URL ([redis] url) must start with redis://",
    ),
    (
        "busy-timeout-2**70",
        ["memory", "get", "k"],
        {"CLAUDE_TUI_BUSY_TIMEOUT_MS": str(2**70)},
        "CLAUDE_TUI_BUSY_TIMEOUT_MS ([sqlite] busy_timeout_ms) must be between 0",
    ),
    (
        "busy-timeout-negative",
        ["session", "new"],
        {"CLAUDE_TUI_BUSY_TIMEOUT_MS": "-1"},
        "must be between 0 and 3,600,000",
    ),
    (
        "redis-idle-nan",
        ["memory", "get", "k"],
        {"CLAUDE_TUI_REDIS_IDLE": "nan"},
        "CLAUDE_TUI_REDIS_IDLE ([redis] idle_seconds) must be a finite number, not 'nan'",
    ),
    (
        "task-status-zombie",
        ["task", "list", "--status", "zombie"],
        {},
        "argument --status: invalid choice: 'zombie'",
    ),
    (
        "purge-log-days-negative",
        ["memory", "purge", "--log-days", "-1"],
        {},
        "--log-days: must be a positive number of days, not '-1'",
    ),
    (
        "purge-log-days-nan",
        ["memory", "purge", "--log-days", "nan"],
        {},
        "--log-days: must be a positive number of days, not 'nan'",
    ),
    ("purge-log-days-inf", ["memory", "purge", "--log-days", "inf"], {}, "not 'inf'"),
]


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    data = tmp_path_factory.mktemp("bad-input") / "data"
    session = run_cli(data, "session", "new", check=True).stdout.strip()
    run_cli(data, "memory", "store", "k", "v", check=True)
    deep = data.parent / "deep.json"
    deep.write_text(DEEP)
    return data, session, deep


def test_each_bad_argument_or_setting_is_one_line_and_exit_2(
    table_dir: tuple[Path, str, Path],
) -> None:
    data, session, deep = table_dir
    before = _counts(data)

    def filled(arg: str | bytes) -> str | bytes:
        if isinstance(arg, bytes):
            return arg
        return arg.replace(SESSION, session).replace("{deep}", str(deep))

    procs = {
        case: (_cli(data, [filled(a) for a in argv], env), expected)
        for case, argv, env, expected in ARGV_CASES
    }  # side by side: every one of them opens (or refuses) the same data dir
    failures = []
    for case, (proc, expected) in procs.items():
        out, err = proc.communicate(timeout=120)
        text = err.decode("utf-8", "backslashreplace")
        lines = text.splitlines()
        if not (
            proc.returncode == 2 and out == b"" and len(lines) == 1
            and lines[0].startswith("claude-tui: ") and expected in lines[0]
            and "internal error" not in text
        ):  # fmt: skip
            failures.append(f"{case}: exit {proc.returncode}, stdout {out!r}, stderr {text!r}")
    assert not failures, "\n".join(failures)
    assert _counts(data) == before  # nothing written, the change log untouched


CONFIG_CASES = [
    ("[sqlite]\nbusy_timeout_ms = nan\n", "[sqlite] busy_timeout_ms must be a finite number"),
    ("[sqlite]\nbusy_timeout_ms = 1.5\n", "[sqlite] busy_timeout_ms must be a whole number"),
    ("[sqlite]\nsynchronous = 1\n", "[sqlite] synchronous must be text, not 1"),
    ("[redis]\nurl = 123\n", "[redis] url must be text, not 123"),
    ("[redis]\nidle_seconds = inf\n", "[redis] idle_seconds must be a finite number"),
    ("[vectors]\nembedder = 5\n", "[vectors] embedder must be text, not 5"),
    ("[cache]\nl2_ttl_seconds = nan\n", "[cache] l2_ttl_seconds must be a finite number"),
]


@pytest.mark.parametrize(("toml", "expected"), CONFIG_CASES, ids=[c[1] for c in CONFIG_CASES])
def test_a_bad_config_value_names_the_file_section_and_key(
    tmp_path: Path, toml: str, expected: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(toml)
    result = run_cli(data, "memory", "list")
    assert result.returncode == 2, result
    [line] = result.stderr.splitlines()
    assert line.startswith(f"claude-tui: {data / 'config.toml'}: {expected}"), line
    assert "internal error" not in line and not (data / "claude-tui.db").exists()


def test_a_path_argument_may_be_any_bytes(tmp_path: Path) -> None:
    odd = os.fsencode(tmp_path) + b"/data-\xff"
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", b"--data-dir", odd, "memory", "store", "k", "v"],
        env=cli_env(tmp_path / "unused", None), capture_output=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert os.path.exists(odd + b"/claude-tui.db")


@pytest.fixture
def immutable_db(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    run_cli(data, "memory", "store", "k", "v", check=True)
    db = data / "claude-tui.db"
    subprocess.run(["chattr", "+i", str(db)], check=True)
    try:
        yield data
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_a_write_to_an_immutable_database_is_one_line_and_exit_2(immutable_db: Path) -> None:
    before = _counts(immutable_db)
    for args in (("memory", "store", "k2", "v"), ("session", "new"), ("backup", "run")):
        result = run_cli(immutable_db, *args)
        assert result.returncode == 2, result
        [line] = result.stderr.splitlines()
        assert "the database is read-only" in line and "nothing was written" in line, line
    # Reading still works.
    assert run_cli(immutable_db, "memory", "get", "k", check=True).stdout == "v\n"
    assert _counts(immutable_db) == before


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (unmounted afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_read_only_mount_is_one_line_and_exit_2(small_disk: Path) -> None:
    data = small_disk / "data"
    run_cli(data, "memory", "store", "k", "v", check=True)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = run_cli(data, "memory", "store", "k2", "v")
    assert result.returncode == 2, result
    [line] = result.stderr.splitlines()
    assert "read-only" in line and "internal error" not in line, line


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == 28  # ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_write_on_a_full_disk_says_the_disk_is_full(small_disk: Path, tmp_path: Path) -> None:
    data = small_disk / "data"
    run_cli(data, "memory", "store", "k", "v", check=True)
    big = tmp_path / "big.txt"
    big.write_text("x" * 500_000)
    # Another process holds the database open (its -wal and -shm stay) while the
    # disk fills: the next writes find no room ("database or disk is full").
    with MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False)) as holder:
        filler = _fill(small_disk)
        for args in (("memory", "store", "big", f"@{big}"), ("session", "new")):
            result = run_cli(data, *args)
            assert result.returncode == 2, result
            [line] = result.stderr.splitlines()
            assert (
                line.startswith("claude-tui: the disk is full: ") and "nothing was written" in line
            )
        assert holder.memory.count() == 1
        filler.unlink()
    # A first open on a full disk (SQLite must create its -shm): the same sentence.
    filler = _fill(small_disk)
    result = run_cli(data, "memory", "store", "k2", "v")
    assert result.returncode == 2 and "the disk is full" in result.stderr, result
    filler.unlink()
    assert run_cli(data, "memory", "store", "k2", "v2").returncode == 0
    listed = run_cli(data, "memory", "list", check=True).stdout
    assert "k2" in listed and "big" not in listed  # nothing half-written
    conn = sqlite3.connect(data / "claude-tui.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
