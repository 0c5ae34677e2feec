"""Session checkpoints: capture a session whole, and bring it back in one transaction.

A checkpoint holds the session row, its agents, its private memory (working
and persistent; shared memory belongs to the swarm, not to one session), its
neural patterns and its task tree (the pending queue with the finished tasks
it hangs from). It is stored in the database as zlib-compressed JSON, so
backups carry it. Secrets stay sealed inside it, exactly as stored.

Restore compares the checkpoint with what is there now and writes only the
difference: rows added since are deleted (unless kept by choice), changed
rows are put back, removed rows come back. It is one write transaction, so
another process sees either the session before or the session restored.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from claude_tui.core.cache import l2 as l2_protocol
from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.events import ChangeEvent
from claude_tui.core.ids import new_id, next_version
from claude_tui.core.models import OPEN_TASK_STATUSES
from claude_tui.core.records import checkpoints as checkpoint_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records.guard import Protected
from claude_tui.core.validation import check_text

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

FORMAT = 1
REASONS = ("manual", "auto", "before-restore", "before-delete", "before-import", "pre-compact")

# table -> (what selects the session's rows, primary key column)
_PARTS: dict[str, tuple[str, str]] = {
    "agents": ("session_id = ?", "id"),
    "tasks": ("session_id = ?", "id"),
    "memory_entries": ("session_id = ? AND scope != 'swarm'", "id"),
    "neural_patterns": ("session_id = ?", "id"),
}
_COUNT_NAMES = {
    "agents": "agents",
    "tasks": "tasks",
    "memory_entries": "memory",
    "neural_patterns": "patterns",
}
_OPEN_TASKS = OPEN_TASK_STATUSES


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint (without its snapshot)."""

    id: str
    session_id: str
    label: str | None
    reason: str
    created_at: float
    seq: int
    counts: dict[str, int]
    size: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class TableChange:
    """What a restore does to one table."""

    added: int = 0  # rows the checkpoint brings back
    changed: int = 0  # rows put back to their checkpointed state
    removed: int = 0  # rows created since, deleted by the restore
    kept: int = 0  # rows created since, kept by choice


