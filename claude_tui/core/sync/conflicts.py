"""Conflicts: the losing values of truly concurrent writes, and picking them back.

A conflict is recorded when two hosts wrote the same register (a shared
entry's whole value, or one field of its JSON object) without either having
seen the other's write. Merging keeps the later write everywhere; the loser
is kept here so a person can look at both and choose the other one, which is
then written as a new change (and so wins on every host).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import BadInput
from claude_tui.core.sync.capture import split_ckey

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

_COLUMNS = (
    "id, tbl, rkey, field, winner, loser, winner_origin, loser_origin, winner_hlc, loser_hlc, "
    "detected_at, resolved_at, resolution"
)


@dataclass(frozen=True)
class ConflictRow:
    """One recorded conflict, JSON values as text (None: the value was absent/removed)."""

    id: int
    namespace: str
    key: str
    field: str | None
    winner: str | None
    loser: str | None
    winner_origin: str
    loser_origin: str
    winner_hlc: int
    loser_hlc: int
    detected_at: float
    resolved_at: float | None
    resolution: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output."""
        return dict(self.__dict__)


def _row(r: tuple[Any, ...]) -> ConflictRow:
    _, namespace, key = split_ckey(r[2])
    return ConflictRow(r[0], namespace, key, *r[3:])


def list_conflicts(c: MemoryCoordinator, *, include_resolved: bool = False) -> list[ConflictRow]:
    """Conflicts newest first (open ones only unless ``include_resolved``)."""
    where = "" if include_resolved else "WHERE resolved_at IS NULL"
    rows = c.store.rows(f"SELECT {_COLUMNS} FROM sync_conflicts {where} ORDER BY id DESC")
    return [_row(r) for r in rows]


def count_open(c: MemoryCoordinator) -> int:
    """How many conflicts nobody has looked at yet."""
    return int(c.store.scalar("SELECT count(*) FROM sync_conflicts WHERE resolved_at IS NULL"))


def resolve(c: MemoryCoordinator, conflict_id: int, *, take: str) -> ConflictRow:
    """Keep the winner (``take="winner"``) or write the losing value back (``"loser"``).

    Taking the loser writes it as a new change of the shared entry (only the
    conflicting field for a JSON object), so it wins on every host.

    Raises:
        BadInput: ``take`` is neither, no such conflict, or it was resolved already.
    """
    if take not in ("winner", "loser"):
        raise BadInput(f"take must be 'winner' or 'loser', not {take!r}")
    found = c.store.row(f"SELECT {_COLUMNS} FROM sync_conflicts WHERE id = ?", (conflict_id,))
    if found is None:
        raise BadInput(f"no conflict {conflict_id}")
    conflict = _row(found)
    if conflict.resolved_at is not None:
        raise BadInput(f"conflict {conflict_id} was resolved already ({conflict.resolution})")
    if take == "loser":
        _write_loser(c, conflict)
    now = c.rt.clock()

    def body(conn: Any) -> None:
        conn.execute(
            "UPDATE sync_conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
            (now, f"took the {take}", conflict_id),
        )

    c.store.write(body)
    return _row(c.store.row(f"SELECT {_COLUMNS} FROM sync_conflicts WHERE id = ?", (conflict_id,)))  # type: ignore[arg-type]


def _write_loser(c: MemoryCoordinator, conflict: ConflictRow) -> None:
    ns, key = conflict.namespace, conflict.key
    if conflict.field is None:
        if conflict.loser is None:
            c.memory.delete(key, namespace=ns, memory_type="shared")
        else:
            c.memory.store(key, json.loads(conflict.loser), namespace=ns, memory_type="shared")
        return
    current = c.memory.get(key, namespace=ns, memory_type="shared", track=False)
    value = json.loads(current.raw) if current is not None else {}
    if not isinstance(value, dict):
        value = {}
    if conflict.loser is None:
        value.pop(conflict.field, None)
    else:
        value[conflict.field] = json.loads(conflict.loser)
    c.memory.store(key, value, namespace=ns, memory_type="shared")
