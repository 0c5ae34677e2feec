"""Building the real app on a real data dir for Pilot and snapshot tests."""

from __future__ import annotations

import time
from pathlib import Path

from claude_tui.app.app import ClaudeTUIApp
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.demo import load_demo

# 2026-11-20 12:00:00 UTC: a fixed "now" so screenshots do not change from run to run.
FIXED_NOW = 1_795_176_000.0


class FixedClock:
    """A clock that stands still unless a test moves it."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_coordinator(
    data_dir: Path, redis_url: str | None = None, clock: FixedClock | None = None
) -> MemoryCoordinator:
    if redis_url is None:
        config = Config.load(data_dir, env={}, redis_enabled=False)
    else:
        config = Config.load(data_dir, env={}, redis_url=redis_url)
    return MemoryCoordinator.open(config, clock=clock or time.time)


def demo_coordinator(
    data_dir: Path, redis_url: str | None = None, clock: FixedClock | None = None
) -> MemoryCoordinator:
    coordinator = open_coordinator(data_dir, redis_url, clock)
    load_demo(coordinator)
    return coordinator


def make_app(coordinator: MemoryCoordinator, **kwargs: object) -> ClaudeTUIApp:
    """The real app; vector search and the scheduler off unless asked for.

    (Loading the model costs ~1 s; the scheduler would take a full backup at once.)
    """
    kwargs.setdefault("vector_search", False)
    kwargs.setdefault("scheduler", False)
    kwargs.setdefault("find_transcripts", list)  # never the machine's own ~/.claude
    return ClaudeTUIApp(coordinator, **kwargs)  # type: ignore[arg-type]


async def settle(pilot, rounds: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Let workers finish and the screen redraw."""
    from textual.worker import WorkerCancelled, WorkerFailed

    for _ in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):
            pass  # an exclusive worker replaced by a newer one; failures surface in the app
        await pilot.pause()
