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
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.events import ChangeEvent
from claude_tui.core.ids import next_version
from claude_tui.core.importers.transcript import iso, sha
from claude_tui.core.models import cache_key, private_scope
from claude_tui.core.secrets import DEFAULT_RULES, Sealer, SecretRules, is_sensitive

SOURCE = "claude-code"
PROMPTS_NS = "claude-code/prompts"
COMPACTION_NS = "claude-code/compaction"
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
_TERMINAL = ("completed", "failed", "cancelled")
KINDS = ("sessions", "agents", "tasks", "memory", "patterns", "metrics")


def session_id_for(claude_session_id: str) -> str:
    """The id of the session imported from a Claude Code session."""
    return f"cc_{claude_session_id}"


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


def materialize(state: dict[str, Any], sid: str, now: float) -> Desired:
    """The rows of a session state (``sid``: the session id, ``now``: for status only)."""
    s = state["session"]
    fallback = s.get("fallback_ts") or 0.0
    first = s["first_ts"] if s["first_ts"] is not None else fallback
    last = s["last_ts"] if s["last_ts"] is not None else first
    active = last >= now - ACTIVE_WINDOW
    agents: dict[str, Any] = state["agents"]
    links = link_subagents(state)
    agent_ids = {
        key: f"{sid}:{key}" for key, a in agents.items() if a["kind"] != "compact"
    }  # the compaction summariser is not an agent anyone spawned
    agent_ids.setdefault("main", f"{sid}:main")
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
    title = (s["titles"][-1] if s["titles"] else None) or s["first_prompt"] or s["slug"]
    subagents = [k for k in agent_ids if k != "main"]
    metadata = {
        "source": SOURCE,
        "claude_session_id": s["claude_id"],
        "cwd": s["cwd"],
        "git_branch": s["git_branch"],
        "version": s["version"],
        "versions": s["versions"],
        "title": title,
        "slug": s["slug"],
        "models": models,
        "tokens": _token_dict(totals),
        "tokens_by_agent": by_agent,
        "messages": messages,
        "tool_calls": tool_calls,
        "tool_errors": errors,
        "subagents": len(subagents),
        "compactions": s["compactions"],
        "prompts": s["prompts"],
        "malformed_lines": s["malformed"],
        "records": s["records"],
        "first_at": iso(s["first_ts"]),
        "last_at": iso(s["last_ts"]),
        "files": state["files"],
    }
    name = _t(" ".join(title.split())[:200]) if title else None
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
             spawn_of.get(call["caller"]), _t(title[:2000]), call["status"], 0, _j(payload),
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

    desired.patterns = _patterns(state, sid, first)
    desired.metrics = _metrics(state, agent_ids, by_agent, first, last)
    return desired


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
        f"{sid}:todo:{key}:{ident}", sid, owner, parent, _t(title[:2000]), status,
        max(0, priority), _j(payload), None, first, last, last if status in _TERMINAL else None,
    )  # fmt: skip


def _patterns(state: dict[str, Any], sid: str, fallback: float) -> list[tuple[Any, ...]]:
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
        if is_sensitive("", "", input_text) or (output_text and is_sensitive("", "", output_text)):
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

_SESSION_COLS = "id, name, user_id, status, created_at, updated_at, metadata"
_AGENT_COLS = (
    "id, session_id, agent_type, role, status, capabilities, memory_context, created_at, updated_at"
)
_TASK_COLS = (
    "id, session_id, agent_id, parent_task_id, title, status, priority, payload, result, "
    "created_at, updated_at, completed_at"
)
_PATTERN_COLS = (
    "id, session_id, pattern_type, context, input_pattern, output_pattern, confidence, "
    "usage_count, success_rate, outcomes, created_at, last_used, last_updated, metadata"
)


def _upsert_rows(
    conn: sqlite3.Connection,
    table: str,
    cols: str,
    sid: str,
    rows: list[tuple[Any, ...]],
    out: Outcome,
    kind: str,
    *,
    keep: frozenset[int] = frozenset(),
) -> tuple[list[str], list[str]]:
    """Insert new rows, update changed ones, delete the import's rows no longer wanted.

    ``keep``: column positions whose stored value wins once a row exists (a
    pattern's usage, which searches update). Returns (inserted ids, removed ids).
    """
    prefix = f"{sid}:"
    names = [c.strip() for c in cols.split(",")]
    existing = {
        r[0]: r
        for r in conn.execute(
            f"SELECT {cols} FROM {table} WHERE session_id = ? AND substr(id, 1, ?) = ?",
            (sid, len(prefix), prefix),
        )
    }
    marks = ",".join("?" * len(names))
    sets = ", ".join(f"{n} = ?" for n in names[1:])
    inserted: list[str] = []
    for row in rows:
        old = existing.pop(row[0], None)
        if old is None:
            conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", row)
            inserted.append(row[0])
            out.add(kind, 0)
            out.events.append(ChangeEvent(None, table, "insert", row[0], sid))
            continue
        if keep:
            row = tuple(old[i] if i in keep else v for i, v in enumerate(row))
        if tuple(old) != row:
            conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*row[1:], row[0]))
            out.add(kind, 1)
            out.events.append(ChangeEvent(None, table, "update", row[0], sid))
    removed = list(existing)
    for row_id in removed:
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        out.add(kind, 2)
        out.events.append(ChangeEvent(None, table, "delete", row_id, sid))
    return inserted, removed


@dataclass
class MemoryRow:
    """A prompt or compaction summary to keep in the session's memory."""

    namespace: str
    key: str
    value: dict[str, Any]
    at: float | None
    raw: str = ""
    sensitive: bool = False
    stored: str = ""
    encrypted: bool = False


