"""Text search through a conversation (the main thread and its subagents).

The bytes are searched first (case-insensitive, for the query as JSON writes
it), and only the lines that hold it are parsed, to keep the matches a reader
sees (text, thinking, tool input and output) and drop those in ids, paths or
other metadata. :func:`text_search` is the app's default search; one with the
same signature (the recall service's) can replace it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from claude_tui.core.transcripts.conversation import Conversation
from claude_tui.core.transcripts.reader import Transcript
from claude_tui.core.transcripts.structure import ThreadRef
from claude_tui.core.transcripts.turns import Turn

MAX_HITS = 500


@dataclass(frozen=True)
class Hit:
    """A turn that matched: where it shows in the main thread, and a snippet."""

    line: int  # the main thread's line to show
    part: int  # which turn of that line (0 for a subagent's match: the call is shown)
    snippet: str
    thread: str = ""  # the subagent thread's title when the match is inside one
    thread_line: int | None = None


def snippet(text: str, query: str, width: int = 80) -> str:
    """The part of ``text`` around the first match of ``query``, on one line."""
    at = text.lower().find(query.lower())
    if at < 0:
        at = 0
    start = max(0, at - width // 3)
    cut = " ".join(text[start : start + width].split())
    return ("…" if start else "") + cut


def _lines_matching(transcript: Transcript, query: str) -> list[int]:
    """0-based lines whose bytes hold ``query`` as JSON would write it."""
    needle = json.dumps(query, ensure_ascii=False)[1:-1].encode("utf-8")
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    lines = transcript.lines
    found: list[int] = []
    position = 0
    while True:
        match = pattern.search(lines.data, position)
        if match is None:
            return found
        index = lines.line_of(match.start())
        found.append(index)
        span = lines.span(index)
        if span is None or len(found) >= MAX_HITS:
            return found
        position = span[1] + 1


Shown = Callable[[str, str], str]  # (a turn's text, the query) -> the snippet to show


def _matches(turns: list[Turn], query: str) -> list[Turn]:
    low = query.lower()
    return [turn for turn in turns if low in turn.search_text().lower()]


def text_search(
    conversation: Conversation, query: str, *, limit: int = MAX_HITS, shown: Shown = snippet
) -> list[Hit]:
    """Every turn whose text holds ``query`` (case-insensitive), in main-thread order.

    ``shown`` makes each hit's snippet from the turn's whole text (the search
    service passes one that redacts secrets before cutting).
    """
    query = query.strip()
    if not query:
        return []
    hits: list[Hit] = []
    transcript = conversation.transcript
    for index in _lines_matching(transcript, query):
        position = conversation.main.position_of(index + 1)
        turns = conversation.main.turns_at(position) if position is not None else None
        found = _matches(turns or [], query)
        if found:
            hits += [Hit(t.line, t.part, shown(t.search_text(), query)) for t in found]
            continue
        facts = transcript.facts(index + 1)
        if facts is None:
            continue
        for call_id in facts.tool_results:  # a result is shown with its call
            location = conversation.find_tool_use(call_id)
            if location is not None and location.thread is None:
                call_turns = conversation.main.turns_at(location.line - 1) or []
                for t in _matches(call_turns, query):
                    hits.append(Hit(t.line, t.part, shown(t.search_text(), query)))
        if turns == []:  # a sidechain record of the main file: shown inside its call
            location = conversation.locate_line(index + 1)
            if location.thread is not None:
                hits += _thread_hits(conversation, location.thread, query, [index], shown)
    structure = conversation.structure()
    for ref in structure.threads:
        if ref.kind != "file" or ref.agent_id is None:
            continue
        agent = conversation.agent(ref.agent_id)
        hits += _thread_hits(conversation, ref, query, _lines_matching(agent, query), shown)
    unique = {(h.line, h.part, h.thread, h.thread_line): h for h in hits}
    ordered = sorted(unique.values(), key=lambda h: (h.line, h.part, h.thread_line or 0))
    return ordered[:limit]


def _thread_hits(
    conversation: Conversation,
    ref: ThreadRef,
    query: str,
    indexes: list[int],
    shown: Shown = snippet,
) -> list[Hit]:
    thread = conversation.thread(ref)
    where = ref.call_line or ref.boundary_line or conversation.structure().lines
    out = []
    for index in indexes:
        position = thread.position_of(index + 1)
        if position is None:
            continue
        for t in _matches(thread.turns_at(position) or [], query):
            out.append(
                Hit(where, 0, shown(t.search_text(), query), ref.title or "subagent", t.line)
            )
    return out
