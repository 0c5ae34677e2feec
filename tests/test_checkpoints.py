"""Session checkpoints: capture all five parts, restore them exactly, in one transaction."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput, NotFound
from tests.conftest import run_cli

# Columns a restore rewrites on purpose (read counters, the clock of a new write).
_VOLATILE = {"accessed_at", "access_count", "version", "origin"}


def dump(db: Path, session_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a session's five parts, as plain tuples, from the file itself."""
    conn = sqlite3.connect(db)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        queries = {
            "sessions": "SELECT * FROM sessions WHERE id = ?",
            "agents": "SELECT * FROM agents WHERE session_id = ?",
            "tasks": "SELECT * FROM tasks WHERE session_id = ?",
            "memory_entries": "SELECT * FROM memory_entries WHERE session_id = ? "
            "AND scope != 'swarm'",
            "neural_patterns": "SELECT * FROM neural_patterns WHERE session_id = ?",
        }
        for table, sql in queries.items():
            cur = conn.execute(sql + " ORDER BY 1", (session_id,))
            names = [d[0] for d in cur.description]
            keep = [i for i, n in enumerate(names) if n not in _VOLATILE]
            out[table] = [tuple(r[i] for i in keep) for r in cur.fetchall()]
        return out
    finally:
        conn.close()


def populate(c: MemoryCoordinator) -> dict[str, Any]:
    s = c.sessions.create(name="work", user_id="ana")
    lead = c.agents.register(s.id, "planner", "lead", capabilities=["plan"])
    coder = c.agents.register(s.id, "coder", "impl")
    root = c.tasks.add(s.id, "ship it", priority=3)
    child = c.tasks.add(s.id, "write code", parent_task_id=root.id, agent_id=coder.id)
    leaf = c.tasks.add(s.id, "tests", parent_task_id=child.id)
    c.tasks.update(leaf.id, status="completed", result={"ok": True})
    for i in range(20):
        c.memory.store(f"note{i}", {"i": i}, session_id=s.id)
    c.memory.store("scratch", "w", session_id=s.id, agent_id=coder.id, memory_type="working")
    c.memory.store("api_key", "sk-ant-" + "a" * 30, session_id=s.id)
    c.memory.store("team", "shared value", memory_type="shared")
    p = c.patterns.add("tool-sequence", "read then edit", "ok", session_id=s.id)
    return {
        "s": s,
        "lead": lead,
        "coder": coder,
        "root": root,
        "child": child,
        "leaf": leaf,
        "p": p,
    }


def mutate(c: MemoryCoordinator, w: dict[str, Any]) -> None:
    sid = w["s"].id
    c.sessions.update(sid, name="renamed", status="paused")
    c.agents.update(w["coder"].id, status="busy", memory_context={"file": "x.py"})
    c.agents.register(sid, "reviewer")
    c.tasks.update(w["child"].id, status="completed")
    c.tasks.add(sid, "later task", parent_task_id=w["root"].id)
    c.memory.store("note0", "changed", session_id=sid)
    c.memory.delete("note1", session_id=sid)
    c.memory.store("note2", "deleted then written again", session_id=sid)
    c.memory.delete("note2", session_id=sid)
    c.memory.store("note2", "again", session_id=sid)
    c.memory.store("added later", 1, session_id=sid)
    c.patterns.add("tool-sequence", "grep then edit", session_id=sid)
    c.patterns.record_use(w["p"].id, success=False)


def test_checkpoint_captures_the_five_parts(coordinator: MemoryCoordinator) -> None:
    w = populate(coordinator)
    cp = coordinator.checkpoints.create(w["s"].id, label="before refactor")
    assert cp.counts == {
        "agents": 2, "tasks": 3, "memory": 22, "patterns": 1, "pending_tasks": 2,
    }  # fmt: skip
    listed = coordinator.checkpoints.list(w["s"].id)
    assert [x.id for x in listed] == [cp.id]
    assert listed[0].label == "before refactor" and listed[0].reason == "manual"
    assert coordinator.checkpoints.get(cp.id).seq == coordinator.store.current_seq() - 1


