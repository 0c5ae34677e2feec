"""What earlier sessions of a project left, chosen for a new session or a prompt.

The hooks talk to a small interface (:class:`Recall`): today's engine is
word search over SQLite (FTS5 for memory, word overlap for tasks and
patterns); the hybrid search service plugs in behind the same two calls.
Visibility is applied inside every query: only the project's sessions
(never another project's private memory, never working memory of another
session) and the swarm's shared entries, never a sealed or
credential-looking text.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from claude_tui.core.models import OPEN_TASK_STATUSES, SWARM_SCOPE
from claude_tui.core.secrets import safe_cut

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

HARD_CAP_CHARS = 9_000  # Claude Code keeps 10,000 characters of a hook's context
CHARS_PER_TOKEN = 4
IMPORTANT_NAMESPACES = ("important", "conventions", "decisions")
IMPORTANT_SCAN = 2_000  # newest shared entries looked at for an "important": true flag
_HIDDEN_NAMESPACES = ("claude-code/prompts", "claude-code/live-prompts", "claude-code/tools")
_STOP_WORDS = """
the a an and or but if then else for to of in on at by with from into about as is are was
were be been being this that these those it its i you we they he she me my our your their
what which who whom how why when where can could should would will shall may might must
do does did done have has had not no yes please make made let get got use using used also
just than too very so all any some each more most other such only own same there here now
out up down over under again further once
"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass
class Item:
    """One recalled thing, with where it came from and why it was chosen."""

    kind: str  # task, memory, pattern, shared, summary
    ref: str
    text: str
    session_id: str | None
    session_name: str | None
    at: float | None
    why: str
    score: float

    def line(self) -> str:
        """The item as one line of context, provenance included."""
        where = (
            "the swarm"
            if self.session_id is None
            else f'session "{self.session_name or self.session_id}"'
        )
        when = time.strftime("%Y-%m-%d", time.gmtime(self.at)) if self.at else "?"
        return f"- {self.text} — from {where}, {when}; {self.why}"

    def record(self) -> dict[str, Any]:
        """What the injection log keeps of it (references, not the text)."""
        return {
            "kind": self.kind, "ref": self.ref, "session": self.session_id,
            "score": round(self.score, 3), "why": self.why, "chars": len(self.line()),
        }  # fmt: skip


@dataclass
class Injection:
    """The context a hook hands to Claude Code, and what it is made of."""

    items: list[Item] = field(default_factory=list)
    text: str = ""
    mode: str = "text"

    @property
    def chars(self) -> int:
        return len(self.text)


class Recall(Protocol):
    """What the hooks need from a search engine."""

    def session_start(self, session_id: str, project: str, budget_chars: int) -> Injection:
        """What a new session of ``project`` should know."""
        ...

    def for_prompt(
        self, session_id: str, project: str, prompt: str, budget_chars: int, min_score: float
    ) -> Injection:
        """What is relevant to ``prompt`` (empty when nothing clears ``min_score``)."""
        ...


def keywords(text: str, limit: int = 12) -> list[str]:
    """The words of a prompt worth looking for (no stop-words, at least 3 characters)."""
    seen: list[str] = []
    for word in re.findall(r"[A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9]", text.lower()):
        for part in re.split(r"[._-]", word):
            if len(part) >= 3 and part not in _STOP and part not in seen:
                seen.append(part)
    return seen[:limit]


