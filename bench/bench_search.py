"""Search benchmark: hybrid / text / semantic memory search at 10k and 100k entries.

What is measured, in one run:

1. Index throughput: ``MemoryIndexer.reindex`` (read SQLite, embed, upsert into
   Chroma) over 600 entries of long text (60-160 words) and 600 short ones (8-20
   words) in fresh data dirs — the real path, with the real model; entries/s, and
   the peak RSS of the pass (VmHWM, reset before it). Beside it, in the same run,
   the raw model on the very texts the indexer embedded: as shipped (128-token
   window, sorted, batches of at most 1,024 padded tokens) — the ceiling the
   indexer is held to — and the previous recipe (256-token window, batches of 64):
   what the window and the token budget buy. Rounds alternate (indexer, raw, old)
   so a load that comes and goes on the machine hits each alike. Then the same texts
   with ``embedder = "wordllama-256"`` (static token vectors): its indexer and raw rates.
2. Search latency at each size N: N entries stored through ``memory.store`` (50
   sessions, 20% shared; texts built from templates of engineering notes), their
   vectors put into the memory collection. Embedding 100k texts with the real model
   would take most of an hour here, so 1,500 base texts are embedded for real and
   the rest get ``normalise(e_a + w e_b + g)`` (two base vectors, w ~ U(0, 0.5),
   Gaussian noise of norm U(0.3, 0.6)) with the text of ``a`` plus half of ``b`` —
   words and vectors agree, as for real notes. 200 queries (paraphrase-style
   questions from other templates, never stored) are searched as one session
   (visibility filter inside each half), k=10, after 20 warm-up queries, per mode,
   through ``SearchService.search``: the query embedding is included (each query
   is new: no cache hit). Hybrid runs its meaning half (query embedding, Chroma,
   visibility) in a worker beside the word half; the row "hybrid, halves in turn" is
   the same search with the halves one after the other. Beside them, in the same
   run: a numpy brute force (exact
   cosine top 10 over the same float32 matrix with the same visibility mask, the
   floor of the meaning half) and the raw FTS5 query (the floor of the word half).
3. Memory used: peak RSS of the process (ru_maxrss) after each size, and the
   SQLite and Chroma sizes on disk.
4. Cold-start hit rate: a session of 2,000 entries read 5,000 times (Zipf s=1.1),
   the process closed; a new one reads 1,000 more from the same distribution, with
   and without ``warm_session`` first: the share of reads served by L1.

Run from the project root: ``python -m bench.bench_search [--sizes 10000,100000]
[--quick]``. Prints a table and writes ``bench/results/search.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import render_table, summary, timed
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.search.memory_index import text_hash
from claude_tui.core.search.service import Filters
from claude_tui.core.search.text import entry_text, match_expression, terms

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
DEFAULT_SIZES = (10_000, 100_000)
QUERIES = 200
WARMUP = 20
BASES = 1_500
SESSIONS = 50
TARGET_P99_MS = 50.0
TARGET_RATE = 200.0

SUBJECTS = ("the billing service", "the parser", "the login page", "the cache layer",
            "the nightly export", "the search index", "the payment worker", "the mobile app",
            "the admin dashboard", "the sync engine", "the report builder", "the CI pipeline",
            "the database migration", "the notification queue", "the API gateway")  # fmt: skip
FACTS = ("stores its data in PostgreSQL", "retries failed requests three times",
         "is deployed with Helm charts", "logs structured JSON to stdout",
         "times out after thirty seconds", "keeps hot keys in Redis for five minutes",
         "runs its tests with pytest on every push", "pages the on-call engineer on errors",
         "is owned by the platform team", "was rewritten in Rust last quarter",
         "reads its settings from environment variables", "uses UTC for every timestamp",
         "batches writes every two seconds", "is rate limited to 100 calls per minute",
         "has a known memory leak under load", "validates input with pydantic")  # fmt: skip
TAILS = ("", " since the March outage", " according to the design review",
         " until the next release", " as agreed with the security team",
         " — see the runbook for details", " after the incident on Friday")  # fmt: skip
QUESTIONS = ("which database does {s} use?", "what happens when {s} cannot reach a server?",
             "how do we ship {s} to production?", "where does {s} write its logs?",
             "how long does {s} wait before giving up?", "what does {s} cache, and for how long?",
             "when are the checks of {s} run?", "who gets alerted when {s} fails?",
             "which team is responsible for {s}?", "what language is {s} written in now?",
             "how is {s} configured?", "which time zone does {s} store dates in?",
             "how often does {s} flush its writes?", "how many calls may a client make to {s}?",
             "is {s} stable when traffic is high?",
             "how does {s} check what it receives?")  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return rss_mb()


def reset_peak() -> None:
    """Reset the process's peak RSS (Linux: ``5`` into clear_refs), so a phase has its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    """Peak RSS since the last :func:`reset_peak` (VmHWM)."""
    return _status_mb("VmHWM")


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def note(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(FACTS)}{rng.choice(TAILS)}."


