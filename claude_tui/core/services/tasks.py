"""Task trees: tasks linked by ``parent_task_id``, with priorities and status transitions."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.events import ChangeEvent
from claude_tui.core.ids import new_id
from claude_tui.core.models import TASK_STATUSES, TERMINAL_TASK_STATUSES, Task
from claude_tui.core.records import tasks as task_door
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.services.sessions import revealed
from claude_tui.core.validation import check_text, decode_json, encode_value

# Which status may follow which. Terminal states can only be reopened to pending.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"in_progress", "blocked", "cancelled", "completed", "failed"}),
    "in_progress": frozenset({"pending", "blocked", "completed", "failed", "cancelled"}),
    "blocked": frozenset({"pending", "in_progress", "cancelled", "failed"}),
    "completed": frozenset({"pending"}),
    "failed": frozenset({"pending"}),
    "cancelled": frozenset({"pending"}),
}
TERMINAL = frozenset(TERMINAL_TASK_STATUSES)
_COLS = task_door.SELECT


MAX_PRIORITY = 2**63 - 1


def check_priority(priority: object) -> int:
    """A priority is an integer from 0 (lowest) to 2**63 - 1.

    Raises:
        BadInput: anything else.
    """
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise BadInput(f"priority must be an integer, not {priority!r}")
    if not 0 <= priority <= MAX_PRIORITY:
        raise BadInput(f"priority must be between 0 and {MAX_PRIORITY}, not {priority}")
    return priority


def _task(row: Sequence[Any]) -> Task:
    return Task(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], decode_json(row[7], row[7]),
        decode_json(row[8], row[8]), row[9], row[10], row[11], bool(row[12]),
    )  # fmt: skip


class TaskService:
    """Add, update and list tasks of a session."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def add(
        self,
        session_id: str,
        title: str,
        *,
        parent_task_id: str | None = None,
        priority: int = 0,
        agent_id: str | None = None,
        payload: Any = None,
    ) -> Task:
        """Add a pending task (under ``parent_task_id`` when given) and return it.

        Raises:
            BadInput: unknown session, agent or parent; a parent in another session.
        """
        check_text(title, "task title", max_len=2000)
        check_priority(priority)
        self.rt.require_session(session_id)
        if agent_id is not None:
            self.rt.require_agent(agent_id, session_id)
        if parent_task_id is not None:
            parent = self.rt.store.scalar(
                "SELECT session_id FROM tasks WHERE id = ?", (parent_task_id,)
            )
            if parent is None:
                raise BadInput(f"unknown parent task {parent_task_id!r}")
            if parent != session_id:
                raise BadInput(f"parent task {parent_task_id!r} belongs to another session")
        raw = None if payload is None else encode_value(payload, self.rt.config.max_value_bytes)
        now = self.rt.clock()
        task_id = new_id("tsk")
        values = {
            "id": task_id, "session_id": session_id, "agent_id": agent_id,
            "parent_task_id": parent_task_id, "title": title, "status": "pending",
            "priority": priority, "payload": raw, "result": None, "created_at": now,
            "updated_at": now,
        }  # fmt: skip
        self.rt.write_protected(lambda: task_door.protect(self.rt.guard, values), task_door.insert)
        self.rt.announce([ChangeEvent(None, "tasks", "insert", task_id, session_id)])
        return self.get(task_id, reveal=True)

    def get(self, task_id: str, *, reveal: bool = False) -> Task:
        """The task with this id (sealed fields redacted unless ``reveal``). Raises NotFound."""
        row = self.rt.store.row(f"SELECT {_COLS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        return _task(revealed(self.rt.guard, task_door.KIND, task_door.COLUMNS, row, reveal))

    def update(
        self,
        task_id: str,
        *,
        status: str | None = None,
        result: Any = None,
        priority: int | None = None,
        agent_id: str | None = None,
    ) -> Task:
        """Move a task to a new status (checked against ``TRANSITIONS``), set its result.

        Raises:
            BadInput: an unknown status or a transition that is not allowed.
            NotFound: no such task.
        """
        current = self.rt.store.scalar("SELECT sealed FROM tasks WHERE id = ?", (task_id,))
        task = self.get(task_id)
        if status is not None:
            if status not in TRANSITIONS:
                raise BadInput(f"status must be one of {', '.join(TRANSITIONS)}, not {status!r}")
            if status != task.status and status not in TRANSITIONS[task.status]:
                raise BadInput(f"a {task.status} task cannot become {status}")
        if priority is not None:
            check_priority(priority)
        if agent_id is not None:
            self.rt.require_agent(agent_id, task.session_id)
        now = self.rt.clock()
        changes: dict[str, Any] = {
            "completed_at": now if status in TERMINAL else (None if status else task.completed_at),
            "updated_at": now,
        }
        if status is not None:
            changes["status"] = status
        if result is not None:
            changes["result"] = encode_value(result, self.rt.config.max_value_bytes)
        if priority is not None:
            changes["priority"] = priority
        if agent_id is not None:
            changes["agent_id"] = agent_id
        self.rt.write_protected(
            lambda: task_door.protect(self.rt.guard, changes, current),
            lambda conn, row: task_door.update(conn, task_id, row),
        )
        self.rt.announce([ChangeEvent(None, "tasks", "update", task_id, task.session_id)])
        return self.get(task_id, reveal=True)

    def list(
        self,
        session_id: str | None = None,
        *,
        status: str | None = None,
        parent_task_id: str | None = None,
        limit: int = 10_000,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks (of one session, status or parent), highest priority first."""
        clause, params = self._where(session_id, status, parent_task_id)
        rows = self.rt.store.rows(
            f"SELECT {_COLS} FROM tasks {clause} "
            "ORDER BY priority DESC, created_at, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_task(r) for r in rows]

    def count(
        self,
        session_id: str | None = None,
        *,
        status: str | None = None,
        parent_task_id: str | None = None,
    ) -> int:
        """How many tasks :meth:`list` pages through."""
        clause, params = self._where(session_id, status, parent_task_id)
        return int(self.rt.store.scalar(f"SELECT count(*) FROM tasks {clause}", params))

    def _where(
        self, session_id: str | None, status: str | None, parent_task_id: str | None
    ) -> tuple[str, builtins.list[Any]]:
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if session_id is not None:
            self.rt.require_session(session_id)
            where.append("session_id = ?")
            params.append(session_id)
        if status is not None:
            if status not in TASK_STATUSES:
                raise BadInput(f"status must be one of {', '.join(TASK_STATUSES)}, not {status!r}")
            where.append("status = ?")
            params.append(status)
        if parent_task_id is not None:
            where.append("parent_task_id = ?")
            params.append(parent_task_id)
        return ("WHERE " + " AND ".join(where)) if where else "", params

    def tree(self, session_id: str) -> dict[str | None, builtins.list[Task]]:
        """Children by parent id (None holds the roots), each list by priority."""
        children: dict[str | None, builtins.list[Task]] = {}
        for task in self.list(session_id):
            children.setdefault(task.parent_task_id, []).append(task)
        return children
