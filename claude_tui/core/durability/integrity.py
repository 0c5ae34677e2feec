"""Is the database file damaged? A cheap check for every start and a full one for doctor.

``quick_check`` is meant to run each time a process opens the data dir: it
compares the file's size with SQLite's page count, reads ``sqlite_master`` and runs
``PRAGMA quick_check`` only on files small enough for it to take milliseconds.
``full_check`` always runs ``PRAGMA quick_check`` (every page, no index
cross-check); it is what ``claude-tui doctor`` reports.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.errors import StoreCorrupt

# Below this size PRAGMA quick_check reads every page in well under a second.
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024

_CORRUPT_MARKERS = ("malformed", "file is not a database", "database corrupt")


@dataclass(frozen=True)
class IntegrityReport:
    """The outcome of a check: ``ok``, what was checked and, when not ok, why."""

    path: str
    ok: bool
    level: str  # "missing", "header", "quick" or "full": the deepest check that ran
    problem: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def is_corruption(exc: BaseException) -> bool:
    """True when an sqlite3 error means the file itself is damaged (not busy, not locked)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(
        m in str(exc).lower() for m in _CORRUPT_MARKERS
    )


def corrupt_error(path: Path | str, problem: str) -> StoreCorrupt:
    """The one-line error every front end shows for a damaged database."""
    return StoreCorrupt(
        f"{path} is damaged ({problem}); run `claude-tui backup restore latest` to replace "
        "it with the latest verified backup (the damaged file is kept aside)"
    )


def _size_problem(path: Path, conn: sqlite3.Connection) -> str | None:
    """Compare the file's size with what SQLite says it should hold.

    Asked of SQLite (pragmas) and of ``stat``, never by opening the file: on
    POSIX, closing any descriptor of a file drops every lock this process
    holds on it, SQLite's included, and another process could then checkpoint
    and delete the WAL under our open connection.
    """
    size = path.stat().st_size
    if size == 0:
        return None  # a new, empty file: SQLite creates the schema in it
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    if size % page_size:
        return f"file size {size:,} is not a multiple of the page size {page_size}"
    wal = Path(f"{path}-wal")
    # With frames still in the WAL a crash mid-checkpoint may leave the file
    # shorter than the header says, and SQLite reads those pages from the WAL.
    if wal.exists() and wal.stat().st_size > 0:
        return None
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    if pages * page_size > size:
        return f"the file is truncated ({size:,} bytes, the header says {pages * page_size:,})"
    return None


def _open(path: Path) -> sqlite3.Connection:
    # Not mode=ro: a read-only connection cannot create the -shm a WAL file needs.
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _pragma_problem(conn: sqlite3.Connection, pragma: str) -> str | None:
    rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
    if rows == ["ok"]:
        return None
    first = rows[0] if rows else "no answer"
    more = f" (+{len(rows) - 1} more)" if len(rows) > 1 else ""
    return f"{pragma}: {first}{more}"


def _check(
    path: Path, conn: sqlite3.Connection | None, *, deep: bool, max_bytes: int
) -> IntegrityReport:
    started = time.monotonic()

    def report(ok: bool, level: str, problem: str | None = None) -> IntegrityReport:
        return IntegrityReport(str(path), ok, level, problem, time.monotonic() - started)

    if not path.exists():
        return report(True, "missing")
    if path.stat().st_size == 0:
        return report(True, "header")
    own = conn is None
    try:
        c = _open(path) if conn is None else conn
        try:
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()
            problem = _size_problem(path, c)
            if problem is not None:
                return report(False, "header", problem)
            level = "header"
            if deep or path.stat().st_size <= max_bytes:
                level = "full" if deep else "quick"
                problem = _pragma_problem(c, "quick_check")
            return report(problem is None, level, problem)
        finally:
            if own:
                c.close()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc) or "not a database" in str(exc).lower():
            return report(False, "header", str(exc))
        raise
    except OSError as exc:
        return report(False, "header", f"cannot read the file: {exc.strerror or exc}")


def quick_check(
    path: Path | str,
    conn: sqlite3.Connection | None = None,
    *,
    max_bytes: int = QUICK_CHECK_MAX_BYTES,
) -> IntegrityReport:
    """The cheap start-up check: header, size, ``sqlite_master``, small-file quick_check.

    ``conn`` may be an already open connection to ``path`` (saves an open).
    A missing or empty file is ok (it is about to be created).

    Raises:
        sqlite3.OperationalError: the file is busy or locked (not damage).
    """
    return _check(Path(path), conn, deep=False, max_bytes=max_bytes)


def full_check(path: Path | str, conn: sqlite3.Connection | None = None) -> IntegrityReport:
    """``PRAGMA quick_check`` over every page, whatever the file's size."""
    return _check(Path(path), conn, deep=True, max_bytes=0)


def require_intact(path: Path | str, conn: sqlite3.Connection | None = None) -> None:
    """Run :func:`quick_check`; raise the StoreCorrupt one-liner when it fails.

    Raises:
        StoreCorrupt: naming the problem and ``claude-tui backup restore latest``.
    """
    found = quick_check(path, conn)
    if not found.ok:
        raise corrupt_error(path, found.problem or "unknown damage")
