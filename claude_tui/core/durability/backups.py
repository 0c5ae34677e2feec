"""Backups of the SQLite store: full copies, differentials and incrementals, each verified.

- **full**: SQLite's online backup API in one step from a separate connection.
  In WAL mode one step holds a read snapshot for the whole copy and writers
  keep committing meanwhile; a multi-step copy restarts whenever another
  connection writes, and with busy writers might never finish.
- **differential**: every row changed since the last full; **incremental**:
  every row changed since the last backup of any kind. The change log holds
  keys, not values, so these read the changed keys and their current rows in
  one read transaction and write them to a gzip JSON-lines file
  (:mod:`claude_tui.core.durability.changeset`).

Every backup is written under a temporary name, verified after writing, then
listed in the manifest (:mod:`claude_tui.core.durability.manifest`); failures
are recorded there too, logged, counted in the ``metrics`` table and raised.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.archive.check import archive_check
from claude_tui.core.cache import l2 as l2_protocol
from claude_tui.core.config import Config
from claude_tui.core.durability import restore as restoring
from claude_tui.core.durability import swap
from claude_tui.core.durability.changeset import (
    ChangesWriter,
    check_changes_file,
    fetch_rows,
    table_shape,
)
from claude_tui.core.durability.files import (
    fsync_dir,
    fsync_file,
    open_private,
    private_dir,
    secure_tree,
)
from claude_tui.core.durability.integrity import corrupt_error, is_corruption
from claude_tui.core.durability.manifest import (
    FAILED,
    KINDS,
    OK,
    SKIPPED,
    BackupRecord,
    Manifest,
)
from claude_tui.core.errors import BackupFailed, BadInput, NotFound, StoreCorrupt
from claude_tui.core.ids import new_id
from claude_tui.core.store import txn
from claude_tui.core.store.schema import LATEST_VERSION

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

# The tables the change log covers: what a backup must carry, row for row.
DATA_TABLES = (
    "sessions", "agents", "tasks", "memory_entries", "neural_patterns", "metrics", "checkpoints",
    "archive_files", "archive_versions", "archive_parts", "archive_chunks",
)  # fmt: skip
RUN_LOCK = ".run.lock"
TMP_PREFIX = ".tmp-"
# The metric rows this service writes after each backup: on their own they are
# not a change worth an incremental (otherwise every backup would cause the next).
OWN_METRICS = ("backup.ok", "backup.failed")


class _Fallback(Exception):
    """A differential or incremental cannot be built: take a full backup instead."""


class _Skip(Exception):
    """Nothing changed since the base."""


def copy_database(src: Path, dest: Path, busy_timeout_ms: int) -> None:
    """Copy ``src`` to the new file ``dest`` with the online backup API, in one step.

    The copy is switched to rollback-journal mode so it is one self-contained file.
    """
    os.close(open_private(dest))  # 0600 before SQLite makes it (and its journal)
    source = sqlite3.connect(str(src), isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        source.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        source.execute("PRAGMA query_only = 1")
        target = sqlite3.connect(str(dest), isolation_level=None)
        try:
            source.backup(target)  # pages=-1: one step, one read snapshot
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    finally:
        source.close()


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def last_seq(conn: sqlite3.Connection) -> int:
    """The newest change-log sequence number (also after the log was pruned empty)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'change_log'").fetchone()
    top = conn.execute("SELECT max(seq) FROM change_log").fetchone()[0]
    return max(int(row[0]) if row else 0, int(top or 0))


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a backup file (never creates or changes it)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _file_identity(conn: sqlite3.Connection) -> dict[str, Any]:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    rows = 0
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in DATA_TABLES:
        if table in names:
            rows += int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return {
        "db_id": meta.get("db_id"),
        "chain": meta.get("backup_chain"),
        "seq_hi": last_seq(conn),
        "rows": rows,
        "schema_version": int(conn.execute("PRAGMA user_version").fetchone()[0]),
    }


