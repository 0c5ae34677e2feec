"""Is the database file damaged? A cheap check for every start and a full one for doctor.

``quick_check`` compares the file's size with SQLite's page count, reads
``sqlite_master`` and runs ``PRAGMA quick_check`` on files up to 64 MB (about 4 ms
per MB). ``full_check`` always runs ``PRAGMA quick_check`` (every page, no index
cross-check); it is what ``claude-tui doctor`` reports.

Each open runs :func:`open_check`: the header, size and ``sqlite_master`` checks
always, and ``PRAGMA quick_check`` only when the file is not exactly as its *stamp*
(``<db>.checked``) says it was last known intact. The stamp holds the file's device,
inode, size, mtime and ctime (nanoseconds) and when the quick_check it descends from
ran. It is written right after a quick_check passed with the file unchanged during it,
and when this program's own checkpoint (in a commit, or at the close) changed a file
known intact just before (:class:`KnownIntact`). Any other write to the file (a copy
over it, a stray program, a crash mid-checkpoint, a restore) changes its times or its
inode, so the next open checks every page again. Damage no write makes (a failing
disk) is found by the first open once the stamp is an hour old, by ``doctor``, and by
SQLite itself when it reads a damaged page. Losing the stamp only costs a quick_check.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, replace
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
    # "missing", "header", "quick" or "full": the deepest check that ran; "unchanged":
    # header checks, and the file is exactly as the stamp of an earlier check says
    level: str
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


# -- the stamp: skipping quick_check on a file known intact -------------------------

STAMP_SUFFIX = ".checked"
# A stamp is trusted this long after the quick_check it descends from: then one open
# checks every page again (damage no write made, such as a failing disk, is found).
STAMP_MAX_AGE_SECONDS = 3_600.0
FileState = tuple[int, int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


@dataclass(frozen=True)
class Stamp:
    """A file state known intact, and when the quick_check it descends from ran."""

    state: FileState
    checked_ns: int

    def fresh(self) -> bool:
        """Whether the quick_check behind it is recent enough to go on trusting."""
        return 0 <= time.time_ns() - self.checked_ns < STAMP_MAX_AGE_SECONDS * 1e9


def _timestamp_grain_ns() -> int:
    """How far apart two writes may be and still get the same mtime (a clock tick).

    Kernels with multigrain timestamps give a write after a ``stat`` a finer one, but
    older ones stamp files with the coarse clock (1-10 ms).
    """
    if sys.platform.startswith("linux"):
        try:
            return max(1, int(time.clock_getres(5) * 1e9))  # CLOCK_REALTIME_COARSE
        except OSError:
            pass
    return 10_000_000


_fine: dict[str, bool] = {}


def _fine_timestamps(directory: Path) -> bool:
    """Whether a write right after a ``stat`` gets a newer mtime on this file system.

    Multigrain timestamps (Linux 6.13+ on ext4, xfs, btrfs, tmpfs) guarantee it; older
    kernels stamp with the coarse clock. Probed once per process: writes to a scratch
    file with an ``fstat`` between them (a coarse clock that ticked between two of
    them moves by a whole tick, so a smaller step means fine timestamps).
    """
    key = str(directory)
    found = _fine.get(key)
    if found is None:
        from claude_tui.core.durability.files import open_private

        probe = directory / f".tmp-timestamps.{os.getpid()}"
        found = False
        try:
            fd = open_private(probe, os.O_WRONLY | os.O_TRUNC)
            try:
                # The first write may get a coarse time even where the fine ones are
                # given (nothing had asked for the file's times yet): compare the next two.
                os.write(fd, b"1")
                os.fstat(fd)
                os.write(fd, b"2")
                first = os.fstat(fd).st_mtime_ns
                os.write(fd, b"3")
                step = os.fstat(fd).st_mtime_ns - first
                found = 0 < step < _timestamp_grain_ns() // 2
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError:
            pass
        _fine[key] = found
    return found


def file_state(path: Path | str) -> FileState | None:
    """The file's identity and times by ``stat`` (never opened: see ``_size_problem``)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stamp_path(path: Path | str) -> Path:
    """Where the stamp of ``path`` lives (beside it)."""
    return Path(f"{path}{STAMP_SUFFIX}")


def read_stamp(path: Path | str) -> Stamp | None:
    """The stamp of ``path`` (None: no stamp, or one this version cannot read)."""
    try:
        parts = stamp_path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(parts) != 7 or parts[0] != "v1" or not all(p.isdigit() for p in parts[1:]):
        return None
    dev, ino, size, mtime, ctime, checked = (int(p) for p in parts[1:])
    return Stamp((dev, ino, size, mtime, ctime), checked)


