"""Children for the key-rotation tests (``python -m tests.key_workers ROLE DATA_DIR SESSION``).

``serve``: opens the data dir once and answers commands on stdin, one per
line, so a test can act between another process's steps:
``get KEY`` prints ``value KEY <json>`` (or ``error KEY <message>``),
``put KEY JSON`` stores a secret and prints ``ok KEY``.

``writer``: stores secrets ``w-0``, ``w-1``, ... one by one until killed and,
after each, reads back an earlier one; prints ``ack I`` once both have
returned, or ``error ...`` and exits 3 on the first failure.

The :class:`Lines` reader follows a child's output without sleeping.
"""

from __future__ import annotations

import json
import sys

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import ClaudeTUIError
from tests.children import Output


def secret(i: int | str) -> dict[str, str]:
    """The value stored as secret number ``i`` (sensitive by its field name)."""
    return {"password": f"pw-{i}-{'x' * 8}"}


def _open(data_dir: str) -> MemoryCoordinator:
    return MemoryCoordinator.open(
        Config.load(data_dir, env={}, redis_enabled=False), use_redis=False
    )


def serve(data_dir: str, session: str) -> None:
    """Answer get/put commands on stdin with one coordinator kept open."""
    with _open(data_dir) as c:
        print("ready", flush=True)
        for line in sys.stdin:
            verb, key, *rest = line.split(maxsplit=2)
            try:
                if verb == "put":
                    c.memory.store(key, json.loads(rest[0]), session_id=session)
                    print(f"ok {key}", flush=True)
                else:
                    found = c.memory.get(key, session_id=session)
                    value = None if found is None else found.value
                    print(f"value {key} {json.dumps(value)}", flush=True)
            except ClaudeTUIError as exc:
                print(f"error {key} {type(exc).__name__}: {exc.message}", flush=True)


def writer(data_dir: str, session: str) -> None:
    """Store and read back secrets until killed."""
    with _open(data_dir) as c:
        i = 0
        while True:
            try:
                c.memory.store(f"w-{i}", secret(i), session_id=session)
                back = i // 2
                found = c.memory.get(f"w-{back}", session_id=session)
                if found is None or found.value != secret(back):
                    print(f"error w-{back} read back {found!r}", flush=True)
                    sys.exit(3)
            except ClaudeTUIError as exc:
                print(f"error w-{i} {type(exc).__name__}: {exc.message}", flush=True)
                sys.exit(3)
            print(f"ack {i}", flush=True)
            i += 1


class Lines(Output):
    """A ``serve`` child's output, and commands sent to it."""

    def ask(self, command: str, timeout: float = 60) -> str:
        """Send one command to a ``serve`` child; its answer line."""
        assert self.proc.stdin is not None
        with self._cond:
            seen = len(self.lines)
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self.until(lambda lines: len(lines) > seen, f"an answer to {command!r}", timeout)
        with self._cond:
            return self.lines[seen]

    def acks(self) -> list[int]:
        """The indexes a ``writer`` child has acknowledged so far."""
        with self._cond:
            return [int(line.split()[1]) for line in self.lines if line.startswith("ack ")]

    def errors(self) -> list[str]:
        """Every ``error`` line so far."""
        with self._cond:
            return [line for line in self.lines if line.startswith("error")]


if __name__ == "__main__":
    {"serve": serve, "writer": writer}[sys.argv[1]](*sys.argv[2:])
