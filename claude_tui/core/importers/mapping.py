"""From a folded session state to rows: sessions, agents, tasks, memory, patterns, metrics.

Every row the import writes has an id derived from the transcript (``cc_`` +
Claude's session uuid, then the agent, tool-use or todo it stands for), and
its times are the transcript's own. So the rows are a pure function of the
state: :func:`materialize` computes them, :func:`sync` compares them with what
is stored and writes only the difference, in the caller's transaction (the
change-log triggers fire as for any write). Importing the same lines again
therefore writes nothing at all.

Rows the import did not create (a task a person added to an imported session)
are never touched: the import only owns ids under its session's prefix,
memory in its two namespaces, and metrics named ``claude_code.*``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.events import ChangeEvent
from claude_tui.core.importers.naming import (  # re-exported for the importer's callers
    COMPACTION_NS,
    PROMPTS_NS,
    SOURCE,
    session_id_for,
)
from claude_tui.core.importers.transcript import WARMUP, iso, sha
from claude_tui.core.models import TERMINAL_TASK_STATUSES, cache_key
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import metrics as metric_door
from claude_tui.core.records import patterns as pattern_door
from claude_tui.core.records import rows as row_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records import tasks as task_door
from claude_tui.core.records.guard import Guard, Kind, Protected
from claude_tui.core.secrets import safe_cut

METRIC_PREFIX = "claude_code."
ACTIVE_WINDOW = 15 * 60.0  # a transcript written to this recently is a running session
_TODO_STATUS = {
    "pending": "pending",
    "in_progress": "in_progress",
    "completed": "completed",
    "deleted": "cancelled",
    "cancelled": "cancelled",
    "blocked": "blocked",
}
_TERMINAL = TERMINAL_TASK_STATUSES
__all__ = ["COMPACTION_NS", "PROMPTS_NS", "SOURCE", "session_id_for"]
KINDS = ("sessions", "agents", "tasks", "memory", "patterns", "metrics")


def _t(text: str) -> str:
    """Text SQLite can store: valid UTF-8 (lone surrogates replaced), no NULs."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def _j(value: Any) -> str:
    return _t(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


@dataclass
class Desired:
    """The rows one session state stands for, in table column order."""

    session: tuple[Any, ...]
    agents: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    patterns: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: dict[tuple[str | None, str], tuple[float, float]] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a sync wrote: per kind [added, updated, removed], and what to announce."""

    counts: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0, 0] for k in KINDS})
    events: list[ChangeEvent] = field(default_factory=list)
    ckeys: list[str] = field(default_factory=list)

    def add(self, kind: str, which: int, n: int = 1) -> None:
        self.counts[kind][which] += n

    @property
    def wrote(self) -> bool:
        return any(any(v) for v in self.counts.values())


def _tokens(agent: dict[str, Any]) -> list[int]:
    total = [0, 0, 0, 0]
    for usage in agent["messages"].values():
        for i in range(4):
            total[i] += usage[i]
    return total


def _token_dict(t: list[int]) -> dict[str, int]:
    return {"input": t[0], "output": t[1], "cache_read": t[2], "cache_creation": t[3]}


def link_subagents(state: dict[str, Any]) -> dict[str, str]:
    """Agent key → the id of the Task/Agent tool call that spawned it.

    By the agent id the call's result names (``toolUseResult.agentId``, the
    result text, progress records, the ``.meta.json``), else by the prompt:
    a subagent's first message is the prompt of the call.
    """
    calls: dict[str, Any] = state["task_calls"]
    by_claude_id = {c["claude_agent_id"]: tid for tid, c in calls.items() if c["claude_agent_id"]}
    links: dict[str, str] = {}
    taken: set[str] = set()
    agents = sorted(
        ((k, a) for k, a in state["agents"].items() if a["kind"] in ("sidechain", "file")),
        key=lambda ka: (ka[1]["first_ts"] or 0.0, ka[0]),
    )
    for key, agent in agents:
        claude_id = agent["claude_agent_id"]
        found = None
        if claude_id:
            found = (
                by_claude_id.get(claude_id)
                or state["progress_links"].get(claude_id)
                or agent["meta"].get("toolUseId")
            )
        if found in calls and found not in taken:
            links[key] = found
            taken.add(found)
    ordered = sorted(calls.items(), key=lambda tc: (tc[1]["ts"] or 0.0, tc[0]))
    for key, agent in agents:
        if key in links or not agent["prompt_sha"]:
            continue
        for tool_id, call in ordered:
            if tool_id not in taken and call["prompt_sha"] == agent["prompt_sha"]:
                links[key] = tool_id
                taken.add(tool_id)
                break
    return links


def _never(text: str) -> bool:
    return False


_SLUG = re.compile(r"[^A-Za-z0-9]")
_WARMUP_SHA = sha(WARMUP)


def project_slug(cwd: str) -> str:
    """The name Claude Code gives a directory's folder under ``projects``."""
    return _SLUG.sub("-", cwd)


