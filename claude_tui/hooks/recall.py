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
import logging
import re
import threading
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
        exact = ['"' + w.replace('"', "") + '"' for w in words]
        prefixed = [t + "*" for t in exact]
        found: list[Item] = []
        # Candidates newest first, straight from the index (FTS5 walks rowids in
        # order, so no match set is ever ranked whole): every keyword first, then
        # any; the overlap score below decides what is relevant enough. Whole
        # words before prefixes: a prefix query builds its whole match list in
        # memory (5 ms for a common word at 100k entries), a word query stops at
        # the limit.
        rows: list[tuple[Any, ...]] = []
        seen: set[int] = set()
        for query, limit in (
            (" AND ".join(exact), 100),
            (" OR ".join(exact), 300),
            (" AND ".join(prefixed), 100),
            (" OR ".join(prefixed), 300),
        ):
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


@functools.lru_cache(maxsize=64)
def _matcher(words: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    # One pass over a text for all the keywords (not one search per keyword: a
    # prompt's recall scores some thousand candidate texts). Longest first, so a
    # keyword that is a prefix of another does not hide it; a match of the
    # longer one also holds the shorter ones it starts with.
    ordered = sorted(set(words), key=len, reverse=True)
    pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, ordered)) + ")")
    implied = {w: tuple(v for v in ordered if v != w and w.startswith(v)) for w in ordered}
    return pattern, {w: v for w, v in implied.items() if v}


def hits_of(words: list[str], text: str) -> list[str]:
    """The keywords ``text`` contains (as word prefixes), in the keywords' order."""
    if not words:
        return []
    pattern, implied = _matcher(tuple(words))
    found = set(pattern.findall(text.lower()))
    for word in [w for w in found if w in implied]:
        found.update(implied[word])
    return [w for w in words if w in found]


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


# -- recall through the search service ----------------------------------------------------

RECALL_MIN_SIMILARITY = 0.5  # cosine similarity that makes a note relevant without shared words
_WARM_LOCK = threading.Lock()
_WARMING: dict[int, threading.Thread] = {}


