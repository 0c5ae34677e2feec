"""The search service: one answer to every search, by words, by meaning, or both fused.

Each *corpus* (memory entries, patterns, transcript turns — see :class:`Corpus`
and :mod:`.transcripts`) answers two ranked lists for a query — by words (SQLite
FTS5 BM25, stemmed) and by meaning (the corpus's Chroma collection) — each
with the caller's filters applied *inside* the query: the word half in its
SQL, the meaning half by checking every candidate against SQLite, asking
Chroma for as many neighbours as the scope's visible share says hold enough
(wider once if not; an exact search among the visible set when few are), so a
session never loses results to entries it cannot see and never sees another's.
In a hybrid search the meaning half runs in a worker thread beside the word
half. The lists are fused by weighted reciprocal rank fusion (RRF); each hit
says which halves found it. :meth:`SearchService.search_many` merges corpora.

``mode``: ``hybrid`` (default), ``text`` (words only) or ``semantic`` (meaning
only). When the vector index is down, cold or behind, the word half answers
alone and the result's ``note`` says so.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from claude_tui.core.errors import BadInput, ClaudeTUIError
from claude_tui.core.models import SWARM_SCOPE, MemoryEntry, Pattern
from claude_tui.core.search.text import check_query, match_expression, terms
from claude_tui.core.vectors.embedders import STATIC

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.search.memory_index import MemoryIndexer
    from claude_tui.core.search.transcripts import TranscriptTurn

log = logging.getLogger(__name__)

MODES = ("hybrid", "text", "semantic")
WORDS, MEANING = "words", "meaning"
MAX_LIMIT = 1000
CATCH_UP_MAX = 256  # pending entries a one-shot search embeds first (more: the worker's job)
CURSOR_MAX_AGE = 1.0  # seconds a search trusts the index's cursor as last read
EXACT_AMONG_MAX = 5_000  # visible entries searched exactly by meaning when few are visible
# Neighbours asked of Chroma per query: ~1.5 ms for 50, ~3 ms for 400, ~8 ms for 2,000
# at 100k vectors. The first search of a scope guesses that a quarter is visible.
MEANING_ASK_MIN, MEANING_ASK_MAX = 40, 2_000
FIRST_SHARE, MIN_SHARE = 0.25, 0.001
SHARES_KEPT = 256
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

    # Chosen on two benchmarks at once (bench_locomo, bench_paraphrase; MiniLM):
    # LoCoMo's questions share words with their answers, paraphrases do not. The
    # textbook k=60 is too flat for top-10 cut-offs; the earlier words x2 at k=10
    # (LoCoMo R@5 0.694, R@10 0.776) let any entry sharing a word outrank a
    # paraphrase the meaning half put first (paraphrase R@5 0.19, meaning alone
    # 0.54). Equal weights at k=2 keep LoCoMo (0.677, 0.767) and give the
    # paraphrases R@5 0.54, R@1 0.34 (0.14 with words x1.2): the two halves' firsts
    # tie, and a tie goes to the closer meaning (see fuse), so both are in the top 2.
    words: float = 1.0
    meaning: float = 1.0
    k: float = 2.0
    depth: int = 50  # how deep each half ranks before fusing
    # Optional: only neighbours within this much cosine similarity of the best one
    # take part in the fusion (the meaning half ranks every vector, relevant or
    # not). Off by default (2.0 keeps all): the measured recipe had no cut.
    meaning_margin: float = 2.0
    recency: float = 0.0
    half_life_days: float = 30.0
    confidence: float = 0.0


DEFAULT_FUSION = Fusion()
# A weaker meaning half counts for less. The static embedder (wordllama-256) on
# LoCoMo: R@5 0.635, R@10 0.747 at equal weights (below issue 12's 0.65 / 0.75),
# 0.658 / 0.756 with the words x1.2; on the paraphrases the two are within 0.01.
FUSION_BY_EMBEDDER = {STATIC: replace(DEFAULT_FUSION, words=1.2)}


def fusion_for(embedder: str) -> Fusion:
    """The fusion measured best for ``embedder`` (the default one for any other)."""
    return FUSION_BY_EMBEDDER.get(embedder, DEFAULT_FUSION)


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

    @property
    def turn(self) -> TranscriptTurn:
        from claude_tui.core.search.transcripts import TranscriptTurn

        assert isinstance(self.item, TranscriptTurn)
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


@dataclass(frozen=True)
class Meaning:
    """What the meaning half found (``ranked``), or why it could not answer (``why``)."""

    ranked: list[tuple[Any, float]] | None
    why: str | None
    pending: int = 0
    truncated: bool = False


class Corpus(Protocol):
    """A searchable source: the extension point (memory, patterns, transcripts).

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

    def __init__(self, coordinator: MemoryCoordinator, *, fusion: Fusion | None = None) -> None:
        self.c = coordinator
        self.fusion = fusion or fusion_for(coordinator.config.embedder)
        self._indexer: MemoryIndexer | None = None
        self._lock = threading.Lock()
        from claude_tui.core.search.transcripts import TranscriptCorpus

        self.corpora: dict[str, Corpus] = {
            "memory": MemoryCorpus(self),
            "pattern": PatternCorpus(self),
            "transcript": TranscriptCorpus(self),
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
        if mode == "text" and not words:
            raise BadInput(f"the search text {query[:60]!r} has no words to look for")
        lists: dict[str, list[tuple[Any, float]]] = {}
        notes: list[str] = []
        truncated = False
        pending = 0
        meaning: Meaning | None = None
        if mode in ("semantic", "hybrid"):
            if catch_up and corpus == "memory":
                self._catch_up()
            if mode == "hybrid" and words and self.meaning_loaded():
                # The meaning half (the query's vector, the nearest neighbours, their
                # visibility) runs in a worker while this thread ranks the words: both
                # spend their time in onnxruntime, Chroma and SQLite, with the GIL released.
                job = _pool().submit(self._meaning, source, corpus, text, filters, depth)
                lists[WORDS] = source.words(words, filters, depth)
                meaning = job.result()
            else:
                if mode == "hybrid" and words:
                    lists[WORDS] = source.words(words, filters, depth)
                meaning = self._meaning(source, corpus, text, filters, depth)
        elif words:
            lists[WORDS] = source.words(words, filters, depth)
        if meaning is not None:
            pending, truncated = meaning.pending, meaning.truncated
            if meaning.ranked is not None:
                lists[MEANING] = meaning.ranked
                if pending > 0:
                    notes.append(
                        f"{pending:,} recent change(s) are not embedded yet: those entries are "
                        "found by words only until the indexer catches up"
                    )
            else:
                if WORDS not in lists:
                    if not words:
                        raise BadInput(
                            f"the search text {query[:60]!r} has no words to look for, "
                            f"and search by meaning is unavailable: {meaning.why}"
                        )
                    lists[WORDS] = source.words(words, filters, depth)
                notes.append(f"found by words only: {meaning.why}")
        if truncated:
            notes.append("the query was longer than the model's window and was cut")
        fused = fuse(lists, fusion)
        hits = self._hits(source, fused, filters, fusion, limit)
        return Results(hits, mode, tuple(lists), "; ".join(notes) or None, max(pending, 0),
                       truncated)  # fmt: skip

    def _meaning(
        self, source: Corpus, corpus: str, text: str, filters: Filters, depth: int
    ) -> Meaning:
        """The meaning half: ranked neighbours, or why it cannot answer (never raises ours)."""
        why = source.unavailable()
        if why is None and self.c.guard.text_sensitive(text):
            why = "the query looks like a credential, so it is not embedded"
        if why is not None:
            return Meaning(None, why)
        pending = self.indexer.pending(CURSOR_MAX_AGE) if corpus == "memory" else 0
        try:
            vector, truncated = self.c.learning.embed_query(text)
            return Meaning(source.meaning(vector, filters, depth), None, pending, truncated)
        except ClaudeTUIError as exc:
            return Meaning(None, exc.message, pending)

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
            hits.append(Hit(source.kind, str(getattr(ref, "ref", ref)), item, score, matched,
                            detail))  # fmt: skip
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

    def search_many(self, query: str, corpora: Sequence[str], *, limit: int = 10,
                    **kw: Any) -> Results:  # fmt: skip
        """Search several corpora (``memory`` and ``transcript``, ...) as one list.

        Each corpus is searched as by :meth:`search`; the hits are merged by
        score, best first, on one scale: 1.0 is first in every half the mode
        asks for (a corpus searched by words only tops out lower). The note
        names the corpus it is about.
        """
        if not corpora:
            raise BadInput("name at least one source to search")
        found = [(name, self.search(query, corpus=name, limit=limit, **kw)) for name in corpora]
        if len(found) == 1:
            return found[0][1]
        fusion = kw.get("fusion") or self.fusion
        weights = {WORDS: fusion.words, MEANING: fusion.meaning}
        asked = {"hybrid": (WORDS, MEANING), "text": (WORDS,), "semantic": (MEANING,)}
        hits: list[Hit] = []
        for _, r in found:
            # A corpus that answered with fewer halves than the mode asked for (transcripts
            # have no meaning half) is scaled to the same scale: its best counts as a hit
            # first in those halves only, not as one first in all.
            full = sum(weights[h] for h in asked[r.mode])
            scale = sum(weights.get(h, 1.0) for h in r.used) / full if full else 1.0
            hits += [replace(h, score=h.score * min(scale, 1.0)) for h in r.hits]
        hits.sort(key=lambda h: -h.score)
        notes = [f"{name}: {r.note}" for name, r in found if r.note]
        used = tuple(dict.fromkeys(u for _, r in found for u in r.used))
        return Results(hits[:limit], found[0][1].mode, used, "; ".join(notes) or None,
                       sum(r.pending for _, r in found),
                       any(r.truncated for _, r in found))  # fmt: skip


_POOL: Any = None
_POOL_LOCK = threading.Lock()


def _pool() -> Any:
    """Worker threads for the meaning half of hybrid searches (run beside the word half)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            # Two: searches from two threads (the app and its hook worker) do not queue.
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="claude-tui-search")
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
    """Memory entries: FTS5 over key, value and context words; memory's vector collection."""

    kind = "memory"
    # BM25 column weights (migration 12): a word of the key counts 8 times one of the
    # value, one of the value's context member half. Measured on LoCoMo (bench_locomo:
    # 8/1/0.5 beats 2/1 with the context in the value).
    key_weight = 8.0
    value_weight = 1.0
    context_weight = 0.5
    words_aside = True

    def __init__(self, service: SearchService) -> None:
        self.s = service
        self.c = service.c
        # Per scope: the share of the nearest neighbours it could see last time.
        self._share: dict[Filters, float] = {}
        self._share_lock = threading.Lock()

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
        # On the store's second (read-only) connection: the ranking holds no lock the
        # meaning half's visibility checks, or the app's point reads, wait behind.
        read = self.c.store.scan_rows if self.words_aside else self.c.store.rows
        rows = read(
            "SELECT id, s FROM ("
            f"SELECT m.id AS id, bm25(memory_fts, {self.key_weight}, {self.value_weight}, "
            f"{self.context_weight}) AS s "
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
        # Ask Chroma (unfiltered: its metadata filter costs 50-250 ms at 100k entries
        # where a top 400 costs ~3 ms) for as many neighbours as should hold ``depth``
        # visible ones, by the share of them this scope saw last time, so one query
        # is the rule; SQLite decides visibility. Wider once if that fell short; for a
        # scope that sees too few, an exact search among its own entries.
        share = self._share.get(filters, FIRST_SHARE)
        asked = 0
        ranked: list[tuple[Any, float]] = []
        for _ in range(2):
            n = min(MEANING_ASK_MAX, max(MEANING_ASK_MIN, math.ceil(depth * 1.5 / share)))
            if n <= asked:
                break
            hits = vectors.nearest(vector, n)
            asked = n
            visible = self._visible([i for i, _ in hits], filters)
            ranked = [(i, sim) for i, sim in hits if i in visible]
            share = max(len(ranked) / max(len(hits), 1), MIN_SHARE)
            self._remember(filters, share)
            if len(ranked) >= depth or len(hits) < n:
                return ranked[:depth]
            share /= 2  # short of depth: ask twice as deep as the share says
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

    def _remember(self, filters: Filters, share: float) -> None:
        with self._share_lock:
            self._share.pop(filters, None)
            self._share[filters] = share
            while len(self._share) > SHARES_KEPT:
                self._share.pop(next(iter(self._share)))

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
    "DEFAULT_FUSION", "FUSION_BY_EMBEDDER", "MODES", "Corpus", "Filters", "Fusion", "Hit",
    "Results", "SearchService", "check_limit", "check_mode", "fuse", "fusion_for",
]  # fmt: skip
