"""The search service end to end: real SQLite, the real offline model, real Chroma (both ways).

Every vector test runs twice: against the embedded ``PersistentClient`` and
against a real ``chroma run`` server process on loopback (started once for the
module). The model is loaded once per process; each test opens its own small
data dir.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput
from claude_tui.core.search.memory_index import collection_name, embed_text, text_hash
from claude_tui.core.search.service import DEFAULT_FUSION, Filters, Fusion, fuse
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


def test_the_default_fusion_puts_both_halves_firsts_on_top_the_closer_meaning_first() -> None:
    """Equal weights: a paraphrase the words miss is not outranked by a shared word.

    The words' first and the meaning's first tie; the tie goes to the closer
    meaning, and both come before anything found lower by one half only.
    """
    assert DEFAULT_FUSION.words == DEFAULT_FUSION.meaning
    lists = {
        "words": [("shares-a-word", 9.0), ("w2", 5.0), ("w3", 4.0)],
        "meaning": [("paraphrase", 0.8), ("m2", 0.7), ("m3", 0.6)],
    }
    fused = fuse(lists, DEFAULT_FUSION)
    assert [f[0] for f in fused][:2] == ["paraphrase", "shares-a-word"]
    assert fused[0][1] == fused[1][1] == pytest.approx(0.5)
    # Found by both halves, second in each, it beats either first alone.
    both = fuse({"words": [("w", 9.0), ("b", 5.0)], "meaning": [("m", 0.8), ("b", 0.7)]},
                DEFAULT_FUSION)  # fmt: skip
    assert both[0][0] == "b" and both[0][2] == ("words", "meaning")


# -- meaning -------------------------------------------------------------------------


def paraphrases_found(c: MemoryCoordinator, modes: tuple[str, ...]) -> tuple[Filters, dict]:
    """Store the notes and distractors in a new session, index them, and count, per mode,
    the questions that find their note in the top 3. Returns the session's scope too."""
    s = c.sessions.create()
    for key, note, _ in PARAPHRASES:
        c.memory.store(key, note, session_id=s.id)
    for i, text in enumerate(DISTRACTORS):
        c.memory.store(f"misc-{i}", text, session_id=s.id)
    assert c.search.indexer.drain().embedded == len(PARAPHRASES) + len(DISTRACTORS)
    in_step(c)
    scope = Filters(session_id=s.id)
    at3 = dict.fromkeys(modes, 0)
    for key, _, question in PARAPHRASES:
        for mode in modes:
            try:
                found = ids(c.search.memory(question, mode=mode, limit=3, filters=scope))
            except BadInput:  # text mode: a question of stop-words only
                found = []
            at3[mode] += key in found
    return scope, at3


def test_paraphrases_are_found_by_meaning(tmp_path: Path, backend: str | None) -> None:
    with open_c(tmp_path / "d", backend) as c:
        scope, at3 = paraphrases_found(c, ("hybrid", "semantic", "text"))
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


# --- query path / transcripts (task B) ----------------------------------------------------


def _transcript(path: Path, claude_id: str, turns: list[tuple[str, str]]) -> Path:
    """A Claude Code transcript (JSONL) of user prompts and assistant replies."""
    lines, parent = [], None
    for i, (role, text) in enumerate(turns):
        uid = f"{claude_id}-{i:04d}"
        content: Any = text if role == "user" else [{"type": "text", "text": text}]
        lines.append(
            json.dumps(
                {
                    "type": role,
                    "uuid": uid,
                    "parentUuid": parent,
                    "sessionId": claude_id,
                    "isSidechain": False,
                    "timestamp": f"2026-01-01T00:00:{i:02d}Z",
                    "message": {"role": role, "content": content},
                }
            )
        )
        parent = uid
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_values_context_member_is_indexed_in_its_own_lower_weighted_column(
    tmp_path: Path,
) -> None:
    with open_c(tmp_path / "d", CLOSED_CHROMA_URL) as c:
        s = c.sessions.create()
        c.memory.store("ann D1:1", {"text": "we adopted postgres", "context": "Bob: redis again"},
                       session_id=s.id)  # fmt: skip
        c.memory.store("bob D1:2", {"text": "redis is our cache"}, session_id=s.id)
        c.memory.store("cfg", {"context": {"why": ["zebracorn", 7]}}, session_id=s.id)
        c.memory.store("api", {"token": TOKEN, "context": "quokkafish"}, session_id=s.id)
        scope = Filters(session_id=s.id)
        assert ids(c.search.memory("redis", mode="text", filters=scope)) == ["bob D1:2", "ann D1:1"]
        found = c.search.memory("zebracorn", mode="text", filters=scope)
        assert ids(found) == ["cfg"]

        def column(name: str, word: str) -> list[str]:
            return [r[0] for r in c.store.rows(
                "SELECT m.key FROM memory_fts JOIN memory_entries m ON m.id = memory_fts.rowid "
                "WHERE memory_fts MATCH ? ORDER BY m.key", (f"{name} : {word}",))]  # fmt: skip

        assert column("context", "redis") == ["ann D1:1"]  # the context's words, in its column
        assert column("value", "redis") == ["bob D1:2"]  # not also in the value column
        assert column("context", "context") == [] and column("context", "why") == ["cfg"]
        assert column("value", "postgres") == ["ann D1:1"] and column("value", "ann") == []
        # A sensitive entry's context is never indexed; an edit moves the words.
        assert c.search.memory("quokkafish", mode="text", filters=scope).hits == []
        c.memory.store("ann D1:1", {"text": "we adopted postgres", "context": "nothing"},
                       session_id=s.id)  # fmt: skip
        assert column("context", "redis") == [] and column("context", "nothing") == ["ann D1:1"]
        c.memory.delete("cfg", session_id=s.id)
        assert column("context", "zebracorn") == []
        c.store.write(lambda conn: conn.execute(
            "INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')"))  # fmt: skip


