"""Building the real app on a real data dir for Pilot and snapshot tests."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widget import Widget

from claude_tui.app.app import ClaudeTUIApp
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.demo import load_demo

# 2026-11-20 12:00:00 UTC: a fixed "now" so screenshots do not change from run to run.
FIXED_NOW = 1_795_176_000.0
DEMO_SESSION = "ses_demo000001"  # the demo's first session (payments-refactor)


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
    """A coordinator on ``data_dir`` holding the demo data (loaded by ``load_demo``).

    An empty data dir without Redis, on a fixed clock, gets a copy of the demo
    loaded once per test process at that clock's time (the same rows ``load_demo``
    writes, without writing them again for each of the ~180 app tests).
    """
    if redis_url is None and clock is not None and not any(data_dir.iterdir()):
        template = _demo_template(clock.now)
        for name in DEMO_FILES:
            shutil.copy2(template / name, data_dir / name)  # copy2: the 0600 modes too
        return open_coordinator(data_dir, None, clock)
    coordinator = open_coordinator(data_dir, redis_url, clock)
    load_demo(coordinator)
    return coordinator


# What a closed data dir holding only the demo consists of (the integrity stamp is left
# out: it names the file's inode, so the copy is checked afresh when it is opened).
DEMO_FILES = ("claude-tui.db", "secret.key")
_templates: dict[float, Path] = {}


def _demo_template(now: float) -> Path:
    """A closed data dir with the demo loaded at ``now``, built once per process."""
    if now not in _templates:
        root = Path(tempfile.mkdtemp(prefix="claude-tui-demo-"))
        atexit.register(shutil.rmtree, root, True)
        with open_coordinator(root, None, FixedClock(now)) as coordinator:
            load_demo(coordinator)
        leftovers = sorted(
            p.name for p in root.iterdir() if p.name not in DEMO_FILES and p.is_file()
        )
        # A WAL or journal left beside the db would hold rows the copy would miss.
        assert not [n for n in leftovers if n.endswith(("-wal", "-journal"))], leftovers
        _templates[now] = root
    return _templates[now]


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


async def until(  # type: ignore[no-untyped-def]
    pilot, condition: Callable[[], object], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Let the app run (workers, messages, redraws) until ``condition()`` holds.

    No sleep: each round waits for the app's workers and pending messages, then
    looks again. Fails with ``what`` (or the condition's name) after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            name = what or getattr(condition, "__name__", repr(condition))
            raise AssertionError(f"timed out after {timeout:g} s waiting for {name}")
        await settle(pilot, rounds=1)


@dataclass
class DemoApp:
    """Builds the real app on the demo data; ``coordinator`` is the data dir's coordinator."""

    coordinator: MemoryCoordinator
    data_dir: Path

    def __call__(self, **kwargs: object) -> ClaudeTUIApp:
        """A new app (``make_app``), on the demo's first session unless told otherwise."""
        if not kwargs.get("fresh"):
            kwargs.setdefault("session_id", DEMO_SESSION)
        return make_app(self.coordinator, **kwargs)


@pytest.fixture
def demo_app(data_dir: Path) -> Iterator[DemoApp]:
    """The demo data (fixed clock) in a real data dir, and a factory for apps on it.

    ``app = demo_app()`` opens on the demo's first session; ``demo_app(fresh=True)``
    on nothing; ``demo_app.coordinator`` reads and writes the same data.
    """
    with demo_coordinator(data_dir, clock=FixedClock()) as coordinator:
        yield DemoApp(coordinator, data_dir)


def screen_text(app: ClaudeTUIApp) -> str:
    """What the terminal shows right now (the top screen and what shows through), as text.

    Lines end at their last visible character; the footer and toasts are included.
    """
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def region_text(app: ClaudeTUIApp, widget: Widget) -> str:
    """The part of the terminal ``widget`` covers, as text (what a user sees of it)."""
    region = widget.region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return "\n".join(line[region.x : region.right].rstrip() for line in lines)


def flowing(text: str) -> str:
    """``text`` with borders and line breaks taken out: wrapped text reads as one line."""
    frame = str.maketrans("", "", "█▀▄▌▐▎▊▔▁▏│")
    return " ".join(text.translate(frame).split())
