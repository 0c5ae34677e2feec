"""``memory search`` through the search service, ``memory reindex``, and a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, TextIO

from claude_tui.cli import output as out

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

SECRET_MASK = "<secret: read it with memory get>"


class ProgressBar:
    """``label [#####-----] done/total rate/s`` on stderr, redrawn in place on a terminal.

    Off a terminal (a script, a pipe) it prints nothing until the final line,
    so logs are not flooded.
    """

    def __init__(self, label: str, *, width: int = 30, stream: TextIO | None = None) -> None:
        self.label = label
        self.width = width
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._drawn = 0.0
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        tty = self.stream.isatty()
        if tty and (now - self._drawn > 0.1 or done >= total):
            self._drawn = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def line(self) -> str:
        """The bar as one line of text."""
        total = max(self.total, 1)
        filled = int(self.width * min(self.done, total) / total)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"{self.label} [{bar}] {self.done:,}/{self.total:,} {rate:,.0f}/s"

    def finish(self) -> None:
        """End the line (a terminal) or print the final state once (anything else)."""
        tty = self.stream.isatty()
        self.stream.write(("\r" if tty else "") + self.line() + "\n")
        self.stream.flush()


def memory_search(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    """Search memory (hybrid by default); the note on how it was answered goes to stderr."""
    from claude_tui.core.search.service import Filters

    filters = Filters(
        session_id=a.session, agent_id=a.agent, namespace=a.namespace,
        memory_type=a.memory_type, all_sessions=a.all_sessions,
    )  # fmt: skip
    mode = getattr(a, "mode", "hybrid")
    limit = a.limit
    note: str | None
    if mode != "text" and not _index_built(c):
        results = c.search.memory(a.text, mode="text", limit=limit, filters=filters)
        note = (
            "found by words only: memory's vector index is not built yet "
            "(run 'claude-tui memory reindex', or keep the app or the worker running)"
        )
    else:
        results = c.search.memory(a.text, mode=mode, limit=limit, filters=filters, catch_up=True)
        note = results.note
    if note:
        sys.stderr.write(note + "\n")
    hits = results.hits
    if a.json:
        out.emit_json(
            [
                {**h.entry.to_dict(), **({"value": SECRET_MASK} if h.entry.sensitive else {}),
                 **h.to_dict()}
                for h in hits
            ]
        )  # fmt: skip
        return 0
    now = time.time()
    out.table(
        ["SCORE", "MATCHED", "KEY", "TYPE", "NAMESPACE", "SESSION", "TTL", "VALUE"],
        [(f"{h.score:.3f}", "+".join(h.matched), h.entry.key, h.entry.memory_type,
          h.entry.namespace, h.entry.session_id or "-",
          "-" if h.entry.expires_at is None else f"{h.entry.ttl_remaining(now):.0f}s",
          "••••••" if h.entry.sensitive else out.short(h.entry.value, 50)) for h in hits],
    )  # fmt: skip
    return 0


def _index_built(c: MemoryCoordinator) -> bool:
    """Whether memory's vector index was ever built here (a meta read: no chromadb import)."""
    from claude_tui.core.search.memory_index import BUILT_META

    return c.store.meta(BUILT_META) is not None


def memory_reindex(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    """Rebuild memory's vector index from SQLite, with a progress bar."""
    bar = ProgressBar("embedding memory")
    count = c.search.indexer.reindex(progress=bar)
    bar.finish()
    print(f"reindexed {count:,} memory entries")
    return 0
