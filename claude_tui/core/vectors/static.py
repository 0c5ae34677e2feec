"""A static embedder: the mean of per-token vectors, ~50x MiniLM's speed.

WordLlama's l2_supercat 256-dimensional token vectors (MIT; the ``wordllama``
wheel ships them with their tokenizer). No network and no ONNX: a text's vector
is the mean of its tokens' vectors, normalised, so a core embeds thousands of
entries a second where MiniLM embeds about a hundred long ones. It finds less by
meaning (bench/bench_locomo.py and bench/bench_search.py measure both), so it is
a choice (``[vectors] embedder = "wordllama-256"``), not the default.

Only the two data files are read; the package itself is not imported (its loader
looks for the tokenizer in the wrong folder and then tries to download it).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.vectors.embedder import Embedded, EmbedderUnavailable, clean_text

if TYPE_CHECKING:
    from claude_tui.core.vectors.chroma_ef import ClaudeTUIStatic

NAME = "wordllama-256"
MODEL_ID = "wordllama-l2-supercat-256"
DIMENSIONS = 256
# A mean over more tokens than this hardly moves; the cap bounds the memory a huge
# text takes (tokens x 256 floats) and says "truncated" like MiniLM's window does.
MAX_TOKENS = 4096
WEIGHTS = ("weights", "l2_supercat_256.safetensors")
TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


def model_files() -> tuple[Path, Path]:
    """The token vectors and the tokenizer in the installed ``wordllama`` package.

    Raises:
        EmbedderUnavailable: the package or one of its files is missing.
    """
    spec = importlib.util.find_spec("wordllama")  # finds it without running its __init__
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    if not roots:
        raise EmbedderUnavailable(
            f"the {NAME} embedder needs the wordllama package: pip install wordllama"
        )
    root = Path(roots[0])
    weights, tokenizer = root.joinpath(*WEIGHTS), root.joinpath(*TOKENIZER)
    for path in (weights, tokenizer):
        if not path.is_file():
            raise EmbedderUnavailable(f"the {NAME} embedder's file is missing: {path}")
    return weights, tokenizer


class StaticEmbedder:
    """Embeds text into 256-dimensional unit vectors; thread-safe, loaded lazily."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._vectors: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._vectors is not None:
            return
        with self._lock:
            if self._vectors is not None:
                return
            import numpy as np
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            weights, tokenizer_file = model_files()
            try:
                table = load_file(str(weights))["embedding.weight"].astype(np.float32)
                tokenizer = Tokenizer.from_file(str(tokenizer_file))
            except Exception as exc:  # a damaged file: the message says which
                raise EmbedderUnavailable(f"the {NAME} embedder cannot be loaded: {exc}") from None
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=self.max_tokens)
            self._tokenizer = tokenizer
            self._vectors = table

    def embed(self, texts: list[str]) -> Embedded:
        """Embed ``texts`` (cleaned first); vectors are L2-normalised, in the given order."""
        import numpy as np

        cleaned = [clean_text(t) for t in texts]
        self._load()
        table = self._vectors
        encodings = self._tokenizer.encode_batch(cleaned, add_special_tokens=False)
        out = np.zeros((len(cleaned), DIMENSIONS), dtype=np.float32)
        truncated = []
        for row, encoding in enumerate(encodings):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            if ids.size:  # text of only characters the tokenizer drops has no tokens
                out[row] = table[ids].mean(axis=0)
            truncated.append(bool(encoding.overflowing))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # A vector of zeros stays zeros rather than NaN (cosine then ranks it last).
        out /= np.clip(norms, 1e-12, None)
        return Embedded([v.tolist() for v in out], truncated)

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        result = self.embed([text])
        return result.vectors[0], result.truncated[0]

    def chroma_function(self) -> ClaudeTUIStatic:
        """This embedder as the registered Chroma embedding function."""
        from claude_tui.core.vectors.chroma_ef import ClaudeTUIStatic

        return ClaudeTUIStatic(self)


_SHARED: StaticEmbedder | None = None


def shared_static() -> StaticEmbedder:
    """One per process: the token table is 32 MB."""
    global _SHARED
    if _SHARED is None:
        _SHARED = StaticEmbedder()
    return _SHARED
