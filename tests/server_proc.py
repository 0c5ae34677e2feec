"""Waiting on what tests start: a server's ready line, a child's output, a condition.

No fixed sleeps. A server is ready when it says so on its log (the pipe); a
child has done something when it prints so; a condition that only another
process can change (a row in its database) is looked at again until it holds
or a deadline passes, and the failure says what was awaited.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, AnyStr, Generic


class LineReader(Generic[AnyStr]):
    """Reads a child's output a line at a time in a thread; tests wait for a line.

    Reading never stops until the pipe closes, so a chatty child never stalls
    on a full pipe; every line is kept (:attr:`lines`) for a failure message.
    """

    def __init__(self, stream: IO[AnyStr], name: str = "child") -> None:
        self.name = name
        self.lines: list[AnyStr] = []
        self.closed = False  # the pipe reached EOF (the child exited or closed it)
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name=f"lines of {name}", daemon=True
        )
        self._thread.start()

    def _read(self, stream: IO[AnyStr]) -> None:
        try:
            for line in stream:
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # the pipe was closed under the reader (the test killed the child)
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def wait_for(
        self, match: Callable[[AnyStr], object], timeout: float, *, start: int = 0
    ) -> int | None:
        """The index of the first line from ``start`` on that ``match``\\ es, waiting for it.

        None when the pipe closed or ``timeout`` seconds passed first.
        """
        deadline = time.monotonic() + timeout
        seen = start
        with self._cond:
            while True:
                for i in range(seen, len(self.lines)):
                    if match(self.lines[i]):
                        return i
                seen = max(seen, len(self.lines))
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self._cond.wait(left)

    def expect(
        self, match: Callable[[AnyStr], object], timeout: float, what: str, *, start: int = 0
    ) -> int:
        """:meth:`wait_for`, failing the test (with the last lines read) when it returns None."""
        found = self.wait_for(match, timeout, start=start)
        if found is None:
            why = "its output ended" if self.closed else f"{timeout:g} s passed"
            tail = b"".join(x if isinstance(x, bytes) else x.encode() for x in self.lines[-10:])
            raise AssertionError(
                f"{self.name}: {why} before {what}; last lines:\n" + tail.decode(errors="replace")
            )
        return found

    def count(self) -> int:
        """How many lines were read so far."""
        with self._cond:
            return len(self.lines)


def start_server(
    argv: Sequence[str], ready: bytes, *, timeout: float, name: str, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], LineReader[bytes]]:
    """Start ``argv`` (stderr joined to stdout) and wait for the line containing ``ready``.

    Returns the process and the reader of its log, which keeps reading (and
    can be waited on for later lines). Raises RuntimeError, after killing the
    process, when it exits or ``timeout`` seconds pass first.
    """
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd
    )  # fmt: skip
    assert proc.stdout is not None
    log = LineReader(proc.stdout, name)
    if log.wait_for(lambda line: ready in line, timeout) is not None:
        return proc, log
    code = proc.poll()
    proc.kill()
    proc.wait(timeout=10)
    tail = b"".join(log.lines[-10:]).decode(errors="replace")
    why = f"exited with {code}" if code is not None else f"did not print {ready!r} in {timeout:g} s"
    raise RuntimeError(f"{name} {why}" + (f"; its last lines:\n{tail}" if tail else ""))


# The pause between two looks at a condition no event announces (another process's rows).
POLL_INTERVAL = 0.05
_never = threading.Event()  # waited on for the pause; never set


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float = 10.0,
    what: str = "",
    interval: float = POLL_INTERVAL,
) -> None:
    """Look at ``condition()`` until it holds; fail with ``what`` after ``timeout`` seconds.

    For conditions another process changes (nothing in this one can be waited
    on); in-process conditions wait on an Event or a Condition instead.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            name = what or getattr(condition, "__name__", repr(condition))
            raise AssertionError(f"timed out after {timeout:g} s waiting for {name}")
        _never.wait(interval)