def session_cwd(state: dict[str, Any]) -> str | None:
    """The session's project directory: the first ``cwd`` of the main transcript.

    When a transcript holds several (a session merged from two machines), the
    one the Claude Code projects folder is named after wins; without a main
    transcript, the subagents' first ``cwd``.
    """
    s = state["session"]
    folders = set(s["project_dirs"])
    for cwd in s["cwds"]:
        if project_slug(cwd) in folders:
            return str(cwd)
    return s["cwd"] or s["agent_ctx"].get("cwd")


def counted_agents(state: dict[str, Any], links: dict[str, str]) -> list[str]:
    """The agent keys that become agent rows.

    Not the compaction summariser, nor a "Warmup" sidechain no Task call
    spawned (Claude Code 2.0 ran one at every start), and no ``main`` agent
    for a session whose main transcript is missing.
    """
    keys = []
    for key, agent in state["agents"].items():
        if agent["kind"] == "compact":
            continue
        if key not in links and agent["kind"] != "main" and agent["prompt_sha"] == _WARMUP_SHA:
            continue
        keys.append(key)
    return keys


def materialize(
    state: dict[str, Any], sid: str, now: float, *, secret: Callable[[str], bool] = _never
) -> Desired:
    """The rows of a session state (``sid``: the session id, ``now``: for status only).

    ``secret`` tells text that holds a credential (the configured rules): a
    pattern made of such text is never learned.
    """
    s = state["session"]
    fallback = s.get("fallback_ts") or 0.0
    first = s["first_ts"] if s["first_ts"] is not None else fallback
    last = s["last_ts"] if s["last_ts"] is not None else first
    active = last >= now - ACTIVE_WINDOW
    agents: dict[str, Any] = state["agents"]
    links = link_subagents(state)
    agent_ids = {key: f"{sid}:{key}" for key in counted_agents(state, links)}
    spawn_of = {key: f"{sid}:task:{tid}" for key, tid in links.items()}
    spawned_by = {tid: key for key, tid in links.items()}

    totals = [0, 0, 0, 0]
    by_agent: dict[str, Any] = {}
    models: list[str] = []
    tool_calls = errors = messages = 0
    for key, agent in agents.items():
        t = _tokens(agent)
        totals = [a + b for a, b in zip(totals, t, strict=True)]
        by_agent[key] = _token_dict(t)
        tool_calls += agent["tool_calls"]
        errors += agent["errors"]
        messages += len(agent["messages"])
        models.extend(m for m in agent["models"] if m not in models)
    ctx = s["agent_ctx"]  # stands in when the main transcript is missing
    slug = s["slug"] or ctx.get("slug")
    title = (s["titles"][-1] if s["titles"] else None) or s["first_prompt"]
    if title is None and "main" not in agents:
        title = _subagent_title(state, links, agent_ids)
    title = title or slug
    subagents = [k for k in agent_ids if k != "main"]
    metadata = {
        "source": SOURCE,
        "claude_session_id": s["claude_id"],
        "cwd": session_cwd(state),
        "cwds": s["cwds"],
        "git_branch": s["git_branch"] or ctx.get("git_branch"),
        "version": s["version"] or ctx.get("version"),
        "versions": s["versions"],
        "title": title,
        "slug": slug,
        "models": models,
        "tokens": _token_dict(totals),
        "tokens_by_agent": by_agent,
        "messages": messages,
        "tool_calls": tool_calls,
        "tool_errors": errors,
        "subagents": len(subagents),
        "compactions": s["compactions"],
        "prompts": s["prompts"],
        "synthetic_messages": s["synthetic"],
        "duplicate_records": s["duplicates"],
        "hook_contexts": s["hook_contexts"],
        "cost_usd": s["cost_usd"],
        "malformed_lines": s["malformed"],
        "records": s["records"],
        "first_at": iso(s["first_ts"]),
        "last_at": iso(s["last_ts"]),
        "files": state["files"],
    }
    name = _t(safe_cut(" ".join(title.split()), 200)) if title else None
    desired = Desired(
        (sid, name, None, "active" if active else "completed", first, last, _j(metadata))
    )

    for key, agent_id in agent_ids.items():
        agent = agents.get(key) or {}
        a_first = agent.get("first_ts") if agent.get("first_ts") is not None else first
        a_last = agent.get("last_ts") if agent.get("last_ts") is not None else a_first
        context: dict[str, Any] = {
            "source": SOURCE,
            "models": agent.get("models", []),
            "tokens": by_agent.get(key, _token_dict([0, 0, 0, 0])),
            "tool_calls": agent.get("tool_calls", 0),
            "tool_errors": agent.get("errors", 0),
            "messages": len(agent.get("messages", {})),
            "cwd": agent.get("cwd"),
        }
        if key == "main":
            kind, role, status = "claude-code", "main", "active" if active else "idle"
        else:
            call = state["task_calls"].get(links.get(key, ""))
            meta = agent.get("meta", {})
            kind = (call or {}).get("subagent_type") or meta.get("agentType") or "subagent"
            role = (call or {}).get("description") or meta.get("description") or "subagent"
            if call is None:
                status = "offline"
            else:
                status = "busy" if call["status"] == "in_progress" else "terminated"
            context.update(
                claude_agent_id=agent.get("claude_agent_id"),
                spawned_by=links.get(key),
                embedded=agent.get("kind") == "sidechain",
            )
        desired.agents.append(
            (agent_id, sid, _t(kind[:100]), _t(role[:200]), status,
             _j(sorted(agent.get("tools", {}))), _j(context), a_first, a_last)
        )  # fmt: skip

    calls = sorted(state["task_calls"].items(), key=lambda tc: (tc[1]["ts"] or 0.0, tc[0]))
    for tool_id, call in calls:  # parents (earlier calls) first
        at = call["ts"] if call["ts"] is not None else first
        done = call["done_ts"] if call["status"] in _TERMINAL else None
        child = spawned_by.get(tool_id)
        payload = {
            "source": SOURCE,
            "tool_use_id": tool_id,
            "subagent_type": call["subagent_type"],
            "description": call["description"],
            "prompt": call["prompt"],
            "model": call["model"],
        }
        title = call["description"] or f"{call['subagent_type'] or 'sub'} agent"
        desired.tasks.append(
            (f"{sid}:task:{tool_id}", sid, agent_ids.get(child) if child else None,
             spawn_of.get(call["caller"]), _t(safe_cut(title, 2000)), call["status"], 0,
             _j(payload),
             None if call["result"] is None else _j(call["result"]), at,
             done if done is not None else at, done)
        )  # fmt: skip

    for key, agent in agents.items():
        if key not in agent_ids:
            continue
        parent = spawn_of.get(key)
        owner = agent_ids[key]
        listed = [c for c, e in agent["todos"].items() if not e["dropped"]]
        for content, entry in agent["todos"].items():
            priority = len(listed) - entry["order"] if not entry["dropped"] else 0
            desired.tasks.append(
                _todo_row(sid, key, owner, parent, sha(content, 12), content, entry, priority,
                          {"source": "TodoWrite", "dropped": entry["dropped"]}, first)
            )  # fmt: skip
        for ref, entry in agent["tasks"].items():
            ident = f"t{entry['number']}" if entry["number"] is not None else ref
            extra = {
                "source": "TaskCreate",
                "task_number": entry["number"],
                "description": entry["description"],
            }
            desired.tasks.append(
                _todo_row(sid, key, owner, parent, ident, entry["subject"], entry, 0, extra, first)
            )

    desired.patterns = _patterns(state, sid, first, secret)
    desired.metrics = _metrics(state, agent_ids, by_agent, first, last)
    return desired