def test_the_context_column_follows_re_protection_under_new_secret_rules(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with open_c(data, CLOSED_CHROMA_URL) as c:
        s = c.sessions.create()
        c.memory.store("licence", {"text": "renewed", "context": "ACME-778899"}, session_id=s.id)
        assert ids(c.search.memory("778899", mode="text", filters=Filters(session_id=s.id)))
    (data / "config.toml").write_text('[secrets]\nvalue_pattern = "ACME-[0-9]{6}"\n')
    with open_c(data, CLOSED_CHROMA_URL) as c:
        assert c.store.scalar("SELECT sensitive FROM memory_entries") == 1
        scope = Filters(session_id=s.id)
        assert c.search.memory("778899", mode="text", filters=scope).hits == []
        assert c.search.memory("renewed", mode="text", filters=scope).hits == []
        blocks = [bytes(r[0]) for r in c.store.rows("SELECT block FROM memory_fts_data")]
        assert not any(b"778899" in b for b in blocks)


def test_the_meaning_half_matches_an_exact_search_and_learns_the_visible_share(
    tmp_path: Path,
) -> None:
    """20 sessions of 10 notes: a session sees 5%; its search must equal an exact one."""
    from claude_tui.core.search import service as svc

    with open_c(tmp_path / "d", None) as c:
        sessions = [c.sessions.create().id for _ in range(20)]
        for i in range(200):
            note = PARAPHRASES[i % len(PARAPHRASES)][1]
            text = f"{DISTRACTORS[i % len(DISTRACTORS)]} {note} #{i}"
            c.memory.store(f"n{i}", text, session_id=sessions[i % 20])
        c.search.indexer.drain()
        me = Filters(session_id=sessions[3])
        vectors = c.search.indexer.vectors
        asked: list[int] = []
        nearest = vectors.nearest

        def counted(vector: Any, n: int, among: Any = None) -> Any:
            asked.append(n)
            return nearest(vector, n, among)

        vectors.nearest = counted  # type: ignore[method-assign]
        fusion = Fusion(depth=5)
        corpus = c.search.corpora["memory"]
        query = "which time zone do saved dates use?"
        first = c.search.memory(query, mode="semantic", limit=5, filters=me, fusion=fusion)
        visible = [int(r[0]) for r in c.store.rows(
            "SELECT id FROM memory_entries WHERE session_id = ?", (sessions[3],))]  # fmt: skip
        vector, _ = c.learning.embed_query(query)
        exact = vectors.exact_among(vector, visible, 5)
        assert [int(h.ref) for h in first.hits] == [i for i, _ in exact]
        assert {h.entry.session_id for h in first.hits} == {sessions[3]}
        share = corpus._share[me]  # type: ignore[attr-defined]
        assert svc.MIN_SHARE <= share < svc.FIRST_SHARE  # 5% seen, remembered for the scope
        calls = len(asked)
        again = c.search.memory(query, mode="semantic", limit=5, filters=me, fusion=fusion)
        assert [h.ref for h in again.hits] == [h.ref for h in first.hits]
        assert len(asked) - calls <= calls and len(asked) - calls == 1
        c.search.close()


def test_hybrid_answers_the_same_with_its_halves_side_by_side_or_in_turn(tmp_path: Path) -> None:
    with open_c(tmp_path / "d", None) as c:
        s = c.sessions.create()
        for key, note, _ in PARAPHRASES:
            c.memory.store(key, note, session_id=s.id)
        for i, text in enumerate(DISTRACTORS):
            c.memory.store(f"d{i}", text)
        c.search.indexer.drain()
        scope = Filters(session_id=s.id)
        c.search.warm_up()
        assert c.search.meaning_loaded()  # the halves run side by side
        for _, _, question in PARAPHRASES[:4]:
            beside = c.search.memory(question, filters=scope)
            c.search.meaning_loaded = lambda: False  # type: ignore[method-assign]
            try:
                in_turn = c.search.memory(question, filters=scope)
            finally:
                del c.search.meaning_loaded
            assert beside.used == in_turn.used == ("words", "meaning")
            assert [(h.ref, round(h.score, 6)) for h in beside.hits] == [
                (h.ref, round(h.score, 6)) for h in in_turn.hits
            ]
        c.search.close()


def test_transcript_turns_are_a_third_source_seen_by_their_session_only(tmp_path: Path) -> None:
    from claude_tui.mcp.identity import Identity
    from claude_tui.mcp.tools import MemoryTools

    data = tmp_path / "d"
    mine = _transcript(tmp_path / "mine.jsonl", "c-mine", [
        ("user", "how do we rotate the deploy keys?"),
        ("assistant", f"Rotate them with the vault CLI; the old one was {TOKEN} and is revoked."),
        ("user", "and the staging cluster?"),
        ("assistant", "Staging deploys read the same vault path."),
    ])  # fmt: skip
    theirs = _transcript(tmp_path / "theirs.jsonl", "c-theirs", [
        ("user", "the deploy keys of the other team live in a spreadsheet"),
    ])  # fmt: skip
    with open_c(data, CLOSED_CHROMA_URL) as c:
        a = c.sessions.create(metadata={"transcript_path": str(mine)})
        b = c.sessions.create(metadata={"transcript_path": str(theirs)})
        bare = c.sessions.create()  # typed by hand: no transcript
        c.memory.store("deploy-keys", "rotated every 90 days", session_id=a.id)
        found = c.search.search("deploy keys vault", corpus="transcript",
                                filters=Filters(session_id=a.id))  # fmt: skip
        turns = [h.turn for h in found.hits]
        assert {t.session_id for t in turns} == {a.id}
        # Line 1 holds all three words' two rarest; 4 two of them; 2 one.
        assert [t.line for t in turns] == [1, 4, 2]
        assert found.used == ("words",) and found.note is not None and "words only" in found.note
        redacted = next(t for t in turns if t.line == 2)
        assert TOKEN not in redacted.snippet and TOKEN[:12] not in redacted.snippet
        assert "[sealed on host" in redacted.snippet and "vault" in redacted.snippet
        assert found.hits[2].ref == f"{a.id}:2:0"
        for scope in (Filters(), Filters(session_id=bare.id)):
            assert c.search.search("deploy", corpus="transcript", filters=scope).hits == []
        everyone = c.search.search(
            "deploy", corpus="transcript", filters=Filters(all_sessions=True)
        )
        assert {h.turn.session_id for h in everyone.hits} == {a.id, b.id}
        both = c.search.search_many("deploy keys", ["memory", "transcript"], mode="text",
                                    filters=Filters(session_id=a.id))  # fmt: skip
        assert {h.kind for h in both.hits} == {"memory", "transcript"}
        assert [h.score for h in both.hits] == sorted((h.score for h in both.hits), reverse=True)
        # Hybrid asks for both halves; found by words only (no index here, none for
        # transcripts), the best of each source scores what first by words is worth:
        # the words' weight over both weights (the best possible fused score is 1).
        mixed = c.search.search_many("deploy keys", ["memory", "transcript"],
                                     filters=Filters(session_id=a.id))  # fmt: skip
        first_by_words = DEFAULT_FUSION.words / (DEFAULT_FUSION.words + DEFAULT_FUSION.meaning)
        assert max(h.score for h in mixed.hits) == pytest.approx(first_by_words)
        assert "memory: found by words only" in (mixed.note or "")
        assert "transcript: found by words only: transcripts have no vector index" in mixed.note
        tools = MemoryTools(c, Identity(b.id))
        answer = tools.memory_search("deploy keys", mode="text", source="all")
        assert {h["session_id"] for h in answer["hits"]} == {b.id}
        assert (
            answer["hits"][0]["source"] == "transcript"
            and "spreadsheet" in answer["hits"][0]["text"]
        )
    cli = run_cli(data, "memory", "search", "vault", "--source", "transcripts", "--session", a.id,
                  "--json", check=True)  # fmt: skip
    listed = json.loads(cli.stdout)
    assert [(h["source"], h["line"]) for h in listed] == [("transcript", 4), ("transcript", 2)]
    assert TOKEN not in cli.stdout + cli.stderr
    table = run_cli(data, "memory", "search", "deploy", "--source", "all", "--session", a.id,
                    "--mode", "text", check=True)  # fmt: skip
    assert table.stdout.split()[:5] == ["SCORE", "MATCHED", "SOURCE", "WHERE", "TEXT"]
    assert "transcript" in table.stdout and "memory" in table.stdout
    assert TOKEN not in table.stdout
    refused = run_cli(data, "memory", "search", "deploy", "--source", "transcripts")
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "--session" in refused.stderr


def test_patterns_search_goes_through_the_service_in_each_mode(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with open_c(data, None) as c:
        c.patterns.add("error_fix", "the yaml module is missing in the deploy job",
                       "pip install pyyaml")  # fmt: skip
        c.patterns.add("decision", "store timestamps in UTC")
        c.search.close()
    for mode in ("hybrid", "text", "semantic"):
        got = run_cli(data, "patterns", "search", "yaml deploy job", "--mode", mode, "--json",
                      check=True)  # fmt: skip
        answer = json.loads(got.stdout)
        assert answer["mode"] == mode and answer["results"][0]["pattern_type"] == "error_fix"
        assert answer["used"] == {"hybrid": ["words", "meaning"], "text": ["words"],
                                  "semantic": ["meaning"]}[mode]  # fmt: skip
        assert answer["results"][0]["matched"]
    strict = run_cli(data, "patterns", "search", "yaml", "--min-score", "0.99", "--json",
                     check=True)  # fmt: skip
    assert json.loads(strict.stdout)["results"] == []
    table = run_cli(data, "patterns", "search", "timestamps", "--mode", "text", check=True)
    assert table.stdout.split()[:3] == ["SCORE", "MATCHED", "ID"] and "decision" in table.stdout
    bad = run_cli(data, "patterns", "search", "yaml", "--mode", "psychic")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


# --- index throughput / progress (task A) ---------------------------------------------------


class _TTY(io.StringIO):
    """A terminal as far as the progress bar can tell."""

    def isatty(self) -> bool:
        return True


def test_the_context_member_is_not_embedded_but_its_words_are_found(tmp_path: Path) -> None:
    with open_c(tmp_path / "d", None) as c:
        value = {"speaker": "Ann", "text": "we adopted a puppy named Biscuit",
                 "context": "Bob: the weather in Lisbon was lovely"}  # fmt: skip
        entry = c.memory.store("Ann D1:2", value)
        c.search.indexer.drain()
        raw = json.dumps(value)
        embedded = embed_text("Ann D1:2", raw)
        assert "Biscuit" in embedded and "Lisbon" not in embedded
        assert embedded == entry_text("Ann D1:2", json.dumps({k: value[k] for k in value
                                                              if k != "context"}))  # fmt: skip
        stored = c.search.indexer.vectors.all_hashes()
        assert stored == {entry.id: text_hash(c.search.indexer.model_id, embedded)}
        found = c.search.memory("Lisbon weather", mode="text")
        assert ids(found) == ["Ann D1:2"]
        # A plain text value (no members) is embedded whole.
        assert embed_text("k", json.dumps("a context: of words")) == "k: a context: of words"


def test_batches_ordered_by_length_give_the_vectors_of_one_by_one(tmp_path: Path) -> None:
    import numpy as np

    from claude_tui.core.vectors.chroma_ef import shared_embedder

    embedder = shared_embedder()
    words = ["the", "parser", "retries", "failed", "requests", "three", "times", "after"]
    texts = [" ".join(words[: 1 + (i * 7) % len(words)] * (1 + i % 9)) for i in range(40)]
    texts.append(" ".join(words * 40))  # past the 128-token window: cut
    batched = embedder.embed(texts)
    alone = [embedder.embed_one(t) for t in texts]
    got = np.asarray(batched.vectors, dtype=np.float32)
    want = np.asarray([v for v, _ in alone], dtype=np.float32)
    assert got.shape == (len(texts), 384)
    assert float(np.abs(got - want).max()) < 1e-5  # same order, same vectors
    assert batched.truncated == [t for _, t in alone] and batched.truncated[-1]
    assert not any(batched.truncated[:-1])
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_model_batches_are_bounded_in_padded_tokens() -> None:
    from claude_tui.core.vectors.embedder import plan_batches

    lengths = [((i * 37) % 128) + 1 for i in range(1_000)] + [128] * 50
    batches = plan_batches(lengths, 64, 1_024)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 64 and len(batch) * longest <= 1_024
        assert [lengths[i] for i in batch] == sorted(lengths[i] for i in batch)
    assert plan_batches([500, 3], 64, 100) == [[1], [0]]  # a long one alone still gets a call
    assert plan_batches([], 64, 1_024) == []


def test_indexing_is_streamed_in_bounded_calls_and_progress_reaches_total(
    tmp_path: Path,
) -> None:
    from claude_tui.core.search.memory_index import PUT_BATCH

    with open_c(tmp_path / "d", None) as c:
        s = c.sessions.create()
        n = PUT_BATCH + 44
        for i in range(n):
            c.memory.store(f"k{i}", f"note {i} " + "about the cache " * (i % 5),
                           session_id=s.id)  # fmt: skip
        indexer = c.search.indexer
        real = indexer.embedder
        calls: list[int] = []

        class Counting:  # the real model underneath; only counts the texts per call
            model_id = real.model_id
            dimensions = real.dimensions

            def embed(self, texts: list[str]) -> Any:
                calls.append(len(texts))
                return real.embed(texts)

        indexer._embedder = Counting()
        seen: list[tuple[int, int]] = []
        assert indexer.reindex(progress=lambda d, t: seen.append((d, t))) == n
        assert seen[-1] == (n, n) and len(seen) >= 2
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        assert all(t == n for _, t in seen)
        assert calls[0] == 1  # reindex checks the model before it drops the collection
        assert sum(calls[1:]) == n and max(calls) <= PUT_BATCH
        in_step(c)
        for i in range(7):  # following the log reports its own total
            c.memory.store(f"late{i}", f"a later note {i}", session_id=s.id)
        followed: list[tuple[int, int]] = []
        assert indexer.drain(progress=lambda d, t: followed.append((d, t))).embedded == 7
        assert followed[-1] == (7, 7)


def test_progress_bar_draws_on_a_terminal_and_is_quiet_otherwise(tmp_path: Path) -> None:
    from claude_tui.cli.search_commands import ProgressBar

    tty = _TTY()
    bar = ProgressBar("embedding memory", stream=tty)
    for done in (0, 50, 100):
        bar(done, 100)
    bar.finish()
    drawn = tty.getvalue()
    assert drawn.startswith("\r") and drawn.endswith("\n")
    last = drawn.rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("embedding memory [" + "#" * 30 + "] 100/100 ")
    quiet = _TTY()
    silent = ProgressBar("embedding memory", stream=quiet, quiet=True)
    silent(5, 10)
    silent.finish()
    assert quiet.getvalue() == "" and silent.done == 5
    pipe = io.StringIO()  # not a terminal: the final line once, nothing before
    piped = ProgressBar("embedding memory", stream=pipe)
    piped(3, 10)
    assert pipe.getvalue() == ""
    piped.finish()
    assert pipe.getvalue().count("\n") == 1 and "3/10" in pipe.getvalue()


def test_import_embeds_its_memory_entries_with_a_bar_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claude_tui.cli.search_commands import index_imported

    with open_c(tmp_path / "d", None) as c:
        for i in range(30):
            c.memory.store(f"imported-{i}", f"a decision taken in session {i}")
        tty = _TTY()
        monkeypatch.setattr("sys.stderr", tty)
        index_imported(c, quiet=False)
        assert "embedding imported memory" in tty.getvalue()
        assert "30/30" in tty.getvalue().rsplit("\r", 1)[-1]
        in_step(c)
        json_run = _TTY()
        monkeypatch.setattr("sys.stderr", json_run)
        c.memory.store("one-more", "stored after the import")
        index_imported(c, quiet=True)  # --json: nothing on stderr, still embedded
        assert json_run.getvalue() == ""
        in_step(c)


def test_cli_import_indexes_memory_quietly_off_a_terminal(tmp_path: Path) -> None:
    fixture = (Path(__file__).parent / "fixtures" / "claude-code" /
               "claude-code-viewer_v1.0.98")  # fmt: skip
    data = tmp_path / "d"
    got = run_cli(data, "import", "claude-code", str(fixture), "--json", check=True)
    report = json.loads(got.stdout)  # stdout is the JSON document alone
    assert "embedding" not in got.stderr
    with open_c(data, None) as c:
        added = c.store.scalar("SELECT count(*) FROM memory_entries")
        assert added > 0, report
        assert in_step(c)
        assert c.search.indexer.pending() == 0
