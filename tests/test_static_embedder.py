"""The static embedder (``embedder = "wordllama-256"``): real files from the installed
wordllama wheel, real SQLite and Chroma, through the product's search service."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import ConfigError
from claude_tui.core.search.service import DEFAULT_FUSION, fusion_for
from claude_tui.core.vectors import static
from claude_tui.core.vectors.embedder import EmbedderUnavailable
from claude_tui.core.vectors.learning import Experience
from claude_tui.core.vectors.static import DIMENSIONS, MODEL_ID, StaticEmbedder
from tests.test_search import PARAPHRASES, ids, in_step, open_c, paraphrases_found


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_unit_length_deterministic_and_by_meaning() -> None:
    e = StaticEmbedder()
    texts = ["The deploy timed out after thirty seconds.", "deploy timeout 30 s", "I like tea."]
    first, again = e.embed(texts), e.embed(list(texts))
    assert first.vectors == again.vectors and first.truncated == [False] * 3
    assert all(len(v) == DIMENSIONS for v in first.vectors)
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-5) for v in first.vectors)
    deploy, short, tea = first.vectors
    assert cosine(deploy, short) > cosine(deploy, tea) + 0.1
    # A long text is cut at the cap (and says so) instead of taking memory without bound.
    long_vector, cut = StaticEmbedder(max_tokens=16).embed_one("word " * 200)
    assert cut and len(long_vector) == DIMENSIONS


def test_a_missing_package_is_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbedderUnavailable, match="pip install wordllama"):
        StaticEmbedder().embed_one("anything")


def test_the_setting_names_it_and_refuses_a_typo(tmp_path: Path) -> None:
    config = Config.load(tmp_path, env={"CLAUDE_TUI_EMBEDDER": "wordllama-256"})
    assert config.embedder == "wordllama-256"
    with pytest.raises(ConfigError, match="wordllama-256"):
        Config.load(tmp_path, env={"CLAUDE_TUI_EMBEDDER": "wordlama"})


def test_memory_search_by_meaning_with_the_static_model(tmp_path: Path) -> None:
    with open_c(tmp_path / "d", None, embedder="wordllama-256") as c:
        assert c.search.indexer.model_id == MODEL_ID
        # Its weaker meaning half counts for less than the words (bench_locomo).
        assert c.search.fusion == fusion_for("wordllama-256") != DEFAULT_FUSION
        assert c.search.fusion.words > c.search.fusion.meaning
        _, at3 = paraphrases_found(c, ("hybrid", "semantic"))
        # About MiniLM's (>= 9 of 10 in test_search; 9 here when measured), far more than
        # the words alone find (<= 4).
        assert at3["hybrid"] >= 8 and at3["semantic"] >= 8, at3


def test_switching_the_embedder_rebuilds_the_index_from_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "d"
    notes: dict[str, Any] = {key: note for key, note, _ in PARAPHRASES}
    with open_c(data, None) as c:  # MiniLM first
        for key, note in notes.items():
            c.memory.store(key, note)
        c.search.indexer.drain()
        assert c.search.indexer.vectors.count() == len(notes)
    with open_c(data, None, embedder="wordllama-256") as c:
        # The old collection holds another model's vectors: it is rebuilt, nothing asked.
        c.search.indexer.drain()
        in_step(c)
        question = PARAPHRASES[0][2]
        assert PARAPHRASES[0][0] in ids(c.search.memory(question, mode="semantic", limit=3))


def test_patterns_learn_and_search_with_the_static_model(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    c = MemoryCoordinator.open(
        Config.load(root, env={}, redis_enabled=False, embedder="wordllama-256")
    )
    with c:
        assert c.learning.model_id == MODEL_ID
        for text in ("Retry flaky network calls three times with backoff",
                     "Store every timestamp in UTC", "The logo uses a dark blue"):  # fmt: skip
            c.learning.learn(Experience("convention", text))
        found = c.learning.search("which time zone do dates use?", limit=1)
        assert found.mode == "vector", found.note
        assert [p.input_pattern for p, _ in found.hits] == ["Store every timestamp in UTC"]


def test_doctor_reports_the_static_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_c(tmp_path / "d", None, embedder="wordllama-256") as c:
        report = c.doctor()["vectors"]
        assert report["embedder"] == "wordllama-256" and report["model_installed"] is True
        monkeypatch.setattr(static.importlib.util, "find_spec", lambda name: None)
        assert c.doctor()["vectors"]["model_installed"] is False