class TextRecall:
    """Recall by words over SQLite (the engine until the hybrid search service lands)."""

    def __init__(self, coordinator: MemoryCoordinator) -> None:
        self.c = coordinator

    # -- visibility -------------------------------------------------------
    def project_sessions(self, session_id: str, project: str) -> dict[str, str | None]:
        """The project's other sessions (id → name), newest first, by hook or import."""
        rows = self.c.store.rows(
            "SELECT id, name FROM sessions WHERE id != ? AND json_valid(metadata) AND "
            "(json_extract(metadata, '$.project') = ? OR json_extract(metadata, '$.cwd') = ?) "
            "ORDER BY updated_at DESC LIMIT 200",
            (session_id, project, project),
        )
        return {r[0]: r[1] for r in rows}

    # -- session start ------------------------------------------------------
    def session_start(self, session_id: str, project: str, budget_chars: int) -> Injection:
        sessions = self.project_sessions(session_id, project)
        items: list[Item] = []
        ids = list(sessions)
        if ids:
            marks = ",".join("?" * len(ids))
            open_marks = ",".join("?" * len(OPEN_TASK_STATUSES))
            for tid, title, status, sid, at in self.c.store.rows(
                f"SELECT id, title, status, session_id, updated_at FROM tasks "
                f"WHERE session_id IN ({marks}) AND status IN ({open_marks}) AND sealed IS NULL "
                "ORDER BY updated_at DESC LIMIT 15",
                (*ids, *OPEN_TASK_STATUSES),
            ):
                items.append(Item("task", tid, f"[{status}] {safe_cut(title, 300)}", sid,
                                  sessions.get(sid), at, "a task left open", 1.0))  # fmt: skip
            hidden = ",".join("?" * len(_HIDDEN_NAMESPACES))
            # Newest first per session, each walking its own index a few rows deep (one
            # ORDER BY over every entry of the project would sort them all).
            recent = ids[:20]
            per = " UNION ALL ".join(
                "SELECT * FROM (SELECT id, key, value, namespace, session_id, updated_at "
                "FROM memory_entries WHERE session_id = ? AND memory_type = 'persistent' "
                f"AND sensitive = 0 AND scope != ? AND namespace NOT IN ({hidden}) "
                "ORDER BY id DESC LIMIT 5)"
                for _ in recent
            )
            params: list[Any] = []
            for sid_ in recent:
                params += [sid_, SWARM_SCOPE, *_HIDDEN_NAMESPACES]
            for eid, key, value, ns, sid, at in self.c.store.rows(
                f"SELECT * FROM ({per}) ORDER BY updated_at DESC LIMIT 15", params
            ):
                kind, why = (
                    ("summary", "the last compaction summary")
                    if ns == "claude-code/compaction"
                    else ("memory", "a recent decision or note")
                )
                items.append(Item(kind, f"memory:{eid}", _entry_text(key, value, ns), sid,
                                  sessions.get(sid), at, why, 0.9))  # fmt: skip
            for pid, ptype, inp, out, conf, sid, at in self.c.store.rows(
                f"SELECT id, pattern_type, input_pattern, output_pattern, confidence, session_id, "
                f"coalesce(last_used, last_updated, created_at) FROM neural_patterns "
                f"WHERE session_id IN ({marks}) AND sealed IS NULL "
                "ORDER BY confidence DESC, usage_count DESC LIMIT 10",
                ids,
            ):
                text = f"{ptype}: {safe_cut(inp, 200)}" + (
                    f" → {safe_cut(out, 200)}" if out else ""
                )
                why = f"a learned pattern (confidence {conf:.2f})"
                items.append(
                    Item("pattern", pid, text, sid, sessions.get(sid), at, why, float(conf))
                )
        ns_marks = ",".join("?" * len(IMPORTANT_NAMESPACES))
        # The important namespaces through the (scope, namespace, key) index; the
        # "important": true flag among the newest shared entries only (it needs
        # each value parsed: a bounded walk, not a scan of the whole swarm).
        for eid, key, value, ns, at in self.c.store.rows(
            "SELECT * FROM (SELECT id, key, value, namespace, updated_at FROM memory_entries "
            f"WHERE scope = ? AND sensitive = 0 AND namespace IN ({ns_marks}) "
            "ORDER BY updated_at DESC LIMIT 10) UNION SELECT * FROM ("
            "SELECT id, key, value, namespace, updated_at FROM (SELECT * FROM memory_entries "
            "WHERE scope = ? ORDER BY id DESC LIMIT ?) WHERE sensitive = 0 AND json_valid(value) "
            "AND json_type(value) = 'object' AND json_extract(value, '$.important') = 1) "
            "ORDER BY 5 DESC LIMIT 10",
            (SWARM_SCOPE, *IMPORTANT_NAMESPACES, SWARM_SCOPE, IMPORTANT_SCAN),
        ):
            items.append(Item("shared", f"memory:{eid}", _entry_text(key, value, ns), None, None,
                              at, "shared swarm memory marked important", 0.8))  # fmt: skip
        heading = (
            "What earlier sessions of this project left "
            "(recalled by claude-tui; `claude-tui recall show` explains each item):"
        )
        return _pack(items, budget_chars, heading, self.c.guard.text_sensitive)

    # -- prompt -------------------------------------------------------------
    def for_prompt(
        self, session_id: str, project: str, prompt: str, budget_chars: int, min_score: float
    ) -> Injection:
        words = keywords(prompt)
        if not words:
            return Injection()
        sessions = self.project_sessions(session_id, project)
        ids = [*sessions, session_id]
        marks = ",".join("?" * len(ids))
        hidden = ",".join("?" * len(_HIDDEN_NAMESPACES))
        terms = ['"' + w.replace('"', "") + '"*' for w in words]
        found: list[Item] = []
        # Candidates newest first, straight from the index (FTS5 walks rowids in
        # order, so no match set is ever ranked whole): every keyword first, then
        # any; the overlap score below decides what is relevant enough.
        rows: list[tuple[Any, ...]] = []
        seen: set[int] = set()
        for query, limit in ((" AND ".join(terms), 100), (" OR ".join(terms), 300)):
            if len(rows) >= 20:
                break
            for row in self.c.store.rows(
                "SELECT m.id, m.key, m.value, m.namespace, m.session_id, m.updated_at, m.scope "
                "FROM memory_fts JOIN memory_entries m ON m.id = memory_fts.rowid "
                f"WHERE memory_fts MATCH ? AND m.sensitive = 0 AND m.namespace NOT IN ({hidden}) "
                f"AND (m.scope = ? OR (m.session_id IN ({marks}) AND "
                "(m.memory_type != 'working' OR m.session_id = ?))) "
                "ORDER BY memory_fts.rowid DESC LIMIT ?",
                (query, *_HIDDEN_NAMESPACES, SWARM_SCOPE, *ids, session_id, limit),
            ):
                if row[0] not in seen:
                    seen.add(row[0])
                    rows.append(row)
        for eid, key, value, ns, sid, at, scope in rows:
            score, hits = _overlap(words, f"{key} {value}")
            if score >= min_score and (len(hits) >= 2 or len(words) == 1):
                shared = scope == SWARM_SCOPE
                found.append(Item("shared" if shared else "memory", f"memory:{eid}",
                                  _entry_text(key, value, ns), None if shared else sid,
                                  sessions.get(sid or "", "this session"), at,
                                  f"matches {', '.join(hits)} "
                                  f"(score {score:.2f})", score))  # fmt: skip
        for tid, title, status, sid, at in self.c.store.rows(
            f"SELECT id, title, status, session_id, updated_at FROM tasks "
            f"WHERE session_id IN ({marks}) AND sealed IS NULL ORDER BY updated_at DESC LIMIT 500",
            ids,
        ):
            score, hits = _overlap(words, title)
            if score >= min_score and (len(hits) >= 2 or len(words) == 1):
                found.append(Item("task", tid, f"[{status}] {safe_cut(title, 300)}", sid,
                                  sessions.get(sid, "this session"), at,
                                  f"matches {', '.join(hits)} (score {score:.2f})",
                                  score))  # fmt: skip
        for pid, ptype, inp, out, sid, at in self.c.store.rows(
            f"SELECT id, pattern_type, input_pattern, output_pattern, session_id, "
            f"coalesce(last_used, last_updated, created_at) FROM neural_patterns "
            f"WHERE (session_id IN ({marks}) OR session_id IS NULL) AND sealed IS NULL "
            "ORDER BY confidence DESC LIMIT 500",
            ids,
        ):
            text = f"{inp} {out or ''}"
            score, hits = _overlap(words, text)
            if score >= min_score and (len(hits) >= 2 or len(words) == 1):
                shown = f"{ptype}: {safe_cut(inp, 200)}" + (
                    f" → {safe_cut(out, 200)}" if out else ""
                )
                found.append(Item("pattern", pid, shown, sid, sessions.get(sid or "", None), at,
                                  f"matches {', '.join(hits)} (score {score:.2f})",
                                  score))  # fmt: skip
        found.sort(key=lambda i: (-i.score, -(i.at or 0)))
        heading = "Earlier notes of this project that match this prompt (recalled by claude-tui):"
        return _pack(found, budget_chars, heading, self.c.guard.text_sensitive)


