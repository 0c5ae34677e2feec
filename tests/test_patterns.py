"""Neural patterns end to end: the real offline MiniLM model and a real Chroma index.

Nothing stands in for the embedder or the index: the int8 ONNX model the
package ships embeds every text, and Chroma ``PersistentClient``\\ s
live in the temp data dirs. The model is loaded once per process, so the
paraphrase corpus is built once per module and most other tests open their own
small data dir. CLI tests run ``python -m claude_tui`` in real subprocesses.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.vectors.chroma_ef import shared_embedder
from claude_tui.core.vectors.embedder import (
    DIMENSIONS,
    MODEL_FILE,
    MODEL_ID,
    EmbedderUnavailable,
    MiniLMEmbedder,
    verify_model,
)
from claude_tui.core.vectors.index import COLLECTION, IndexMismatch, PatternIndex
from claude_tui.core.vectors.learning import CONSOLIDATE_AT, Experience, PatternLearner
from tests.conftest import ROOT, cli_env, run_cli
from tests.redis_proc import RedisProcess

CLOSED_CHROMA_URL = "http://127.0.0.1:1"  # nothing listens on port 1
TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # GitHub token shape, 36 letters
# Far over the model's 256-token window (about 8 tokens per clause).
LONG_TEXT = " ".join(
    f"step {i} restarts the payment worker and clears its queue" for i in range(80)
)

# (fact, a reworded question about it): twenty unrelated engineering decisions.
FACTS: list[tuple[str, str]] = [
    (
        "Database choice: the project stores its data in PostgreSQL, not MySQL or MongoDB.",
        "Which database engine did we pick for storing application data?",
    ),
    (
        "Retry policy: failed HTTP requests are retried three times with exponential backoff.",
        "How often is a failing network call attempted again, and with what delay between tries?",
    ),
    (
        "Code style: Python code is formatted with ruff and lines are at most 100 characters long.",
        "What formatter do we use and what is the maximum line length for source code?",
    ),
    (
        "Deployment: releases are deployed to Kubernetes with Helm charts from the CI pipeline.",
        "How do we ship a new release to the production cluster?",
    ),
    (
        "Testing: unit tests are written with pytest and run on every commit.",
        "Which framework are our unit tests written in?",
    ),
    (
        "Password storage: user passwords are hashed with argon2id before being saved.",
        "What hashing algorithm protects the users' stored passwords?",
    ),
    (
        "Logging: services write structured JSON logs to stdout, collected by Loki.",
        "In what format do our services emit log lines, and what collects them?",
    ),
    (
        "API versioning: the REST API puts the version in the URL path, like /v2/orders.",
        "How do clients choose which version of the REST API they call?",
    ),
    (
        "Feature flags: features are toggled in LaunchDarkly and old flags are removed after "
        "rollout.",
        "Where are feature toggles switched on and off?",
    ),
    (
        "Frontend state: the React app keeps its global state in Redux Toolkit.",
        "What library manages global state in our React frontend?",
    ),
    (
        "Time zones: all timestamps are stored in UTC and converted to local time only for "
        "display.",
        "Which time zone are timestamps saved in?",
    ),
    (
        "Background jobs: asynchronous tasks run on Celery workers fed by a RabbitMQ broker.",
        "What processes our background work queue, and which message broker does it use?",
    ),
    (
        "Dependency pinning: package versions are pinned in a lock file and bumped weekly by "
        "Renovate.",
        "How are third-party library versions locked and kept up to date?",
    ),
    (
        "Code review: every pull request needs two approvals and passing CI before it is merged.",
        "What must a pull request have before it can be merged?",
    ),
    (
        "Image uploads: uploaded pictures are resized to 1024 pixels and stored in an S3 bucket.",
        "Where do images that users upload end up, and how are they resized?",
    ),
    (
        "Monitoring: the service exports Prometheus metrics and alerts page the on-call via "
        "PagerDuty.",
        "How is the service monitored, and how is the on-call engineer alerted?",
    ),
    (
        "Localisation: UI translations are kept in gettext .po files with English as source "
        "language.",
        "How are the user interface strings translated into other languages?",
    ),
    (
        "Schema migrations: database schema changes are applied with reversible Alembic "
        "migrations.",
        "How do we change the database schema over time?",
    ),
    (
        "Rate limiting: each API key may make 100 requests per minute, enforced at the gateway.",
        "How many requests per minute is a single API key allowed before it is throttled?",
    ),
    (
        "Secrets management: credentials are loaded from HashiCorp Vault at startup, never "
        "committed.",
        "Where does the application fetch its credentials from when it starts?",
    ),
]

YAML_FIX = (
    "ImportError: no module named yaml when running the deploy script",
    "pip install pyyaml",
)
YAML_FIX_REWORDED = "ImportError: No module named 'yaml' while running the deploy script"


# -- helpers ------------------------------------------------------------------------


def open_coordinator(data_dir: Path, **kwargs: Any) -> MemoryCoordinator:
    """A coordinator on ``data_dir`` without Redis (the tests that need Redis say so)."""
    return MemoryCoordinator.open(Config.load(data_dir, env={}), use_redis=False, **kwargs)


def release(*learners: PatternLearner) -> None:
    """Close the Chroma clients the learners opened (the coordinator does not)."""
    for learner in learners:
        client = learner.index._client
        if client is not None:
            client.close()
            learner.index._client = None
            learner.index._collection = None


def snapshot(c: MemoryCoordinator, learner: PatternLearner) -> tuple[int, int, int]:
    """(pattern rows, vectors in the index, queued index writes)."""
    rows = int(c.store.scalar("SELECT count(*) FROM neural_patterns"))
    return rows, learner.index.count(), learner.queued()


def db_rows(data_dir: Path) -> int:
    """Pattern rows in a data dir's database, read without opening a coordinator."""
    path = Config.load(data_dir, env={}).db_path
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM neural_patterns").fetchone()[0])


