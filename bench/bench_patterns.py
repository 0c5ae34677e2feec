"""Pattern-search benchmark: MiniLM embedding speed, Chroma insert rate, search latency, recall.

What is measured, in one run:

1. Embedding: 2,000 short, varied, unique sentences (coding-agent experiences built from
   templates of the four pattern types) are embedded with ``MiniLMEmbedder.embed``; the
   first 1,000 are timed as one call (the embedder's own batches of 64) after a warm-up,
   giving seconds per 1,000 and sentences/s. Then ``embed_one`` latency p50/p99 over 200
   single sentences after 20 warm-up calls. The model load (first call) is timed apart.
2. Insert rate into the Chroma index: at each size N (default 10k and 100k) a fresh
   ``PatternIndex`` on a temp data dir (the embedded ``PersistentClient``, with the
   collection configuration claude_tui ships: ``{"hnsw": {"space": "cosine"}}``) receives N
   patterns through ``PatternIndex.upsert`` in batches of 1,000; only the upsert calls are
   timed. Embedding 100k texts with the real model would take minutes, so the vectors are
   synthetic but shaped like real ones: each is ``normalise(e_a + w * e_b + g)`` with
   ``e_a``, ``e_b`` two of the 2,000 real sentence embeddings, ``w ~ U(0, 0.5)`` and ``g``
   isotropic Gaussian noise of norm ``U(0.3, 0.7)``. That puts the nearest-neighbour
   similarity (median ~0.82 at 10k) close to that of the real sentences (~0.83) and keeps
   pairs under the learner's 0.92 consolidation threshold. Ids are ``pat_%08d``; metadata
   is what ``PatternLearner`` writes (pattern_type drawn uniformly and independently of the
   vector from task_completion, error_fix, tool_sequence and decision; and context); the
   document is the base sentence's text.
3. Search latency (k=10) through ``PatternIndex.query``, without and with a pattern_type
   filter (each query filters on a uniformly drawn type), over 500 query vectors made the
   same way but not in the index, after 20 warm-up queries. Right after, the same queries
   (and warm-up) as an exact brute-force search over the same vectors: a float32 matrix,
   one matrix-vector product and ``argpartition`` for the top 10 (for the filtered case
   over a contiguous copy of that type's rows, made beforehand). The two run as separate
   blocks, not interleaved sample by sample: on this 2-core machine, interleaving made
   OpenBLAS's spinning threads and Chroma's threads slow each other down. The ratio is
   index / brute force.
4. recall@10 of the index against that brute-force top 10, averaged over the queries.

The headline rows use the configuration claude_tui ships (Chroma's default HNSW
parameters). Extra "what-if" rows, which do not count towards the verdict, show a larger
``ef_search`` set with ``collection.modify`` (the index is then reopened so the setting
takes effect). An info row times ``coordinator.learning.search`` end to end (query
embedding, index query, SQLite rows) over 500 experiences learned through
``PatternLearner.learn`` on a small data dir.

Run from the project root: ``python -m bench.bench_patterns [--sizes 10000,100000] [--quick]``.
Prints a table and writes ``bench/results/patterns.json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import percentile, render_table, summary, timed
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.vectors.embedder import DIMENSIONS, MODEL_ID, MiniLMEmbedder
from claude_tui.core.vectors.index import PatternIndex
from claude_tui.core.vectors.learning import PATTERN_TYPES, Experience

RESULTS = Path(__file__).resolve().parent / "results" / "patterns.json"
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_EXTRA_EF = (200, 400)
K = 10
BATCH = 1_000  # patterns per PatternIndex.upsert call
BASE_SENTENCES = 2_000
THROUGHPUT_SENTENCES = 1_000
WARMUP = 20  # leading calls of each latency cell that are run but not counted
MS = 1_000_000.0  # nanoseconds per millisecond

# Synthetic vectors: normalise(e_a + w * e_b + g), |g| ~ U(NOISE_LO, NOISE_HI), w ~ U(0, MIX_MAX).
NOISE_LO, NOISE_HI, MIX_MAX = 0.3, 0.7, 0.5

TARGET_EMBED_MS = 10.0
TARGET_SEARCH_P99_MS = 20.0
TARGET_RECALL = 0.95

CONTEXTS = ("general", "cli", "api", "store", "tests", "app")
VERBS = (
    "added", "refactored", "implemented", "removed", "renamed", "documented", "optimised",
    "tested", "migrated", "split", "merged", "cached", "validated",
)  # fmt: skip
NOUNS = (
    "parser", "tokenizer", "cache", "layer", "router", "handler", "worker", "queue", "session",
    "schema", "index", "query", "config", "client", "server", "fixture", "migration",
    "endpoint", "scheduler", "logger", "serializer",
)  # fmt: skip
MODULES = (
    "api", "core", "store", "cache", "cli", "app", "services", "vectors", "events", "models",
)  # fmt: skip
ERRORS = (
    "a KeyError", "an off-by-one error", "a race condition", "a deadlock",
    "a null dereference", "a timeout", "a memory leak", "an import cycle", "a flaky test",
    "a unicode decode error", "a stale cache entry", "a missing index",
)  # fmt: skip
FIXES = (
    "adding a lock", "retrying with backoff", "checking for None first",
    "pinning the dependency", "invalidating the cache", "using a transaction",
    "raising the timeout", "normalising the input", "splitting the batch", "sorting the keys",
)  # fmt: skip
TOOLS = (
    "grep", "pytest", "ruff", "mypy", "git-diff", "git-log", "sed", "the-debugger",
    "the-profiler", "sqlite3", "redis-cli", "curl", "make",
)  # fmt: skip
GOALS = (
    "find the failing test", "locate the slow query", "reproduce the crash",
    "check the coverage", "review the diff", "bisect the regression", "inspect the schema",
    "measure the latency",
)  # fmt: skip
CHOICES = (
    "SQLite", "Redis", "a thread pool", "asyncio", "a dataclass", "a TypedDict",
    "an LRU cache", "keyset paging", "WAL mode", "a message queue", "JSON lines",
    "a B-tree index",
)  # fmt: skip
REASONS = (
    "it is simpler", "it keeps latency low", "it avoids a dependency",
    "the data fits in memory", "it survives restarts", "it is easier to test",
    "writes are rare", "reads dominate",
)  # fmt: skip


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------


def make_sentence(rng: random.Random) -> tuple[str, str]:
    """A short coding-agent experience and its pattern type."""
    path = f"{rng.choice(MODULES)}/{rng.choice(NOUNS)}.py"
    kind = rng.randrange(4)
    if kind == 0:
        tail = rng.choice(
            (
                "",
                f" so the {rng.choice(NOUNS)} tests pass",
                f" before the {rng.choice(NOUNS)} release",
            )
        )
        text = f"{rng.choice(VERBS).capitalize()} the {rng.choice(NOUNS)} {rng.choice(NOUNS)}"
        return f"{text} in {path}{tail}", "task_completion"
    if kind == 1:
        return f"Fixed {rng.choice(ERRORS)} in {path} by {rng.choice(FIXES)}", "error_fix"
    if kind == 2:
        return (
            f"Ran {rng.choice(TOOLS)} then {rng.choice(TOOLS)} to {rng.choice(GOALS)} "
            f"in the {rng.choice(NOUNS)}",
            "tool_sequence",
        )
    return (
        f"Chose {rng.choice(CHOICES)} over {rng.choice(CHOICES)} for the {rng.choice(NOUNS)} "
        f"because {rng.choice(REASONS)}",
        "decision",
    )


def make_sentences(n: int, rng: random.Random, exclude: set[str] | None = None) -> list[str]:
    """n distinct sentences (none of them in ``exclude``)."""
    seen = set(exclude or ())
    out: list[str] = []
    while len(out) < n:
        text, _ = make_sentence(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def synthesize(base: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors that are noisy mixtures of two base vectors; and each one's main base."""
    a = rng.integers(0, len(base), n)
    b = rng.integers(0, len(base), n)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 20_000):
        stop = min(n, start + 20_000)
        m = stop - start
        w = rng.uniform(0.0, MIX_MAX, (m, 1)).astype(np.float32)
        g = rng.standard_normal((m, base.shape[1])).astype(np.float32)
        g *= rng.uniform(NOISE_LO, NOISE_HI, (m, 1)).astype(np.float32) / np.linalg.norm(
            g, axis=1, keepdims=True
        )
        v = base[a[start:stop]] + w * base[b[start:stop]] + g
        out[start:stop] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, a


