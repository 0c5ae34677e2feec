"""L2: Redis, shared by the processes of a host. Never allowed to fail a read or write.

Records are stored as ``"<version>|<payload>"`` where version is the entry's
clock (microseconds, strictly increasing per key). Writes use a small Lua
script that refuses to replace a newer version, so a slow reader filling the
cache can never put an old value back over a newer one. Deletes leave a
short-lived tombstone for the same reason.

Any Redis error marks the tier down for ``retry_seconds``; callers then skip
it and the coordinator falls back to L1 + SQLite. Keys are prefixed with the
database id and an epoch: bumping the epoch abandons everything cached
before (used after writes that could not reach Redis).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

TOMBSTONE = "-"
TOMBSTONE_MS = 60_000
EMBEDDING_TTL_SECONDS = 86_400

# -- the epoch/dirty protocol ------------------------------------------------------
# Kept in SQLite's ``meta`` table, because it must hold while Redis is down: a
# committed write that could not reach Redis marks L2 dirty; the next process
# that sees Redis moves everyone to a new epoch (every key name changes), so no
# record cached before the outage is trusted again. Both changes are announced
# through the change log (ops ``l2dirty`` / ``l2epoch``).
EPOCH_KEY = "l2_epoch"
DIRTY_KEY = "l2_dirty"
OP_DIRTY = "l2dirty"
OP_EPOCH = "l2epoch"
_NOW_SQL = "((julianday('now') - 2440587.5) * 86400.0)"


def stored_epoch(meta: Callable[[str], str | None]) -> int:
    """The epoch recorded in the database (``meta``: a store's meta reader)."""
    value = meta(EPOCH_KEY)
    return int(value) if value and value.isdigit() else 1


def is_dirty(meta: Callable[[str], str | None]) -> bool:
    """Whether some committed write missed L2 since the last epoch bump."""
    return meta(DIRTY_KEY) == "1"


def mark_dirty(conn: sqlite3.Connection, *, announce: bool = True) -> None:
    """Record (inside the caller's transaction) that L2 may hold records older than SQLite."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (DIRTY_KEY,))
    if announce:
        conn.execute(
            f"INSERT INTO change_log (ts, tbl, row_id, op) VALUES ({_NOW_SQL}, 'meta', ?, ?)",
            (DIRTY_KEY, OP_DIRTY),
        )


def bump_if_dirty(conn: sqlite3.Connection) -> int:
    """Move to a new epoch if L2 is dirty (inside a write transaction); return the epoch."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (DIRTY_KEY,)).fetchone()
    found = conn.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()
    epoch = int(found[0]) if found else 1
    if row is None or row[0] != "1":
        return epoch
    epoch += 1
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (EPOCH_KEY, str(epoch)))
    conn.execute("UPDATE meta SET value = '0' WHERE key = ?", (DIRTY_KEY,))
    conn.execute(
        f"INSERT INTO change_log (ts, tbl, row_id, op) VALUES ({_NOW_SQL}, 'meta', ?, ?)",
        (EPOCH_KEY, OP_EPOCH),
    )
    return epoch


def epoch_after_restore(restored: str | None, live: int, now: float) -> list[tuple[str, str]]:
    """The meta rows a restored database starts with: an epoch above any used before.

    Milliseconds: above any epoch bumped one by one, and above earlier restores.
    """
    epoch = max(int(restored or 1), live) + 1
    epoch = max(epoch, int(now * 1000))
    return [(EPOCH_KEY, str(epoch)), (DIRTY_KEY, "0")]