def long_note(rng: random.Random, lo: int, hi: int) -> str:
    words: list[str] = []
    target = rng.randint(lo, hi)
    while len(words) < target:
        words += note(rng).split()
    return " ".join(words[:target])


def open_c(root: Path, **over: Any) -> MemoryCoordinator:
    root.mkdir(parents=True, exist_ok=True)
    return MemoryCoordinator.open(Config.load(root, env={}, redis_enabled=False, **over))


# -- 1. throughput ---------------------------------------------------------------------------


def _fill(c: MemoryCoordinator, rng: random.Random, n: int, lo: int, hi: int) -> list[str]:
    """Store ``n`` notes of ``lo``-``hi`` words, warm the embedder; the texts it will embed."""
    from claude_tui.core.search.memory_index import embed_text

    s = c.sessions.create()
    for i in range(n):
        c.memory.store(f"note-{i}", long_note(rng, lo, hi), session_id=s.id)
    c.search.indexer.embedder.embed_one("warm up")
    return [embed_text(r[0], r[1]) for r in c.store.rows("SELECT key, value FROM memory_entries")]


def bench_throughput(work: Path, rng: random.Random, n: int, rounds: int = 2) -> dict[str, Any]:
    from claude_tui.core.vectors.embedder import MiniLMEmbedder

    out: dict[str, Any] = {}
    for label, lo, hi in (("long (60-160 words)", 60, 160), ("short (8-20 words)", 8, 20)):
        state = rng.getstate()  # the static run below stores the very same notes
        with open_c(work / f"rate-{lo}") as c:
            texts = _fill(c, rng, n, lo, hi)
            old = MiniLMEmbedder(max_tokens=256, batch_tokens=1 << 30)  # batches of 64
            old.embed_one("warm up")
            rates: dict[str, list[float]] = {"index": [], "raw": [], "old": []}
            peaks: list[float] = []
            count = 0
            for _ in range(rounds):
                reset_peak()
                ns, count = timed(lambda c=c: c.search.indexer.reindex())
                peaks.append(peak_mb())
                rates["index"].append(count / (ns / 1e9))
                raw_ns, _ = timed(lambda e=c.search.indexer.embedder, t=texts: e.embed(t))
                rates["raw"].append(len(texts) / (raw_ns / 1e9))
                if lo == 60:
                    old_ns, _ = timed(lambda e=old, t=texts: e.embed(t))
                    rates["old"].append(len(texts) / (old_ns / 1e9))
            best = max(rates["index"])
            # The first round's peak: later rounds also hold the old recipe's arena.
            out[label] = {"entries": count, "per_s": best, "rounds": rates["index"],
                          "raw_per_s": max(rates["raw"]), "peak_rss_mb": peaks[0],
                          "peaks_mb": peaks}  # fmt: skip
            out[f"{label}: raw model, same texts"] = {"entries": len(texts),
                                                      "per_s": max(rates["raw"]),
                                                      "rounds": rates["raw"]}  # fmt: skip
            if rates["old"]:
                previous = f"{label}: raw model, previous recipe (256 tokens, batches of 64)"
                out[previous] = {"entries": len(texts), "per_s": max(rates["old"]),
                                 "rounds": rates["old"]}  # fmt: skip
            log(f"  reindex {label}: {best:,.0f} entries/s (raw model {max(rates['raw']):,.0f}/s), "
                f"peak RSS {peaks[0]:,.0f} MB")  # fmt: skip
        # The same entries with embedder = "wordllama-256" (static token vectors).
        with open_c(work / f"rate-{lo}-static", embedder="wordllama-256") as c:
            same = random.Random()
            same.setstate(state)
            mine = _fill(c, same, n, lo, hi)
            static_rates, static_raw = [], []
            for _ in range(rounds):
                reset_peak()
                ns, count = timed(lambda c=c: c.search.indexer.reindex())
                static_rates.append(count / (ns / 1e9))
                raw_ns, _ = timed(lambda e=c.search.indexer.embedder, t=mine: e.embed(t))
                static_raw.append(len(mine) / (raw_ns / 1e9))
            out[f"{label}, embedder wordllama-256"] = {
                "entries": count, "per_s": max(static_rates), "rounds": static_rates,
                "raw_per_s": max(static_raw), "peak_rss_mb": peak_mb(),
            }  # fmt: skip
            log(f"  reindex {label}, wordllama-256: {max(static_rates):,.0f} entries/s")
    return out


