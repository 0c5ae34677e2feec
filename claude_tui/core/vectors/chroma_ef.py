"""The offline embedders (MiniLM, and the static one) as registered Chroma functions.

Registered under a name, so a collection created with it reopens with it from
its saved configuration (no embedding function has to be passed again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from claude_tui.core.vectors.embedder import MiniLMEmbedder
from claude_tui.core.vectors.static import StaticEmbedder, shared_static

_SHARED: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """One embedder per process (the ONNX session is the expensive part)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = MiniLMEmbedder()
    return _SHARED


class _OfflineFunction(EmbeddingFunction[Documents]):
    """What both offline functions share: cosine space, float32 vectors, the model id."""

    embedder: MiniLMEmbedder | StaticEmbedder

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed(list(input)).vectors
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.embedder.model_id}

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def max_tokens(self) -> int:
        return self.embedder.max_tokens


@register_embedding_function
class ClaudeTUIMiniLM(_OfflineFunction):
    """all-MiniLM-L6-v2 (int8 ONNX, shipped in this package), offline."""

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self.embedder = embedder or shared_embedder()

    @staticmethod
    def name() -> str:
        return "claude-tui-minilm-int8"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ClaudeTUIMiniLM:
        return ClaudeTUIMiniLM()


@register_embedding_function
class ClaudeTUIStatic(_OfflineFunction):
    """The static embedder (wordllama-256), offline; collections reopen with it."""

    def __init__(self, embedder: StaticEmbedder | None = None) -> None:
        self.embedder = embedder or shared_static()

    @staticmethod
    def name() -> str:
        return "claude-tui-wordllama-256"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ClaudeTUIStatic:
        return ClaudeTUIStatic()
