"""The scheduler: backups, TTL purge, retention and automatic checkpoints.

It runs inside the app (a background thread pool) and as the headless
``claude-tui worker``. Any number of processes may open a data dir, but only
the one holding the lease (``<data dir>/scheduler.lock``, an ``flock`` the OS
drops when the holder dies) runs jobs; the others stay in standby and retry.

Each job's last run, outcome and message live in the ``meta`` table
(``job.<name>.last_run``, ``.last_status``, ``.last_message``), so every
process can show them, and a scheduler that starts (or takes the lease over)
runs each job whose fire time passed while nothing ran, once (missed runs are
coalesced). Due times come from the data dir, never from when a process
started: from the last recorded run, or for a job that never ran from when a
scheduler first planned it there (``job.<name>.since``), so restarting the app
every few minutes does not push an hourly job back each time. APScheduler is
imported only when a scheduler is built.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from claude_tui.core.durability.lease import Lease, exclusive
from claude_tui.core.errors import NotFound

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

State = Literal["running", "standby", "stopped"]
TriggerFactory = Callable[[], Any]
"""A zero-argument callable returning a fresh APScheduler 3 trigger."""
JobFunc = Callable[["MemoryCoordinator"], object]
"""A job body. It returns None or a message (ok), or ``(status, message)`` with
status ``ok``, ``skipped`` or ``failed``; an exception means failed."""

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
DEFAULT_JOB_NAMES = ("full", "differential", "incremental", "retention", "purge", "checkpoints")


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job.

    Attributes:
        name: unique name; also the APScheduler job id and the ``meta`` key part.
        trigger: factory of the APScheduler trigger (see :func:`every`, :func:`daily`).
        func: the body, called with the coordinator.
        run_if_never: whether a job with no recorded run is due at start.
        group: jobs of one group never run at the same time (across processes too).
    """

    name: str
    trigger: TriggerFactory
    func: JobFunc
    run_if_never: bool = False
    group: str | None = None


@dataclass(frozen=True)
class JobStatus:
    """What the app shows for one job (times are epoch seconds)."""

    name: str
    next_run: float | None
    last_run: float | None
    last_status: str | None
    last_message: str | None
    running: bool = False


def every(*, seconds: float = 0, minutes: float = 0, hours: float = 0) -> TriggerFactory:
    """A factory of ``IntervalTrigger``\\ s firing every given period."""

    def make() -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=seconds, minutes=minutes, hours=hours)

    return make


def daily(hour: int, minute: int) -> TriggerFactory:
    """A factory of ``CronTrigger``\\ s firing every day at ``hour:minute`` local time."""

    def make() -> Any:
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(hour=hour, minute=minute)

    return make


def next_fire_after(trigger: Any, last_run: float) -> float | None:
    """The first fire time of ``trigger`` strictly after ``last_run`` (None: never again)."""
    previous = datetime.fromtimestamp(last_run, UTC)
    found = trigger.get_next_fire_time(previous, previous)
    return None if found is None else float(found.timestamp())


# -- the default jobs ---------------------------------------------------------
def _describe(record: object) -> tuple[str, str]:
    status = str(getattr(record, "status", OK) or OK)
    for attr in ("message", "reason", "error", "note"):
        text = getattr(record, attr, None)
        if text:
            return status, str(text)
    parts = [
        f"{attr}={getattr(record, attr)}"
        for attr in ("kind", "id", "size", "file")
        if getattr(record, attr, None) not in (None, "")
    ]
    return status, " ".join(parts)


def _backup_service(c: MemoryCoordinator) -> Any:
    """The backup service of the coordinator's data dir (imported on first use)."""
    from claude_tui.core.durability.backups import BackupService

    return BackupService(c.config, c)


def _backup(kind: str) -> JobFunc:
    def run(c: MemoryCoordinator) -> tuple[str, str]:
        record = _backup_service(c).run(kind)
        status, message = _describe(record)
        if getattr(record, "kind", kind) != kind and record.note:
            # e.g. the first incremental after a restore: a full, and why (not a bare "ok")
            message = f"{record.kind} backup {record.id}: {record.note}"
        return status, message

    run.__name__ = f"backup_{kind}"
    return run


