"""Restoring: choose the backups for a point in time, build the result aside, swap it in.

The database file is never changed in place. The restored database is built
in ``<db>.restore-<id>.tmp`` (a copy of the full, then the rows of each later
backup replayed), checked, and moved over the database with one
``os.replace``; the old file is first hard-linked under ``replaced/``. A crash
at any moment leaves either the old database or the new one at the path, and
other processes that have it open never write into the files moved aside
(``durability.swap``: a journal every write checks, recovered on next use).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claude_tui.core.cache import l2 as l2_protocol
from claude_tui.core.config import Config
from claude_tui.core.durability import swap
from claude_tui.core.durability.changeset import ChangeRow, read_changes, table_shape
from claude_tui.core.durability.faults import point as fault
from claude_tui.core.durability.files import fsync_dir, open_private, private_dir
from claude_tui.core.durability.manifest import BackupRecord
from claude_tui.core.errors import BackupFailed, NotFound
from claude_tui.core.ids import new_id
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import rows as row_door

log = logging.getLogger(__name__)

WAL_DRAIN_SECONDS = 15.0


@dataclass
class Report:
    """What a restore did."""

    applied: list[str]
    kinds: list[str]
    seq: int
    rows_replayed: int
    state_at: float
    kept_aside: str | None
    chain: str
    vector_index_reset: bool
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass
class BuildStats:
    """The result of :func:`build`: rows replayed, change-log seq reached, new chain id."""

    rows: int
    seq: int
    chain: str


def _when(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


# -- choosing the backups -------------------------------------------------------------------
def plan(
    records: list[BackupRecord],
    *,
    backup_id: str | None = None,
    at: float | None = None,
    db_id: str | None = None,
) -> list[BackupRecord]:
    """The backups to apply, full first, for ``backup_id`` or the newest state <= ``at``.

    ``db_id`` (the live database's, when readable) restricts the choice to that
    database's backups when it has any.

    Raises:
        NotFound: no such backup; no verified full at or before ``at``.
        BackupFailed: the chosen backup or one it builds on is unusable, or the
            change-log ranges have a gap.
    """
    by_id = {r.id: r for r in records}
    if backup_id is not None:
        if backup_id not in by_id:
            raise NotFound(f"there is no backup {backup_id!r}; `claude-tui backup list` shows them")
        chain: list[BackupRecord] = []
        current: BackupRecord | None = by_id[backup_id]
        while current is not None:
            if not current.usable:
                raise BackupFailed(
                    f"backup {current.id} cannot be restored (status {current.status}"
                    f"{': ' + current.error if current.error else ''})"
                )
            chain.append(current)
            if current.kind == "full":
                break
            if current.base not in by_id:
                raise BackupFailed(f"backup {current.id} builds on {current.base}, which is gone")
            current = by_id[current.base]
        chain.reverse()
        _check_contiguous(chain)
        return chain
    usable = [r for r in records if r.usable]
    if db_id is not None and any(r.db_id == db_id for r in usable):
        usable = [r for r in usable if r.db_id == db_id]
    in_time = [r for r in usable if at is None or r.created_at <= at]
    fulls = [r for r in in_time if r.kind == "full"]
    if not fulls:
        when = "" if at is None else f" taken at or before {_when(at)}"
        raise NotFound(f"there is no verified full backup{when}")
    full = max(fulls, key=lambda r: (r.created_at, r.id))
    chain = [full]
    diffs = [
        r
        for r in in_time
        if r.kind == "differential" and r.base == full.id and r.chain == full.chain
    ]
    if diffs:
        chain.append(max(diffs, key=lambda r: (r.created_at, r.id)))
    later = sorted(
        (
            r for r in in_time
            if r.kind == "incremental" and r.chain == full.chain
            and r.created_at > chain[-1].created_at
        ),
        key=lambda r: (r.created_at, r.id),
    )  # fmt: skip
    chain.extend(later)
    _check_contiguous(chain)
    return chain


def _check_contiguous(chain: list[BackupRecord]) -> None:
    for before, after in itertools.pairwise(chain):
        if after.seq_lo != before.seq_hi:
            raise BackupFailed(
                f"backup {after.id} starts at change {after.seq_lo} but {before.id} ends at "
                f"{before.seq_hi}: the backups between them are missing, so no restore past "
                f"{before.id} is possible"
            )


# -- building the restored file -----------------------------------------------------------------
def temp_path(db_path: Path, backup_id: str) -> Path:
    """Where the restored database is built, beside the live one (same file system)."""
    return db_path.with_name(f"{db_path.name}.restore-{backup_id}.tmp")


def remove_quietly(path: Path) -> None:
    """Delete a file and its SQLite side files, ignoring what is not there."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


def clean_stale(db_path: Path) -> None:
    """Remove restore files a killed restore left (the live database never depended on them)."""
    for path in db_path.parent.glob(f"{db_path.name}.restore-*.tmp"):
        log.warning("removing the unfinished restore file %s", path)
        remove_quietly(path)


def _apply_row(
    conn: sqlite3.Connection, row: ChangeRow, columns: list[str], pk: str, integer_pk: bool
) -> None:
    key: Any = int(row.key) if integer_pk else row.key
    values = None if row.values is None else dict(zip(columns, row.values, strict=True))
    if values is not None and row.table == "memory_entries":
        # The same (scope, namespace, key) may have been deleted and stored again
        # under a new id: the old row's delete marker may come later in the file.
        memory_door.delete_same_key(conn, values["scope"], values["namespace"], values["key"], key)
    try:
        row_door.replace_row(conn, row.table, pk, key, values)
    except ValueError as exc:
        raise BackupFailed(
            f"a changes file names a table this version does not restore: {exc}"
        ) from None


def replay_file(conn: sqlite3.Connection, path: Path, record: BackupRecord) -> int:
    """Apply the rows of one changes file to ``conn`` (inside its transaction).

    Raises:
        BackupFailed: the file does not match its record or the database.
    """
    header, rows = read_changes(path)
    for name in ("id", "kind", "seq_lo", "seq_hi", "db_id", "rows"):
        if header.get(name) != getattr(record, name):
            raise BackupFailed(f"{path.name}: header {name} does not match the manifest")
    shapes: dict[str, tuple[list[str], str, bool]] = {}
    for table, columns in header.get("columns", {}).items():
        shape = table_shape(conn, table)
        missing = set(columns) - set(shape.columns)
        if missing:
            raise BackupFailed(f"{path.name}: table {table} has no columns {sorted(missing)}")
        shapes[table] = (list(columns), header["keys"][table], shape.integer_pk)
    count = 0
    for row in rows:
        if row.table not in shapes:
            raise BackupFailed(f"{path.name}: a row of {row.table} has no column list")
        columns, pk, integer_pk = shapes[row.table]
        _apply_row(conn, row, columns, pk, integer_pk)
        count += 1
    if count != record.rows:
        raise BackupFailed(f"{path.name}: {count} rows replayed, the manifest says {record.rows}")
    return count


def _copy_synced(src: Path, dest: Path) -> None:
    os.close(open_private(dest, os.O_WRONLY | os.O_TRUNC))  # 0600: it becomes the database
    shutil.copyfile(src, dest)
    with dest.open("rb+") as handle:
        os.fsync(handle.fileno())


def build(
    chain: Iterable[tuple[BackupRecord, Path]], tmp: Path, *, live_epoch: int = 0
) -> BuildStats:
    """Build the restored database in ``tmp``: the full, then each changes file.

    The result gets a new backup chain id (the next backup is a full), a new
    cache epoch above ``live_epoch`` and every epoch used so far (so no process
    trusts Redis records cached from the replaced file) and an empty
    vector-index queue; it must pass ``integrity_check`` and
    ``foreign_key_check``.

    Raises:
        BackupFailed: a file does not fit, or the result fails a check.
    """
    steps = list(chain)
    full, full_file = steps[0]
    remove_quietly(tmp)
    _copy_synced(full_file, tmp)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        # Rows arrive in change order, not dependency order; checked once at the end.
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")  # a crash discards this file anyway
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("db_id") != full.db_id:
            raise BackupFailed(f"{full_file.name} is not a copy of database {full.db_id}")
        rows = 0
        seq = full.seq_hi
        conn.execute("BEGIN IMMEDIATE")
        for record, path in steps[1:]:
            rows += replay_file(conn, path, record)
            seq = record.seq_hi
        # Replayed rows fired the change-log triggers; those entries describe
        # the replay, not history. The log resumes after the last restored change.
        conn.execute("DELETE FROM change_log WHERE seq > ?", (full.seq_hi,))
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'change_log'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('change_log', ?)", (seq,))
        conn.execute("DELETE FROM pattern_index_queue")
        chain_id = new_id("chain")
        fresh_epoch = l2_protocol.epoch_after_restore(
            meta.get(l2_protocol.EPOCH_KEY), live_epoch, time.time()
        )
        for key, value in (
            ("backup_chain", chain_id),
            *fresh_epoch,
            ("restored_from", steps[-1][0].id), ("restored_at", str(time.time())),
            # Sync: the replayed rows are history, not new writes to send (capture
            # resumes after them), and the host re-joins its swarm on next open:
            # it republishes its states and merges whatever the swarm has since.
            ("sync_captured_seq", str(seq)),
        ):  # fmt: skip
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        conn.execute(
            "UPDATE meta SET value = 'restored' WHERE key = 'sync_epoch'"
        )  # never an epoch Redis gives out: the next open re-joins
        conn.execute("COMMIT")
        _check_result(conn, tmp)
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"building the restored database failed: {exc}") from None
    finally:
        conn.close()
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    return BuildStats(rows, seq, chain_id)


