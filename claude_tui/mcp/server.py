"""The stdio MCP server (mcp SDK 2.x ``MCPServer``) bound to a coordinator and an identity.

stdout carries the protocol and nothing else: logs go to stderr, and while the
server runs the SDK points file descriptor 1 at stderr for anything stray.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import ValidationError

from claude_tui import __version__
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.mcp.identity import Identity
from claude_tui.mcp.tools import MemoryTools, Refused

log = logging.getLogger(__name__)

NAME = "claude-tui"


def _describe(exc: ValidationError) -> str:
    """A pydantic validation error as one line: ``field: problem; field: problem``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class ClaudeTUIServer(MCPServer[Any]):
    """MCPServer whose tool errors are one clear line instead of the SDK's wrapped text."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, Refused):
                raise ToolError(str(cause)) from cause
            if isinstance(cause, ValidationError):
                raise ToolError(f"Invalid arguments for {name}: {_describe(cause)}") from cause
            raise


def build_server(coordinator: MemoryCoordinator, identity: Identity) -> ClaudeTUIServer:
    """An MCP server whose tools act as ``identity`` through ``coordinator``."""
    who = f"session {identity.session_id}" + (
        f", agent {identity.agent_id}" if identity.agent_id else ""
    )
    server = ClaudeTUIServer(
        NAME,
        version=__version__,
        instructions=(
            f"claude-tui memory for {who} ({identity.how}). "
            "memory_* tools read and write key/value memory: "
            "persistent/working entries are private to this session, shared entries are seen "
            "by the whole swarm. pattern_search finds what worked before; pattern_learn "
            "records an experience. task_* manage this session's task tree; session_* "
            "checkpoint and restore it."
        ),
        log_level="WARNING",
    )
    tools = MemoryTools(coordinator, identity)
    for fn, read_only in tools.tools():
        server.add_tool(
            fn,
            name=fn.__name__,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=fn.__name__ in ("memory_delete", "session_restore"),
                open_world_hint=False,
            ),
        )
    return server