def _subagent_title(
    state: dict[str, Any], links: dict[str, str], agent_ids: dict[str, str]
) -> str | None:
    """A name for a session known only from its subagents: the first one's task or prompt."""
    found = sorted(
        (a["first_ts"] or 0.0, key) for key, a in state["agents"].items() if key in agent_ids
    )
    for _, key in found:
        agent = state["agents"][key]
        call = state["task_calls"].get(links.get(key, ""), {})
        for text in (call.get("description"), agent["meta"].get("description"),
                     agent["prompt_head"]):  # fmt: skip
            if isinstance(text, str) and text.strip() and text.strip() != WARMUP:
                return text.strip()
    return None


def _todo_row(
    sid: str,
    key: str,
    owner: str,
    parent: str | None,
    ident: str,
    title: str,
    entry: dict[str, Any],
    priority: int,
    extra: dict[str, Any],
    fallback: float,
) -> tuple[Any, ...]:
    status = _TODO_STATUS.get(entry["status"] or "pending", "pending")
    history = [{"status": st, "at": iso(at)} for st, at in entry["history"]]
    first = entry["first_ts"] if entry["first_ts"] is not None else fallback
    last = entry["last_ts"] if entry["last_ts"] is not None else first
    payload = {**extra, "activeForm": entry["activeForm"], "history": history}
    return (
        f"{sid}:todo:{key}:{ident}", sid, owner, parent, _t(safe_cut(title, 2000)), status,
        max(0, priority), _j(payload), None, first, last, last if status in _TERMINAL else None,
    )  # fmt: skip


