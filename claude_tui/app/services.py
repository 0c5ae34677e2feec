"""The app's background services, without a terminal: status reads, the scheduler, start-up checks.

:class:`BackgroundServices` owns what runs behind the screens: which
backends are up, the sync summary, the scheduler's start, state and stop,
the backup failure rule, the vector index's start-up repair and the
transcript purge check. Every change of what the top bar shows is emitted
as a new immutable :class:`StatusSnapshot`; anything the user should read
once is emitted as a :class:`Notice`. The app passes callbacks that post
those as messages, runs the reading methods in worker threads and never
looks inside.

No Textual here (tests/test_app_services.py checks): the object can be
driven from plain threads, and it holds no widget or app state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from claude_tui.app.sync_info import SyncSummary
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.durability.scheduler import Scheduler
from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

Severity = Literal["information", "warning", "error"]  # Textual's SeverityLevel, spelt out
SchedulerPhase = Literal["off", "starting", "started"]
BACKENDS_UNKNOWN: tuple[tuple[str, bool | None], ...] = (
    ("SQLite", True),
    ("Redis", None),
    ("Chroma", None),
)


@dataclass(frozen=True)
class Notice:
    """A message for the user, shown once as a toast (e.g. "restored from backup X")."""

    message: str
    title: str = ""
    severity: Severity = "information"
    timeout: float | None = 12


@dataclass(frozen=True)
class StatusSnapshot:
    """Everything the top bar shows, at one moment (replaced whole, never changed).

    ``backends``: ``(name, up)`` in display order (up None: not part of this
    build or turned off); ``scheduler``: ``running``, ``standby``,
    ``starting`` or ``off``; ``backup_failure``: why the latest backup
    attempt failed, or None.
    """

    session_id: str | None = None
    session_name: str = ""
    backends: tuple[tuple[str, bool | None], ...] = BACKENDS_UNKNOWN
    sync: SyncSummary = field(default_factory=lambda: SyncSummary("off"))
    scheduler: str = "off"
    backup_failure: str | None = None

    def session_label(self) -> str:
        """How the active session is shown: ``name (id)``, the id, or ``none``."""
        if self.session_id is None:
            return "none"
        return f"{self.session_name} ({self.session_id})" if self.session_name else self.session_id

    def backend_status(self) -> dict[str, bool | None]:
        """Which backends are up, by name (None: not part of this build)."""
        return dict(self.backends)

    def scheduler_status(self) -> tuple[str, str]:
        """The scheduler entry: ``(text, style)``; a failed backup outranks the state."""
        if self.backup_failure is not None:
            return "backup FAILED", "bold red"
        return self.scheduler, {"running": "green", "standby": "yellow"}.get(self.scheduler, "dim")


def backup_failure(backups: BackupService, scheduler: Scheduler) -> str | None:
    """Why the most recent backup attempt failed, or None (the rule: core/metrics.py)."""
    from claude_tui.core import metrics

    try:
        records = backups.list()
    except ClaudeTUIError as exc:  # the manifest itself cannot be read
        return exc.message
    return metrics.latest_backup_failure(records, scheduler.status())


def _ignore(_: Any) -> None:
    return None


class BackgroundServices:
    """What runs behind the app's screens, for one coordinator.

    Args:
        coordinator: the open coordinator (closed by its owner, after
            :meth:`stop_scheduler`).
        run_scheduler: whether :meth:`start_scheduler` runs the jobs.
        scheduler: the jobs to run (default: this data dir's default jobs).
        on_status: called with each new snapshot, on the thread that made it,
            in the order the snapshots were made (the app posts a message).
        on_notice: called with each notice, on the thread that found it.

    Methods marked *I/O* block (SQLite, Redis, files): call them from worker
    threads. Every method is safe to call from any thread.
    """

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        *,
        run_scheduler: bool = True,
        scheduler: Scheduler | None = None,
        on_status: Callable[[StatusSnapshot], object] = _ignore,
        on_notice: Callable[[Notice], object] = _ignore,
    ) -> None:
        self.coordinator = coordinator
        # Built here (no I/O) so that every thread sees the same two objects.
        self.scheduler = Scheduler(coordinator) if scheduler is None else scheduler
        self.backups = BackupService(coordinator.config, coordinator)
        self.run_scheduler = run_scheduler
        self._on_status = on_status
        self._on_notice = on_notice
        self._phase: SchedulerPhase = "starting" if run_scheduler else "off"
        self._scheduler_lock = threading.Lock()  # start (a worker) and stop (exit) never overlap
        self._scheduler_closed = False
        # Guards the snapshot; held while emitting so that snapshots arrive in order.
        self._lock = threading.Lock()
        sync = SyncSummary("off" if coordinator.sync is None else "checking")
        self._snapshot = StatusSnapshot(sync=sync, scheduler=self.scheduler_state())

    @property
    def snapshot(self) -> StatusSnapshot:
        """The latest snapshot."""
        with self._lock:
            return self._snapshot

    def _update(self, **changes: Any) -> None:
        """Replace the snapshot with ``changes`` applied; emit it when it differs."""
        with self._lock:
            new = replace(self._snapshot, **changes)
            if new == self._snapshot:
                return
            self._snapshot = new
            self._on_status(new)

    # -- the top bar's readings ------------------------------------------------
    def check_backends(self) -> None:
        """*I/O*: read which backends are up and whether the latest backup failed."""
        report = self.coordinator.backends()
        learner = self.coordinator.learning_started
        backends = (
            ("SQLite", report["sqlite"]["up"]),
            # Turned off (config or no redis-server): "–", not a red "down".
            ("Redis", report["redis"]["up"] if report["redis"]["url"] else None),
            ("Chroma", None if learner is None else learner.index.available()),
        )
        failure = backup_failure(self.backups, self.scheduler)
        self._update(backends=backends, backup_failure=failure, scheduler=self.scheduler_state())

    def start_sync(self) -> None:
        """Follow the swarm's stream in the engine's own thread (when sync is on).

        Each batch it applies is published on the event bus like any other
        process's writes, so the screens pick remote changes up as they come.
        The coordinator stops the thread when it is closed.
        """
        if self.coordinator.sync is not None:
            self.coordinator.sync.start()

    def check_sync(self) -> None:
        """*I/O* (network when sync is on): read the sync summary; pass on the engine's notices."""
        summary = SyncSummary.read(self.coordinator)
        sync = self.coordinator.sync
        notices = sync.take_notices() if sync is not None else []  # e.g. a full resync
        self.note_sync(summary)
        for text in notices:
            self._on_notice(Notice(text.removeprefix("sync: "), "Sync", "warning", timeout=10))

    def note_sync(self, summary: SyncSummary) -> None:
        """Take a sync summary read elsewhere (the sync screen reads the same status)."""
        self._update(sync=summary)

    def set_session(self, session_id: str | None) -> None:
        """The active session changed: show its id until :meth:`read_session_name` runs."""
        self._update(session_id=session_id, session_name="")

    def read_session_name(self) -> None:
        """*I/O*: read the active session's name for the bar (a rename shows too)."""
        session_id = self.snapshot.session_id
        if session_id is None:
            return
        try:
            name = self.coordinator.sessions.get(session_id).name or ""
        except ClaudeTUIError:
            name = ""
        with self._lock:
            # Another session was picked while this one was read: its own read names it.
            if self._snapshot.session_id != session_id or self._snapshot.session_name == name:
                return
            self._snapshot = replace(self._snapshot, session_name=name)
            self._on_status(self._snapshot)

    # -- the scheduler -----------------------------------------------------------
    def start_scheduler(self) -> None:
        """*I/O*: start the jobs (or wait in standby while another process runs them)."""
        with self._scheduler_lock:
            if self._scheduler_closed or not self.run_scheduler:
                return
            try:
                self.scheduler.start()
            finally:
                self._phase = "started"
                self.check_scheduler()

    def stop_scheduler(self) -> None:
        """Stop the jobs, waiting for a running one to finish (blocking: call at exit)."""
        with self._scheduler_lock:
            self._scheduler_closed = True
            if self.scheduler.state != "stopped":
                self.scheduler.stop()
            self._phase = "off"
            self.check_scheduler()

    def scheduler_state(self) -> str:
        """``running`` (this app runs the jobs), ``standby`` (another process does),
        ``starting`` or ``off``."""
        if self._phase != "started":
            return self._phase
        state = self.scheduler.state  # standby turns running when the lease is freed
        return state if state in ("running", "standby") else "off"

    def check_scheduler(self) -> None:
        """Emit a snapshot when the scheduler's state moved (no I/O: an attribute read)."""
        self._update(scheduler=self.scheduler_state())

    # -- once per launch -------------------------------------------------------------
    def sync_vector_index(self) -> None:
        """*I/O*: compare SQLite and Chroma, repair drift, start the indexer, re-read backends."""
        report = self.coordinator.learning.ensure_synced(full=True)
        self.coordinator.search.start_indexer()  # memory's vectors follow the change log
        if report:
            self._on_notice(
                Notice(
                    f"added {report['added']}, removed {report['removed']}, "
                    f"applied {report['queue']} queued writes",
                    "Vector index repaired",
                    timeout=None,
                )
            )
        self.check_backends()

    def check_transcript_purge(self) -> None:
        """*I/O*: say so when Claude Code deletes transcripts the archive keeps."""
        from claude_tui.core.archive import purge
        from claude_tui.core.archive.store import TranscriptArchive

        state = purge.status(TranscriptArchive(self.coordinator))
        if state.warn and state.archived_sessions:
            self._on_notice(Notice(state.line(), "Claude Code transcripts", "warning"))
