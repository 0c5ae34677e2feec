"""Backups, verification, point-in-time restore and crash recovery, on real files and processes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claude_tui.cli.main import main
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability import backups, integrity
from claude_tui.core.durability.backups import BackupService, sha256_file
from claude_tui.core.durability.manifest import Manifest
from claude_tui.core.errors import BackupFailed, NotFound, StoreCorrupt
from tests.backup_helpers import snapshot
from tests.children import Output
from tests.conftest import ROOT, cli_env, run_cli


def _checkpoint(c: MemoryCoordinator, cid: str, session_id: str, data: bytes) -> None:
    c.store.write(
        lambda conn: conn.execute(
            "INSERT INTO checkpoints (id, session_id, created_at, seq, size, data) "
            "VALUES (?, ?, ?, 0, ?, ?)",
            (cid, session_id, time.time(), len(data), data),
        )
    )


def _helper(*args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.backup_helpers", *args],
        cwd=ROOT, text=True, stdout=kw.pop("stdout", subprocess.DEVNULL),
        stderr=subprocess.PIPE, **kw,
    )  # fmt: skip


def _held_helper(*args: str) -> tuple[subprocess.Popen[str], Path]:
    """A helper that holds mid-way; returned once it printed the temporary file it holds."""
    proc = _helper(*args, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    output = Output(proc)
    output.until(lambda lines: bool(lines), f"{args[0]} to reach its hold")
    return proc, Path(output.lines[0])


def _plain(data_dir: Path, **over) -> Config:
    return Config.load(data_dir, env={}, redis_enabled=False, **over)


def test_full_backup_while_four_processes_write(config, coordinator, data_dir):
    session = coordinator.sessions.create(name="busy")
    # Enough writes that they are still going when the backup is taken (the check below
    # that the copy holds fewer than all of them makes sure it really ran mid-write).
    per_writer = 1000
    command = [sys.executable, "-m", "tests.backup_helpers", "write_many_telling", str(data_dir),
               session.id]  # fmt: skip
    writers = [
        subprocess.Popen(
            [*command, f"p{n}", str(per_writer)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [Output(proc) for proc in writers]
    for output in outputs:  # each has stored ten: at least 40 rows, as the check below needs
        output.until(lambda lines: "started" in lines, "the writers to start")
    record = BackupService(config).run("full")
    for proc, output in zip(writers, outputs, strict=True):
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
        output.until(lambda lines: len(lines) == 2, "the writer's count")
        assert output.lines == ["started", str(per_writer)]
        if proc.stderr is not None:
            proc.stderr.close()

    assert record.status == "ok" and record.verified_at is not None
    copy = backups.open_readonly(config.backups_path / str(record.file))
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = [k for (k,) in copy.execute("SELECT key FROM memory_entries")]
    # Taken while the writers were writing: some rows, not all of them.
    assert 40 <= len(keys) < 4 * per_writer
    for n in range(4):
        numbers = sorted(int(k.split("-")[1]) for k in keys if k.startswith(f"p{n}-"))
        assert numbers == list(range(len(numbers))), f"writer p{n} is not a prefix"
    inserts = copy.execute(
        "SELECT count(*) FROM change_log WHERE tbl = 'memory_entries' AND op = 'insert' "
        "AND seq <= ?",
        (record.seq_hi,),
    ).fetchone()[0]
    assert len(keys) == inserts
    assert copy.execute("SELECT max(seq) FROM change_log").fetchone()[0] == record.seq_hi
    copy.close()


def test_chain_restore_latest_point_in_time_and_search(config, coordinator, data_dir):
    c = coordinator
    svc = BackupService(config, c)
    db = config.db_path
    s = c.sessions.create(name="main")
    c.agents.register(s.id, "coder", "lead")
    task = c.tasks.add(s.id, "first task")
    for i in range(20):
        c.memory.store(f"note-{i}", f"alpha text {i}", session_id=s.id)
    c.patterns.add("fix", "input one", "output one")
    c.metrics.record("latency", 1.5)
    _checkpoint(c, "cp1", s.id, bytes(range(256)))
    full = svc.run("full")

    c.memory.store("note-1", "bravo replaced", session_id=s.id)
    c.memory.delete("note-2", session_id=s.id)
    c.tasks.update(task.id, status="in_progress")
    s2 = c.sessions.create(name="second")
    before_i1 = snapshot(db)
    i1 = svc.run("incremental")

    c.memory.delete("note-3", session_id=s.id)
    c.memory.store("note-3", "charlie reborn", session_id=s.id)  # same key, new row id
    _checkpoint(c, "cp2", s2.id, b"\x00\xff\x00binary")
    c.store.write(lambda conn: conn.execute("DELETE FROM checkpoints WHERE id = 'cp1'"))
    c.patterns.add("fix", "input two")
    before_d = snapshot(db)
    d = svc.run("differential")

    c.memory.store("note-4", "delta", session_id=s.id)
    c.memory.delete("note-5", session_id=s.id)
    c.agents.register(s2.id, "tester")
    c.metrics.record("latency", 2.5)
    before_i2 = snapshot(db)
    i2 = svc.run("incremental")

    assert [r.kind for r in (full, i1, d, i2)] == [
        "full",
        "incremental",
        "differential",
        "incremental",
    ]
    assert (i1.base, d.base, i2.base) == (full.id, full.id, d.id)
    assert (i1.seq_lo, d.seq_lo, i2.seq_lo) == (full.seq_hi, full.seq_hi, d.seq_hi)
    assert before_d != before_i1 != before_i2

    report = BackupService(config).restore()
    assert report.applied == [full.id, d.id, i2.id]
    assert report.seq == i2.seq_hi
    assert snapshot(db) == before_i2
    assert Path(str(report.kept_aside)).is_file()
    assert snapshot(Path(str(report.kept_aside)))["memory_entries"] == before_i2["memory_entries"]
    blob = sqlite3.connect(str(db)).execute("SELECT data FROM checkpoints").fetchall()
    assert blob == [(b"\x00\xff\x00binary",)]

    restored_cfg = Config.load(data_dir, env={}, redis_url=config.redis_url)
    with MemoryCoordinator.open(restored_cfg) as r:
        assert {e.key for e in r.memory.search("charlie", session_id=s.id)} == {"note-3"}
        alpha = {e.key for e in r.memory.search("alpha", session_id=s.id)}
        assert alpha == {f"note-{i}" for i in range(20)} - {
            "note-1",
            "note-2",
            "note-3",
            "note-4",
            "note-5",
        }
        assert r.memory.search("bravo", session_id=s.id)[0].key == "note-1"
        assert r.memory.get("note-2", session_id=s.id) is None
        assert r.memory.get("note-4", session_id=s.id).value == "delta"  # cached in Redis now

    at = (i1.created_at + d.created_at) / 2
    report = BackupService(config).restore(at=at)
    assert report.applied == [full.id, i1.id]
    assert snapshot(db) == before_i1
    with MemoryCoordinator.open(restored_cfg) as r:
        # The restore moved the cache to a new epoch: Redis' "delta" is not trusted.
        assert r.memory.get("note-4", session_id=s.id).value == "alpha text 4"
        assert {e.key for e in r.memory.search("bravo", session_id=s.id)} == {"note-1"}
        assert r.memory.search("charlie", session_id=s.id) == []
        after = BackupService(config, r).run("incremental")
    assert after.kind == "full" and "no verified full" in str(after.note)  # a new chain


def test_skips_fallbacks_and_auto(config, coordinator):
    c = coordinator
    svc = BackupService(config, c)
    s = c.sessions.create()
    c.memory.store("a", 1, session_id=s.id)
    first = svc.run("differential")
    assert first.kind == "full" and first.status == "ok" and "no verified full" in str(first.note)
    skipped = svc.run("incremental")
    assert skipped.status == "skipped" and skipped.file is None
    assert "nothing changed" in str(skipped.note)
    auto_skip = svc.run("auto")
    assert auto_skip.status == "skipped"
    c.memory.store("b", 2, session_id=s.id)
    auto = svc.run("auto")
    assert (auto.kind, auto.status, auto.base) == ("incremental", "ok", first.id)
    statuses = [(r.kind, r.status) for r in svc.list()]
    # Two skips on the same base are listed once (the newest).
    assert statuses == [("full", "ok"), ("incremental", "skipped"), ("incremental", "ok")]
    again = svc.run("incremental")
    assert again.status == "skipped" and again.base == auto.id
    assert [r.id for r in svc.list() if r.status == "skipped"] == [auto_skip.id, again.id]
    c.memory.store("c", 3, session_id=s.id)
    c.prune_change_log(keep_days=-1)  # the log no longer reaches back to the last backup
    fallback = svc.run("differential")
    assert fallback.kind == "full" and "pruned" in str(fallback.note)


@pytest.mark.parametrize("content", [b"", b"not a database " * 500], ids=["empty", "garbage"])
def test_backup_that_writes_nothing_is_a_loud_failure(
    config, coordinator, data_dir, monkeypatch, capsys, content
):
    s = coordinator.sessions.create()
    coordinator.memory.store("a", 1, session_id=s.id)

    def broken_copy(src: Path, dest: Path, busy_timeout_ms: int) -> None:
        dest.write_bytes(content)

    monkeypatch.setattr(backups, "copy_database", broken_copy)
    monkeypatch.setenv("CLAUDE_TUI_REDIS", "off")
    assert main(["--data-dir", str(data_dir), "backup", "run", "--kind", "full"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "full backup" in err[0] and "failed" in err[0]
    [record] = BackupService(config).list()
    assert record.status == "failed" and record.error
    assert not (config.backups_path / str(record.file)).exists()
    failures = coordinator.store.scalar(
        "SELECT count(*) FROM metrics WHERE metric_type = 'backup.failed'"
    )
    assert failures == 1
    with pytest.raises(BackupFailed):
        BackupService(config, coordinator).run("full")


def test_tampered_backup_fails_verify_and_is_never_restored(config, coordinator, data_dir):
    c = coordinator
    svc = BackupService(config, c)
    s = c.sessions.create()
    c.memory.store("a", 1, session_id=s.id)
    full = svc.run("full")
    c.memory.store("b", 2, session_id=s.id)
    inc = svc.run("incremental")
    path = config.backups_path / str(inc.file)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    inode = os.stat(config.db_path).st_ino
    with pytest.raises(BackupFailed, match="sha256"):
        BackupService(config).restore()
    assert os.stat(config.db_path).st_ino == inode
    assert not (data_dir / "replaced").exists()
    result = run_cli(data_dir, "backup", "verify")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{full.id}  full") and lines[0].endswith("ok")
    assert lines[1].startswith(inc.id) and "FAILED" in lines[1] and "sha256" in lines[1]
    assert [r.status for r in svc.list()] == ["ok", "failed"]


def test_kill_during_full_backup_leaves_no_entry(config, coordinator, data_dir, procs):
    s = coordinator.sessions.create()
    coordinator.memory.store("a", 1, session_id=s.id)
    proc, temp = _held_helper("slow_full", str(data_dir))
    procs.append(proc)
    assert temp.exists() and temp.name.startswith(".tmp-")
    proc.kill()
    proc.wait(timeout=10)
    assert BackupService(config).list() == []
    record = BackupService(config, coordinator).run()
    assert (record.kind, record.status) == ("full", "ok")
    assert not temp.exists()
    assert [r.id for r in BackupService(config).list()] == [record.id]


def test_kill_during_restore_leaves_the_database_untouched(config, coordinator, data_dir, procs):
    c = coordinator
    svc = BackupService(config, c)
    s = c.sessions.create()
    c.memory.store("a", 1, session_id=s.id)
    svc.run("full")
    c.memory.store("b", 2, session_id=s.id)
    svc.run("incremental")
    c.memory.store("c", 3, session_id=s.id)
    before = snapshot(config.db_path)
    inode = os.stat(config.db_path).st_ino
    proc, _ = _held_helper("slow_restore", str(data_dir))
    procs.append(proc)
    leftovers = list(data_dir.glob("claude-tui.db.restore-*.tmp"))
    assert len(leftovers) == 1
    proc.kill()
    proc.wait(timeout=10)
    assert os.stat(config.db_path).st_ino == inode
    assert snapshot(config.db_path) == before
    assert integrity.full_check(config.db_path).ok
    c.memory.store("d", 4, session_id=s.id)  # the live database still takes writes
    BackupService(config).restore()
    assert not leftovers[0].exists()


def _damage(db: Path, how: str) -> None:
    size = db.stat().st_size
    if how == "truncate":
        os.truncate(db, size // 2 // 4096 * 4096)
        return
    with db.open("r+b") as handle:
        for page in range(size // 4096 // 3, size // 4096 // 3 + 4):
            handle.seek(page * 4096)
            handle.write(b"\xa5" * 4096)


@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_damaged_database_exits_2_and_restore_latest_repairs_it(data_dir, how):
    config = _plain(data_dir)
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        for i in range(200):
            c.memory.store(f"key-{i}", "x" * 300, session_id=s.id)
        BackupService(config, c).run("full")
        c.memory.store("after", "kept", session_id=s.id)
        BackupService(config, c).run("incremental")
    _damage(config.db_path, how)
    damaged = config.db_path.read_bytes()
    assert not integrity.quick_check(config.db_path).ok
    with pytest.raises(StoreCorrupt):
        MemoryCoordinator.open(config)

    result = run_cli(data_dir, "memory", "list", "--all")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "damaged" in result.stderr and "claude-tui backup restore latest" in result.stderr

    result = run_cli(data_dir, "backup", "restore", "latest", "--yes")
    assert result.returncode == 0, result.stderr
    assert "the previous database is kept at" in result.stdout
    [kept] = (data_dir / "replaced").glob("*.db")
    assert kept.read_bytes() == damaged
    result = run_cli(data_dir, "memory", "get", "after", "--session", s.id)
    assert (result.returncode, result.stdout.strip()) == (0, "kept")
    with MemoryCoordinator.open(config) as c:
        assert len(c.memory.list(session_id=s.id, limit=1000)) == 201


def test_secondary_dir_gets_every_backup_and_serves_a_lost_file(data_dir, tmp_path):
    mirror = tmp_path / "mirror"
    config = _plain(data_dir, backup_secondary_dir=str(mirror))
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        c.memory.store("a", 1, session_id=s.id)
        full = BackupService(config, c).run()
        c.memory.store("b", 2, session_id=s.id)
        inc = BackupService(config, c).run()
    copies = Manifest(mirror).load()
    assert [(r.id, r.status) for r in copies] == [(full.id, "ok"), (inc.id, "ok")]
    for record in copies:
        assert sha256_file(mirror / str(record.file)) == record.sha256
    (config.backups_path / str(inc.file)).unlink()
    report = BackupService(config).restore()
    assert report.applied == [full.id, inc.id]
    with MemoryCoordinator.open(config) as c:
        assert c.memory.get("b", session_id=s.id).value == 2


def test_retention_keeps_what_kept_backups_depend_on(config, coordinator):
    now = [1_900_000_000.0]
    svc = BackupService(config, coordinator, clock=lambda: now[0])
    s = coordinator.sessions.create()
    counter = iter(range(1000))

    def step(hours: float, kind: str) -> str:
        now[0] += hours * 3600
        coordinator.memory.store(f"k{next(counter)}", 1, session_id=s.id)
        record = svc.run(kind)
        assert record.status == "ok" and record.kind == kind
        return record.id

    f1 = step(0, "full")
    i1 = step(1, "incremental")
    step(1, "incremental")
    d1 = step(48, "differential")  # the incrementals are past 24 h and nothing needs them
    assert [r.id for r in svc.list()] == [f1, d1]
    assert not list(config.backups_path.glob(f"*{i1}*"))
    i3 = step(1, "incremental")
    i4 = step(40 * 24, "incremental")  # f1, d1, i3 are expired but i4 builds on them
    assert [r.id for r in svc.list()] == [f1, d1, i3, i4]
    f2 = step(1, "full")
    i5 = step(48, "incremental")
    assert [r.id for r in svc.list()] == [f2, i5]
    assert len(list(config.backups_path.glob("*.db"))) == 1


def test_a_process_with_the_old_file_open_gets_store_replaced(config, coordinator, data_dir):
    s = coordinator.sessions.create()
    coordinator.memory.store("base", 1, session_id=s.id)
    BackupService(config, coordinator).run("full")
    proc = _helper("write_until_replaced", str(data_dir), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    acked: list[str] = []
    while len(acked) < 20:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer died"
        if line.startswith("ack "):
            acked.append(line.split()[1])
    report = BackupService(config).restore()
    rest, err = proc.communicate(timeout=30)
    lines = rest.strip().splitlines()
    acked += [line.split()[1] for line in lines if line.startswith("ack ")]
    assert lines[-1].startswith("REPLACED"), err
    assert "restart claude-tui" in lines[-1]
    kept = sqlite3.connect(str(report.kept_aside))
    stored = {k for (k,) in kept.execute("SELECT key FROM memory_entries WHERE key LIKE 'w-%'")}
    kept.close()
    assert set(acked) <= stored  # every acknowledged write is in the file moved aside
    live = sqlite3.connect(str(config.db_path))
    assert live.execute("SELECT count(*) FROM memory_entries WHERE key LIKE 'w-%'").fetchone() == (
        0,
    )
    live.close()


def test_cli_run_list_restore_and_bad_input(data_dir):
    sid = run_cli(data_dir, "session", "new", check=True).stdout.strip()
    run_cli(data_dir, "memory", "store", "k", "v1", "--session", sid, check=True)
    result = run_cli(data_dir, "backup", "run", check=True)
    assert re.fullmatch(
        r"full backup b_[0-9a-f]+: [\d,]+ rows, [\d.]+ (B|KB|MB), verified \(sha256 [0-9a-f]{8}…\)",
        result.stdout.strip(),
    ), result.stdout
    skipped = json.loads(run_cli(data_dir, "backup", "run", "--json", check=True).stdout)
    assert skipped["status"] == "skipped"
    listing = run_cli(data_dir, "backup", "list", check=True).stdout.splitlines()
    assert listing[0].split() == ["ID", "KIND", "BASE", "SEQ", "CREATED", "SIZE", "STATUS"]
    assert listing[1].split()[1] == "full" and listing[1].split()[-1] == "ok"

    def restore(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "claude_tui", "backup", "restore", *args],
            env=cli_env(data_dir, None), cwd=ROOT, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip

    no_tty = restore()
    assert no_tty.returncode == 2 and "--yes" in no_tty.stderr
    bad_time = restore("--at", "next tuesday", "--yes")
    assert bad_time.returncode == 2 and "--at" in bad_time.stderr
    unknown = restore("b_000000000000", "--yes")
    assert unknown.returncode == 1 and "no backup 'b_000000000000'" in unknown.stderr
    too_early = restore("--at", "2001-01-01 00:00:00", "--yes")
    assert too_early.returncode == 1 and "no verified full backup" in too_early.stderr
    for result in (no_tty, bad_time, unknown, too_early):
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (data_dir / "replaced").exists()

    run_cli(data_dir, "memory", "store", "k", "v2", "--session", sid, check=True)
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 1))
    done = restore("--at", when, "--yes")
    assert done.returncode == 0, done.stderr
    assert run_cli(data_dir, "memory", "get", "k", "--session", sid).stdout.strip() == "v1"
    doctor = json.loads(run_cli(data_dir, "doctor", "--json", check=True).stdout)
    assert doctor["integrity"]["ok"] is True
    assert doctor["backups"]["latest"]["kind"] == "full"


def test_quick_check_and_full_check_on_files(tmp_path):
    config = _plain(tmp_path / "d")
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        for i in range(50):
            c.memory.store(f"k{i}", "y" * 500, session_id=s.id)
    db = config.db_path
    assert integrity.quick_check(db).ok and integrity.full_check(db).level == "full"
    assert integrity.quick_check(tmp_path / "absent.db").ok
    with db.open("r+b") as handle:
        handle.truncate(db.stat().st_size - 100)
    found = integrity.quick_check(db)
    assert not found.ok and "multiple of the page size" in str(found.problem)
    with pytest.raises(NotFound):
        BackupService(config).restore()


def test_restore_rebuilds_the_pattern_index_from_the_restored_rows(config, coordinator, data_dir):
    """After a restore the vector index holds exactly the restored patterns, found by meaning."""
    from claude_tui.core.vectors.learning import Experience

    c = coordinator
    kept = c.learning.learn(
        Experience("error_fix", "KeyError reading the config file", "use dict.get with a default")
    ).pattern
    c.learning.learn(Experience("decision", "chose SQLite WAL for concurrent readers"))
    svc = BackupService(config, c)
    svc.run("full")
    gone = c.learning.learn(
        Experience("error_fix", "TimeoutError talking to the package index", "retry with backoff")
    ).pattern
    assert c.learning.index.count() == 3
    c.close()

    report = BackupService(config).restore()
    assert report.applied
    assert not (data_dir / "chroma").exists() or not any((data_dir / "chroma").iterdir())
    with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_url=config.redis_url)) as r:
        found = r.learning.search("missing key in the settings", pattern_type="error_fix")
        assert found.mode == "vector"
        assert [p.id for p, _ in found.hits][:1] == [kept.id]
        assert gone.id not in {p.id for p, _ in found.hits}
        assert r.learning.index.count() == 2