# -- measurement helpers ---------------------------------------------------------------


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def close_chroma() -> None:
    """Drop chromadb's per-path client cache, so the next client reopens from disk."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


# -- 1. embedding ------------------------------------------------------------------------


def bench_embedding(
    embedder: MiniLMEmbedder, sentences: list[str], singles: list[str], samples: int
) -> tuple[dict[str, Any], np.ndarray]:
    """Batch throughput and single-query latency; returns the results and every vector."""
    load_ns, _ = timed(lambda: embedder.embed_one(singles[0]))
    embedder.embed(singles[1 : 1 + embedder.batch_size])  # warm the batch path
    batch_ns, first = timed(lambda: embedder.embed(sentences[:THROUGHPUT_SENTENCES]))
    seconds = batch_ns / 1e9
    log(
        f"  embed {THROUGHPUT_SENTENCES:,} sentences: {seconds:.2f} s "
        f"({THROUGHPUT_SENTENCES / seconds:,.0f} sentences/s)"
    )
    rest = embedder.embed(sentences[THROUGHPUT_SENTENCES:])
    vectors = np.asarray(first.vectors + rest.vectors, dtype=np.float32)
    lat: list[int] = []
    for i, text in enumerate(singles[: WARMUP + samples]):
        t, _ = timed(lambda s=text: embedder.embed_one(s))
        if i >= WARMUP:
            lat.append(t)
    single = summary(lat, "ms")
    log(f"  embed_one: p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms")
    words = [len(s.split()) for s in sentences[:THROUGHPUT_SENTENCES]]
    nn = vectors @ vectors.T
    np.fill_diagonal(nn, -1.0)
    result = {
        "model": MODEL_ID,
        "batch_size": embedder.batch_size,
        "load_and_first_call_ms": load_ns / MS,
        "throughput": {
            "sentences": THROUGHPUT_SENTENCES,
            "seconds": seconds,
            "seconds_per_1000": seconds * 1000 / THROUGHPUT_SENTENCES,
            "sentences_per_s": THROUGHPUT_SENTENCES / seconds,
            "words_min_mean_max": [min(words), sum(words) / len(words), max(words)],
            "truncated": sum(first.truncated),
        },
        "single": single,
        "real_nearest_neighbour_similarity_p5_p50_p95": np.percentile(
            nn.max(axis=1), [5, 50, 95]
        ).tolist(),
    }
    return result, vectors


# -- 5. end to end (info) ------------------------------------------------------------------


def bench_end_to_end(tmp: Path, learn: int, searches: int, seed: int) -> dict[str, Any]:
    """``PatternLearner.learn`` then ``.search`` through a coordinator on a small data dir."""
    rng = random.Random(seed)
    experiences = []
    seen: set[str] = set()
    while len(experiences) < learn:
        text, kind = make_sentence(rng)
        if text not in seen:
            seen.add(text)
            experiences.append(Experience(kind, text, success=rng.random() < 0.8))
    queries = make_sentences(WARMUP + searches, rng, exclude=seen)
    data_dir = tmp / "end-to-end"
    cfg = Config.load(data_dir, env={}, redis_enabled=False)
    with MemoryCoordinator.open(cfg, use_redis=False) as c:
        learner = c.learning
        learner.index = PatternIndex(data_dir, url="")  # the embedded client, whatever the env
        learn_ns: list[int] = []
        consolidated = 0
        for exp in experiences:
            t, learned = timed(lambda e=exp: learner.learn(e))
            learn_ns.append(t)
            consolidated += learned.consolidated
        lat: list[int] = []
        modes: dict[str, int] = {}
        for i, text in enumerate(queries):
            t, found = timed(lambda q=text: learner.search(q, limit=K))
            modes[found.mode] = modes.get(found.mode, 0) + 1
            if i >= WARMUP:
                lat.append(t)
        patterns = int(c.store.scalar("SELECT count(*) FROM neural_patterns"))
        indexed = learner.index.count()
    close_chroma()
    shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "experiences": learn,
        "consolidated": consolidated,
        "patterns": patterns,
        "indexed": indexed,
        "learn": summary(learn_ns[WARMUP:], "ms"),
        "search": summary(lat, "ms"),
        "search_modes": modes,
    }
    log(
        f"  end to end: {patterns} patterns ({consolidated} consolidated); search p50 "
        f"{result['search']['p50_ms']:.2f} ms, p99 {result['search']['p99_ms']:.2f} ms"
    )
    return result


# -- 2-4. the index --------------------------------------------------------------------------


class Corpus:
    """N synthetic patterns, their queries and the brute-force structures over them."""

    def __init__(self, base: np.ndarray, texts: list[str], n: int, queries: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.x, self.base_of = synthesize(base, n, rng)
        self.types = rng.integers(0, len(PATTERN_TYPES), n)
        self.contexts = rng.integers(0, len(CONTEXTS), n)
        self.texts = texts
        self.q, _ = synthesize(base, WARMUP + queries, rng)
        self.q_types = rng.integers(0, len(PATTERN_TYPES), WARMUP + queries)
        self.q_lists = self.q.tolist()
        self.rows = [np.flatnonzero(self.types == t) for t in range(len(PATTERN_TYPES))]
        self.sub = [np.ascontiguousarray(self.x[r]) for r in self.rows]

    def batch(self, start: int, stop: int) -> tuple[list[str], list, list[str], list[dict]]:
        ids = [f"pat_{i:08d}" for i in range(start, stop)]
        metas = [
            {
                "pattern_type": PATTERN_TYPES[int(self.types[i])],
                "context": CONTEXTS[int(self.contexts[i])],
            }
            for i in range(start, stop)
        ]
        docs = [self.texts[int(self.base_of[i])] for i in range(start, stop)]
        return ids, self.x[start:stop].tolist(), docs, metas

    def brute(self, qi: int, type_index: int | None) -> np.ndarray:
        """Exact top-K row numbers for query qi, best first."""
        q = self.q[qi]
        matrix = self.x if type_index is None else self.sub[type_index]
        scores = matrix @ q
        top = np.argpartition(-scores, K)[:K]
        top = top[np.argsort(-scores[top])]
        return top if type_index is None else self.rows[type_index][top]

    def stats(self) -> dict[str, Any]:
        """How the synthetic data looks: similarity of each query's exact 1st and 10th hit."""
        first, tenth = [], []
        for qi in range(WARMUP, len(self.q)):
            scores = self.x @ self.q[qi]
            top = np.sort(scores[np.argpartition(-scores, K)[:K]])
            first.append(float(top[-1]))
            tenth.append(float(top[0]))
        return {
            "query_top1_similarity_p5_p50_p95": np.percentile(first, [5, 50, 95]).tolist(),
            "query_top10th_similarity_p50": float(np.median(tenth)),
            "type_counts": {PATTERN_TYPES[t]: len(r) for t, r in enumerate(self.rows)},
        }