def write_stamp(path: Path | str, stamp: Stamp) -> None:
    """Record ``stamp`` (temp file and rename, mode 0600). Never raises.

    No fsync: a stamp lost in a crash only costs a quick_check.
    """
    from claude_tui.core.durability.files import open_private

    target = stamp_path(path)
    tmp = target.with_name(f".tmp-{target.name}.{os.getpid()}")
    fields = (*stamp.state, stamp.checked_ns)
    try:
        fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, ("v1 " + " ".join(str(v) for v in fields) + "\n").encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def open_check(
    path: Path | str, conn: sqlite3.Connection, *, max_bytes: int = QUICK_CHECK_MAX_BYTES
) -> tuple[IntegrityReport, KnownIntact]:
    """The check of every open: :func:`quick_check`, without ``PRAGMA quick_check`` when
    the file is exactly as its (fresh) stamp says.

    Returns the report and what is now known intact (see :class:`KnownIntact`: nothing
    after a failed check, or for a file too big for quick_check). A quick_check that
    passes while the file did not change is stamped.

    Raises:
        sqlite3.OperationalError: the file is busy or locked (not damage).
    """
    path = Path(path)
    before = file_state(path)
    stamp = read_stamp(path)
    stamped = (
        before is not None and before[2] > 0 and stamp is not None
        and stamp.state == before and stamp.fresh()
    )  # fmt: skip
    found = _check(path, conn, deep=False, max_bytes=-1 if stamped else max_bytes)
    if not found.ok or before is None:
        return found, KnownIntact(path, None, stamp)
    if stamped:
        assert stamp is not None
        return replace(found, level="unchanged"), KnownIntact(path, stamp, stamp)
    if before[2] == 0:  # empty: nothing to damage yet
        return found, KnownIntact(path, Stamp(before, time.time_ns()), stamp)
    if found.level == "quick" and file_state(path) == before:
        known = KnownIntact(path, Stamp(before, time.time_ns()), stamp)
        known.save(wait=False)
        return found, known
    return found, KnownIntact(path, None, stamp)


class KnownIntact:
    """The state of one open database file known intact, following this process's writes.

    A write transaction, or the close, may checkpoint: SQLite copies pages it wrote
    and checksummed in the WAL into the file, changing its mtime. Wrap each in
    :meth:`before` / :meth:`after`: a change from a known state is this program's own
    and stays known (and stamped, for the next process's open); a change seen
    anywhere else (between operations, and not stamped by the process that made it)
    makes the state unknown, and the next open checks the file.
    """

    def __init__(self, path: Path, known: Stamp | None, stamp: Stamp | None) -> None:
        self.path = path
        self.known = known
        self._stamp = stamp  # the stamp on disk, as last read or written

    def before(self) -> FileState | None:
        """The file's state now, if anything is known (call before an operation)."""
        return file_state(self.path) if self.known is not None else None

    def after(self, before: FileState | None, *, closing: bool = False) -> None:
        """The operation that began at ``before`` is over: follow what it wrote.

        ``closing``: the last call; it waits out the timestamp grain (so that any
        later write changes the mtime), stamps, and forgets the state.
        """
        known = self.known
        if known is None or before is None:
            return
        if before != known.state:
            stamp = read_stamp(self.path)
            if before[:2] == known.state[:2] and stamp is not None and stamp.state == before:
                known = self._stamp = stamp  # another process followed its own change
            else:
                self.known = None  # changed unseen (or replaced): the next open checks
                return
        now = file_state(self.path)
        if now is None or now[:2] != before[:2]:
            self.known = None
            return
        self.known = Stamp(now, known.checked_ns)
        if self.known != self._stamp:
            self.save(wait=closing)
        if closing:
            self.known = None

    def save(self, *, wait: bool) -> None:
        """Stamp the known state, unless a write now could still get its mtime.

        ``wait``: then wait until none can, and stamp if the file did not change.
        """
        known = self.known
        if known is None:
            return
        pause = max(known.state[3], known.state[4]) + _timestamp_grain_ns() - time.time_ns()
        if pause > 0 and not _fine_timestamps(self.path.parent):
            if not wait:
                return  # stamped by a later write or the close
            time.sleep(pause / 1e9 + 0.0002)
            if file_state(self.path) != known.state:
                return
        write_stamp(self.path, known)
        self._stamp = known