def test_restore_brings_back_exactly_the_checkpointed_session(
    coordinator: MemoryCoordinator, config: Config
) -> None:
    w = populate(coordinator)
    sid = w["s"].id
    before = dump(config.db_path, sid)
    cp = coordinator.checkpoints.create(sid)
    mutate(coordinator, w)
    assert dump(config.db_path, sid) != before

    plan = coordinator.checkpoints.preview(sid)
    assert plan.session_changed
    assert plan.tables["agents"].removed == 1 and plan.tables["agents"].changed == 1
    assert plan.tables["tasks"].removed == 1 and plan.tables["tasks"].changed == 1
    assert plan.tables["memory_entries"].added == 2  # note1, and note2 under its old id
    assert plan.tables["memory_entries"].removed == 2  # "added later", note2's new row
    assert plan.tables["memory_entries"].changed == 1  # note0
    assert plan.tables["neural_patterns"].removed == 1
    assert plan.tables["neural_patterns"].changed == 1

    result = coordinator.checkpoints.restore(sid, cp.id)
    assert result.safety_checkpoint is not None
    assert dump(config.db_path, sid) == before
    # Through the service (caches included) the old values are back.
    assert coordinator.memory.get("note0", session_id=sid).value == {"i": 0}
    assert coordinator.memory.get("note1", session_id=sid).value == {"i": 1}
    assert coordinator.memory.get("note2", session_id=sid).value == {"i": 2}
    assert coordinator.memory.get("added later", session_id=sid) is None
    assert coordinator.memory.get("api_key", session_id=sid).value == "sk-ant-" + "a" * 30
    assert coordinator.memory.get("team").value == "shared value"  # the swarm's, untouched
    assert [hit.key for hit in coordinator.memory.search("again", session_id=sid)] == []
    # Restored patterns are queued for the vector index.
    queued = coordinator.store.rows("SELECT op, count(*) FROM pattern_index_queue GROUP BY op")
    assert dict(queued) == {"upsert": 1, "delete": 1}
    # Restoring again changes nothing; the safety checkpoint undoes the restore.
    assert coordinator.checkpoints.preview(sid, cp.id).empty
    coordinator.checkpoints.restore(sid, result.safety_checkpoint)
    assert coordinator.memory.get("added later", session_id=sid).value == 1
    assert coordinator.sessions.get(sid).name == "renamed"


def test_keep_new_keeps_later_additions(coordinator: MemoryCoordinator) -> None:
    w = populate(coordinator)
    sid = w["s"].id
    coordinator.checkpoints.create(sid)
    mutate(coordinator, w)
    plan = coordinator.checkpoints.restore(sid, keep_new=True).plan
    assert plan.tables["memory_entries"].kept == 2
    assert coordinator.memory.get("added later", session_id=sid).value == 1
    assert coordinator.memory.get("note0", session_id=sid).value == {"i": 0}
    # The checkpoint wins the key it held, even under a newer id.
    assert coordinator.memory.get("note2", session_id=sid).value == {"i": 2}
    assert len(coordinator.agents.list(session_id=sid)) == 3


def test_another_process_sees_the_restored_values(
    config: Config, coordinator: MemoryCoordinator
) -> None:
    w = populate(coordinator)
    sid = w["s"].id
    coordinator.checkpoints.create(sid)
    coordinator.memory.store("note5", "new", session_id=sid)
    with MemoryCoordinator.open(config) as other:
        assert other.memory.get("note5", session_id=sid).value == "new"  # cached in L1 and L2
        coordinator.checkpoints.restore(sid)
        assert other.memory.get("note5", session_id=sid).value == {"i": 5}
        with MemoryCoordinator.open(config) as third:  # cold L1: must not trust the old L2 record
            assert third.memory.get("note5", session_id=sid).value == {"i": 5}


def test_deleted_session_comes_back_from_its_automatic_checkpoint(
    coordinator: MemoryCoordinator, config: Config
) -> None:
    w = populate(coordinator)
    sid = w["s"].id
    before = dump(config.db_path, sid)
    coordinator.sessions.delete(sid)
    with pytest.raises(NotFound):
        coordinator.sessions.get(sid)
    [cp] = coordinator.checkpoints.list(sid)
    assert cp.reason == "before-delete"
    result = coordinator.checkpoints.restore(sid)
    assert result.safety_checkpoint is None  # nothing to save: the session was gone
    assert dump(config.db_path, sid) == before


