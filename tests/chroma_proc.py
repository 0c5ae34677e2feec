"""A real Chroma server (``chroma run`` from the installed chromadb) on 127.0.0.1 for tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=0.5) as r:
                    if "nanosecond heartbeat" in json.loads(r.read()):
                        return
            except OSError:
                time.sleep(0.05)  # the server is still binding its port
        self.stop()
        raise RuntimeError(f"chroma run did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
