"""Child processes a test starts: their stdout followed as it comes, and none left behind."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest


class Output:
    """A child's stdout lines as they come (a reader thread), waited on without sleeping."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def until(self, done: Callable[[list[str]], bool], what: str, timeout: float = 60) -> None:
        """Wait until ``done(lines)``; fail when the child ends first or after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.lines):
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    state = "the child ended" if self.closed else "timed out"
                    raise AssertionError(f"{what}: {state}; last lines {self.lines[-5:]}")
                self._cond.wait(left)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Children a test starts; none outlives it (killed, then reaped with its pipes drained)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
