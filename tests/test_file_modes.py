"""File modes: a data dir and everything in it is for its owner only (0700 dirs, 0600 files).

Real files throughout: the SQLite store with its -wal and -shm, backups and
their manifest (primary and secondary dir), the key file, the Chroma index
built by the real embedder, and the private redis-server's dir. The tests run
under umask 022, the usual one, so nothing passes merely because the umask
was strict.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_tui.core.cache import redis_server as rs
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.durability.files import tighten_tree
from claude_tui.core.durability.lease import Lease, exclusive
from claude_tui.core.vectors.learning import Experience
from tests.conftest import run_cli

NOTICE = re.compile(
    r"^claude-tui: tightened permissions of (\d+) path\(s\) under (.+) \(were readable by others\)$"
)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Umask 022 for the test (restored after): files are private by their modes alone."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def offenders(root: Path) -> list[str]:
    """Every path under ``root`` (and root) that is not 0700 (dir) / 0600 (file) / owner-only."""
    found = []
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            continue
        if stat.S_ISDIR(st.st_mode):
            ok = mode == 0o700
        elif stat.S_ISREG(st.st_mode):
            ok = mode == 0o600
        else:  # the redis socket (unixsocketperm 700), fifos
            ok = not mode & 0o077
        if not ok:
            found.append(f"{oct(mode)} {path.relative_to(root.parent)}")
    return found


def assert_private(*roots: Path) -> None:
    bad = [line for root in roots for line in offenders(root)]
    assert not bad, "readable by group/others:\n  " + "\n  ".join(bad)


def loosen(root: Path) -> int:
    """Make ``root`` and all in it 0755/0644 by hand; return how many paths that is."""
    paths = [root, *root.rglob("*")]
    for path in paths:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return len(paths)


def notices(err: str) -> list[tuple[int, str]]:
    found = [NOTICE.match(line) for line in err.splitlines()]
    return [(int(m[1]), m[2]) for m in found if m]


def test_everything_a_data_dir_holds_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"  # short: the redis socket lives in it
    secondary = tmp_path / "second"
    config = Config.load(data_dir, env={}, backup_secondary_dir=str(secondary))
    try:
        with MemoryCoordinator.open(config) as c:
            assert c.redis_endpoint.private and c.redis_endpoint.url, c.redis_endpoint.reason
            s = c.sessions.create(name="modes")
            c.memory.store("plain", "nothing to hide", session_id=s.id)
            c.memory.store("db_password", "hunter2-hunter2", session_id=s.id)  # key file
            learned = c.learning.learn(Experience("decision", "Retries back off exponentially."))
            assert learned.indexed
            service = BackupService(config, c)
            assert service.run("full").status == "ok"
            c.memory.store("later", 2, session_id=s.id)
            assert service.run("incremental").kind == "incremental"
            with exclusive(data_dir / "locks" / "job.test.lock"):
                lease = Lease(data_dir / "scheduler.lock")
                assert lease.acquire()
                lease.release()
            names = {p.name for p in data_dir.rglob("*")}
            for expected in (
                "claude-tui.db-wal", "claude-tui.db-shm", "manifest.json", ".manifest.lock",
                ".run.lock", "secret.key", "chroma.sqlite3", "data_level0.bin",
                "redis.pid", "redis.log", "redis.sock", "start.lock", "job.test.lock",
            ):  # fmt: skip
                assert expected in names, f"{expected} was not made: the walk would prove little"
            assert {p.suffix for p in secondary.iterdir()} >= {".db", ".gz", ".json"}
            assert_private(data_dir, secondary)  # while everything is open
            c.learning.index.close()
        assert_private(data_dir, secondary)  # and after closing
    finally:
        rs.stop_private(config)


def test_a_loose_data_dir_is_tightened_on_open_with_one_notice(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as c:
        sid = c.sessions.create().id
        c.memory.store("k", "v", session_id=sid)
        BackupService(config, c).run("full")
    assert notices(capsys.readouterr().err) == []  # a fresh (empty) dir is made private silently
    count = loosen(data_dir)
    with MemoryCoordinator.open(config) as c:
        entry = c.memory.get("k", session_id=sid)
        assert entry is not None and entry.value == "v"
        BackupService(config, c).run("auto")
    # + the -wal and -shm SQLite made, with the db file's mode, as it opened the file
    assert notices(capsys.readouterr().err) == [(count + 2, str(data_dir))]
    assert_private(data_dir)
    with MemoryCoordinator.open(config):
        pass
    assert notices(capsys.readouterr().err) == []


def test_the_cli_says_it_once_on_stderr(data_dir: Path) -> None:
    sid = run_cli(data_dir, "session", "new", check=True).stdout.strip()
    run_cli(data_dir, "memory", "store", "k", "v", "--session", sid, check=True)
    count = loosen(data_dir)
    first = run_cli(data_dir, "memory", "get", "k", "--session", sid, check=True)
    assert first.stdout.strip() == "v"
    assert notices(first.stderr) == [(count + 2, str(data_dir))], first.stderr  # + -wal, -shm
    assert first.stderr.count("\n") == 1, first.stderr
    assert_private(data_dir)
    again = run_cli(data_dir, "memory", "get", "k", "--session", sid, check=True)
    assert again.stderr == ""


def test_the_secondary_backup_dir_is_private_and_tightened(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secondary = tmp_path / "mounted" / "claude-tui-backups"
    secondary.mkdir(parents=True)
    (secondary / "left-by-hand.txt").write_text("an old copy")
    config = Config.load(data_dir, env={}, redis_enabled=False, backup_secondary_dir=str(secondary))
    with MemoryCoordinator.open(config) as c:
        c.memory.store("k", "v", session_id=c.sessions.create().id)
    capsys.readouterr()
    record = BackupService(config).run("full")
    assert (secondary / str(record.file)).is_file()
    assert notices(capsys.readouterr().err) == [(2, str(secondary))]
    assert_private(data_dir, secondary)
    assert stat.S_IMODE((tmp_path / "mounted").stat().st_mode) == 0o755  # not ours: untouched


def test_the_walk_never_follows_a_symlink(data_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shared.txt").write_text("x")
    os.chmod(outside / "shared.txt", 0o644)
    (data_dir / "link-to-dir").symlink_to(outside)
    (data_dir / "link-to-file").symlink_to(outside / "shared.txt")
    (data_dir / "own.txt").write_text("y")  # 0644 under umask 022
    assert tighten_tree(data_dir) == 2  # the dir itself and own.txt
    assert stat.S_IMODE((outside / "shared.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755
    assert_private(data_dir)
    assert tighten_tree(data_dir) == 0
    assert tighten_tree(tmp_path / "missing") == 0
