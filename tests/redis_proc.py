"""A real redis-server process for tests: start, kill -9, restart on the same port."""

from __future__ import annotations

import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain(out: IO[bytes]) -> None:
    for _ in iter(out.readline, b""):
        pass


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
        self.extra_args: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
        )  # fmt: skip
        assert self.proc.stdout is not None
        out = self.proc.stdout
        # Wait on its log (the pipe), not a timer: redis-server prints this line once it
        # listens (after loading an append-only file, when it has one). Unbuffered, so
        # select() never waits on a pipe whose next line sits in a read buffer already.
        deadline = time.monotonic() + 30
        while True:
            left = deadline - time.monotonic()
            ready = select.select([out], [], [], left)[0] if left > 0 else []
            line = out.readline() if ready else b""
            if not line:
                break  # exited (EOF: the port was taken, a bad argument) or the deadline passed
            if b"Ready to accept connections" in line:
                # Keep reading what it logs later, so a full pipe never stalls the server.
                threading.Thread(target=_drain, args=(out,), daemon=True).start()
                return
        code = self.proc.poll()
        self.kill()
        raise RuntimeError(
            f"redis-server exited with {code} on port {self.port}"
            if code is not None
            else f"redis-server did not start on port {self.port}"
        )

    def kill(self) -> None:
        """kill -9: the server vanishes mid-run, as in a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        self.kill()
