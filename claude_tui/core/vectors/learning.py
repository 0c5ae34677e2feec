"""The pattern pipeline: raw experience → features → embedding → storage → similarity search.

SQLite's ``neural_patterns`` is the source of truth; the Chroma index is
derived from it. When the index cannot be used, writes are queued in SQLite
(``pattern_index_queue``) and searches fall back to text search over the rows.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import BadInput, ClaudeTUIError
from claude_tui.core.events import ChangeEvent
from claude_tui.core.models import Pattern
from claude_tui.core.validation import check_text
from claude_tui.core.vectors.embedder import (
    DIMENSIONS,
    MODEL_ID,
    MiniLMEmbedder,
    clean_text,
)
from claude_tui.core.vectors.index import (
    IndexMismatch,
    IndexUnavailable,
    ModelChanged,
    PatternIndex,
)

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

PATTERN_TYPES = ("task_completion", "error_fix", "tool_sequence", "decision")
CONSOLIDATE_AT = 0.92  # cosine similarity above which an experience reinforces a pattern
MAX_INPUT_CHARS = 100_000


@dataclass(frozen=True)
class Experience:
    """What an agent did: the raw material of a pattern."""

    pattern_type: str
    input_text: str
    output_text: str | None = None
    context: str | None = None
    success: bool | None = None
    duration_seconds: float | None = None
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Learned:
    """The outcome of :meth:`PatternLearner.learn`."""

    pattern: Pattern
    consolidated: bool
    similarity: float | None
    truncated: bool
    indexed: bool


@dataclass(frozen=True)
class SearchResult:
    """Patterns by similarity (``mode`` 'vector'), or by words when the index is down."""

    hits: list[tuple[Pattern, float]]
    mode: str
    truncated: bool = False
    note: str | None = None


def features(exp: Experience) -> dict[str, Any]:
    """The extracted features stored with a pattern (and filterable later)."""
    found: dict[str, Any] = {
        "pattern_type": exp.pattern_type,
        "context": exp.context or "general",
        "outcome": None if exp.success is None else ("success" if exp.success else "failure"),
        "input_chars": len(exp.input_text),
    }
    if exp.duration_seconds is not None:
        found["duration_seconds"] = exp.duration_seconds
    return found


def embedding_text(input_text: str, output_text: str | None) -> str:
    """The text whose vector stands for a pattern."""
    return input_text if not output_text else f"{input_text}\n{output_text}"


class PatternLearner:
    """Learn patterns from experiences and find them again by meaning."""

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        *,
        embedder: MiniLMEmbedder | Any | None = None,
        index: PatternIndex | None = None,
    ) -> None:
        from claude_tui.core.vectors.embedders import make_embedder

        self.c = coordinator
        self.embedder = embedder or make_embedder(coordinator.config.embedder)
        self.model_id: str = getattr(self.embedder, "model_id", MODEL_ID)
        if index is None:
            chosen = self.embedder if hasattr(self.embedder, "chroma_function") else None
            index = PatternIndex(
                coordinator.config.data_dir,
                coordinator.config.chroma_url,
                model_id=self.model_id,
                dimensions=chosen.dimensions if chosen is not None else DIMENSIONS,
                function=chosen.chroma_function() if chosen is not None else None,
            )
        self.index = index
        self._cache: OrderedDict[str, tuple[list[float], bool]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._synced = False
        # Pattern rows added or removed (demo data, another API, another process)
        # make the next search or learn compare the index with SQLite again.
        coordinator.events.subscribe(self._on_changes)

    def _on_changes(self, events: list[ChangeEvent]) -> None:
        if any(e.table == "neural_patterns" and e.op in ("insert", "delete") for e in events):
            self._synced = False

    # -- embedding ------------------------------------------------------------
    def _embed(self, text: str) -> tuple[list[float], bool]:
        vector, truncated = self.embedder.embed_one(text)
        if len(vector) != self.index.dimensions:
            raise IndexMismatch(
                f"the embedder returned {len(vector)} dimensions, not {self.index.dimensions}: "
                "it is misconfigured; nothing was written"
            )
        return [float(x) for x in vector], truncated

    def embed_query(self, text: str) -> tuple[list[float], bool]:
        """A query vector, cached in-process and in Redis by model and text hash."""
        digest = hashlib.sha256(f"{self.model_id}\x1f{text}".encode()).hexdigest()
        with self._cache_lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
                return hit
        found = self._from_redis(digest)
        if found is None:
            found = self._embed(text)
            self._to_redis(digest, *found)
        with self._cache_lock:
            self._cache[digest] = found
            if len(self._cache) > 2000:
                self._cache.popitem(last=False)
        return found

    def _from_redis(self, digest: str) -> tuple[list[float], bool] | None:
        """A cached query vector: float32 bytes and one byte for "truncated"."""
        import numpy as np

        l2 = self.c.rt.l2_usable()
        raw = None if l2 is None else l2.get_embedding(digest)
        if not raw or len(raw) != self.index.dimensions * 4 + 1:
            return None
        vector = [float(x) for x in np.frombuffer(raw[:-1], dtype=np.float32)]
        return vector, raw[-1:] == b"\x01"

    def _to_redis(self, digest: str, vector: list[float], truncated: bool) -> None:
        import numpy as np

        l2 = self.c.rt.l2_usable()
        if l2 is not None:
            data = np.asarray(vector, dtype=np.float32).tobytes() + (
                b"\x01" if truncated else b"\x00"
            )
            l2.put_embedding(digest, data)

    # -- learning ---------------------------------------------------------------
    def learn(self, exp: Experience) -> Learned:
        """Record an experience: a new pattern, or a reinforced near-duplicate.

        Raises:
            BadInput: empty or invalid text, an unknown session, or a credential
                in the text (secrets are never embedded).
            IndexMismatch: the embedder gives vectors of the wrong size.
        """
        check_text(exp.pattern_type, "pattern type", max_len=100)
        input_text = clean_text(exp.input_text, "input")
        output_text = None if exp.output_text is None else clean_text(exp.output_text, "output")
        for text, what in ((input_text, "input"), (output_text or "", "output")):
            if len(text) > MAX_INPUT_CHARS:
                raise BadInput(f"{what} is {len(text):,} characters, over {MAX_INPUT_CHARS:,}")
            if text and self.c.rt.guard.text_sensitive(text):
                raise BadInput(
                    f"{what} looks like it holds a credential; secrets are never learned"
                )
        if exp.session_id is not None:
            self.c.rt.require_session(exp.session_id)
        vector, truncated = self._embed(embedding_text(input_text, output_text))
        self.ensure_synced()
        try:
            near = self.index.query(vector, 1, exp.pattern_type)
        except IndexUnavailable:
            near = []
        if near and near[0].similarity >= CONSOLIDATE_AT:
            try:
                pattern = self.c.patterns.record_use(near[0].pattern_id, success=exp.success)
                return Learned(pattern, True, near[0].similarity, truncated, True)
            except ClaudeTUIError:
                pass  # the index knew a pattern SQLite no longer has: learn it anew
        confidence = 0.5 if exp.success is None else (0.6 if exp.success else 0.4)
        pattern = self.c.patterns.add(
            exp.pattern_type, input_text, output_text, context=exp.context,
            confidence=confidence, session_id=exp.session_id,
            success_rate=None if exp.success is None else float(exp.success),
            metadata={**exp.metadata, "features": features(exp), "model": self.model_id},
        )  # fmt: skip
        indexed = self._index([pattern], [vector])
        return Learned(pattern, False, near[0].similarity if near else None, truncated, indexed)

    def _index(self, patterns: list[Pattern], vectors: list[list[float]]) -> bool:
        try:
            self.index.upsert(
                [p.id for p in patterns],
                vectors,
                [embedding_text(p.input_pattern, p.output_pattern) for p in patterns],
                [_metadata(p) for p in patterns],
            )
            return True
        except IndexUnavailable as exc:
            log.warning("vector index down, queued %d pattern(s): %s", len(patterns), exc)
            self._queue([p.id for p in patterns], "upsert")
            return False

    def _queue(self, ids: list[str], op: str) -> None:
        now = time.time()

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO pattern_index_queue (pattern_id, op, queued_at) "
                "VALUES (?, ?, ?)",
                [(i, op, now) for i in ids],
            )

        self.c.rt.write(body)

    def queued(self) -> int:
        """Pattern writes waiting for the vector index."""
        return int(self.c.store.scalar("SELECT count(*) FROM pattern_index_queue"))

    # -- search -----------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        pattern_type: str | None = None,
        limit: int = 10,
        min_score: float | None = None,
    ) -> SearchResult:
        """Top patterns by cosine similarity; ties broken by confidence, then usage.

        Falls back to word search over the rows when the index is unavailable.

        Raises:
            BadInput: empty or invalid text, a bad limit or score.
        """
        query = clean_text(text, "query")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise BadInput(f"limit must be between 1 and 1000, not {limit!r}")
        if min_score is not None and (
            isinstance(min_score, bool)
            or not isinstance(min_score, int | float)
            or not -1.0 <= float(min_score) <= 1.0
        ):
            raise BadInput(f"min-score must be a number between -1 and 1, not {min_score!r}")
        if self.c.rt.guard.text_sensitive(query):
            # Secrets are never embedded (nor cached in Redis): look for them by words only.
            rows = self.c.patterns.search_text(query, pattern_type, limit)
            return SearchResult(
                rows, "text", False, "the query looks like a credential: not embedded"
            )
        vector, truncated = self.embed_query(query)
        note = (
            "the query was longer than the model's window and was truncated" if truncated else None
        )
        self.ensure_synced()
        try:
            hits = self.index.query(vector, limit, pattern_type)
        except (IndexUnavailable, IndexMismatch) as exc:
            rows = self.c.patterns.search_text(query, pattern_type, limit)
            return SearchResult(rows, "text", truncated, f"text search only: {exc.message}")
        found: list[tuple[Pattern, float]] = []
        for hit in hits:
            try:
                found.append((self.c.patterns.get(hit.pattern_id), hit.similarity))
            except ClaudeTUIError:
                continue  # in the index but not in SQLite: drift, repaired at start-up
        found.sort(key=lambda ps: (-round(ps[1], 6), -ps[0].confidence, -ps[0].usage_count))
        if min_score is not None:
            found = [ps for ps in found if ps[1] >= float(min_score)]
        return SearchResult(found, "vector", truncated, note)

    # -- maintenance --------------------------------------------------------------
    def ensure_synced(self, *, full: bool = False) -> dict[str, int] | None:
        """Once per process: repair drift between SQLite and the index.

        Cheap by default (counts and the write queue); ``full`` compares every
        id (the app does this at start, off the first paint). Returns what the
        repair did, or None when nothing needed doing or the index is down.
        """
        if self._synced and not full:
            return None
        if full and self.rebuild_if_model_changed() is not None:
            self._synced = True
            return None
        try:
            drift = (
                full
                or self.queued() > 0
                or self.index.count()
                != int(self.c.store.scalar("SELECT count(*) FROM neural_patterns"))
            )
            report = self.repair() if drift else None
        except (IndexUnavailable, IndexMismatch):
            return None
        self._synced = True
        if report and any(report.values()):
            log.warning("vector index repaired: %s", report)
            return report
        return None

    def rebuild_if_model_changed(self) -> int | None:
        """Rebuild the index when it holds another model's vectors (an upgrade changed it).

        Off the search path (the app's start and the background indexer call it):
        a search meanwhile answers by words. Returns how many patterns were
        embedded, or None when the index was this model's (or is down).
        """
        try:
            self.index.collection()
            return None
        except ModelChanged as exc:
            log.warning("rebuilding the pattern index: %s", exc.message)
        except ClaudeTUIError:
            return None
        try:
            return self.reindex()
        except ClaudeTUIError as exc:
            log.info("the pattern index could not be rebuilt now: %s", exc.message)
            return None

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the index from SQLite; return how many patterns it holds."""
        self._embed("dimension probe")  # a misconfigured embedder fails here, index intact
        self.index.reset()
        total = int(self.c.store.scalar("SELECT count(*) FROM neural_patterns"))
        done = 0
        for batch in self.c.patterns.batches(256):
            texts = [embedding_text(p.input_pattern, p.output_pattern) for p in batch]
            vectors = self.embedder.embed(texts).vectors
            self.index.upsert([p.id for p in batch], vectors, texts, [_metadata(p) for p in batch])
            done += len(batch)
            if progress is not None:
                progress(done, total)
        self.c.store.write(lambda conn: conn.execute("DELETE FROM pattern_index_queue"))
        return done

    def repair(self) -> dict[str, int]:
        """Make the index match SQLite: add what is missing, drop what is extra.

        Returns counts: ``added``, ``removed``, ``queue`` (queued writes applied).
        """
        wanted = self.c.patterns.all_ids()
        present = self.index.ids()
        missing = sorted(wanted - present)
        extra = sorted(present - wanted)
        for start in range(0, len(missing), 256):
            batch = [self.c.patterns.get(i) for i in missing[start : start + 256]]
            texts = [embedding_text(p.input_pattern, p.output_pattern) for p in batch]
            self.index.upsert(
                [p.id for p in batch], self.embedder.embed(texts).vectors, texts,
                [_metadata(p) for p in batch],
            )  # fmt: skip
        self.index.delete(extra)
        queued = self.queued()
        self.c.store.write(lambda conn: conn.execute("DELETE FROM pattern_index_queue"))
        return {"added": len(missing), "removed": len(extra), "queue": queued}


def _metadata(p: Pattern) -> dict[str, Any]:
    # Only what does not change: confidence and usage live in SQLite alone.
    return {"pattern_type": p.pattern_type, "context": p.context or ""}