def _check_result(conn: sqlite3.Connection, tmp: Path) -> None:
    result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if result != ["ok"]:
        raise BackupFailed(f"the restored database fails integrity_check: {result[0]}")
    bad = conn.execute("PRAGMA foreign_key_check").fetchall()
    if bad:
        raise BackupFailed(
            f"the restored database fails foreign_key_check ({len(bad)} rows, first: {bad[0]})"
        )
    has_fts = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'memory_fts' AND type = 'table'"
    ).fetchone()
    if has_fts:
        conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')")


# -- swapping it in -------------------------------------------------------------------------------
def _aside_name(replaced_dir: Path, db_path: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = db_path.name.removesuffix(".db")
    candidate = replaced_dir / f"{stem}.{stamp}.db"
    n = 1
    while any(Path(f"{candidate}{s}").exists() for s in ("", "-wal", "-shm")):
        candidate = replaced_dir / f"{stem}.{stamp}.{n}.db"
        n += 1
    return candidate


def _lock_live(db_path: Path, busy_timeout_ms: int) -> sqlite3.Connection | None:
    """Checkpoint the live database and take its write lock, with an empty WAL.

    Returns None when the file cannot be used as a database (it is damaged):
    then there are no writers to stop. An empty WAL means nothing committed
    lives only in the -wal file, so moving it aside loses nothing.

    Raises:
        BackupFailed: other processes kept the WAL busy for too long.
    """
    try:
        conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=busy_timeout_ms / 1000)
    except sqlite3.Error:
        return None
    wal = Path(f"{db_path}-wal")
    deadline = time.monotonic() + WAL_DRAIN_SECONDS
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        while True:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            if not wal.exists() or wal.stat().st_size == 0:
                return conn
            conn.execute("ROLLBACK")  # a commit slipped in: checkpoint again
            if time.monotonic() > deadline:
                conn.close()
                raise BackupFailed(
                    "other processes kept the database busy; nothing was changed — "
                    "close claude-tui elsewhere and try again"
                )
            time.sleep(0.05)
    except sqlite3.OperationalError as exc:
        conn.close()
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise BackupFailed(
                "the database stayed locked by another process; nothing was changed — "
                "close claude-tui elsewhere and try again"
            ) from None
        return None
    except sqlite3.DatabaseError:
        conn.close()
        return None