def verify_full(path: Path, record: BackupRecord) -> None:
    """Open the copy read-only: integrity_check, schema version, identity and seq match.

    Raises:
        BackupFailed: naming what does not match.
    """
    try:
        conn = open_readonly(path)
        try:
            result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                raise BackupFailed(
                    f"integrity_check of {path.name}: {result[0] if result else '?'}"
                )
            found = _file_identity(conn)
            archive_problem = archive_check(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"{path.name} cannot be read as a database: {exc}") from None
    if not 1 <= found["schema_version"] <= LATEST_VERSION:
        raise BackupFailed(f"{path.name} has schema version {found['schema_version']}")
    if archive_problem is not None:
        raise BackupFailed(f"{path.name}: the transcript archive in it {archive_problem}")
    if record.schema_version is not None and found["schema_version"] != record.schema_version:
        raise BackupFailed(
            f"{path.name} has schema version {found['schema_version']}, "
            f"the manifest says {record.schema_version}"
        )
    for name in ("db_id", "seq_hi", "rows"):
        if found[name] != getattr(record, name):
            raise BackupFailed(
                f"{path.name}: {name} is {found[name]!r}, the manifest says "
                f"{getattr(record, name)!r}"
            )


def changes_header(record: BackupRecord) -> dict[str, Any]:
    """The header fields of a changes file that must equal its manifest record."""
    return {
        "id": record.id, "kind": record.kind, "base": record.base, "chain": record.chain,
        "db_id": record.db_id, "seq_lo": record.seq_lo, "seq_hi": record.seq_hi,
        "rows": record.rows, "schema_version": record.schema_version,
    }  # fmt: skip


def verify_file(path: Path, record: BackupRecord) -> None:
    """Check a backup file against its record: present, same SHA-256, readable content.

    Raises:
        BackupFailed: naming the first problem.
    """
    if not path.is_file():
        raise BackupFailed(f"backup file {path} is missing")
    size = path.stat().st_size
    if size == 0:
        raise BackupFailed(f"backup file {path.name} is empty")
    digest = sha256_file(path)
    if digest != record.sha256:
        raise BackupFailed(
            f"sha256 of {path.name} is {digest[:12]}…, the manifest says "
            f"{(record.sha256 or '-')[:12]}…: the file was changed or damaged"
        )
    if record.kind == "full":
        verify_full(path, record)
    else:
        check_changes_file(path, changes_header(record))


def _file_name(record: BackupRecord) -> str:
    stamp = dt.datetime.fromtimestamp(record.created_at).strftime("%Y%m%d-%H%M%S")
    suffix = "db" if record.kind == "full" else "jsonl.gz"
    return f"{stamp}.{record.id}.{record.kind}.{suffix}"


def _instead(kind: str, why: str) -> str:
    """The note of a full taken where a differential or incremental was asked for."""
    return f"took a full backup instead of the {kind} asked for: {why}"


def _as_time(epoch: str | None) -> str:
    try:
        return " on " + dt.datetime.fromtimestamp(float(epoch or "")).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):
        return ""


def _add_note(record: BackupRecord, note: str) -> None:
    record.note = note if not record.note else f"{record.note}; {note}"


