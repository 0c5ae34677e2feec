"""Key/value memory: scoped entries with TTLs, read through L1 → L2 → SQLite.

Identity of an entry is (scope, namespace, key). Working and persistent
entries live in a private scope ``<session>/<agent or ''>``; shared entries in
the swarm scope. A read without a type looks in the agent's scope, then the
session's, then the swarm's, and returns the first that exists.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from claude_tui.core.cache.l1 import ABSENT
from claude_tui.core.cache.l2 import TOMBSTONE
from claude_tui.core.errors import BadInput, SecretUnavailable
from claude_tui.core.events import ChangeEvent
from claude_tui.core.models import (
    SWARM_SCOPE,
    MemoryEntry,
    cache_key,
    private_scope,
    split_cache_key,
)
from claude_tui.core.records import memory as memory_door
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.validation import (
    check_memory_type,
    check_text,
    encode_value,
    parse_ttl,
)

COLUMNS = memory_door.COLUMNS
LOCKED_VALUE = "<encrypted: key unavailable>"
_TOUCH_FLUSH_SECONDS = 2.0
_TOUCH_FLUSH_COUNT = 500


_ENTRY_FIELDS = (
    "id", "key", "raw", "memory_type", "namespace", "scope", "session_id", "agent_id",
    "expires_at", "created_at", "updated_at", "accessed_at", "access_count", "version",
    "origin", "sensitive", "encrypted",
)  # fmt: skip


def _entry(row: Sequence[Any], tier: str) -> MemoryEntry:
    """Build an entry from a row in COLUMNS order.

    This is the hottest constructor in the read path: it fills the frozen
    dataclass's ``__dict__`` directly instead of going through ``__init__``.
    """
    entry = object.__new__(MemoryEntry)
    fields = entry.__dict__
    fields.update(zip(_ENTRY_FIELDS, row, strict=True))
    if fields["updated_at"] is None:
        fields["updated_at"] = fields["created_at"]
    fields["sensitive"] = bool(fields["sensitive"])
    fields["encrypted"] = bool(fields["encrypted"])
    fields["tier"] = tier
    return entry


def _as_tier(entry: MemoryEntry, tier: str) -> MemoryEntry:
    """A copy served by ``tier`` (cheaper than dataclasses.replace on the hot path)."""
    if entry.tier == tier:
        return entry
    clone = object.__new__(MemoryEntry)
    clone.__dict__.update(entry.__dict__)
    clone.__dict__["tier"] = tier
    return clone


def _pack(entry: MemoryEntry) -> str:
    return json.dumps(
        [
            entry.id,
            entry.key,
            entry.raw,
            entry.memory_type,
            entry.namespace,
            entry.scope,
            entry.session_id,
            entry.agent_id,
            entry.expires_at,
            entry.created_at,
            entry.updated_at,
            entry.accessed_at,
            entry.access_count,
            entry.version,
            entry.origin,
            entry.sensitive,
            entry.encrypted,
        ],
        separators=(",", ":"),
    )


class MemoryService:
    """Store, read, list, search and delete memory entries."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._touches: dict[int, list[float]] = {}
        self._touch_lock = threading.Lock()  # reads may come from several threads
        self._last_flush = time.monotonic()

    # -- scope resolution -------------------------------------------------
    def _scopes(
        self, session_id: str | None, agent_id: str | None, memory_type: str | None
    ) -> list[str]:
        if memory_type is not None:
            check_memory_type(memory_type)
        if agent_id is not None:
            owner = self.rt.require_agent(agent_id, session_id)
            session_id = session_id or owner
        if session_id is not None:
            self.rt.require_session(session_id)
        if memory_type == "shared":
            return [SWARM_SCOPE]
        private: list[str] = []
        if session_id is not None:
            if agent_id is not None:
                private.append(private_scope(session_id, agent_id))
            private.append(private_scope(session_id, None))
        elif memory_type is not None:
            raise BadInput(f"{memory_type} memory belongs to a session: give a session id")
        return private if memory_type is not None else [*private, SWARM_SCOPE]

    # -- writes -----------------------------------------------------------
    def store(
        self,
        key: str,
        value: Any,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str = "default",
        memory_type: str | None = None,
        ttl: float | str | None = None,
    ) -> MemoryEntry:
        """Create or replace an entry; return it as stored.

        Args:
            key: the entry's key (1-1024 characters).
            value: any JSON-serialisable value.
            session_id: owning session (required for working/persistent).
            agent_id: owning agent, which must belong to ``session_id``.
            namespace: a grouping name, ``default`` when omitted.
            memory_type: working, persistent or shared; defaults to persistent
                with a session and shared without one.
            ttl: seconds until the entry expires (None: never).

        Raises:
            BadInput: invalid key, value, TTL, type, or unknown session/agent.
        """
        started = time.perf_counter()
        check_text(key, "key")
        check_text(namespace, "namespace", max_len=256)
        if memory_type is None:
            memory_type = "persistent" if session_id or agent_id else "shared"
        check_memory_type(memory_type)
        seconds = parse_ttl(ttl)
        raw = encode_value(value, self.rt.config.max_value_bytes)
        scope = self._scopes(session_id, agent_id, memory_type)[0]
        if agent_id is not None and session_id is None:
            session_id = self.rt.require_agent(agent_id, None)
        now = self.rt.clock()
        expires = None if seconds is None else now + seconds
        origin = self.rt.store.node_id
        sealed: list[memory_door.Sealed] = []

        def make_body() -> Callable[[sqlite3.Connection], tuple[Any, ...]]:
            # Sealed again on a retry: another process rotated the keys meanwhile.
            value = memory_door.prepare(self.rt.guard, key, namespace, raw)
            sealed[:] = [value]

            def body(conn: sqlite3.Connection) -> tuple[Any, ...]:
                return memory_door.upsert(
                    conn, value, key=key, namespace=namespace, scope=scope,
                    session_id=session_id, agent_id=agent_id, memory_type=memory_type,
                    expires=expires, now=now, origin=origin,
                )  # fmt: skip

            return body

        row = self.rt.write_sealed(make_body)
        entry = _entry(row, "sqlite")
        self._after_write(entry)  # caches hold the stored (sealed) form
        self.rt.stats.timing("put", time.perf_counter() - started)
        return replace(entry, raw=raw) if sealed[0].encrypted else entry

    def _after_write(self, entry: MemoryEntry) -> None:
        ckey = entry.cache_key
        self.rt.l1.put(entry.memory_type, ckey, _as_tier(entry, "l1"), self.rt.clock())
        self._fill_l2(entry, missed_is_loss=True)
        self.rt.announce(
            [ChangeEvent(None, "memory_entries", "upsert", str(entry.id), entry.session_id, ckey)]
        )

    def recache(self, changed: Sequence[tuple[str, int]]) -> None:
        """Bring L1 and L2 in line with entries changed by other means than :meth:`store`.

        For every path that writes memory rows without this service's write
        path - a sync apply (a conflict's winner included), an import - once it
        has committed. ``changed`` is (cache key, clock) per entry, from
        :func:`memory_door.changed_since`. Each row is read back and cached as a
        local write caches it; a row that is gone leaves an L1 absence and an
        L2 tombstone above the clock, as a local delete does. So no process of
        the host is served the value the change replaced, from L1 or from L2.
        """
        if not changed:
            return
        now = self.rt.clock()
        gone: list[tuple[str, int]] = []
        hide: list[str] = []
        for ckey, clock in changed:
            scope, namespace, key = split_cache_key(ckey)
            row = self.rt.store.row(
                f"SELECT {COLUMNS} FROM memory_entries "
                "WHERE scope = ? AND namespace = ? AND key = ?",
                (scope, namespace, key),
            )
            if row is None:
                gone.append((ckey, clock))
                continue
            entry = _entry(row, "sqlite")
            self.rt.l1.put(entry.memory_type, ckey, _as_tier(entry, "l1"), now)
            if entry.sensitive:
                hide.append(ckey)  # never cached in Redis: drop what was cached in clear
            else:
                self._fill_l2(entry, missed_is_loss=True)
        if gone:
            self._after_delete(gone)
        l2 = self.rt.l2_usable()
        if hide and (l2 is None or not l2.delete_keys(hide)) and self.rt.l2 is not None:
            self.rt.l2_missed()

    def _fill_l2(self, entry: MemoryEntry, *, missed_is_loss: bool) -> None:
        if entry.sensitive:
            return  # secrets never go to Redis, sealed or not
        l2 = self.rt.l2_usable()
        ttl = self.rt.config.cache.l2_ttl_seconds
        if entry.memory_type == "working":
            ttl = min(ttl, self.rt.config.cache.working_ttl_seconds)
        remaining = entry.ttl_remaining(self.rt.clock())
        if remaining is not None:
            ttl = min(ttl, remaining)
        ok = l2 is not None and l2.put(
            entry.cache_key, entry.version, _pack(entry), int(ttl * 1000)
        )
        if not ok and missed_is_loss and self.rt.l2 is not None:
            self.rt.l2_missed()

    def delete(
        self,
        key: str,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str = "default",
        memory_type: str | None = None,
    ) -> bool:
        """Delete the entry that :meth:`get` with the same arguments would return.

        Returns:
            True if an entry was deleted, False if there was none.
        """
        found = self.get(
            key,
            session_id=session_id,
            agent_id=agent_id,
            namespace=namespace,
            memory_type=memory_type,
            track=False,
        )
        if found is None:
            return False

        removed = self.rt.write(lambda conn: memory_door.delete_ids(conn, [found.id]))
        gone = removed[0] if removed else None
        self._after_delete([(found.cache_key, found.version if gone is None else gone[3])])
        self.rt.announce(
            [
                ChangeEvent(
                    None,
                    "memory_entries",
                    "delete",
                    str(found.id),
                    found.session_id,
                    found.cache_key,
                )
            ]
        )
        return gone is not None

    def _after_delete(self, removed: list[tuple[str, int]]) -> None:
        now = self.rt.clock()
        l2 = self.rt.l2_usable()
        for ckey, version in removed:
            self.rt.l1.put_absent(ckey, now)
            if l2 is None or not l2.tombstone(ckey, version + 1):
                if self.rt.l2 is not None:
                    self.rt.l2_missed()

    def purge_expired(self, *, batch: int = 1000) -> int:
        """Delete expired entries in short batches; return how many were removed."""
        total = 0
        while True:
            now = self.rt.clock()

            def body(conn: sqlite3.Connection, now: float = now) -> list[tuple[Any, ...]]:
                return memory_door.purge_expired(conn, now, batch)

            rows = self.rt.write(body)
            if not rows:
                return total
            total += len(rows)
            self._after_delete([(cache_key(r[0], r[1], r[2]), r[3]) for r in rows])
            self.rt.announce(
                [
                    ChangeEvent(
                        None,
                        "memory_entries",
                        "delete",
                        str(r[4]),
                        r[5],
                        cache_key(r[0], r[1], r[2]),
                    )
                    for r in rows
                ]
            )

    # -- reads ------------------------------------------------------------
    def get(
        self,
        key: str,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str = "default",
        memory_type: str | None = None,
        track: bool = True,
    ) -> MemoryEntry | None:
        """Read one entry through L1 → L2 → SQLite; None when absent or expired.

        The returned entry's ``tier`` says which tier served it.
        """
        started = time.perf_counter()
        check_text(key, "key")
        scopes = self._scopes(session_id, agent_id, memory_type)
        self.rt.sync_remote()
        now = self.rt.clock()
        ckeys = [cache_key(scope, namespace, key) for scope in scopes]
        states: list[Any] = [self._l1_state(ck, now) for ck in ckeys]
        found, tier = self._resolve(states, memory_type), "l1"
        if found is None:
            found, tier = self._from_l2(ckeys, states, now, memory_type), "l2"
        if found is None:
            found, tier = (
                self._from_sqlite(ckeys, scopes, namespace, key, now, memory_type),
                "sqlite",
            )
        if found is ABSENT or found is None:
            self.rt.stats.miss_all()
            result = None
        else:
            self.rt.stats.hit(tier)
            result = _as_tier(found, tier)
            if result.encrypted:
                result = replace(result, raw=self.rt.sealer.open(result.raw, True))
        if result is not None and track:
            self._touch(result.id, now)
        self.rt.stats.timing("get", time.perf_counter() - started)
        return result

    def _l1_state(self, ckey: str, now: float) -> Any:
        cached = self.rt.l1.get(ckey, now)
        if isinstance(cached, MemoryEntry) and cached.expires_at is not None:
            if cached.expires_at <= now:
                self.rt.l1.invalidate(ckey)
                return None
        return cached

    @staticmethod
    def _resolve(states: list[Any], memory_type: str | None) -> Any:
        """The first entry in priority order, ABSENT if all absent, None if unknown.

        With a type, entries of other types count as absent for this lookup.
        """
        for state in states:
            if state is ABSENT:
                continue
            if memory_type is not None and isinstance(state, MemoryEntry):
                if state.memory_type != memory_type:
                    continue
            return state  # an entry, or None (unknown: look further down)
        return ABSENT

    def _from_l2(
        self, ckeys: list[str], states: list[Any], now: float, memory_type: str | None
    ) -> Any:
        l2 = self.rt.l2_usable()
        if l2 is None:
            return None
        wanted = [ck for ck, st in zip(ckeys, states, strict=True) if st is None]
        records = l2.get_many(wanted)
        if records is None:
            return None
        for i, ckey in enumerate(ckeys):
            if states[i] is not None:
                continue
            record = records.get(ckey)
            if record is None or record[0] < self.rt.min_version(ckey):
                continue
            if record[1] == TOMBSTONE:
                states[i] = ABSENT
                continue
            try:
                entry = _entry(json.loads(record[1]), "l2")
            except (ValueError, TypeError, IndexError):
                continue
            if entry.expires_at is not None and entry.expires_at <= now:
                states[i] = ABSENT
                continue
            states[i] = entry
        found = self._resolve(states, memory_type)
        if isinstance(found, MemoryEntry):
            self.rt.l1.put(found.memory_type, found.cache_key, _as_tier(found, "l1"), now)
        return found

    def _from_sqlite(
        self,
        ckeys: list[str],
        scopes: list[str],
        namespace: str,
        key: str,
        now: float,
        memory_type: str | None,
    ) -> Any:
        marks = ",".join("?" * len(scopes))
        rows = self.rt.store.rows(
            f"SELECT {COLUMNS} FROM memory_entries "
            f"WHERE scope IN ({marks}) AND namespace = ? AND key = ?",
            (*scopes, namespace, key),
        )
        by_scope = {row[5]: _entry(row, "sqlite") for row in rows}
        states: list[Any] = []
        for scope, ckey in zip(scopes, ckeys, strict=True):
            entry = by_scope.get(scope)
            if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
                self.rt.l1.put_absent(ckey, now)
                states.append(ABSENT)
                continue
            self.rt.l1.put(entry.memory_type, ckey, _as_tier(entry, "l1"), now)
            self._fill_l2(entry, missed_is_loss=False)
            states.append(entry)
        return self._resolve(states, memory_type)

    # -- access tracking ----------------------------------------------------
    def _touch(self, entry_id: int, now: float) -> None:
        with self._touch_lock:
            slot = self._touches.get(entry_id)
            if slot is None:
                self._touches[entry_id] = [1, now]
            else:
                slot[0] += 1
                slot[1] = now
            due = (
                len(self._touches) >= _TOUCH_FLUSH_COUNT
                or time.monotonic() - self._last_flush > _TOUCH_FLUSH_SECONDS
            )
        if due:
            self.flush_access()

    def flush_access(self) -> None:
        """Write pending access counts (batched so reads do not each cost a write)."""
        with self._touch_lock:
            pending, self._touches = self._touches, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        params = [(count, last, entry_id) for entry_id, (count, last) in pending.items()]

        try:
            self.rt.write(
                lambda conn: memory_door.add_access(conn, params), patience=0.0, wait=False
            )
        except sqlite3.OperationalError:
            # Another process is writing: keep the counts for the next flush rather
            # than make a read wait for the write lock.
            with self._touch_lock:
                for entry_id, (count, last) in pending.items():
                    slot = self._touches.setdefault(entry_id, [0, last])
                    slot[0] += count

    # -- listing and search -------------------------------------------------
    def _filters(
        self,
        session_id: str | None,
        agent_id: str | None,
        namespace: str | None,
        memory_type: str | None,
        all_sessions: bool,
        prefix: str = "",
    ) -> tuple[str, list[Any]]:
        """One WHERE clause (visibility alternatives joined by OR) and its parameters."""
        where, params, alternatives = self._filter_parts(
            session_id, agent_id, namespace, memory_type, all_sessions, prefix
        )
        clauses = [clause for clause, _ in alternatives]
        for _, alt_params in alternatives:
            params = [*params, *alt_params]
        return f"{where} AND (" + " OR ".join(clauses) + ")", params

    def _filter_parts(
        self,
        session_id: str | None,
        agent_id: str | None,
        namespace: str | None,
        memory_type: str | None,
        all_sessions: bool,
        prefix: str = "",
    ) -> tuple[str, list[Any], list[tuple[str, list[Any]]]]:
        """The common WHERE clause, its parameters, and the visibility alternatives.

        Keeping the alternatives apart lets :meth:`list` run each as its own
        index-ordered query instead of one OR that forces a sort of every row.
        """
        if memory_type is not None:
            check_memory_type(memory_type)
        if agent_id is not None:
            session_id = session_id or self.rt.require_agent(agent_id, session_id)
            self.rt.require_agent(agent_id, session_id)
        if session_id is not None:
            self.rt.require_session(session_id)
        p = prefix
        where = [f"({p}ttl IS NULL OR {p}ttl > ?)"]
        params: list[Any] = [self.rt.clock()]
        if namespace is not None:
            where.append(f"{p}namespace = ?")
            params.append(namespace)
        if memory_type is not None:
            where.append(f"{p}memory_type = ?")
            params.append(memory_type)
        alternatives: list[tuple[str, list[Any]]]
        if all_sessions:
            alternatives = [(f"{p}session_id = ?", [session_id])] if session_id else [("1", [])]
        else:
            alternatives = [(f"{p}scope = 'swarm'", [])]
            if session_id is not None and agent_id is not None:
                alternatives.append((f"{p}scope = ?", [private_scope(session_id, agent_id)]))
                alternatives.append((f"{p}scope = ?", [private_scope(session_id, None)]))
            elif session_id is not None:
                alternatives.append((f"{p}session_id = ? AND {p}scope != 'swarm'", [session_id]))
        return " AND ".join(where), params, alternatives

    def list(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str | None = None,
        memory_type: str | None = None,
        all_sessions: bool = False,
        key_prefix: str | None = None,
        limit: int = 100,
        offset: int = 0,
        before_id: int | None = None,
    ) -> list[MemoryEntry]:
        """Entries visible to the caller, most recently created first, one page at a time.

        Without a session only shared entries are visible; ``all_sessions``
        (the owner's view in the app) lifts that. For deep paging pass the
        last id of the previous page as ``before_id`` (keyset paging: every
        page costs the same, however far in).
        """
        check_page(limit, offset)
        where, params, alternatives = self._filter_parts(
            session_id, agent_id, namespace, memory_type, all_sessions
        )
        if key_prefix:
            where += " AND key >= ? AND key < ?"
            params += [key_prefix, key_prefix + "\U0010ffff"]
        if before_id is not None:
            where += " AND id < ?"
            params.append(int(before_id))
        # Each visibility alternative walks its own index newest-first and stops
        # after a page; the pages are merged. One OR would sort every matching row.
        parts, all_params = [], []
        for clause, alt_params in alternatives:
            parts.append(
                f"SELECT * FROM (SELECT {COLUMNS} FROM memory_entries "
                f"WHERE {where} AND {clause} ORDER BY id DESC LIMIT ?)"
            )
            all_params += [*params, *alt_params, limit + offset]
        rows = self.rt.store.rows(
            " UNION ALL ".join(parts) + " ORDER BY id DESC LIMIT ? OFFSET ?",
            (*all_params, limit, offset),
        )
        return [self._opened(_entry(row, "sqlite")) for row in rows]

    def count(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str | None = None,
        memory_type: str | None = None,
        all_sessions: bool = False,
    ) -> int:
        """How many entries :meth:`list` would page through."""
        where, params = self._filters(session_id, agent_id, namespace, memory_type, all_sessions)
        rows = self.rt.store.scan_rows(f"SELECT count(*) FROM memory_entries WHERE {where}", params)
        return int(rows[0][0])

    def search(
        self,
        text: str,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        namespace: str | None = None,
        memory_type: str | None = None,
        all_sessions: bool = False,
        limit: int = 50,
    ) -> builtins.list[MemoryEntry]:
        """Full-text search over keys and values (FTS5), best match first.

        Each word is matched as a prefix, all words must match. Sensitive
        entries are not indexed and never match.

        Raises:
            BadInput: empty text.
        """
        query = fts_query(text)
        check_page(limit, 0)
        where, params = self._filters(
            session_id, agent_id, namespace, memory_type, all_sessions, prefix="m."
        )
        cols = ", ".join(f"m.{c.strip()}" for c in COLUMNS.split(","))
        rows = self.rt.store.rows(
            f"SELECT {cols} FROM memory_fts JOIN memory_entries m ON m.id = memory_fts.rowid "
            f"WHERE memory_fts MATCH ? AND {where} ORDER BY bm25(memory_fts) LIMIT ?",
            (query, *params, max(1, int(limit))),
        )
        return [self._opened(_entry(row, "sqlite")) for row in rows]

    def _opened(self, entry: MemoryEntry) -> MemoryEntry:
        """Decrypt a listed secret; without the right key, list it masked instead of failing.

        A listing must stay readable when the key is missing: only reading that
        one secret (``get``) reports the key problem.
        """
        if entry.encrypted:
            try:
                return replace(entry, raw=self.rt.sealer.open(entry.raw, True))
            except SecretUnavailable:
                return replace(entry, raw=json.dumps(LOCKED_VALUE))
        return entry

    def stats_by_session(self) -> dict[str | None, tuple[int, int]]:
        """(entry count, bytes of values) per session id (None: shared)."""
        rows = self.rt.store.scan_rows(
            "SELECT CASE WHEN scope = 'swarm' THEN NULL ELSE session_id END, count(*), "
            "coalesce(sum(length(value)), 0) FROM memory_entries GROUP BY 1"
        )
        return {row[0]: (row[1], row[2]) for row in rows}


MAX_PAGE = 10_000


def check_page(limit: object, offset: object) -> None:
    """A page size of 1..10,000 and a non-negative offset.

    Raises:
        BadInput: anything else.
    """
    for name, value, low in (("limit", limit, 1), ("offset", offset, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value:
            raise BadInput(f"{name} must be an integer of at least {low}, not {value!r}")
    if isinstance(limit, int) and limit > MAX_PAGE:
        raise BadInput(f"limit must be at most {MAX_PAGE:,}, not {limit}")


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every word as a quoted prefix term."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("search text must not be empty")
    words = [w for w in "".join(c if c.isalnum() or c in "_-." else " " for c in text).split() if w]
    terms = []
    for word in words:
        for part in word.replace("-", " ").replace(".", " ").split():
            terms.append('"' + part.replace('"', '""') + '"*')
    if not terms:
        raise BadInput(f"search text {text!r} has no words to look for")
    return " ".join(terms)
