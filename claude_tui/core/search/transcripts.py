"""Transcripts as the search service's third source: turns of Claude Code conversations.

Words only, through the conversation reader's own search
(:func:`claude_tui.core.transcripts.search.text_search`, what the app's
conversation screen uses): each of the query's words is looked for in the
session's transcript (the archived copy when the archive holds it, else the
file; its subagents too), and a turn ranks by the words it holds, a rare
word counting more than a common one, then newest first.

Visibility is the session's: a search sees the transcript of its own session
(``Filters.session_id``), the hooks' project sessions, or, in the owner's
all-sessions view, those of the newest sessions that have one. A search with
no session sees none. Secrets are redacted from a turn's whole text before
its snippet is cut, so no snippet holds a credential or a part of one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.secrets import redact_text

if TYPE_CHECKING:
    from claude_tui.core.search.service import Filters, SearchService

log = logging.getLogger(__name__)

KIND = "transcript"
MAX_SESSIONS = 20  # transcripts read per search in the all-sessions view (the newest sessions)
MAX_WORDS = 8  # query words looked for (each is one scan of the transcript's bytes)
HITS_PER_WORD = 500
WORDS_ONLY = "transcripts have no vector index"


@dataclass(frozen=True)
class TranscriptTurn:
    """A turn of a session's transcript that matched, with its redacted snippet."""

    session_id: str
    line: int  # the main thread's line the turn shows at (a subagent's: its call)
    part: int
    snippet: str
    thread: str = ""  # the subagent thread's title when the turn is inside one
    thread_line: int | None = None

    @property
    def ref(self) -> str:
        """``session:line:part`` (``...@thread_line`` inside a subagent's thread)."""
        at = f"{self.session_id}:{self.line}:{self.part}"
        return at if self.thread_line is None else f"{at}@{self.thread_line}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the CLI and MCP."""
        return {"source": KIND, "session_id": self.session_id, "line": self.line,
                "part": self.part, "thread": self.thread or None,
                "thread_line": self.thread_line, "text": self.snippet}  # fmt: skip


class TranscriptCorpus:
    """The :class:`~claude_tui.core.search.service.Corpus` of transcript turns."""

    kind = KIND

    def __init__(self, service: SearchService) -> None:
        self.s = service
        self.c = service.c

    def sessions(self, filters: Filters) -> list[str]:
        """The sessions whose transcripts this scope may read, newest first."""
        f = filters
        if f.project_sessions is not None:
            ids = [*([f.session_id] if f.session_id else []), *f.project_sessions]
            return list(dict.fromkeys(ids))
        if f.all_sessions:
            rows = self.c.store.rows(
                "SELECT id FROM sessions WHERE id IN (SELECT session_id FROM import_sessions) "
                "OR (json_valid(metadata) AND (json_extract(metadata, '$.claude_session_id') "
                "IS NOT NULL OR json_extract(metadata, '$.transcript_path') IS NOT NULL)) "
                "ORDER BY updated_at DESC LIMIT ?",
                (MAX_SESSIONS,),
            )
            return [str(r[0]) for r in rows]
        return [f.session_id] if f.session_id else []

    def _shown(self, text: str, query: str) -> str:
        from claude_tui.core.transcripts.search import snippet

        guard = self.c.guard
        if guard.text_sensitive(text):
            text = redact_text(text, guard.rules, guard.placeholder)
        return snippet(text, query, 120)

    def _search(self, session_id: str, words: list[str]) -> list[tuple[TranscriptTurn, float]]:
        from claude_tui.core.transcripts.conversation import Conversation
        from claude_tui.core.transcripts.locate import transcript_files
        from claude_tui.core.transcripts.search import text_search

        try:
            conversation = Conversation(transcript_files(self.c, session_id))
        except ClaudeTUIError:
            return []  # no transcript (typed by hand), or gone and not archived
        scores: dict[tuple[int, int, str, int | None], float] = {}
        turns: dict[tuple[int, int, str, int | None], TranscriptTurn] = {}
        try:
            for word in words[:MAX_WORDS]:
                hits = text_search(conversation, word, limit=HITS_PER_WORD, shown=self._shown)
                if not hits:
                    continue
                weight = 1.0 / math.log2(2 + len(hits))  # a rare word counts more
                for h in hits:
                    key = (h.line, h.part, h.thread, h.thread_line)
                    scores[key] = scores.get(key, 0.0) + weight
                    turns.setdefault(
                        key,
                        TranscriptTurn(
                            session_id, h.line, h.part, h.snippet, h.thread, h.thread_line
                        ),
                    )
        except ClaudeTUIError as exc:
            log.info("transcript of %s not searched: %s", session_id, exc.message)
        finally:
            conversation.close()
        return [(turns[k], score) for k, score in scores.items()]

    def words(self, words: list[str], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        found: list[tuple[TranscriptTurn, float]] = []
        for rank, session_id in enumerate(self.sessions(filters)):
            # Newest session first, then the latest line: a tie goes to the more recent turn.
            found += [(t, s - rank * 1e-9) for t, s in self._search(session_id, words)]
        found.sort(key=lambda item: (-item[1], -item[0].line, -item[0].part))
        return list(found[:depth])

    def meaning(self, vector: list[float], filters: Filters, depth: int) -> list[tuple[Any, float]]:
        return []

    def unavailable(self) -> str | None:
        return WORDS_ONLY

    def load(self, refs: list[Any], filters: Filters) -> dict[Any, Any]:
        visible = set(self.sessions(filters))
        return {ref: ref for ref in refs if ref.session_id in visible}
