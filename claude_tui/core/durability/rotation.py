"""Key rotation: re-encrypt every sealed value under a new primary key.

The new key is put first in the key file while the old ones stay behind it,
so every value stays readable at every moment; rows are then re-encrypted in
short batches. A rotation cut short (kill -9, power loss) is marked in
``meta`` and simply resumes the next time ``keys rotate`` runs: it does not
make yet another key, and rows already done are re-encrypted harmlessly.

Other processes keep working meanwhile. Putting the new key first counts up
the key generation (``meta``) in the same transaction as the mark, *before*
any row is re-encrypted: from that commit on, every other process seals with
the new key (it reloads the file when it sees the generation move) and a write
sealed with the old key before it is refused at its commit and sealed again
(``encryption.FernetSealer.confirm``). So once the pass is over no row can
hold the old key, and ``--drop-old`` may remove it; dropping counts up the
generation again, so other processes forget the dropped key too. The hooks'
spool (captures sealed while the database was locked) is sealed again as well.

The steps call :func:`faults.point` (``CLAUDE_TUI_FAULT=rotate:<step>``), so the
crash tests can kill a rotation between any two of them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from claude_tui.core.durability.checkpoints import decode_snapshot, encode_snapshot
from claude_tui.core.durability.encryption import (
    FernetSealer,
    bump_generation,
    load_keys,
    seal_plain_secrets,
    write_key_file,
)
from claude_tui.core.durability.faults import point
from claude_tui.core.errors import SecretUnavailable
from claude_tui.core.records import checkpoints as checkpoint_door
from claude_tui.core.records import imports as import_door
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import rows as row_door

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from claude_tui.core.coordinator import MemoryCoordinator

_MARK = "key_rotation"


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    resumed: bool
    source: str
    values: int
    checkpoints: int
    sealed_plain: int
    old_keys_kept: int
    seconds: float
    archive_chunks: int = 0  # transcript archive chunks sealed again

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def rotate_keys(
    c: MemoryCoordinator,
    *,
    drop_old: bool = False,
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every secret (memory values and checkpoint copies) under a new key.

    With a key file, a new key is generated and put first. With
    ``CLAUDE_TUI_ENCRYPTION_KEY`` the first key of that (comma-separated) list
    is the new one: set it to ``NEW,OLD`` and rotate.

    Args:
        drop_old: afterwards remove the old keys from the key file. Backups
            taken before the rotation then can no longer open their secrets.

    Raises:
        SecretUnavailable: the current key is missing or wrong (nothing is changed).
    """
    from cryptography.fernet import Fernet

    started = time.perf_counter()
    sealer = c.rt.sealer
    if not isinstance(sealer, FernetSealer):
        raise SecretUnavailable("this coordinator does not encrypt secrets; nothing to rotate")
    sealer.ensure_ready(create=True)  # proves the current keys open this database, or raises
    ring = load_keys(c.config)
    resumed = c.store.meta(_MARK) is not None
    point("rotate:start")
    if ring.source == "file" and not resumed:
        # Key file first, mark second: a crash between them leaves a file whose
        # first key is new and unused, which a later rotation simply keeps behind
        # (no other process seals with it: the generation has not moved).
        write_key_file(ring.path, (Fernet.generate_key(), *ring.keys))
        point("rotate:key-file")

    def mark(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_MARK, str(time.time()))
        )
        # Before the pass: a row another process commits after this is sealed with
        # the new key, one it committed before is seen by the pass.
        bump_generation(conn)

    c.store.write(mark)
    point("rotate:marked")
    sealer.reload()
    multi = load_keys(c.config).multi()
    values = _rotate_values(c, multi, batch, progress)
    point("rotate:values")
    values += _rotate_sealed_columns(c, multi, batch, progress)
    point("rotate:columns")
    checkpoints = _rotate_checkpoints(c, multi, progress)
    point("rotate:checkpoints")
    from claude_tui.core.archive.store import rotate_chunks

    chunks = rotate_chunks(c, multi, progress=progress)
    from claude_tui.hooks import spool  # the hooks' own file format: imported here only

    spool.rotate(c.config, multi)  # captures a hook spooled while the database was locked
    sealed = seal_plain_secrets(c.rt, batch=batch)
    point("rotate:sealed")
    token = multi.encrypt(b"claude-tui key check").decode("ascii")

    def finish(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'key_check'", (token,))
        conn.execute("DELETE FROM meta WHERE key = ?", (_MARK,))

    c.store.write(finish)
    point("rotate:finished")
    ring = load_keys(c.config)
    if drop_old and ring.source == "file" and len(ring.keys) > 1:
        write_key_file(ring.path, ring.keys[:1])
        point("rotate:dropped")
        # File first: a process that sees the new generation reloads a file
        # without the old keys.
        c.store.write(bump_generation)
        ring = load_keys(c.config)
    sealer.reload()
    c.rt.l1.clear()
    return RotationReport(
        resumed=resumed,
        source=ring.source,
        values=values,
        checkpoints=checkpoints,
        sealed_plain=sealed,
        old_keys_kept=len(ring.keys) - 1,
        seconds=round(time.perf_counter() - started, 3),
        archive_chunks=chunks,
    )


def _rotate_values(
    c: MemoryCoordinator,
    multi: MultiFernet,
    batch: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    done, last = 0, -1
    while True:
        rows = c.store.rows(
            "SELECT id, value FROM memory_entries WHERE sensitive = 1 AND encrypted = 1 "
            "AND id > ? ORDER BY id LIMIT ?",
            (last, batch),
        )
        if not rows:
            return done
        updates = [(multi.rotate(v.encode("ascii")).decode("ascii"), i, v) for i, v in rows]

        def body(conn: sqlite3.Connection, updates: list[tuple[str, int, str]] = updates) -> None:
            # Only rows unchanged since read: a newer write is sealed with the new key anyway.
            memory_door.reseal(conn, updates, was_encrypted=True)

        c.rt.write(body)
        done += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress("values", done)


def _rotate_sealed_columns(
    c: MemoryCoordinator,
    multi: MultiFernet,
    batch: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    """Re-encrypt the sealed originals of every record kind, and the import ledger's states."""
    done = 0
    for table in row_door.SEALED_TABLES:
        last: Any = ""
        if table == "metrics":
            last = -1
        while True:
            found = row_door.sealed_tokens(c.store.rows, table, last, batch)
            if not found:
                break
            updates = [(multi.rotate(t.encode("ascii")).decode("ascii"), i, t) for i, t in found]
            c.rt.write(
                lambda conn, t=table, u=updates: row_door.reseal(conn, t, u)  # type: ignore[misc]
            )
            done += len(found)
            last = found[-1][0]
            if progress is not None:
                progress("values", done)
    states = [
        (sid, text)
        for sid, text in c.store.rows("SELECT session_id, state FROM import_sessions")
        if text.startswith(import_door.SEALED_PREFIX)
    ]
    updates = [
        (
            import_door.SEALED_PREFIX
            + multi.rotate(text[len(import_door.SEALED_PREFIX) :].encode("ascii")).decode("ascii"),
            sid,
            text,
        )
        for sid, text in states
    ]
    if updates:
        c.rt.write(lambda conn: import_door.reseal_states(conn, updates))
        done += len(updates)
    return done


def _rotate_checkpoints(
    c: MemoryCoordinator, multi: MultiFernet, progress: Callable[[str, int], None] | None
) -> int:
    done = 0
    for (checkpoint_id,) in c.store.rows("SELECT id FROM checkpoints ORDER BY rowid"):
        blob = c.store.scalar("SELECT data FROM checkpoints WHERE id = ?", (checkpoint_id,))
        if blob is None:
            continue
        snapshot = decode_snapshot(bytes(blob))

        def rotated(token: str) -> str:
            return multi.rotate(token.encode("ascii")).decode("ascii")

        part = snapshot["tables"]["memory_entries"]
        at_value = part["columns"].index("value")
        at_encrypted = part["columns"].index("encrypted")
        touched = False
        for row in part["rows"]:
            if row[at_encrypted]:
                row[at_value] = rotated(row[at_value])
                touched = True
        # Sealed originals of the other kinds (checkpoints taken since migration 8).
        for other in snapshot["tables"].values():
            if "sealed" in other["columns"]:
                at_sealed = other["columns"].index("sealed")
                for row in other["rows"]:
                    if row[at_sealed]:
                        row[at_sealed] = rotated(row[at_sealed])
                        touched = True
        if snapshot["session"].get("sealed"):
            snapshot["session"]["sealed"] = rotated(snapshot["session"]["sealed"])
            touched = True
        if not touched:
            continue
        new_blob = encode_snapshot(snapshot)

        def body(
            conn: sqlite3.Connection,
            cid: str = checkpoint_id,
            old: Any = blob,
            new: bytes = new_blob,
        ) -> None:
            checkpoint_door.replace_data(conn, cid, old, new)

        c.rt.write(body)
        done += 1
        if progress is not None:
            progress("checkpoints", done)
    return done
