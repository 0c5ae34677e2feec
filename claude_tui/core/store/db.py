"""The Store: one SQLite connection, its lock, the write helper and the change feed."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from claude_tui.core.config import Config
from claude_tui.core.durability import swap
from claude_tui.core.durability.files import private_if_empty, secure_tree
from claude_tui.core.errors import StoreReplaced, StoreUnusable
from claude_tui.core.events import ChangeEvent
from claude_tui.core.store import txn
from claude_tui.core.store.connection import connect, unwritable_error
from claude_tui.core.store.migrate import migrate, schema_version

T = TypeVar("T")

_CHANGE_COLUMNS = "seq, tbl, op, row_id, session_id, ckey, clock, origin"


def _raise_if_unwritable(path: Path, exc: sqlite3.DatabaseError) -> None:
    """A read-only database or a full disk as one clear line (the transaction rolled back)."""
    problem = unwritable_error(path, exc)
    if problem is not None:
        raise problem from None


class Store:
    """Owns the connection. Every public method is safe to call from any thread."""

    def __init__(self, config: Config) -> None:
        self.path: Path = config.db_path
        private_if_empty(config.data_dir)  # made by the user just now: no notice for it
        # No restore swaps the file while this process attaches to it; one a
        # killed restore left half-done is finished or undone first.
        try:
            with swap.opening(self.path, timeout=float(config.write_patience_seconds)):
                self._open(config)
        except swap.SwapBusy:
            raise StoreUnusable(
                f"a backup restore is replacing {self.path}; try again in a moment"
            ) from None
        except swap.SwapStuck as exc:
            raise StoreUnusable(
                f"cannot finish the swap an interrupted restore left in {self.path.parent}: {exc}"
            ) from None

    def _open(self, config: Config) -> None:
        from claude_tui.core.durability import integrity

        try:
            self.conn = connect(
                self.path, busy_timeout_ms=config.busy_timeout_ms, synchronous=config.synchronous
            )
        except StoreUnusable as exc:
            # connect() words every sqlite error as "unusable"; damage has its own remedy.
            if any(m in exc.message.lower() for m in ("malformed", "file is not a database")):
                raise integrity.corrupt_error(self.path, exc.message.split(": ")[-1]) from None
            raise
        # The data dir and all it holds, owner only: once the file is known to be ours
        # (a data dir refused above is left as it is). A new database, and the -wal
        # and -shm SQLite made for it, were created 0600 already.
        secure_tree(config.data_dir)
        swap.ensure_lock_file(self.path)  # what the next open locks while it attaches
        # The file a restore may later move aside: writes check the path still names it,
        # and that no restore is swapping files now (its journal).
        self._inode = os.stat(self.path).st_ino
        self._swap_journal = os.fspath(swap.journal_path(self.path))
        self.lock = threading.RLock()
        self._busy_timeout_ms = int(config.busy_timeout_ms)
        # How long a write keeps retrying a busy database (a hook gives up sooner and spools).
        self.write_patience = float(config.write_patience_seconds)
        self._scan_conn: sqlite3.Connection | None = None
        self._scan_lock = threading.Lock()
        self._synchronous = config.synchronous.upper()
        try:
            # Header and size always; PRAGMA quick_check unless the file is as last checked.
            found, self._known = integrity.open_check(self.path, self.conn)
            if not found.ok:
                raise integrity.corrupt_error(self.path, found.problem or "unknown damage")
            self.applied_migrations = migrate(self.conn, self.path)
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if integrity.is_corruption(exc):
                raise integrity.corrupt_error(self.path, str(exc)) from None
            _raise_if_unwritable(self.path, exc)
            raise
        except StoreUnusable as exc:
            self.conn.close()
            if any(m in exc.message.lower() for m in ("malformed", "file is not a database")):
                raise integrity.corrupt_error(self.path, exc.message.split(": ")[-1]) from None
            raise
        except BaseException:
            self.conn.close()
            raise
        self._db: Any = None
        self.db_id: str = meta["db_id"]
        self.node_id: str = meta["node_id"]
        self._data_version = self._read_data_version()

    @property
    def db(self) -> Any:
        """A ``sqlite_utils.Database`` over the connection, made on first use.

        Nothing on the open path needs it, and importing sqlite_utils (it pulls in
        numpy) costs more than the whole start-up of a one-shot command.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(
                self.conn, recursive_triggers=False, execute_plugins=False
            )
        return self._db

    # -- reads ----------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return all rows as tuples."""
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                self._raise_if_corrupt(exc)
                raise

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a query and return its first row (or None)."""
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchone()
            except sqlite3.DatabaseError as exc:
                self._raise_if_corrupt(exc)
                raise

    def scan_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a long read-only query (counts, sizes) on a second connection.

        WAL lets it read while the main connection keeps serving point reads
        and writes, so a count over a million rows never stalls a get.
        """
        with self._scan_lock:
            if self._scan_conn is None:
                # Attached like the main connection: never to a half-swapped file.
                try:
                    with swap.opening(self.path, timeout=self.write_patience):
                        self._check_not_replaced()
                        self._scan_conn = self._connect_scan()
                except swap.SwapBusy:
                    raise StoreReplaced(
                        "a backup restore is replacing the database; try again in a moment"
                    ) from None
                except swap.SwapStuck as exc:
                    raise StoreUnusable(
                        f"cannot finish the swap an interrupted restore left: {exc}"
                    ) from None
            return self._scan_conn.execute(sql, params).fetchall()

    def _connect_scan(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA query_only = 1")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # maps -wal/-shm now
        except BaseException:
            conn.close()
            raise
        return conn

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (or None)."""
        found = self.row(sql, params)
        return None if found is None else found[0]

    # -- writes ---------------------------------------------------------
    def write(
        self,
        body: Callable[[sqlite3.Connection], T],
        *,
        patience: float | None = None,
        wait: bool = True,
    ) -> T:
        """Run ``body`` in one short write transaction (retried while the file is busy).

        ``wait=False`` is for advisory writes on a read path (access counts): it
        fails at once if another process holds the write lock, and commits
        without an fsync (``synchronous=NORMAL``: safe from corruption in WAL
        mode; only this advisory write could be lost on power failure).
        """

        def guarded(conn: sqlite3.Connection) -> T:
            # Checked under the write lock: a restore writes its swap journal before
            # it takes that lock to move files, so a write either lands before the
            # swap (and is kept in the file moved aside) or sees it here and is refused.
            self._check_not_replaced()
            return body(conn)

        waited = self.write_patience if patience is None else patience
        with self.lock:
            while True:
                try:
                    return self._write_once(guarded, patience=waited if wait else 0.0, wait=wait)
                except swap.SwapPending:
                    # Nothing was written. Wait for the swap, or finish / undo what a
                    # killed restore left, and write again: on the restored file that
                    # raises StoreReplaced, on the old one (swap undone) it commits.
                    if not wait:
                        raise sqlite3.OperationalError(
                            "database is locked: a restore swaps it"
                        ) from None
                    self._settle(waited)

    def _write_once(
        self, guarded: Callable[[sqlite3.Connection], T], *, patience: float, wait: bool
    ) -> T:
        before = self._known.before()  # a commit may checkpoint: follow what it wrote
        try:
            if wait:
                return txn.write(self.conn, guarded, patience=patience)
            self.conn.execute("PRAGMA busy_timeout = 0")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            try:
                return txn.write(self.conn, guarded, patience=0.0)
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
                self.conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.DatabaseError as exc:
            self._raise_if_corrupt(exc)
            _raise_if_unwritable(self.path, exc)
            raise
        finally:
            self._known.after(before)

    def _settle(self, timeout: float) -> None:
        try:
            swap.settle(self.path, timeout=timeout)
        except swap.SwapBusy:
            raise StoreReplaced(
                f"a backup restore is replacing the database and was not done after "
                f"{timeout:g} s; nothing was written — try again"
            ) from None
        except swap.SwapStuck as exc:
            raise StoreUnusable(
                f"cannot finish the swap an interrupted restore left in {self.path.parent}: "
                f"{exc}; nothing was written"
            ) from None

    def _check_not_replaced(self) -> None:
        """Raise StoreReplaced when the path no longer names the file we opened.

        Raises ``swap.SwapPending`` while a restore's swap journal exists.
        """
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if current != self._inode:
            raise StoreReplaced()
        if os.path.exists(self._swap_journal):
            raise swap.SwapPending()

    def _raise_if_corrupt(self, exc: sqlite3.DatabaseError) -> None:
        from claude_tui.core.durability import integrity

        if integrity.is_corruption(exc):
            raise integrity.corrupt_error(self.path, str(exc)) from None

    @staticmethod
    def last_seq(conn: sqlite3.Connection) -> int:
        """The newest change-log sequence number (call inside the write transaction)."""
        found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'change_log'").fetchone()
        return int(found[0]) if found else 0

    # -- change feed ----------------------------------------------------
    def _read_data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def changed_elsewhere(self) -> bool:
        """True once after another connection committed (cheap: one pragma)."""
        with self.lock:
            current = self._read_data_version()
            if current == self._data_version:
                return False
            self._data_version = current
            return True

    def current_seq(self) -> int:
        """The newest change-log sequence number committed so far."""
        return int(self.scalar("SELECT coalesce(max(seq), 0) FROM change_log"))

    def changes_since(self, seq: int, limit: int = 10_000) -> list[ChangeEvent]:
        """Change-log rows after ``seq``, oldest first, as (non-local) events."""
        rows = self.rows(
            f"SELECT {_CHANGE_COLUMNS} FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [
            ChangeEvent(
                seq=r[0], table=r[1], op=r[2], row_id=str(r[3]), session_id=r[4],
                ckey=r[5], clock=r[6], origin=r[7], local=False,
            )
            for r in rows
        ]  # fmt: skip

    def prune_change_log(self, before_ts: float, batch: int = 10_000) -> int:
        """Delete change-log rows older than ``before_ts`` in short transactions.

        Readers whose last seen sequence falls in the pruned range notice the
        gap and drop their whole L1 cache (see ``Runtime.drain_changes``).
        """
        total = 0
        while True:

            def body(conn: sqlite3.Connection) -> int:
                return conn.execute(
                    "DELETE FROM change_log WHERE seq IN "
                    "(SELECT seq FROM change_log WHERE ts < ? ORDER BY seq LIMIT ?)",
                    (before_ts, batch),
                ).rowcount

            removed = self.write(body)
            total += removed
            if removed < batch:
                return total

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self.lock:
            return schema_version(self.conn)

    def meta(self, key: str) -> str | None:
        """A value from the ``meta`` table."""
        return self.scalar("SELECT value FROM meta WHERE key = ?", (key,))

    def close(self) -> None:
        """Close the connections (idempotent); re-stamp what the closing checkpoint wrote."""
        with self.lock, self._scan_lock:
            before = self._known.before()  # the last close checkpoints
            for conn in (self.conn, self._scan_conn):
                try:
                    if conn is not None:
                        conn.close()
                except sqlite3.Error:
                    pass
            self._known.after(before, closing=True)