def index_ids(data_dir: Path) -> set[str]:
    """The pattern ids in a data dir's Chroma index (the client is closed afterwards)."""
    index = PatternIndex(data_dir, url="")
    try:
        return index.ids()
    finally:
        if index._client is not None:
            index._client.close()


def run_many(
    data_dir: Path, arg_lists: Sequence[Sequence[str]]
) -> list[subprocess.CompletedProcess[str]]:
    """Run several CLI commands at once (each is a separate real process)."""
    with ThreadPoolExecutor(max_workers=len(arg_lists)) as pool:
        return list(pool.map(lambda args: run_cli(data_dir, *args, isolated=True), arg_lists))


def assert_one_line_error(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 2, f"{what}: exit {result.returncode}, stderr {result.stderr!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{what}: stderr is not one line: {result.stderr!r}"
    assert lines[0].startswith("claude-tui: "), f"{what}: {lines[0]!r}"
    assert "Traceback" not in result.stderr
    assert result.stdout == "", f"{what}: printed {result.stdout!r}"


class CountingEmbedder:
    """The real embedder, counting the texts that reach ``embed_one``."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        self.calls.append(text)
        return self.inner.embed_one(text)

    def embed(self, texts: list[str]) -> Any:
        return self.inner.embed(texts)


class TenDimensionEmbedder:
    """A misconfigured embedder: 10-dimensional vectors instead of 384."""

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        return [0.1] * 10, False

    def embed(self, texts: list[str]) -> Any:
        return SimpleNamespace(vectors=[[0.1] * 10 for _ in texts], truncated=[False] * len(texts))


@dataclass
class Env:
    """One data dir with an open coordinator and its learner."""

    data_dir: Path
    c: MemoryCoordinator
    learner: PatternLearner


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _local_chroma() -> Iterator[None]:
    """Every index here is the embedded one unless a test points it elsewhere."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CLAUDE_TUI_CHROMA_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, list[str]]]:
    """The twenty facts, learned once into a shared data dir: (env, ids in FACTS order)."""
    data_dir = tmp_path_factory.mktemp("corpus")
    c = open_coordinator(data_dir)
    learner = c.learning
    ids = []
    for fact, _ in FACTS:
        learned = learner.learn(Experience("decision", fact, success=True))
        assert not learned.consolidated and learned.indexed, fact
        ids.append(learned.pattern.id)
    yield Env(data_dir, c, learner), ids
    release(learner)
    c.close()


@pytest.fixture
def env(data_dir: Path) -> Iterator[Env]:
    """A fresh data dir (no Redis) with its own learner."""
    c = open_coordinator(data_dir)
    learner = c.learning
    yield Env(data_dir, c, learner)
    release(learner)
    c.close()


def learn_all(learner: PatternLearner, facts: Sequence[tuple[str, str]]) -> list[str]:
    return [learner.learn(Experience("decision", fact)).pattern.id for fact, _ in facts]


def top_ids(learner: PatternLearner, facts: Sequence[tuple[str, str]]) -> list[str | None]:
    found = []
    for _, question in facts:
        result = learner.search(question, limit=1)
        assert result.mode == "vector", result.note
        found.append(result.hits[0][0].id if result.hits else None)
    return found


# -- 1. paraphrase retrieval ------------------------------------------------------------


def test_paraphrased_questions_find_their_facts(corpus: tuple[Env, list[str]]) -> None:
    env, ids = corpus
    assert len(set(ids)) == len(FACTS) == 20
    assert env.learner.index.count() == 20
    hits = 0
    misses = []
    for (fact, question), expected in zip(FACTS, ids, strict=True):
        assert question.lower() not in fact.lower()
        result = env.learner.search(question, limit=1)
        assert result.mode == "vector" and result.note is None
        assert len(result.hits) == 1
        pattern, score = result.hits[0]
        assert -1.0 <= score <= 1.0
        if pattern.id == expected:
            hits += 1
        else:
            misses.append((question, pattern.input_pattern, round(score, 3)))
    print(f"paraphrase top-1 hits: {hits}/{len(FACTS)}")
    assert hits >= 18, f"only {hits}/20 top-1 hits; misses: {misses}"


def test_search_results_are_ordered_and_filtered(corpus: tuple[Env, list[str]]) -> None:
    env, ids = corpus
    result = env.learner.search("Which database engine stores our data?", limit=5)
    scores = [s for _, s in result.hits]
    assert len(result.hits) == 5 and scores == sorted(scores, reverse=True)
    assert result.hits[0][0].id == ids[0]
    high = env.learner.search("Which database engine stores our data?", limit=5, min_score=0.5)
    assert high.hits and all(s >= 0.5 for _, s in high.hits)
    assert len(high.hits) < len(result.hits)
    other_type = env.learner.search("Which database engine stores our data?", pattern_type="x")
    assert other_type.mode == "vector" and other_type.hits == []


# -- 2. consolidation -------------------------------------------------------------------


def test_near_duplicate_is_consolidated_within_its_type(env: Env) -> None:
    learner = env.learner
    first = learner.learn(Experience("error_fix", *YAML_FIX, success=True))
    assert not first.consolidated and first.indexed and first.similarity is None
    # The first occurrence's outcome counts towards the success rate.
    assert first.pattern.usage_count == 0 and first.pattern.success_rate == pytest.approx(1.0)
    assert first.pattern.confidence == pytest.approx(0.6)
    assert first.pattern.metadata["model"] == MODEL_ID
    assert first.pattern.metadata["features"]["outcome"] == "success"

    again = learner.learn(Experience("error_fix", YAML_FIX_REWORDED, YAML_FIX[1], success=True))
    assert again.consolidated and again.pattern.id == first.pattern.id
    assert again.similarity is not None and again.similarity >= CONSOLIDATE_AT
    assert again.pattern.usage_count == 1
    assert again.pattern.success_rate == pytest.approx(1.0)
    assert again.pattern.confidence == pytest.approx(0.64)

    failed = learner.learn(
        Experience("error_fix", YAML_FIX[0].replace("deploy", "deployment"), YAML_FIX[1],
                   success=False)
    )  # fmt: skip
    assert failed.consolidated and failed.pattern.id == first.pattern.id
    assert failed.pattern.usage_count == 2
    assert failed.pattern.success_rate == pytest.approx(2 / 3)  # success, success, failure
    assert failed.pattern.confidence == pytest.approx(0.576)
    assert failed.pattern.last_used is not None

    other_type = learner.learn(Experience("task_completion", *YAML_FIX, success=True))
    assert not other_type.consolidated and other_type.pattern.id != first.pattern.id
    unrelated = learner.learn(
        Experience("error_fix", "TypeError: cannot add int and str in the billing report",
                   "cast the amount with int()")
    )  # fmt: skip
    assert not unrelated.consolidated and unrelated.pattern.id != first.pattern.id
    assert unrelated.similarity is not None and unrelated.similarity < CONSOLIDATE_AT

    assert env.c.patterns.get(first.pattern.id).usage_count == 2
    assert snapshot(env.c, learner) == (3, 3, 0)
    typed = learner.search("yaml module missing", pattern_type="task_completion")
    assert [p.id for p, _ in typed.hits] == [other_type.pattern.id]


# -- 3. reuse tracking ------------------------------------------------------------------


def test_record_use_moves_usage_last_used_and_success_rate(data_dir: Path) -> None:
    now = [1_000.0]
    with open_coordinator(data_dir, clock=lambda: now[0]) as c:
        pattern = c.patterns.add("tool_sequence", "ruff check, then ruff format, then pytest")
        assert (pattern.usage_count, pattern.last_used, pattern.success_rate) == (0, None, None)
        assert pattern.confidence == pytest.approx(0.5)

        now[0] = 2_000.0
        used = c.patterns.record_use(pattern.id, success=True)
        assert (used.usage_count, used.last_used, used.success_rate) == (1, 2_000.0, 1.0)
        assert used.confidence == pytest.approx(0.55)

        now[0] = 3_000.0
        used = c.patterns.record_use(pattern.id, success=False)
        assert (used.usage_count, used.last_used) == (2, 3_000.0)
        assert used.success_rate == pytest.approx(0.5)
        assert used.confidence == pytest.approx(0.495)

        now[0] = 4_000.0
        used = c.patterns.record_use(pattern.id)  # outcome unknown: only counted
        assert (used.usage_count, used.last_used) == (3, 4_000.0)
        assert used.success_rate == pytest.approx(0.5)
        assert used.confidence == pytest.approx(0.495)
        assert c.patterns.get(pattern.id) == used  # the cached copy was refreshed

        with pytest.raises(NotFound):
            c.patterns.record_use("pat_missing", success=True)


# -- 4. reindex after the Chroma dir is lost --------------------------------------------


def test_reindex_rebuilds_a_deleted_chroma_dir(data_dir: Path) -> None:
    facts = FACTS[:6]
    with open_coordinator(data_dir) as c:
        learner = c.learning
        ids = learn_all(learner, facts)
        assert top_ids(learner, facts) == ids
        release(learner)  # what ending the process does
    shutil.rmtree(data_dir / "chroma")

    with open_coordinator(data_dir) as c:
        learner = c.learning
        try:
            assert learner.index.count() == 0  # really gone
            progress: list[tuple[int, int]] = []
            assert learner.reindex(lambda done, total: progress.append((done, total))) == 6
            assert progress == [(6, 6)]
            assert learner.index.ids() == set(ids)
            assert top_ids(learner, facts) == ids
        finally:
            release(learner)

    shutil.rmtree(data_dir / "chroma")
    result = run_cli(data_dir, "patterns", "reindex", check=True)
    assert result.stdout.strip() == "reindexed 6 patterns"
    assert "indexed 6 of 6 patterns" in result.stderr
    assert index_ids(data_dir) == set(ids)
    found = run_cli(
        data_dir, "patterns", "search", facts[3][1], "--limit", "1", "--json", check=True
    )
    data = json.loads(found.stdout)
    assert data["mode"] == "hybrid" and [r["id"] for r in data["results"]] == [ids[3]]


def test_reindex_in_the_same_process_after_closing_the_coordinator(data_dir: Path) -> None:
    """Closing the coordinator must let go of the index, so a new one can rebuild it."""
    facts = FACTS[6:10]
    with open_coordinator(data_dir) as c:
        ids = learn_all(c.learning, facts)
        old = c.learning
    shutil.rmtree(data_dir / "chroma")

    with open_coordinator(data_dir) as c:
        learner = c.learning
        try:
            assert learner.reindex() == 4
            assert learner.index.ids() == set(ids)
            assert top_ids(learner, facts) == ids
        finally:
            release(learner, old)


# -- 5. drift repair ----------------------------------------------------------------------


def test_repair_fixes_drift_both_ways(env: Env) -> None:
    learner, c = env.learner, env.c
    ids = learn_all(learner, FACTS[:5])
    assert learner.index.ids() == c.patterns.all_ids() == set(ids)
    assert learner.repair() == {"added": 0, "removed": 0, "queue": 0}

    learner.index.delete([ids[1]])  # in SQLite, not in the index
    vector, _ = shared_embedder().embed_one("an orphan vector")
    orphan = {"pattern_type": "decision", "context": "", "confidence": 0.5, "usage_count": 0}
    learner.index.upsert(["pat_orphan"], [vector], ["an orphan vector"], [orphan])  # not in SQLite
    assert learner.index.ids() == (set(ids) - {ids[1]}) | {"pat_orphan"}

    assert learner.repair() == {"added": 1, "removed": 1, "queue": 0}
    assert learner.index.ids() == c.patterns.all_ids() == set(ids)
    assert top_ids(learner, FACTS[1:2]) == [ids[1]]

    # The other way: a row deleted behind the index's back, and a vector lost.
    c.store.write(lambda conn: conn.execute("DELETE FROM neural_patterns WHERE id = ?", (ids[4],)))
    learner.index.delete([ids[0]])
    assert learner.ensure_synced(full=True) == {"added": 1, "removed": 1, "queue": 0}
    assert learner.index.ids() == c.patterns.all_ids() == set(ids) - {ids[4]}
    assert learner.ensure_synced(full=True) is None  # nothing left to do


def test_new_learner_repairs_drift_on_first_use(env: Env) -> None:
    ids = learn_all(env.learner, FACTS[:3])
    env.learner.index.delete([ids[2]])
    fresh = PatternLearner(env.c, index=env.learner.index)
    assert fresh.ensure_synced() == {"added": 1, "removed": 0, "queue": 0}
    assert fresh.index.ids() == set(ids)
    assert fresh.ensure_synced() is None  # once per process


# -- 6. Chroma unavailable -----------------------------------------------------------------


def test_index_down_falls_back_to_text_and_queues_writes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_TUI_CHROMA_URL", CLOSED_CHROMA_URL)
    with open_coordinator(data_dir) as c:
        down = c.learning
        assert down.index.url == CLOSED_CHROMA_URL and not down.index.available()

        learned = down.learn(Experience("decision", FACTS[8][0], success=True))
        assert not learned.indexed and not learned.consolidated
        assert c.patterns.get(learned.pattern.id).input_pattern == FACTS[8][0]
        assert down.queued() == 1
        other = down.learn(Experience("decision", FACTS[5][0]))
        assert not other.indexed and down.queued() == 2

        result = down.search("feature flags toggled", limit=5)
        assert result.mode == "text"
        assert result.note and "text search only" in result.note
        assert result.hits and result.hits[0][0].id == learned.pattern.id
        assert other.pattern.id not in [p.id for p, _ in result.hits]

        monkeypatch.delenv("CLAUDE_TUI_CHROMA_URL")
        up = PatternLearner(c)
        try:
            assert up.index.url is None
            assert up.ensure_synced() == {"added": 2, "removed": 0, "queue": 2}
            assert up.queued() == 0
            assert up.index.ids() == c.patterns.all_ids() == {learned.pattern.id, other.pattern.id}
            found = up.search(FACTS[8][1], limit=1)
            assert found.mode == "vector"
            assert [p.id for p, _ in found.hits] == [learned.pattern.id]
        finally:
            release(up)


def test_explicit_url_to_a_closed_port_is_unavailable(corpus: tuple[Env, list[str]]) -> None:
    env, ids = corpus
    learner = PatternLearner(env.c, index=PatternIndex(env.data_dir, url=CLOSED_CHROMA_URL))
    result = learner.search("Which time zone are timestamps saved in?", limit=3)
    assert result.mode == "text" and result.note
    assert ids[10] in [p.id for p, _ in result.hits]
    assert learner.index.last_error  # says why


# -- 7. bad input ----------------------------------------------------------------------------


def test_bad_input_is_refused_and_nothing_is_written(corpus: tuple[Env, list[str]]) -> None:
    env, _ = corpus
    counting = CountingEmbedder(shared_embedder())
    learner = PatternLearner(env.c, embedder=counting, index=env.learner.index)
    before = snapshot(env.c, learner)

    refused: list[tuple[str, Callable[[], object], str]] = [
        ("empty input", lambda: learner.learn(Experience("decision", "")), "empty"),
        ("blank input", lambda: learner.learn(Experience("decision", " \n\t ")), "empty"),
        ("invalid UTF-8 bytes", lambda: learner.learn(Experience("decision", b"\xff\xfe")),
         "UTF-8"),
        ("lone surrogate", lambda: learner.learn(Experience("decision", "fix \ud800 it")),
         "UTF-8"),
        ("surrogate output", lambda: learner.learn(Experience("decision", "ok", "\udfff")),
         "UTF-8"),
        ("credential in input",
         lambda: learner.learn(Experience("decision", f"push with token {TOKEN}")), "credential"),
        ("credential in output",
         lambda: learner.learn(Experience("error_fix", "push rejected", f"export GH={TOKEN}")),
         "credential"),
        ("unknown session",
         lambda: learner.learn(Experience("decision", "a fact", session_id="ses_nope")),
         "unknown session"),
        ("empty query", lambda: learner.search(""), "empty"),
        ("blank query", lambda: learner.search("   \n"), "empty"),
        ("bytes query", lambda: learner.search(b"\xff\xfe"), "UTF-8"),
        ("surrogate query", lambda: learner.search("where \ud800"), "UTF-8"),
        ("limit 0", lambda: learner.search("database", limit=0), "limit"),
        ("limit 1001", lambda: learner.search("database", limit=1001), "limit"),
        ("min score 5", lambda: learner.search("database", min_score=5), "min-score"),
    ]  # fmt: skip
    for what, call, message in refused:
        with pytest.raises(BadInput, match=message):
            call()
        assert snapshot(env.c, learner) == before, what
    assert counting.calls == []  # nothing refused was ever embedded (secrets included)


def test_long_text_is_embedded_truncated_and_says_so(env: Env) -> None:
    learned = env.learner.learn(Experience("task_completion", LONG_TEXT))
    assert learned.truncated and learned.indexed
    assert env.c.patterns.get(learned.pattern.id).input_pattern == LONG_TEXT  # stored whole
    short = env.learner.learn(Experience("task_completion", "restart the payment worker"))
    assert not short.truncated

    result = env.learner.search(LONG_TEXT + " and then reports", limit=2)
    assert result.mode == "vector" and result.truncated
    assert result.note and "truncated" in result.note
    assert result.hits[0][0].id == learned.pattern.id
    plain = env.learner.search("restart the payment worker", limit=1)
    assert not plain.truncated and plain.note is None


def test_repeated_long_query_still_reports_truncation(env: Env) -> None:
    """The query-vector cache must not forget that the query was cut."""
    env.learner.learn(Experience("task_completion", "restart the payment worker"))
    first = env.learner.search(LONG_TEXT, limit=1)
    assert first.truncated and first.note
    second = env.learner.search(LONG_TEXT, limit=1)
    assert second.hits == first.hits
    assert second.truncated, "the cached query vector lost its truncated flag"
    assert second.note and "truncated" in second.note


def test_wrong_dimension_embedder_is_refused(corpus: tuple[Env, list[str]]) -> None:
    env, _ = corpus
    learner = PatternLearner(env.c, embedder=TenDimensionEmbedder(), index=env.learner.index)
    before = snapshot(env.c, learner)
    with pytest.raises(IndexMismatch, match="10 dimensions"):
        learner.learn(Experience("decision", "Caching: Redis caches hot reads for 60 seconds."))
    assert snapshot(env.c, learner) == before
    with pytest.raises(IndexMismatch, match="10 dimensions"):
        learner.search("how long are reads cached?")
    with pytest.raises(IndexMismatch, match="384"):
        learner.index.upsert(["pat_x"], [[0.1] * 10], ["x"], [{"pattern_type": "decision"}])
    with pytest.raises(IndexMismatch):
        learner.index.query([0.1] * 10, 1)
    assert snapshot(env.c, learner) == before


def test_reindex_with_a_wrong_dimension_embedder_keeps_the_index(env: Env) -> None:
    ids = learn_all(env.learner, FACTS[:4])
    bad = PatternLearner(env.c, embedder=TenDimensionEmbedder(), index=env.learner.index)

    env.learner.index.delete([ids[0]])
    with pytest.raises(IndexMismatch):
        bad.repair()
    assert env.learner.index.ids() == set(ids[1:])

    with pytest.raises(IndexMismatch):
        bad.reindex()
    assert env.learner.index.ids() == set(ids[1:]), "a refused reindex dropped the index"


def make_other_model_collection(data_dir: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection(
        COLLECTION,
        metadata={"model": "some-other-model"},
        configuration={"hnsw": {"space": "cosine"}},
    )
    client.close()


def test_collection_from_another_model_is_detected(data_dir: Path) -> None:
    make_other_model_collection(data_dir)
    with open_coordinator(data_dir) as c:
        learner = c.learning
        try:
            with pytest.raises(IndexMismatch, match="reindex"):
                learner.index.collection()
        finally:
            release(learner)


def test_collection_from_another_model_falls_back_then_reindex_fixes_it(data_dir: Path) -> None:
    make_other_model_collection(data_dir)
    with open_coordinator(data_dir) as c:
        learner = c.learning
        try:
            pattern = c.patterns.add("decision", FACTS[10][0])
            result = learner.search("timestamps stored in UTC", limit=3)
            assert result.mode == "text" and result.note
            assert [p.id for p, _ in result.hits] == [pattern.id]
            assert not learner.index.available()

            assert learner.reindex() == 1
            assert learner.index.collection().metadata["model"] == MODEL_ID
            found = learner.search(FACTS[10][1], limit=1)
            assert found.mode == "vector" and [p.id for p, _ in found.hits] == [pattern.id]
        finally:
            release(learner)


# -- 8. the CLI ------------------------------------------------------------------------------


def test_cli_learn_search_show_list(data_dir: Path) -> None:
    learn = run_cli(
        data_dir, "patterns", "learn", "--type", "error_fix", "--input", YAML_FIX[0],
        "--output", YAML_FIX[1], "--success", check=True,
    )  # fmt: skip
    pattern_id = learn.stdout.strip()
    assert pattern_id.startswith("pat_") and "\n" not in pattern_id
    assert learn.stderr == ""

    again = run_cli(
        data_dir, "patterns", "learn", "--type", "error_fix", "--input", YAML_FIX_REWORDED,
        "--output", YAML_FIX[1], "--success", check=True,
    )  # fmt: skip
    assert again.stdout.strip() == pattern_id
    assert "consolidated" in again.stderr and pattern_id in again.stderr

    decision = run_cli(
        data_dir, "patterns", "learn", "--type", "decision", "--input", FACTS[12][0],
        "--json", check=True,
    )  # fmt: skip
    learned = json.loads(decision.stdout)
    assert learned["consolidated"] is False and learned["indexed"] is True
    decision_id = learned["id"]
    assert decision_id != pattern_id

    query = "the yaml package is missing when the deploy script runs"
    search = run_cli(data_dir, "patterns", "search", query, "--json", check=True)
    data = json.loads(search.stdout)
    assert data["mode"] == "hybrid" and data["truncated"] is False
    top = data["results"][0]
    assert top["id"] == pattern_id and top["pattern_type"] == "error_fix"
    assert isinstance(top["similarity"], float) and 0.3 < top["similarity"] < 0.99
    assert top["usage_count"] == 1

    typed = run_cli(
        data_dir, "patterns", "search", query, "--type", "decision", "--json", check=True
    )
    typed_results = json.loads(typed.stdout)["results"]
    assert [r["id"] for r in typed_results] == [decision_id]

    strict = run_cli(
        data_dir, "patterns", "search", query, "--min-score", "0.99", "--json", check=True
    )
    assert json.loads(strict.stdout)["results"] == []

    show = json.loads(
        run_cli(data_dir, "patterns", "show", pattern_id, "--json", check=True).stdout
    )
    assert show["id"] == pattern_id and show["input_pattern"] == YAML_FIX[0]
    assert show["output_pattern"] == YAML_FIX[1]
    assert show["usage_count"] == 1 and show["success_rate"] == pytest.approx(1.0)
    assert show["confidence"] == pytest.approx(0.64)

    listed = json.loads(run_cli(data_dir, "patterns", "list", "--json", check=True).stdout)
    assert {p["id"] for p in listed} == {pattern_id, decision_id}
    only = json.loads(
        run_cli(data_dir, "patterns", "list", "--type", "decision", "--json", check=True).stdout
    )
    assert [p["id"] for p in only] == [decision_id]

    text = run_cli(data_dir, "patterns", "search", query, check=True)
    assert pattern_id in text.stdout and "SCORE" in text.stdout


def test_cli_bad_input_exits_2_with_one_line(data_dir: Path) -> None:
    run_cli(data_dir, "patterns", "learn", "--type", "decision", "--input", FACTS[0][0], check=True)
    rows, ids = db_rows(data_dir), index_ids(data_dir)
    assert rows == 1 and len(ids) == 1

    cases = {
        "empty search": ("patterns", "search", ""),
        "blank search": ("patterns", "search", "   "),
        "limit 0": ("patterns", "search", "database", "--limit", "0"),
        "min-score 5": ("patterns", "search", "database", "--min-score", "5"),
        "missing --input": ("patterns", "learn", "--type", "error_fix"),
        "unknown session": (
            "patterns", "learn", "--type", "decision", "--input", "a fact", "--session",
            "ses_nope",
        ),
        "credential": ("patterns", "learn", "--type", "decision", "--input", f"use {TOKEN}"),
        "empty input": ("patterns", "learn", "--type", "decision", "--input", ""),
        "success and failure": (
            "patterns", "learn", "--type", "decision", "--input", "x", "--success", "--failure",
        ),
    }  # fmt: skip
    results = run_many(data_dir, list(cases.values()))
    for what, result in zip(cases, results, strict=True):
        assert_one_line_error(result, what)
    messages = dict(zip(cases, (r.stderr for r in results), strict=True))
    assert "empty" in messages["empty search"]
    assert "limit" in messages["limit 0"]
    assert "min-score" in messages["min-score 5"]
    assert "--input" in messages["missing --input"]
    assert "ses_nope" in messages["unknown session"]
    assert "credential" in messages["credential"]

    assert db_rows(data_dir) == rows and index_ids(data_dir) == ids


# -- 9. the query-embedding cache in Redis ------------------------------------------------


def test_query_vectors_are_cached_in_redis(
    coordinator: MemoryCoordinator, redis_server: RedisProcess
) -> None:
    learner = coordinator.learning
    try:
        ids = learn_all(learner, FACTS[:3])
        r = redis.Redis.from_url(redis_server.url)
        assert not r.keys("*:emb:*")

        question = FACTS[1][1]
        first = learner.search(question, limit=1)
        assert [p.id for p, _ in first.hits] == [ids[1]]
        keys = [k.decode() for k in r.keys("*:emb:*")]
        assert len(keys) == 1
        assert f"{{{coordinator.store.db_id}}}" in keys[0]  # this database's keys
        raw = r.get(keys[0])
        # float32 vector plus one byte saying whether the query was truncated
        assert raw is not None and len(raw) == DIMENSIONS * 4 + 1 and raw[-1:] == b"\x00"
        assert 0 < r.ttl(keys[0]) <= 86_400

        counting = CountingEmbedder(shared_embedder())
        fresh = PatternLearner(coordinator, embedder=counting, index=learner.index)
        second = fresh.search(question, limit=1)
        assert counting.calls == []  # the vector came from Redis
        assert [p.id for p, _ in second.hits] == [ids[1]]
        assert second.hits[0][1] == pytest.approx(first.hits[0][1], abs=1e-5)

        fresh.search(FACTS[2][1], limit=1)
        assert counting.calls == [FACTS[2][1]]  # a new question is embedded once
        assert len(r.keys("*:emb:*")) == 2
    finally:
        release(learner)


# -- the model file -------------------------------------------------------------------------


def test_embedder_verifies_the_model_checksum(tmp_path: Path) -> None:
    verify_model(MODEL_FILE)  # the shipped one passes

    impostor = tmp_path / "model.onnx"
    impostor.write_bytes(b"not the model")
    with pytest.raises(EmbedderUnavailable, match="reinstall"):
        verify_model(impostor)
    with pytest.raises(EmbedderUnavailable, match="cannot read"):
        verify_model(tmp_path / "missing.onnx")
    with pytest.raises(EmbedderUnavailable, match="reinstall"):
        MiniLMEmbedder(impostor).embed_one("anything")


def test_embedder_gives_unit_vectors_independent_of_batch() -> None:
    import numpy as np

    embedder = shared_embedder()
    alone, truncated = embedder.embed_one(FACTS[5][0])
    assert len(alone) == DIMENSIONS and not truncated
    assert float(np.linalg.norm(alone)) == pytest.approx(1.0, abs=1e-5)
    batch = embedder.embed([LONG_TEXT, FACTS[5][0], "short"])
    assert batch.truncated == [True, False, False]
    assert float(np.dot(alone, batch.vectors[1])) == pytest.approx(1.0, abs=1e-4)


def test_patterns_written_without_the_learner_are_indexed_before_the_next_search(
    data_dir: Path,
) -> None:
    with open_coordinator(data_dir) as c:
        learner = c.learning
        assert learner.search("anything at all").hits == []  # opens and syncs the index
        added = c.patterns.add("decision", "Pin every dependency exactly to keep snapshots stable")
        found = learner.search("why are our package versions fixed?", limit=1)
        assert found.mode == "vector" and [p.id for p, _ in found.hits] == [added.id]


def test_doctor_reports_patterns_and_queued_index_writes(data_dir: Path) -> None:
    ok = run_cli(data_dir, "patterns", "learn", "--type", "decision", "--input", "Prefer WAL")
    assert ok.returncode == 0, ok.stderr
    env = {**cli_env(data_dir, None), "CLAUDE_TUI_CHROMA_URL": "http://127.0.0.1:1"}
    down = subprocess.run(
        [sys.executable, "-m", "claude_tui", "patterns", "learn", "--type", "decision",
         "--input", "Keep every migration small and reversible"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert down.returncode == 0 and "queued" in down.stderr
    report = json.loads(run_cli(data_dir, "doctor", "--json", check=True).stdout)["vectors"]
    assert report["patterns"] == 2 and report["queued_for_index"] == 1
    assert report["model_installed"] is True and report["index_exists"] is True
