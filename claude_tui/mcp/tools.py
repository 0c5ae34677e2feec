"""The MCP tools: thin adapters over the coordinator, each bound to one identity.

Every tool acts as the server's session (and agent): memory goes through the
memory layer's own scoping, so an agent sees its session's private memory and
the swarm's shared memory and nothing else; tasks and checkpoints of other
sessions are refused. Each call runs under one lock, turns a claude-tui error
into a one-line tool error, and turns anything unexpected into a sentence too:
a call can fail, the server never does.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput, ClaudeTUIError, NotFound
from claude_tui.core.models import SWARM_SCOPE, MemoryEntry, MemoryType, Pattern, Task, TaskStatus
from claude_tui.mcp.identity import Identity

log = logging.getLogger(__name__)

__all__ = ["MemoryType", "TaskStatus"]  # the schemas' enums come from core/models.py
SECRET_MASK = "<secret: read it with memory_retrieve>"

Key = Annotated[str, Field(description="the entry's key (1-1024 characters)")]
Namespace = Annotated[str, Field(description="a grouping name")]
Limit = Annotated[int, Field(ge=1, le=1000, description="at most this many results")]
Offset = Annotated[int, Field(ge=0, description="skip this many (to page on)")]

P = ParamSpec("P")
R = TypeVar("R")


def page(what: str, offset: int, shown: int, total: int) -> dict[str, Any]:
    """A listing's paging fields: ``total``, ``truncated`` and, when cut, a ``note`` saying
    how to see the rest."""
    truncated = offset + shown < total
    fields: dict[str, Any] = {"total": total, "offset": offset, "truncated": truncated}
    if truncated:
        fields["note"] = (
            f"showing {what} {offset + 1}-{offset + shown} of {total}; "
            f"call again with offset={offset + shown} for more"
        )
    return fields


class Refused(ToolError):
    """A call that could not be done; its message is all the caller sees."""


def _guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Run one tool call under the lock; every failure becomes a one-line Refused."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        tools = args[0]
        assert isinstance(tools, MemoryTools)
        with tools.lock:
            try:
                return fn(*args, **kwargs)
            except Refused:
                raise
            except ClaudeTUIError as exc:
                raise Refused(f"{exc.title}: {exc.message}") from None
            except Exception as exc:  # a tool call must never take the server down
                log.exception("tool %s failed", fn.__name__)
                raise Refused(
                    f"Internal error: {fn.__name__} failed with {type(exc).__name__}: {exc}"
                ) from None

    return call


def entry_dict(e: MemoryEntry, *, reveal: bool = True) -> dict[str, Any]:
    """A memory entry as a tool returns it (a secret's value only when ``reveal``)."""
    return {
        "key": e.key,
        "namespace": e.namespace,
        "type": e.memory_type,
        "value": e.value if reveal or not e.sensitive else SECRET_MASK,
        "shared": e.scope == SWARM_SCOPE,
        "session_id": e.session_id,
        "agent_id": e.agent_id,
        "sensitive": e.sensitive,
        "expires_at": e.expires_at,
        "updated_at": e.updated_at,
        "version": e.version,
    }


def pattern_dict(p: Pattern) -> dict[str, Any]:
    """A pattern as a tool returns it."""
    return {
        "id": p.id,
        "type": p.pattern_type,
        "context": p.context,
        "input": p.input_pattern,
        "output": p.output_pattern,
        "confidence": round(p.confidence, 4),
        "usage_count": p.usage_count,
        "success_rate": p.success_rate,
        "session_id": p.session_id,
    }


def task_dict(t: Task) -> dict[str, Any]:
    """A task as a tool returns it."""
    return t.to_dict()


class MemoryTools:
    """The tool functions of one server: the coordinator seen as one identity."""

    def __init__(self, coordinator: MemoryCoordinator, identity: Identity) -> None:
        self.c = coordinator
        self.who = identity
        self.lock = threading.Lock()

    def tools(self) -> list[tuple[Callable[..., dict[str, Any]], bool]]:
        """Each tool function with whether it only reads."""
        return [
            (self.memory_store, False),
            (self.memory_retrieve, True),
            (self.memory_list, True),
            (self.memory_delete, False),
            (self.memory_search, True),
            (self.pattern_search, True),
            (self.pattern_learn, False),
            (self.session_checkpoint, False),
            (self.session_restore, False),
            (self.session_checkpoints, True),
            (self.task_create, False),
            (self.task_update, False),
            (self.task_list, True),
        ]

    # -- memory -------------------------------------------------------------
    @_guarded
    def memory_store(
        self,
        key: Key,
        value: Annotated[Any, Field(description="any JSON value (up to the size limit, 1 MiB)")],
        namespace: Namespace = "default",
        type: Annotated[
            MemoryType,
            Field(
                description="persistent or working: private to this session (and agent); "
                "shared: visible to every session of the swarm"
            ),
        ] = "persistent",
        ttl_seconds: Annotated[
            float | None, Field(description="seconds until the entry expires; none: never")
        ] = None,
    ) -> dict[str, Any]:
        """Store a value under a key (replacing what the key held in that scope).

        Private types go to this session's memory (this agent's, when the server is
        bound to an agent); `shared` goes to the swarm's memory, which every session sees.
        """
        entry = self.c.memory.store(
            key,
            value,
            namespace=namespace,
            memory_type=type,
            ttl=ttl_seconds,
            session_id=self.who.session_id,
            agent_id=self.who.agent_id,
        )
        return {"stored": True, "entry": entry_dict(entry)}

    @_guarded
    def memory_retrieve(
        self,
        key: Key,
        namespace: Namespace = "default",
        type: Annotated[
            MemoryType | None,
            Field(
                description="only this type; none: this agent's, then the session's, "
                "then the swarm's entry, the first that exists"
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Read one entry visible to this session; `found` is false when there is none."""
        entry = self.c.memory.get(
            key,
            namespace=namespace,
            memory_type=type,
            session_id=self.who.session_id,
            agent_id=self.who.agent_id,
        )
        if entry is None:
            return {"found": False, "key": key, "namespace": namespace, "entry": None}
        return {"found": True, "key": key, "namespace": namespace, "entry": entry_dict(entry)}

    @_guarded
    def memory_list(
        self,
        namespace: Annotated[str | None, Field(description="only this namespace")] = None,
        type: Annotated[MemoryType | None, Field(description="only this type")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """List entries visible to this session (its own and the swarm's), newest first.

        Secret values (credentials, keys) are masked here; memory_retrieve returns them.
        `total` is how many there are; when `truncated`, `note` says how to see the rest.
        """
        scope = {
            "namespace": namespace,
            "memory_type": type,
            "session_id": self.who.session_id,
            "agent_id": self.who.agent_id,
        }
        entries = self.c.memory.list(**scope, limit=limit, offset=offset)  # type: ignore[arg-type]
        total = (
            self.c.memory.count(**scope)  # type: ignore[arg-type]
            if len(entries) >= limit
            else offset + len(entries)
        )
        paging = page("entries", offset, len(entries), total)
        return {
            "entries": [entry_dict(e, reveal=False) for e in entries],
            "count": len(entries),
            "more": paging["truncated"],
            **paging,
        }

    @_guarded
    def memory_delete(
        self,
        key: Key,
        namespace: Namespace = "default",
        type: Annotated[
            MemoryType | None,
            Field(description="only this type; none: the entry memory_retrieve would return"),
        ] = None,
    ) -> dict[str, Any]:
        """Delete one entry visible to this session; `deleted` is false when there was none."""
        deleted = self.c.memory.delete(
            key,
            namespace=namespace,
            memory_type=type,
            session_id=self.who.session_id,
            agent_id=self.who.agent_id,
        )
        return {"deleted": deleted, "key": key, "namespace": namespace}

    @_guarded
    def memory_search(
        self,
        query: Annotated[str, Field(description="words to look for, or a description")],
        mode: Annotated[
            Literal["hybrid", "text", "semantic"],
            Field(
                description="hybrid (default): by words and by meaning, fused; text: by words "
                "only (stemmed full-text); semantic: by meaning only"
            ),
        ] = "hybrid",
        limit: Limit = 10,
        source: Annotated[
            Literal["memory", "transcripts", "all"],
            Field(
                description="memory (default); transcripts: this session's Claude Code "
                "conversation, by words; all: both, as one list"
            ),
        ] = "memory",
    ) -> dict[str, Any]:
        """Search the memory visible to this session (its own and the swarm's).

        Every visible entry is searched, by words (full-text, stemmed: "timed"
        finds "timing") and by meaning (the local embedding model's vector index),
        and the two rankings are fused. Each hit has a `score` (1.0: first by both)
        and `matched` (["words"], ["meaning"] or both). `note` says when only the
        words answered (the vector index is down or not built, or the query looks
        like a credential) or when recent entries are not embedded yet. Secrets are
        never embedded and their values are masked here. With `source` transcripts
        or all, the turns of this session's conversation that hold the words come
        too (`source`: "transcript", with its `line` and a `text` snippet, secrets
        redacted). Patterns: pattern_search.
        """
        from claude_tui.core.search.service import Filters

        corpora = {"memory": ["memory"], "transcripts": ["transcript"]}.get(
            source, ["memory", "transcript"]
        )
        results = self.c.search.search_many(
            query, corpora, mode=mode, limit=limit, catch_up=True,
            filters=Filters(session_id=self.who.session_id, agent_id=self.who.agent_id),
        )  # fmt: skip
        return {
            "mode": results.mode,
            "used": list(results.used),
            "note": results.note,
            "hits": [
                {**entry_dict(h.entry, reveal=False), **h.to_dict()}
                if h.kind == "memory"
                else {**h.turn.to_dict(), **h.to_dict()}
                for h in results.hits
            ],
        }

    # -- patterns -------------------------------------------------------------
    @_guarded
    def pattern_search(
        self,
        query: Annotated[str, Field(description="what you are about to do, or the problem")],
        type: Annotated[
            str | None,
            Field(
                description="only this pattern type (task_completion, error_fix, "
                "tool_sequence, decision, ...)"
            ),
        ] = None,
        limit: Limit = 10,
    ) -> dict[str, Any]:
        """Find learned patterns (the swarm's experience) for what you are about to do.

        Searched by meaning (the local embedding model) and by words (stemmed
        full-text), fused. `mode` is `hybrid`, or `text` when the vector index is
        unavailable and only the words answered (`note` says why). Each hit has a
        `score` and `matched` (["words"], ["meaning"] or both) and its `similarity`
        when found by meaning.
        """
        from claude_tui.core.search.service import Filters

        results = self.c.search.patterns(query, limit=limit, filters=Filters(pattern_type=type))
        return {
            "mode": "hybrid" if "meaning" in results.used else "text",
            "note": results.note,
            "hits": [{**pattern_dict(h.pattern), **h.to_dict()} for h in results.hits],
        }

    @_guarded
    def pattern_learn(
        self,
        type: Annotated[
            str,
            Field(
                description="task_completion, error_fix, tool_sequence or decision "
                "(or another short name)"
            ),
        ],
        input: Annotated[str, Field(description="the situation: task, error, or question")],
        output: Annotated[
            str | None, Field(description="what was done about it: the fix, steps, choice")
        ] = None,
        context: Annotated[str | None, Field(description="where it applies, e.g. python")] = None,
        success: Annotated[bool | None, Field(description="whether it worked")] = None,
    ) -> dict[str, Any]:
        """Record an experience: a new pattern, or a reinforced near-duplicate of one.

        Text that looks like a credential is refused (secrets are never learned).
        """
        from claude_tui.core.vectors.learning import Experience

        metadata = {"agent_id": self.who.agent_id} if self.who.agent_id else {}
        learned = self.c.learning.learn(
            Experience(
                pattern_type=type,
                input_text=input,
                output_text=output,
                context=context,
                success=success,
                session_id=self.who.session_id,
                metadata=metadata,
            )
        )
        return {
            "pattern": pattern_dict(learned.pattern),
            "consolidated": learned.consolidated,
            "similarity": learned.similarity,
            "indexed": learned.indexed,
            "truncated": learned.truncated,
        }

    # -- checkpoints ------------------------------------------------------------
    @_guarded
    def session_checkpoint(
        self, label: Annotated[str | None, Field(description="a short label")] = None
    ) -> dict[str, Any]:
        """Checkpoint this session now: its agents, tasks, private memory and patterns."""
        return self.c.checkpoints.create(self.who.session_id, label=label).to_dict()

    @_guarded
    def session_restore(
        self,
        checkpoint_id: Annotated[
            str | None, Field(description="a checkpoint of this session; none: the latest")
        ] = None,
        keep_new: Annotated[
            bool, Field(description="keep what was added after the checkpoint")
        ] = False,
    ) -> dict[str, Any]:
        """Bring this session back to one of its checkpoints.

        The state before is checkpointed first (`safety_checkpoint`), so a restore
        can itself be undone. Shared memory is not part of a session and is untouched.
        """
        result = self.c.checkpoints.restore(self.who.session_id, checkpoint_id, keep_new=keep_new)
        return {**result.plan.to_dict(), "safety_checkpoint": result.safety_checkpoint}

    @_guarded
    def session_checkpoints(self, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
        """This session's checkpoints, newest first (`truncated` and `note` say when cut)."""
        sid = self.who.session_id
        found = self.c.checkpoints.list(sid, limit=limit, offset=offset)
        total = self.c.checkpoints.count(sid) if len(found) >= limit else offset + len(found)
        return {
            "session_id": sid,
            "checkpoints": [cp.to_dict() for cp in found],
            **page("checkpoints", offset, len(found), total),
        }

    # -- tasks ------------------------------------------------------------------
    def _own_task(self, task_id: str) -> Task:
        try:
            task = self.c.tasks.get(task_id)
        except NotFound:
            task = None
        if task is None or task.session_id != self.who.session_id:
            raise NotFound(f"no task {task_id!r} in this session")
        return task

    @_guarded
    def task_create(
        self,
        title: Annotated[str, Field(description="what is to be done")],
        parent_id: Annotated[
            str | None, Field(description="a task of this session to put it under")
        ] = None,
        priority: Annotated[int, Field(description="0 (lowest) and up")] = 0,
        payload: Annotated[Any, Field(description="any JSON details")] = None,
    ) -> dict[str, Any]:
        """Add a pending task to this session's task tree."""
        if parent_id is not None:
            try:
                self._own_task(parent_id)
            except NotFound:
                raise BadInput(f"no parent task {parent_id!r} in this session") from None
        task = self.c.tasks.add(
            self.who.session_id, title, parent_task_id=parent_id, priority=priority,
            payload=payload,
        )  # fmt: skip
        return task_dict(task)

    @_guarded
    def task_update(
        self,
        task_id: Annotated[str, Field(description="a task of this session")],
        status: Annotated[TaskStatus | None, Field(description="the new status")] = None,
        result: Annotated[Any, Field(description="any JSON result")] = None,
        priority: Annotated[int | None, Field(description="0 (lowest) and up")] = None,
    ) -> dict[str, Any]:
        """Change a task of this session: its status, result or priority.

        Finished tasks (completed, failed, cancelled) can only be reopened to pending.
        """
        self._own_task(task_id)
        task = self.c.tasks.update(task_id, status=status, result=result, priority=priority)
        return task_dict(task)

    @_guarded
    def task_list(
        self,
        status: Annotated[TaskStatus | None, Field(description="only this status")] = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """This session's tasks, highest priority first (`parent_task_id` gives the tree).

        `total` is how many there are; when `truncated`, `note` says how to see the rest.
        """
        sid = self.who.session_id
        tasks = self.c.tasks.list(sid, status=status, limit=limit, offset=offset)
        total = (
            self.c.tasks.count(sid, status=status) if len(tasks) >= limit else offset + len(tasks)
        )
        return {
            "tasks": [task_dict(t) for t in tasks],
            "count": len(tasks),
            **page("tasks", offset, len(tasks), total),
        }
