"""The memory coordinator: the one door every screen, command and agent goes through.

Write path: validate → commit to SQLite (change log in the same transaction)
→ update L1 and L2 → publish a change event. Read path: L1 → L2 → SQLite,
filling the caches on the way back.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from claude_tui import __version__
from claude_tui.core.cache import redis_server
from claude_tui.core.cache.l2 import RedisTier
from claude_tui.core.config import Config
from claude_tui.core.events import ChangeEvent, EventBus
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records.guard import Guard
from claude_tui.core.secrets import Sealer, redact_url
from claude_tui.core.services.memory import MemoryService
from claude_tui.core.services.metrics import MetricService
from claude_tui.core.services.patterns import PatternService
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.services.sessions import AgentService, SessionService
from claude_tui.core.services.tasks import TaskService
from claude_tui.core.store.db import Store
from claude_tui.core.store.schema import LATEST_VERSION

if TYPE_CHECKING:
    from claude_tui.core.durability.checkpoints import CheckpointService
    from claude_tui.core.search.service import SearchService
    from claude_tui.core.sync.engine import SyncEngine
    from claude_tui.core.vectors.learning import PatternLearner

log = logging.getLogger(__name__)
# How often a watching (long-lived) process adds its cache counts to the data dir's.
COUNTERS_FLUSH_SECONDS = 30.0


class MemoryCoordinator:
    """Sessions, agents, tasks, memory, patterns and metrics over one data dir.

    Open one with :meth:`open` (which does the I/O: SQLite, Redis, the key,
    the watcher, sync); the constructor only wires parts that are open already.
    Use as a context manager, or call :meth:`close`. Safe to share between
    threads of one process; each process opens its own.
    """

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        use_redis: bool = True,
        sealer: Sealer | None = None,
    ) -> MemoryCoordinator:
        """Open the data dir: the store, the L2 tier, the key; then start what runs beside.

        Raises:
            StoreUnusable, StoreCorrupt, ConfigError: the data dir cannot be used.
        """
        store = Store(config)
        try:
            endpoint = (
                redis_server.resolve(config)
                if use_redis
                else redis_server.RedisEndpoint(None, reason="disabled by caller")
            )
            l2 = None
            if endpoint.url:
                l2 = RedisTier(
                    endpoint.url,
                    store.db_id,
                    timeout=config.redis_timeout_seconds,
                    retry_seconds=config.redis_retry_seconds,
                )
            if sealer is None:
                from claude_tui.core.durability.encryption import FernetSealer

                sealer = FernetSealer(config, store)
            coordinator = cls(Runtime(config, store, l2, clock=clock, sealer=sealer), endpoint)
        except BaseException:
            store.close()
            raise
        try:
            coordinator._start()
        except BaseException:
            coordinator.close()
            raise
        return coordinator

    def __init__(self, rt: Runtime, redis_endpoint: redis_server.RedisEndpoint) -> None:
        """Wire the services over an open runtime (no I/O: see :meth:`open`)."""
        self.config = rt.config
        self.store = rt.store
        self.redis_endpoint = redis_endpoint
        self.rt = rt
        self.sessions = SessionService(self.rt)
        self.agents = AgentService(self.rt)
        self.tasks = TaskService(self.rt)
        self.memory = MemoryService(self.rt)
        self.patterns = PatternService(self.rt)
        self.metrics = MetricService(self.rt)
        self._watcher: _Watcher | None = None
        self._learner: Any = None
        self._checkpoints: CheckpointService | None = None
        self._search: SearchService | None = None
        self.sessions.before_delete.append(
            lambda sid: self.checkpoints.create(sid, reason="before-delete")
        )
        self.sync: SyncEngine | None = None

    def _start(self) -> None:
        """The I/O of an open after the parts exist: seal, watch, join the swarm."""
        config = self.config
        # Secrets stored before a key existed get sealed now (an index lookup: free
        # when every secret is sealed already).
        if self.store.scalar(
            "SELECT 1 FROM memory_entries WHERE sensitive = 1 AND encrypted = 0 LIMIT 1"
        ):
            from claude_tui.core.durability.encryption import seal_plain_secrets

            seal_plain_secrets(self.rt)
        from claude_tui.core.records import reprotect

        if reprotect.needed(self.rt):  # a meta read; the walk only after an upgrade or rule change
            reprotect.reprotect(self.rt)
        if not config.strict_coherence:
            self.watch()
        if config.sync_url:
            from claude_tui.core.sync.engine import SyncEngine

            self.sync = SyncEngine(self)
            # Catch up before anything is read: a `memory get` here right after a
            # `memory store` on another host returns that host's value.
            self.sync.open()

    # -- the narrow API other modules use ------------------------------------
    @property
    def guard(self) -> Guard:
        """The door's guard: sensitivity with the configured rules, sealing, revealing."""
        return self.rt.guard

    def session_exists(self, session_id: str) -> bool:
        """Whether a session exists."""
        return session_door.exists(self.store, session_id)

    def agent_owner(self, agent_id: str) -> str | None:
        """The session an agent belongs to (None: no such agent)."""
        return agent_door.owner(self.store, agent_id)

    @property
    def learning(self) -> PatternLearner:
        """The pattern pipeline (embedder + Chroma index), created on first use.

        Importing it loads onnxruntime and chromadb, so store-only commands never do.
        """
        if self._learner is None:
            from claude_tui.core.vectors.learning import PatternLearner

            self._learner = PatternLearner(self)
        return self._learner

    @property
    def search(self) -> SearchService:
        """The search service (memory and patterns, by words and meaning), made on first use.

        Making it loads nothing heavy: the model and Chroma open on the first
        search by meaning.
        """
        if self._search is None:
            from claude_tui.core.search.service import SearchService

            self._search = SearchService(self)
        return self._search

    @property
    def checkpoints(self) -> CheckpointService:
        """Session checkpoints: capture, list, preview, restore."""
        if self._checkpoints is None:
            from claude_tui.core.durability.checkpoints import CheckpointService

            self._checkpoints = CheckpointService(self)
        return self._checkpoints

    @property
    def learning_started(self) -> PatternLearner | None:
        """The pattern pipeline if something already opened it (never opens it)."""
        return self._learner

    # -- change feed ------------------------------------------------------
    @property
    def events(self) -> EventBus:
        """The in-process event bus (local writes and, once drained, remote ones)."""
        return self.rt.events

    def poll_changes(self) -> list[ChangeEvent]:
        """Apply and return changes committed by other processes since the last call."""
        if not self.store.changed_elsewhere():
            return []
        return self.rt.drain_changes()

    def watch(self, interval: float = 0.2) -> None:
        """Start a background thread that drains remote changes as they happen.

        With Redis it wakes on pub/sub messages; it also polls ``data_version``
        every ``interval`` seconds, so changes arrive with or without Redis.
        """
        if self._watcher is None:
            self._watcher = _Watcher(self, interval)
            self._watcher.start()

    def prune_change_log(self, keep_days: float = 7.0) -> int:
        """Drop change-log rows older than ``keep_days``; return how many.

        A cutoff of 0 days or less drops the whole log (what backups and sync
        read): the CLI refuses it; callers here may mean it.

        Raises:
            BadInput: ``keep_days`` is not a finite number (NaN compares false with
                everything, so no cutoff would be applied as asked).
        """
        import math

        from claude_tui.core.errors import BadInput

        if (
            isinstance(keep_days, bool)
            or not isinstance(keep_days, int | float)
            or not math.isfinite(keep_days)
        ):
            raise BadInput(f"change-log days must be a finite number, not {keep_days!r}")
        return self.store.prune_change_log(self.rt.clock() - keep_days * 86_400)

    # -- status -------------------------------------------------------------
    def backends(self) -> dict[str, dict[str, Any]]:
        """Which tiers are up, and why not when they are down."""
        l2 = self.rt.l2
        redis_up = bool(l2 is not None and l2.ping())
        return {
            "sqlite": {"up": True, "path": str(self.store.path)},
            "redis": {
                "up": redis_up,
                "url": None
                if self.redis_endpoint.url is None
                else redact_url(self.redis_endpoint.url),
                "private": self.redis_endpoint.private,
                "reason": None
                if redis_up
                else (l2.last_error if l2 is not None else self.redis_endpoint.reason),
            },
        }

    def doctor(self) -> dict[str, Any]:
        """Versions, data dir, schema version and tier status, JSON-ready."""
        import sqlite3

        backends = self.backends()
        info = self.rt.l2.info() if self.rt.l2 is not None and backends["redis"]["up"] else {}
        backends["redis"].update(info)
        return {
            "claude_tui": __version__,
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
            "data_dir": str(self.config.data_dir),
            "database": str(self.store.path),
            "schema_version": self.store.schema_version(),
            "schema_latest": LATEST_VERSION,
            "node_id": self.store.node_id,
            "change_log_seq": self.store.current_seq(),
            "backends": backends,
            "vectors": self._vector_report(),
            "sync": self.sync.status() if self.sync is not None else {"enabled": False},
            "stats": self.rt.stats.snapshot(),
        }

    def _vector_report(self) -> dict[str, Any]:
        """The pattern index as far as it can be seen without loading chromadb."""
        from claude_tui.core.vectors.embedder import MODEL_FILE, EmbedderUnavailable
        from claude_tui.core.vectors.embedders import STATIC

        installed = MODEL_FILE.is_file()
        if self.config.embedder == STATIC:
            from claude_tui.core.vectors.static import model_files

            try:
                model_files()  # raises unless the package and both its files are there
                installed = True
            except EmbedderUnavailable:
                installed = False
        return {
            "embedder": self.config.embedder,
            "model_installed": installed,
            "index": self.config.chroma_url or str(self.config.data_dir / "chroma"),
            "index_exists": bool(self.config.chroma_url)
            or (self.config.data_dir / "chroma").is_dir(),
            "patterns": int(self.store.scalar("SELECT count(*) FROM neural_patterns")),
            "queued_for_index": int(self.store.scalar("SELECT count(*) FROM pattern_index_queue")),
        }

    def close(self) -> None:
        """Flush pending access counts, stop the watcher, close connections."""
        if self.sync is not None:
            self.sync.close()
            self.sync = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        try:
            self.memory.flush_access()
        except Exception:  # closing must not raise; the counts are advisory
            log.warning("could not flush access counts", exc_info=True)
        try:
            self.metrics.flush_counters()
        except Exception:  # a read-only data dir; the counts are advisory, the close goes on
            log.debug("could not flush the cache counters", exc_info=True)
        if self._search is not None:
            self._search.close()
        if self._learner is not None:
            self._learner.index.close()
        if self.rt.l2 is not None:
            self.rt.l2.close()
        self.store.close()

    def __enter__(self) -> MemoryCoordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Watcher(threading.Thread):
    """Drains remote changes: woken by Redis pub/sub when it is up, polling otherwise."""

    def __init__(self, coordinator: MemoryCoordinator, interval: float) -> None:
        super().__init__(name="claude-tui-watcher", daemon=True)
        self.coordinator = coordinator
        self.interval = interval
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)

    def run(self) -> None:
        pubsub = None
        l2 = self.coordinator.rt.l2
        flush_at = time.monotonic() + COUNTERS_FLUSH_SECONDS
        while not self._stop_event.is_set():
            if pubsub is None and l2 is not None:
                pubsub = l2.subscribe()  # None while Redis is down: keep polling
            try:
                if pubsub is not None:
                    pubsub.get_message(timeout=self.interval)
                else:
                    self._stop_event.wait(self.interval)
            except Exception:
                pubsub = None
                self._stop_event.wait(self.interval)
            try:
                self.coordinator.poll_changes()
            except Exception:  # the database may be busy or closing; try again next tick
                log.debug("watcher poll failed", exc_info=True)
            if time.monotonic() >= flush_at:  # long-lived processes share their counts too
                flush_at = time.monotonic() + COUNTERS_FLUSH_SECONDS
                try:
                    self.coordinator.metrics.flush_counters()
                except Exception:
                    log.debug("could not flush the cache counters", exc_info=True)
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                pass
