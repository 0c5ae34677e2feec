"""The search service end to end: real SQLite, the real offline model, real Chroma (both ways).

Every vector test runs twice: against the embedded ``PersistentClient`` and
against a real ``chroma run`` server process on loopback (started once for the
module). The model is loaded once per process; each test opens its own small
data dir.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput
from claude_tui.core.search.memory_index import collection_name, text_hash
from claude_tui.core.search.service import Filters, Fusion, fuse
from claude_tui.core.search.text import entry_text, terms
from tests.chroma_proc import ChromaProcess
from tests.conftest import run_cli

CLOSED_CHROMA_URL = "http://127.0.0.1:1"  # nothing listens on port 1
TOKEN = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"

# (note, a question that asks for it in other words): shares few or no words.
PARAPHRASES: list[tuple[str, str, str]] = [
    (
        "db",
        "The application's records live in PostgreSQL 16 on the primary host.",
        "which database engine keeps our data?",
    ),
    (
        "retry",
        "Failed HTTP calls are attempted again three times with exponential backoff.",
        "what happens when a network request errors out?",
    ),
    (
        "style",
        "Source files are formatted by ruff; lines stop at 100 characters.",
        "how wide may a line of code be?",
    ),
    (
        "deploy",
        "Releases ship to the Kubernetes cluster through Helm charts from CI.",
        "how do we put a new version into production?",
    ),
    (
        "tz",
        "All timestamps are stored in UTC and converted only for display.",
        "which time zone do saved dates use?",
    ),
    (
        "idp",
        "Users sign in with OAuth through the company's Google accounts.",
        "how does a person log into the product?",
    ),
    (
        "cache",
        "Hot lookups are kept in Redis for five minutes before they expire.",
        "where do we memoise frequent reads, and for how long?",
    ),
    (
        "tests",
        "The suite runs with pytest on every push to a branch.",
        "which framework executes our automated checks?",
    ),
    (
        "oncall",
        "The on-call engineer is paged by PagerDuty when the error rate spikes.",
        "who gets woken up when production breaks?",
    ),
    (
        "backup",
        "Nightly snapshots of the database are copied to S3 and kept for 30 days.",
        "how long do we retain copies of the data?",
    ),
]
DISTRACTORS = [
    "The office coffee machine was repaired on Monday.",
    "Team lunch moved to Thursday this week.",
    "The logo uses a dark blue and a light green.",
    "Quarterly planning happens in the big meeting room.",
    "New laptops arrive for the interns next month.",
    "The wiki page about holidays was updated.",
    "Parking spots are assigned by the facilities team.",
    "The newsletter goes out every second Friday.",
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    """One real Chroma server for the module, stopped at its end."""
    server = ChromaProcess(tmp_path_factory.mktemp("chroma"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The Chroma URL of the run (None: the embedded client in the data dir)."""
    if request.param == "embedded":
        return None
    server: ChromaProcess = request.getfixturevalue("chroma_server")
    return server.url


def open_c(root: Path, url: str | None, **over: Any) -> MemoryCoordinator:
    root.mkdir(parents=True, exist_ok=True)
    return MemoryCoordinator.open(
        Config.load(root, env={}, redis_enabled=False, chroma_url=url, **over)
    )


def in_step(c: MemoryCoordinator) -> set[int]:
    """Assert the index holds exactly the non-sensitive entries, each of its current text."""
    indexer = c.search.indexer
    rows = c.store.rows("SELECT id, key, value FROM memory_entries WHERE sensitive = 0")
    wanted = {int(r[0]): text_hash(indexer.model_id, entry_text(r[1], r[2])) for r in rows}
    assert indexer.vectors.all_hashes() == wanted
    return set(wanted)


def ids(results: Any) -> list[str]:
    return [h.entry.key for h in results.hits]


# -- words ---------------------------------------------------------------------------


def test_words_are_stemmed_and_stop_words_dropped(tmp_path: Path) -> None:
    assert terms("What is the timeout of the timed jobs?") == ["timeout", "timed", "jobs"]
    assert terms("the a an") == ["the", "a", "an"]  # nothing but stop-words: kept
    with open_c(tmp_path / "d", CLOSED_CHROMA_URL) as c:
        c.memory.store("job-notes", {"text": "The nightly job timed out twice", "n": 3})
        c.memory.store("other", "unrelated words entirely")
        for query in ("timing of jobs", "jobs that time out", "TIMES"):
            assert ids(c.search.memory(query, mode="text")) == ["job-notes"], query
        # A value is indexed as its words: the JSON's quotes and braces are not terms.
        assert ids(c.search.memory("text", mode="text")) == ["job-notes"]  # a member's name
        hit = c.search.memory("nightly job", mode="text").hits[0]
        assert hit.matched == ("words",) and hit.score == pytest.approx(1.0)
        assert hit.detail["bm25"] > 0


