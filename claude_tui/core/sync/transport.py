"""The swarm's Redis keys: an event stream, a state hash and an epoch marker.

All keys of a swarm share one hash tag (``{swarm}``), so they live in one
Redis Cluster slot and a publish can update the stream and the hash in one
MULTI. Each host reads the stream through a consumer group named after its
node id; every process of a host uses the same consumer name, so entries a
crashed process had read but not acknowledged are read again by the next.

- ``events``: a stream of events (field ``e``: JSON), trimmed to about
  ``max_len`` entries.
- ``state``: a hash of each origin's newest event per row, the source of a
  full resync (and the only home of lazy events).
- ``epoch``: a random id set once; if it vanishes, Redis lost the swarm's data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

StreamId = tuple[int, int]
ZERO_ID = "0-0"


class GroupMissing(Exception):
    """Redis has no consumer group for this host: the stream was lost or never joined."""


class EntriesTrimmed(Exception):
    """Entries this host had read but not applied were trimmed from the stream."""


def parse_id(text: str | None) -> StreamId:
    """A stream id as a comparable pair (``0-0`` for None)."""
    if not text:
        return (0, 0)
    ms, _, seq = str(text).partition("-")
    return (int(ms), int(seq or 0))


class StreamTransport:
    """One swarm's keys on one Redis server (or cluster)."""

    def __init__(
        self,
        url: str,
        swarm: str,
        node: str,
        *,
        timeout: float = 0.5,
        max_len: int = 100_000,
        cluster: bool = False,
    ) -> None:
        import redis  # deferred: only processes with sync on pay for it

        self.redis = redis
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        kw: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "decode_responses": True,
            "health_check_interval": 0,
        }
        if cluster:
            from redis.cluster import RedisCluster

            self.client: Any = RedisCluster.from_url(url, **kw)
        else:
            self.client = redis.Redis.from_url(url, **kw)
        self.url = url
        self.cluster = cluster
        self.swarm = swarm
        self.node = node
        self.max_len = max_len
        base = f"ctui:sync:{{{swarm}}}"
        self.stream = f"{base}:events"
        self.state = f"{base}:state"
        self.epoch_key = f"{base}:epoch"
        self.group = node
        self._waiter: Any = None

    # -- epoch -----------------------------------------------------------
    def epoch(self) -> str:
        """The swarm's epoch, created if Redis has none (a new or emptied server)."""
        self.client.set(self.epoch_key, secrets.token_hex(8), nx=True)
        return str(self.client.get(self.epoch_key))

    # -- publishing ---------------------------------------------------------
    def publish(self, events: list[dict[str, Any]], levels: list[str]) -> None:
        """Add events to the stream (lazy ones only to the state hash), atomically."""
        pipe = self.client.pipeline(transaction=not self.cluster)
        for event, level in zip(events, levels, strict=True):
            text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            if level != "lazy":
                pipe.xadd(self.stream, {"e": text}, maxlen=self.max_len, approximate=True)
            pipe.hset(self.state, f"{event['t']}\x1f{event['r']}\x1f{event['o']}", text)
        pipe.execute()

    # -- reading -----------------------------------------------------------
    def ensure_group(self, start_id: str) -> None:
        """Create this host's consumer group at ``start_id`` unless it exists."""
        try:
            self.client.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
        except self.redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def set_group_position(self, stream_id: str, entries_read: int | None = None) -> None:
        """Move this host's group to ``stream_id`` (after a full resync).

        ``entries_read`` (how many entries the stream had added up to that id)
        keeps Redis' count of unread entries exact, which is how a later trim
        past this host is noticed.
        """
        self.ensure_group(stream_id)
        self.client.xgroup_setid(self.stream, self.group, stream_id, entries_read=entries_read)

    def read(self, count: int, *, pending: bool = True) -> list[tuple[str, dict[str, Any]]]:
        """Entries this host has not acknowledged: pending ones first, then new ones.

        ``pending=False`` skips the look at entries read but never acknowledged
        (only a process that died between reading and acknowledging leaves any).

        Raises:
            GroupMissing: Redis has no group for this host (it lost the stream).
            EntriesTrimmed: a pending entry was trimmed before it was applied.
        """
        try:
            for cursor in ("0", ">") if pending else (">",):
                reply = self.client.xreadgroup(
                    self.group, self.group, {self.stream: cursor}, count=count
                )
                entries = reply[0][1] if reply else []
                if any(f is None for _, f in entries):
                    # Trimmed before it was applied: only a full resync brings it back.
                    raise EntriesTrimmed(self.stream)
                if entries:
                    return entries
        except self.redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                raise GroupMissing(self.stream) from None
            raise
        return []

    def pending_ids(self) -> list[str]:
        """Ids this host read but has not acknowledged (trimmed ones included)."""
        rows = self.client.xpending_range(self.stream, self.group, "-", "+", 10_000)
        return [str(r["message_id"]) for r in rows]

    def ack(self, ids: list[str]) -> bool:
        """Acknowledge entries this host has applied."""
        if ids:
            self.client.xack(self.stream, self.group, *ids)
        return True

    def wait(self, after_id: str, block_ms: int) -> str | None:
        """Block until the stream has an entry after ``after_id``; return its id (None: timeout)."""
        if self._waiter is None:
            # Its own connection: a blocking read must not hold up publishes. Same
            # connection class as the main client (TCP, TLS or unix socket).
            pool = self.client.connection_pool if not self.cluster else None
            if pool is None:
                self._waiter = self.client
            else:
                kw = dict(pool.connection_kwargs)
                kw["socket_timeout"] = block_ms / 1000 + 5
                self._waiter = self.redis.Redis(
                    connection_pool=self.redis.ConnectionPool(
                        connection_class=pool.connection_class, **kw
                    )
                )
        reply = self._waiter.xread({self.stream: after_id}, count=1, block=block_ms)
        return str(reply[0][1][0][0]) if reply and reply[0][1] else None

    def info(self) -> dict[str, Any]:
        """Stream facts: length, last and first ids, the newest trimmed id, groups."""
        try:
            raw = self.client.xinfo_stream(self.stream)
        except self.redis.ResponseError:
            return {"length": 0, "last_id": ZERO_ID, "max_deleted_id": ZERO_ID, "groups": []}
        groups = []
        try:
            for g in self.client.xinfo_groups(self.stream):
                groups.append(
                    {
                        "node": g.get("name"),
                        "pending": g.get("pending"),
                        "last_delivered_id": g.get("last-delivered-id"),
                        "lag": g.get("lag"),
                        "entries_read": g.get("entries-read"),
                    }
                )
        except self.redis.ResponseError:
            pass
        first = raw.get("first-entry")
        return {
            "length": raw.get("length", 0),
            "last_id": raw.get("last-generated-id") or ZERO_ID,
            "first_id": first[0] if first else None,
            "max_deleted_id": raw.get("max-deleted-entry-id") or ZERO_ID,
            "entries_added": raw.get("entries-added"),
            "groups": groups,
        }

    def missed_by(self, last_id: str) -> str | None:
        """Why this host may have missed entries (trimmed, deleted, its group lost), or None.

        Redis counts entries added to the stream and read by each group; a
        group whose unread count exceeds what the stream still holds has lost
        some. Without those counts (a group placed by id), an oldest surviving
        entry newer than this host's position after any trimming means the same.
        """
        info = self.info()
        trimmed = f"the stream was trimmed past this host's position ({last_id})"
        if parse_id(info["max_deleted_id"]) > parse_id(last_id):
            return trimmed
        mine = next((g for g in info["groups"] if g["node"] == self.group), None)
        if mine is None:
            return "this host's consumer group was missing from the stream"
        if mine["entries_read"] is not None and mine["lag"] is not None:
            return trimmed if int(mine["lag"]) > int(info["length"]) else None
        first = info.get("first_id")
        added = info.get("entries_added")
        position = max(parse_id(last_id), parse_id(mine["last_delivered_id"]))
        if first and added is not None and added > info["length"] and parse_id(first) > position:
            return trimmed
        return None

    def position(self) -> tuple[str, int]:
        """The newest id the stream gave out and how many entries it has added."""
        info = self.info()
        return str(info["last_id"]), int(info.get("entries_added") or 0)

    def scan_state(self, batch: int = 500) -> Iterator[list[dict[str, Any]]]:
        """Every event in the state hash, in batches (for a full resync)."""
        cursor = 0
        while True:
            cursor, found = self.client.hscan(self.state, cursor=cursor, count=batch)
            if found:
                yield [{"e": text} for text in found.values()]
            if int(cursor) == 0:
                return

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            return bool(self.client.ping())
        except self.errors:
            return False

    def close(self) -> None:
        """Release the connections."""
        for client in (self.client, self._waiter):
            try:
                if client is not None:
                    client.close()
            except Exception:  # closing must never raise into shutdown paths
                pass