@functools.lru_cache(maxsize=256)
def _prefix(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(word))


def hits_of(words: list[str], text: str) -> list[str]:
    """The keywords ``text`` contains (as word prefixes)."""
    lowered = text.lower()
    return [w for w in words if _prefix(w).search(lowered)]


def _overlap(words: list[str], text: str) -> tuple[float, list[str]]:
    """(score, hits): the share of the prompt's keywords found, out of at most four.

    A long prompt names more than any one note answers: two of its keywords in
    a note already make that note worth a look, one alone rarely does.
    """
    hits = hits_of(words, text)
    return min(1.0, len(hits) / min(len(words), 4)), hits


def _entry_text(key: str, value: str, namespace: str) -> str:
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    if isinstance(decoded, dict) and isinstance(decoded.get("text"), str):
        shown = decoded["text"]
    elif isinstance(decoded, str):
        shown = decoded
    else:
        shown = json.dumps(decoded, ensure_ascii=False, separators=(",", ":"))
    prefix = "" if namespace == "default" else f"{namespace}/"
    return f"{prefix}{key}: {safe_cut(' '.join(shown.split()), 400)}"


def _pack(
    items: list[Item], budget_chars: int, heading: str, secret: Callable[[str], bool]
) -> Injection:
    """As many items as fit the budget, in rank order, anything credential-like dropped."""
    budget = min(budget_chars, HARD_CAP_CHARS)
    chosen: list[Item] = []
    size = len(heading) + 1
    seen: set[str] = set()
    for item in items:
        if item.ref in seen:
            continue
        line = item.line()
        if size + len(line) + 1 > budget or secret(item.text):  # the cheap test first
            continue
        chosen.append(item)
        seen.add(item.ref)
        size += len(line) + 1
    if not chosen:
        return Injection()
    return Injection(chosen, "\n".join([heading, *(i.line() for i in chosen)]))
