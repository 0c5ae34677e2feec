"""Cross-host sync as the app shows it: read from the core (in workers), shaped for display.

``SyncEngine.status()`` talks to Redis, so everything here that reads is
called from worker threads only; the dataclasses are what the UI thread gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.sync.conflicts import ConflictRow

SYNC_OFF = (
    "Sync is off: set [sync] url in config.toml or CLAUDE_TUI_SYNC_URL "
    "(e.g. redis://host:6379/0) to share the swarm's memory with other hosts."
)


@dataclass(frozen=True)
class PeerRow:
    """One host of the swarm as this host sees it (from its events and its stream group)."""

    node: str
    this_host: bool
    last_seen: float | None  # when this host last applied one of its events
    lag_ms: float | None
    events: int | None
    unread: int | None  # stream entries its group has not read yet
    pending: int | None  # read but not acknowledged


def peer_rows(status: dict[str, Any]) -> list[PeerRow]:
    """This host first, then every peer seen in events or with a group on the stream.

    A peer that joined but never wrote has a group but no events; one whose
    group is gone (or a stream that could not be read) has events only.
    """
    me = str(status["node"])
    groups = {str(g["node"]): g for g in (status.get("stream") or {}).get("groups", [])}
    seen = {str(p["node"]): p for p in status.get("peers", [])}  # groups' nodes included
    rows = []
    for node in [me, *sorted(set(seen) - {me})]:
        peer, group = seen.get(node, {}), groups.get(node, {})
        rows.append(
            PeerRow(
                node=node,
                this_host=node == me,
                last_seen=peer.get("last_seen"),
                lag_ms=peer.get("lag_ms"),
                events=peer.get("events"),
                unread=group.get("lag"),
                pending=group.get("pending"),
            )
        )
    return rows


@dataclass(frozen=True)
class SyncSummary:
    """The top bar's sync entry: ``off``, ``checking`` (not read yet), ``up`` or ``down``."""

    state: str
    peers: int = 0
    conflicts: int = 0

    @classmethod
    def from_status(cls, status: dict[str, Any] | None, conflicts: int) -> SyncSummary:
        """From ``SyncEngine.status()`` (None: sync is off) and the open conflict count."""
        if status is None:
            return cls("off", conflicts=conflicts)
        peers = sum(1 for row in peer_rows(status) if not row.this_host)
        return cls("up" if status["redis_up"] else "down", peers, conflicts)

    @classmethod
    def read(cls, coordinator: MemoryCoordinator) -> SyncSummary:
        """Ask the core (network I/O when sync is on: call from a worker)."""
        from claude_tui.core.sync.conflicts import count_open

        sync = coordinator.sync
        if sync is None:
            return cls.from_status(None, count_open(coordinator))
        status = sync.status()
        return cls.from_status(status, int(status["conflicts_open"]))


@dataclass(frozen=True)
class SyncView:
    """What the sync screen shows: the engine's status (None: sync is off) and conflicts."""

    status: dict[str, Any] | None
    conflicts: list[ConflictRow]
    open_conflicts: int
    include_resolved: bool

    @classmethod
    def read(cls, coordinator: MemoryCoordinator, *, include_resolved: bool) -> SyncView:
        """Read everything the screen shows (network I/O: call from a worker)."""
        from claude_tui.core.sync.conflicts import count_open, list_conflicts

        sync = coordinator.sync
        status = sync.status() if sync is not None else None
        conflicts = list_conflicts(coordinator, include_resolved=include_resolved)
        open_count = (
            int(status["conflicts_open"]) if status is not None else count_open(coordinator)
        )
        return cls(status, conflicts, open_count, include_resolved)

    @property
    def summary(self) -> SyncSummary:
        """The top bar's entry for the same reading."""
        return SyncSummary.from_status(self.status, self.open_conflicts)


def current_value(coordinator: MemoryCoordinator, conflict: ConflictRow) -> str | None:
    """What the conflicting value is on this host now, as JSON text (None: absent).

    A conflict resolved on another host stays open here, and the entry may
    have changed since: the screen shows this next to the two recorded values.
    """
    import json

    entry = coordinator.memory.get(
        conflict.key, namespace=conflict.namespace, memory_type="shared", track=False
    )
    if entry is None:
        return None
    if conflict.field is None:
        return entry.raw
    value = entry.value if entry.valid_json else None
    if not isinstance(value, dict) or conflict.field not in value:
        return None
    return json.dumps(value[conflict.field], ensure_ascii=False)


def same_json(a: str | None, b: str | None) -> bool:
    """Whether two JSON texts (None: absent) hold the same value."""
    import json

    if a is None or b is None:
        return a is b
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b