_CAS_SET = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisTier:
    """A fault-tolerant view of one Redis server for one database."""

    def __init__(
        self,
        url: str,
        db_id: str,
        *,
        timeout: float = 0.25,
        retry_seconds: float = 1.0,
        client_factory: Callable[..., Any] | None = None,
    ) -> None:
        from claude_tui.core.cache import resp

        self.url = url
        self._timeout = timeout
        # Errors that mean "Redis is not answering": the tier marks itself down on them.
        self._errors: tuple[type[Exception], ...] = (resp.RespError, OSError)
        # The small RESP client where it serves the URL: importing redis-py costs more
        # than a whole one-shot command. redis-py for the rest (TLS, URL options), and
        # for pub/sub (see subscribe).
        native = resp.connect(url, timeout=timeout) if client_factory is None else None
        self._pubsub_client: Any = None
        if native is not None:
            self.client: Any = native
        else:
            self.client = self._redis_py(client_factory)
        self._cas = self.client.register_script(_CAS_SET)
        # Hash tag keeps one database's keys in one Redis Cluster slot.
        self.base = f"ctui:{{{db_id}}}"
        self.epoch = 1
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.ever_up = False

    def _redis_py(self, factory: Callable[..., Any] | None = None) -> Any:
        """A redis-py client for the URL (imported here: only processes needing it pay)."""
        import redis

        self._errors = (*self._errors, redis.RedisError)
        return (factory or redis.Redis.from_url)(
            self.url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry_on_timeout=False,
            health_check_interval=0,
        )

    # -- health ---------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while the tier is in its back-off after an error."""
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until <= time.monotonic()
            self._down_until = time.monotonic() + self.retry_seconds
            self.last_error = f"{type(exc).__name__}: {exc}"
        if first:
            log.warning("Redis L2 unavailable, using L1 + SQLite: %s", self.last_error)

    def _call(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        if not self.available:
            return False, None
        try:
            result = fn()
        except self._errors as exc:
            self._failed(exc)
            return False, None
        if self.last_error is not None:
            self.last_error = None
        self.ever_up = True
        return True, result

    def ping(self) -> bool:
        """Probe the server now, ignoring any back-off."""
        self._down_until = 0.0
        ok, _ = self._call(self.client.ping)
        return ok

    # -- keys -----------------------------------------------------------
    def key(self, ckey: str) -> str:
        """The Redis key of a cache key under the current epoch."""
        return f"{self.base}:{self.epoch}:m:{ckey}"

    @property
    def channel(self) -> str:
        """The pub/sub channel where change events are announced."""
        return f"{self.base}:changes"

    # -- data -----------------------------------------------------------
    def get_many(self, ckeys: list[str]) -> dict[str, tuple[int, str]] | None:
        """Records for ``ckeys`` as ``{ckey: (version, payload)}``; None if Redis is down."""
        ok, values = self._call(lambda: self.client.mget([self.key(k) for k in ckeys]))
        if not ok:
            return None
        found: dict[str, tuple[int, str]] = {}
        for ckey, raw in zip(ckeys, values, strict=True):
            if raw is None:
                continue
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            version, _, payload = text.partition("|")
            try:
                found[ckey] = (int(version), payload)
            except ValueError:
                continue
        return found

    def put(self, ckey: str, version: int, payload: str, ttl_ms: int) -> bool:
        """Store a record unless Redis holds a newer version; False if Redis is down."""
        ok, _ = self._call(
            lambda: self._cas(keys=[self.key(ckey)], args=[version, payload, max(1, ttl_ms)])
        )
        return ok

    def tombstone(self, ckey: str, version: int) -> bool:
        """Mark a deleted key so an older value cannot be cached again for a minute."""
        return self.put(ckey, version, TOMBSTONE, TOMBSTONE_MS)

    def subscribe(self) -> Any | None:
        """A pub/sub connection listening on the change channel (None while Redis is down).

        The caller polls it with ``get_message(timeout=...)`` and closes it.
        """
        if not self.available:
            return None
        try:
            client = self.client
            if not hasattr(client, "pubsub"):  # the small client: pub/sub is redis-py's
                if self._pubsub_client is None:
                    self._pubsub_client = self._redis_py()
                client = self._pubsub_client
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self.channel)
        except self._errors as exc:
            self._failed(exc)
            return None
        return pubsub

    def get_embedding(self, digest: str) -> bytes | None:
        """A cached query embedding (its bytes, as :meth:`put_embedding` stored them)."""
        ok, raw = self._call(lambda: self.client.get(f"{self.base}:emb:{digest}"))
        return raw if ok and isinstance(raw, bytes) else None

    def put_embedding(self, digest: str, data: bytes) -> bool:
        """Cache a query embedding for a day, shared by every process of the host."""
        key = f"{self.base}:emb:{digest}"
        ok, _ = self._call(lambda: self.client.set(key, data, ex=EMBEDDING_TTL_SECONDS))
        return ok

    def publish(self, message: str) -> bool:
        """Announce a change on the channel; False if Redis is down."""
        ok, _ = self._call(lambda: self.client.publish(self.channel, message))
        return ok

    def info(self) -> dict[str, Any]:
        """Server facts for ``doctor`` (empty when down)."""
        ok, info = self._call(lambda: self.client.info("server"))
        if not ok:
            return {}
        return {"redis_version": info.get("redis_version"), "mode": info.get("redis_mode")}

    def delete_keys(self, ckeys: Iterable[str]) -> bool:
        """Drop keys outright (used by tests and repairs)."""
        keys = [self.key(k) for k in ckeys]
        if not keys:
            return True
        ok, _ = self._call(lambda: self.client.delete(*keys))
        return ok

    def close(self) -> None:
        """Release the connection pool."""
        for client in (self.client, self._pubsub_client):
            try:
                if client is not None:
                    client.close()
            except Exception:  # closing must never raise into shutdown paths
                log.debug("error closing Redis client", exc_info=True)
