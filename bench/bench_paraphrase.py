"""Paraphrase recall: notes asked for in other words, by words, by meaning and fused.

LoCoMo's questions share many words with the turns that answer them; an agent's
later question often does not ("how long before the integration build gets
killed?" for "The CI runner times out after 40 minutes"). This benchmark measures
that case, in one run, for each offline embedder:

1. The 160 facts of ``bench/paraphrase_set.py`` and N distractor notes (default
   2,400, seeded, sharing the facts' vocabulary) are stored through
   ``MemoryCoordinator.memory.store`` in one session, shuffled, under opaque keys
   (the key is embedded with the value: a telling key would give the answer away).
2. Memory's vector index is drained (the real indexer, Chroma embedded).
3. Each fact's question is asked through ``SearchService.memory`` in the
   session's scope: ``text``, ``semantic`` and ``hybrid`` with the shipped fusion
   (``fusion_for`` the embedder), and hybrid with the fusion shipped before it (words x2,
   k=10), so the table shows what the choice of weights buys. recall@k: the share of
   questions whose fact is among the top k. Hybrid latency p50/p99 beside it.

Run from the project root: ``python -m bench.bench_paraphrase [--distractors N]
[--embedders a,b]``. Prints a table and writes ``bench/results/paraphrase.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import render_table, summary
from bench.paraphrase_set import FACTS, distractors
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import ConfigError
from claude_tui.core.search.service import DEFAULT_FUSION, Filters, Fusion

RESULTS = Path(__file__).resolve().parent / "results" / "paraphrase.json"
KS = (1, 3, 5, 10)
EARLIER_FUSION = Fusion(words=2.0, meaning=1.0, k=10.0)  # shipped until this benchmark
# None: the service's own fusion for the embedder (search.service.fusion_for).
RUNS: tuple[tuple[str, str, Fusion | None], ...] = (
    ("text", "text", None),
    ("semantic", "semantic", None),
    ("hybrid (shipped)", "hybrid", None),
    ("hybrid, words x2 k=10 (earlier)", "hybrid", EARLIER_FUSION),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(embedder: str, n_distractors: int, seed: int, tmp: Path) -> dict[str, Any]:
    """Store, index and ask, with ``embedder``, in a data dir of its own under ``tmp``."""
    config = Config.load(tmp / embedder, env={}, redis_enabled=False, embedder=embedder)
    notes = [(True, i, fact) for i, (fact, _) in enumerate(FACTS)]
    notes += [(False, i, text) for i, text in enumerate(distractors(n_distractors))]
    random.Random(seed).shuffle(notes)
    out: dict[str, Any] = {"facts": len(FACTS), "distractors": n_distractors}
    with MemoryCoordinator.open(config, use_redis=False) as c:
        session = c.sessions.create(name="paraphrase").id
        fact_key: dict[int, str] = {}
        for n, (is_fact, i, text) in enumerate(notes):
            key = f"note-{n:05d}"
            c.memory.store(key, text, session_id=session)
            if is_fact:
                fact_key[i] = key
        started = time.perf_counter()
        embedded = c.search.indexer.drain().embedded
        seconds = time.perf_counter() - started
        out["fusion"] = asdict(c.search.fusion)
        out["index"] = {"embedded": embedded, "seconds": seconds, "per_second": embedded / seconds}
        log(f"  {embedder}: indexed {embedded:,} notes in {seconds:.1f} s")
        scope = Filters(session_id=session)
        c.search.warm_up()
        c.search.memory("warm the code paths", filters=scope)
        for name, mode, fusion in RUNS:
            ranks: list[int | None] = []
            samples: list[int] = []
            for i, (_, question) in enumerate(FACTS):
                t0 = time.perf_counter_ns()
                found = c.search.memory(
                    question, mode=mode, limit=10, filters=scope, fusion=fusion or c.search.fusion
                )
                samples.append(time.perf_counter_ns() - t0)
                keys = [h.entry.key for h in found.hits]
                ranks.append(keys.index(fact_key[i]) + 1 if fact_key[i] in keys else None)
            out[name] = {
                "recall": {
                    f"R@{k}": sum(r is not None and r <= k for r in ranks) / len(ranks) for k in KS
                },
                "latency": summary(samples, "ms"),
                "ranks": ranks,
            }
            r = out[name]["recall"]
            log(f"  {embedder} {name}: R@5 {r['R@5']:.3f} R@10 {r['R@10']:.3f}")
    return out


def table(report: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for embedder, result in report["embedders"].items():
        for name, _, _ in RUNS:
            r, lat = result[name]["recall"], result[name]["latency"]
            rows.append({
                "embedder": embedder, "mode": name,
                **{k: f"{r[k]:.3f}" for k in r},
                "p50": f"{lat['p50_ms']:.1f}", "p99": f"{lat['p99_ms']:.1f}",
            })  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=2_400)
    parser.add_argument("--seed", type=int, default=1, help="the order the notes are stored in")
    parser.add_argument("--embedders", default="minilm-int8,wordllama-256")
    args = parser.parse_args(argv)
    if args.distractors < 0:
        parser.error("--distractors must be 0 or more")
    embedders = [name.strip() for name in args.embedders.split(",")]
    report: dict[str, Any] = {
        "fusion": {"default": asdict(DEFAULT_FUSION), "earlier": asdict(EARLIER_FUSION)},
        "embedders": {},
    }
    with tempfile.TemporaryDirectory(prefix="ctui-bench-para-") as tmp:
        for name in embedders:  # all checked before any is measured
            try:
                Config.load(Path(tmp) / "check", env={}, embedder=name)
            except ConfigError as exc:
                parser.error(f"--embedders: {exc.message}")
        for embedder in embedders:
            report["embedders"][embedder] = measure(
                embedder, args.distractors, args.seed, Path(tmp)
            )
    headers = {
        "embedder": "embedder", "mode": "mode", "R@1": "R@1", "R@3": "R@3", "R@5": "R@5",
        "R@10": "R@10", "p50": "p50 ms", "p99": "p99 ms",
    }  # fmt: skip
    rows = table(report)
    print(f"\nParaphrase recall: {len(FACTS)} facts among {args.distractors:,} other notes, "
          "each asked in other words (limit 10, the session's scope)")  # fmt: skip
    print(render_table(headers, rows, [r["embedder"] for r in rows]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"JSON in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