def _retention(c: MemoryCoordinator) -> str:
    """Backup retention, checkpoint pruning and change-log pruning; all three are tried."""
    done: list[str] = []
    errors: list[str] = []

    def step(label: str, body: Callable[[], int]) -> None:
        try:
            done.append(f"{body()} {label}")
        except Exception as exc:
            log.error("retention: %s failed: %s", label, exc, exc_info=True)
            errors.append(f"{label}: {_error_text(exc)}")

    def backups() -> int:
        return len(_backup_service(c).prune())

    def checkpoints() -> int:
        from claude_tui.core.durability.checkpoints import CheckpointService

        return CheckpointService(c).prune()

    step("backups removed", backups)
    step("checkpoints pruned", checkpoints)
    step("change-log rows pruned", lambda: c.prune_change_log(c.config.change_log_keep_days))
    if errors:
        raise RuntimeError("; ".join(errors))
    return ", ".join(done)


def _purge(c: MemoryCoordinator) -> str:
    return f"{c.memory.purge_expired()} expired entries purged"


def _checkpoints(c: MemoryCoordinator) -> str:
    from claude_tui.core.durability.checkpoints import CheckpointService

    return f"{CheckpointService(c).auto_checkpoint_all()} checkpoints taken"


def default_jobs(c: MemoryCoordinator) -> list[JobSpec]:
    """The six standard jobs, timed by the coordinator's config.

    Never-run policy: ``full`` and ``purge`` are due at first start (a new data
    dir gets its first full backup at once; purging is cheap). Incremental and
    differential backups, retention and checkpoints first fire one period later.
    """
    from claude_tui.core.config import full_at_hour_minute

    cfg = c.config
    hour, minute = full_at_hour_minute(cfg.backup_full_at)
    return [
        JobSpec("full", daily(hour, minute), _backup("full"), run_if_never=True, group="backup"),
        JobSpec(
            "differential",
            every(minutes=cfg.backup_differential_minutes),
            _backup("differential"),
            group="backup",
        ),
        JobSpec(
            "incremental",
            every(minutes=cfg.backup_incremental_minutes),
            _backup("incremental"),
            group="backup",
        ),
        JobSpec("retention", every(minutes=60), _retention, group="backup"),
        JobSpec("purge", every(seconds=cfg.purge_interval_seconds), _purge, run_if_never=True),
        JobSpec("checkpoints", every(minutes=cfg.checkpoint_interval_minutes), _checkpoints),
    ]