def swap_in(
    tmp: Path,
    db_path: Path,
    replaced_dir: Path,
    *,
    busy_timeout_ms: int,
    vectors: Path | None = None,
) -> Path | None:
    """Move ``tmp`` over ``db_path`` atomically; keep the old file under ``replaced_dir``.

    Safe with other processes open and writing, and against a kill at any step
    (see ``durability.swap``): a journal written first stops every write, the
    old file's write lock is taken with an empty WAL, then the files move; the
    next process to open or write finishes or undoes a swap a killed restore
    left. Writers that held the old file then get StoreReplaced instead of
    committing into the file moved aside. ``vectors`` (a local vector index)
    is reset in the same swap. Returns where the old database was kept (None
    when there was none).

    Raises:
        BackupFailed: other processes kept the database busy; nothing was changed.
    """
    if not db_path.exists():
        os.replace(tmp, db_path)
        fsync_dir(db_path.parent)
        gone = None if vectors is None else swap.retire_vectors(vectors)
        if gone is not None:
            shutil.rmtree(gone, ignore_errors=True)
        return None
    private_dir(replaced_dir)
    aside = _aside_name(replaced_dir, db_path)
    wait = WAL_DRAIN_SECONDS + busy_timeout_ms / 1000
    journal = swap.Journal(
        tmp=str(tmp),
        new_ino=os.stat(tmp).st_ino,
        aside=str(aside),
        vectors=None if vectors is None else str(vectors),
    )
    try:
        lock = swap.begin(db_path, journal, timeout=wait)
    except swap.SwapBusy:
        raise BackupFailed(
            "other processes kept the database busy; nothing was changed — "
            "close claude-tui elsewhere and try again"
        ) from None
    doomed: Path | None = None
    committed = False
    try:
        live: sqlite3.Connection | None = None
        try:
            live = _lock_live(db_path, busy_timeout_ms)
            fault("restore:locked")
            try:
                os.link(db_path, aside)
            except OSError:
                shutil.copy2(db_path, aside)  # no hard links here: a copy (still never in place)
            fault("restore:link")
            # The -wal and -shm belong to the old file (its WAL is empty when it was
            # readable); left in place they would be paired with the new one.
            for suffix in swap.SIDE_SUFFIXES:
                side = Path(f"{db_path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{aside}{suffix}"))
                fault(f"restore:{suffix.lstrip('-')}")
            fsync_dir(replaced_dir)
            fault("restore:aside-synced")
            os.replace(tmp, db_path)  # the commit point
            committed = True
            fault("restore:replace")
            fsync_dir(db_path.parent)
            fault("restore:synced")
            if vectors is not None:
                doomed = swap.retire_vectors(vectors)
            fault("restore:vectors")
        except BaseException:
            if not committed:  # put back what moved; a journal left is settled by the next writer
                with contextlib.suppress(OSError):
                    swap.recover(db_path)
            raise
        finally:
            if live is not None:
                # SQLite sees the path now names another file, so closing this
                # connection neither checkpoints into nor deletes the new file's WAL.
                with contextlib.suppress(sqlite3.Error):
                    live.execute("ROLLBACK")
                live.close()
        swap.finish(db_path)
        fault("restore:done")
    finally:
        swap.release(lock)
    if doomed is not None:
        shutil.rmtree(doomed, ignore_errors=True)
    return aside


def vector_dir(config: Config) -> Path | None:
    """The local Chroma index a restore resets (None: a remote index, or none yet).

    The learner compares the index with SQLite on first use and re-adds every
    pattern missing from it. A remote index (``chroma_url``) is left alone.
    """
    path = config.data_dir / "chroma"
    if config.chroma_url or not path.exists():
        return None
    return path
