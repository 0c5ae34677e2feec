"""Warm L1 for a session when it is opened: its hot keys, the swarm's, and the top patterns.

The seed's "promote frequently accessed data": a process that opens a session
(the app switching to it, the MCP server bound to it, the hook worker at
SessionStart) reads what that session read most before — by access count,
then recency — into L1 in a few queries, so its first reads are L1 hits
instead of SQLite round trips. Shared entries also get an "absent" mark for
the session's own scope when the session has no entry of that key, so a
read that looks in the session's scope first does not go down to SQLite to
find nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from claude_tui.core.models import SWARM_SCOPE, cache_key, private_scope

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

HOT_KEYS = 200
HOT_SHARED = 100
TOP_PATTERNS = 50


@dataclass(frozen=True)
class Warmed:
    """How many entries, absence marks and patterns went into L1."""

    entries: int
    absent: int
    patterns: int


def warm_session(
    c: MemoryCoordinator,
    session_id: str,
    *,
    keys: int = HOT_KEYS,
    shared: int = HOT_SHARED,
    patterns: int = TOP_PATTERNS,
) -> Warmed:
    """Fill L1 with what ``session_id`` is likely to read first (see the module docstring)."""
    from claude_tui.core.services.memory import COLUMNS, _as_tier, _entry

    rt = c.rt
    now = rt.clock()
    live = "(ttl IS NULL OR ttl > ?)"
    own = rt.store.rows(
        f"SELECT {COLUMNS} FROM memory_entries WHERE session_id = ? AND scope != ? AND {live} "
        "AND access_count > 0 ORDER BY access_count DESC, accessed_at DESC LIMIT ?",
        (session_id, SWARM_SCOPE, now, keys),
    )
    swarm = rt.store.rows(
        f"SELECT {COLUMNS} FROM memory_entries WHERE scope = ? AND {live} AND access_count > 0 "
        "ORDER BY access_count DESC, accessed_at DESC LIMIT ?",
        (SWARM_SCOPE, now, shared),
    )
    entries = 0
    for row in [*own, *swarm]:
        entry = _entry(row, "sqlite")
        rt.l1.put(entry.memory_type, entry.cache_key, _as_tier(entry, "l1"), now)
        entries += 1
    # A read by session looks in the session's scope before the swarm's: mark the
    # session's scope absent for the shared keys it does not hold itself.
    scope = private_scope(session_id, None)
    absent = 0
    for row in swarm:
        namespace, key = row[4], row[1]
        held = rt.store.scalar(
            "SELECT 1 FROM memory_entries WHERE scope = ? AND namespace = ? AND key = ?",
            (scope, namespace, key),
        )
        if held is None:
            rt.l1.put_absent(cache_key(scope, namespace, key), now)
            absent += 1
    top = rt.store.rows(
        "SELECT id FROM neural_patterns WHERE session_id = ? OR session_id IS NULL "
        "ORDER BY usage_count DESC, confidence DESC LIMIT ?",
        (session_id, patterns),
    )
    for (pattern_id,) in top:
        c.patterns.get(pattern_id)  # the LFU tier keeps it
    return Warmed(entries, absent, len(top))
