"""Swapping a restored database in while other processes have the old one open.

A restore moves the database's ``-wal`` and ``-shm`` aside and renames the
restored file over the database. Another process that still has the old file
open keeps using the moved ``-wal`` and ``-shm`` (it holds them open): had it
been let write while the files move, its commits would land in a WAL that no
longer belongs to the path, and a fresh process would pair the database with
a new, empty WAL (lost writes; "database disk image is malformed"). So:

- **The journal** ``<db>.swap`` is written (durably) before any file moves and
  removed after the last one. It names the restored file's inode, where the
  old file goes and the vector index to reset.
- **Every write transaction checks it** (one ``stat``, inside ``BEGIN
  IMMEDIATE``, beside the check that the path still names the file it opened,
  see ``Store.write``): while it exists nothing commits, the transaction is
  rolled back and the writer waits in :func:`settle`, then retries. The
  restore writes the journal *before* it takes the write lock, so a writer
  that checked earlier has committed before the restore checkpoints the WAL.
- **The swap lock** ``<db>.swap-lock`` (a ``flock``, freed by the kernel when
  its holder dies): a restore holds it exclusively for the whole swap; a
  process attaching a new connection holds it shared (:func:`opening`), so a
  swap never starts while SQLite creates or maps a ``-wal``/``-shm`` and no
  process opens the file while one runs.
- **Recovery** (:func:`recover`): whoever finds the journal with the swap lock
  free (the restore died) finishes the swap when the path already names the
  restored file, else undoes it (the ``-wal``/``-shm`` go back beside the old
  file, which the processes still holding it open use again as before). Every
  step can be repeated, so a recovery killed half-way is finished by the next.

After the swap, a writer holding the old file finds the path names another
file and gets ``StoreReplaced``; a writer whose swap was undone just commits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from claude_tui.core.durability.faults import point
from claude_tui.core.durability.files import PRIVATE_FILE, fsync_dir, write_atomic

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".swap"
LOCK_SUFFIX = ".swap-lock"
SIDE_SUFFIXES = ("-wal", "-shm")
_POLL_SECONDS = 0.01


class SwapPending(Exception):
    """Raised inside a write transaction while a swap's journal exists (never leaves the Store)."""


class SwapBusy(Exception):
    """The swap lock stayed taken past the deadline."""


class SwapStuck(Exception):
    """A file of an interrupted swap could not be moved back or forward (the journal stays)."""


@dataclass
class Journal:
    """What a recovery needs to finish or undo one swap."""

    tmp: str  # the restored file, renamed over the database at the swap's commit point
    new_ino: int  # its inode: the path names it once the swap committed
    aside: str  # where the old database (a hard link or copy) and its side files go
    vectors: str | None = None  # a local vector index to reset once the swap committed


def journal_path(db_path: Path) -> Path:
    """The swap journal of ``db_path`` (present only while a swap runs or after one died)."""
    return db_path.with_name(db_path.name + JOURNAL_SUFFIX)


