"""Start the terminal app on a data dir."""

from __future__ import annotations

from claude_tui.core.config import Config


def launch(config: Config, *, session_id: str | None = None, fresh: bool = False) -> int:
    """Open the coordinator and run the app until the user quits; return the exit code."""
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.core.coordinator import MemoryCoordinator

    with MemoryCoordinator(config) as coordinator:
        app = ClaudeTUIApp(coordinator, session_id=session_id, fresh=fresh)
        app.run()
        return app.return_code or 0
