"""Durable, private file operations.

- fsync a file or a directory, replace a file atomically;
- file modes: everything a data dir holds is for its owner only. Files are
  created 0600 and directories 0700 with explicit modes (the process umask is
  left alone: it belongs to the host program), and what an older version or
  another tool left looser is tightened when a data dir is opened
  (:func:`secure_tree`), with a one-line notice when something was exposed.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_LOOSE = 0o077  # any access for group or others
# Walked at most per call (about 15 ms): a data dir holds tens to a few hundred
# entries (a day of incrementals is ~300); past this the rest is left as it is.
TIGHTEN_LIMIT = 5_000
_noticed: set[str] = set()


def fsync_file(path: Path) -> None:
    """Flush a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fsync_file(path)  # a directory opened read-only can be fsynced like a file


def write_atomic(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync the directory.

    The temp file is created with ``mode`` (so a key file is never readable by
    others, not even for a moment).
    """
    private_dir(path.parent)
    tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
    fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC, mode=mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


# -- file modes -----------------------------------------------------------------


def private_dir(path: Path) -> bool:
    """Create ``path`` (and missing parents) as a 0700 directory; tighten it if looser.

    Missing parents get the usual modes (as ``mkdir -p``): they are not ours.
    Returns whether an existing directory was tightened.

    Raises:
        OSError: the directory cannot be created.
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        mode = path.stat().st_mode
        if mode & _LOOSE:
            os.chmod(path, PRIVATE_DIR)
            return True
    except OSError as exc:  # not ours, or a file system without modes: still usable
        log.warning("could not make %s private: %s", path, exc.strerror or exc)
    return False


def private_if_empty(path: Path) -> None:
    """Make an existing empty directory 0700, quietly: it exposed nothing yet."""
    try:
        with os.scandir(path) as entries:
            empty = next(entries, None) is None
        if empty and stat.S_IMODE(path.stat().st_mode) & _LOOSE:
            os.chmod(path, PRIVATE_DIR)
    except OSError:
        pass  # missing (created 0700 later), not a directory, or not ours


def open_private(path: Path, flags: int = os.O_WRONLY, *, mode: int = PRIVATE_FILE) -> int:
    """``os.open`` creating ``path`` with ``mode``; an existing file that is looser is tightened.

    Never follows a symlink at ``path``. Not for a database another connection
    of this process may have open: closing any descriptor of a file drops this
    process's POSIX locks on it (use :func:`create_private` there).
    """
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, mode)
    try:
        current = os.fstat(fd).st_mode
        if current & _LOOSE:
            os.fchmod(fd, stat.S_IMODE(current) & ~_LOOSE)
    except OSError as exc:  # a file system without modes: the file is still usable
        log.debug("could not tighten %s: %s", path, exc)
    return fd


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (an existing file is not opened).

    SQLite gives the -wal, -shm and -journal files it creates the mode of the
    database file, so creating the database this way keeps those private too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def tighten_tree(root: Path, *, limit: int = TIGHTEN_LIMIT) -> int:
    """Take group and other access away under ``root``; return how many paths were changed.

    See :func:`_tighten` (which also tells what was exposed).
    """
    return _tighten(root, limit)[0]


def _tighten(root: Path, limit: int) -> tuple[int, int]:
    """Walk ``root`` (breadth first, one ``scandir`` per directory) and chmod what is loose.

    Directories and files lose their group/other bits (0755 -> 0700, 0644 -> 0600).
    Symlinks are skipped and never followed (``root`` itself is followed: it
    is the directory the user chose). A directory is tightened before it is
    entered. Errors (a path that vanished, one we may not change) skip that
    path. At most ``limit`` entries are looked at.

    Returns ``(changed, exposed)``: ``exposed`` counts the changed paths others
    could actually reach (every directory above them let them through), so a
    file left 0644 inside a 0700 directory is tightened silently. An empty
    root exposed nothing.
    """
    try:
        root_mode = os.stat(root).st_mode
    except OSError:
        return 0, 0
    if not stat.S_ISDIR(root_mode):
        return 0, 0
    changed = exposed = failed = seen = 0
    first_error: OSError | None = None
    root_changed = False
    if root_mode & _LOOSE:
        try:
            os.chmod(root, stat.S_IMODE(root_mode) & ~_LOOSE)
            changed, root_changed = 1, True
        except OSError as exc:
            failed, first_error = 1, exc
    # (directory, whether others could pass through every directory down to it)
    pending: deque[tuple[str, bool]] = deque([(os.fspath(root), bool(root_mode & 0o011))])
    while pending and seen < limit:
        current, reachable = pending.popleft()
        try:
            entries = os.scandir(current)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if seen == 0 and root_changed:
                    exposed += 1  # the root's listing was readable
                seen += 1
                try:
                    if entry.is_symlink():
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                if mode & _LOOSE:
                    try:
                        os.chmod(entry.path, stat.S_IMODE(mode) & ~_LOOSE)
                    except OSError as exc:
                        failed += 1
                        first_error = first_error or exc
                    else:
                        changed += 1
                        exposed += reachable
                if is_dir:
                    pending.append((entry.path, reachable and bool(mode & 0o011)))
                if seen >= limit:
                    log.debug("stopped tightening %s after %d entries", root, seen)
                    break
    if failed:
        log.warning(
            "could not tighten the permissions of %d path(s) under %s: %s",
            failed, root, getattr(first_error, "strerror", None) or first_error,
        )  # fmt: skip
    return changed, exposed


def secure_tree(root: Path, *, limit: int = TIGHTEN_LIMIT) -> int:
    """Tighten ``root`` and everything under it; say so once when any of it was exposed.

    The notice is one line on stderr (and in the log), at most once per root
    per process. Returns how many paths were changed. Never raises.
    """
    changed, exposed = _tighten(root, limit)
    if exposed and str(root) not in _noticed:
        _noticed.add(str(root))
        message = (
            f"tightened permissions of {changed} path(s) under {root} (were readable by others)"
        )
        log.info("%s", message)
        try:
            sys.stderr.write(f"claude-tui: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # no usable stderr (closed, detached)
            pass
    return changed
