"""LoCoMo recall benchmark: memory search over long conversations, by words, meaning, both.

LoCoMo (Maharana et al., ACL 2024, "Evaluating Very Long-Term Conversational Memory of LLM
Agents") holds 10 conversations of 19-32 sessions each. The data is read from
``../shared/bench-data/locomo/`` beside the project (``--data`` to point elsewhere); it is
never copied into the project.

What is measured, in one run:

1. Every dialog turn (5,882) is stored through ``MemoryCoordinator.memory.store`` as one
   shared memory entry in the namespace ``locomo-<conversation>``: key ``"<speaker> <dia_id>"``
   (e.g. ``"Caroline D1:3"``), value ``{"speaker", "text", "date", "context"}`` where ``text``
   is the turn (with ``[shares a photo of ...]`` from its image caption when it has one),
   ``date`` the session's date and ``context`` the two turns before it and the one after it
   in the same session, as ``"Speaker: text"``. The store rate is timed. Steps 1-3 run
   twice: with the default embedder (MiniLM) and with ``embedder = "wordllama-256"``
   (static token vectors), each in its own data dir.
2. Memory's vector index is built with ``SearchService.indexer.reindex()`` (the real
   indexer: MiniLM-L6 int8, Chroma embedded); entries/s is timed beside a raw floor: the
   same texts embedded by ``MiniLMEmbedder.embed`` alone (sorted by length, batches of 64).
3. Every question of categories 1-4 that has evidence (1,536) is asked through
   ``SearchService.memory`` with ``Filters(namespace=...)`` of its conversation, in each
   mode (``text``, ``semantic``, ``hybrid``), limit 20. recall@k is the share of the
   question's evidence turns among the top k, averaged over questions; search latency
   p50/p99 per mode. Evidence ids are normalised ("D8:6; D9:17" is two ids, "D:11:26" is
   D11:26, "D30:05" is D30:5); an id naming no turn counts as a miss.
4. Floors on raw libraries, in the same run, over the same questions:
   - *issue baseline*: sqlite3 FTS5 (porter, stop-words dropped from the query) over
     ``"Speaker: text"``, numpy brute force over MiniLM vectors of ``"Speaker: text"``,
     reciprocal rank fusion 1:1 with k=60 — the recipe the issue measured (0.623/0.454/0.591).
   - *recipe, raw*: the product's recipe without the product: an in-memory sqlite3 FTS5
     table (key, value, context) with ``bm25(8, 1, 0.5)``, numpy brute force over the
     MiniLM vectors of the product's entry text, and the product's weighted RRF
     (``DEFAULT_FUSION``: words 1, meaning 1, k 2, depth 50). Beside the service's rows
     it shows what the service's plumbing (ANN index, visibility widening, its FTS
     columns) costs or buys.

Target (issue 12): hybrid R@10 >= 0.75 and R@5 >= 0.65, offline, no LLM.

Run from the project root: ``python -m bench.bench_locomo [--quick] [--data DIR]``.
Prints a table and writes ``bench/results/locomo.json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import render_table, summary
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.search.memory_index import embed_text
from claude_tui.core.search.service import DEFAULT_FUSION, Filters
from claude_tui.core.search.text import flatten, match_expression, terms
from claude_tui.core.vectors.embedder import MiniLMEmbedder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "bench-data" / "locomo"
RESULTS = Path(__file__).resolve().parent / "results" / "locomo.json"
KS = (1, 5, 10, 20)
LIMIT = max(KS)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TARGET = {"R@5": 0.65, "R@10": 0.75}
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 1  # turns of the same session stored as an entry's context
TOKENIZER = "porter unicode61 remove_diacritics 2"
# The raw recipe's numbers (what was measured best; see the module docstring).
RAW_WEIGHTS = (8.0, 1.0, 0.5)  # bm25 column weights: key, value, context
RAW_FUSION = DEFAULT_FUSION  # the product's fusion, on raw libraries
EVIDENCE = re.compile(r"D:?(\d+):(\d+)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Turn:
    """One dialog turn of one session of one conversation."""

    conv: str
    session: int
    dia_id: str
    speaker: str
    text: str
    date: str
    caption: str | None


@dataclass
class Question:
    """A question of categories 1-4 and the ids of its evidence turns."""

    conv: str
    text: str
    category: int
    evidence: list[str] = field(default_factory=list)


def load(data: Path, conversations: int | None) -> tuple[list[Turn], list[Question]]:
    """The turns and the questions (categories 1-4 with evidence) of the first N conversations."""
    files = sorted(data.glob("*.json"))
    if not files:
        raise SystemExit(f"no LoCoMo conversations (*.json) in {data}: pass --data DIR")
    turns: list[Turn] = []
    questions: list[Question] = []
    for path in files[:conversations]:
        conv = path.stem
        doc = json.loads(path.read_text(encoding="utf-8"))
        n = 1
        while f"session_{n}" in doc:
            date = doc[f"session_{n}_date_time"]
            for t in doc[f"session_{n}"]:
                turns.append(
                    Turn(conv, n, t["dia_id"], t["speaker"], t["text"], date, t.get("blip_caption"))
                )
            n += 1
        for qa in doc["qa"]:
            if qa["category"] not in CATEGORIES or not qa["evidence"]:
                continue  # category 5 is adversarial (no evidence); 4 questions list none
            ids: list[str] = []
            for item in qa["evidence"]:
                for s, p in EVIDENCE.findall(item):
                    if f"D{int(s)}:{int(p)}" not in ids:
                        ids.append(f"D{int(s)}:{int(p)}")
            questions.append(Question(conv, qa["question"], qa["category"], ids or ["?"]))
    return turns, questions


# -- what is stored -----------------------------------------------------------------------


def namespace(conv: str) -> str:
    return f"locomo-{conv}"


def said(turn: Turn) -> str:
    """The turn's words, with what its photo shows (the dataset's caption of it)."""
    if not turn.caption:
        return turn.text
    return f"{turn.text} [shares a photo of {turn.caption.removeprefix('a photo of ')}]"


def entries(turns: list[Turn]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, key, value) per turn; the context is its session's neighbouring turns."""
    out = []
    for i, t in enumerate(turns):
        around = []
        for j in range(i - CONTEXT_BEFORE, i + CONTEXT_AFTER + 1):
            if j != i and 0 <= j < len(turns):
                u = turns[j]
                if (u.conv, u.session) == (t.conv, t.session):
                    around.append(f"{u.speaker}: {said(u)}")
        value = {"speaker": t.speaker, "text": said(t), "date": t.date, "context": " ".join(around)}
        out.append((namespace(t.conv), f"{t.speaker} {t.dia_id}", value))
    return out


