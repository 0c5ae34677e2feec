"""The search service: one answer to every search, by words, by meaning, or both fused.

Each *corpus* (memory entries, patterns; transcripts plug in the same way,
see :class:`Corpus`) answers two ranked lists for a query — by words (SQLite
FTS5 BM25, stemmed) and by meaning (the corpus's Chroma collection) — each
with the caller's filters applied *inside* the query: the word half in its
SQL, the meaning half by checking every candidate against SQLite and widening
the search until enough visible ones are found (an exact search among the
visible set when few are), so a session never loses results to entries it
cannot see and never sees another's. The lists are fused by weighted
reciprocal rank fusion (RRF); each hit says which halves found it.

``mode``: ``hybrid`` (default), ``text`` (words only) or ``semantic`` (meaning
only). When the vector index is down, cold or behind, the word half answers
alone and the result's ``note`` says so.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from claude_tui.core.errors import BadInput, ClaudeTUIError
from claude_tui.core.models import SWARM_SCOPE, MemoryEntry, Pattern
from claude_tui.core.search.text import check_query, match_expression, terms

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.search.memory_index import MemoryIndexer

log = logging.getLogger(__name__)

MODES = ("hybrid", "text", "semantic")
WORDS, MEANING = "words", "meaning"
MAX_LIMIT = 1000
CATCH_UP_MAX = 256  # pending entries a one-shot search embeds first (more: the worker's job)
CURSOR_MAX_AGE = 1.0  # seconds a search trusts the index's cursor as last read
EXACT_AMONG_MAX = 5_000  # visible entries searched exactly by meaning when few are visible
# The word half ranks (BM25) the newest this many visible matches, not every one:
# a common word matches most of a 100k store, and ranking them all costs ~85 ms
# (this bound: ~5 ms) — the hooks search on every prompt. Older notes that hold
# the words still come back by meaning, or through a rarer word.
WORDS_AMONG = 2_000


@dataclass(frozen=True)
class Fusion:
    """How the two halves are combined (weighted RRF) and the optional extra terms.

    ``score(d) = Σ_s w_s / (k + rank_s(d))`` over the halves that found ``d``,
    plus ``recency`` × 2^(-age / half-life) and ``confidence`` × a pattern's
    confidence, all divided by the best possible RRF score (so a result first
    in both halves scores 1.0).
    """

    # Measured on LoCoMo (1,536 questions; /tmp notes of the benchmark run): the
    # textbook k=60 at 1:1 is too flat for top-10 cut-offs (R@10 0.645, below BM25
    # alone at 0.747); k=10 with the words counted twice gives 0.752.
    words: float = 2.0
    meaning: float = 1.0
    k: float = 10.0
    depth: int = 50  # how deep each half ranks before fusing
    # Optional: only neighbours within this much cosine similarity of the best one
    # take part in the fusion (the meaning half ranks every vector, relevant or
    # not). Off by default (2.0 keeps all): the measured recipe had no cut.
    meaning_margin: float = 2.0
    recency: float = 0.0
    half_life_days: float = 30.0
    confidence: float = 0.0


DEFAULT_FUSION = Fusion()


@dataclass(frozen=True)
class Filters:
    """What a search may return: visibility first, then narrowing.

    Memory visibility is the memory layer's own: without a session only shared
    entries; with one, that session's (and agent's) private entries and the
    swarm's; ``all_sessions`` is the owner's view. ``project_sessions`` is the
    hooks' scope: the swarm, the given sessions' entries except their working
    memory, and the current session's (``session_id``) working memory too.
    """

    session_id: str | None = None
    agent_id: str | None = None
    namespace: str | None = None
    memory_type: str | None = None
    all_sessions: bool = False
    project_sessions: tuple[str, ...] | None = None
    exclude_namespaces: tuple[str, ...] = ()
    plain_only: bool = False  # leave out sensitive entries altogether
    pattern_type: str | None = None
    pattern_sessions: tuple[str, ...] | None = None  # patterns of these sessions or the swarm's


@dataclass(frozen=True)
class Hit:
    """One result: the record, its fused score, and which halves found it."""

    kind: str  # memory, pattern (transcript, ... from other corpora)
    ref: str
    item: Any
    score: float
    matched: tuple[str, ...]
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def how(self) -> str:
        """'by words', 'by meaning' or 'by words and meaning'."""
        return "by " + " and ".join(self.matched)

    @property
    def entry(self) -> MemoryEntry:
        assert isinstance(self.item, MemoryEntry)
        return self.item

    @property
    def pattern(self) -> Pattern:
        assert isinstance(self.item, Pattern)
        return self.item

    def to_dict(self) -> dict[str, Any]:
        """Score and provenance, JSON-ready (the record is the caller's to render)."""
        return {"score": round(self.score, 4), "matched": list(self.matched),
                **{k: round(v, 4) for k, v in self.detail.items()}}  # fmt: skip


@dataclass(frozen=True)
class Results:
    """Hits best first, the mode asked for, the halves that answered, and why not both."""

    hits: list[Hit]
    mode: str
    used: tuple[str, ...]
    note: str | None = None
    pending: int = 0  # entries whose vectors are not ready (found by words only)
    truncated: bool = False


class Corpus(Protocol):
    """A searchable source: the extension point (memory, patterns; transcripts next).

    ``words`` and ``meaning`` return (reference, raw score) best first, with the
    filters applied inside; ``load`` turns references into records, dropping
    any that vanished meanwhile. ``meaning`` may raise ``ClaudeTUIError`` (the
    index is down): the service then answers by words and says so.
    """

    kind: str

    def words(self, words: list[str], filters: Filters, depth: int) -> list[tuple[Any, float]]: ...

    def meaning(
        self, vector: list[float], filters: Filters, depth: int
    ) -> list[tuple[Any, float]]: ...

    def load(self, refs: list[Any], filters: Filters) -> dict[Any, Any]: ...

    def unavailable(self) -> str | None:
        """Why the meaning half cannot answer now (None: it can)."""
        ...


def check_mode(mode: str) -> str:
    """Raises BadInput unless ``mode`` is hybrid, text or semantic."""
    if mode not in MODES:
        raise BadInput(f"search mode must be hybrid, text or semantic, not {mode!r}")
    return mode


def check_limit(limit: object) -> int:
    """Raises BadInput unless ``limit`` is an integer from 1 to 1,000."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit must be an integer from 1 to {MAX_LIMIT:,}, not {limit!r}")
    return limit


def fuse(
    lists: dict[str, list[tuple[Any, float]]], fusion: Fusion
) -> list[tuple[Any, float, tuple[str, ...], dict[str, float]]]:
    """Weighted RRF of ranked lists: (ref, score, halves that found it, raw scores)."""
    weights = {WORDS: fusion.words, MEANING: fusion.meaning}
    near = lists.get(MEANING)
    if near and len(lists) > 1:  # alone (mode semantic) the meaning half ranks them all
        floor = near[0][1] - fusion.meaning_margin
        lists = {**lists, MEANING: [(ref, sim) for ref, sim in near if sim >= floor]}
    scores: dict[Any, float] = {}
    found: dict[Any, list[str]] = {}
    detail: dict[Any, dict[str, float]] = {}
    for name, ranked in lists.items():
        w = weights.get(name, 1.0)
        for rank, (ref, raw) in enumerate(ranked, start=1):
            scores[ref] = scores.get(ref, 0.0) + w / (fusion.k + rank)
            found.setdefault(ref, []).append(name)
            detail.setdefault(ref, {})[_raw_name(name)] = float(raw)
    best = sum(weights.get(name, 1.0) for name in lists) / (fusion.k + 1)
    # Equal fused scores (first by words vs first by meaning) go to the closer meaning.
    order = sorted(scores, key=lambda ref: (-scores[ref], -detail[ref].get("similarity", -1.0)))
    return [
        (ref, scores[ref] / best if best else 0.0, tuple(found[ref]), detail[ref]) for ref in order
    ]


def _raw_name(name: str) -> str:
    return {WORDS: "bm25", MEANING: "similarity"}.get(name, name)


class SearchService:
    """Memory and pattern search for every interface (see the module docstring)."""

    def __init__(self, coordinator: MemoryCoordinator, *, fusion: Fusion = DEFAULT_FUSION) -> None:
        self.c = coordinator
        self.fusion = fusion
        self._indexer: MemoryIndexer | None = None
        self._lock = threading.Lock()
        self.corpora: dict[str, Corpus] = {
            "memory": MemoryCorpus(self),
            "pattern": PatternCorpus(self),
        }

    # -- parts ----------------------------------------------------------------------
    @property
    def indexer(self) -> MemoryIndexer:
        """Memory's vector index and its indexer (made on first use; loads nothing yet)."""
        with self._lock:
            if self._indexer is None:
                from claude_tui.core.search.memory_index import MemoryIndexer

                self._indexer = MemoryIndexer(self.c)
            return self._indexer

    @property
    def indexer_started(self) -> MemoryIndexer | None:
        """The indexer if something made it already (never makes it)."""
        return self._indexer

    def register(self, name: str, corpus: Corpus) -> None:
        """Plug in another corpus (transcripts, ...): searched with :meth:`search`."""
        self.corpora[name] = corpus

    def meaning_loaded(self) -> bool:
        """Whether the model and memory's collection are open in this process already."""
        return self._indexer is not None and self._indexer.loaded

    def warm_up(self) -> None:
        """Load the model and open the collections now (a long-lived process, off its path)."""
        indexer = self.indexer
        indexer.embedder.embed_one("warm up")
        indexer.vectors.collection()
        self.c.learning.index.collection()

    def start_indexer(self) -> None:
        """Keep memory's vector index in step from a background thread of this process."""
        self.indexer.start()

    def close(self) -> None:
        """Stop the background indexer and release the collection."""
        if self._indexer is not None:
            self._indexer.stop()
            if self._indexer._vectors is not None:
                self._indexer._vectors.close()

    # -- searching ----------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        corpus: str = "memory",
        mode: str = "hybrid",
        limit: int = 10,
        filters: Filters | None = None,
        fusion: Fusion | None = None,
        catch_up: bool = False,
    ) -> Results:
        """Search one corpus.

        Args:
            query: free text (1 to 10,000 characters, no control characters).
            corpus: ``memory`` or ``pattern`` (or a registered one).
            mode: ``hybrid``, ``text`` or ``semantic``.
            limit: 1 to 1,000 results.
            filters: visibility and narrowing, applied inside the search.
            fusion: weights (defaults to the service's).
            catch_up: embed a small backlog of pending entries first (one-shot
                commands, which have no background indexer).

        Raises:
            BadInput: a bad query, mode, limit or filter (unknown session, ...).
        """
        text = check_query(query)
        check_mode(mode)
        check_limit(limit)
        source = self.corpora.get(corpus)
        if source is None:
            raise BadInput(f"unknown corpus {corpus!r}: use one of {', '.join(self.corpora)}")
        filters = filters or Filters()
        fusion = fusion or self.fusion
        depth = max(fusion.depth, limit)
        words = terms(text)
        lists: dict[str, list[tuple[Any, float]]] = {}
        notes: list[str] = []
        truncated = False
        pending = 0
        embedding = None
        if (
            mode == "hybrid" and words and self.meaning_loaded()
            and not self.c.guard.text_sensitive(text) and source.unavailable() is None
        ):  # fmt: skip
            # The query's vector is made while SQLite ranks the words (both release the GIL).
            embedding = _pool().submit(self.c.learning.embed_query, text)
        if mode in ("text", "hybrid"):
            if words:
                lists[WORDS] = source.words(words, filters, depth)
            elif mode == "text":
                raise BadInput(f"the search text {query[:60]!r} has no words to look for")
        if mode in ("semantic", "hybrid"):
            if catch_up and corpus == "memory":
                self._catch_up()
            why = source.unavailable()
            if why is None and self.c.guard.text_sensitive(text):
                why = "the query looks like a credential, so it is not embedded"
            if why is None:
                if corpus == "memory":
                    pending = self.indexer.pending(CURSOR_MAX_AGE)
                try:
                    if embedding is not None:
                        vector, truncated = embedding.result()
                    else:
                        vector, truncated = self.c.learning.embed_query(text)
                    lists[MEANING] = source.meaning(vector, filters, depth)
                except ClaudeTUIError as exc:
                    why = exc.message
            if why is not None:
                if WORDS not in lists:
                    if not words:
                        raise BadInput(
                            f"the search text {query[:60]!r} has no words to look for, "
                            f"and search by meaning is unavailable: {why}"
                        )
                    lists[WORDS] = source.words(words, filters, depth)
                notes.append(f"found by words only: {why}")
            elif pending > 0:
                notes.append(
                    f"{pending:,} recent change(s) are not embedded yet: those entries are "
                    "found by words only until the indexer catches up"
                )
        if truncated:
            notes.append("the query was longer than the model's window and was cut")
        fused = fuse(lists, fusion)
        hits = self._hits(source, fused, filters, fusion, limit)
        return Results(hits, mode, tuple(lists), "; ".join(notes) or None, max(pending, 0),
                       truncated)  # fmt: skip

    def _catch_up(self) -> None:
        """Embed a small backlog now (or build a small index that was never built)."""
        indexer = self.indexer
        try:
            count = indexer.pending()
            if 0 < count <= CATCH_UP_MAX:
                indexer.drain()
        except ClaudeTUIError as exc:
            log.info("could not catch the memory index up: %s", exc.message)

    def _hits(
        self,
        source: Corpus,
        fused: list[tuple[Any, float, tuple[str, ...], dict[str, float]]],
        filters: Filters,
        fusion: Fusion,
        limit: int,
    ) -> list[Hit]:
        extra = fusion.recency > 0 or fusion.confidence > 0
        wanted = fused if extra else fused[: limit * 2]
        items = source.load([ref for ref, *_ in wanted], filters)
        now = self.c.rt.clock()
        hits: list[Hit] = []
        for ref, score, matched, detail in wanted:
            item = items.get(ref)
            if item is None:
                continue
            if extra:
                score += _extra_terms(item, fusion, now)
            hits.append(Hit(source.kind, str(ref), item, score, matched, detail))
        if extra:
            hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    # -- shortcuts for the interfaces ---------------------------------------------------
    def memory(self, query: str, **kw: Any) -> Results:
        """Search memory entries (see :meth:`search`)."""
        return self.search(query, corpus="memory", **kw)

    def patterns(self, query: str, **kw: Any) -> Results:
        """Search patterns (see :meth:`search`)."""
        return self.search(query, corpus="pattern", **kw)