def _patterns(
    state: dict[str, Any], sid: str, fallback: float, secret: Callable[[str], bool]
) -> list[tuple[Any, ...]]:
    found: dict[str, dict[str, Any]] = {}
    for key, agent in state["agents"].items():
        for seq in agent["sequences"]:
            count, at = agent["seqs"][seq]
            slot = found.setdefault(
                f"tool_sequence\x1f{seq}",
                {"type": "tool_sequence", "input": seq, "output": None, "context": SOURCE,
                 "at": at, "occurrences": 0, "agents": [], "success": None},
            )  # fmt: skip
            slot["occurrences"] += count
            if key not in slot["agents"]:
                slot["agents"].append(key)
        for fix in agent["fixes"].values():
            text = f"{fix['tool']} failed: {fix['error']}\n{fix['bad']}"
            slot = found.setdefault(
                f"error_fix\x1f{text}\x1f{fix['good']}",
                {"type": "error_fix", "input": text, "output": fix["good"],
                 "context": f"{SOURCE} {fix['tool']}", "at": fix["ts"], "occurrences": 0,
                 "agents": [], "success": True},
            )  # fmt: skip
            slot["occurrences"] += 1
            if key not in slot["agents"]:
                slot["agents"].append(key)
    rows = []
    for ident, p in found.items():
        input_text, output_text = _t(p["input"]), None if p["output"] is None else _t(p["output"])
        if secret(input_text) or (output_text and secret(output_text)):
            continue  # secrets are never learned
        at = p["at"] if p["at"] is not None else fallback
        success = p["success"]
        meta = {
            "source": SOURCE,
            "occurrences": p["occurrences"],
            "agents": sorted(p["agents"]),
            "features": {"pattern_type": p["type"], "context": p["context"],
                         "outcome": "success" if success else None,
                         "input_chars": len(input_text)},
        }  # fmt: skip
        rows.append(
            (f"{sid}:p:{sha(ident)}", sid, p["type"], p["context"], input_text, output_text,
             0.6 if success else 0.5, 0, 1.0 if success else None, 1 if success else 0, at,
             None, at, _j(meta))
        )  # fmt: skip
    return rows