# -- scoring --------------------------------------------------------------------------------


def recall(questions: Sequence[Question], ranked: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean share of each question's evidence ids among its top k, for each k."""
    out = {}
    for k in KS:
        total = sum(
            len(set(q.evidence) & set(r[:k])) / len(q.evidence)
            for q, r in zip(questions, ranked, strict=True)
        )
        out[f"R@{k}"] = total / len(questions) if questions else 0.0
    return out


def by_category(questions: list[Question], ranked: list[list[str]]) -> dict[str, dict[str, float]]:
    out = {}
    for cat, name in CATEGORIES.items():
        sel = [i for i, q in enumerate(questions) if q.category == cat]
        out[name] = {
            "questions": len(sel),
            **recall([questions[i] for i in sel], [ranked[i] for i in sel]),
        }
    return out


def rrf(lists: Sequence[Sequence[str]], weights: Sequence[float], k: float) -> list[str]:
    scores: dict[str, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, ref in enumerate(ranked, start=1):
            scores[ref] = scores.get(ref, 0.0) + w / (k + rank)
    return sorted(scores, key=lambda ref: -scores[ref])


# -- the product --------------------------------------------------------------------------


def run_service(
    turns: list[Turn],
    questions: list[Question],
    tmp: Path,
    stored: list[Any],
    embedder: str = "minilm-int8",
) -> dict[str, Any]:
    """Store, index and search through the real coordinator and search service."""
    config = Config.load(tmp / "data", env={}, redis_enabled=False, embedder=embedder)
    result: dict[str, Any] = {}
    with MemoryCoordinator.open(config, use_redis=False) as c:
        started = time.perf_counter()
        for ns, key, value in stored:
            c.memory.store(key, value, namespace=ns)
        elapsed = time.perf_counter() - started
        result["store"] = {
            "entries": len(stored),
            "seconds": elapsed,
            "per_second": len(stored) / elapsed,
        }
        sensitive = c.store.rows("SELECT count(*) FROM memory_entries WHERE sensitive")[0][0]
        result["sensitive_entries"] = int(sensitive)
        log(f"  stored {len(stored):,} entries in {elapsed:.1f}s ({sensitive} sensitive)")
        search = c.search
        started = time.perf_counter()
        indexed = search.indexer.reindex()
        elapsed = time.perf_counter() - started
        result["index"] = {"vectors": indexed, "seconds": elapsed, "per_second": indexed / elapsed}
        log(f"  indexed {indexed:,} vectors in {elapsed:.1f}s ({indexed / elapsed:.0f}/s)")
        fts = c.store.rows("SELECT sql FROM sqlite_master WHERE name = 'memory_fts'")
        corpus = search.corpora["memory"]
        result["config"] = {
            "memory_fts": fts[0][0] if fts else None,
            "fusion": dataclasses.asdict(search.fusion),
            "bm25_weights": {
                name: getattr(corpus, name) for name in dir(corpus) if name.endswith("_weight")
            },
        }
        search.warm_up()
        for mode in ("text", "semantic", "hybrid"):
            ranked: list[list[str]] = []
            samples: list[int] = []
            notes: set[str] = set()
            for q in questions:
                filters = Filters(namespace=namespace(q.conv))
                t0 = time.perf_counter_ns()
                res = search.memory(q.text, mode=mode, limit=LIMIT, filters=filters)
                samples.append(time.perf_counter_ns() - t0)
                ranked.append([h.entry.key.rsplit(" ", 1)[1] for h in res.hits])
                if res.note:
                    notes.add(res.note)
            result[mode] = {
                "recall": recall(questions, ranked),
                "by_category": by_category(questions, ranked),
                "latency": summary(samples, "ms"),
                "notes": sorted(notes),
            }
            r = result[mode]["recall"]
            log(f"  service {mode}: R@5 {r['R@5']:.3f} R@10 {r['R@10']:.3f}")
    return result


# -- floors on raw libraries ----------------------------------------------------------------


def brute_force(
    qvecs: np.ndarray, dvecs: np.ndarray, questions: list[Question], turns: list[Turn], depth: int
) -> list[list[str]]:
    """Exact cosine ranking among the question's conversation (vectors are unit length)."""
    rows: dict[str, list[int]] = {}
    for i, t in enumerate(turns):
        rows.setdefault(t.conv, []).append(i)
    index = {conv: np.asarray(ids) for conv, ids in rows.items()}
    out = []
    for qi, q in enumerate(questions):
        ids = index[q.conv]
        sims = dvecs[ids] @ qvecs[qi]
        order = np.argsort(-sims)[:depth]
        out.append([turns[int(ids[j])].dia_id for j in order])
    return out


def fts_ranked(
    con: sqlite3.Connection, questions: list[Question], turns: list[Turn], rank: str, depth: int
) -> list[list[str]]:
    out: list[list[str]] = []
    for q in questions:
        words = terms(q.text)
        if not words:
            out.append([])
            continue
        rows = con.execute(
            f"SELECT rowid, {rank} AS s FROM f WHERE f MATCH ? AND conv = ? ORDER BY s LIMIT ?",
            (match_expression(words), q.conv, depth),
        ).fetchall()
        out.append([turns[int(r[0])].dia_id for r in rows])
    return out


def embed_timed(embedder: MiniLMEmbedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors of ``texts`` (embedded shortest first, as an indexer would) and seconds taken."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    started = time.perf_counter()
    vectors = embedder.embed([texts[i] for i in order]).vectors
    elapsed = time.perf_counter() - started
    out = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    out[order] = np.asarray(vectors, dtype=np.float32)
    return out, elapsed


def run_floors(turns: list[Turn], questions: list[Question], stored: list[Any]) -> dict[str, Any]:
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    result: dict[str, Any] = {}
    qvecs, _ = embed_timed(embedder, [q.text for q in questions])

    # The baseline: "Speaker: text", FTS5 porter + stop-words, MiniLM, RRF 1:1 k=60.
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE VIRTUAL TABLE f USING fts5(body, conv UNINDEXED, tokenize='{TOKENIZER}')")
    plain = [f"{t.speaker}: {t.text}" for t in turns]
    con.executemany(
        "INSERT INTO f (rowid, body, conv) VALUES (?, ?, ?)",
        [(i, text, t.conv) for i, (text, t) in enumerate(zip(plain, turns, strict=True))],
    )
    words = fts_ranked(con, questions, turns, "bm25(f)", 100)
    dvecs, seconds = embed_timed(embedder, plain)
    result["plain_embed"] = {
        "texts": len(plain),
        "seconds": seconds,
        "per_second": len(plain) / seconds,
    }
    meaning = brute_force(qvecs, dvecs, questions, turns, 100)
    fused = [rrf([w, m], [1.0, 1.0], 60.0) for w, m in zip(words, meaning, strict=True)]
    result["baseline"] = {
        name: {"recall": recall(questions, r), "by_category": by_category(questions, r)}
        for name, r in (("text", words), ("semantic", meaning), ("hybrid", fused))
    }
    log(
        "  baseline: "
        + ", ".join(f"{m} R@10 {v['recall']['R@10']:.3f}" for m, v in result["baseline"].items())
    )

    # The recipe on raw libraries: FTS5 (key, value, context) and exact search on the same texts.
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE VIRTUAL TABLE f USING fts5(key, value, context, conv UNINDEXED, "
        f"tokenize='{TOKENIZER}')"
    )
    rows = []
    for i, ((_, key, value), t) in enumerate(zip(stored, turns, strict=True)):
        body = flatten({k: v for k, v in value.items() if k != "context"})
        rows.append((i, key, body, value["context"], t.conv))
    con.executemany("INSERT INTO f (rowid, key, value, context, conv) VALUES (?, ?, ?, ?, ?)", rows)
    depth = RAW_FUSION.depth
    weights = ", ".join(str(w) for w in RAW_WEIGHTS)
    words = fts_ranked(con, questions, turns, f"bm25(f, {weights})", depth)
    # The texts the product's indexer embeds (its context member left out), so the
    # raw floor and the product's index rate compare the same work.
    texts = [embed_text(key, json.dumps(value)) for _, key, value in stored]
    dvecs, seconds = embed_timed(embedder, texts)
    result["raw_embed"] = {
        "texts": len(texts),
        "seconds": seconds,
        "per_second": len(texts) / seconds,
    }
    log(f"  raw embedding of the entry texts: {len(texts) / seconds:.0f}/s")
    meaning = brute_force(qvecs, dvecs, questions, turns, depth)
    fused = [
        rrf([w, m], [RAW_FUSION.words, RAW_FUSION.meaning], RAW_FUSION.k)
        for w, m in zip(words, meaning, strict=True)
    ]
    result["recipe_raw"] = {
        name: {"recall": recall(questions, r), "by_category": by_category(questions, r)}
        for name, r in (("text", words), ("semantic", meaning), ("hybrid", fused))
    }
    return result


# -- report ---------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    floors = report["floors"]
    sources = (
        ("issue baseline, raw (FTS5 'Speaker: text', MiniLM, RRF 1:1 k60)", floors["baseline"]),
        ("recipe on raw libraries (FTS5 key/value/context 8/1/0.5, exact)", floors["recipe_raw"]),
        ("claude-tui search service", report["service"]),
        ("the same, embedder = wordllama-256 (static)", report["service_static"]),
    )
    labels = {"text": "BM25 alone", "semantic": "dense alone", "hybrid": "hybrid"}
    for group, (name, res) in enumerate(sources):
        for mode in ("text", "semantic", "hybrid"):
            r = res[mode]["recall"]
            lat = res[mode].get("latency")
            ok = ""
            if mode == "hybrid" and group >= 2:
                ok = "PASS" if all(r[k] >= v for k, v in TARGET.items()) else "FAIL"
            rows.append(
                {
                    "source": name if mode == "text" else "",
                    "mode": labels[mode],
                    **{k: f"{r[k]:.3f}" for k in r},
                    "p50": f"{lat['p50_ms']:.1f}" if lat else "",
                    "p99": f"{lat['p99_ms']:.1f}" if lat else "",
                    "target": ok,
                    "_group": str(group),
                }
            )
    return rows


HEADERS = {
    "source": "source",
    "mode": "mode",
    "R@1": "R@1",
    "R@5": "R@5",
    "R@10": "R@10",
    "R@20": "R@20",
    "p50": "p50 ms",
    "p99": "p99 ms",
    "target": "R@5>=.65 R@10>=.75",
}


def render(rows: list[dict[str, str]]) -> str:
    return render_table(HEADERS, rows, [r["_group"] for r in rows])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_locomo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the LoCoMo folder")
    parser.add_argument("--quick", action="store_true", help="the first 2 conversations only")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON output path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    turns, questions = load(args.data, 2 if args.quick else None)
    log(
        f"LoCoMo: {len(turns):,} turns, {len(questions):,} questions (categories 1-4) "
        f"from {args.data}"
    )
    stored = entries(turns)
    tmp = Path(tempfile.mkdtemp(prefix="claude-tui-locomo-"))
    try:
        service = run_service(turns, questions, tmp / "minilm", stored)
        log("  the same with the static embedder (wordllama-256):")
        static = run_service(turns, questions, tmp / "static", stored, embedder="wordllama-256")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    floors = run_floors(turns, questions, stored)
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "quick": args.quick,
            "turns": len(turns),
            "questions": len(questions),
            "conversations": len({t.conv for t in turns}),
            "entry": {
                "key": "<speaker> <dia_id>",
                "value": ["speaker", "text", "date", "context"],
                "context_turns": {"before": CONTEXT_BEFORE, "after": CONTEXT_AFTER},
            },
            "targets": TARGET,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg": os.getloadavg(),
        },
        "service": service,
        "service_static": static,
        "floors": floors,
    }
    rows = table(report)
    report["table"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    report["meta"]["elapsed_s"] = time.time() - started
    hybrid = service["hybrid"]["recall"]
    report["pass"] = all(hybrid[k] >= v for k, v in TARGET.items())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(rows))
    print()
    print(
        f"store {service['store']['per_second']:,.0f} entries/s; index build "
        f"{service['index']['per_second']:,.0f} entries/s (raw MiniLM on the same texts "
        f"{floors['raw_embed']['per_second']:,.0f}/s); "
        f"{service['sensitive_entries']} entries held back as sensitive"
    )
    print(
        f"with embedder = wordllama-256: index build {static['index']['per_second']:,.0f} entries/s"
    )
    for mode in ("text", "semantic", "hybrid"):
        for note in service[mode]["notes"]:
            print(f"note ({mode}): {note}")
    verdict = "meets" if report["pass"] else "misses"
    print(
        f"the service's hybrid {verdict} the target; "
        f"{report['meta']['elapsed_s']:.0f} s; JSON in {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