class HybridRecall(TextRecall):
    """Recall through the search service: words (BM25, stemmed) and meaning, fused.

    The same visibility as :class:`TextRecall` (applied inside each search),
    the same budget and provenance. The meaning half runs only where the model
    and the index are loaded already (the warm hook worker, see
    :func:`warm_recall`): a one-shot hook process answers by words alone and
    its injection's ``mode`` says ``text``. Notes are kept when they share
    enough of the prompt's keywords (as :class:`TextRecall` asks) or are close
    enough in meaning; the fused rank orders them.
    """

    def __init__(self, coordinator: MemoryCoordinator, *, dense: bool | None = None) -> None:
        super().__init__(coordinator)
        self.dense = coordinator.search.meaning_loaded() if dense is None else dense

    def session_start(self, session_id: str, project: str, budget_chars: int) -> Injection:
        from claude_tui.core.search.warm import warm_session

        if self.dense:  # a long-lived process (the worker) serves the session's next hooks
            warm_session(self.c, session_id)
        injection = super().session_start(session_id, project, budget_chars)
        injection.mode = "text"  # nothing to rank by meaning without a prompt
        return injection

    def for_prompt(
        self, session_id: str, project: str, prompt: str, budget_chars: int, min_score: float
    ) -> Injection:
        from claude_tui.core.errors import BadInput
        from claude_tui.core.search.service import Filters
        from claude_tui.core.search.text import MAX_QUERY_CHARS

        words = keywords(prompt)
        query = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in prompt)
        query = safe_cut(query, MAX_QUERY_CHARS - 1)
        if not words or not query.strip():
            return Injection()
        sessions = self.project_sessions(session_id, project)
        filters = Filters(
            session_id=session_id, project_sessions=tuple(sessions),
            exclude_namespaces=_HIDDEN_NAMESPACES, plain_only=True,
            pattern_sessions=(*sessions, session_id),
        )  # fmt: skip
        mode = "hybrid" if self.dense else "text"
        search = self.c.search
        found: list[Item] = []
        try:
            memory = search.memory(query, mode=mode, limit=20, filters=filters)
            patterns = search.patterns(query, mode=mode, limit=10, filters=filters)
        except BadInput:
            return Injection()
        used_meaning = "meaning" in memory.used
        for hit in memory.hits:
            e = hit.entry
            if not self._relevant(words, f"{e.key} {e.raw}", hit.detail, min_score):
                continue
            shared = e.scope == SWARM_SCOPE
            found.append(Item("shared" if shared else "memory", f"memory:{e.id}",
                              _entry_text(e.key, e.raw, e.namespace),
                              None if shared else e.session_id,
                              sessions.get(e.session_id or "", "this session"), e.updated_at,
                              self._why(words, f"{e.key} {e.raw}", hit), hit.score))  # fmt: skip
        for hit in patterns.hits:
            p = hit.pattern
            text = f"{p.input_pattern} {p.output_pattern or ''}"
            if not self._relevant(words, text, hit.detail, min_score):
                continue
            shown = f"{p.pattern_type}: {safe_cut(p.input_pattern, 200)}" + (
                f" → {safe_cut(p.output_pattern, 200)}" if p.output_pattern else ""
            )
            found.append(Item("pattern", p.id, shown, p.session_id,
                              sessions.get(p.session_id or "", None),
                              p.last_used or p.last_updated or p.created_at,
                              self._why(words, text, hit), hit.score))  # fmt: skip
        found += self._tasks(words, [*sessions, session_id], sessions, min_score)
        found.sort(key=lambda i: (-i.score, -(i.at or 0)))
        heading = "Earlier notes of this project that match this prompt (recalled by claude-tui):"
        injection = _pack(found, budget_chars, heading, self.c.guard.text_sensitive)
        injection.mode = "hybrid" if used_meaning else "text"
        return injection

    @staticmethod
    def _relevant(words: list[str], text: str, detail: dict[str, float], min_score: float) -> bool:
        if detail.get("similarity", 0.0) >= RECALL_MIN_SIMILARITY:
            return True
        score, hits = _overlap(words, text)
        return score >= min_score and (len(hits) >= 2 or len(words) == 1)

    @staticmethod
    def _why(words: list[str], text: str, hit: Any) -> str:
        hits = hits_of(words, text)
        parts = []
        if hits:
            parts.append(f"matches {', '.join(hits)}")
        if "similarity" in hit.detail:
            parts.append(f"close in meaning ({hit.detail['similarity']:.2f})")
        return f"{'; '.join(parts) or hit.how} (score {hit.score:.2f})"

    def _tasks(
        self, words: list[str], ids: list[str], sessions: dict[str, str | None], min_score: float
    ) -> list[Item]:
        """Task titles by BM25 over the stemmed task index (never a scan of the tasks)."""
        from claude_tui.core.search.text import match_expression

        marks = ",".join("?" * len(ids))
        items: list[Item] = []
        for tid, title, status, sid, at, _rank in self.c.store.rows(
            "SELECT t.id, t.title, t.status, t.session_id, t.updated_at, bm25(task_fts) AS r "
            "FROM task_fts JOIN tasks t ON t.id = task_fts.ref "
            f"WHERE task_fts MATCH ? AND t.session_id IN ({marks}) AND t.sealed IS NULL "
            "ORDER BY r LIMIT 20",
            (match_expression(words), *ids),
        ):
            score, hits = _overlap(words, title)
            if score >= min_score and (len(hits) >= 2 or len(words) == 1):
                items.append(Item("task", tid, f"[{status}] {safe_cut(title, 300)}", sid,
                                  sessions.get(sid, "this session"), at,
                                  f"matches {', '.join(hits)} (score {score:.2f})",
                                  score))  # fmt: skip
        return items


def make_recall(coordinator: MemoryCoordinator) -> Recall:
    """The hooks' recall engine: hybrid search (words, and meaning where it is loaded)."""
    return HybridRecall(coordinator)


def warm_recall(coordinator: MemoryCoordinator, *, index: bool = True) -> threading.Thread:
    """Load the model and the vector collections in a background thread; return at once.

    For a long-lived process that answers hooks (the hook worker): once loaded,
    its recall ranks by meaning too. With ``index`` the thread also starts the
    background indexer, so what the hooks store gets embedded while it lives.
    Failures (no model, Chroma down) leave recall on words, as before.
    """
    with _WARM_LOCK:
        running = _WARMING.get(id(coordinator))
        if running is not None:
            return running

        def load() -> None:
            try:
                coordinator.search.warm_up()
                if index:
                    coordinator.search.start_indexer()
            except Exception:  # recall by words still works; the reason is in the log
                logging.getLogger(__name__).info("recall stays on words", exc_info=True)

        thread = threading.Thread(target=load, name="claude-tui-warm-recall", daemon=True)
        _WARMING[id(coordinator)] = thread
        thread.start()
        return thread
