"""The offline embedders (MiniLM, and the static one) as registered Chroma functions.

Registered under a name, so a collection created with it reopens with it from
its saved configuration (no embedding function has to be passed again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from claude_tui.core.vectors.embedder import MAX_TOKENS, MODEL_ID, MiniLMEmbedder
from claude_tui.core.vectors.static import MAX_TOKENS as STATIC_MAX_TOKENS
from claude_tui.core.vectors.static import MODEL_ID as STATIC_MODEL_ID
from claude_tui.core.vectors.static import StaticEmbedder, shared_static

_SHARED: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """One embedder per process (the ONNX session is the expensive part)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = MiniLMEmbedder()
    return _SHARED


@register_embedding_function
class ClaudeTUIMiniLM(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8 ONNX, shipped in this package), offline."""

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self.embedder = embedder or shared_embedder()

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed(list(input)).vectors
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "claude-tui-minilm-int8"

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_ID}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ClaudeTUIMiniLM:
        return ClaudeTUIMiniLM()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def max_tokens(self) -> int:
        return MAX_TOKENS


@register_embedding_function
class ClaudeTUIStatic(EmbeddingFunction[Documents]):
    """The static embedder as a registered Chroma function (collections reopen with it)."""

    def __init__(self, embedder: StaticEmbedder | None = None) -> None:
        self.embedder = embedder or shared_static()

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed(list(input)).vectors
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "claude-tui-wordllama-256"

    def get_config(self) -> dict[str, Any]:
        return {"model": STATIC_MODEL_ID}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ClaudeTUIStatic:
        return ClaudeTUIStatic()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def max_tokens(self) -> int:
        return STATIC_MAX_TOKENS