def prepare_memory(
    rows: list[MemoryRow],
    sealer: Sealer,
    max_value_bytes: int,
    rules: SecretRules = DEFAULT_RULES,
) -> None:
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
        mem.sensitive = is_sensitive(mem.key, mem.namespace, raw, rules)
        mem.stored, mem.encrypted = sealer.seal(raw) if mem.sensitive else (raw, False)


def sync(
    conn: sqlite3.Connection,
    desired: Desired,
    memory: list[MemoryRow],
    *,
    reset: bool,
    sealer: Sealer,
    node_id: str,
    now: float,
) -> Outcome:
    """Write the difference between ``desired`` (+ ``memory``, prepared) and the stored rows.

    ``reset``: the session is being imported from scratch, so the import's
    memory entries not in ``memory`` are removed (otherwise memory only grows).
    """
    out = Outcome()
    sid = desired.session[0]
    old = conn.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (sid,)).fetchone()
    row = desired.session
    if old is None:
        conn.execute(f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (?,?,?,?,?,?,?)", row)
        out.add("sessions", 0)
        out.events.append(ChangeEvent(None, "sessions", "insert", sid, sid))
    else:
        if old[3] in ("paused", "archived"):
            row = (*row[:3], old[3], *row[4:])  # a person's choice outlives the import
        if tuple(old) != row:
            conn.execute(
                "UPDATE sessions SET name = ?, user_id = ?, status = ?, created_at = ?, "
                "updated_at = ?, metadata = ? WHERE id = ?",
                (*row[1:], sid),
            )
            out.add("sessions", 1)
            out.events.append(ChangeEvent(None, "sessions", "update", sid, sid))
    _upsert_rows(conn, "agents", _AGENT_COLS, sid, desired.agents, out, "agents")
    # Children first when deleting, parents first when inserting (foreign keys).
    _upsert_rows(conn, "tasks", _TASK_COLS, sid, desired.tasks, out, "tasks")
    inserted, removed = _upsert_rows(
        conn, "neural_patterns", _PATTERN_COLS, sid, desired.patterns, out, "patterns",
        keep=frozenset({6, 7, 8, 9, 11}),
    )  # fmt: skip
    queue = [(i, "upsert", now) for i in inserted] + [(i, "delete", now) for i in removed]
    if queue:  # the vector index picks these up on its next sync (embedding is lazy)
        conn.executemany(
            "INSERT OR REPLACE INTO pattern_index_queue (pattern_id, op, queued_at) "
            "VALUES (?, ?, ?)",
            queue,
        )
    _sync_metrics(conn, sid, desired.metrics, out)
    _sync_memory(conn, sid, memory, out, reset, sealer, node_id, now)
    return out


def _sync_metrics(
    conn: sqlite3.Connection,
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
            cur = conn.execute(
                "INSERT INTO metrics (session_id, agent_id, metric_type, value, timestamp, "
                "metadata) VALUES (?, ?, ?, ?, ?, ?)",
                (sid, agent_id, kind, value, stamp, meta),
            )
            out.add("metrics", 0)
            out.events.append(ChangeEvent(None, "metrics", "insert", str(cur.lastrowid), sid))
        elif (old[1], old[2]) != (value, stamp):
            conn.execute(
                "UPDATE metrics SET value = ?, timestamp = ? WHERE id = ?", (value, stamp, old[0])
            )
            out.add("metrics", 1)
    for mid, _, _ in existing.values():
        conn.execute("DELETE FROM metrics WHERE id = ?", (mid,))
        out.add("metrics", 2)


def _sync_memory(
    conn: sqlite3.Connection,
    sid: str,
    rows: list[MemoryRow],
    out: Outcome,
    reset: bool,
    sealer: Sealer,
    node_id: str,
    now: float,
) -> None:
    scope = private_scope(sid, None)
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
        if ident in wanted:
            continue
        wanted.add(ident)
        raw = mem.raw
        old = existing.get(ident)
        if old is not None:
            try:
                current = sealer.open(old[3], bool(old[4]))
            except Exception:  # a sealed value without its key: leave it as it is
                continue
            if current == raw:
                continue
        sensitive, stored, encrypted = mem.sensitive, mem.stored, mem.encrypted
        at = mem.at if mem.at is not None else now
        version = next_version(now, old[5] if old is not None else None)
        if old is None:
            cur = conn.execute(
                "INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl, "
                "created_at, accessed_at, namespace, scope, updated_at, version, origin, "
                "sensitive, encrypted) VALUES (?, NULL, 'persistent', ?, ?, NULL, ?, NULL, ?, ?, "
                "?, ?, ?, ?, ?)",
                (sid, mem.key, stored, at, mem.namespace, scope, at, version, node_id,
                 int(sensitive), int(encrypted)),
            )  # fmt: skip
            out.add("memory", 0)
            row_id = cur.lastrowid
        else:
            conn.execute(
                "UPDATE memory_entries SET value = ?, updated_at = ?, version = ?, origin = ?, "
                "sensitive = ?, encrypted = ? WHERE id = ?",
                (stored, at, version, node_id, int(sensitive), int(encrypted), old[0]),
            )
            out.add("memory", 1)
            row_id = old[0]
        ckey = cache_key(scope, mem.namespace, mem.key)
        out.ckeys.append(ckey)
        out.events.append(ChangeEvent(None, "memory_entries", "upsert", str(row_id), sid, ckey))
    if reset:
        for ident, old in existing.items():
            if ident not in wanted:
                conn.execute("DELETE FROM memory_entries WHERE id = ?", (old[0],))
                out.add("memory", 2)
                ckey = cache_key(scope, *ident)
                out.ckeys.append(ckey)
                out.events.append(
                    ChangeEvent(None, "memory_entries", "delete", str(old[0]), sid, ckey)
                )
