"""Choosing the embedder by configuration.

``minilm-int8`` (the default) runs offline from installed packages.
``wordllama-256`` too: static token vectors, ~50x faster to index, finding less by
meaning (see ``claude_tui.core.vectors.static``).
``chroma-default`` uses Chroma's own default function (it downloads its model
on first use: it needs the internet once). ``sentence-transformers:NAME`` uses
any sentence-transformers model (install sentence-transformers yourself; it
brings PyTorch). A collection remembers which model built it, so switching
models asks for ``claude-tui patterns reindex``.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from claude_tui.core.errors import ConfigError
from claude_tui.core.vectors.embedder import (
    DIMENSIONS,
    MODEL_ID,
    Embedded,
    EmbedderUnavailable,
    clean_text,
)

DEFAULT_EMBEDDER = "minilm-int8"
STATIC = "wordllama-256"  # claude_tui.core.vectors.static.NAME (not imported here: no work)


class Embedder(Protocol):
    """What the pattern pipeline needs from an embedder."""

    model_id: str

    @property
    def dimensions(self) -> int: ...
    def embed(self, texts: list[str]) -> Embedded: ...
    def embed_one(self, text: str) -> tuple[list[float], bool]: ...
    def chroma_function(self) -> Any: ...


class ChromaFunctionEmbedder:
    """Any Chroma embedding function, seen through the pipeline's interface."""

    def __init__(self, factory: Any, model_id: str) -> None:
        self._factory = factory
        self._function: Any = None
        self._dimensions: int | None = None
        self._lock = threading.Lock()
        self.model_id = model_id

    def chroma_function(self) -> Any:
        with self._lock:
            if self._function is None:
                try:
                    self._function = self._factory()
                except Exception as exc:  # a missing package, a model that cannot load
                    raise EmbedderUnavailable(
                        f"the embedder {self.model_id} cannot be loaded: {exc}"
                    ) from None
            return self._function

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = len(self.embed_one("dimension probe")[0])
        return self._dimensions

    def embed(self, texts: list[str]) -> Embedded:
        cleaned = [clean_text(t) for t in texts]
        vectors = [[float(x) for x in v] for v in self.chroma_function()(cleaned)]
        return Embedded(vectors, [False] * len(vectors))

    def embed_one(self, text: str) -> tuple[list[float], bool]:
        result = self.embed([text])
        return result.vectors[0], False


def make_embedder(choice: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder named by configuration.

    Raises:
        ConfigError: an unknown name.
    """
    if choice == DEFAULT_EMBEDDER:
        from claude_tui.core.vectors.chroma_ef import shared_embedder

        return shared_embedder()
    if choice == STATIC:
        from claude_tui.core.vectors.static import shared_static

        return shared_static()
    if choice == "chroma-default":

        def default() -> Any:
            from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

            return DefaultEmbeddingFunction()

        return ChromaFunctionEmbedder(default, "chroma-default")
    if choice.startswith("sentence-transformers:") and choice.split(":", 1)[1]:
        name = choice.split(":", 1)[1]

        def sentence_transformer() -> Any:
            from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

            return SentenceTransformerEmbeddingFunction(model_name=name)

        return ChromaFunctionEmbedder(sentence_transformer, f"sentence-transformers/{name}")
    raise ConfigError(
        f"unknown embedder {choice!r}: use {DEFAULT_EMBEDDER}, {STATIC}, chroma-default or "
        "sentence-transformers:MODEL"
    )


__all__ = ["DEFAULT_EMBEDDER", "DIMENSIONS", "MODEL_ID", "Embedder", "make_embedder"]
