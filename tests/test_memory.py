"""Memory entries: scopes and visibility, TTL, full-text search, access tracking, change log."""

from __future__ import annotations

import sqlite3
import time

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput


class Clock:
    """A clock the test moves by hand (the coordinator takes its time from it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(config: Config, clock: Clock):
    with MemoryCoordinator.open(config, clock=clock) as c:
        yield c


@pytest.fixture
def swarm(coordinator):
    """Two sessions with an agent each."""
    a = coordinator.sessions.create(name="A")
    b = coordinator.sessions.create(name="B")
    return {
        "a": a.id,
        "b": b.id,
        "agent_a": coordinator.agents.register(a.id, "coder").id,
        "agent_b": coordinator.agents.register(b.id, "tester").id,
    }


# -- visibility --------------------------------------------------------------
def test_private_memory_stays_in_its_session(coordinator, swarm):
    m = coordinator.memory
    m.store("plan", "A's plan", session_id=swarm["a"], memory_type="persistent")
    m.store("note", "A's agent note", session_id=swarm["a"], agent_id=swarm["agent_a"])
    assert m.get("plan", session_id=swarm["a"]).value == "A's plan"
    assert m.get("plan", session_id=swarm["b"]) is None
    assert m.get("plan") is None
    assert m.get("note", session_id=swarm["b"], agent_id=swarm["agent_b"]) is None
    # An agent cannot borrow another session to read its memory.
    with pytest.raises(BadInput, match="does not belong"):
        m.get("plan", session_id=swarm["a"], agent_id=swarm["agent_b"])
    assert [e.key for e in m.list(session_id=swarm["b"])] == []
    assert [e.key for e in m.search("plan", session_id=swarm["b"])] == []
    assert {e.key for e in m.list(session_id=swarm["a"])} == {"plan", "note"}


def test_shared_memory_is_visible_to_the_swarm(coordinator, swarm):
    m = coordinator.memory
    m.store("convention", "tabs", memory_type="shared", session_id=swarm["a"])
    assert m.get("convention", session_id=swarm["b"], agent_id=swarm["agent_b"]).value == "tabs"
    assert m.get("convention").value == "tabs"
    assert [e.key for e in m.list(session_id=swarm["b"])] == ["convention"]
    # Deleting the writing session keeps what the swarm learned.
    coordinator.sessions.delete(swarm["a"])
    assert m.get("convention").value == "tabs"


def test_private_scope_wins_over_shared_and_agent_over_session(coordinator, swarm):
    m, a, agent = coordinator.memory, swarm["a"], swarm["agent_a"]
    m.store("style", "swarm", memory_type="shared")
    assert m.get("style", session_id=a, agent_id=agent).value == "swarm"
    m.store("style", "session", session_id=a)
    assert m.get("style", session_id=a, agent_id=agent).value == "session"
    m.store("style", "agent", session_id=a, agent_id=agent, memory_type="working")
    assert m.get("style", session_id=a, agent_id=agent).value == "agent"
    assert m.get("style", session_id=a).value == "session"
    assert m.get("style", memory_type="shared").value == "swarm"
    assert m.get("style", session_id=a, agent_id=agent, memory_type="persistent").value == "session"


def test_namespaces_separate_keys(coordinator, swarm):
    m = coordinator.memory
    m.store("k", 1, session_id=swarm["a"], namespace="x")
    m.store("k", 2, session_id=swarm["a"], namespace="y")
    assert m.get("k", session_id=swarm["a"], namespace="x").value == 1
    assert m.get("k", session_id=swarm["a"], namespace="y").value == 2
    assert m.get("k", session_id=swarm["a"]) is None
    assert [e.value for e in m.list(session_id=swarm["a"], namespace="y")] == [2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session_id": "ses_nope"}, "unknown session"),
        ({"agent_id": "agt_nope"}, "unknown agent"),
        ({"memory_type": "episodic"}, "memory type must be"),
        ({"memory_type": "working"}, "belongs to a session"),
        ({"ttl": -1}, "positive"),
        ({"ttl": "soon"}, "number of seconds"),
        ({"ttl": float("nan")}, "positive"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(coordinator, kwargs, message):
    before = coordinator.store.current_seq()
    with pytest.raises(BadInput, match=message):
        coordinator.memory.store("k", "v", **kwargs)
    assert coordinator.store.current_seq() == before


def test_values_must_be_json_and_within_the_size_limit(data_dir, redis_server):
    config = Config.load(data_dir, env={}, redis_url=redis_server.url, max_value_bytes=64)
    with MemoryCoordinator.open(config) as c:
        s = c.sessions.create()
        before = c.store.current_seq()
        with pytest.raises(BadInput, match="over the limit"):
            c.memory.store("big", "x" * 100, session_id=s.id)
        with pytest.raises(BadInput, match="JSON"):
            c.memory.store("nan", float("nan"), session_id=s.id)
        with pytest.raises(BadInput, match="JSON"):
            c.memory.store("obj", object(), session_id=s.id)
        assert c.store.current_seq() == before


# -- TTL -----------------------------------------------------------------------
def test_an_expired_entry_is_invisible_to_every_read_the_instant_it_expires(timed, clock):
    s = timed.sessions.create()
    m = timed.memory
    m.store("temp", {"v": 1}, session_id=s.id, memory_type="working", ttl=10)
    m.store("keep", {"v": 2}, session_id=s.id, memory_type="working")
    assert m.get("temp", session_id=s.id).tier == "l1"
    clock.now += 9.999
    assert m.get("temp", session_id=s.id).value == {"v": 1}
    clock.now += 0.002
    assert m.get("temp", session_id=s.id) is None  # L1 held it: still invisible
    timed.rt.l1.clear()
    assert m.get("temp", session_id=s.id) is None  # L2 held it
    assert m.get("temp", session_id=s.id, memory_type="working") is None
    assert [e.key for e in m.list(session_id=s.id)] == ["keep"]
    assert m.search("temp", session_id=s.id) == []
    assert m.count(session_id=s.id) == 1
    # The row is still on disk until the purge job removes it.
    conn = sqlite3.connect(timed.store.path)
    assert conn.execute("SELECT count(*) FROM memory_entries WHERE key = 'temp'").fetchone()[0] == 1
    assert m.purge_expired() == 1
    assert conn.execute("SELECT count(*) FROM memory_entries WHERE key = 'temp'").fetchone()[0] == 0
    assert m.get("keep", session_id=s.id).value == {"v": 2}


def test_ttl_expires_across_processes_on_each_ones_clock(coordinator, redis_server):
    s = coordinator.sessions.create()
    coordinator.memory.store("blink", "now you see me", session_id=s.id, ttl=1)
    later = [time.time()]  # another coordinator's clock, moved on by hand (no sleep)
    with MemoryCoordinator.open(coordinator.config, clock=lambda: later[0]) as other:
        first = other.memory.get("blink", session_id=s.id)
        assert first is not None and first.value == "now you see me"
        assert first.tier in ("l2", "sqlite")  # and now in other's L1 as well
        later[0] += 2.0  # past the TTL: L1, L2 and SQLite each check it against the clock
        assert other.memory.get("blink", session_id=s.id) is None
    # A fresh coordinator, past the TTL on its clock, reads it from Redis or SQLite: gone.
    with MemoryCoordinator.open(coordinator.config, clock=lambda: time.time() + 2.0) as fresh:
        assert fresh.memory.get("blink", session_id=s.id) is None


def test_rewriting_without_ttl_clears_the_expiry(timed, clock):
    s = timed.sessions.create()
    timed.memory.store("k", 1, session_id=s.id, ttl=5)
    timed.memory.store("k", 2, session_id=s.id)
    clock.now += 60
    assert timed.memory.get("k", session_id=s.id).value == 2


# -- full-text search --------------------------------------------------------------
def test_full_text_search_follows_writes_updates_and_deletes(coordinator, swarm):
    m, a = coordinator.memory, swarm["a"]
    m.store("deploy-notes", {"text": "Rollback the canary when latency spikes"}, session_id=a)
    m.store("retro", "The migration ran twice", session_id=a)
    assert [e.key for e in m.search("canary", session_id=a)] == ["deploy-notes"]
    assert [e.key for e in m.search("deploy", session_id=a)] == ["deploy-notes"]  # key match
    assert [e.key for e in m.search("lat", session_id=a)] == ["deploy-notes"]  # prefix match
    m.store("deploy-notes", {"text": "Blue/green from now on"}, session_id=a)
    assert m.search("canary", session_id=a) == []
    assert [e.key for e in m.search("green", session_id=a)] == ["deploy-notes"]
    m.delete("deploy-notes", session_id=a)
    assert m.search("green", session_id=a) == []
    with pytest.raises(BadInput):
        m.search("   ", session_id=a)
    # Characters that mean something to FTS5 are taken literally, never a syntax error.
    assert m.search('"migration" (twice*', session_id=a)[0].key == "retro"
    conn = sqlite3.connect(coordinator.store.path)
    assert conn.execute("INSERT INTO memory_fts(memory_fts) VALUES ('integrity-check')")


def test_secrets_are_flagged_kept_out_of_search_and_out_of_redis(coordinator, swarm):
    import redis

    m, a = coordinator.memory, swarm["a"]
    entry = m.store("github_token", "ghp_" + "a" * 36, session_id=a)
    assert entry.sensitive
    m.store("notes", "token rotation schedule", session_id=a)
    assert m.get("github_token", session_id=a).value == "ghp_" + "a" * 36
    assert [e.key for e in m.search("ghp", session_id=a)] == []
    client = redis.Redis.from_url(coordinator.rt.l2.url)
    blobs = b"".join(client.get(k) or b"" for k in client.keys("*"))
    assert b"notes" in blobs  # ordinary entries are in L2 ...
    assert b"ghp_" not in blobs and b"github_token" not in blobs  # ... secrets never


# -- access tracking and change log -----------------------------------------------
def test_reads_are_counted_in_batches(coordinator, swarm):
    m = coordinator.memory
    e = m.store("popular", 1, session_id=swarm["a"])
    for _ in range(5):
        m.get("popular", session_id=swarm["a"])
    m.flush_access()
    fresh = m.list(session_id=swarm["a"])[0]
    assert fresh.id == e.id and fresh.access_count == 5 and fresh.accessed_at is not None
    # Counting reads is not a change: the change log did not grow.
    seq = coordinator.store.current_seq()
    m.get("popular", session_id=swarm["a"])
    m.flush_access()
    assert coordinator.store.current_seq() == seq


def test_every_mutation_is_logged_in_its_own_transaction(coordinator):
    s = coordinator.sessions.create()
    agent = coordinator.agents.register(s.id, "coder")
    task = coordinator.tasks.add(s.id, "t")
    coordinator.tasks.update(task.id, status="in_progress")
    e = coordinator.memory.store("k", 1, session_id=s.id)
    coordinator.memory.delete("k", session_id=s.id)
    coordinator.metrics.record("tokens", 5, session_id=s.id)
    conn = sqlite3.connect(coordinator.store.path)
    log = conn.execute("SELECT tbl, op, row_id FROM change_log ORDER BY seq").fetchall()
    assert log == [
        ("sessions", "insert", s.id),
        ("agents", "insert", agent.id),
        ("tasks", "insert", task.id),
        ("tasks", "update", task.id),
        ("memory_entries", "insert", str(e.id)),
        ("memory_entries", "delete", str(e.id)),
        ("metrics", "insert", "1"),
    ]


def test_a_failed_transaction_logs_nothing(coordinator):
    s = coordinator.sessions.create()
    seq = coordinator.store.current_seq()

    def body(conn):
        conn.execute(
            "INSERT INTO memory_entries (session_id, memory_type, key, value, created_at, scope)"
            " VALUES (?, 'persistent', 'x', '1', 0, ?)",
            (s.id, f"{s.id}/"),
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        coordinator.store.write(body)
    assert coordinator.store.current_seq() == seq
    assert coordinator.memory.get("x", session_id=s.id) is None


def test_local_writes_publish_change_events(coordinator):
    seen = []
    coordinator.events.subscribe(seen.extend)
    s = coordinator.sessions.create()
    coordinator.memory.store("k", 1, session_id=s.id)
    assert [(e.table, e.op) for e in seen] == [("sessions", "insert"), ("memory_entries", "upsert")]