def insert(index: PatternIndex, corpus: Corpus) -> dict[str, Any]:
    """Upsert every pattern in batches of BATCH; only the upsert calls are timed."""
    batch_ns: list[int] = []
    for start in range(0, corpus.n, BATCH):
        ids, vectors, docs, metas = corpus.batch(start, min(corpus.n, start + BATCH))
        t, _ = timed(lambda b=(ids, vectors, docs, metas): index.upsert(*b))
        batch_ns.append(t)
    total = sum(batch_ns) / 1e9
    tenth = max(1, len(batch_ns) // 10)
    first_rate = tenth * BATCH / (sum(batch_ns[:tenth]) / 1e9)
    last_rate = tenth * BATCH / (sum(batch_ns[-tenth:]) / 1e9)
    return {
        "batch_size": BATCH,
        "batches": len(batch_ns),
        "seconds": total,
        "inserts_per_s": corpus.n / total,
        "first_10pct_inserts_per_s": first_rate,
        "last_10pct_inserts_per_s": last_rate,
        "batch": summary(batch_ns, "ms"),
    }


def search(index: PatternIndex, corpus: Corpus, filtered: bool) -> dict[str, Any]:
    """Index and brute-force latency, one block after the other, and the index's recall@K.

    Blocks, not sample-by-sample interleaving: on 2 cores, OpenBLAS's worker threads still
    spinning after a brute-force product and Chroma's threads slow each other down, which
    inflated both sides (the filtered index p99 by ~50%, the brute-force p99 by ~20x).
    """
    kinds = [int(t) if filtered else None for t in corpus.q_types]
    index_ns: list[int] = []
    brute_ns: list[int] = []
    found: list[list[Any]] = []
    exact: list[np.ndarray] = []
    for qi, vector in enumerate(corpus.q_lists):
        kind = PATTERN_TYPES[kinds[qi]] if filtered else None
        t, hits = timed(lambda v=vector, p=kind: index.query(v, K, p))
        if qi >= WARMUP:
            index_ns.append(t)
            found.append(hits)
    for qi in range(len(corpus.q)):
        t, top = timed(lambda i=qi: corpus.brute(i, kinds[i]))
        if qi >= WARMUP:
            brute_ns.append(t)
            exact.append(top)
    recalls = [
        len({int(h.pattern_id[4:]) for h in hits} & {int(i) for i in top}) / K
        for hits, top in zip(found, exact, strict=True)
    ]
    short = sum(len(hits) < K for hits in found)
    idx, bf = summary(index_ns, "ms"), summary(brute_ns, "ms")
    return {
        "filter": "pattern_type" if filtered else None,
        "k": K,
        "index": idx,
        "brute": bf,
        "ratio_p50": idx["p50_ms"] / bf["p50_ms"],
        "ratio_p99": idx["p99_ms"] / bf["p99_ms"],
        "recall_at_k": sum(recalls) / len(recalls),
        "recall_min": min(recalls),
        "recall_p10": percentile(sorted(recalls), 10),
        "queries_full_recall": sum(r == 1.0 for r in recalls) / len(recalls),
        "short_results": short,
    }


def hnsw_config(index: PatternIndex) -> dict[str, Any]:
    config = index.collection().configuration.get("hnsw") or {}
    return {k: v for k, v in config.items() if isinstance(v, int | float | str)}


def log_cell(label: str, cell: dict[str, Any]) -> None:
    log(
        f"  {label}: index p50 {cell['index']['p50_ms']:.2f} p99 {cell['index']['p99_ms']:.2f} "
        f"ms; brute p50 {cell['brute']['p50_ms']:.2f} p99 {cell['brute']['p99_ms']:.2f} ms; "
        f"recall@{K} {cell['recall_at_k']:.3f}"
    )


def run_size(
    n: int, tmp: Path, base: np.ndarray, texts: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    log(f"size {n:,} (1-min load average {os.getloadavg()[0]:.2f})")
    started = time.perf_counter()
    corpus = Corpus(base, texts, n, args.queries, args.seed + n)
    log(f"  {n:,} synthetic vectors and {args.queries} queries in "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    data_dir = tmp / f"data-{n}"
    result: dict[str, Any] = {"patterns": n, "queries": args.queries, "data": corpus.stats()}
    index = PatternIndex(data_dir, url="")  # "" = the embedded PersistentClient, whatever the env
    try:
        open_ns, _ = timed(index.collection)
        result["open_ms"] = open_ns / MS
        result["hnsw"] = hnsw_config(index)
        result["loadavg_before"] = os.getloadavg()
        result["insert"] = insert(index, corpus)
        log(
            f"  inserted {n:,} in {result['insert']['seconds']:.1f} s "
            f"({result['insert']['inserts_per_s']:,.0f}/s, batches of {BATCH:,})"
        )
        result["count"] = index.count()
        first_ns, _ = timed(lambda: index.query(corpus.q_lists[0], K))
        result["first_query_ms"] = first_ns / MS
        result["chroma_bytes"] = dir_bytes(index.path)
        result["search"] = [search(index, corpus, filtered) for filtered in (False, True)]
        for cell in result["search"]:
            log_cell(f"ef {result['hnsw'].get('ef_search')} filter {cell['filter']}", cell)
        result["what_if"] = []
        for ef in args.extra_ef:
            index.collection().modify(configuration={"hnsw": {"ef_search": ef}})
            close_chroma()  # the loaded segment keeps its ef until it is reopened
            index = PatternIndex(data_dir, url="")
            entry = {"ef_search": ef, "hnsw": hnsw_config(index), "count": index.count()}
            entry["search"] = [search(index, corpus, filtered) for filtered in (False, True)]
            for cell in entry["search"]:
                log_cell(f"ef {ef} filter {cell['filter']}", cell)
            result["what_if"].append(entry)
        result["loadavg_after"] = os.getloadavg()
    finally:
        close_chroma()
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


# -- report ----------------------------------------------------------------------------


def _fmt_ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _pair(stats: dict[str, Any]) -> str:
    return f"{_fmt_ms(stats['p50_ms'])} / {_fmt_ms(stats['p99_ms'])}"


def _verdict(checks: list[tuple[str, bool]]) -> str:
    if not checks:
        return "info"
    if len(checks) == 1:
        return "PASS" if checks[0][1] else "FAIL"
    return ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in checks)


def table_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measure, with its target and verdict; what-if rows are not headline."""
    rows: list[dict[str, Any]] = []

    def add(
        size: int | None,
        measure: str,
        measured: str,
        brute: str,
        ratio: str,
        target: str,
        checks: list[tuple[str, bool]],
        headline: bool = True,
    ) -> None:
        result = _verdict(checks)
        rows.append(
            {
                "size": size,
                "measure": measure,
                "measured": measured,
                "brute": brute,
                "ratio": ratio,
                "target": target,
                "result": result if headline else f"{result} (what-if)",
                "pass": all(ok for _, ok in checks),
                "headline": headline,
            }
        )

    emb = report["embedding"]
    tp = emb["throughput"]
    add(
        None,
        f"embed batch ({tp['sentences']:,} sentences, batches of {emb['batch_size']})",
        f"{tp['seconds_per_1000']:.2f} s / 1,000 ({tp['sentences_per_s']:,.0f} sentences/s)",
        "-",
        "-",
        "-",
        [],
    )
    single = emb["single"]
    add(
        None,
        f"embed_one latency ({single['n']} samples) p50 / p99 ms",
        _pair(single),
        "-",
        "-",
        "< 10 ms",
        [("p50", single["p50_ms"] < TARGET_EMBED_MS), ("p99", single["p99_ms"] < TARGET_EMBED_MS)],
    )
    e2e = report.get("end_to_end")
    if e2e:
        add(
            e2e["patterns"],
            f"learning.search end to end ({e2e['search']['n']} queries) p50 / p99 ms",
            _pair(e2e["search"]),
            "-",
            "-",
            "-",
            [],
        )
    for key, r in report["sizes"].items():
        n = int(key)
        ins = r["insert"]
        add(
            n,
            f"insert (upsert batches of {ins['batch_size']:,})",
            f"{ins['inserts_per_s']:,.0f} patterns/s ({ins['seconds']:.1f} s)",
            "-",
            "-",
            "-",
            [],
        )
        ef = r["hnsw"].get("ef_search")
        for cell in r["search"]:
            label = "type filter" if cell["filter"] else "no filter"
            ratio = f"{cell['ratio_p50']:.2f}x ({cell['ratio_p99']:.2f}x)"
            p99 = cell["index"]["p99_ms"]
            add(
                n,
                f"search k={K}, {label} p50 / p99 ms",
                _pair(cell["index"]),
                _pair(cell["brute"]),
                ratio,
                "p99 < 20 ms",
                [("p99", p99 < TARGET_SEARCH_P99_MS)],
            )
        for cell in r["search"]:
            label = "type filter" if cell["filter"] else "no filter"
            add(
                n,
                f"recall@{K}, {label} (ef_search {ef})",
                f"{cell['recall_at_k']:.3f} (p10 {cell['recall_p10']:.1f}, "
                f"all 10: {cell['queries_full_recall']:.0%})",
                "exact",
                "-",
                ">= 0.95",
                [("recall", cell["recall_at_k"] >= TARGET_RECALL)],
            )
        for entry in r["what_if"]:
            for cell in entry["search"]:
                label = "type filter" if cell["filter"] else "no filter"
                add(
                    n,
                    f"ef_search {entry['ef_search']}: search + recall@{K}, {label}",
                    f"{_pair(cell['index'])} ms, recall {cell['recall_at_k']:.3f}",
                    _pair(cell["brute"]),
                    f"{cell['ratio_p50']:.2f}x ({cell['ratio_p99']:.2f}x)",
                    "p99 < 20 ms; >= 0.95",
                    [
                        ("p99", cell["index"]["p99_ms"] < TARGET_SEARCH_P99_MS),
                        ("recall", cell["recall_at_k"] >= TARGET_RECALL),
                    ],
                    headline=False,
                )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    headers = {
        "size": "patterns",
        "measure": "measure",
        "measured": "measured",
        "brute": "brute force p50 / p99 ms",
        "ratio": "ratio p50 (p99)",
        "target": "target",
        "result": "result",
    }
    shown = [{**row, "size": "-" if row["size"] is None else f"{row['size']:,}"} for row in rows]
    groups = [
        row["size"] if row["measure"].startswith(("insert", "search", "recall", "ef_")) else None
        for row in rows
    ]
    return render_table(headers, shown, groups)


# -- main ------------------------------------------------------------------------------


def _int_list(text: str, what: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        parser.error(f"{what} must be comma-separated integers, not {text!r}")
    return []


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_patterns", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes", help="comma-separated pattern counts (default 10000,100000; --quick: 10000)"
    )
    parser.add_argument("--quick", action="store_true", help="10k patterns only, fewer samples")
    parser.add_argument(
        "--extra-ef",
        default=",".join(map(str, DEFAULT_EXTRA_EF)),
        help="ef_search values for the what-if rows (default 200,400; '' for none)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)
    if args.sizes:
        args.size_list = _int_list(args.sizes, "--sizes", parser)
        if not args.size_list or min(args.size_list) < 1_000:
            parser.error("--sizes needs at least one size of 1000 patterns or more")
    else:
        args.size_list = [10_000] if args.quick else list(DEFAULT_SIZES)
    args.extra_ef = _int_list(args.extra_ef, "--extra-ef", parser)
    args.embed_samples = 100 if args.quick else 200
    args.queries = 200 if args.quick else 500
    args.learn = 200 if args.quick else 500
    args.searches = 100 if args.quick else 200
    return args


def versions() -> dict[str, Any]:
    import chromadb
    import onnxruntime

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "chromadb": chromadb.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    rng = random.Random(args.seed)
    sentences = make_sentences(BASE_SENTENCES, rng)
    singles = make_sentences(WARMUP + args.embed_samples + 1, rng, exclude=set(sentences))
    tmp = Path(tempfile.mkdtemp(prefix="claude-tui-bench-patterns-"))
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "quick": args.quick,
            "sizes": args.size_list,
            "seed": args.seed,
            "k": K,
            "upsert_batch": BATCH,
            "queries": args.queries,
            "embed_samples": args.embed_samples,
            "extra_ef": args.extra_ef,
            "dimensions": DIMENSIONS,
            "synthetic": {
                "formula": "normalise(e_a + w * e_b + g)",
                "base_vectors": BASE_SENTENCES,
                "w_max": MIX_MAX,
                "noise_norm": [NOISE_LO, NOISE_HI],
                "pattern_type": "uniform over 4 types, independent of the vector",
            },
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "env": {
                k: os.environ[k]
                for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "CLAUDE_TUI_CHROMA_URL")
                if k in os.environ
            },
            **versions(),
            "targets": {
                "embed_one_ms": TARGET_EMBED_MS,
                "search_p99_ms": TARGET_SEARCH_P99_MS,
                "recall_at_10": TARGET_RECALL,
            },
        },
        "sizes": {},
    }
    try:
        log(f"embedding (1-min load average {os.getloadavg()[0]:.2f})")
        embedder = MiniLMEmbedder()
        load_before = os.getloadavg()
        report["embedding"], base = bench_embedding(
            embedder, sentences, singles, args.embed_samples
        )
        report["embedding"]["loadavg_before"] = load_before
        report["embedding"]["loadavg_after"] = os.getloadavg()
        log("end to end (coordinator.learning)")
        report["end_to_end"] = bench_end_to_end(tmp, args.learn, args.searches, args.seed)
        for n in args.size_list:
            report["sizes"][str(n)] = run_size(n, tmp, base, sentences, args)
    finally:
        close_chroma()
        shutil.rmtree(tmp, ignore_errors=True)
    report["meta"]["loadavg_end"] = os.getloadavg()
    rows = table_rows(report)
    report["table"] = rows
    report["meta"]["elapsed_s"] = time.time() - started
    report["all_pass"] = all(row["pass"] for row in rows if row["headline"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(rows))
    print()
    for key, r in report["sizes"].items():
        d = r["data"]
        top1 = ", ".join(f"{v:.3f}" for v in d["query_top1_similarity_p5_p50_p95"])
        print(
            f"{int(key):,} patterns: exact top-1 similarity p5/p50/p95 {top1}, 10th "
            f"{d['query_top10th_similarity_p50']:.3f}; chroma dir "
            f"{r['chroma_bytes'] / 1e6:,.0f} MB ({r['chroma_bytes'] / int(key):,.0f} B/pattern); "
            f"HNSW {r['hnsw']}"
        )
    loads = [("embedding", report["embedding"]["loadavg_before"][0])]
    loads += [(f"{int(k):,}", r["loadavg_before"][0]) for k, r in report["sizes"].items()]
    loads.append(("end", report["meta"]["loadavg_end"][0]))
    print(
        f"1-min load average on {os.cpu_count()} CPUs at the start of each part (other "
        "processes share the machine): " + ", ".join(f"{name} {v:.2f}" for name, v in loads)
    )
    headline = [row for row in rows if row["headline"]]
    failed = [row for row in headline if not row["pass"]]
    print(
        f"{len(headline) - len(failed)} of {len(headline)} headline rows pass (rows marked info "
        f"have no target; what-if rows are not counted); {report['meta']['elapsed_s']:.0f} s; "
        f"JSON in {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