# -- 2. search --------------------------------------------------------------------------------


def build(c: MemoryCoordinator, n: int, rng: random.Random, base_texts: list[str],
          base_vecs: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:  # fmt: skip
    """Store n entries and their vectors; return session ids, the matrix, and owner codes."""
    sessions = [c.sessions.create().id for _ in range(SESSIONS)]
    nrng = np.random.default_rng(n)
    a = nrng.integers(0, len(base_texts), n)
    b = nrng.integers(0, len(base_texts), n)
    w = nrng.uniform(0, 0.5, (n, 1)).astype(np.float32)
    g = nrng.standard_normal((n, base_vecs.shape[1])).astype(np.float32)
    g *= nrng.uniform(0.3, 0.6, (n, 1)).astype(np.float32) / np.linalg.norm(
        g, axis=1, keepdims=True
    )
    matrix = base_vecs[a] + w * base_vecs[b] + g
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    owner = np.full(n, -1, dtype=np.int32)  # -1: shared
    ids = np.zeros(n, dtype=np.int64)
    started = time.monotonic()
    for i in range(n):
        half = base_texts[b[i]].split()
        text = base_texts[a[i]] + " " + " ".join(half[: len(half) // 2])
        if rng.random() < 0.2:
            e = c.memory.store(f"n{i}", text)
        else:
            owner[i] = rng.randrange(SESSIONS)
            e = c.memory.store(f"n{i}", text, session_id=sessions[owner[i]])
        ids[i] = e.id
        if i and i % 20_000 == 0:
            log(f"    stored {i:,} ({i / (time.monotonic() - started):,.0f}/s)")
    vectors = c.search.indexer.vectors
    vectors.collection()
    head = c.search.indexer._log_head()
    rows = c.store.rows(
        "SELECT id, key, value, namespace, scope, session_id, agent_id, memory_type, ttl "
        "FROM memory_entries ORDER BY id"
    )
    position = {int(e): i for i, e in enumerate(ids)}
    model = c.search.indexer.model_id
    for start in range(0, len(rows), 5_000):
        chunk = rows[start : start + 5_000]
        metas = [{"th": text_hash(model, entry_text(r[1], r[2])), "ns": r[3], "scope": r[4],
                  "session": r[5] or "", "agent": r[6] or "", "type": r[7], "expires": 0.0}
                 for r in chunk]  # fmt: skip
        vectors.put([int(r[0]) for r in chunk],
                    matrix[[position[int(r[0])] for r in chunk]], metas)  # fmt: skip
    vectors.set_cursor(head)
    return sessions, matrix, owner


def bench_size(work: Path, n: int, rng: random.Random, base_texts: list[str],
               base_vecs: np.ndarray, queries: list[str]) -> dict[str, Any]:  # fmt: skip
    root = work / f"search-{n}"
    log(f"size {n:,}: storing entries and vectors")
    with open_c(root) as c:
        sessions, matrix, owner = build(c, n, rng, base_texts, base_vecs)
        log(f"  built; {c.search.indexer.vectors.count():,} vectors")
        # The product's memory at this size, apart from the bench's own arrays: a
        # repair pass over every entry (nothing to embed: hashes match), then search.
        reset_peak()
        held = _status_mb("VmRSS")
        repaired = c.search.indexer.repair()
        repair_peak = peak_mb()
        reset_peak()
        me = 7
        scope = Filters(session_id=sessions[me])
        visible = (owner == -1) | (owner == me)
        service = c.search
        embedder = service.indexer.embedder
        qvecs = np.asarray(embedder.embed(queries).vectors, dtype=np.float32)
        result: dict[str, Any] = {"entries": n, "visible": int(visible.sum())}
        for mode in ("hybrid", "text", "semantic"):
            lat: list[int] = []
            for i, q in enumerate(queries[: WARMUP + QUERIES]):
                service.c.learning._cache.clear()  # every query embedded anew
                ns, _ = timed(lambda q=q, mode=mode: service.memory(q, mode=mode, limit=10,
                                                                    filters=scope))  # fmt: skip
                if i >= WARMUP:
                    lat.append(ns)
            result[mode] = summary(lat, "ms")
            log(f"  {mode}: p50 {result[mode]['p50_ms']:.1f} ms, p99 {result[mode]['p99_ms']:.1f}")
        # The same hybrid search with its halves in turn (words, then meaning) rather
        # than side by side: what running the meaning half in a worker buys.
        service.meaning_loaded = lambda: False  # type: ignore[method-assign]
        try:
            lat = []
            for i, q in enumerate(queries[: WARMUP + QUERIES]):
                service.c.learning._cache.clear()
                ns, _ = timed(lambda q=q: service.memory(q, limit=10, filters=scope))
                if i >= WARMUP:
                    lat.append(ns)
        finally:
            del service.meaning_loaded
        result["hybrid, halves in turn"] = summary(lat, "ms")
        # Floors measured in the same run: numpy brute force, raw FTS5, the embedding alone.
        sub = np.ascontiguousarray(matrix[visible])
        lat = []
        for i, qv in enumerate(qvecs[: WARMUP + QUERIES]):
            ns, _ = timed(lambda qv=qv: np.argpartition(-(sub @ qv), 10)[:10])
            if i >= WARMUP:
                lat.append(ns)
        result["numpy brute force (visible rows)"] = summary(lat, "ms")
        full = np.ascontiguousarray(matrix)
        lat = []
        for i, qv in enumerate(qvecs[: WARMUP + QUERIES]):
            ns, _ = timed(lambda qv=qv: np.argpartition(-(full @ qv)[visible], 10)[:10])
            if i >= WARMUP:
                lat.append(ns)
        result["numpy brute force (all rows + mask)"] = summary(lat, "ms")
        lat = []
        for i, q in enumerate(queries[: WARMUP + QUERIES]):
            expr = match_expression(terms(q))
            ns, _ = timed(lambda e=expr: c.store.rows(
                "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ? ORDER BY rank LIMIT 50",
                (e,)))  # fmt: skip
            if i >= WARMUP:
                lat.append(ns)
        result["raw FTS5 bm25 top 50 (no filter)"] = summary(lat, "ms")
        lat = []
        for i, q in enumerate(queries[: WARMUP + QUERIES]):
            ns, _ = timed(lambda q=q: embedder.embed_one(q))
            if i >= WARMUP:
                lat.append(ns)
        result["query embedding alone"] = summary(lat, "ms")
        result["rss_peak_mb"] = rss_mb()
        result["memory"] = {"rss_after_build_mb": held, "repair_peak_mb": repair_peak,
                            "repair_unchanged": repaired.unchanged,
                            "search_peak_mb": peak_mb()}  # fmt: skip
    result["sqlite_mb"] = (
        dir_mb(root) - dir_mb(root / "chroma") if (root / "chroma").exists() else dir_mb(root)
    )
    result["chroma_mb"] = dir_mb(root / "chroma") if (root / "chroma").exists() else 0.0
    shutil.rmtree(root, ignore_errors=True)
    return result


# -- 4. cold start ------------------------------------------------------------------------------


def bench_cold_start(work: Path, rng: random.Random) -> dict[str, Any]:
    from claude_tui.core.search.warm import warm_session

    root = work / "cold"
    keys = [f"k{i}" for i in range(2_000)]
    weights = [1 / (i + 1) ** 1.1 for i in range(len(keys))]
    with open_c(root) as c:
        s = c.sessions.create().id
        for k in keys:
            c.memory.store(k, {"v": k}, session_id=s)
        for k in rng.choices(keys, weights, k=5_000):
            c.memory.get(k, session_id=s)
        c.memory.flush_access()
    out: dict[str, Any] = {}
    for warm in (False, True):
        reads = rng.choices(keys, weights, k=1_000)
        with open_c(root) as c:
            warmed = warm_session(c, s) if warm else None
            tiers = [c.memory.get(k, session_id=s).tier for k in reads]  # type: ignore[union-attr]
        label = "with warm_session" if warm else "without warming"
        out[label] = {"l1_hit_rate": tiers.count("l1") / len(tiers),
                      "warmed": None if warmed is None else warmed.__dict__}  # fmt: skip
        log(f"  cold start {label}: L1 hit rate {out[label]['l1_hit_rate']:.1%}")
    return out


# -- report -----------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    rows, groups = [], []
    for size in report["sizes"]:
        for name in ("hybrid", "hybrid, halves in turn", "text", "semantic",
                     "numpy brute force (visible rows)",
                     "numpy brute force (all rows + mask)", "raw FTS5 bm25 top 50 (no filter)",
                     "query embedding alone"):  # fmt: skip
            cell = size[name]
            verdict = ""
            if name == "hybrid":
                verdict = "PASS" if cell["p99_ms"] < TARGET_P99_MS else "FAIL"
            rows.append({"what": f"search {name}", "n": f"{size['entries']:,}",
                         "p50": f"{cell['p50_ms']:.2f} ms", "p99": f"{cell['p99_ms']:.2f} ms",
                         "note": verdict})  # fmt: skip
            groups.append(size["entries"])
        disk = f"{size['sqlite_mb']:.0f} / {size['chroma_mb']:.0f} MB"
        rows.append({"what": "memory: peak RSS of the run / sqlite / chroma",
                     "n": f"{size['entries']:,}",
                     "p50": f"{size['rss_peak_mb']:.0f} MB", "p99": disk, "note": ""})  # fmt: skip
        groups.append(size["entries"])
        mem = size["memory"]
        for what, key in (("memory: RSS held after the build", "rss_after_build_mb"),
                          ("memory: peak RSS of a repair pass (all entries)", "repair_peak_mb"),
                          ("memory: peak RSS while searching", "search_peak_mb")):  # fmt: skip
            rows.append({"what": what, "n": f"{size['entries']:,}", "p50": f"{mem[key]:.0f} MB",
                         "p99": "", "note": ""})  # fmt: skip
            groups.append(size["entries"])
    for label, cell in report["throughput"].items():
        verdict, extra = "", ""
        if "raw_per_s" in cell:
            share = cell["per_s"] / cell["raw_per_s"]
            extra = f"peak RSS {cell['peak_rss_mb']:,.0f} MB"
            verdict = f"{share:.0%} of the raw model"
        if label.startswith("long (60-160 words)") and "raw model" not in label:
            verdict += "; PASS" if cell["per_s"] >= TARGET_RATE else f"; < {TARGET_RATE:.0f}/s"
        rows.append({"what": f"index {label}", "n": str(cell.get("entries", "")),
                     "p50": f"{cell['per_s']:,.0f}/s", "p99": extra, "note": verdict})  # fmt: skip
        groups.append("rate")
    for label, cell in report["cold_start"].items():
        rows.append({"what": f"cold start {label}", "n": "1,000 reads",
                     "p50": f"{cell['l1_hit_rate']:.1%} L1", "p99": "", "note": ""})  # fmt: skip
        groups.append("cold")
    headers = {"what": "measure", "n": "entries", "p50": "p50 / value", "p99": "p99",
               "note": "verdict"}  # fmt: skip
    return render_table(headers, rows, groups)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--quick", action="store_true", help="2k entries, fewer texts")
    parser.add_argument("--index-only", action="store_true", help="the index throughput rows only")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [2_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    rng = random.Random(12)
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        log("throughput")
        throughput = bench_throughput(work, rng, 150 if args.quick else 600)
        if args.index_only:
            sizes, bases, base_vecs = [], [], np.zeros((0, 384), dtype=np.float32)
        else:
            log("base texts")
            bases = list(dict.fromkeys(note(rng) for _ in range(BASES * 3)))[:BASES]
            with open_c(work / "embed") as c:
                base_vecs = np.asarray(c.search.indexer.embedder.embed(bases).vectors,
                                       dtype=np.float32)  # fmt: skip
        queries = [rng.choice(QUESTIONS).format(s=rng.choice(SUBJECTS))
                   for _ in range(WARMUP + QUERIES)]  # fmt: skip
        results = [bench_size(work, n, rng, bases, base_vecs, queries) for n in sizes]
        cold: dict[str, Any] = {}
        if not args.index_only:
            log("cold start")
            cold = bench_cold_start(work, rng)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "search",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "targets": {"hybrid_p99_ms": TARGET_P99_MS, "index_per_s": TARGET_RATE},
        "throughput": throughput,
        "sizes": results,
        "cold_start": cold,
    }
    print(table(report))
    if args.index_only and args.output == RESULTS:
        args.output = RESULTS.with_name("search-index.json")  # the full run's file stays
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