def _error_text(exc: BaseException) -> str:
    from claude_tui.core.errors import ClaudeTUIError

    if isinstance(exc, ClaudeTUIError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _outcome(result: object) -> tuple[str, str]:
    if result is None:
        return OK, ""
    if isinstance(result, str):
        return OK, result
    if isinstance(result, tuple) and len(result) == 2:
        status, message = result
        if status not in (OK, SKIPPED, FAILED):
            return FAILED, f"job returned an unknown status {status!r}"
        return str(status), str(message or "")
    return OK, str(result)


# -- the scheduler --------------------------------------------------------------
class Scheduler:
    """Runs the jobs of one data dir while holding its lease.

    Args:
        coordinator: the open coordinator the jobs work on (closed by its owner,
            after :meth:`stop`).
        jobs: the jobs (default: :func:`default_jobs`).
        blocking: :meth:`start` blocks until :meth:`request_stop` (the worker).
        clock: wall clock used for recorded run times and due checks.
        lease_retry: seconds between attempts to take the lease in standby.
        misfire_grace_time: seconds a run may be late and still run; a run
            missed by more (a laptop asleep) triggers one coalesced run at once.
    """

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        *,
        jobs: Sequence[JobSpec] | None = None,
        blocking: bool = False,
        clock: Callable[[], float] = time.time,
        lease_retry: float = 5.0,
        misfire_grace_time: int = 3600,
    ) -> None:
        self.coordinator = coordinator
        specs = list(default_jobs(coordinator) if jobs is None else jobs)
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self._specs = {s.name: s for s in specs}
        self.blocking = blocking
        self.clock = clock
        self.lease_retry = lease_retry
        self.misfire_grace_time = misfire_grace_time
        data_dir: Path = coordinator.config.data_dir
        self._lease = Lease(data_dir / "scheduler.lock")
        self._locks_dir = data_dir / "locks"
        self._state: State = "stopped"
        self._state_lock = threading.RLock()
        self._group_locks = {s.group or s.name: threading.Lock() for s in specs}
        self._running: set[str] = set()
        self._stop_event = threading.Event()
        self._lease_thread: threading.Thread | None = None
        self._aps: Any = None

    # -- properties ---------------------------------------------------------
    @property
    def state(self) -> State:
        """``running`` (holds the lease), ``standby`` (waits for it) or ``stopped``."""
        return self._state

    @property
    def job_names(self) -> list[str]:
        return list(self._specs)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lease: ``{pid, host, started_at, self}``, or None."""
        return self._lease.holder()

    # -- life cycle -----------------------------------------------------------
    def start(self) -> None:
        """Start: take the lease or go to standby; in blocking mode, run until asked to stop."""
        from apscheduler.events import EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        with self._state_lock:
            if self._state != "stopped":
                raise RuntimeError("the scheduler is already started")
            self._stop_event.clear()
            self._aps = BackgroundScheduler(
                executors={"default": ThreadPoolExecutor(max_workers=4)},
                job_defaults={
                    "coalesce": True,
                    "max_instances": 1,
                    "misfire_grace_time": self.misfire_grace_time,
                },
            )
            self._aps.add_listener(self._on_missed, EVENT_JOB_MISSED)
            self._aps.start()
            self._state = "standby"
            if not self._try_take_lease():
                info = self._lease.holder() or {}
                log.info(
                    "standby: the scheduler lease is held by pid %s on %s",
                    info.get("pid"),
                    info.get("host"),
                )
            self._lease_thread = threading.Thread(
                target=self._lease_loop, name="claude-tui-scheduler-lease", daemon=True
            )
            self._lease_thread.start()
        if self.blocking:
            while not self._stop_event.wait(0.5):
                pass
            self.stop()

    def request_stop(self) -> None:
        """Ask a blocking :meth:`start` to return (safe from a signal handler)."""
        self._stop_event.set()

    def stop(self) -> None:
        """Wait for running jobs to finish, stop, and release the lease (idempotent)."""
        self._stop_event.set()
        thread, self._lease_thread = self._lease_thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._state_lock:
            aps, self._aps = self._aps, None
            if aps is not None and aps.running:
                aps.shutdown(wait=True)
            self._lease.release()
            self._state = "stopped"

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _lease_loop(self) -> None:
        while not self._stop_event.wait(self.lease_retry):
            if self._state == "standby":
                try:
                    self._try_take_lease()
                except Exception:
                    log.exception("could not take the scheduler lease")

    def _try_take_lease(self) -> bool:
        with self._state_lock:
            if self._state != "standby" or self._stop_event.is_set():
                return self._state == "running"
            if not self._lease.acquire(self.clock()):
                return False
            self._state = "running"
            log.info("took the scheduler lease; %d jobs scheduled", len(self._specs))
            self._schedule_all()
            return True

    def _schedule_all(self) -> None:
        now = self.clock()
        meta = self._anchored(now)
        for spec in self._specs.values():
            trigger = spec.trigger()
            last = _anchor(meta, spec.name)
            kwargs: dict[str, Any] = {}
            if self._is_due(spec, trigger, meta, now):
                kwargs["next_run_time"] = datetime.fromtimestamp(now, UTC)  # one catch-up run
            elif last is not None:
                upcoming = next_fire_after(trigger, last)
                if upcoming is not None:  # from the data dir's record, not from now
                    kwargs["next_run_time"] = datetime.fromtimestamp(upcoming, UTC)
            self._aps.add_job(
                self._execute,
                trigger,
                args=(spec.name, "scheduled"),
                id=spec.name,
                name=spec.name,
                replace_existing=True,
                **kwargs,
            )

    def _on_missed(self, event: Any) -> None:
        log.warning(
            "job %s missed its run at %s; running it now", event.job_id, event.scheduled_run_time
        )
        aps = self._aps
        if aps is not None and self._state == "running":
            try:
                aps.modify_job(event.job_id, next_run_time=datetime.now(UTC))
            except Exception:
                log.exception("could not reschedule missed job %s", event.job_id)

    # -- due checks and one-shot runs ------------------------------------------
    def _is_due(self, spec: JobSpec, trigger: Any, meta: dict[str, str], now: float) -> bool:
        if _as_float(meta.get(f"job.{spec.name}.last_run")) is None and spec.run_if_never:
            return True
        last = _anchor(meta, spec.name)
        if last is None:
            return False
        upcoming = next_fire_after(trigger, last)
        return upcoming is not None and upcoming <= now

    def _anchored(self, now: float) -> dict[str, str]:
        """The jobs' meta, after recording ``job.<name>.since`` for jobs that have neither
        a run nor a ``since`` yet (the first time a scheduler plans them in this data dir)."""
        meta = self._meta()
        missing = [
            name
            for name in self._specs
            if f"job.{name}.last_run" not in meta and f"job.{name}.since" not in meta
        ]
        if missing:

            def body(conn: sqlite3.Connection) -> None:
                conn.executemany(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    [(f"job.{name}.since", repr(now)) for name in missing],
                )

            try:
                self.coordinator.store.write(body)
            except Exception as exc:
                _log_failure("could not record when the jobs were first planned", exc)
            meta = self._meta()  # another process may have recorded its own first
        return meta

    def due_jobs(self) -> list[str]:
        """Names of the jobs whose fire time passed since their last run (in job order).

        A job that never ran is due one period after it was first planned in this
        data dir (``job.<name>.since``), or at once when it runs if never.
        """
        now = self.clock()
        meta = self._meta()
        return [s.name for s in self._specs.values() if self._is_due(s, s.trigger(), meta, now)]

    def run_once(self) -> list[JobStatus] | None:
        """Take the lease, run every due job once (in order), release it.

        Returns the statuses of the jobs that ran, or None when another
        scheduler holds the lease (it runs the jobs).
        """
        with self._state_lock:
            if self._state != "stopped":
                raise RuntimeError("run_once needs a stopped scheduler")
            if not self._lease.acquire(self.clock()):
                return None
        try:
            self._anchored(self.clock())  # a worker run by cron plans jobs too
            ran = {name: self._execute(name, "catch-up") for name in self.due_jobs()}
            # What ran counts, also when its record could not be written (read-only, full)
            return [
                replace(s, last_status=ran[s.name][0], last_message=ran[s.name][1])
                for s in self.status()
                if s.name in ran
            ]
        finally:
            self._lease.release()

    def run_now(self, name: str) -> JobStatus:
        """Run one job at once in the calling thread and return its new status.

        Serialised with scheduled runs: it waits while the same job (or one of
        its group) runs here or in another process. Works in standby too.

        Raises:
            NotFound: no job of that name.
        """
        if name not in self._specs:
            raise NotFound(f"no scheduled job named {name!r}")
        self._execute(name, "manual")
        return next(s for s in self.status() if s.name == name)

    # -- running one job -------------------------------------------------------
    def _execute(self, name: str, reason: str) -> tuple[str, str]:
        spec = self._specs[name]
        group = spec.group or spec.name
        with self._group_locks[group], exclusive(self._locks_dir / f"job.{group}.lock"):
            self._running.add(name)
            started = self.clock()
            t0 = time.monotonic()
            log.debug("job %s starting (%s)", name, reason)
            try:
                status, message = _outcome(spec.func(self.coordinator))
            except Exception as exc:
                status, message = FAILED, _error_text(exc)
                log.debug("job %s raised", name, exc_info=True)
            finally:
                self._running.discard(name)
            elapsed = time.monotonic() - t0
            self._record(name, started, status, message)
            if status == FAILED:
                log.error("job %s FAILED after %.2fs (%s): %s", name, elapsed, reason, message)
                try:
                    self.coordinator.metrics.record(
                        "job.failed", 1, metadata={"job": name, "message": message[:500]}
                    )
                except Exception as exc:
                    _log_failure(f"could not record the failure metric of job {name}", exc)
            else:
                log.info(
                    "job %s %s in %.2fs (%s)%s",
                    name,
                    status,
                    elapsed,
                    reason,
                    f": {message}" if message else "",
                )
            return status, message

    def _record(self, name: str, started: float, status: str, message: str) -> None:
        values = {
            f"job.{name}.last_run": repr(started),
            f"job.{name}.last_status": status,
            f"job.{name}.last_message": message,
        }

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

        try:
            self.coordinator.store.write(body)
        except Exception as exc:
            _log_failure(f"could not record the run of job {name}", exc)

    # -- status ------------------------------------------------------------------
    def _meta(self) -> dict[str, str]:
        rows = self.coordinator.store.rows("SELECT key, value FROM meta WHERE key LIKE 'job.%'")
        return {str(k): str(v) for k, v in rows}

    def status(self) -> list[JobStatus]:
        """Last and next run of every job, in job order.

        ``next_run`` is APScheduler's plan while this process runs the jobs;
        otherwise the first fire time after the recorded last run, or after the
        job was first planned when it never ran (possibly in the past: due,
        waiting for the lease holder), or None if no scheduler planned it yet.
        """
        meta = self._meta()
        planned: dict[str, float | None] = {}
        aps = self._aps
        if aps is not None and self._state == "running":
            for job in aps.get_jobs():
                nrt = getattr(job, "next_run_time", None)
                planned[job.id] = None if nrt is None else float(nrt.timestamp())
        out: list[JobStatus] = []
        for spec in self._specs.values():
            last = _as_float(meta.get(f"job.{spec.name}.last_run"))
            anchor = _anchor(meta, spec.name)
            if spec.name in planned:
                upcoming = planned[spec.name]
            else:
                upcoming = None if anchor is None else next_fire_after(spec.trigger(), anchor)
            out.append(
                JobStatus(
                    name=spec.name,
                    next_run=upcoming,
                    last_run=last,
                    last_status=meta.get(f"job.{spec.name}.last_status"),
                    last_message=meta.get(f"job.{spec.name}.last_message"),
                    running=spec.name in self._running,
                )
            )
        return out


def _log_failure(what: str, exc: BaseException) -> None:
    """One line for a known condition (a read-only database); a traceback for a bug."""
    from claude_tui.core.errors import ClaudeTUIError

    if isinstance(exc, ClaudeTUIError):
        log.error("%s: %s", what, exc.message)
    else:
        log.error("%s", what, exc_info=exc)


def _anchor(meta: dict[str, str], name: str) -> float | None:
    """What a job's next fire time counts from: its last run, else when it was first planned."""
    last = _as_float(meta.get(f"job.{name}.last_run"))
    return last if last is not None else _as_float(meta.get(f"job.{name}.since"))


