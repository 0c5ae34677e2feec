"""A real Chroma server (``chroma run`` from the installed chromadb) on 127.0.0.1 for tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.redis_proc import free_port
from tests.server_proc import LineReader, start_server, wait_until


class ChromaProcess:
    """``chroma run --path DIR --host 127.0.0.1 --port N``, waited for by its heartbeat."""

    def __init__(self, workdir: Path) -> None:
        binary = Path(sys.executable).parent / "chroma"
        found = str(binary) if binary.exists() else shutil.which("chroma")
        if found is None:
            raise RuntimeError("the chroma command is missing: pip install chromadb")
        self.binary = found
        self.path = workdir / "chroma-server"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: LineReader[bytes] | None = None  # the running server's log, read as it comes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server; return once it logs its address and answers its heartbeat.

        Raises:
            RuntimeError: it exited first, did not get ready within 90 s, or
                did not answer.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        # Wait on its log, not a timer: it prints the address it listens on. The limit is
        # generous because start-up (a Rust binary loading its store) took over 30 s on
        # this 2-core machine under a parallel suite's load.
        self.proc, self.log = start_server(
            [self.binary, "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            b"listening on address", timeout=90, name=f"chroma run on port {self.port}",
        )  # fmt: skip
        # The heartbeat goes straight to loopback: an http(s)_proxy in the environment
        # (CI may set one) must not carry it. It is asked again until the deadline,
        # because under load the log line can come before the port answers.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        proc = self.proc
        answer: list[object] = []  # the last error, or True once it answered

        def answered_or_exited() -> bool:
            try:
                with opener.open(f"{self.url}/api/v2/heartbeat", timeout=10) as r:
                    ok = "nanosecond heartbeat" in json.loads(r.read())
                    answer[:] = [True if ok else "an answer without its heartbeat"]
            except (OSError, ValueError) as exc:
                answer[:] = [exc]
            return answer == [True] or proc.poll() is not None

        try:
            wait_until(answered_or_exited, timeout=60, interval=0.2, what="the heartbeat")
        except AssertionError:
            pass  # said below, with the server's last lines
        if answer == [True]:
            return
        error = answer[0] if answer else None
        code = self.proc.poll()
        tail = b"".join(self.log.lines[-10:]).decode(errors="replace")
        self.stop()
        raise RuntimeError(
            (f"chroma run exited with {code}" if code is not None
             else f"chroma run did not answer its heartbeat on port {self.port}: {error}")
            + f"; its last lines:\n{tail}"
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
