"""The app: modes, keys, the command palette, the live feed and restore-on-launch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.command import Provider
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState

from claude_tui.app.commands import ScreenCommands
from claude_tui.app.dialogs.confirm import ConfirmDialog
from claude_tui.app.dialogs.error import ErrorDialog
from claude_tui.app.dialogs.import_dialog import ImportDialog, ImportOutcome
from claude_tui.app.formatting import plural
from claude_tui.app.keys import bindings_of, check_keymap, effective, shown_keys
from claude_tui.app.messages import DataChanged
from claude_tui.app.screens.agents import AgentsScreen
from claude_tui.app.screens.backups import BackupsScreen, latest_backup_failure
from claude_tui.app.screens.help import HelpScreen
from claude_tui.app.screens.memory import MemoryScreen
from claude_tui.app.screens.metrics import MetricsScreen
from claude_tui.app.screens.patterns import PatternsScreen
from claude_tui.app.screens.sessions import SessionsScreen
from claude_tui.app.screens.sync import SyncScreen
from claude_tui.app.screens.tasks import TasksScreen
from claude_tui.app.state import UIState
from claude_tui.app.sync_info import SyncSummary
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.durability.scheduler import Scheduler
from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.events import ChangeEvent

STYLES = Path(__file__).resolve().parent.parent / "styles"
MODE_KEYS = {
    "sessions": ("1", "Sessions"),
    "agents": ("2", "Agents"),
    "tasks": ("3", "Tasks"),
    "memory": ("4", "Memory"),
    "patterns": ("5", "Patterns"),
    "metrics": ("6", "Metrics"),
    "backups": ("7", "Backups"),
    "swarm": ("8", "Swarm"),
}
SCREENS = Binding.Group("Screens")
THEMES = ("textual-dark", "textual-light")
POLL_SECONDS = 0.25
SYNC_CHECK_SECONDS = 2.0
# The app's return code when it asks launch() to reopen the data dir (after a restore).
RELAUNCH = 75


@dataclass(frozen=True)
class Notice:
    """A message for the user as soon as the app is up (e.g. after a restore)."""

    message: str
    title: str = ""
    severity: SeverityLevel = "information"


def _discovered_transcripts() -> list[Path]:
    """The user's Claude Code transcripts (``~/.claude/projects`` and the like)."""
    from claude_tui.core.importers.claude_code import discover_transcripts

    return discover_transcripts()


