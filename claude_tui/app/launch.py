"""Start the terminal app on a data dir."""

from __future__ import annotations

from claude_tui.core.config import Config
from claude_tui.core.errors import BadInput


def launch(config: Config, *, session_id: str | None = None, fresh: bool = False) -> int:
    """Open the coordinator and run the app until the user quits; return the exit code.

    Raises:
        StoreUnusable: the data dir or database cannot be used (exit code 2).
        BadInput: ``--session`` names a session that does not exist.
    """
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.core.coordinator import MemoryCoordinator

    with MemoryCoordinator(config) as coordinator:
        if session_id is not None:
            if (
                coordinator.store.scalar("SELECT 1 FROM sessions WHERE id = ?", (session_id,))
                is None
            ):
                raise BadInput(f"unknown session {session_id!r} (see 'claude-tui session list')")
        app = ClaudeTUIApp(coordinator, session_id=session_id, fresh=fresh)
        app.run()
        return app.return_code or 0
