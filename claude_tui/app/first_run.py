"""What the app opens on: where the user left off, else the first run's offers.

Restore on launch reopens the last session, screen and row (or what
``--session`` asked for). With nothing to reopen and no sessions, the first
run offers to import the user's Claude Code history, else the demo swarm.
Also here: the import dialog (``i`` and the palette open it at any time) and
the demo load (the palette's "Load the demo swarm").

The app owns one :class:`FirstRun`. Its worker threads only read and post
messages (:class:`SessionMissing`, :class:`FirstRunFound`,
:class:`DemoLoaded`); the app hands those back to it on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.import_dialog import ImportDialog, ImportOutcome
from claude_tui.app.formatting import plural
from claude_tui.app.messages import DataChanged, DemoLoaded, FirstRunFound, SessionMissing
from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp


def discovered_transcripts() -> list[Path]:
    """The user's Claude Code transcripts (``~/.claude/projects`` and the like)."""
    from claude_tui.core.importers.claude_code import discover_transcripts

    return discover_transcripts()


class FirstRun:
    """Restore on launch, the first-run offers, the import dialog and the demo load.

    Args:
        app: the app (its coordinator, its UI store, its active session).
        find_transcripts: where to look for Claude Code history (tests pass their own).
        session_id: the session to open (``--session``) instead of the last one.
        fresh: open as on a first run (``--fresh``: the saved place is not used).
    """

    def __init__(
        self,
        app: ClaudeTUIApp,
        find_transcripts: Callable[[], list[Path]] | None = None,
        *,
        session_id: str | None = None,
        fresh: bool = False,
    ) -> None:
        self.app = app
        self.find_transcripts = find_transcripts or discovered_transcripts
        self.requested_session = session_id
        self.fresh = fresh

    # -- restore on launch ----------------------------------------------------
    def restore(self) -> None:
        """Reopen the last session, screen and row (or what ``--session`` asked for)."""
        app, state = self.app, self.app.ui.state
        mode = state.mode if state.mode in app.MODES else "sessions"
        wanted = self.requested_session or (None if self.fresh else state.session_id)
        if wanted is None:
            app.switch_mode("sessions" if self.fresh else mode)
            self.check()
            return
        # Paint the restored screen at once; a worker checks the session still exists.
        app.set_session(wanted)
        app.switch_mode(mode if not self.requested_session or mode != "sessions" else "memory")
        app.run_worker(
            lambda: self._verify(wanted), thread=True, group="restore", exit_on_error=False
        )

    def _verify(self, session_id: str) -> None:
        # Worker thread: a read; what it found goes back as a message.
        try:
            self.app.coordinator.sessions.get(session_id)
        except ClaudeTUIError:
            self.app.post_message(SessionMissing(session_id))

    def session_missing(self, session_id: str) -> None:
        """The restored session is gone: say so and open the sessions list."""
        self.app.set_session(None)
        self.app.switch_mode("sessions")
        self.app.notify(
            f"The last session ({session_id}) no longer exists; pick another.",
            title="Session not found",
            severity="warning",
            timeout=8,
        )

    # -- the first run ------------------------------------------------------------

    def check(self) -> None:
        """Look (in a worker) whether this is a first run; offer what fits."""
        state = self.app.ui.state
        # Read on the UI thread: the worker gets copies, never the store.
        demo_offered, import_offered = state.demo_offered, state.import_offered
        self.app.run_worker(
            lambda: self._look(demo_offered, import_offered),
            thread=True, group="first-run", exit_on_error=False,
        )  # fmt: skip

    def _look(self, demo_offered: bool, import_offered: bool) -> None:
        # Worker thread: reads the database and the disk, posts what it found.
        if demo_offered or self.app.coordinator.sessions.list(limit=1):
            return
        found = [] if import_offered else self.find_transcripts()
        self.app.post_message(FirstRunFound(found))

    def offer(self, found: list[Path]) -> None:
        """Offer to import ``found`` (Claude Code history on disk), or the demo if none."""
        if found:
            self.offer_import(found)
        else:
            self.offer_demo()

    def offer_import(self, found: list[Path]) -> None:
        """First run with the user's Claude Code history on disk: offer to import it."""

        def answered(yes: bool | None) -> None:
            self.app.ui.update(import_offered=True)
            if yes:
                self.open_import(found, start=True)
            else:
                self.offer_demo()

        folders = sorted({str(p.parent.parent) for p in found})
        self.app.push_screen(
            ConfirmDialog(
                f"Found {plural(len(found), 'Claude Code session')}. Import them?",
                f"From {', '.join(folders[:3])}. Claude Code deletes transcripts after 30 days; "
                "once imported, the history stays here. Importing again later adds only what "
                "is new ('claude-tui import claude-code').",
                "Import",
                destructive=False,
            ),
            answered,
        )

    def open_import(self, paths: list[Path] | None = None, *, start: bool = False) -> None:
        """The import dialog: finds the transcripts (or takes a path) and imports them."""
        self.app.push_screen(
            ImportDialog(self.app.coordinator, self.find_transcripts, paths=paths, start=start),
            self.imported,
        )

    def imported(self, outcome: ImportOutcome | None) -> None:
        """After an import: open the newest session and let the screens reload."""
        if outcome is None or not outcome.sessions:
            return
        if outcome.newest_session is not None and self.app.session_id is None:
            self.app.set_session(outcome.newest_session)
        self.app.post_message(DataChanged([]))

    def offer_demo(self) -> None:
        """No sessions and no history to import: offer the demo swarm."""

        def answered(yes: bool | None) -> None:
            self.app.ui.update(demo_offered=True)
            if yes:
                self.load_demo()

        self.app.push_screen(
            ConfirmDialog(
                "No sessions yet. Load the demo swarm?",
                "3 sessions, agents, task trees 4 levels deep, a few hundred memory entries and "
                "some patterns, so there is something to look at. You can delete it later.",
                "Load demo",
                destructive=False,
            ),
            answered,
        )

    def load_demo(self) -> None:
        """Add the demo sessions, agents, tasks and memory (in a worker)."""
        self.app.run_worker(self._load_demo, thread=True, group="demo", exit_on_error=False)

    def _load_demo(self) -> None:
        # Worker thread: writes the demo through the coordinator, posts what it added.
        from claude_tui.core.demo import load_demo

        counts = load_demo(self.app.coordinator)
        first = self.app.coordinator.sessions.list(status="active", limit=1)
        loaded = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.app.post_message(DemoLoaded(f"Loaded {loaded}.", first[-1].id if first else None))

    def demo_loaded(self, message: DemoLoaded) -> None:
        """Say what the demo added, open one of its sessions, let the screens reload."""
        self.app.notify(message.summary, title="Demo swarm")
        if message.session_id is not None:
            self.app.set_session(message.session_id)
        self.app.post_message(DataChanged([]))
