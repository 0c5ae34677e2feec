"""A real redis-server process for tests: start, kill -9, restart on the same port."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.server_proc import LineReader, start_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """One redis-server on 127.0.0.1 and a free port, keeping nothing on disk."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not on PATH: the tests need a real Redis "
                "(apt-get install redis-server)"
            )
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: LineReader[bytes] | None = None  # the running server's log, read as it comes
        self.extra_args: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and return once it logs that it accepts connections.

        Raises:
            RuntimeError: it exited first (the port was taken, a bad argument)
                or did not get ready within 30 s.
        """
        # Wait on its log, not a timer: redis-server prints this line once it listens
        # (after loading an append-only file, when it has one).
        self.proc, self.log = start_server(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra_args],
            b"Ready to accept connections", timeout=30, name=f"redis-server on port {self.port}",
        )  # fmt: skip

    def kill(self) -> None:
        """kill -9: the server vanishes mid-run, as in a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        self.kill()
