"""``memory search`` and ``patterns search`` through the search service, ``memory reindex``,
and a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from claude_tui.cli import output as out

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.search.service import Filters, Hit

SECRET_MASK = "<secret: read it with memory get>"


class ProgressBar:
    """``label [#####-----] done/total rate/s`` on stderr, redrawn in place on a terminal.

    Off a terminal (a script, a pipe) it prints nothing until the final line,
    so logs are not flooded; ``quiet`` prints nothing at all (``--json``, or a
    step that is not the command's point).
    """

    def __init__(
        self, label: str, *, width: int = 30, stream: TextIO | None = None, quiet: bool = False
    ) -> None:
        self.label = label
        self.width = width
        self.quiet = quiet
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._drawn = 0.0
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if self.quiet:
            return
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
        if self.quiet:
            return
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
    source = getattr(a, "source", "memory")
    if source != "memory":
        return _search_sources(c, a, filters, source)
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


def _search_sources(
    c: MemoryCoordinator, a: argparse.Namespace, filters: Filters, source: str
) -> int:
    """``memory search --source transcripts|all``: transcript turns (and entries), one list."""
    from claude_tui.core.errors import BadInput

    if not (a.session or a.all_sessions):
        raise BadInput(
            "transcripts belong to a session: pass --session ID (or --all for every session's)"
        )
    corpora = ["transcript"] if source == "transcripts" else ["memory", "transcript"]
    mode = getattr(a, "mode", "hybrid")
    if "memory" in corpora and mode != "text" and not _index_built(c):
        mode = "text"  # the memory half answers by words (said in its note)
    results = c.search.search_many(
        a.text, corpora, mode=mode, limit=a.limit, filters=filters, catch_up=True
    )
    if results.note:
        sys.stderr.write(results.note + "\n")
    if a.json:
        out.emit_json([_source_dict(h) for h in results.hits])
        return 0
    out.table(
        ["SCORE", "MATCHED", "SOURCE", "WHERE", "TEXT"],
        [(f"{h.score:.3f}", "+".join(h.matched), h.kind, _where(h), _text(h))
         for h in results.hits],
    )  # fmt: skip
    return 0


def _source_dict(h: Hit) -> dict[str, Any]:
    if h.kind == "memory":
        entry = h.entry
        masked = {"value": SECRET_MASK} if entry.sensitive else {}
        return {"source": "memory", **entry.to_dict(), **masked, **h.to_dict()}
    return {**h.turn.to_dict(), **h.to_dict()}


def _where(h: Hit) -> str:
    if h.kind == "memory":
        return f"{h.entry.namespace}/{h.entry.key}"
    turn = h.turn
    at = f"{turn.session_id} line {turn.line}"
    return f"{at} ({turn.thread})" if turn.thread else at


def _text(h: Hit) -> str:
    if h.kind == "memory":
        return "••••••" if h.entry.sensitive else out.short(h.entry.value, 60)
    return out.short(h.turn.snippet, 60)


def patterns_search(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    """Search patterns through the search service (hybrid by default).

    ``--min-score`` keeps the hits found by meaning at least that similar (a
    hit found by words only has no similarity to compare, and is left out).
    """
    from claude_tui.core.search.service import Filters

    results = c.search.patterns(
        a.text, mode=getattr(a, "mode", "hybrid"), limit=a.limit,
        filters=Filters(pattern_type=a.pattern_type),
    )  # fmt: skip
    hits = results.hits
    if a.min_score is not None:
        hits = [h for h in hits if h.detail.get("similarity", -2.0) >= a.min_score]
    if results.note:
        sys.stderr.write(results.note + "\n")
    if a.json:
        out.emit_json(
            {
                "mode": results.mode,
                "used": list(results.used),
                "truncated": results.truncated,
                "results": [{**h.pattern.to_dict(), **h.to_dict()} for h in hits],
            }
        )
        return 0
    out.table(
        ["SCORE", "MATCHED", "ID", "TYPE", "CONF", "USES", "INPUT"],
        [(f"{h.score:.3f}", "+".join(h.matched), h.pattern.id, h.pattern.pattern_type,
          f"{h.pattern.confidence:.2f}", h.pattern.usage_count,
          out.short(h.pattern.input_pattern, 60)) for h in hits],
    )  # fmt: skip
    return 0


def _index_built(c: MemoryCoordinator) -> bool:
    """Whether memory's vector index was ever built here (a meta read: no chromadb import)."""
    from claude_tui.core.search.memory_index import BUILT_META

    return c.store.meta(BUILT_META) is not None


def index_imported(c: MemoryCoordinator, *, quiet: bool) -> None:
    """Embed the memory entries an import wrote, with a progress bar on a terminal.

    Follows the change log like the background indexer (a first run builds the
    index). Fails open: the import stands, and its entries are found by words
    until the index is reachable; one line on stderr says so.
    """
    from claude_tui.core.errors import ClaudeTUIError

    bar = ProgressBar("embedding imported memory", quiet=quiet or not sys.stderr.isatty())
    try:
        done = c.search.indexer.drain(progress=bar)
    except ClaudeTUIError as exc:
        sys.stderr.write(f"imported memory is found by words only for now: {exc.message}\n")
        return
    if bar.total:
        bar.finish()
    if done.busy and not quiet:
        sys.stderr.write("another process is indexing memory; it embeds the imported entries\n")


def memory_reindex(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    """Rebuild memory's vector index from SQLite, with a progress bar."""
    bar = ProgressBar("embedding memory")
    count = c.search.indexer.reindex(progress=bar)
    bar.finish()
    print(f"reindexed {count:,} memory entries")
    return 0
