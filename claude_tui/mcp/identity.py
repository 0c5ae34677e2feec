"""Who an MCP server speaks for: one session, optionally one agent of it.

Resolved once, before the protocol starts, from flags or the environment
(``--session``/``CLAUDE_TUI_SESSION``, ``--agent``/``CLAUDE_TUI_AGENT``); with
neither, the Claude Code session of the working directory's project. An
unknown id is a one-line error and exit code 2, never a half-started server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput

SESSION_ENV = "CLAUDE_TUI_SESSION"
AGENT_ENV = "CLAUDE_TUI_AGENT"


@dataclass(frozen=True)
class Identity:
    """The session (and agent) every tool call of one server acts as."""

    session_id: str
    agent_id: str | None = None
    created: bool = False  # the session was created (--create-session, or for the project)
    how: str = "named by --session, --agent or the environment"

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready dict."""
        return {"session_id": self.session_id, "agent_id": self.agent_id}


def resolve_identity(
    c: MemoryCoordinator,
    *,
    session: str | None = None,
    agent: str | None = None,
    create_session: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Identity:
    """The identity named by flags (which win) or the environment.

    ``create_session`` binds to the newest session of that name, creating it
    when there is none, so a server registered once with a name keeps using
    the same session across restarts. An agent alone binds to its session.

    Raises:
        BadInput: no session given, an unknown session or agent, an agent of
            another session, or both ``session`` and ``create_session``.
    """
    env = os.environ if env is None else env
    if create_session is not None:
        if session is not None:
            raise BadInput("give either --session or --create-session, not both")
        # The flag wins over a session named in the environment.
        return _named_session(c, create_session, agent or env.get(AGENT_ENV) or None)
    session = session or env.get(SESSION_ENV) or None
    agent = agent or env.get(AGENT_ENV) or None
    if session is None and agent is None:
        claude = env.get("CLAUDE_CODE_SESSION_ID")
        if claude:  # started by Claude Code: its own session, as its hooks record it
            return claude_code_session(c, claude, env.get("CLAUDE_PROJECT_DIR") or os.getcwd())
        return project_session(c, os.getcwd())
    if session is not None and not c.session_exists(session):
        raise BadInput(f"unknown session {session!r} (see 'claude-tui session list')")
    if agent is not None:
        owner = _agent_session(c, agent)
        if session is not None and owner != session:
            raise BadInput(f"agent {agent!r} does not belong to session {session!r}")
        session = owner
    assert session is not None
    return Identity(session, agent)


def _agent_session(c: MemoryCoordinator, agent: str) -> str:
    owner = c.agent_owner(agent)
    if owner is None:
        raise BadInput(f"unknown agent {agent!r} (see 'claude-tui agent list')")
    return str(owner)


def _named_session(c: MemoryCoordinator, name: str, agent: str | None) -> Identity:
    found = c.store.scalar(
        "SELECT id FROM sessions WHERE name = ? ORDER BY created_at DESC LIMIT 1", (name,)
    )
    created = found is None
    session_id = c.sessions.create(name=name).id if created else str(found)
    if agent is not None and _agent_session(c, agent) != session_id:
        raise BadInput(f"agent {agent!r} does not belong to session {name!r} ({session_id})")
    return Identity(session_id, agent, created, f"the session named {name!r}")


def project_session(c: MemoryCoordinator, cwd: str) -> Identity:
    """The Claude Code session the hooks registered most recently for the project of ``cwd``.

    With none (the hooks are not installed, or never ran here), a session for
    the project itself, created once and found again by later servers.
    """

    from claude_tui.hooks.project import project_of

    project = project_of(cwd)
    found = c.store.row(
        "SELECT id, json_extract(metadata, '$.source') FROM sessions WHERE json_valid(metadata) "
        "AND json_extract(metadata, '$.project') = ? "
        "ORDER BY (json_extract(metadata, '$.source') = 'claude-code') DESC, updated_at DESC "
        "LIMIT 1",
        (project,),
    )
    if found is not None:
        how = (
            f"the Claude Code session registered most recently for {project}"
            if found[1] == "claude-code"
            else f"the claude-tui session of the project {project}"
        )
        return Identity(str(found[0]), None, False, how)
    name = os.path.basename(project.rstrip("/")) or project
    created = c.sessions.create(
        name=name, metadata={"source": "mcp", "project": project, "cwd": cwd}
    )
    return Identity(created.id, None, True, f"a new session for the project {project}")


def claude_code_session(c: MemoryCoordinator, claude_session_id: str, cwd: str) -> Identity:
    """The claude-tui session of the Claude Code session that started this server.

    Claude Code starts its MCP servers while the SessionStart hook runs, so the
    session may not be recorded yet: it is created here the way the hook
    creates it (whichever comes first; the other finds it).
    """
    import time

    from claude_tui.hooks.handlers import Event, ensure_session

    try:
        event = Event.parse("SessionStart", {"session_id": claude_session_id, "cwd": cwd})
    except BadInput:
        return project_session(c, cwd)
    existed = c.session_exists(event.session_id)
    sid = ensure_session(c, event, time.time())
    return Identity(sid, None, not existed, "the Claude Code session that started this server")
