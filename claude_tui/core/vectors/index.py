"""The Chroma index of neural patterns: a derived copy of SQLite's pattern rows.

Embedded ``PersistentClient`` in ``<data dir>/chroma`` by default; an
``HttpClient`` when ``CLAUDE_TUI_CHROMA_URL`` is set. Telemetry is off. The
collection records which model made its vectors, so a collection built by a
different model is detected instead of silently mixed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from claude_tui.core.durability.files import private_dir, tighten_tree
from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.vectors.embedder import DIMENSIONS, MODEL_ID

log = logging.getLogger(__name__)
# chromadb keeps one shared system per path, created and torn down without a lock:
# two threads opening (or closing) clients at once (the memory indexer's first pass
# beside a search) got "'RustBindingsAPI' object has no attribute 'bindings'".
_CLIENTS = threading.Lock()
COLLECTION = "neural_patterns"
OVERFETCH = 8  # how many times k to fetch unfiltered before filtering by type


class IndexUnavailable(ClaudeTUIError):
    """Chroma cannot be reached or opened; pattern search falls back to text."""

    exit_code = 1
    title = "Vector index unavailable"


class IndexMismatch(ClaudeTUIError):
    """The collection was built by another embedding model."""

    exit_code = 2
    title = "Vector index built by another model"


class ModelChanged(IndexMismatch):
    """The collection holds another (known) model's vectors: an upgrade changed the model.

    The index is derived from SQLite, so the background indexer drops and rebuilds
    it; until then searches answer by words.
    """


@dataclass(frozen=True)
class Hit:
    """One nearest neighbour: pattern id and cosine similarity."""

    pattern_id: str
    similarity: float


class PatternIndex:
    """Upsert, delete and query pattern vectors. Opens Chroma on first use."""

    def __init__(
        self,
        data_dir: Path,
        url: str | None = None,
        *,
        model_id: str = MODEL_ID,
        dimensions: int = DIMENSIONS,
        function: Any = None,
        name: str = COLLECTION,
        reindex_command: str = "claude-tui patterns reindex",
    ) -> None:
        # The memory index (core/search/memory_index.py) is a second collection
        # of the same kind: another name, another command to rebuild it.
        self.name = name
        self.reindex_command = reindex_command
        self.model_id = model_id
        self.dimensions = dimensions
        self._function = function
        self.path = data_dir / "chroma"
        self.url = url if url is not None else os.environ.get("CLAUDE_TUI_CHROMA_URL") or None
        self._lock = threading.Lock()
        self._client: Any = None
        self._collection: Any = None
        self.last_error: str | None = None

    # -- opening ------------------------------------------------------------
    def _client_for(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if self.url:
            parsed = urlparse(self.url)
            return chromadb.HttpClient(
                host=parsed.hostname or "localhost",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        private_dir(self.path)
        with _CLIENTS:
            return chromadb.PersistentClient(path=str(self.path), settings=settings)

    def collection(self) -> Any:
        """The pattern collection, created if needed.

        Raises:
            IndexUnavailable: Chroma cannot be opened or reached.
            IndexMismatch: the collection was made with another model.
        """
        with self._lock:
            if self._collection is not None:
                return self._collection
            try:
                if self._function is None:
                    from claude_tui.core.vectors.chroma_ef import ClaudeTUIMiniLM

                    self._function = ClaudeTUIMiniLM()
                self._close_client()
                self._client = self._client_for()
                # Look first, without our function: a collection another model built
                # must be reported as such, not as a conflict of functions.
                built_by = self._existing_model()
                if built_by is not None and built_by != self.model_id:
                    # "unknown (…)": a collection whose function cannot be rebuilt, not an
                    # upgrade; only a known other model id is rebuilt without asking.
                    if built_by.startswith("unknown"):
                        raise IndexMismatch(
                            f"the vector index was built with model {built_by!r}, not "
                            f"{self.model_id!r}; run '{self.reindex_command}' to rebuild it"
                        )
                    raise ModelChanged(
                        f"the vector index holds the vectors of model {built_by!r}, not of "
                        f"{self.model_id!r}: it is rebuilt from SQLite in the background "
                        f"(or now: '{self.reindex_command}')"
                    )
                collection = self._client.get_or_create_collection(
                    self.name,
                    embedding_function=self._function,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": self.model_id, "dimensions": self.dimensions},
                )
            except IndexMismatch:
                raise
            except Exception as exc:  # chromadb raises many types; all mean "not usable"
                self.last_error = f"{type(exc).__name__}: {exc}"
                if "conflict" in str(exc).lower():
                    raise IndexMismatch(
                        f"the vector index was built with another embedding function ({exc}); "
                        f"run '{self.reindex_command}' to rebuild it"
                    ) from None
                raise IndexUnavailable(
                    f"the vector index cannot be opened: {self.last_error}"
                ) from None
            self.last_error = None
            self._collection = collection
            self._tighten()
            return collection

    def _tighten(self) -> None:
        """Chroma creates its files with the process umask: take group/other access away."""
        if not self.url:
            tighten_tree(self.path)

    def _existing_model(self) -> str | None:
        """The model recorded by an existing collection (None when there is none)."""
        names = {getattr(c, "name", c) for c in self._client.list_collections()}
        if self.name not in names:
            return None
        try:
            existing = self._client.get_collection(self.name)
        except Exception as exc:  # a persisted function we cannot even rebuild
            return f"unknown ({type(exc).__name__})"
        return str((existing.metadata or {}).get("model"))

    def _close_client(self) -> None:
        client, self._client = self._client, None
        close = getattr(client, "close", None)
        if close is not None:
            try:
                with _CLIENTS:
                    close()
            except Exception:  # already closed, or a remote client with nothing to release
                log.debug("closing the Chroma client failed", exc_info=True)

    def close(self) -> None:
        """Release the Chroma client (its files stay as they are)."""
        with self._lock:
            self._collection = None
            self._close_client()
            self._tighten()  # segment files written on the way out

    def _call(self, fn: Any) -> Any:
        collection = self.collection()
        try:
            return fn(collection)
        except IndexMismatch:
            raise
        except Exception as exc:  # a server that went away, a corrupted segment, ...
            self.last_error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._collection = None
            raise IndexUnavailable(f"the vector index failed: {self.last_error}") from None

    # -- data -----------------------------------------------------------------
    def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Store vectors (each must have the model's 384 dimensions)."""
        for vector in vectors:
            if len(vector) != self.dimensions:
                raise IndexMismatch(
                    f"a vector of {len(vector)} dimensions was refused: the index holds "
                    f"{self.dimensions}-dimensional {self.model_id} vectors "
                    "(is the embedder misconfigured?)"
                )
        if not ids:
            return
        self._call(
            lambda c: c.upsert(
                ids=list(ids),
                embeddings=[list(map(float, v)) for v in vectors],
                documents=list(documents),
                metadatas=list(metadatas),
            )
        )
        self._tighten()  # the first write creates the segment's files (a scandir or two)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by pattern id."""
        if ids:
            self._call(lambda c: c.delete(ids=list(ids)))
            self._tighten()

    def query(self, vector: Sequence[float], k: int, pattern_type: str | None = None) -> list[Hit]:
        """The ``k`` nearest patterns by cosine similarity (optionally of one type)."""
        if len(vector) != self.dimensions:
            raise IndexMismatch(
                f"a query vector of {len(vector)} dimensions was refused "
                f"(expected {self.dimensions})"
            )
        if pattern_type is None:
            return self._nearest(vector, k, None)
        # Chroma's metadata filter is slow on large collections (tens of ms at 100k):
        # over-fetch without it and keep the wanted type; filter in Chroma only when
        # too few of that type are among the nearest (rare types).
        wider = self._nearest(vector, k * OVERFETCH, None, with_types=True)
        kept = [hit for hit, kind in wider if kind == pattern_type][:k]
        if len(kept) == k or len(wider) < k * OVERFETCH:
            return kept
        return self._nearest(vector, k, {"pattern_type": pattern_type})

    def _nearest(
        self,
        vector: Sequence[float],
        k: int,
        where: dict[str, Any] | None,
        *,
        with_types: bool = False,
    ) -> Any:
        include = ["distances", "metadatas"] if with_types else ["distances"]
        result = self._call(
            lambda c: c.query(
                query_embeddings=[list(map(float, vector))],
                n_results=max(1, k),
                where=where,
                include=include,
            )
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result["distances"] else []
        hits = [Hit(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]
        if not with_types:
            return hits
        metadatas = result["metadatas"][0] if result.get("metadatas") else [None] * len(hits)
        return [
            (hit, (meta or {}).get("pattern_type"))
            for hit, meta in zip(hits, metadatas, strict=True)
        ]

    def ids(self) -> set[str]:
        """Every pattern id in the index."""
        found: set[str] = set()
        offset = 0
        while True:
            page = self._call(lambda c, o=offset: c.get(include=[], limit=5000, offset=o))
            found.update(page["ids"])
            if len(page["ids"]) < 5000:
                return found
            offset += 5000

    def count(self) -> int:
        """How many vectors the index holds."""
        return int(self._call(lambda c: c.count()))

    def reset(self) -> None:
        """Drop the collection (it is rebuilt from SQLite by the caller)."""
        with self._lock:
            self._collection = None
        try:
            if self._client is None:
                self._client = self._client_for()
            self._client.delete_collection(self.name)
        except Exception as exc:  # absent already, or a broken index: start afresh
            log.info("dropping the %s collection: %s", self.name, exc)

    def available(self) -> bool:
        """Whether the index can be used right now."""
        try:
            self.collection()
        except ClaudeTUIError:
            return False
        return True