class ClaudeTUIApp(App[int]):
    """claude-tui's terminal app over one memory coordinator."""

    TITLE = "claude-tui"
    CSS_PATH = STYLES / "app.tcss"
    MODES = {
        "sessions": SessionsScreen,
        "agents": AgentsScreen,
        "tasks": TasksScreen,
        "memory": MemoryScreen,
        "patterns": PatternsScreen,
        "metrics": MetricsScreen,
        "backups": BackupsScreen,
        "swarm": SyncScreen,
    }
    # The footer shows a screen's own keys first, then these: help and quit before the
    # eight screen switches, which share one compact "Screens" entry (help names each).
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        *(
            Binding(key, f"switch_mode('{mode}')", label, id=f"mode.{mode}", group=SCREENS)
            for mode, (key, label) in MODE_KEYS.items()
        ),
        Binding("i", "import", "Import Claude Code history", id="app.import", show=False),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False),
    ]
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
        notice: Notice | None = None,
        find_transcripts: Callable[[], list[Path]] | None = None,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.coordinator = coordinator
        # The user's [keys] (binding id -> keys), checked against every binding of the app:
        # a mistyped id fails the start with one line and a suggestion (ConfigError, exit 2).
        self.keymap = check_keymap(
            coordinator.config.keys if keymap is None else keymap,
            where=str(coordinator.config.data_dir / "config.toml"),
        )
        self.data_dir = coordinator.config.data_dir
        self.fresh = fresh
        self.requested_session = session_id
        self.poll_seconds = poll_seconds
        # Pattern search by meaning; the model and Chroma load off the first paint.
        self.vector_search = vector_search
        self.state = UIState() if fresh else UIState.load(self.data_dir)
        self.session_id: str | None = None
        self._session_name = ""
        self._state_dirty = False
        self._backends: dict[str, bool | None] = {"SQLite": True, "Redis": None, "Chroma": None}
        self._sync = SyncSummary("off" if coordinator.sync is None else "checking")
        # Backups and jobs run while the app is open (off in tests unless asked for).
        self.run_scheduler = scheduler
        # Built here (no I/O) so that every thread sees the same two objects.
        self._scheduler: Scheduler = Scheduler(coordinator)
        self._backup_service: BackupService = BackupService(coordinator.config, coordinator)
        self._scheduler_state = "off"
        self._scheduler_lock = threading.Lock()  # start (a worker) and stop (exit) never overlap
        self._scheduler_closed = False
        self._backup_failure: str | None = None
        self.notice = notice  # said once the app is up (e.g. "restored from backup X")
        # Where the first run looks for the user's Claude Code history (tests pass their own).
        self.find_transcripts = find_transcripts or _discovered_transcripts
        self.restore_backup_id: str | None = None  # set when exiting with RELAUNCH

    # -- start-up -------------------------------------------------------------
    def on_mount(self) -> None:
        if self.keymap:
            from claude_tui.app.keys import keymap_clashes

            self.set_keymap(self.keymap)
            for clash in keymap_clashes(self.keymap):
                self.notify(clash, title="Keys", severity="warning", timeout=12)
        self.theme = self.state.theme if self.state.theme in THEMES else THEMES[0]
        self._unsubscribe = self.coordinator.events.subscribe(self._on_local_events)
        self.start_sync()
        self.restore()
        self.set_interval(self.poll_seconds, self.poll)
        self.set_interval(3.0, self.check_backends)
        self.set_interval(SYNC_CHECK_SECONDS, self.check_sync)
        self.set_interval(1.0, self.flush_state_in_background)
        if self.vector_search:
            self.set_timer(0.5, self.sync_vector_index)
        if self.run_scheduler:
            self._scheduler_state = "starting"
            self.call_after_refresh(self.start_scheduler)
        if self.notice is not None:
            self.notify(
                self.notice.message, title=self.notice.title, severity=self.notice.severity,
                timeout=12,
            )  # fmt: skip
        self.check_backends()
        self.check_sync()
        self.check_transcript_purge()

    @work(thread=True, group="purge", exit_on_error=False)
    def check_transcript_purge(self) -> None:
        """Once per launch: say so when Claude Code deletes transcripts the archive keeps."""
        from claude_tui.core.archive import purge
        from claude_tui.core.archive.store import TranscriptArchive

        state = purge.status(TranscriptArchive(self.coordinator))
        if state.warn and state.archived_sessions:
            self.call_from_thread(
                self.notify, state.line(), title="Claude Code transcripts", severity="warning",
                timeout=12,
            )  # fmt: skip

    def restore(self) -> None:
        """Reopen the last session, screen and row (or what ``--session`` asked for)."""
        mode = self.state.mode if self.state.mode in self.MODES else "sessions"
        wanted = self.requested_session or (None if self.fresh else self.state.session_id)
        if wanted is None:
            self.switch_mode("sessions" if self.fresh else mode)
            self.first_run_check()
            return
        # Paint the restored screen at once; a worker checks the session still exists.
        self.set_session(wanted)
        self.switch_mode(mode if not self.requested_session or mode != "sessions" else "memory")
        self.verify_session(wanted)

    @work(thread=True, group="restore", exit_on_error=False)
    def verify_session(self, session_id: str) -> None:
        try:
            self.coordinator.sessions.get(session_id)
        except ClaudeTUIError:
            self.call_from_thread(self.session_vanished, session_id)

    def session_vanished(self, session_id: str) -> None:
        """The restored session is gone: say so and open the sessions list."""
        self.set_session(None)
        self.switch_mode("sessions")
        self.notify(
            f"The last session ({session_id}) no longer exists; pick another.",
            title="Session not found",
            severity="warning",
            timeout=8,
        )

    @work(thread=True, group="first-run", exit_on_error=False)
    def first_run_check(self) -> None:
        empty = not self.coordinator.sessions.list(limit=1)
        if not empty or self.state.demo_offered:
            return
        found = [] if self.state.import_offered else self.find_transcripts()
        if found:
            self.call_from_thread(self.offer_import, found)
        else:
            self.call_from_thread(self.offer_demo)

    def offer_import(self, found: list[Path]) -> None:
        """First run with the user's Claude Code history on disk: offer to import it."""

        def answered(yes: bool | None) -> None:
            self.state.import_offered = True
            self.save_state()
            if yes:
                self.open_import(found, start=True)
            else:
                self.offer_demo()

        folders = sorted({str(p.parent.parent) for p in found})
        self.push_screen(
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
        self.push_screen(
            ImportDialog(self.coordinator, self.find_transcripts, paths=paths, start=start),
            self.imported,
        )

    def imported(self, outcome: ImportOutcome | None) -> None:
        """After an import: open the newest session and let the screens reload."""
        if outcome is None or not outcome.sessions:
            return
        if outcome.newest_session is not None and self.session_id is None:
            self.set_session(outcome.newest_session)
        self.post_message(DataChanged([]))

    def action_import(self) -> None:
        """Import Claude Code transcripts, at any time (not only on the first run)."""
        self.open_import()

    def offer_demo(self) -> None:
        def answered(yes: bool | None) -> None:
            self.state.demo_offered = True
            self.save_state()
            if yes:
                self.load_demo()

        self.push_screen(
            ConfirmDialog(
                "No sessions yet. Load the demo swarm?",
                "3 sessions, agents, task trees 4 levels deep, a few hundred memory entries and "
                "some patterns, so there is something to look at. You can delete it later.",
                "Load demo",
                destructive=False,
            ),
            answered,
        )

    @work(thread=True, group="demo", exit_on_error=False)
    def load_demo(self) -> None:
        from claude_tui.core.demo import load_demo

        counts = load_demo(self.coordinator)
        first = self.coordinator.sessions.list(status="active", limit=1)
        loaded = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        self.call_from_thread(self.notify, f"Loaded {loaded}.", title="Demo swarm")
        if first:
            self.call_from_thread(self.set_session, first[-1].id)
        self.call_from_thread(self.post_message, DataChanged([]))

    # -- the active session ---------------------------------------------------
    @work(thread=True, group="warm", exclusive=True, exit_on_error=False)
    def warm_session(self, session_id: str) -> None:
        """Read the session's hot keys and top patterns into L1, off the UI thread."""
        from claude_tui.core.search.warm import warm_session

        warm_session(self.coordinator, session_id)

    def set_session(self, session_id: str | None) -> None:
        """Make ``session_id`` the active session (None: none) and remember it."""
        self.session_id = session_id
        self.state.session_id = session_id
        self._session_name = ""
        if session_id is not None:
            self.set_session_name_later()
            self.warm_session(session_id)
        self.save_state()
        self.refresh_status()
        try:
            screen = self.screen
        except ScreenStackError:
            return
        if hasattr(screen, "reload"):
            screen.reload()

    def session_label(self) -> str:
        """How the active session is shown in the status bar."""
        if self.session_id is None:
            return "none"
        return (
            f"{self._session_name} ({self.session_id})" if self._session_name else self.session_id
        )

    # -- state ----------------------------------------------------------------
    def remember_selection(self, mode: str, key: str | None) -> None:
        """Remember the selected row of a screen for the next launch."""
        if key is None or self.state.selected.get(mode) == key:
            return
        self.state.selected[mode] = key
        self.save_state()

    def save_state(self) -> None:
        """Mark where the user is as changed; it is written within a second, and at exit."""
        self._state_dirty = True

    def flush_state(self) -> None:
        """Write the UI state if it changed (best effort: a read-only dir is not an error)."""
        if not self._state_dirty:
            return
        self._state_dirty = False
        try:
            self.state.save(self.data_dir)
        except OSError as exc:
            self.log.warning(f"could not save UI state: {exc}")

    @work(thread=True, exclusive=True, group="state", exit_on_error=False)
    def flush_state_in_background(self) -> None:
        self.flush_state()

    def _on_mode_changed(self, mode: str) -> None:
        self.state.mode = mode
        self.save_state()
        self.refresh_status()

    def switch_mode(self, mode: str) -> AwaitMount:
        result = super().switch_mode(mode)
        self._on_mode_changed(mode)
        return result

    # -- live data ------------------------------------------------------------
    def _on_local_events(self, events: list[ChangeEvent]) -> None:
        # Called on whichever thread wrote; post_message is thread-safe.
        self.post_message(DataChanged(events))

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def poll(self) -> None:
        """Pick up other processes' writes (they reach the screens via the event bus)."""
        self.coordinator.poll_changes()

    @on(DataChanged)
    def forward_change(self, message: DataChanged) -> None:
        if any(e.table == "sessions" for e in message.events) and self.session_id:
            self.set_session_name_later()
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down: nothing left to refresh
            return
        if hasattr(screen, "reload"):
            screen.post_message(DataChanged(message.events))

    @work(thread=True, exclusive=True, group="session-name", exit_on_error=False)
    def set_session_name_later(self) -> None:
        if self.session_id is None:
            return
        try:
            name = self.coordinator.sessions.get(self.session_id).name or ""
        except ClaudeTUIError:
            name = ""
        self._session_name = name
        self.call_from_thread(self.refresh_status)

    @work(thread=True, group="vector-sync", exit_on_error=False)
    def sync_vector_index(self) -> None:
        """At start, after the first paint: compare SQLite and Chroma and repair drift."""
        learner = self.coordinator.learning
        report = learner.ensure_synced(full=True)
        self.coordinator.search.start_indexer()  # memory's vectors follow the change log
        if report:
            self.call_from_thread(
                self.notify,
                f"added {report['added']}, removed {report['removed']}, "
                f"applied {report['queue']} queued writes",
                title="Vector index repaired",
            )
        self.check_backends()

    @work(thread=True, exclusive=True, group="backends", exit_on_error=False)
    def check_backends(self) -> None:
        report = self.coordinator.backends()
        learner = self.coordinator.learning_started
        self._backends = {
            "SQLite": report["sqlite"]["up"],
            # Turned off (config or no redis-server): "–", not a red "down".
            "Redis": report["redis"]["up"] if report["redis"]["url"] else None,
            "Chroma": None if learner is None else learner.index.available(),
        }
        self._backup_failure = latest_backup_failure(self.backups, self.scheduler)
        self.call_from_thread(self.refresh_status)

    def backend_status(self) -> dict[str, bool | None]:
        """Which backends are up (None: not part of this build), for the status bar."""
        return dict(self._backends)

    # -- cross-host sync ------------------------------------------------------
    def start_sync(self) -> None:
        """Follow the swarm's stream in the engine's own thread (when sync is on).

        Each batch it applies is published on the event bus like any other
        process's writes, so the screens pick remote changes up as they come.
        The coordinator stops the thread when it is closed.
        """
        if self.coordinator.sync is not None:
            self.coordinator.sync.start()

    @work(thread=True, exclusive=True, group="sync-status", exit_on_error=False)
    def check_sync(self) -> None:
        """Read the sync state for the top bar (network I/O: hence a worker)."""
        summary = SyncSummary.read(self.coordinator)
        sync = self.coordinator.sync
        notices = sync.take_notices() if sync is not None else []  # e.g. a full resync
        self.call_from_thread(self.note_sync, summary)
        for notice in notices:
            self.call_from_thread(
                self.notify, notice.removeprefix("sync: "), title="Sync", severity="warning",
                timeout=10,
            )  # fmt: skip

    def note_sync(self, summary: SyncSummary) -> None:
        """Show a fresh reading of the sync state in the top bar."""
        if summary != self._sync:
            self._sync = summary
            self.refresh_status()

    def sync_summary(self) -> SyncSummary:
        """The top bar's sync entry (as last read by a worker)."""
        return self._sync

    # -- backups and the scheduler --------------------------------------------
    @property
    def scheduler(self) -> Scheduler:
        """The jobs of this data dir; running only when the app started it.

        Its methods do I/O: call them from workers only.
        """
        return self._scheduler

    @property
    def backups(self) -> BackupService:
        """The backups of this data dir (call its methods from workers only: they do I/O)."""
        return self._backup_service

    @work(thread=True, exclusive=True, group="scheduler", exit_on_error=False)
    def start_scheduler(self) -> None:
        """Start the background jobs (or wait in standby while another process runs them)."""
        with self._scheduler_lock:
            if self._scheduler_closed:
                return
            try:
                self.scheduler.start()
            finally:
                self._scheduler_state = self.scheduler.state
        self.call_from_thread(self.refresh_status)

    def stop_scheduler(self) -> None:
        """Stop the jobs, waiting for a running one to finish (blocking: call at exit)."""
        with self._scheduler_lock:
            self._scheduler_closed = True
            if self._scheduler.state != "stopped":
                self._scheduler.stop()
            self._scheduler_state = "off"

    def scheduler_state(self) -> str:
        """``running`` (this app runs the jobs), ``standby`` (another process does),
        ``starting`` or ``off``."""
        state = self._scheduler_state
        if state in ("running", "standby"):
            state = self._scheduler.state  # standby turns running when the lease is freed
        return state if state in ("running", "standby", "starting") else "off"

    def scheduler_status(self) -> tuple[str, str]:
        """The status bar's scheduler entry: ``(text, style)``."""
        if self._backup_failure is not None:
            return "backup FAILED", "bold red"
        state = self.scheduler_state()
        return state, {"running": "green", "standby": "yellow"}.get(state, "dim")

    def request_restore(self, backup_id: str) -> None:
        """Close the app so that launch() restores ``backup_id`` and reopens the data dir.

        The database file is replaced while nothing has it open, so the restore
        runs after this app's coordinator is closed (see ``launch``).
        """
        self.restore_backup_id = backup_id
        self.exit(return_code=RELAUNCH)

    def refresh_status(self) -> None:
        """Redraw the status bar now rather than at its next tick."""
        try:
            bars = self.screen.query(StatusBar)
        except ScreenStackError:
            return
        for bar in bars:
            bar.refresh()

    def on_screen_resume(self) -> None:
        self.refresh_status()

    # -- errors -----------------------------------------------------------------
    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """One place where every worker's error becomes a message to the user."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, ClaudeTUIError):
            self.notify(error.message, title=error.title, severity="error", timeout=8)
        else:
            self.push_screen(
                ErrorDialog("Something went wrong", f"{type(error).__name__}: {error}")
            )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a toast; its text is always shown literally.

        Notifications carry user and config text (keys, names, paths, "[sync] url"),
        so they are never parsed as markup, whatever a caller passes.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- keys, palette, theme -----------------------------------------------
    def key_rows(self, screen: Screen[Any] | None = None) -> list[tuple[str, str, str, str]]:
        """``(where, keys, what, binding id)`` for every key of the app and of ``screen``.

        The keys are the effective ones: ``[keys]`` in config.toml moves them.
        """
        screen = self.screen if screen is None else screen
        rows: list[tuple[str, str, str, str]] = []
        where = MODE_KEYS.get(self.current_mode, ("", self.current_mode))[1].lower()
        for owner, node_class in (("everywhere", type(self)), (where, type(screen))):
            for binding in bindings_of(node_class):
                if binding.id and binding.description:
                    keys = shown_keys(effective(binding, self.keymap))
                    rows.append((owner, keys, binding.description, binding.id))
        rows.append(("everywhere", "ctrl+p", "Command palette", ""))
        return rows

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_rows()))

    async def run_screen_action(self, mode: str, action: str | None) -> None:
        """Switch to ``mode`` (when not there) and run ``action`` on its screen (palette)."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        if action is not None:
            await self.screen.run_action(action)

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]
        self.state.theme = self.theme
        self.save_state()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Screen switches and every screen's actions come from ScreenCommands (COMMANDS).
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Import Claude Code history", "Import transcripts, with a progress bar (i)",
            self.action_import,
        )  # fmt: skip
        yield SystemCommand(
            "Load the demo swarm", "Add demo sessions, agents, tasks, memory", self.load_demo
        )
        yield SystemCommand("Toggle light/dark theme", "ctrl+t", self.action_toggle_theme)
        yield SystemCommand("Show keys", "Every key of this screen (?)", self.action_help)

    def on_unmount(self) -> None:
        self.stop_scheduler()
        self.flush_state()
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