class BackupService:
    """Take, list, verify, prune and restore backups of one data dir.

    ``coordinator`` (optional) records the backup metrics through its metric
    service; without one they are written with a short connection of our own.
    Backups and restores of one backup dir are serialised by a lock file.
    """

    def __init__(
        self,
        config: Config,
        coordinator: MemoryCoordinator | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.coordinator = coordinator
        self.clock = clock
        self.dir = config.backups_path
        self.manifest = Manifest(self.dir)
        secondary = config.secondary_backups_path
        self.secondary = Manifest(secondary) if secondary is not None else None
        self._secured: set[Path] = set()  # dirs tightened by this service already

    def _private(self, directory: Path) -> None:
        """Create ``directory`` 0700; the first time, tighten what it already holds."""
        if directory not in self._secured:
            self._secured.add(directory)
            secure_tree(directory)
        private_dir(directory)

    # -- reading the manifest ---------------------------------------------------
    def list(self) -> builtins.list[BackupRecord]:
        """Every backup the manifest lists, oldest first."""
        return self.manifest.load()

    def get(self, backup_id: str) -> BackupRecord:
        """One backup by id.

        Raises:
            NotFound: no backup with that id.
        """
        for record in self.manifest.load():
            if record.id == backup_id:
                return record
        raise NotFound(f"there is no backup {backup_id!r} in {self.manifest.path}")

    # -- locking and housekeeping -----------------------------------------------
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One backup or restore at a time per backup dir (released if we are killed)."""
        try:
            self._private(self.dir)
        except OSError as exc:
            raise BackupFailed(
                f"cannot create backup dir {self.dir}: {exc.strerror or exc}"
            ) from None
        fd = open_private(self.dir / RUN_LOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _settle_swap(self) -> None:
        """Finish or undo a database swap a killed restore left, before reading the file.

        Raises:
            BackupFailed: a restore elsewhere kept swapping past the busy timeout.
        """
        try:
            swap.settle(self.config.db_path, timeout=self.config.write_patience_seconds)
        except swap.SwapBusy:
            raise BackupFailed(
                "a restore is replacing the database; nothing was changed — try again"
            ) from None
        except swap.SwapStuck as exc:
            raise BackupFailed(
                f"cannot finish the swap an interrupted restore left: {exc}; nothing was changed"
            ) from None

    def _clean_temps(self) -> builtins.list[Path]:
        """Delete what a backup killed half-way left (never listed in the manifest)."""
        removed: builtins.list[Path] = []
        dirs = [self.dir] + ([self.secondary.dir] if self.secondary is not None else [])
        for directory in dirs:
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                if path.name.startswith(TMP_PREFIX) and path.is_file():
                    with contextlib.suppress(OSError):
                        path.unlink()
                        removed.append(path)
        if removed:
            log.warning("removed %d unfinished backup file(s): %s", len(removed), removed)
        return removed

    def _connect(self, *, query_only: bool = False) -> sqlite3.Connection:
        path = self.config.db_path
        if not path.exists():
            raise BackupFailed(f"there is no database at {path} to back up")
        timeout = self.config.busy_timeout_ms / 1000
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=timeout)
        conn.execute(f"PRAGMA busy_timeout = {int(self.config.busy_timeout_ms)}")
        if query_only:
            conn.execute("PRAGMA query_only = 1")
        return conn

    def _live_identity(self) -> tuple[str, str]:
        """The live database's id and backup chain (creating the chain id on first use)."""
        conn = self._connect()
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "backup_chain" not in meta:
                chain = new_id("chain")
                txn.write(
                    conn,
                    lambda c: c.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('backup_chain', ?)",
                        (chain,),
                    ),
                )
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            return str(meta["db_id"]), str(meta["backup_chain"])
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise corrupt_error(self.config.db_path, str(exc)) from None
            from claude_tui.core.store.connection import unwritable_error

            problem = unwritable_error(self.config.db_path, exc)  # read-only, disk full
            if problem is not None:
                raise problem from None
            raise BackupFailed(f"cannot read {self.config.db_path}: {exc}") from None
        finally:
            conn.close()

    # -- taking a backup ----------------------------------------------------------
    def run(self, kind: str = "auto") -> BackupRecord:
        """Take a backup of ``kind`` (full, differential, incremental or auto), verify it.

        ``auto`` takes a full when there is no usable full of this database yet,
        else an incremental. A differential or incremental falls back to a full
        (saying so in ``note``) when its base is missing, of another database or
        chain, or the change log was pruned past it. When nothing changed the
        record has status ``skipped`` and no file. Retention runs after a success.

        Raises:
            BadInput: an unknown kind.
            BackupFailed: the backup or its verification failed (recorded first).
            StoreCorrupt: the live database is damaged.
        """
        if kind not in (*KINDS, "auto"):
            raise BadInput(f"backup kind must be one of {', '.join(KINDS)} or auto, not {kind!r}")
        with self._exclusive():
            self._settle_swap()  # its own connections open outside the Store
            self._clean_temps()
            db_id, chain = self._live_identity()
            records = self.manifest.load()
            chosen, base, note = self._choose(kind, records, db_id, chain)
            record = self._new_record(chosen, base, db_id, chain, note)
            asked = chosen if kind == "auto" else kind
            started = time.monotonic()
            try:
                if chosen != "full":
                    try:
                        self._take_changes(record, base)  # type: ignore[arg-type]
                    except _Fallback as fallback:
                        record = self._new_record(
                            "full", None, db_id, chain, _instead(chosen, str(fallback))
                        )
                if record.kind == "full":
                    self._take_full(record)
                verify_file(self.dir / str(record.file), record)
            except _Skip as skip:
                record.status, record.file, record.note = SKIPPED, None, str(skip)
                record.seq_hi = record.seq_lo
                record.seconds = time.monotonic() - started

                # Only the newest skip per base is worth listing: a scheduler finding
                # nothing to do every few minutes must not flood the manifest.
                def replace_skips(rs: builtins.list[BackupRecord]) -> builtins.list[BackupRecord]:
                    same = (SKIPPED, record.kind, record.base)
                    return [r for r in rs if (r.status, r.kind, r.base) != same] + [record]

                self.manifest.update(replace_skips)
                return record
            except Exception as exc:
                self._failed(record, exc, time.monotonic() - started)
                if isinstance(exc, StoreCorrupt):
                    raise  # the database, not the backup, needs attention
                raise BackupFailed(f"{record.kind} backup {record.id} failed: {exc}") from (
                    None if isinstance(exc, BackupFailed) else exc
                )
            record.status, record.verified_at = OK, self.clock()
            record.seconds = time.monotonic() - started
            if record.kind != asked:
                record.extra["asked"] = asked  # and ``note`` says why it is a full
            self._to_secondary(record)
            self.manifest.put(record)
            if self.secondary is not None and "secondary copy failed" not in (record.note or ""):
                self._secondary_put(record)
            self._metric("backup.ok", record.seconds, record)
            self._prune_locked()
            return record

    def _choose(
        self, kind: str, records: builtins.list[BackupRecord], db_id: str, chain: str
    ) -> tuple[str, BackupRecord | None, str | None]:
        mine = [r for r in records if r.usable and r.db_id == db_id and r.chain == chain]
        fulls = [r for r in mine if r.kind == "full"]
        if kind == "auto":
            kind = "incremental" if fulls else "full"
        if kind == "full":
            return "full", None, None
        if not fulls:
            return "full", None, _instead(kind, self._why_no_base(kind, records, db_id, chain))
        base = fulls[-1] if kind == "differential" else mine[-1]
        return kind, base, None

    def _why_no_base(
        self, kind: str, records: builtins.list[BackupRecord], db_id: str, chain: str
    ) -> str:
        """Why there is no full to base a ``kind`` on (a restore, most often)."""
        earlier = [r for r in records if r.usable and r.db_id == db_id and r.chain != chain]
        restored = self._live_meta("restored_from")
        if earlier and restored:
            when = _as_time(self._live_meta("restored_at"))
            return (
                f"the database was restored from backup {restored}{when}, which starts a new "
                f"backup chain: there is no verified full backup of the new chain yet to base "
                f"a {kind} on, and the backups before the restore cannot be one"
            )
        return f"there is no verified full backup of this database to base a {kind} on"

    def _new_record(
        self, kind: str, base: BackupRecord | None, db_id: str, chain: str, note: str | None
    ) -> BackupRecord:
        record = BackupRecord(
            id=new_id("b"), kind=kind, created_at=self.clock(), status=FAILED,
            base=base.id if base else None, chain=chain, db_id=db_id,
            seq_lo=base.seq_hi if base else 0, schema_version=LATEST_VERSION, note=note,
        )  # fmt: skip
        record.file = _file_name(record)
        return record

    def _take_full(self, record: BackupRecord) -> None:
        final = self.dir / str(record.file)
        tmp = self.dir / f"{TMP_PREFIX}{record.file}"
        copy_database(self.config.db_path, tmp, self.config.busy_timeout_ms)
        fsync_file(tmp)
        # The snapshot's own identity and sequence, read from the copy itself.
        try:
            conn = open_readonly(tmp)
            try:
                found = _file_identity(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"the copy cannot be read: {exc}") from None
        if found["schema_version"] != LATEST_VERSION:
            raise BackupFailed(
                f"the copy has schema version {found['schema_version']}, expected {LATEST_VERSION}"
            )
        record.seq_lo, record.seq_hi, record.rows = 0, found["seq_hi"], found["rows"]
        record.db_id, record.chain = found["db_id"], found["chain"]
        record.schema_version = found["schema_version"]
        record.size, record.sha256 = tmp.stat().st_size, sha256_file(tmp)
        os.replace(tmp, final)
        fsync_dir(self.dir)

    def _take_changes(self, record: BackupRecord, base: BackupRecord) -> None:
        lo = base.seq_hi
        conn = self._connect(query_only=True)
        tmp = self.dir / f"{TMP_PREFIX}{record.file}"
        try:
            conn.execute("BEGIN")  # one read snapshot for the range and every row
            hi = last_seq(conn)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("db_id") != base.db_id or meta.get("backup_chain") != base.chain:
                raise _Fallback(f"the database is not the one {base.id} was taken of")
            if hi < lo:
                raise _Fallback(f"the change log is behind {base.id} (seq {hi} < {lo})")
            if hi == lo:
                raise _Skip(f"nothing changed since {base.id} (seq {lo})")
            low = conn.execute("SELECT min(seq) FROM change_log").fetchone()[0]
            if low is None or int(low) > lo + 1:
                raise _Fallback(f"the change log was pruned past {base.id} (seq {lo})")
            keys: dict[str, builtins.list[str]] = {}
            for table, row_id in conn.execute(
                "SELECT tbl, row_id FROM change_log WHERE seq > ? AND seq <= ? AND tbl != 'meta' "
                "GROUP BY tbl, row_id ORDER BY min(seq)",
                (lo, hi),
            ):
                keys.setdefault(str(table), []).append(str(row_id))
            shapes = {t: table_shape(conn, t) for t in keys}
            rows = {t: fetch_rows(conn, t, shapes[t], ks) for t, ks in keys.items()}
            if not _meaningful(keys, rows, shapes):
                raise _Skip(f"nothing changed since {base.id} (seq {lo})")
            record.seq_hi = hi
            record.rows = sum(len(ks) for ks in keys.values())
            header = {
                **changes_header(record),
                "created_at": record.created_at,
                "columns": {t: s.columns for t, s in shapes.items()},
                "keys": {t: s.pk for t, s in shapes.items()},
            }
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
                writer = ChangesWriter(handle, header)
                for table, ks in keys.items():
                    for key in ks:
                        writer.row(table, key, rows[table].get(key))
                writer.close()
                handle.flush()
                os.fsync(handle.fileno())
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise corrupt_error(self.config.db_path, str(exc)) from None
            raise
        finally:
            conn.close()
        record.size, record.sha256 = tmp.stat().st_size, sha256_file(tmp)
        os.replace(tmp, self.dir / str(record.file))
        fsync_dir(self.dir)

    def _failed(self, record: BackupRecord, exc: BaseException, seconds: float) -> None:
        """Make a failure loud: log, manifest, metric; and drop the unusable file."""
        record.status, record.error, record.seconds = FAILED, str(exc) or repr(exc), seconds
        log.error("%s backup %s failed: %s", record.kind, record.id, record.error)
        for path in (self.dir / str(record.file), self.dir / f"{TMP_PREFIX}{record.file}"):
            with contextlib.suppress(OSError):
                path.unlink()
        try:
            self.manifest.put(record)
        except Exception:
            log.exception("could not record the failed backup %s in the manifest", record.id)
        self._metric("backup.failed", 1.0, record)

    def _metric(self, name: str, value: float, record: BackupRecord) -> None:
        meta = {"id": record.id, "kind": record.kind}
        if record.error:
            meta["error"] = record.error[:500]
        try:
            if self.coordinator is not None:
                self.coordinator.metrics.record(name, value, metadata=meta)
                return
            import json

            from claude_tui.core.records import metrics as metric_door

            row = {"metric_type": name, "value": float(value), "timestamp": self.clock(),
                   "metadata": json.dumps(meta)}  # fmt: skip
            rules = self.config.secret_rules()
            conn = self._connect()
            try:
                txn.write(conn, lambda c: metric_door.insert_redacted(c, rules, row))
            finally:
                conn.close()
        except Exception:  # a metric must never hide the backup's own outcome
            log.warning("could not record metric %s", name, exc_info=True)

    # -- the secondary copy ---------------------------------------------------------
    def _to_secondary(self, record: BackupRecord) -> None:
        if self.secondary is None or record.file is None:
            return
        target_dir = self.secondary.dir
        tmp = target_dir / f"{TMP_PREFIX}{record.file}"
        try:
            self._private(target_dir)
            os.close(open_private(tmp, os.O_WRONLY | os.O_TRUNC))  # copyfile keeps the mode
            shutil.copyfile(self.dir / record.file, tmp)
            fsync_file(tmp)
            if sha256_file(tmp) != record.sha256:
                raise OSError("the copy differs from the original")
            os.replace(tmp, target_dir / record.file)
            fsync_dir(target_dir)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            log.error("secondary copy of backup %s to %s failed: %s", record.id, target_dir, exc)
            _add_note(record, f"secondary copy failed: {exc}")

    def _secondary_put(self, record: BackupRecord) -> None:
        assert self.secondary is not None
        try:
            self.secondary.put(record)
        except (OSError, BackupFailed) as exc:
            log.error("could not update the secondary manifest: %s", exc)

    # -- verification -------------------------------------------------------------------
    def path_of(self, record: BackupRecord) -> Path:
        """The primary file of a backup (which may be missing)."""
        return self.dir / str(record.file)

    def verify(
        self, backup_id: str | None = None
    ) -> builtins.list[tuple[BackupRecord, str | None]]:
        """Re-check backups (one, or every one with status ok): SHA-256 and content.

        Returns ``(record, problem)`` pairs, ``problem`` None when the backup is
        good. A backup found bad is marked failed in the manifest, so no restore
        uses it.

        Raises:
            NotFound: ``backup_id`` is not in the manifest.
        """
        with self._exclusive():
            records = (
                [self.get(backup_id)]
                if backup_id
                else [r for r in self.manifest.load() if r.status == OK]
            )
            results: builtins.list[tuple[BackupRecord, str | None]] = []
            for record in records:
                problem: str | None = None
                if record.file is None:
                    problem = f"backup {record.id} has no file (status {record.status})"
                else:
                    try:
                        verify_file(self.path_of(record), record)
                    except BackupFailed as exc:
                        problem = exc.message
                if problem is None:
                    record.verified_at = self.clock()
                elif record.status == OK:
                    record.status, record.error = FAILED, problem
                    log.error("backup %s failed verification: %s", record.id, problem)
                    self._metric("backup.failed", 1.0, record)
                if record.status != SKIPPED:
                    self.manifest.put(record)
                results.append((record, problem))
            return results

    # -- retention ----------------------------------------------------------------------------
    def prune(self) -> builtins.list[str]:
        """Apply retention now; return the ids removed (see :meth:`_prune_locked`)."""
        with self._exclusive():
            return self._prune_locked()

    def _prune_locked(self) -> builtins.list[str]:
        """Drop backups older than their kind's retention, keeping what others need.

        Never removed: the newest verified full, and any backup a kept backup
        is built on (its base, the base's base, ... down to the full).
        """
        now = self.clock()
        limits = {
            "full": self.config.retention_full_days * 86_400,
            "differential": self.config.retention_differential_days * 86_400,
            "incremental": self.config.retention_incremental_hours * 3_600,
        }
        removed: builtins.list[str] = []

        def change(records: builtins.list[BackupRecord]) -> builtins.list[BackupRecord]:
            by_id = {r.id: r for r in records}
            keep = {r.id for r in records if now - r.created_at <= limits.get(r.kind, 0)}
            fulls = [r for r in records if r.kind == "full" and r.usable]
            if fulls:
                keep.add(max(fulls, key=lambda r: r.created_at).id)
            pending = [by_id[i] for i in keep]
            while pending:
                current = pending.pop()
                if current.status == OK and current.base in by_id and current.base not in keep:
                    keep.add(current.base)
                    pending.append(by_id[current.base])
            for record in records:
                if record.id not in keep:
                    removed.append(record.id)
                    if record.file:
                        with contextlib.suppress(OSError):
                            (self.dir / record.file).unlink()
            return [r for r in records if r.id in keep]

        self.manifest.update(change)
        if removed and self.secondary is not None:
            gone = set(removed)

            def drop(records: builtins.list[BackupRecord]) -> builtins.list[BackupRecord]:
                assert self.secondary is not None
                for record in records:
                    if record.id in gone and record.file:
                        with contextlib.suppress(OSError):
                            (self.secondary.dir / record.file).unlink()
                return [r for r in records if r.id not in gone]

            try:
                self.secondary.update(drop)
            except (OSError, BackupFailed) as exc:
                log.error("could not prune the secondary backup dir: %s", exc)
        if removed:
            log.info("retention removed backups %s", removed)
        return removed

    # -- restore -------------------------------------------------------------------------------
    def plan(
        self, backup_id: str | None = None, at: float | None = None
    ) -> builtins.list[BackupRecord]:
        """The backups a restore with these arguments would apply, full first.

        Raises:
            NotFound: no such backup, or no verified full at or before ``at``.
            BackupFailed: the chain has a gap or an unusable member.
        """
        records = self.manifest.load()
        return restoring.plan(records, backup_id=backup_id, at=at, db_id=self._live_meta("db_id"))

    def _live_meta(self, key: str) -> str | None:
        """A meta value of the live database, None when it cannot be read (or is damaged)."""
        path = self.config.db_path
        if not path.is_file():
            return None
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        return str(row[0]) if row else None

    def _usable_file(self, record: BackupRecord) -> Path:
        """The primary file if it is intact, else an intact secondary copy.

        Raises:
            BackupFailed: no intact copy of the file.
        """
        problems: builtins.list[str] = []
        candidates = [self.dir] + ([self.secondary.dir] if self.secondary is not None else [])
        for directory in candidates:
            path = directory / str(record.file)
            try:
                if not path.is_file():
                    raise BackupFailed(f"{path} is missing")
                if sha256_file(path) != record.sha256:
                    raise BackupFailed(f"{path} does not match its sha256 (changed or damaged)")
                return path
            except (BackupFailed, OSError) as exc:
                problems.append(str(exc))
        raise BackupFailed(f"backup {record.id} cannot be used: {'; '.join(problems)}")

    def restore(self, backup_id: str | None = None, at: float | None = None) -> restoring.Report:
        """Replace the database with its state at a backup (point in time).

        ``backup_id`` restores exactly that backup (with the backups it builds
        on); otherwise the newest state at or before ``at`` (default: the
        newest available). The result is built in a new file beside the
        database, checked, and swapped in atomically; the current database
        (damaged or not) is kept under ``<data dir>/replaced/``. The next backup
        after a restore is a full one. The pattern index is reset so it is
        rebuilt from the restored rows on next use.

        Raises:
            NotFound: no such backup, or none at or before ``at``.
            BackupFailed: a file is missing or damaged, the chain has a gap, or
                the result failed its checks; the database was not touched.
        """
        started = time.monotonic()
        with self._exclusive():
            # A swap an earlier restore was killed in is finished or undone first.
            self._settle_swap()
            restoring.clean_stale(self.config.db_path)
            chain = self.plan(backup_id, at)
            files = [self._usable_file(r) for r in chain]
            tmp = restoring.temp_path(self.config.db_path, chain[-1].id)
            try:
                epoch = self._live_meta(l2_protocol.EPOCH_KEY)
                stats = restoring.build(
                    list(zip(chain, files, strict=True)),
                    tmp,
                    live_epoch=int(epoch) if epoch and epoch.isdigit() else 0,
                )
                vectors = restoring.vector_dir(self.config)
                kept = restoring.swap_in(
                    tmp,
                    self.config.db_path,
                    self.config.data_dir / "replaced",
                    busy_timeout_ms=self.config.busy_timeout_ms,
                    vectors=vectors,
                )
            except BaseException:
                restoring.remove_quietly(tmp)
                raise
            vectors_reset = vectors is not None and not vectors.exists()
        report = restoring.Report(
            applied=[r.id for r in chain],
            kinds=[r.kind for r in chain],
            seq=stats.seq,
            rows_replayed=stats.rows,
            state_at=chain[-1].created_at,
            kept_aside=str(kept) if kept is not None else None,
            chain=stats.chain,
            vector_index_reset=vectors_reset,
            seconds=time.monotonic() - started,
        )
        log.info("restored %s from %s", self.config.db_path, report.applied)
        return report


def _meaningful(
    keys: dict[str, list[str]], rows: dict[str, dict[str, tuple[Any, ...]]], shapes: dict[str, Any]
) -> bool:
    """False when the only changes are this service's own metric rows."""
    for table, ks in keys.items():
        if table != "metrics":
            return True
        kind_at = shapes[table].columns.index("metric_type")
        for key in ks:
            row = rows[table].get(key)
            if row is None or row[kind_at] not in OWN_METRICS:
                return True
    return False