def _metrics(
    state: dict[str, Any],
    agent_ids: dict[str, str],
    by_agent: dict[str, Any],
    first: float,
    last: float,
) -> dict[tuple[str | None, str], tuple[float, float]]:
    out: dict[tuple[str | None, str], tuple[float, float]] = {}

    def put(agent_id: str | None, values: dict[str, float], at: float) -> None:
        for name, value in values.items():
            out[(agent_id, METRIC_PREFIX + name)] = (float(value), at)

    session_tokens = {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
    calls = errors = 0
    for key, agent in state["agents"].items():
        tokens = by_agent[key]
        for k in session_tokens:
            session_tokens[k] += tokens[k]
        calls += agent["tool_calls"]
        errors += agent["errors"]
        if key not in agent_ids:
            continue
        a_first = agent["first_ts"] if agent["first_ts"] is not None else first
        a_last = agent["last_ts"] if agent["last_ts"] is not None else a_first
        put(
            agent_ids[key],
            {**{f"tokens.{k}": v for k, v in tokens.items()}, "tool_calls": agent["tool_calls"],
             "tool_errors": agent["errors"], "duration_seconds": a_last - a_first},
            a_last,
        )  # fmt: skip
    put(
        None,
        {**{f"tokens.{k}": v for k, v in session_tokens.items()}, "tool_calls": calls,
         "tool_errors": errors, "duration_seconds": last - first},
        last,
    )  # fmt: skip
    return out


# -- writing ------------------------------------------------------------------


@dataclass
class ProtectedRows:
    """``Desired`` with every row also in the form the doors store (protected)."""

    desired: Desired
    session: Protected
    agents: list[Protected]
    tasks: list[Protected]
    patterns: list[Protected]


def keep_other_metadata(desired: Desired, stored: dict[str, Any]) -> Desired:
    """``desired`` with the session's metadata keys the import does not own kept.

    The hooks record what a transcript does not say (the project, the
    transcript's path): an import of the same session must not drop them.
    """
    ours = json.loads(desired.session[6])
    kept = {k: v for k, v in stored.items() if k not in ours}
    if not kept:
        return desired
    session = (*desired.session[:6], _j({**kept, **ours}), *desired.session[7:])
    return Desired(session, desired.agents, desired.tasks, desired.patterns, desired.metrics)


def protect_desired(desired: Desired, guard: Guard) -> ProtectedRows:
    """Protect every row of ``desired`` (before the write transaction: sealing may write)."""

    def each(kind: Kind, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Protected]:
        return [guard.protect(kind, dict(zip(columns, r, strict=True))) for r in rows]

    return ProtectedRows(
        desired,
        each(session_door.KIND, session_door.COLUMNS, [desired.session])[0],
        each(agent_door.KIND, agent_door.COLUMNS, desired.agents),
        each(task_door.KIND, task_door.COLUMNS, desired.tasks),
        each(pattern_door.KIND, pattern_door.COLUMNS, desired.patterns),
    )


def _same(guard: Guard, old: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a stored row (read whole, ``sealed`` included) holds what ``wanted`` says."""
    token = old.get("sealed")
    shown = guard.reveal(old, token) if token else old
    return all(shown.get(c) == v for c, v in wanted.items() if c != "sealed")


def _upsert_rows(
    conn: sqlite3.Connection,
    guard: Guard,
    put: Callable[[sqlite3.Connection, Protected], None],
    columns: tuple[str, ...],
    sid: str,
    rows: list[Protected],
    out: Outcome,
    kind: str,
    *,
    keep: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str]]:
    """Put new and changed rows through their door, delete the import's rows no longer wanted.

    ``keep``: columns whose stored value wins once a row exists (a pattern's
    usage, which searches update). Returns (inserted ids, removed ids).
    """
    table = _TABLE_OF[kind]
    existing = row_door.owned(conn, table, sid)
    inserted: list[str] = []
    for row in rows:
        row_id = row.values["id"]
        old = existing.pop(row_id, None)
        if old is None:
            put(conn, row)
            inserted.append(row_id)
            out.add(kind, 0)
            out.events.append(ChangeEvent(None, table, "insert", row_id, sid))
            continue
        wanted = guard.reveal(row.values, row.values.get("sealed"))
        if keep:
            wanted = {c: (old[c] if c in keep else v) for c, v in wanted.items()}
            kept = {c: (old[c] if c in keep else v) for c, v in row.values.items()}
            row = Protected(row.kind, kept)
        if not _same(guard, old, {c: wanted[c] for c in columns}):
            put(conn, row)
            out.add(kind, 1)
            out.events.append(ChangeEvent(None, table, "update", row_id, sid))
    removed = list(existing)
    row_door.delete(conn, table, removed)
    for row_id in removed:
        out.add(kind, 2)
        out.events.append(ChangeEvent(None, table, "delete", row_id, sid))
    return inserted, removed


_TABLE_OF = {"agents": "agents", "tasks": "tasks", "patterns": "neural_patterns"}


@dataclass
class MemoryRow:
    """A prompt or compaction summary to keep in the session's memory."""

    namespace: str
    key: str
    value: dict[str, Any]
    at: float | None
    raw: str = ""
    sealed: memory_door.Sealed | None = None


def prepare_memory(rows: list[MemoryRow], guard: Guard, max_value_bytes: int) -> None:
    """Encode each value (cut to the size limit) and seal the secrets among them.

    Done before the write transaction: the first seal of a data dir writes the
    key check in a transaction of its own.
    """
    for mem in rows:
        raw = _j(mem.value)
        while len(raw.encode("utf-8")) > max_value_bytes and len(mem.value.get("text", "")) > 1:
            mem.value = {**mem.value, "text": mem.value["text"][: len(mem.value["text"]) // 2]}
            mem.value["truncated"] = True
            raw = _j(mem.value)
        mem.raw = raw
        mem.sealed = memory_door.prepare(guard, mem.key, mem.namespace, raw)


def sync(
    conn: sqlite3.Connection,
    protected: ProtectedRows,
    memory: list[MemoryRow],
    *,
    reset: bool,
    guard: Guard,
    node_id: str,
    now: float,
) -> Outcome:
    """Write the difference between the wanted rows (+ ``memory``, prepared) and the stored ones.

    ``reset``: the session is being imported from scratch, so the import's
    memory entries not in ``memory`` are removed (otherwise memory only grows).
    """
    out = Outcome()
    desired = protected.desired
    sid = desired.session[0]
    old = row_door.read(conn, "sessions", sid)
    row = protected.session
    if old is None:
        session_door.put(conn, row)
        out.add("sessions", 0)
        out.events.append(ChangeEvent(None, "sessions", "insert", sid, sid))
    else:
        if old["status"] in ("paused", "archived"):
            # A person's choice outlives the import.
            row = Protected(row.kind, {**row.values, "status": old["status"]})
        wanted = guard.reveal(row.values, row.values.get("sealed"))
        if not _same(guard, old, {c: wanted[c] for c in session_door.COLUMNS}):
            session_door.put(conn, row)
            out.add("sessions", 1)
            out.events.append(ChangeEvent(None, "sessions", "update", sid, sid))
    _upsert_rows(
        conn, guard, agent_door.put, agent_door.COLUMNS, sid, protected.agents, out, "agents"
    )
    _upsert_rows(conn, guard, task_door.put, task_door.COLUMNS, sid, protected.tasks, out, "tasks")
    inserted, removed = _upsert_rows(
        conn, guard, pattern_door.put, pattern_door.COLUMNS, sid, protected.patterns, out,
        "patterns",
        keep=frozenset({"confidence", "usage_count", "success_rate", "outcomes", "last_used"}),
    )  # fmt: skip
    queue = [(i, "upsert", now) for i in inserted] + [(i, "delete", now) for i in removed]
    if queue:  # the vector index picks these up on its next sync (embedding is lazy)
        conn.executemany(
            "INSERT OR REPLACE INTO pattern_index_queue (pattern_id, op, queued_at) "
            "VALUES (?, ?, ?)",
            queue,
        )
    _sync_metrics(conn, guard, sid, desired.metrics, out)
    _sync_memory(conn, guard, sid, memory, out, reset, node_id, now)
    return out


def _sync_metrics(
    conn: sqlite3.Connection,
    guard: Guard,
    sid: str,
    wanted: dict[tuple[str | None, str], tuple[float, float]],
    out: Outcome,
) -> None:
    existing: dict[tuple[str | None, str], tuple[int, float, float]] = {}
    for mid, agent_id, kind, value, stamp in conn.execute(
        "SELECT id, agent_id, metric_type, value, timestamp FROM metrics "
        "WHERE session_id = ? AND substr(metric_type, 1, ?) = ?",
        (sid, len(METRIC_PREFIX), METRIC_PREFIX),
    ):
        existing[(agent_id, kind)] = (mid, value, stamp)
    meta = _j({"source": SOURCE})
    for (agent_id, kind), (value, stamp) in wanted.items():
        old = existing.pop((agent_id, kind), None)
        if old is None:
            # No secret can be in these columns (counters): protecting cannot seal.
            row = metric_door.protect(
                guard,
                {"session_id": sid, "agent_id": agent_id, "metric_type": kind, "value": value,
                 "timestamp": stamp, "metadata": meta},
            )  # fmt: skip
            metric_id = metric_door.insert(conn, row)
            out.add("metrics", 0)
            out.events.append(ChangeEvent(None, "metrics", "insert", str(metric_id), sid))
        elif (old[1], old[2]) != (value, stamp):
            metric_door.set_value(conn, old[0], value, stamp)
            out.add("metrics", 1)
    gone = [mid for mid, _, _ in existing.values()]
    if gone:
        metric_door.delete(conn, gone)
        out.add("metrics", 2, len(gone))


def _sync_memory(
    conn: sqlite3.Connection,
    guard: Guard,
    sid: str,
    rows: list[MemoryRow],
    out: Outcome,
    reset: bool,
    node_id: str,
    now: float,
) -> None:
    scope = memory_door.import_scope(sid)
    spaces = (PROMPTS_NS, COMPACTION_NS)
    existing = {
        (r[1], r[2]): r
        for r in conn.execute(
            "SELECT id, namespace, key, value, encrypted, version FROM memory_entries "
            "WHERE scope = ? AND namespace IN (?, ?)",
            (scope, *spaces),
        )
    }
    wanted: set[tuple[str, str]] = set()
    for mem in rows:
        ident = (mem.namespace, mem.key)
        if ident in wanted or mem.sealed is None:
            continue
        wanted.add(ident)
        old = existing.get(ident)
        if old is not None:
            try:
                current = guard.sealer.open(old[3], bool(old[4]))
            except Exception:  # a sealed value without its key: leave it as it is
                continue
            if current == mem.raw:
                continue
        row_id = memory_door.put_imported(
            conn, mem.sealed, existing_id=None if old is None else old[0],
            existing_version=None if old is None else old[5], session_id=sid,
            namespace=mem.namespace, key=mem.key, at=mem.at if mem.at is not None else now,
            now=now, origin=node_id,
        )  # fmt: skip
        out.add("memory", 0 if old is None else 1)
        ckey = cache_key(scope, mem.namespace, mem.key)
        out.ckeys.append(ckey)
        out.events.append(ChangeEvent(None, "memory_entries", "upsert", str(row_id), sid, ckey))
    if reset:
        gone = [old for ident, old in existing.items() if ident not in wanted]
        memory_door.delete_ids(conn, [old[0] for old in gone])
        for old in gone:
            out.add("memory", 2)
            ckey = cache_key(scope, old[1], old[2])
            out.ckeys.append(ckey)
            out.events.append(ChangeEvent(None, "memory_entries", "delete", str(old[0]), sid, ckey))
