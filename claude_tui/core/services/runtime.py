"""What every service shares: store, caches, clock, events, and remote-change handling.

Coherence across processes: every read first asks SQLite whether another
connection committed (``PRAGMA data_version``, a few microseconds). If so, the
change log since the last seen sequence names every changed key; those keys
are dropped from L1, and their new clock is remembered so an L2 record older
than it is treated as a miss. This is exact, and needs no Redis.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from claude_tui.core.cache import l2 as l2_protocol
from claude_tui.core.cache.l1 import L1Cache
from claude_tui.core.cache.l2 import RedisTier
from claude_tui.core.config import Config
from claude_tui.core.errors import BadInput
from claude_tui.core.events import ChangeEvent, EventBus
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records.guard import Guard
from claude_tui.core.secrets import PlainSealer, Sealer
from claude_tui.core.stats import Stats
from claude_tui.core.store.db import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

_MIN_VERSION_KEEP = 100_000


class Runtime:
    """Shared state of one coordinator (one per process and data dir)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        l2: RedisTier | None,
        *,
        clock: Callable[[], float] = time.time,
        sealer: Sealer | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.l1 = L1Cache(config.cache)
        self.l2 = l2
        self.clock = clock
        self.sealer: Sealer = sealer or PlainSealer()
        self.secret_rules = config.secret_rules()
        # Every door decides sensitivity with these rules and seals through this guard.
        self.guard = Guard(self.secret_rules, self.sealer, store.node_id)
        # Checked in every write transaction: a value sealed before another process
        # rotated the keys is refused, never committed (durability/encryption.py).
        self._confirm_sealed: Callable[[sqlite3.Connection], None] | None = getattr(
            self.sealer, "confirm", None
        )
        self._sealed_written: Callable[[], None] | None = getattr(self.sealer, "written", None)
        self.stats = Stats()
        self.events = EventBus()
        self._lock = threading.RLock()
        self._seen_seq = store.current_seq()
        # Change-log ranges (lo, hi] written by this process beyond _seen_seq, in order;
        # consecutive own writes merge into one range.
        self._own: list[tuple[int, int]] = []
        self._min_version: OrderedDict[str, int] = OrderedDict()
        self._known_sessions: set[str] = set()
        self._known_agents: dict[str, str] = {}
        self._l2_missed = False
        self._pending_own: tuple[int, int] | None = None
        # Set by the sync engine: capture inside every write transaction, then
        # publish after the commit (see core/sync/engine.py).
        self.sync_capture: Callable[[sqlite3.Connection], None] | None = None
        self.sync_after_write: Callable[[], None] | None = None
        if l2 is not None:
            l2.epoch = l2_protocol.stored_epoch(store.meta)
            if l2.ping():
                self.repair_l2()

    # -- writes ---------------------------------------------------------
    def write(self, body: Callable[[sqlite3.Connection], T], **kw: Any) -> T:
        """Run a write transaction, remembering which change-log rows are ours."""

        def wrapped(conn: sqlite3.Connection) -> T:
            before = Store.last_seq(conn)
            result = body(conn)
            if self._confirm_sealed is not None:
                self._confirm_sealed(conn)
            capture = self.sync_capture
            if capture is not None:
                capture(conn)  # sync tables have no change-log triggers: `after` is unchanged
            after = Store.last_seq(conn)
            if after > before:
                self._pending_own = (before, after)
            return result

        with self._lock:
            self._pending_own = None
            try:
                result = self.store.write(wrapped, **kw)
            finally:
                if self._sealed_written is not None:
                    self._sealed_written()
            if self._pending_own is not None:
                before, after = self._pending_own
                if before == self._seen_seq and not self._own:
                    # Nothing foreign is unseen: our rows need no remembering.
                    self._seen_seq = after
                elif self._own and self._own[-1][1] == before:
                    self._own[-1] = (self._own[-1][0], after)
                else:
                    self._own.append((before, after))
        after_write = self.sync_after_write
        if after_write is not None:
            after_write()
        return result

    def write_sealed(self, make_body: Callable[[], Callable[[sqlite3.Connection], T]]) -> T:
        """A write whose values are sealed by ``make_body`` (outside the transaction).

        When another process rotated the keys between the sealing and the
        commit, nothing was written: the values are sealed again with the
        reloaded keys and written again.
        """
        from claude_tui.core.durability.encryption import KeysRotated

        for _ in range(3):
            try:
                return self.write(make_body())
            except KeysRotated:
                continue
        return self.write(make_body())

    def write_protected(
        self,
        protect: Callable[[], Any],
        apply: Callable[[sqlite3.Connection, Any], T],
    ) -> T:
        """Write a row a door protects: ``apply(conn, protect())``, sealed again if need be.

        ``protect`` redacts and seals the row (outside the transaction); it runs
        again when another process rotated the keys before the commit (see
        :meth:`write_sealed`).
        """

        def make_body() -> Callable[[sqlite3.Connection], T]:
            row = protect()
            return lambda conn: apply(conn, row)

        return self.write_sealed(make_body)

    def announce(self, events: list[ChangeEvent]) -> None:
        """After a local commit: tell this process's listeners and other processes."""
        self.events.publish(events)
        if self.l2 is not None and events:
            payload = json.dumps(
                [[e.table, e.op, e.row_id, e.session_id, e.ckey] for e in events[:100]]
            )
            self.l2.publish(payload)

    # -- remote changes -------------------------------------------------
    def sync_remote(self) -> list[ChangeEvent]:
        """Apply other processes' committed changes to the caches; return them."""
        if not self.config.strict_coherence:
            return []  # the coordinator's watcher thread invalidates asynchronously
        if not self.store.changed_elsewhere():
            return []
        return self.drain_changes()

    def drain_changes(self) -> list[ChangeEvent]:
        """Read the change log past the last seen sequence and invalidate what it names."""
        remote: list[ChangeEvent] = []
        with self._lock:
            while True:
                batch = self.store.changes_since(self._seen_seq)
                if not batch:
                    break
                if batch[0].seq is not None and batch[0].seq > self._seen_seq + 1:
                    # The log was pruned past what we had seen: trust no cached copy.
                    self.l1.clear()
                own, j = self._own, 0
                for event in batch:  # both in sequence order: one pass over each
                    seq = event.seq or 0
                    while j < len(own) and own[j][1] < seq:
                        j += 1
                    if j < len(own) and own[j][0] < seq <= own[j][1]:
                        continue
                    self._apply_remote(event)
                    remote.append(event)
                self._seen_seq = batch[-1].seq or self._seen_seq
                self._own = [r for r in own if r[1] > self._seen_seq]
        if remote:
            self.events.publish(remote)
        return remote

    def _apply_remote(self, event: ChangeEvent) -> None:
        if event.ckey:
            self.l1.invalidate(event.ckey)
            if event.clock is not None:
                self._min_version[event.ckey] = int(event.clock)
                self._min_version.move_to_end(event.ckey)
                if len(self._min_version) > _MIN_VERSION_KEEP:
                    self._min_version.popitem(last=False)
        if event.op == "delete" and event.table == "sessions":
            self._known_sessions.discard(event.row_id)
        elif event.op == "delete" and event.table == "agents":
            self._known_agents.pop(event.row_id, None)
        elif event.table == "meta" and self.l2 is not None:
            if event.op == l2_protocol.OP_EPOCH:
                self.l2.epoch = l2_protocol.stored_epoch(self.store.meta)
            elif event.op == l2_protocol.OP_DIRTY and self.l2.available:
                self.repair_l2()

    def min_version(self, ckey: str) -> int:
        """The oldest clock an L2 record of ``ckey`` may have to be trusted."""
        return self._min_version.get(ckey, 0)

    # -- L2 health ------------------------------------------------------
    def l2_usable(self) -> RedisTier | None:
        """The L2 tier if it may be used right now (repairing it first if needed)."""
        l2 = self.l2
        if l2 is None or not l2.available:
            return None
        if self._l2_missed:
            self.repair_l2()
        return l2

    def l2_missed(self) -> None:
        """A committed write could not reach L2: make sure no one trusts old records."""
        if self._l2_missed:
            return
        self._l2_missed = True

        self.write(l2_protocol.mark_dirty, patience=5.0)

    def repair_l2(self) -> None:
        """Move L2 to a new epoch if some write missed it; cheap when nothing is dirty."""
        if self.l2 is None:
            return

        if self._l2_missed or l2_protocol.is_dirty(self.store.meta):
            self.l2.epoch = self.write(l2_protocol.bump_if_dirty, patience=5.0)
        self._l2_missed = False

    # -- identity checks ------------------------------------------------
    def require_session(self, session_id: str) -> None:
        """Raise BadInput unless the session exists."""
        if session_id in self._known_sessions:
            return
        if not session_door.exists(self.store, session_id):
            raise BadInput(f"unknown session {session_id!r}")
        self._known_sessions.add(session_id)

    def require_agent(self, agent_id: str, session_id: str | None) -> str:
        """Raise BadInput unless the agent exists (in ``session_id`` when given).

        Returns the agent's session id.
        """
        owner = self._known_agents.get(agent_id)
        if owner is None:
            owner = agent_door.owner(self.store, agent_id)
            if owner is None:
                raise BadInput(f"unknown agent {agent_id!r}")
            self._known_agents[agent_id] = owner
        if session_id is not None and owner != session_id:
            raise BadInput(f"agent {agent_id!r} does not belong to session {session_id!r}")
        return owner

    def forget_session(self, session_id: str) -> None:
        """Drop cached knowledge of a deleted session and its agents."""
        self._known_sessions.discard(session_id)
        for agent, owner in list(self._known_agents.items()):
            if owner == session_id:
                del self._known_agents[agent]
