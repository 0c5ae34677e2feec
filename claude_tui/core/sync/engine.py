"""The sync engine of one process: capture, publish, consume, catch up, resync.

Publishing and consuming both run inside a SQLite write transaction, which
serialises them across every process of the host: the outbox is drained in
order, and stream entries are applied in stream order with the last applied
id committed together with their effects — so an entry is applied exactly
once however many processes of the host read the stream, and a process killed
half-way loses nothing (unacknowledged entries are read again, and skipped if
their id is not past the committed one).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from claude_tui.core.records import memory as memory_door
from claude_tui.core.secrets import redact_url
from claude_tui.core.store.db import Store
from claude_tui.core.sync import clocks
from claude_tui.core.sync.apply import apply_event, decode, defer, retry_deferred
from claude_tui.core.sync.capture import (
    CURSOR_KEY,
    Capture,
    Captured,
    meta_get,
    meta_set,
    seed,
)
from claude_tui.core.sync.conflicts import count_open
from claude_tui.core.sync.transport import (
    ZERO_ID,
    EntriesTrimmed,
    GroupMissing,
    StreamTransport,
    parse_id,
)

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

LAST_ID_KEY = "sync_last_id"
EPOCH_KEY = "sync_epoch"
RESYNC_KEY = "sync_last_resync"
READ_BATCH = 500
PUBLISH_BATCH = 500
CHECK_SECONDS = 30.0


class SyncEngine:
    """Keeps one data dir in step with its swarm through Redis."""

    def __init__(self, coordinator: MemoryCoordinator) -> None:
        config = coordinator.config
        assert config.sync_url is not None
        self.c = coordinator
        self.rt = coordinator.rt
        self.store = coordinator.store
        self.node = self.store.node_id
        self.config = config
        self.transport = StreamTransport(
            config.sync_url,
            config.sync_swarm,
            self.node,
            timeout=max(config.redis_timeout_seconds, 0.5),
            max_len=config.sync_stream_max_len,
            cluster=config.sync_cluster,
        )
        self.capture = Capture(self.node, config.sync_levels, clock=self.rt.clock)
        self._notices: list[str] = []
        self._notices_lock = threading.Lock()
        self.last_error: str | None = None
        self._pending = Captured()
        # Publishing and consuming each run one at a time in this process; they
        # do not wait for each other (SQLite's write lock orders their batches).
        self._publish_lock = threading.RLock()
        self._consume_lock = threading.RLock()
        self._check_pending = True
        self._read_upto = ZERO_ID
        self._down_until = 0.0
        self._needs_check = True
        self._trimmed = False
        self._last_flush = time.monotonic()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.rt.sync_capture = self._capture_hook
        self.rt.sync_after_write = self._after_write

    def _say(self, notice: str) -> None:
        with self._notices_lock:
            self._notices.append(notice)
        log.warning("%s", notice)

    def take_notices(self) -> list[str]:
        """Messages for the user (a full resync and why) not shown yet; each is given once."""
        with self._notices_lock:
            taken, self._notices = self._notices, []
        return taken

    # -- health -------------------------------------------------------------
    @property
    def up(self) -> bool:
        """False while Redis is in its back-off after an error."""
        return time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        first = self.up
        self._check_pending = True
        self._down_until = time.monotonic() + self.config.redis_retry_seconds
        self._needs_check = True
        self.last_error = f"{type(exc).__name__}: {exc}"
        if first:
            log.warning("sync: Redis unavailable, queueing events locally: %s", self.last_error)

    def _guard(self, fn: Any, *args: Any) -> Any:
        if not self.up:
            return None
        try:
            result = fn(*args)
        except self.transport.errors as exc:
            self._failed(exc)
            return None
        self.last_error = None
        return result

    # -- capture (inside every Runtime.write) -------------------------------
    def _capture_hook(self, conn: sqlite3.Connection) -> None:
        self._pending.add(self.capture(conn))

    def _after_write(self) -> None:
        counts = self._pending.counts
        if counts["immediate"] or counts["batched"] >= self.config.sync_batch_size:
            self.flush()

    # -- publishing ---------------------------------------------------------
    def flush(self) -> int:
        """Publish the outbox in order; return how many events left. Never raises."""
        with self._publish_lock:
            total = 0
            while True:
                sent = self._guard(self.store.write, self._publish_batch)
                if not sent:
                    break
                total += sent
            self._pending = Captured()
            self._last_flush = time.monotonic()
            return total

    def _publish_batch(self, conn: sqlite3.Connection) -> int:
        rows = conn.execute(
            "SELECT oseq, level, tbl, rkey, seq, hlc, payload FROM sync_outbox "
            "ORDER BY oseq LIMIT ?",
            (PUBLISH_BATCH,),
        ).fetchall()
        if not rows:
            return 0
        # Coalesce: a row changed several times goes out once, with its newest
        # state, at the place (and origin sequence) of its first change, so
        # parents still precede children and sequences still rise.
        kept: dict[tuple[str, str], list[Any]] = {}
        for oseq, level, tbl, rkey, seq, hlc, payload in rows:
            slot = kept.get((tbl, rkey))
            if slot is None:
                kept[(tbl, rkey)] = [oseq, level, seq, hlc, payload]
            else:
                slot[2:] = [seq, hlc, payload]
                if level == "immediate" or slot[1] == "lazy":
                    slot[1] = level
        events, levels = [], []
        for (tbl, rkey), (oseq, level, seq, hlc, payload) in kept.items():
            events.append(
                {"o": self.node, "q": oseq, "t": tbl, "r": rkey, "h": hlc, "s": seq,
                 "p": json.loads(payload)}
            )  # fmt: skip
            levels.append(level)
        self.transport.publish(events, levels)
        conn.execute("DELETE FROM sync_outbox WHERE oseq <= ?", (rows[-1][0],))
        return len(rows)

    # -- consuming ----------------------------------------------------------
    def consume(self) -> int:
        """Apply every stream entry this host has not applied; return how many. Never raises."""
        with self._consume_lock:
            total = 0
            self._guard(self.rt.guard.ready)  # applying may seal: no write inside the batch
            while True:
                if self._needs_check and self._guard(self._check_stream) is None:
                    break
                if self._trimmed:
                    self._trimmed = False
                    reason = "entries this host had not applied were trimmed from the stream"
                    total += self._guard(self._full_resync, reason) or 0
                result = self._guard(self.store.write, self._consume_batch)
                if result is None:
                    break
                ids, applied, changed = result
                # What the batch wrote reaches L1 and L2 as a local write would: the
                # caches of this host must not go on serving a value a peer's replaced.
                self.c.memory.recache(changed)
                if self._guard(self.transport.ack, ids) is not None:
                    self._check_pending = False
                total += applied
                if len(ids) < READ_BATCH and not self._trimmed and not self._needs_check:
                    break  # a short batch: the stream has nothing more for now
            if total:
                self.rt.drain_changes()  # drop stale L1 entries, tell the screens
            return total

    def _consume_batch(
        self, conn: sqlite3.Connection
    ) -> tuple[list[str], int, list[tuple[str, int]]]:
        last_id = meta_get(conn, LAST_ID_KEY) or ZERO_ID
        before = Store.last_seq(conn)
        try:
            entries = self.transport.read(READ_BATCH, pending=self._check_pending)
        except EntriesTrimmed:
            self.transport.ack(self.transport.pending_ids())
            self._trimmed = True
            return [], 0, []
        except GroupMissing:
            self._needs_check = True  # Redis lost the group: it lost the stream too
            return [], 0, []
        now = self.rt.clock()
        applied, newest_hlc = 0, 0
        last = parse_id(last_id)
        for entry_id, fields in entries:
            if parse_id(entry_id) <= last:
                continue  # applied before; acknowledged now
            last, last_id = parse_id(entry_id), entry_id
            try:
                event = decode(fields)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("sync: skipping stream entry %s: %s", entry_id, exc)
                continue
            if event["o"] == self.node:
                continue
            seen = conn.execute(
                "SELECT last_oseq FROM sync_peers WHERE node = ?", (event["o"],)
            ).fetchone()
            if seen is not None and event["q"] <= seen[0]:
                continue  # a duplicate (the origin re-sent after a crash)
            self._apply(conn, event, now)
            self._note_peer(conn, event, now)
            applied += 1
            newest_hlc = max(newest_hlc, int(event.get("h") or 0))
        if applied:
            retry_deferred(conn, guard=self.rt.guard, now=now)
            self.capture.next_hlc(conn, remote=newest_hlc)
            # Only worth a durable write when something applied: entries skipped
            # (this host's own, duplicates) are acknowledged and never read again.
            meta_set(conn, LAST_ID_KEY, last_id)
        if entries:
            self._read_upto = max(self._read_upto, entries[-1][0], key=parse_id)
        changed = memory_door.changed_since(conn, before) if applied else []
        return [entry_id for entry_id, _ in entries], applied, changed

    def _apply(self, conn: sqlite3.Connection, event: dict[str, Any], now: float) -> bool:
        try:
            changed, _ = apply_event(conn, event, guard=self.rt.guard, now=now)
            return changed
        except sqlite3.IntegrityError as exc:
            defer(conn, event, str(exc), now)
            return False

    @staticmethod
    def _note_peer(
        conn: sqlite3.Connection, event: dict[str, Any], now: float, *, from_stream: bool = True
    ) -> None:
        """Record what was seen of a peer; only stream order may raise its watermark.

        A full resync reads the state hash in no particular order: an origin's
        newest sequence there says nothing about older entries still unread
        on the stream, so it must not make them look like duplicates.
        """
        hlc = int(event.get("h") or 0)
        lag = max(0.0, now * 1000 - clocks.hlc_wall_ms(hlc)) if hlc and from_stream else None
        conn.execute(
            "INSERT INTO sync_peers (node, last_oseq, last_hlc, last_seen, lag_ms, events) "
            "VALUES (?,?,?,?,?,1) ON CONFLICT (node) DO UPDATE SET "
            "last_oseq = max(last_oseq, excluded.last_oseq), "
            "last_hlc = max(last_hlc, excluded.last_hlc), last_seen = excluded.last_seen, "
            "lag_ms = coalesce(excluded.lag_ms, lag_ms), events = events + 1",
            (event["o"], event["q"] if from_stream else 0, hlc, now, lag),
        )

    # -- catching up and resyncing --------------------------------------------
    def _check_stream(self) -> bool:
        """Join the swarm, or notice Redis lost or trimmed what this host needs."""
        epoch = self.transport.epoch()
        stored = self.store.meta(EPOCH_KEY)
        if stored is None:
            # First join: rows written before sync was on become writes of this
            # host (a fresh clock), then the swarm's state is merged in.
            self.store.write(lambda conn: seed(conn, self.capture, republish=False))
            self.flush()
            changed = self._pull_state()
            self._resynced(f"joined swarm {self.config.sync_swarm!r}", changed, announce=False)
        elif stored != epoch:
            # Merge what the swarm still has first: the state hash keeps one state
            # per origin, so what this host republishes must not be older than
            # what it published before (a restored host had rolled back).
            if stored == "restored":
                reason = "this host was restored from a backup"
            else:
                reason = "the swarm's Redis lost its stream (restarted without persistence?)"
            changed = self._pull_state()
            queued = self.store.write(lambda conn: seed(conn, self.capture, republish=True))
            self.flush()
            self._resynced(f"{reason}; republished this host's {queued} rows", changed)
        else:
            missed = self.transport.missed_by(self.store.meta(LAST_ID_KEY) or ZERO_ID)
            if missed is not None:
                self._full_resync(missed)  # also puts this host's group back in place
        self.store.write(lambda conn: meta_set(conn, EPOCH_KEY, epoch))
        self._needs_check = False
        return True

    def resync(self, reason: str = "asked for") -> int:
        """Pull the swarm's whole state (lazy rows included) and merge it; return rows changed.

        Raises:
            SyncUnavailable: Redis cannot be reached.
        """
        from claude_tui.core.errors import SyncUnavailable

        self.rt.guard.ready()

        with self._consume_lock:
            try:
                if self._needs_check:
                    self._check_stream()
                self.flush()
                return self._full_resync(reason)
            except self.transport.errors as exc:
                self._failed(exc)
                raise SyncUnavailable(f"cannot reach the sync server: {exc}") from None

    def _full_resync(self, reason: str) -> int:
        """Pull and merge the swarm's whole state, record why, and say so."""
        changed = self._pull_state()
        self._resynced(reason, changed)
        return changed

    def _pull_state(self) -> int:
        """Merge every origin's newest state from the hash; return rows changed.

        Leaves this host's stream position where the stream was before the scan,
        so entries added meanwhile are read from the stream as usual.
        """
        start_id, start_added = self.transport.position()
        changed = 0
        now = self.rt.clock()
        for batch in self.transport.scan_state():

            def body(
                conn: sqlite3.Connection, batch: list[dict[str, Any]] = batch
            ) -> tuple[int, list[tuple[str, int]]]:
                before = Store.last_seq(conn)
                n = 0
                for fields in batch:
                    try:
                        event = decode(fields)
                    except (ValueError, KeyError, TypeError):
                        continue
                    n += self._apply(conn, event, now)
                    if event["o"] != self.node:
                        self._note_peer(conn, event, now, from_stream=False)
                retry_deferred(conn, guard=self.rt.guard, now=now)
                return n, memory_door.changed_since(conn, before)

            n, keys = self.store.write(body)
            changed += n
            self.c.memory.recache(keys)  # as after a local write (see consume)

        def finish(conn: sqlite3.Connection) -> str:
            current = meta_get(conn, LAST_ID_KEY) or ZERO_ID
            position = max(start_id, current, key=parse_id)
            meta_set(conn, LAST_ID_KEY, position)
            return position

        position = self.store.write(finish)
        self.transport.set_group_position(position, start_added if position == start_id else None)
        if changed:
            self.rt.drain_changes()
        return changed

    def _resynced(self, reason: str, changed: int, *, announce: bool = True) -> None:
        """Record the last full resync (shown by status) and, unless routine, say so."""
        record = {"at": self.rt.clock(), "reason": reason, "rows_changed": changed}
        self.store.write(lambda conn: meta_set(conn, RESYNC_KEY, json.dumps(record)))
        if announce:
            self._say(f"sync: {reason}: full resync of shared data ({changed} rows changed)")

    # -- lifecycle --------------------------------------------------------------
    def open(self) -> None:
        """Catch up before the caller reads anything: publish what is queued, apply what came.

        Changes made while sync was off (or by a process killed before it could
        capture) are captured first.
        """
        self.capture_pending()
        self.flush()
        self.consume()

    def capture_pending(self) -> None:
        """Capture committed changes the change log holds past the cursor."""
        cursor = int(self.store.meta(CURSOR_KEY) or 0)
        if self.store.current_seq() > cursor:
            self.store.write(self._capture_hook)

    def start(self) -> None:
        """Follow the stream in a background thread (the app, the worker, the MCP server)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="claude-tui-sync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        block_ms = max(20, int(self.config.sync_batch_ms))
        next_check = time.monotonic() + CHECK_SECONDS
        while not self._stop.is_set():
            if time.monotonic() >= next_check:
                self._needs_check = True  # a long stall may have let the stream trim past us
                self._check_pending = True  # and another process of this host may have died
                next_check = time.monotonic() + CHECK_SECONDS
            try:
                if not self.up:
                    self._stop.wait(0.2)
                    continue
                if self._needs_check:
                    self.consume()  # checks the stream first (rejoin, trimmed, lost)
                queued = self.store.scalar("SELECT 1 FROM sync_outbox LIMIT 1")
                if queued and time.monotonic() - self._last_flush >= block_ms / 1000:
                    self.flush()
                after = max(self.store.meta(LAST_ID_KEY) or ZERO_ID, self._read_upto, key=parse_id)
                seen = self._guard(self.transport.wait, after, block_ms)
                if seen is not None:
                    self.consume()
                    # Everything up to it has now reached this host's group (applied,
                    # or this host's own): wait past it, even if nothing was new.
                    self._read_upto = max(self._read_upto, seen, key=parse_id)
            except Exception:  # the database may be busy or closing; never kill the thread
                log.debug("sync thread iteration failed", exc_info=True)
                self._stop.wait(0.5)

    def close(self) -> None:
        """Stop the thread and publish what is still queued (best effort)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        try:
            self.flush()
        finally:
            self.rt.sync_capture = None
            self.rt.sync_after_write = None
            self.transport.close()

    # -- status -------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Peers, queue depth, conflicts and the stream, JSON-ready."""
        redis_up = self.transport.ping()
        stream = self._guard(self.transport.info) if redis_up else None
        queue = dict(self.store.rows("SELECT level, count(*) FROM sync_outbox GROUP BY level"))
        peers = [
            {"node": r[0], "last_oseq": r[1], "last_seen": r[2], "lag_ms": r[3], "events": r[4]}
            for r in self.store.rows(
                "SELECT node, last_oseq, last_seen, lag_ms, events FROM sync_peers ORDER BY node"
            )
        ]
        # Hosts that joined but have not written yet are known by their stream group.
        known = {p["node"] for p in peers} | {self.node}
        for group in (stream or {}).get("groups", []):
            if group["node"] not in known:
                peers.append(
                    {"node": group["node"], "last_oseq": 0, "last_seen": None, "lag_ms": None,
                     "events": 0}
                )  # fmt: skip
        resync = self.store.meta(RESYNC_KEY)
        return {
            "enabled": True,
            "node": self.node,
            "swarm": self.config.sync_swarm,
            "url": redact_url(self.config.sync_url or ""),
            "redis_up": redis_up,
            "last_error": self.last_error,
            "queue": {
                "total": sum(queue.values()),
                **{lvl: queue.get(lvl, 0) for lvl in ("immediate", "batched", "lazy")},
            },
            "last_applied_id": self.store.meta(LAST_ID_KEY) or ZERO_ID,
            "peers": peers,
            "conflicts_open": count_open(self.c),
            "deferred": int(self.store.scalar("SELECT count(*) FROM sync_deferred")),
            "stream": stream,
            "last_resync": json.loads(resync) if resync else None,
        }
