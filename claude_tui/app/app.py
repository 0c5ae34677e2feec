"""The app: modes, the live feed, the status bar, errors; it wires up the rest.

Behind the screens: :class:`BackgroundServices` (no Textual; its reads run in
workers and come back as messages); the start and first run: :class:`FirstRun`;
where the user is: :class:`UIStore`; keys, help, theme and the command palette:
:class:`AppCommands`; toasts and errors: :class:`AppFeedback`. Worker threads post
messages, never change state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, ScreenStackError
from textual.command import Provider
from textual.reactive import Reactive
from textual.signal import Signal
from textual.widget import AwaitMount

from claude_tui.app import messages as msg
from claude_tui.app.commands import AppCommands, ScreenCommands
from claude_tui.app.feedback import AppFeedback
from claude_tui.app.first_run import FirstRun
from claude_tui.app.keys import check_keymap
from claude_tui.app.modes import APP_BINDINGS, MODE_KEYS, MODES, THEMES
from claude_tui.app.palette import ANSI_DARK, ANSI_LIGHT
from claude_tui.app.palette import THEMES as PALETTE
from claude_tui.app.services import BackgroundServices, Notice, StatusSnapshot
from claude_tui.app.state import UIStore
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.scheduler import Scheduler
from claude_tui.core.events import ChangeEvent
from claude_tui.core.search.warm import warm_session

__all__ = ["MODE_KEYS", "RELAUNCH", "ClaudeTUIApp", "Notice"]

STYLES = Path(__file__).resolve().parent.parent / "styles"
POLL_SECONDS = 0.25
SYNC_CHECK_SECONDS = 2.0
# The app's return code when it asks launch() to reopen the data dir (after a restore).
RELAUNCH = 75


class ClaudeTUIApp(AppCommands, AppFeedback):
    """claude-tui's terminal app over one memory coordinator.

    ``scheduler``: run the jobs while open (``job_scheduler``: which ones; default:
    the data dir's own); ``notice``: said once the app is up (e.g. "restored from
    backup X"); ``find_transcripts``: where the first run looks for Claude Code history.
    """

    TITLE = "claude-tui"
    CSS_PATH = STYLES / "app.tcss"
    MODES = MODES
    BINDINGS = APP_BINDINGS
    # The statuses' ANSI colours as RGB, contrast-checked (App.__init__ reads them).
    ansi_theme_dark = Reactive(ANSI_DARK, init=False)
    ansi_theme_light = Reactive(ANSI_LIGHT, init=False)
    # Every screen gets -narrow/-medium/-wide and -short/-tall (styles/app.tcss lays out by them).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    # Textual's commands (theme, quit, ...) and this app's: every screen and every action.
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = App.COMMANDS | {
        ScreenCommands
    }

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        *,
        session_id: str | None = None,
        fresh: bool = False,
        poll_seconds: float = POLL_SECONDS,
        vector_search: bool = True,
        scheduler: bool = True,
        job_scheduler: Scheduler | None = None,
        notice: Notice | None = None,
        find_transcripts: Callable[[], list[Path]] | None = None,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        for theme in PALETTE:
            self.register_theme(theme)
        self.coordinator = coordinator
        self.data_dir = coordinator.config.data_dir
        # The user's [keys] (binding id -> keys), checked against every binding of the app:
        # a mistyped id fails the start with one line and a suggestion (ConfigError, exit 2).
        keys = coordinator.config.keys if keymap is None else keymap
        self.keymap = check_keymap(keys, where=str(self.data_dir / "config.toml"))
        self.poll_seconds = poll_seconds
        self.vector_search = vector_search  # the model and Chroma load off the first paint
        self.notice = notice
        self.ui = UIStore.open(self.data_dir, fresh=fresh)
        self.session_id: str | None = None
        self.services = BackgroundServices(
            coordinator, run_scheduler=scheduler, scheduler=job_scheduler,
            on_status=lambda snapshot: self.post_message(msg.StatusChanged(snapshot)),
            on_notice=lambda notice: self.post_message(msg.NoticePosted(notice)),
        )  # fmt: skip
        self.status: StatusSnapshot = self.services.snapshot  # the newest the UI thread got
        self.status_signal: Signal[StatusSnapshot] = Signal(self, "status")  # the status bars
        self.first_run = FirstRun(self, find_transcripts, session_id=session_id, fresh=fresh)
        self.restore_backup_id: str | None = None  # set when exiting with RELAUNCH

    def _in_worker(self, job: Callable[[], object], group: str, exclusive: bool = True) -> None:
        """Run ``job`` in a worker thread: it posts what it finds and changes no UI state."""
        self.run_worker(
            job, name=group, group=group, thread=True, exclusive=exclusive, exit_on_error=False
        )

    # -- start-up -------------------------------------------------------------
    def on_mount(self) -> None:
        if self.keymap:
            from claude_tui.app.keys import keymap_clashes

            self.set_keymap(self.keymap)
            for clash in keymap_clashes(self.keymap):
                self.notify(clash, title="Keys", severity="warning", timeout=12)
        self.theme = self.ui.state.theme if self.ui.state.theme in THEMES else THEMES[0]
        self._unsubscribe = self.coordinator.events.subscribe(self._on_local_events)
        self.services.start_sync()
        self.first_run.restore()  # back where the user was, else the first run's offers
        for seconds, job, group in (
            (self.poll_seconds, self.coordinator.poll_changes, "poll"),  # other processes' writes
            (3.0, self.services.check_backends, "backends"),
            (SYNC_CHECK_SECONDS, self.services.check_sync, "sync-status"),
            (1.0, self.ui.flush, "state"),
        ):
            self.set_interval(seconds, partial(self._in_worker, job, group))
        self.set_interval(1.0, self.services.check_scheduler)  # no I/O: standby turns running
        if self.vector_search:
            self.set_timer(
                0.5, partial(self._in_worker, self.services.sync_vector_index, "vector-sync")
            )
        if self.services.run_scheduler:
            self.call_after_refresh(self._in_worker, self.services.start_scheduler, "scheduler")
        if self.notice is not None:
            self.on_notice_posted(msg.NoticePosted(self.notice))
        self.check_backends()
        self._in_worker(self.services.check_sync, "sync-status")
        self._in_worker(self.services.check_transcript_purge, "purge")

    # What the start flow's workers found (they post; the flow acts on the UI thread).
    def on_session_missing(self, message: msg.SessionMissing) -> None:
        self.first_run.session_missing(message.session_id)

    def on_first_run_found(self, message: msg.FirstRunFound) -> None:
        self.first_run.offer(message.transcripts)

    def on_demo_loaded(self, message: msg.DemoLoaded) -> None:
        self.first_run.demo_loaded(message)

    # -- the active session and the UI state --------------------------------------
    def set_session(self, session_id: str | None) -> None:
        """Make ``session_id`` the active session (None: none) and remember it."""
        self.session_id = session_id
        self.ui.update(session_id=session_id)
        self.services.set_session(session_id)
        if session_id is not None:
            self._in_worker(self.services.read_session_name, "session-name")
            # Its hot keys and top patterns into L1, off the UI thread.
            self._in_worker(partial(warm_session, self.coordinator, session_id), "warm")
        if (screen := self._mode_screen()) is not None:
            screen.reload()

    def remember_selection(self, mode: str, key: str | None) -> None:
        """Remember the selected row of a screen for the next launch."""
        self.ui.select(mode, key)

    def switch_mode(self, mode: str) -> AwaitMount:
        result = super().switch_mode(mode)
        self.ui.update(mode=mode)
        return result

    # -- live data and the status bar -------------------------------------------
    def _on_local_events(self, events: list[ChangeEvent]) -> None:
        # Called on whichever thread wrote; post_message is thread-safe.
        self.post_message(msg.DataChanged(events))

    @on(msg.DataChanged)
    def forward_change(self, message: msg.DataChanged) -> None:
        if any(e.table == "sessions" for e in message.events) and self.session_id:
            self._in_worker(self.services.read_session_name, "session-name")
        if (screen := self._mode_screen()) is not None:
            screen.post_message(msg.DataChanged(message.events))

    def _mode_screen(self) -> Any:
        """The active screen when it shows data (it has ``reload``); None when shutting down."""
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down: nothing left to refresh
            return None
        return screen if hasattr(screen, "reload") else None

    def on_status_changed(self, message: msg.StatusChanged) -> None:
        self.status = message.snapshot
        self.status_signal.publish(message.snapshot)

    def check_backends(self) -> None:
        """Re-read which backends are up and whether the latest backup failed (a worker)."""
        self._in_worker(self.services.check_backends, "backends")

    def request_restore(self, backup_id: str) -> None:
        """Close the app so that launch() restores ``backup_id`` and reopens the data dir.

        The database file is replaced while nothing has it open, so the restore
        runs after this app's coordinator is closed (see ``launch``).
        """
        self.restore_backup_id = backup_id
        self.exit(return_code=RELAUNCH)

    def on_unmount(self) -> None:
        self.services.stop_scheduler()
        self.ui.flush()
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