def _as_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


# -- the headless worker ----------------------------------------------------------
def run_worker(
    coordinator: MemoryCoordinator,
    *,
    once: bool = False,
    jobs: Sequence[JobSpec] | None = None,
    lease_retry: float = 5.0,
) -> int:
    """``claude-tui worker``: run the jobs in the foreground until SIGINT/SIGTERM.

    Logs one line per job run to stderr. With ``once``, runs whatever is due
    and returns (1 if a job failed). Returns 0 on a clean stop.
    """
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    previous = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        scheduler = Scheduler(coordinator, jobs=jobs, blocking=True, lease_retry=lease_retry)
        if once:
            ran = scheduler.run_once()
            if ran is None:
                info = scheduler.holder() or {}
                log.info(
                    "nothing run: the scheduler lease is held by pid %s on %s",
                    info.get("pid"),
                    info.get("host"),
                )
                return 0
            failed = [s.name for s in ran if s.last_status == FAILED]
            print(f"ran {len(ran)} job(s)" + (f", failed: {', '.join(failed)}" if failed else ""))
            return 1 if failed else 0

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("stopping (signal %d); waiting for running jobs", signum)
            scheduler.request_stop()

        in_main = threading.current_thread() is threading.main_thread()
        saved = {}
        if in_main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                saved[sig] = signal.signal(sig, on_signal)
        if coordinator.sync is not None:
            coordinator.sync.start()  # a host with no app open still follows the swarm
        try:
            scheduler.start()
        finally:
            scheduler.stop()
            for sig, old in saved.items():
                signal.signal(sig, old)
        log.info("stopped")
        return 0
    finally:
        log.removeHandler(handler)
        log.setLevel(previous[0])
        log.propagate = previous[1]
