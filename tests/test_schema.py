"""The store: seed schema whole, WAL, numbered migrations, in-place upgrade, refusals."""

from __future__ import annotations

import sqlite3

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import StoreUnusable
from claude_tui.core.store.connection import connect
from claude_tui.core.store.migrate import migrate
from claude_tui.core.store.schema import LATEST_VERSION

SEED_TABLES = {"sessions", "agents", "tasks", "memory_entries", "neural_patterns", "metrics"}
SEED_INDEXES = {
    "idx_agents_session",
    "idx_tasks_session_status",
    "idx_tasks_parent",
    "idx_memory_session_type",
    "idx_memory_ttl",
    "idx_patterns_type",
    "idx_metrics_type_time",
}
SEED_COLUMNS = {
    "memory_entries": {"id", "session_id", "agent_id", "memory_type", "key", "value", "ttl",
                       "created_at", "accessed_at"},
    "neural_patterns": {"id", "pattern_type", "input_pattern", "output_pattern", "confidence",
                        "usage_count", "last_used"},
    "tasks": {"id", "session_id", "agent_id", "parent_task_id", "status", "priority", "payload",
              "result"},
}  # fmt: skip


def _names(conn: sqlite3.Connection, kind: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def test_new_database_has_the_seed_schema_whole_in_wal_mode(coordinator):
    conn = sqlite3.connect(coordinator.store.path)
    assert _names(conn, "table") >= SEED_TABLES
    assert _names(conn, "index") >= SEED_INDEXES
    assert {"active_sessions", "hot_memory"} <= _names(conn, "view")
    for table, cols in SEED_COLUMNS.items():
        assert cols <= _columns(conn, table)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    recorded = conn.execute("SELECT number FROM schema_migrations ORDER BY number").fetchall()
    assert [r[0] for r in recorded] == list(range(1, LATEST_VERSION + 1))


def test_views_answer(coordinator):
    s = coordinator.sessions.create(name="live")
    coordinator.agents.register(s.id, "coder")
    coordinator.tasks.add(s.id, "open task")
    e = coordinator.memory.store("hot", 1, session_id=s.id)
    coordinator.memory.get("hot", session_id=s.id)
    coordinator.memory.flush_access()
    conn = sqlite3.connect(coordinator.store.path)
    row = conn.execute("SELECT id, agent_count, open_tasks FROM active_sessions").fetchone()
    assert row == (s.id, 1, 1)
    assert [r[0] for r in conn.execute("SELECT id FROM hot_memory")] == [e.id]


def _v1_database(path):
    """A database exactly as migration 1 left it, with data in every seed table."""
    conn = connect(path)
    assert migrate(conn, path, target=1) == [1]
    conn.executescript(
        """
        INSERT INTO sessions VALUES ('s1', 'ann', 'active', 1.0, 2.0, '{"k": 1}');
        INSERT INTO agents VALUES ('a1', 's1', 'coder', 'writer', 'idle', '["py"]', '{}', 1, 1);
        INSERT INTO tasks VALUES ('t1', 's1', 'a1', NULL, 'root', 'pending', 3, '{"x": 1}',
                                  NULL, 1, 1, NULL);
        INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl,
                                    created_at, accessed_at) VALUES
            ('s1', NULL, 'persistent', 'plan', '"ship it"', NULL, 10.0, NULL),
            ('s1', NULL, 'persistent', 'plan', '"older duplicate"', NULL, 5.0, NULL),
            ('s1', 'a1', 'working', 'scratch', '{"n": 2}', NULL, 11.0, NULL),
            (NULL, NULL, 'shared', 'convention', '"tabs"', NULL, 12.0, NULL);
        INSERT INTO neural_patterns VALUES ('p1', 's1', 'error_fix', 'KeyError', 'use get',
                                            0.9, 4, 1.0, 2.0);
        INSERT INTO metrics VALUES (1, 's1', 'a1', 'tokens', 42.0, 1.0, '{}');
        """
    )
    conn.close()


def test_a_migration_1_database_upgrades_in_place_with_nothing_lost(tmp_path, redis_server):
    data = tmp_path / "d"
    _v1_database(data / "claude-tui.db")
    config = Config.load(data, env={}, redis_url=redis_server.url)
    with MemoryCoordinator.open(config) as c:
        assert c.store.applied_migrations == list(range(2, LATEST_VERSION + 1))
        assert c.store.schema_version() == LATEST_VERSION
        assert c.sessions.get("s1").user_id == "ann"
        assert c.agents.get("a1").capabilities == ["py"]
        assert c.tasks.get("t1").payload == {"x": 1}
        assert c.memory.get("plan", session_id="s1").value == "ship it"
        assert c.memory.get("scratch", session_id="s1", agent_id="a1").value == {"n": 2}
        assert c.memory.get("convention").value == "tabs"
        # The v1 duplicate is kept under a new key, not dropped.
        keys = {e.key for e in c.memory.list(session_id="s1")}
        assert any(k.startswith("plan#dup") for k in keys)
        assert c.patterns.get("p1").usage_count == 4
        assert c.metrics.series("tokens")[0].value == 42.0
        # Old rows are searchable after the upgrade.
        assert [e.key for e in c.memory.search("tabs")] == ["convention"]
        # And the upgraded database keeps working.
        c.memory.store("plan", "revised", session_id="s1")
        assert c.memory.get("plan", session_id="s1").value == "revised"


def test_reopening_applies_nothing(config):
    with MemoryCoordinator.open(config) as c:
        assert c.store.applied_migrations == list(range(1, LATEST_VERSION + 1))
    with MemoryCoordinator.open(config) as c:
        assert c.store.applied_migrations == []


def test_a_newer_schema_is_refused_and_left_alone(config):
    MemoryCoordinator.open(config).close()
    conn = sqlite3.connect(config.db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = config.db_path.read_bytes()
    with pytest.raises(StoreUnusable, match="newer than this claude-tui"):
        MemoryCoordinator.open(config)
    assert config.db_path.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"not a database at all\n" * 10, bytes(range(256)) * 8], ids=["text", "binary"]
)
def test_a_non_sqlite_file_is_refused_and_left_alone(config, content):
    config.db_path.write_bytes(content)
    with pytest.raises(StoreUnusable, match="not a SQLite database"):
        MemoryCoordinator.open(config)
    assert config.db_path.read_bytes() == content


