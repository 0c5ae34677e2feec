"""The doors' guarantees: collision-free cache keys, redaction that peers see, re-protection."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.models import cache_key, split_cache_key
from claude_tui.core.records import reprotect
from tests.redis_proc import RedisProcess

# Parts that collided when the cache key was a plain join on US (0x1f).
AWKWARD = ["a\x1fb", "a", "b\x1fc", "\x1e", "\x1e1", "\x1f", "x\x1e0y", "é\u200bß", "\x01\x02", ""]


def test_cache_keys_never_collide_and_split_back() -> None:
    triples = {(s, n, k) for s in AWKWARD for n in AWKWARD for k in AWKWARD}
    keys = {cache_key(*t): t for t in triples}
    assert len(keys) == len(triples)  # injective
    assert all(split_cache_key(ck) == t for ck, t in keys.items())


def test_entries_with_control_characters_and_unicode_stay_apart(
    coordinator: MemoryCoordinator,
) -> None:
    s = coordinator.sessions.create()
    pairs = [("a\x1fb", "c"), ("a", "b\x1fc"), ("ns\x1e1", "k"), ("ns\x1f", "k"), ("日本", "鍵")]
    for i, (ns, key) in enumerate(pairs):
        coordinator.memory.store(key, i, namespace=ns, session_id=s.id)
    with MemoryCoordinator.open(coordinator.config) as other:  # a second process's view (L2)
        for i, (ns, key) in enumerate(pairs):
            assert other.memory.get(key, namespace=ns, session_id=s.id).value == i
        assert other.memory.delete("b\x1fc", namespace="a", session_id=s.id)
        assert other.memory.get("b\x1fc", namespace="a", session_id=s.id) is None
    # The neighbour that used to share its cache key still reads, here and from SQLite.
    assert coordinator.memory.get("c", namespace="a\x1fb", session_id=s.id).value == 0
    ckeys = [
        r[0] for r in coordinator.store.rows("SELECT ckey FROM change_log WHERE ckey IS NOT NULL")
    ]
    assert cache_key(f"{s.id}/", "a\x1fb", "c") in ckeys  # the triggers build the same keys


def test_a_peer_sees_the_redacted_form_and_the_owner_the_original(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    secret = "sk-ant-api03-" + "P" * 30

    def host(name: str) -> MemoryCoordinator:
        (tmp_path / name).mkdir()
        cfg = Config.load(tmp_path / name, env={}, redis_enabled=False, sync_url=own_redis.url)
        return MemoryCoordinator.open(cfg)

    with host("a") as a, host("b") as b:
        s = a.sessions.create(name="release")
        task = a.tasks.add(s.id, f"deploy with {secret}", payload={"api_key": "k-123"})
        assert a.sync is not None and b.sync is not None
        a.sync.flush()
        b.sync.consume()
        seen = b.tasks.get(task.id, reveal=True)  # b has no way to open a's seal
        assert secret not in seen.title and f"sealed on host {a.store.node_id}" in seen.title
        assert seen.payload == {"api_key": f"[sealed on host {a.store.node_id}]"}
        mine = a.tasks.get(task.id, reveal=True)
        assert mine.title == f"deploy with {secret}" and mine.payload == {"api_key": "k-123"}
        # b changes the status; a's originals survive the round trip.
        b.tasks.update(task.id, status="in_progress")
        b.sync.flush()
        a.sync.consume()
        back = a.tasks.get(task.id, reveal=True)
        assert back.status == "in_progress" and back.title == f"deploy with {secret}"


def test_rows_written_under_older_rules_are_protected_at_the_next_open(data_dir: Path) -> None:
    config = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        c.memory.store("licence", {"number": "ACME-778899"}, session_id=s.id)
        task = c.tasks.add(s.id, "renew ACME-778899")
        checkpoint = c.checkpoints.create(s.id, label="before")
        assert c.store.scalar("SELECT sensitive FROM memory_entries") == 0
        assert any(
            b"778899" in bytes(r[0]) for r in c.store.rows("SELECT block FROM memory_fts_data")
        )
    (data_dir / "config.toml").write_text('[secrets]\nvalue_pattern = "ACME-[0-9]{6}"\n')
    with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False)) as c:
        assert not reprotect.needed(c.rt)
        row = c.store.row("SELECT sensitive, encrypted, value FROM memory_entries")
        assert row is not None and row[:2] == (1, 1) and "ACME" not in row[2]
        assert c.memory.get("licence", session_id=s.id).value == {"number": "ACME-778899"}
        assert "ACME" not in json.dumps(c.store.rows("SELECT title FROM tasks"))
        assert c.tasks.get(task.id, reveal=True).title == "renew ACME-778899"
        assert c.memory.search("acme", session_id=s.id) == []
        # The index keeps no deleted token, the checkpoint no clear copy.
        blocks = [bytes(r[0]) for r in c.store.rows("SELECT block FROM memory_fts_data")]
        assert not any(b"778899" in b for b in blocks)
        blob = c.store.scalar("SELECT data FROM checkpoints WHERE id = ?", (checkpoint.id,))
        assert b"778899" not in zlib.decompress(blob)
        # And a restore of it brings the values back sealed, readable by their owner.
        c.memory.store("licence", "gone", session_id=s.id)
        c.checkpoints.restore(s.id, checkpoint.id)
        assert c.memory.get("licence", session_id=s.id).value == {"number": "ACME-778899"}
        assert c.store.scalar("SELECT sensitive FROM memory_entries WHERE key = 'licence'") == 1


def test_a_key_that_is_a_credential_is_refused_and_nothing_is_written(
    coordinator: MemoryCoordinator,
) -> None:
    from claude_tui.core.errors import BadInput

    s = coordinator.sessions.create()
    before = coordinator.store.current_seq()
    for key, ns in (("ghp_" + "A" * 36, "default"), ("k", "sk-ant-api03-" + "B" * 30)):
        with pytest.raises(BadInput, match="looks like a credential"):
            coordinator.memory.store(key, "x", namespace=ns, session_id=s.id)
    assert coordinator.store.current_seq() == before
