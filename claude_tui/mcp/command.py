"""``claude-tui mcp``: check the identity first, then load the SDK and serve stdio.

The identity is resolved before the MCP SDK is even imported, so an unknown
session or agent costs a fraction of a second and exits 2 with one line on
stderr, with nothing ever written to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.mcp.identity import resolve_identity

log = logging.getLogger(__name__)


def run(config: Config, args: argparse.Namespace) -> int:
    """Resolve the identity (BadInput, exit 2, when unknown), then serve until stdin closes."""
    if not os.environ.get("CLAUDE_TUI_DEBUG"):
        logging.getLogger().setLevel(logging.WARNING)  # warnings and tool crashes, on stderr
    with MemoryCoordinator.open(config) as coordinator:
        identity = resolve_identity(
            coordinator,
            session=args.session,
            agent=args.agent,
            create_session=args.create_session,
        )
        if identity.created and sys.stderr.isatty():  # Claude Code logs stderr as errors
            sys.stderr.write(
                f"claude-tui mcp: created session {identity.session_id} ({identity.how})\n"
            )
        from claude_tui.mcp.server import build_server  # the mcp SDK: ~2 s of imports

        server = build_server(coordinator, identity)
        from claude_tui.core.search.warm import warm_session

        warm_session(coordinator, identity.session_id)  # its hot keys and top patterns into L1
        if coordinator.sync is not None:
            coordinator.sync.start()  # other hosts' shared writes arrive while serving
        log.info("serving MCP on stdio as %s", identity.to_dict())
        # Claude Code stops its servers with SIGINT, then SIGTERM: leave at once. Every
        # write is its own transaction, so nothing committed is lost by not unwinding.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: os._exit(0))
        from claude_tui.mcp.wire import serve_stdio

        serve_stdio(server)  # the SDK's stdio, with a reply to every request line
    return 0