def test_fusion_rewards_agreement_and_keeps_either_half() -> None:
    fused = fuse({"words": [("a", 9.0), ("b", 5.0)], "meaning": [("b", 0.8), ("c", 0.7)]},
                 Fusion(words=1.0, meaning=1.0, k=60))  # fmt: skip
    assert [f[0] for f in fused] == ["b", "a", "c"]
    assert fused[0][2] == ("words", "meaning") and fused[1][2] == ("words",)
    assert fused[0][3] == {"bm25": 5.0, "similarity": 0.8}
    weighted = fuse({"words": [("a", 1.0)], "meaning": [("c", 0.9)]}, Fusion(words=2.0))
    assert [f[0] for f in weighted] == ["a", "c"]


# -- meaning -------------------------------------------------------------------------


def test_paraphrases_are_found_by_meaning(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        for key, note, _ in PARAPHRASES:
            c.memory.store(key, note, session_id=s.id)
        for i, text in enumerate(DISTRACTORS):
            c.memory.store(f"misc-{i}", text, session_id=s.id)
        assert c.search.indexer.drain().embedded == len(PARAPHRASES) + len(DISTRACTORS)
        in_step(c)
        scope = Filters(session_id=s.id)
        at3 = {"hybrid": 0, "semantic": 0, "text": 0}
        for key, _, question in PARAPHRASES:
            for mode in at3:
                try:
                    found = ids(c.search.memory(question, mode=mode, limit=3, filters=scope))
                except BadInput:
                    found = []
                at3[mode] += key in found
        assert at3["hybrid"] >= 9 and at3["semantic"] >= 9, at3
        assert at3["text"] <= 4, at3  # the words alone miss most of them
        # "time" of "three times" matches the retry note by words; meaning still finds tz.
        fused = c.search.memory(PARAPHRASES[4][2], filters=scope, limit=3).hits
        tz = next(h for h in fused if h.entry.key == "tz")
        assert tz.matched == ("meaning",) and tz.score > 0 and tz.detail["similarity"] > 0.3
        assert ids(c.search.memory(PARAPHRASES[4][2], mode="semantic", filters=scope))[0] == "tz"


def test_a_session_never_sees_another_sessions_private_entries_at_any_k(
    tmp_path: Path, backend: str | None
) -> None:
    with open_c(tmp_path / "d", backend) as c:
        a, b = c.sessions.create(), c.sessions.create()
        agent = c.agents.register(a.id, "coder")
        c.memory.store("a-plan", "deploy the billing service on Friday", session_id=a.id)
        c.memory.store("a-agent", "billing deploy checklist", session_id=a.id, agent_id=agent.id)
        c.memory.store("team", "billing deploys need two reviewers")  # shared
        # B's private notes, closer to the query than anything A may see.
        for i in range(120):
            c.memory.store(f"b-{i}", f"billing service deploy on Friday, step {i}", session_id=b.id)
        c.search.indexer.drain()
        query = "deploy the billing service on Friday"
        for mode in ("hybrid", "semantic", "text"):
            for k in (1, 3, 10, 200, 1000):
                got = ids(
                    c.search.memory(query, mode=mode, limit=k, filters=Filters(session_id=a.id))
                )
                assert not any(key.startswith("b-") for key in got), (mode, k)
                # A loses nothing to entries it cannot see: its own best match comes first.
                assert got[0] == "a-plan", (mode, k, got)
                assert set(got) <= {"a-plan", "a-agent", "team"}  # the session's agents' too
                assert len(got) == min(k, 3)
            agent_view = ids(
                c.search.memory(
                    query, mode=mode, limit=10, filters=Filters(session_id=a.id, agent_id=agent.id)
                )
            )
            assert set(agent_view) == {"a-plan", "a-agent", "team"}
            swarm = ids(c.search.memory(query, mode=mode, limit=50))
            assert swarm == ["team"]


def test_secrets_are_never_embedded(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        c.memory.store("github", {"token": TOKEN}, session_id=s.id)
        c.memory.store("db_password", "hunter2-hunter2", session_id=s.id)
        plain = c.memory.store("notes", "rotate the credentials monthly", session_id=s.id)
        c.search.indexer.drain()
        assert in_step(c) == {plain.id}
        secret_query = c.search.memory(TOKEN, mode="semantic", filters=Filters(session_id=s.id))
        assert secret_query.used == ("words",) and "credential" in (secret_query.note or "")
        files = [p for p in (tmp_path / "d" / "chroma").rglob("*") if p.is_file()]
        if backend is None:
            assert files and not any(TOKEN.encode() in p.read_bytes() for p in files)
            assert not any(b"hunter2" in p.read_bytes() for p in files)


# -- index repair after every path that changes entries ------------------------------------


def test_insert_update_and_delete_reach_the_index(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        e = c.memory.store("plan", "use PostgreSQL for storage", session_id=s.id)
        assert c.search.indexer.pending() == c.store.scalar("SELECT count(*) FROM memory_entries")
        c.search.indexer.drain()
        assert in_step(c) == {e.id}
        c.memory.store("plan", "ship the mobile app in spring", session_id=s.id)
        assert c.search.indexer.pending() == 1
        done = c.search.indexer.drain()
        assert (done.embedded, done.removed) == (1, 0)
        in_step(c)
        top = c.search.memory("when is the phone application released?", mode="semantic",
                              filters=Filters(session_id=s.id))  # fmt: skip
        assert ids(top) == ["plan"] and top.hits[0].entry.value == "ship the mobile app in spring"
        c.memory.store("plan", "ship the mobile app in spring", session_id=s.id, ttl=3600)
        assert c.search.indexer.drain().updated == 1  # same text: metadata only, no embedding
        c.memory.delete("plan", session_id=s.id)
        assert c.search.indexer.drain().removed == 1
        assert in_step(c) == set()


def test_ttl_expiry_reaches_the_index(tmp_path: Path, backend: str | None) -> None:
    now = [1_000_000.0]
    root = tmp_path / "d"
    root.mkdir()
    config = Config.load(root, env={}, redis_enabled=False, chroma_url=backend)
    with MemoryCoordinator.open(config, clock=lambda: now[0]) as c:
        s = c.sessions.create()
        c.memory.store("short", "a note that expires soon", session_id=s.id, ttl=60)
        keep = c.memory.store("long", "a note that stays", session_id=s.id)
        c.search.indexer.drain()
        assert len(in_step(c)) == 2
        now[0] += 120
        # Expired but not yet purged: never returned, by words or by meaning.
        assert ids(c.search.memory("note expires", filters=Filters(session_id=s.id))) == ["long"]
        assert c.memory.purge_expired() == 1
        assert c.search.indexer.drain().removed == 1
        assert in_step(c) == {keep.id}


def test_session_delete_reaches_the_index(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        c.memory.store("private", "only this session", session_id=s.id)
        shared = c.memory.store("shared", "for everyone", session_id=s.id, memory_type="shared")
        c.search.indexer.drain()
        c.sessions.delete(s.id)
        c.search.indexer.drain()
        assert in_step(c) == {shared.id}


def test_checkpoint_restore_reaches_the_index(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        c.memory.store("plan", "migrate the queue to Kafka", session_id=s.id)
        c.memory.store("gone-later", "a note removed after the checkpoint", session_id=s.id)
        checkpoint = c.checkpoints.create(s.id, label="before")
        c.search.indexer.drain()
        c.memory.store("plan", "keep RabbitMQ after all", session_id=s.id)
        c.memory.delete("gone-later", session_id=s.id)
        c.memory.store("new", "written after the checkpoint", session_id=s.id)
        c.search.indexer.drain()
        c.checkpoints.restore(s.id, checkpoint.id)
        c.search.indexer.drain()
        in_step(c)
        keys = {h.entry.key for h in c.search.memory(
            "message broker migration", mode="semantic", limit=10,
            filters=Filters(session_id=s.id)).hits}  # fmt: skip
        assert keys == {"plan", "gone-later"}
        assert c.memory.get("plan", session_id=s.id).value == "migrate the queue to Kafka"


def test_backup_restore_reaches_the_index(tmp_path: Path, backend: str | None) -> None:
    from claude_tui.core.durability.backups import BackupService

    root = tmp_path / "d"
    with open_c(root, backend) as c:
        s = c.sessions.create()
        c.memory.store("kept", "in the backup", session_id=s.id)
        BackupService(c.config, c).run("full")
        c.memory.store("after", "written after the backup", session_id=s.id)
        c.memory.store("kept", "changed after the backup", session_id=s.id)
        c.search.indexer.drain()
        config = c.config
    BackupService(config).restore()
    with open_c(root, backend) as c:
        done = c.search.indexer.drain()
        assert done.repaired  # the cursor named a log row the restored database lacks
        in_step(c)
        assert c.memory.get("after", session_id=s.id) is None
        assert [h.entry.value for h in c.search.memory(
            "backup", mode="semantic", limit=1, filters=Filters(session_id=s.id)).hits
        ] == ["in the backup"]  # fmt: skip


def test_sync_apply_reaches_the_index(tmp_path: Path, backend: str | None, own_redis: Any) -> None:
    with open_c(tmp_path / "a", backend, sync_url=own_redis.url) as a:
        a.memory.store("plan", {"text": "adopt trunk-based development"}, memory_type="shared")
    with open_c(tmp_path / "b", backend, sync_url=own_redis.url) as b:  # opening catches up
        assert b.memory.get("plan", memory_type="shared") is not None
        b.search.indexer.drain()
        assert len(in_step(b)) == 1
        assert collection_name(b.store.db_id) != collection_name(a.store.db_id)
        found = b.search.memory("how do we branch in git?", mode="semantic", limit=1)
        assert ids(found) == ["plan"]


def test_rules_that_make_an_entry_secret_take_it_out_of_the_index(tmp_path: Path) -> None:
    root = tmp_path / "d"
    with open_c(root, None) as c:
        s = c.sessions.create()
        c.memory.store("licence", {"number": "ACME-778899"}, session_id=s.id)
        c.search.indexer.drain()
        assert len(in_step(c)) == 1
    (root / "config.toml").write_text('[secrets]\nvalue_pattern = "ACME-[0-9]{6}"\n')
    with open_c(root, None) as c:  # the open re-protects the row (an update in the log)
        assert c.search.indexer.drain().removed == 1
        assert in_step(c) == set()


def test_reindex_rebuilds_from_sqlite(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        for i in range(30):
            c.memory.store(f"k{i}", f"note number {i} about topic {i % 3}", session_id=s.id)
        c.search.indexer.drain()
        c.search.indexer.vectors.remove([1, 2, 3])  # drift: vectors lost
        seen: list[tuple[int, int]] = []
        assert c.search.indexer.reindex(progress=lambda d, t: seen.append((d, t))) == 30
        assert seen[-1] == (30, 30)
        in_step(c)
        c.search.indexer.vectors.remove([4])
        assert c.search.indexer.repair().embedded == 1
        in_step(c)


# -- the index down, cold, or behind ------------------------------------------------------


def test_search_while_the_index_is_down_answers_by_words_and_says_so(tmp_path: Path) -> None:
    with open_c(tmp_path / "d", CLOSED_CHROMA_URL) as c:
        s = c.sessions.create()
        c.memory.store("deploy", "deploys happen on Tuesdays", session_id=s.id)
        for mode in ("hybrid", "semantic"):
            found = c.search.memory("tuesday deploys", mode=mode, filters=Filters(session_id=s.id))
            assert ids(found) == ["deploy"] and found.used == ("words",)
            assert found.note and "words only" in found.note and "unavailable" in found.note
            assert found.hits[0].matched == ("words",)
        patterns = c.search.patterns("anything at all")
        assert patterns.used == ("words",) and "unavailable" in (patterns.note or "")


def test_entries_not_yet_embedded_are_found_by_words(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        s = c.sessions.create()
        c.memory.store("old", "embedded long ago", session_id=s.id)
        c.search.indexer.drain()
        c.memory.store("fresh", "the freshly written entry", session_id=s.id)
        found = c.search.memory("freshly written", filters=Filters(session_id=s.id))
        assert "fresh" in ids(found) and found.pending == 1
        assert found.note and "not embedded yet" in found.note
        caught = c.search.memory("freshly written", filters=Filters(session_id=s.id),
                                 catch_up=True)  # fmt: skip
        assert caught.pending == 0 and "meaning" in caught.hits[0].matched


# -- bad queries -----------------------------------------------------------------------------


def test_bad_queries_get_a_clear_message(tmp_path: Path) -> None:
    with open_c(tmp_path / "d", CLOSED_CHROMA_URL) as c:
        c.memory.store("retro", "The migration ran twice")
        cases = {
            "": "must not be empty",
            "   \n\t": "must not be empty",
            "x" * 10_001: "at most 10,000",
            "bell\x07": "control character (U+0007)",
            "nul\x00": "control character (U+0000)",
            "\ud800": "surrogate",
            "(*)": "no words",
        }
        for query, message in cases.items():
            for mode in ("hybrid", "text", "semantic"):
                with pytest.raises(BadInput, match=re.escape(message)):
                    c.search.memory(query, mode=mode)
        with pytest.raises(BadInput, match="mode"):
            c.search.memory("x", mode="fuzzy")
        with pytest.raises(BadInput, match="limit"):
            c.search.memory("x", limit=0)
        # FTS5 syntax is taken literally, never a syntax error.
        assert ids(c.search.memory('"a AND (', mode="text")) == []  # "a" and "and": no match
        for query in ('migration" NEAR(', "ran* OR -twice", "col:migration", "twice)"):
            assert ids(c.search.memory(query, mode="text")) == ["retro"], query


def test_cli_search_modes_and_bad_queries(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    run_cli(data, "memory", "store", "deploy-day", "production deploys happen on Tuesdays",
            check=True)  # fmt: skip
    cold = run_cli(data, "memory", "search", "when do we ship?", "--json")
    assert cold.returncode == 0 and "not built yet" in cold.stderr
    for query, message in (("", "must not be empty"), ("a\x07b", "control character"),
                           ("y" * 10_001, "at most 10,000")):  # fmt: skip
        bad = run_cli(data, "memory", "search", query)
        assert bad.returncode == 2, bad.stderr
        assert (
            bad.stderr.count("\n") == 1 and message in bad.stderr and "Traceback" not in bad.stderr
        )
    syntax = run_cli(data, "memory", "search", '"deploys AND (', "--mode", "text", "--json")
    assert syntax.returncode == 0 and json.loads(syntax.stdout)[0]["key"] == "deploy-day"
    built = run_cli(data, "memory", "reindex", check=True)
    assert "reindexed 1 memory entries" in built.stdout and "embedding memory" in built.stderr
    run_cli(data, "memory", "store", "lunch", "the canteen opens at noon", check=True)
    found = run_cli(data, "memory", "search", "when do we ship a release?", "--json", check=True)
    hits = json.loads(found.stdout)
    assert hits[0]["key"] == "deploy-day" and "meaning" in hits[0]["matched"]
    assert hits[0]["score"] > 0
    table = run_cli(data, "memory", "search", "noon canteen", "--mode", "text", check=True)
    assert table.stdout.split()[:3] == ["SCORE", "MATCHED", "KEY"] and "lunch" in table.stdout


# -- L1 warming and the hooks' recall -------------------------------------------------------


def test_opening_a_session_warms_its_hot_keys_into_l1(tmp_path: Path) -> None:
    from claude_tui.core.search.warm import warm_session

    root = tmp_path / "d"
    with open_c(root, CLOSED_CHROMA_URL) as c:
        s = c.sessions.create()
        for i in range(20):
            c.memory.store(f"k{i}", i, session_id=s.id)
        c.memory.store("team", "shared")
        for _ in range(3):
            for i in range(5):
                assert c.memory.get(f"k{i}", session_id=s.id) is not None
            assert c.memory.get("team", session_id=s.id) is not None
        c.patterns.add("decision", "use WAL mode", session_id=s.id)
    with open_c(root, CLOSED_CHROMA_URL) as c:
        warmed = warm_session(c, s.id)
        assert (warmed.entries, warmed.absent, warmed.patterns) == (6, 1, 1)
        tiers = [c.memory.get(f"k{i}", session_id=s.id).tier for i in range(5)]  # type: ignore[union-attr]
        assert tiers == ["l1"] * 5
        assert c.memory.get("team", session_id=s.id).tier == "l1"  # type: ignore[union-attr]
        assert c.memory.get("k10", session_id=s.id).tier == "sqlite"  # type: ignore[union-attr]


def test_hybrid_recall_uses_meaning_once_warm_and_words_when_cold(tmp_path: Path) -> None:
    from claude_tui.hooks.recall import HybridRecall, make_recall, warm_recall

    project = "/work/project"
    with open_c(tmp_path / "d", None) as c:
        old = c.sessions.create(metadata={"project": project})
        new = c.sessions.create(metadata={"project": project})
        other = c.sessions.create(metadata={"project": "/elsewhere"})
        c.memory.store("tz", "All timestamps are stored in UTC", session_id=old.id)
        c.memory.store("tz-other", "timestamps are stored in Tokyo time", session_id=other.id)
        c.search.indexer.drain()
    with open_c(tmp_path / "d", None) as c:  # a new process: nothing loaded yet
        prompt = "which time zone do saved dates use?"
        cold = make_recall(c).for_prompt(new.id, project, prompt, 4000, 0.5)
        assert isinstance(make_recall(c), HybridRecall) and cold.mode == "text"
        warm_recall(c).join(timeout=120)
        assert c.search.meaning_loaded()
        warm = make_recall(c).for_prompt(new.id, project, prompt, 4000, 0.5)
        assert warm.mode == "hybrid" and [i.ref for i in warm.items][:1] != []
        texts = [i.text for i in warm.items]
        assert any("UTC" in t for t in texts) and not any("Tokyo" in t for t in texts)
        assert "close in meaning" in warm.items[0].why
        c.search.close()
