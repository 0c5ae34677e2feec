"""Imported rows and the transcript lines they came from, both ways.

What the importer keeps of a row's origin:

- prompts and compaction summaries (memory, ``claude-code/prompts`` and
  ``claude-code/compaction``): the record's ``uuid`` in the value, its time in
  the key;
- a subagent's task: the Task call's ``tool_use_id`` (in its id and payload);
- a todo or TaskCreate task: the time of the call that first listed it
  (``payload.history``, else the task's ``created_at``);
- a pattern: the time of the record that completed it (``created_at``).

So a row leads to a record by uuid, by call id, or by time, and a record
leads back to the rows by the same keys.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.importers.naming import COMPACTION_NS, PROMPTS_NS, SOURCE
from claude_tui.core.models import MemoryEntry, Pattern, Task
from claude_tui.core.transcripts.conversation import Conversation, Location
from claude_tui.core.transcripts.structure import stamp_ms
from claude_tui.core.transcripts.turns import Facts

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

_TODO_TOOLS = ("TodoWrite", "TaskCreate", "TaskUpdate")


@dataclass(frozen=True)
class Origin:
    """Where in a session's transcript a row came from."""

    session_id: str
    what: str  # how to say it: "prompt", "task", "pattern" ...
    uuid: str | None = None
    tool_use_id: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class Extracted:
    """A row the import made from one record."""

    kind: str  # memory | task | pattern
    id: str
    label: str


def origin_of_memory(entry: MemoryEntry) -> Origin | None:
    """The record a prompt or compaction summary came from (None: not from a transcript)."""
    if entry.namespace not in (PROMPTS_NS, COMPACTION_NS) or entry.session_id is None:
        return None
    value = entry.value if isinstance(entry.value, dict) else {}
    uuid = value.get("uuid") if isinstance(value.get("uuid"), str) else None
    at = stamp_ms(value.get("at"))
    what = "prompt" if entry.namespace == PROMPTS_NS else "compaction summary"
    return Origin(entry.session_id, what, uuid, at=None if at is None else at / 1000)


def origin_of_task(task: Task) -> Origin | None:
    """The call a task came from (None: a task the import did not make)."""
    # The import's task ids are "<session>:task:<call id>" or "<session>:todo:...".
    if not task.id.startswith(f"{task.session_id}:") or not task.session_id.startswith("cc_"):
        return None
    payload = task.payload if isinstance(task.payload, dict) else {}
    if ":task:" in task.id:
        return Origin(task.session_id, "Task call", tool_use_id=task.id.split(":task:", 1)[1])
    history = payload.get("history")
    first = history[0] if isinstance(history, list) and history else None
    at = stamp_ms(first.get("at")) if isinstance(first, dict) else None
    return Origin(task.session_id, "todo", at=task.created_at if at is None else at / 1000)


def origin_of_pattern(pattern: Pattern) -> Origin | None:
    """The record that completed a pattern the import learned (None: learned elsewhere)."""
    if pattern.session_id is None or pattern.metadata.get("source") != SOURCE:
        return None
    return Origin(pattern.session_id, "pattern", at=pattern.created_at)


def find_origin(conversation: Conversation, origin: Origin) -> Location | None:
    """Where ``origin`` is in the conversation (None: not found in these files)."""
    if origin.uuid:
        found = conversation.find_uuid(origin.uuid)
        if found is not None:
            return found
    if origin.tool_use_id:
        found = conversation.find_tool_use(origin.tool_use_id)
        if found is not None:
            return found
    if origin.at is not None:
        return conversation.find_time(origin.at)
    return None


def _iso(ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return stamp.isoformat(timespec="milliseconds")


def extracted_from(
    coordinator: MemoryCoordinator, session_id: str, facts: Facts
) -> list[Extracted]:
    """The rows the import made from the record ``facts`` describes (reads: call off the UI)."""
    out: list[Extracted] = []
    ms = stamp_ms(facts.timestamp)
    if facts.uuid and ms is not None:
        # The import keys these entries "<ISO time> <uuid[:8]>" (the record's own).
        prefix = f"{_iso(ms)} {facts.uuid[:8]}"
        for namespace in (PROMPTS_NS, COMPACTION_NS):
            try:
                entries = coordinator.memory.list(
                    session_id=session_id, namespace=namespace, key_prefix=prefix, limit=20
                )
            except ClaudeTUIError:
                entries = []
            for entry in entries:
                value = entry.value if isinstance(entry.value, dict) else {}
                if value.get("uuid") == facts.uuid:
                    out.append(Extracted("memory", str(entry.id), f"{namespace} · {entry.key}"))
    call_ids = {tid for tid, _ in facts.tool_uses}
    todo_call = any(name in _TODO_TOOLS for _, name in facts.tool_uses)
    if call_ids or facts.tool_results:
        try:
            tasks = coordinator.tasks.list(session_id)
        except ClaudeTUIError:
            tasks = []
        wanted = call_ids | set(facts.tool_results)
        stamp = _iso(ms) if ms is not None else None
        for task in tasks:
            origin = origin_of_task(task)
            if origin is None:
                continue
            if origin.tool_use_id and origin.tool_use_id in wanted:
                out.append(Extracted("task", task.id, f"task · {task.title}"))
            elif todo_call and stamp is not None and _listed_at(task, stamp):
                out.append(Extracted("task", task.id, f"todo · {task.title}"))
    if ms is not None:
        rows = coordinator.store.rows(
            "SELECT id FROM neural_patterns WHERE session_id = ? AND created_at BETWEEN ? AND ? "
            "ORDER BY id",
            (session_id, ms / 1000 - 0.0005, ms / 1000 + 0.0005),
        )
        for (pattern_id,) in rows:
            try:
                pattern = coordinator.patterns.get(pattern_id)
            except ClaudeTUIError:
                continue
            if origin_of_pattern(pattern) is not None:
                text = " ".join(pattern.input_pattern.split())[:80]
                out.append(Extracted("pattern", pattern.id, f"{pattern.pattern_type} · {text}"))
    return out


def _listed_at(task: Task, stamp: str) -> bool:
    """Whether a todo changed at ``stamp`` (its history holds the ISO time of each change)."""
    payload: Any = task.payload
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return False
    history = payload.get("history") if isinstance(payload, dict) else None
    if not isinstance(history, list):
        return False
    return any(isinstance(h, dict) and h.get("at") == stamp for h in history)