def lock_path(db_path: Path) -> Path:
    """The file a swap locks exclusively and an opening process shared."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


def pending(db_path: Path) -> bool:
    """True while a swap journal exists (a restore swaps files now, or died doing it)."""
    return os.path.exists(journal_path(db_path))


def _read(db_path: Path) -> Journal | None:
    try:
        data = json.loads(journal_path(db_path).read_text(encoding="utf-8"))
        return Journal(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        # Written atomically, so never half-written; unreadable means not ours to follow.
        log.error("ignoring the unreadable swap journal %s: %s", journal_path(db_path), exc)
        return Journal(tmp="", new_ino=-1, aside="")


def ensure_lock_file(db_path: Path) -> None:
    """Create the swap lock file (0600) of a database known to be ours, if it is missing.

    Made by the first open that accepted the file (a refused data dir is left
    untouched) and by a restore, so an opening process finds it to lock.
    """
    with contextlib.suppress(OSError):  # a read-only data dir: no restore swaps files there
        os.close(_open_lock_file(db_path, create=True))


def _open_lock_file(db_path: Path, *, create: bool) -> int:
    # Created 0600; one an older tool left looser is tightened (and told) by
    # the data dir's secure_tree, which a silent fchmod here would hide.
    flags = os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
    return os.open(lock_path(db_path), flags, PRIVATE_FILE)


def _lock(db_path: Path, mode: int, deadline: float, *, create: bool = True) -> int | None:
    """Take the swap lock (``LOCK_SH``/``LOCK_EX``) by ``deadline``; its fd, None if unlockable.

    None when the lock file cannot be opened (a read-only data dir; missing
    with ``create=False``: no open ever accepted the database, so no restore
    swaps it).

    Raises:
        SwapBusy: another process held it past the deadline.
    """
    try:
        fd = _open_lock_file(db_path, create=create)
    except OSError:
        return None
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    return None
            if time.monotonic() >= deadline:
                raise SwapBusy()
            time.sleep(_POLL_SECONDS)  # held for a swap's few file operations
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing drops the flock


def settle(db_path: Path, *, timeout: float) -> None:
    """Return once no swap runs: wait for a restore's swap, or finish/undo one that died.

    Raises:
        SwapBusy: a swap still held the lock after ``timeout`` seconds, or the
            lock cannot be taken here (then the journal is left alone).
        SwapStuck: a file of the swap could not be moved back or forward.
    """
    if not pending(db_path):
        return
    fd = _lock(db_path, fcntl.LOCK_EX, time.monotonic() + timeout)
    if fd is None:
        raise SwapBusy()  # never recover without the lock: a restore may be running
    try:
        if pending(db_path):  # the lock is ours, so whoever wrote it is gone
            recover(db_path)
    except OSError as exc:
        raise SwapStuck(f"{exc.strerror or exc} ({exc.filename or db_path.parent})") from None
    finally:
        _unlock(fd)


@contextlib.contextmanager
def opening(db_path: Path, *, timeout: float) -> Iterator[None]:
    """Hold the swap lock shared while this process attaches a connection to ``db_path``.

    First settles any swap, so a connection never opens a half-swapped file.
    Without a lock file (no open accepted the database yet, so no restore
    swapped it) it takes no lock, and creates none: a refused data dir is
    left untouched.

    Raises:
        SwapBusy: a swap held the lock past ``timeout`` seconds.
        SwapStuck: an interrupted swap could not be finished.
    """
    deadline = time.monotonic() + timeout
    while True:
        settle(db_path, timeout=max(0.0, deadline - time.monotonic()))
        fd = _lock(db_path, fcntl.LOCK_SH, deadline, create=False)
        if not pending(db_path):
            break
        _unlock(fd)  # a restore wrote its journal and died between the two: settle again
    try:
        yield
    finally:
        _unlock(fd)


# -- the restore's side ----------------------------------------------------------------------
def begin(db_path: Path, journal: Journal, *, timeout: float) -> int | None:
    """Take the swap lock exclusively and write the journal; return the lock's fd.

    Waits for processes attaching a connection; settles a swap an earlier,
    killed restore left. From here on no write commits until :func:`finish`.

    Raises:
        SwapBusy: the lock stayed taken for ``timeout`` seconds.
    """
    fd = _lock(db_path, fcntl.LOCK_EX, time.monotonic() + timeout)
    try:
        if pending(db_path):
            recover(db_path)
        path = journal_path(db_path)
        for stale in path.parent.glob(f".tmp-{path.name}.*"):  # a restore killed writing it
            stale.unlink(missing_ok=True)
        write_atomic(path, json.dumps(asdict(journal)).encode())
    except BaseException:
        _unlock(fd)
        raise
    point("restore:journal")
    return fd


def release(fd: int | None) -> None:
    """Release the swap lock :func:`begin` took (a journal still there is recovered later)."""
    _unlock(fd)


def finish(db_path: Path) -> None:
    """Remove the journal durably: the swap is complete (or undone)."""
    with contextlib.suppress(FileNotFoundError):
        journal_path(db_path).unlink()
    fsync_dir(db_path.parent)


def retire_vectors(path: Path) -> Path | None:
    """Move a local vector index out of the way (one rename); where it went, None if absent.

    The learner rebuilds it from the restored patterns on first use.
    """
    if not path.exists():
        return None
    doomed = path.with_name(f".chroma-stale-{time.time_ns() // 1_000_000}")
    try:
        os.replace(path, doomed)  # never a half-deleted index at the path
    except OSError as exc:
        log.error("could not reset the vector index at %s: %s", path, exc)
        return None
    return doomed


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def recover(db_path: Path) -> str:
    """Finish or undo the swap the journal describes; call with the swap lock held exclusively.

    Returns ``"forward"`` (the restored file is in place; what is left of the
    swap is done) or ``"back"`` (the old file and its ``-wal``/``-shm`` are
    where they were). The journal goes last, so a recovery killed half-way is
    done again by the next process.
    """
    journal = _read(db_path)
    if journal is None:
        return "none"
    if journal.new_ino >= 0 and _inode(db_path) == journal.new_ino:
        outcome = "forward"
        if journal.vectors:
            doomed = retire_vectors(Path(journal.vectors))
            point("recover:vectors")
            if doomed is not None:
                shutil.rmtree(doomed, ignore_errors=True)
    else:
        outcome = "back"
        if journal.aside:
            _undo(db_path, Path(journal.aside))
        if journal.tmp:
            for suffix in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{journal.tmp}{suffix}").unlink()
    finish(db_path)
    verb = "finished" if outcome == "forward" else "undid"
    log.warning("%s an interrupted swap of %s (a restore that did not complete)", verb, db_path)
    return outcome


def _undo(db_path: Path, aside: Path) -> None:
    """Put the old file's -wal and -shm back beside it and drop the copy made under replaced/."""
    for suffix in SIDE_SUFFIXES:
        moved, home = Path(f"{aside}{suffix}"), Path(f"{db_path}{suffix}")
        if not moved.exists():
            continue
        if home.exists():
            # Only a connection opened outside the swap lock makes one; that file
            # may hold its commits, so it stays and the moved one is kept aside.
            log.error("%s exists again: keeping the moved %s under %s", home, suffix, aside.parent)
            continue
        os.replace(moved, home)
        point(f"recover:{suffix.lstrip('-')}")
    fsync_dir(db_path.parent)
    if aside.exists() and not any(Path(f"{aside}{s}").exists() for s in SIDE_SUFFIXES):
        aside.unlink()  # a hard link to (or copy of) the live file: not a replaced database
        point("recover:aside")
        fsync_dir(aside.parent)