_POOL: Any = None
_POOL_LOCK = threading.Lock()


def _pool() -> Any:
    """One worker thread per process for query embeddings made beside the word search."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claude-tui-embed")
        return _POOL


def _extra_terms(item: Any, fusion: Fusion, now: float) -> float:
    bonus = 0.0
    if fusion.recency > 0:
        at = getattr(item, "updated_at", None) or getattr(item, "last_updated", None)
        if at:
            age_days = max(0.0, now - float(at)) / 86_400
            bonus += fusion.recency * math.pow(2.0, -age_days / fusion.half_life_days)
    if fusion.confidence > 0 and isinstance(item, Pattern):
        bonus += fusion.confidence * item.confidence
    return bonus


# -- memory ---------------------------------------------------------------------------


class MemoryCorpus:
    """Memory entries: FTS5 over key and value words; memory's vector collection."""

    kind = "memory"
    key_weight = 2.0  # a word of the key counts twice one of the value (BM25 column weights)
    value_weight = 1.0

    def __init__(self, service: SearchService) -> None:
        self.s = service
        self.c = service.c

    def where(self, filters: Filters) -> tuple[str, list[Any]]:
        """The visibility and narrowing clause over ``m`` (memory_entries), with parameters."""
        f = filters
        if f.project_sessions is None:
            where, params = self.c.memory._filters(
                f.session_id, f.agent_id, f.namespace, f.memory_type, f.all_sessions, prefix="m."
            )
        else:
            ids = list(
                dict.fromkeys([*f.project_sessions, *([f.session_id] if f.session_id else [])])
            )
            marks = ",".join("?" * len(ids)) or "NULL"
            where = (
                f"(m.ttl IS NULL OR m.ttl > ?) AND (m.scope = '{SWARM_SCOPE}' OR "
                f"(m.session_id IN ({marks}) AND (m.memory_type != 'working' OR m.session_id = ?)))"
            )
            params = [self.c.rt.clock(), *ids, f.session_id]
            if f.namespace is not None:
                where += " AND m.namespace = ?"
                params.append(f.namespace)
            if f.memory_type is not None:
                where += " AND m.memory_type = ?"
                params.append(f.memory_type)
        if f.exclude_namespaces:
            where += f" AND m.namespace NOT IN ({','.join('?' * len(f.exclude_namespaces))})"
            params = [*params, *f.exclude_namespaces]
        if f.plain_only:
            where += " AND m.sensitive = 0"
        return where, list(params)

    def words(self, words: list[str], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        where, params = self.where(filters)
        rows = self.c.store.rows(
            "SELECT id, s FROM ("
            f"SELECT m.id AS id, bm25(memory_fts, {self.key_weight}, {self.value_weight}) AS s "
            "FROM memory_fts JOIN memory_entries m ON m.id = memory_fts.rowid "
            f"WHERE memory_fts MATCH ? AND {where} ORDER BY memory_fts.rowid DESC LIMIT ?"
            ") ORDER BY s LIMIT ?",
            (match_expression(words), *params, WORDS_AMONG, depth),
        )
        return [(int(r[0]), -float(r[1])) for r in rows]

    def unavailable(self) -> str | None:
        indexer = self.s.indexer
        try:
            cursor = indexer.vectors.cursor(CURSOR_MAX_AGE)
        except ClaudeTUIError as exc:
            return f"the vector index is unavailable ({exc.message})"
        if cursor is None:
            return f"memory's vector index is not built yet (run '{_reindex()}')"
        return None

    def _visible(self, ids: Sequence[int], filters: Filters) -> set[int]:
        if not ids:
            return set()
        where, params = self.where(filters)
        marks = ",".join("?" * len(ids))
        return {
            int(r[0])
            for r in self.c.store.rows(
                f"SELECT m.id FROM memory_entries m WHERE m.id IN ({marks}) AND {where}",
                (*ids, *params),
            )
        }

    def meaning(self, vector: list[float], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        vectors = self.s.indexer.vectors
        total = vectors.count()
        if total == 0:
            return []
        ranked: list[tuple[Any, float]] = []
        asked = 0
        # Widen the nearest-neighbour search until enough of it is visible: the
        # filter is exact (SQLite decides), and Chroma's own metadata filter costs
        # 50-250 ms at 100k entries where an unfiltered top 400 costs ~5 ms.
        for n in (max(depth * 4, 40), depth * 32, 2_000):
            n = min(n, total)
            if n <= asked:
                break
            hits = vectors.nearest(vector, n)
            asked = n
            visible = self._visible([i for i, _ in hits], filters)
            ranked = [(i, sim) for i, sim in hits if i in visible]
            if len(ranked) >= depth or len(hits) < n or asked >= total:
                return ranked[:depth]
        # Few visible among many: rank exactly among the visible ones.
        where, params = self.where(filters)
        among = [
            int(r[0])
            for r in self.c.store.rows(
                f"SELECT m.id FROM memory_entries m WHERE {where} AND m.sensitive = 0 "
                "ORDER BY m.id DESC LIMIT ?",
                (*params, EXACT_AMONG_MAX + 1),
            )
        ]
        if not among or len(among) > EXACT_AMONG_MAX:
            return ranked[:depth]
        return vectors.exact_among(vector, among, depth)

    def load(self, refs: list[Any], filters: Filters) -> dict[Any, Any]:
        from claude_tui.core.services.memory import COLUMNS, _entry

        if not refs:
            return {}
        where, params = self.where(filters)  # checked again: a row may have changed since
        cols = ", ".join(f"m.{c.strip()}" for c in COLUMNS.split(","))
        marks = ",".join("?" * len(refs))
        rows = self.c.store.rows(
            f"SELECT {cols} FROM memory_entries m WHERE m.id IN ({marks}) AND {where}",
            (*refs, *params),
        )
        return {int(r[0]): self.c.memory._opened(_entry(r, "sqlite")) for r in rows}


def _reindex() -> str:
    from claude_tui.core.search.memory_index import REINDEX_COMMAND

    return REINDEX_COMMAND


# -- patterns -------------------------------------------------------------------------


class PatternCorpus:
    """Learned patterns: FTS5 over type, input, output and context; the pattern index."""

    kind = "pattern"

    def __init__(self, service: SearchService) -> None:
        self.s = service
        self.c = service.c

    def _where(self, filters: Filters) -> tuple[str, list[Any]]:
        where, params = "1", []
        if filters.pattern_type is not None:
            where += " AND p.pattern_type = ?"
            params.append(filters.pattern_type)
        if filters.pattern_sessions is not None:
            marks = ",".join("?" * len(filters.pattern_sessions)) or "NULL"
            where += f" AND (p.session_id IS NULL OR p.session_id IN ({marks}))"
            params += list(filters.pattern_sessions)
        if filters.plain_only:
            where += " AND p.sealed IS NULL"
        return where, params

    def words(self, words: list[str], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        where, params = self._where(filters)
        rows = self.c.store.rows(
            "SELECT id, s FROM (SELECT p.id AS id, bm25(pattern_fts) AS s FROM pattern_fts "
            "JOIN neural_patterns p ON p.id = pattern_fts.ref "
            f"WHERE pattern_fts MATCH ? AND {where} ORDER BY pattern_fts.rowid DESC LIMIT ?"
            ") ORDER BY s LIMIT ?",
            (match_expression(words), *params, WORDS_AMONG, depth),
        )
        return [(str(r[0]), -float(r[1])) for r in rows]

    def unavailable(self) -> str | None:
        try:
            self.c.learning.index.collection()
        except ClaudeTUIError as exc:
            return f"the vector index is unavailable ({exc.message})"
        return None

    def meaning(self, vector: list[float], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        learner = self.c.learning
        learner.ensure_synced()
        if filters.pattern_sessions is None and not filters.plain_only:
            hits = learner.index.query(vector, depth, filters.pattern_type)
            return [(h.pattern_id, h.similarity) for h in hits]
        hits = learner.index.query(vector, depth * 8, filters.pattern_type)
        where, params = self._where(filters)
        ids = [h.pattern_id for h in hits]
        marks = ",".join("?" * len(ids)) or "NULL"
        visible = {
            r[0]
            for r in self.c.store.rows(
                f"SELECT p.id FROM neural_patterns p WHERE p.id IN ({marks}) AND {where}",
                (*ids, *params),
            )
        }
        return [(h.pattern_id, h.similarity) for h in hits if h.pattern_id in visible][:depth]

    def load(self, refs: list[Any], filters: Filters) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        for ref in refs:
            try:
                found[ref] = self.c.patterns.get(str(ref))
            except ClaudeTUIError:
                continue  # in the index but gone from SQLite: drift, repaired later
        return found


__all__ = [
    "DEFAULT_FUSION", "MODES", "Corpus", "Filters", "Fusion", "Hit", "Results", "SearchService",
    "check_limit", "check_mode", "fuse",
]  # fmt: skip