def test_bad_checkpoints_are_refused_and_change_nothing(
    coordinator: MemoryCoordinator, config: Config
) -> None:
    w = populate(coordinator)
    other = coordinator.sessions.create(name="other")
    sid = w["s"].id
    with pytest.raises(NotFound, match="no checkpoint yet"):
        coordinator.checkpoints.restore(sid)
    cp = coordinator.checkpoints.create(sid)
    with pytest.raises(BadInput, match="belongs to session"):
        coordinator.checkpoints.restore(other.id, cp.id)
    with pytest.raises(NotFound):
        coordinator.checkpoints.restore(sid, "cp_missing")
    coordinator.memory.store("note0", "changed", session_id=sid)
    snapshot = dump(config.db_path, sid)
    coordinator.store.write(
        lambda conn: conn.execute("UPDATE checkpoints SET data = x'00ff' WHERE id = ?", (cp.id,))
    )
    with pytest.raises(BadInput, match="damaged"):
        coordinator.checkpoints.restore(sid, cp.id)
    assert dump(config.db_path, sid) == snapshot


def test_automatic_checkpoints_and_pruning(config: Config) -> None:
    # The shared test Redis: without a URL the coordinator would start (and leave) a private one.
    cfg = Config.load(config.data_dir, env={}, redis_url=config.redis_url, checkpoint_keep=2)
    with MemoryCoordinator.open(cfg) as c:
        a = c.sessions.create(name="a")
        b = c.sessions.create(name="b")
        archived = c.sessions.create(name="old")
        c.sessions.archive(archived.id)
        assert c.checkpoints.auto_checkpoint_all() == 2  # active sessions only
        assert c.checkpoints.auto_checkpoint_all() == 0  # nothing changed since
        c.memory.store("k", 1, session_id=a.id)
        assert c.checkpoints.auto_checkpoint_all() == 1
        c.checkpoints.create(a.id, label="mine")
        for i in range(3):
            c.memory.store("k", i + 2, session_id=a.id)
            c.checkpoints.auto_checkpoint_all()
        assert c.checkpoints.prune() == 3  # a had 5 automatic ones; 2 kept
        kinds = [cp.reason for cp in c.checkpoints.list(a.id)]
        assert kinds.count("auto") == 2 and kinds.count("manual") == 1
        assert len(c.checkpoints.list(b.id)) == 1


def test_checkpoint_cli(data_dir: Path, redis_server: Any) -> None:
    sid = run_cli(data_dir, "session", "new", "--name", "cli", check=True).stdout.strip()
    run_cli(data_dir, "memory", "store", "a", "1", "--session", sid, check=True)
    made = run_cli(data_dir, "session", "checkpoint", sid, "--label", "first", check=True)
    cp = made.stdout.strip()
    assert cp.startswith("cp_")
    run_cli(data_dir, "memory", "store", "a", "2", "--session", sid, check=True)
    run_cli(data_dir, "memory", "store", "b", "3", "--session", sid, check=True)
    listed = json.loads(run_cli(data_dir, "session", "checkpoints", sid, "--json").stdout)
    assert [x["id"] for x in listed] == [cp] and listed[0]["counts"]["memory"] == 1
    dry = run_cli(data_dir, "session", "restore", sid, "--dry-run", check=True).stdout
    assert "memory: 1 reverted, 1 removed" in dry
    done = run_cli(data_dir, "session", "restore", sid, check=True).stdout
    assert f"restored {sid} to {cp}" in done and "the state before is checkpoint cp_" in done
    assert run_cli(data_dir, "memory", "get", "a", "--session", sid).stdout.strip() == "1"
    assert run_cli(data_dir, "memory", "get", "b", "--session", sid).returncode == 1
    # Delete, then bring back.
    deleted = run_cli(data_dir, "session", "delete", sid, check=True).stdout
    assert "kept" in deleted
    run_cli(data_dir, "session", "restore", sid, check=True)
    assert run_cli(data_dir, "memory", "get", "a", "--session", sid).stdout.strip() == "1"
    # Bad input: one line, the right exit code, no traceback.
    for args, code in (
        (("session", "restore", sid, "cp_nope"), 1),
        (("session", "checkpoints", "ses_nope"), 1),
        (("session", "checkpoint", sid, "--label", "x" * 500), 2),
    ):
        result = run_cli(data_dir, *args)
        assert result.returncode == code, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