def test_another_programs_sqlite_file_is_refused(config):
    conn = sqlite3.connect(config.db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(StoreUnusable, match="another program"):
        MemoryCoordinator.open(config)
    conn = sqlite3.connect(config.db_path)
    assert _names(conn, "table") == {"invoices"}


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    from claude_tui.core.store import schema

    path = tmp_path / "x.db"
    conn = connect(path)
    migrate(conn, path, target=1)
    broken = schema.Migration(2, "broken", "ALTER TABLE sessions ADD COLUMN name TEXT; SELECT x;")
    monkeypatch.setattr("claude_tui.core.store.migrate.MIGRATIONS", (schema.MIGRATIONS[0], broken))
    with pytest.raises(StoreUnusable, match="migration 2"):
        migrate(conn, path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "name" not in _columns(conn, "sessions")


def test_migration_12_moves_a_values_context_member_into_its_own_column(tmp_path):
    """Entries written under migration 11 are re-indexed: context words in their own column."""
    path = tmp_path / "x.db"
    conn = connect(path)
    assert migrate(conn, path, target=11)[-1] == 11
    rows = [
        ("ann D1:1", '{"text": "we adopted postgres", "context": "Bob: redis again"}', 0),
        ("bob D1:2", '{"text": "redis is our cache"}', 0),
        ("plain", "not json at all, redis", 0),
        ("api", '{"token": "sealed", "context": "quokkafish"}', 1),
    ]
    conn.executemany(
        "INSERT INTO memory_entries (memory_type, key, value, created_at, sensitive) "
        "VALUES ('persistent', ?, ?, 1.0, ?)",
        rows,
    )
    assert migrate(conn, path, target=12) == [12]

    def where(query: str) -> list[str]:
        return [r[0] for r in conn.execute(
            "SELECT m.key FROM memory_fts JOIN memory_entries m ON m.id = memory_fts.rowid "
            "WHERE memory_fts MATCH ? ORDER BY m.key", (query,))]  # fmt: skip

    assert where("context : redis") == ["ann D1:1"]
    assert where("value : redis") == ["bob D1:2", "plain"]
    assert where("value : postgres") == ["ann D1:1"] and where("quokkafish") == []
    assert where("key : ann") == ["ann D1:1"]
    # The triggers keep it: an update moves the words, a delete removes them.
    conn.execute(
        "UPDATE memory_entries SET value = '{\"context\": \"swimming\"}' WHERE key = 'bob D1:2'"
    )
    assert where("redis") == ["ann D1:1", "plain"] and where("context : swim") == ["bob D1:2"]
    conn.execute("DELETE FROM memory_entries WHERE key = 'ann D1:1'")
    assert where("redis") == ["plain"]
    conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')")
    conn.close()


def test_migration_13_counts_growth_per_day_from_an_index(tmp_path):
    """The Metrics screen's per-day growth (metrics.growth_by_day's query) reads an index."""
    path = tmp_path / "x.db"
    conn = connect(path)
    assert migrate(conn, path, target=12)[-1] == 12
    day = 86_400.0
    conn.executemany(
        "INSERT INTO memory_entries (memory_type, key, value, created_at) "
        "VALUES ('persistent', ?, 'v', ?)",
        [(f"k{i}", 1_700_000_000.0 + (i % 40) * day) for i in range(400)],
    )
    query = "SELECT count(*) FROM {} WHERE created_at >= ? AND created_at < ?"

    def plan(table: str) -> str:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {query.format(table)}", (0.0, 1.0)).fetchall()
        return " ".join(str(r[-1]) for r in rows)

    assert "idx_memory_created" not in plan("memory_entries")
    assert migrate(conn, path, target=13) == [13]
    assert "USING COVERING INDEX idx_memory_created" in plan("memory_entries")
    assert "USING COVERING INDEX idx_patterns_created" in plan("neural_patterns")


def _storage_by_pass(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """What migration 14's table must hold: the pass over every entry it replaces."""
    return conn.execute(
        "SELECT coalesce(CASE WHEN scope = 'swarm' THEN NULL ELSE session_id END, ''), "
        "count(*), coalesce(sum(length(value)), 0) FROM memory_entries GROUP BY 1 ORDER BY 1"
    ).fetchall()


def _storage_kept(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    return conn.execute("SELECT bucket, entries, bytes FROM memory_storage ORDER BY 1").fetchall()


def _created_by_pass(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    return conn.execute(
        "SELECT CAST(created_at / 900 AS INTEGER), count(*) FROM memory_entries GROUP BY 1 "
        "ORDER BY 1"
    ).fetchall()


def _created_kept(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    return conn.execute("SELECT quarter, entries FROM memory_created ORDER BY 1").fetchall()


def test_migration_14_keeps_each_sessions_memory_size_through_every_write(tmp_path):
    """Entries and bytes per session, entries per quarter hour created: filled from
    what is there, then kept by triggers.

    Inserts, value updates, moves between sessions and into shared scope, a new
    creation time, deletes (one row and a whole session's): after each, both tables
    equal the full pass, and a bucket emptied of entries is gone.
    """
    import random

    path = tmp_path / "x.db"
    conn = connect(path)
    assert migrate(conn, path, target=13)[-1] == 13
    for sid in ("s1", "s2", "s3"):
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at) VALUES (?, ?, 1.0, 1.0)",
            (sid, sid),
        )
    insert = (
        "INSERT INTO memory_entries (memory_type, key, value, created_at, scope, session_id) "
        "VALUES ('persistent', ?, ?, ?, ?, ?)"
    )
    rng = random.Random(7)
    start = 1_764_000_000.0
    scopes = [("session", "s1"), ("session", "s2"), ("swarm", None), ("swarm", "s3")]
    for i in range(60):
        at = start + rng.uniform(0, 3 * 3600)
        conn.execute(insert, (f"k{i}", "v" * rng.randrange(0, 50), at, *rng.choice(scopes)))
    assert migrate(conn, path) == [14]
    assert _storage_kept(conn) == _storage_by_pass(conn) != []
    assert _created_kept(conn) == _created_by_pass(conn) != []
    steps = [
        (insert, ("new", "ünïcode ✓", start + 86_400.0, "session", "s3")),
        ("UPDATE memory_entries SET created_at = created_at + 7200 WHERE key = 'k0'", ()),
        ("UPDATE memory_entries SET value = 'short' WHERE key = 'k1'", ()),
        ("UPDATE memory_entries SET value = '' WHERE key = 'k2'", ()),
        ("UPDATE memory_entries SET session_id = 's2' WHERE key IN ('k3', 'k4')", ()),
        ("UPDATE memory_entries SET scope = 'swarm', session_id = NULL WHERE key = 'k5'", ()),
        ("UPDATE memory_entries SET key = 'renamed' WHERE key = 'k6'", ()),
        ("DELETE FROM memory_entries WHERE key = 'k7'", ()),
        ("DELETE FROM memory_entries WHERE session_id = 's1' AND scope = 'session'", ()),
    ]
    for sql, params in steps:
        conn.execute(sql, params)
        assert _storage_kept(conn) == _storage_by_pass(conn), sql
        assert _created_kept(conn) == _created_by_pass(conn), sql
    assert "s1" not in {bucket for bucket, _, _ in _storage_kept(conn)}
    conn.execute("DELETE FROM memory_entries")
    assert _storage_kept(conn) == [] and _created_kept(conn) == []
