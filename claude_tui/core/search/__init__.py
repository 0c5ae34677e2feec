"""One search service over everything an agent left: memory, patterns (and more sources).

``service.py`` answers every search (CLI, MCP, app, hooks): SQLite FTS5 BM25
(stemmed, stop-words dropped from the query) and dense vectors (Chroma),
fused by weighted reciprocal rank, with the visibility filters applied inside
each half. ``memory_index.py`` keeps memory's vector collection in step with
SQLite through the change log; ``text.py`` turns queries and entries into
words and texts; ``warm.py`` fills L1 when a session is opened.

Nothing here loads chromadb or the model at import time.
"""
