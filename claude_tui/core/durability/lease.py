"""File leases: at most one process per data dir holds one (``flock``, freed by the OS on death).

A lease is an exclusive, non-blocking ``flock`` on a file. The kernel drops it
when the holder exits for any reason (including ``kill -9``), so a lease is
never stale. The holder writes who it is into the file, for status displays.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claude_tui.core.durability.files import private_dir


class Lease:
    """An exclusive lease on ``path``, taken without waiting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """True while this object holds the lease."""
        return self._fd is not None

    def acquire(self, now: float | None = None) -> bool:
        """Take the lease if nobody holds it; return whether this object holds it now."""
        with self._lock:
            if self._fd is not None:
                return True
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started_at": time.time() if now is None else now,
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            self._fd = fd
            return True

    def release(self) -> None:
        """Give the lease up (idempotent); the holder info is cleared."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """``{pid, host, started_at, self}`` of the live holder, or None when nobody holds it."""
        if self._fd is None and not self._someone_holds():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            data = {}  # the new holder is between truncating and writing
        info: dict[str, Any] = {
            "pid": data.get("pid"),
            "host": data.get("host"),
            "started_at": data.get("started_at"),
        }
        info["self"] = self._fd is not None
        return info

    def _someone_holds(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold a blocking exclusive ``flock`` on ``path`` for the ``with`` block."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