@dataclass
class RestorePlan:
    """The difference between a session now and one of its checkpoints."""

    session_id: str
    checkpoint: Checkpoint
    keep_new: bool
    session_changed: bool
    tables: dict[str, TableChange] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the restore would change nothing."""
        return not self.session_changed and not any(
            t.added or t.changed or t.removed for t in self.tables.values()
        )

    def summary(self) -> str:
        """One line a person can read before confirming."""
        parts = []
        for table, change in self.tables.items():
            bits = [
                f"{n} {what}"
                for n, what in (
                    (change.added, "back"),
                    (change.changed, "reverted"),
                    (change.removed, "removed"),
                    (change.kept, "kept"),
                )
                if n
            ]
            if bits:
                parts.append(f"{_COUNT_NAMES[table]}: " + ", ".join(bits))
        if self.session_changed:
            parts.insert(0, "session details reverted")
        return "; ".join(parts) if parts else "nothing would change"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "session_id": self.session_id,
            "checkpoint": self.checkpoint.to_dict(),
            "keep_new": self.keep_new,
            "session_changed": self.session_changed,
            "tables": {_COUNT_NAMES[t]: asdict(c) for t, c in self.tables.items()},
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    plan: RestorePlan
    safety_checkpoint: str | None  # taken just before, so the restore can be undone


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    return Checkpoint(
        id=row[0], session_id=row[1], label=row[2], reason=row[3], created_at=row[4],
        seq=row[5], counts=json.loads(row[6]), size=row[7],
    )  # fmt: skip


_CP_COLS = "id, session_id, label, reason, created_at, seq, counts, size"


def _select(conn: sqlite3.Connection, table: str, session_id: str) -> tuple[list[str], list[Any]]:
    where, pk = _PARTS[table]
    cur = conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY {pk}", (session_id,))
    return [d[0] for d in cur.description], cur.fetchall()


def encode_snapshot(snapshot: dict[str, Any]) -> bytes:
    """Compress a snapshot for storage."""
    return zlib.compress(json.dumps(snapshot, separators=(",", ":")).encode(), 6)


def decode_snapshot(blob: bytes) -> dict[str, Any]:
    """Decompress a stored snapshot.

    Raises:
        BadInput: the blob is damaged or of an unknown format.
    """
    try:
        snapshot: dict[str, Any] = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError):
        raise BadInput("the checkpoint's snapshot is damaged and cannot be read") from None
    if snapshot.get("format") != FORMAT:
        raise BadInput(f"checkpoint format {snapshot.get('format')!r} is not understood")
    return snapshot


class CheckpointService:
    """Create, list, preview, restore and prune session checkpoints."""

    def __init__(self, coordinator: MemoryCoordinator) -> None:
        self.c = coordinator
        self.rt = coordinator.rt

    # -- capture ------------------------------------------------------------
    def create(
        self, session_id: str, *, label: str | None = None, reason: str = "manual"
    ) -> Checkpoint:
        """Capture the session as it is now; return the stored checkpoint.

        Raises:
            NotFound: no such session.
            BadInput: a label that is too long, an unknown reason.
        """
        if label is not None:
            check_text(label, "label", max_len=200)
        if reason not in REASONS:
            raise BadInput(f"reason must be one of {', '.join(REASONS)}")
        self.c.sessions.get(session_id)
        checkpoint_id = new_id("cp")
        now = self.rt.clock()
        # The label is user text: protected (and sealed when it holds a credential) first.
        label_row = checkpoint_door.protect(self.rt.guard, {"label": label})

        def body(conn: sqlite3.Connection) -> Checkpoint:
            # Read inside the write transaction: the snapshot and its sequence agree.
            session = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,))
            names = [d[0] for d in session.description]
            row = session.fetchone()
            if row is None:
                raise NotFound(f"no session {session_id!r}")
            snapshot: dict[str, Any] = {
                "format": FORMAT,
                "session": dict(zip(names, row, strict=True)),
                "tables": {},
            }
            counts: dict[str, int] = {}
            for table in _PARTS:
                columns, rows = _select(conn, table, session_id)
                snapshot["tables"][table] = {"columns": columns, "rows": [list(r) for r in rows]}
                counts[_COUNT_NAMES[table]] = len(rows)
            status_at = snapshot["tables"]["tasks"]["columns"].index("status")
            counts["pending_tasks"] = sum(
                1 for r in snapshot["tables"]["tasks"]["rows"] if r[status_at] in _OPEN_TASKS
            )
            blob = encode_snapshot(snapshot)
            seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()[0])
            row = {"id": checkpoint_id, "session_id": session_id, **label_row.values,
                   "reason": reason, "created_at": now, "seq": seq, "counts": json.dumps(counts),
                   "size": len(blob), "data": blob}  # fmt: skip
            checkpoint_door.insert(conn, Protected(checkpoint_door.KIND, row))
            return Checkpoint(checkpoint_id, session_id, label, reason, now, seq, counts, len(blob))

        checkpoint = self.rt.write(body)
        self.rt.announce([ChangeEvent(None, "checkpoints", "insert", checkpoint.id, session_id)])
        return checkpoint

    # -- reading ------------------------------------------------------------
    def list(
        self, session_id: str | None = None, *, limit: int = 1000, offset: int = 0
    ) -> list[Checkpoint]:
        """Checkpoints, newest first (of one session, or of every session)."""
        if session_id is None:
            rows = self.rt.store.rows(
                f"SELECT {_CP_COLS} FROM checkpoints ORDER BY created_at DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
        else:
            rows = self.rt.store.rows(
                f"SELECT {_CP_COLS} FROM checkpoints WHERE session_id = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (session_id, limit, offset),
            )
        return [_checkpoint(r) for r in rows]

    def count(self, session_id: str | None = None) -> int:
        """How many checkpoints :meth:`list` pages through."""
        if session_id is None:
            return int(self.rt.store.scalar("SELECT count(*) FROM checkpoints"))
        found = self.rt.store.scalar(
            "SELECT count(*) FROM checkpoints WHERE session_id = ?", (session_id,)
        )
        return int(found)

    def get(self, checkpoint_id: str) -> Checkpoint:
        """One checkpoint.

        Raises:
            NotFound: no such checkpoint.
        """
        row = self.rt.store.row(
            f"SELECT {_CP_COLS} FROM checkpoints WHERE id = ?", (checkpoint_id,)
        )
        if row is None:
            raise NotFound(f"no checkpoint {checkpoint_id!r}")
        return _checkpoint(row)

    def _resolve(self, session_id: str, checkpoint_id: str | None) -> Checkpoint:
        if checkpoint_id is None:
            found = self.list(session_id, limit=1)
            if not found:
                raise NotFound(f"session {session_id!r} has no checkpoint yet")
            return found[0]
        checkpoint = self.get(checkpoint_id)
        if checkpoint.session_id != session_id:
            raise BadInput(
                f"checkpoint {checkpoint_id!r} belongs to session {checkpoint.session_id!r}, "
                f"not {session_id!r}"
            )
        return checkpoint

    def _snapshot(self, checkpoint_id: str) -> dict[str, Any]:
        blob = self.rt.store.scalar("SELECT data FROM checkpoints WHERE id = ?", (checkpoint_id,))
        if blob is None:
            raise NotFound(f"no checkpoint {checkpoint_id!r}")
        return decode_snapshot(bytes(blob))

    # -- restore ------------------------------------------------------------
    def preview(
        self, session_id: str, checkpoint_id: str | None = None, *, keep_new: bool = False
    ) -> RestorePlan:
        """What restoring would change, as counts (nothing is written)."""
        checkpoint = self._resolve(session_id, checkpoint_id)
        snapshot = self._snapshot(checkpoint.id)
        plan: RestorePlan | None = None

        def read(conn: sqlite3.Connection) -> RestorePlan:
            return _plan(conn, session_id, checkpoint, snapshot, keep_new)[0]

        with self.rt.store.lock:
            plan = read(self.rt.store.conn)
        return plan

    def restore(
        self,
        session_id: str,
        checkpoint_id: str | None = None,
        *,
        keep_new: bool = False,
        safety: bool = True,
    ) -> RestoreResult:
        """Bring the session back to a checkpoint (the latest when none is named).

        Args:
            keep_new: keep rows created after the checkpoint instead of deleting them.
            safety: first checkpoint the current state (reason ``before-restore``)
                unless it is unchanged since the newest checkpoint, so a restore
                can itself be undone.

        Raises:
            NotFound: no such session (and no checkpoint to bring it back), or checkpoint.
            BadInput: the checkpoint belongs to another session, or is damaged.
        """
        checkpoint = self._resolve(session_id, checkpoint_id)
        snapshot = self._snapshot(checkpoint.id)
        safety_id = None
        exists = session_door.exists(self.rt.store, session_id)
        if safety and exists and self._changed_since_checkpoint(session_id):
            safety_id = self.create(session_id, reason="before-restore").id
        now = self.rt.clock()

        def body(conn: sqlite3.Connection) -> tuple[RestorePlan, list[str], list[str]]:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            plan, ops = _plan(conn, session_id, checkpoint, snapshot, keep_new)
            _apply(conn, session_id, snapshot, ops, now)
            pattern_ops = ops["neural_patterns"]
            upserted = [str(r[0]) for r in pattern_ops["insert"]]
            upserted += [str(r[0]) for r, _ in pattern_ops["update"]]
            deleted = [str(i) for i in ops["neural_patterns"]["delete"]]
            conn.executemany(
                "INSERT OR REPLACE INTO pattern_index_queue (pattern_id, op, queued_at) "
                "VALUES (?, ?, ?)",
                [(i, "upsert", now) for i in upserted] + [(i, "delete", now) for i in deleted],
            )
            if not plan.empty:
                # Restored rows carry new versions: a new L2 epoch makes sure no
                # process serves an older cached record.
                l2_protocol.mark_dirty(conn, announce=False)
            return plan, upserted, deleted

        plan, _, _ = self.rt.write(body)
        # Our own change-log rows are not replayed to this process: drop what it cached.
        self.rt.l1.clear()
        self.rt.forget_session(session_id)
        if not plan.empty:
            self.rt.repair_l2()
            self.rt.announce(
                [ChangeEvent(None, t, "restore", session_id, session_id) for t in _PARTS]
            )
        return RestoreResult(plan, safety_id)

    def _changed_since_checkpoint(self, session_id: str) -> bool:
        latest = self.list(session_id, limit=1)
        if not latest:
            return True
        newer = self.rt.store.scalar(
            "SELECT 1 FROM change_log WHERE seq > ? AND session_id = ? AND tbl != 'checkpoints' "
            "LIMIT 1",
            (latest[0].seq, session_id),
        )
        return newer is not None

    # -- automatic checkpoints and pruning ------------------------------------
    def auto_checkpoint_all(self) -> int:
        """Checkpoint every active session that changed since its last checkpoint."""
        made = 0
        for session in self.c.sessions.list(status="active", limit=100_000):
            if self._changed_since_checkpoint(session.id):
                try:
                    self.create(session.id, reason="auto")
                except NotFound:
                    continue  # deleted meanwhile
                made += 1
        return made

    def prune(self, keep: int | None = None) -> int:
        """Keep the newest ``keep`` automatic checkpoints per session; return how many went.

        Manual checkpoints are never pruned.
        """
        keep = self.rt.config.checkpoint_keep if keep is None else keep

        return int(self.rt.write(lambda conn: checkpoint_door.prune_automatic(conn, keep)))

    def delete(self, checkpoint_id: str) -> None:
        """Delete one checkpoint."""
        self.get(checkpoint_id)
        self.rt.write(lambda conn: checkpoint_door.delete(conn, checkpoint_id))


Ops = dict[str, dict[str, Any]]


def _plan(
    conn: sqlite3.Connection,
    session_id: str,
    checkpoint: Checkpoint,
    snapshot: dict[str, Any],
    keep_new: bool,
) -> tuple[RestorePlan, Ops]:
    """Compare the snapshot with the database; return the counts and the row operations."""
    current = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,))
    names = [d[0] for d in current.description]
    row = current.fetchone()
    saved = snapshot["session"]
    session_changed = row is None or any(saved.get(n) != v for n, v in zip(names, row, strict=True))
    plan = RestorePlan(session_id, checkpoint, keep_new, session_changed)
    ops: Ops = {}
    for table in _PARTS:
        columns, rows = _select(conn, table, session_id)
        part = upgrade_part(snapshot["tables"][table], columns)
        snapshot["tables"][table] = part
        if columns != part["columns"]:
            raise BadInput(
                f"checkpoint {checkpoint.id} was taken with another schema of {table}; "
                "it cannot be restored by this version"
            )
        ignore = _ignored_columns(table, columns)
        now_rows = {r[0]: r for r in rows}
        inserts: list[list[Any]] = []
        updates: list[tuple[list[Any], tuple[int, ...]]] = []
        change = TableChange()
        for saved_row in part["rows"]:
            current_row = now_rows.pop(saved_row[0], None)
            if current_row is None:
                change.added += 1
                inserts.append(saved_row)
                continue
            differing = tuple(
                i
                for i, (a, b) in enumerate(zip(current_row, saved_row, strict=True))
                if i not in ignore and a != b
            )
            if differing:
                change.changed += 1
                updates.append((saved_row, differing))
        delete: list[Any] = []
        if keep_new:
            change.kept = len(now_rows)
        else:
            change.removed = len(now_rows)
            delete = list(now_rows)
        plan.tables[table] = change
        ops[table] = {"columns": columns, "insert": inserts, "update": updates, "delete": delete}
    return plan, ops


def upgrade_part(part: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """A snapshot table taken before a migration added columns, in today's column order.

    Migrations only add columns (with defaults, here None), so an older
    checkpoint stays restorable; a column the database no longer has is
    another schema, and the caller refuses it.
    """
    saved: list[str] = part["columns"]
    if saved == columns or not set(saved) <= set(columns):
        return part
    at = {c: i for i, c in enumerate(saved)}
    rows = [[row[at[c]] if c in at else None for c in columns] for row in part["rows"]]
    return {"columns": list(columns), "rows": rows}


def _ignored_columns(table: str, columns: list[str]) -> set[int]:
    """Columns a restore does not compare: read counters and clocks it rewrites."""
    if table != "memory_entries":
        return set()
    return {columns.index(c) for c in ("accessed_at", "access_count", "version", "origin")}


def _apply(
    conn: sqlite3.Connection, session_id: str, snapshot: dict[str, Any], ops: Ops, now: float
) -> None:
    checkpoint_door.restore_session_row(conn, snapshot["session"])
    # Deletes first (children before parents for tasks), then puts (parents first).
    for table in ("memory_entries", "neural_patterns", "tasks", "agents"):
        checkpoint_door.delete_rows(conn, table, ops[table]["delete"])
    for table in ("agents", "tasks", "neural_patterns", "memory_entries"):
        op = ops[table]
        columns: list[str] = op["columns"]
        inserts: list[list[Any]] = op["insert"]
        updates: list[tuple[list[Any], tuple[int, ...]]] = op["update"]
        if table == "memory_entries":
            inserts, updates = _restamped(inserts, updates, columns, now)
        if table == "tasks" and inserts:
            inserts = _parents_first(inserts, columns.index("parent_task_id"))
        checkpoint_door.restore_rows(conn, table, columns, inserts, updates)


def _restamped(
    inserts: list[list[Any]],
    updates: list[tuple[list[Any], tuple[int, ...]]],
    columns: list[str],
    now: float,
) -> tuple[list[list[Any]], list[tuple[list[Any], tuple[int, ...]]]]:
    """Memory rows get a new version (a restore is a new write); inserts take back their key."""
    version_at = columns.index("version")

    def stamped(row: list[Any]) -> list[Any]:
        copy = list(row)
        copy[version_at] = next_version(now, int(row[version_at]))
        return copy

    return (
        [stamped(r) for r in inserts],
        [(stamped(r), tuple(sorted({*d, version_at}))) for r, d in updates],
    )


def _parents_first(rows: list[list[Any]], parent_at: int) -> list[list[Any]]:
    """Order task rows so a parent comes before its children."""
    by_id = {r[0]: r for r in rows}
    done: set[Any] = set()
    ordered: list[list[Any]] = []

    def visit(row: list[Any]) -> None:
        stack = [row]
        while stack:
            top = stack[-1]
            parent = by_id.get(top[parent_at])
            if parent is not None and parent[0] not in done and parent is not top:
                stack.append(parent)
                continue
            stack.pop()
            if top[0] not in done:
                done.add(top[0])
                ordered.append(top)

    for row in rows:
        visit(row)
    return ordered
