"""Sessions and the agents registered in them."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from typing import Any

from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.events import ChangeEvent
from claude_tui.core.ids import new_id
from claude_tui.core.models import AGENT_STATUSES, SESSION_STATUSES, Agent, Session
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records.guard import Guard, Kind
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.validation import check_text, decode_json

__all__ = ["AGENT_STATUSES", "SESSION_STATUSES", "AgentService", "SessionService"]
_SESSION_COLS = session_door.SELECT
_AGENT_COLS = agent_door.SELECT


def revealed(
    guard: Guard, kind: Kind, columns: Sequence[str], row: Sequence[Any], reveal: bool
) -> Sequence[Any]:
    """A row (ending in its ``sealed`` column) with its originals back when ``reveal``."""
    token = row[len(columns)]
    if not reveal or not token:
        return row
    opened = guard.reveal(dict(zip(columns, row, strict=False)), token)
    return [*(opened[c] for c in columns), token]


def _session(row: Sequence[Any]) -> Session:
    return Session(
        row[0], row[1], row[2], row[3], row[4], row[5], decode_json(row[6], {}), bool(row[7])
    )


def _agent(row: Sequence[Any]) -> Agent:
    return Agent(
        row[0], row[1], row[2], row[3], row[4], decode_json(row[5], []), decode_json(row[6], {}),
        row[7], row[8], bool(row[9]),
    )  # fmt: skip


class SessionService:
    """Create, list, change and archive sessions."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # Called with the session id before a delete (the coordinator checkpoints here).
        self.before_delete: list[Callable[[str], object]] = []

    def create(
        self,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        """Create an active session and return it."""
        if name is not None:
            check_text(name, "session name", max_len=200)
        if user_id is not None:
            check_text(user_id, "user", max_len=200)
        now = self.rt.clock()
        session_id = new_id("ses")
        values = {
            "id": session_id, "name": name, "user_id": user_id, "status": "active",
            "created_at": now, "updated_at": now, "metadata": json.dumps(metadata or {}),
        }  # fmt: skip
        self.rt.write_protected(
            lambda: session_door.protect(self.rt.guard, values), session_door.insert
        )
        self.rt.announce([ChangeEvent(None, "sessions", "insert", session_id, session_id)])
        return self.get(session_id, reveal=True)

    def get(self, session_id: str, *, reveal: bool = False) -> Session:
        """The session with this id (sealed fields shown redacted unless ``reveal``).

        Raises:
            NotFound: no such session.
        """
        row = self.rt.store.row(f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return _session(
            revealed(self.rt.guard, session_door.KIND, session_door.COLUMNS, row, reveal)
        )

    def list(self, status: str | None = None, limit: int = 1000, offset: int = 0) -> list[Session]:
        """Sessions, most recently updated first, optionally of one status."""
        if status is not None and status not in SESSION_STATUSES:
            raise BadInput(f"status must be one of {', '.join(SESSION_STATUSES)}")
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self.rt.store.rows(
            f"SELECT {_SESSION_COLS} FROM sessions {where} "
            "ORDER BY updated_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_session(r) for r in rows]

    def count(self, status: str | None = None) -> int:
        """How many sessions :meth:`list` pages through."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return int(self.rt.store.scalar(f"SELECT count(*) FROM sessions {where}", params))

    def update(
        self, session_id: str, *, status: str | None = None, name: str | None = None
    ) -> Session:
        """Change a session's status and/or name.

        Raises:
            BadInput: unknown status. NotFound: no such session.
        """
        if status is not None and status not in SESSION_STATUSES:
            raise BadInput(f"status must be one of {', '.join(SESSION_STATUSES)}, not {status!r}")
        if name is not None:
            check_text(name, "session name", max_len=200)
        current = self.rt.store.scalar("SELECT sealed FROM sessions WHERE id = ?", (session_id,))
        self.get(session_id)
        changes: dict[str, Any] = {"updated_at": self.rt.clock()}
        if status is not None:
            changes["status"] = status
        if name is not None:
            changes["name"] = name
        self.rt.write_protected(
            lambda: session_door.protect(self.rt.guard, changes, current),
            lambda conn, row: session_door.update(conn, session_id, row),
        )
        self.rt.announce([ChangeEvent(None, "sessions", "update", session_id, session_id)])
        return self.get(session_id, reveal=True)

    def archive(self, session_id: str) -> Session:
        """Mark a session archived (its data stays)."""
        return self.update(session_id, status="archived")

    def delete(self, session_id: str) -> None:
        """Delete a session with its agents, tasks and private memory (shared memory stays).

        A checkpoint is taken first (see ``before_delete``), so the session can be
        brought back with ``session restore``.
        """
        self.get(session_id)
        for hook in self.before_delete:
            hook(session_id)

        self.rt.write(lambda conn: session_door.delete(conn, session_id))
        self.rt.l1.clear()
        self.rt.forget_session(session_id)
        self.rt.announce([ChangeEvent(None, "sessions", "delete", session_id, session_id)])

    def summary(self, session_id: str) -> dict[str, Any]:
        """Counts for a session: agents, tasks by status, memory entries and bytes."""
        agents = self.rt.store.scalar(
            "SELECT count(*) FROM agents WHERE session_id = ?", (session_id,)
        )
        tasks = dict(
            self.rt.store.rows(
                "SELECT status, count(*) FROM tasks WHERE session_id = ? GROUP BY status",
                (session_id,),
            )
        )
        mem = self.rt.store.row(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM memory_entries "
            "WHERE session_id = ? AND scope != 'swarm'",
            (session_id,),
        )
        return {
            "agents": agents,
            "tasks": tasks,
            "memory_entries": mem[0] if mem else 0,
            "memory_bytes": mem[1] if mem else 0,
        }

    def counts(self) -> dict[str, dict[str, Any]]:
        """:meth:`summary` for every session at once (three grouped queries)."""
        result: dict[str, dict[str, Any]] = {
            row[0]: {"agents": 0, "tasks": {}, "memory_entries": 0, "memory_bytes": 0}
            for row in self.rt.store.rows("SELECT id FROM sessions")
        }
        for sid, n in self.rt.store.rows("SELECT session_id, count(*) FROM agents GROUP BY 1"):
            if sid in result:
                result[sid]["agents"] = n
        for sid, status, n in self.rt.store.rows(
            "SELECT session_id, status, count(*) FROM tasks GROUP BY 1, 2"
        ):
            if sid in result:
                result[sid]["tasks"][status] = n
        for sid, n, size in self.rt.store.scan_rows(
            "SELECT session_id, count(*), coalesce(sum(length(value)), 0) FROM memory_entries "
            "WHERE scope != 'swarm' GROUP BY 1"
        ):
            if sid in result:
                result[sid]["memory_entries"] = n
                result[sid]["memory_bytes"] = size
        return result


class AgentService:
    """Register agents in sessions and keep their status and context."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def register(
        self,
        session_id: str,
        agent_type: str,
        role: str | None = None,
        capabilities: builtins.list[str] | None = None,
        memory_context: dict[str, Any] | None = None,
    ) -> Agent:
        """Register an agent in a session and return it.

        Raises:
            BadInput: unknown session or empty type.
        """
        check_text(agent_type, "agent type", max_len=100)
        if role is not None:
            check_text(role, "role", max_len=200)
        caps = list(capabilities or [])
        if not all(isinstance(c, str) for c in caps):
            raise BadInput("capabilities must be a list of strings")
        self.rt.require_session(session_id)
        now = self.rt.clock()
        agent_id = new_id("agt")
        values = {
            "id": agent_id, "session_id": session_id, "agent_type": agent_type, "role": role,
            "status": "idle", "capabilities": json.dumps(caps),
            "memory_context": json.dumps(memory_context or {}), "created_at": now,
            "updated_at": now,
        }  # fmt: skip
        self.rt.write_protected(
            lambda: agent_door.protect(self.rt.guard, values), agent_door.insert
        )
        self.rt.announce([ChangeEvent(None, "agents", "insert", agent_id, session_id)])
        return self.get(agent_id, reveal=True)

    def get(self, agent_id: str, *, reveal: bool = False) -> Agent:
        """The agent with this id (sealed fields redacted unless ``reveal``). Raises NotFound."""
        row = self.rt.store.row(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?", (agent_id,))
        if row is None:
            raise NotFound(f"no agent {agent_id!r}")
        return _agent(revealed(self.rt.guard, agent_door.KIND, agent_door.COLUMNS, row, reveal))

    def list(
        self, session_id: str | None = None, status: str | None = None
    ) -> builtins.list[Agent]:
        """Agents of one session (or all), oldest first."""
        where, params = [], []
        if session_id is not None:
            self.rt.require_session(session_id)
            where.append("session_id = ?")
            params.append(session_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self.rt.store.rows(
            f"SELECT {_AGENT_COLS} FROM agents {clause} ORDER BY created_at, id", params
        )
        return [_agent(r) for r in rows]

    def update(
        self,
        agent_id: str,
        *,
        status: str | None = None,
        capabilities: builtins.list[str] | None = None,
        memory_context: dict[str, Any] | None = None,
    ) -> Agent:
        """Change an agent's status, capabilities or memory context."""
        if status is not None and status not in AGENT_STATUSES:
            raise BadInput(f"agent status must be one of {', '.join(AGENT_STATUSES)}")
        if capabilities is not None and not all(isinstance(c, str) for c in capabilities):
            raise BadInput("capabilities must be a list of strings")
        current = self.rt.store.scalar("SELECT sealed FROM agents WHERE id = ?", (agent_id,))
        agent = self.get(agent_id)
        changes: dict[str, Any] = {"updated_at": self.rt.clock()}
        if status is not None:
            changes["status"] = status
        if capabilities is not None:
            changes["capabilities"] = json.dumps(capabilities)
        if memory_context is not None:
            changes["memory_context"] = json.dumps(memory_context)
        self.rt.write_protected(
            lambda: agent_door.protect(self.rt.guard, changes, current),
            lambda conn, row: agent_door.update(conn, agent_id, row),
        )
        self.rt.announce([ChangeEvent(None, "agents", "update", agent_id, agent.session_id)])
        return self.get(agent_id, reveal=True)
