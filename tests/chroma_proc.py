"""A real Chroma server (``chroma run`` from the installed chromadb) on 127.0.0.1 for tests."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

from tests.redis_proc import free_port


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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        out = self.proc.stdout
        # Wait on its output (the pipe), not a timer: it logs the address it listens on.
        # The limit is generous because start-up (a Rust binary loading its store) took
        # over 30 s on this 2-core machine under a parallel suite's load.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ready, _, _ = select.select([out], [], [], deadline - time.monotonic())
            line = out.readline() if ready else b""
            if not line:
                break  # exited (EOF) or the deadline passed
            if b"listening on address" in line:
                threading.Thread(target=_drain, args=(out,), daemon=True).start()
                try:
                    with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=10) as r:
                        if "nanosecond heartbeat" in json.loads(r.read()):
                            return
                except OSError:
                    pass
                break
        code = self.proc.poll()
        self.stop()
        raise RuntimeError(
            f"chroma run exited with {code}"
            if code is not None
            else f"chroma run did not answer on port {self.port}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None


def _drain(out: IO[bytes]) -> None:
    """Read and drop the server's log, so a full pipe never stalls it."""
    for _ in iter(out.readline, b""):
        pass
