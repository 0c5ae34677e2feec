"""Who an MCP server speaks for: one session, optionally one agent of it.

Resolved once, before the protocol starts, from flags or the environment
(``--session``/``CLAUDE_TUI_SESSION``, ``--agent``/``CLAUDE_TUI_AGENT``). An
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
    created: bool = False  # the session was created by --create-session

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
        raise BadInput(
            "mcp needs a session: pass --session ID (or set CLAUDE_TUI_SESSION), "
            "or --create-session NAME"
        )
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
    return Identity(session_id, agent, created)
