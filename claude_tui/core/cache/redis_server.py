"""Finding L2: ``CLAUDE_TUI_REDIS_URL``, or a private redis-server for the data dir.

The private server listens only on a unix socket (mode 0700), keeps nothing
on disk, is capped in memory, runs with umask 077 in a 0700 directory (its
pidfile, log and any dump are the owner's only), and is shared by every process that opens the
same data dir: the first one starts it (under a file lock), the rest connect.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from claude_tui.core.config import Config
from claude_tui.core.durability.files import open_private, private_dir, tighten_tree

# sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class RedisEndpoint:
    """Where L2 lives, or why there is none."""

    url: str | None
    private: bool = False
    socket_path: Path | None = None
    reason: str = ""


def socket_path_for(data_dir: Path) -> Path:
    """The private server's socket: in the data dir when the path is short enough."""
    preferred = data_dir / "redis" / "redis.sock"
    if len(str(preferred)) <= _MAX_SOCKET_PATH:
        return preferred
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return base / f"claude-tui-{os.getuid()}-{digest}.sock"


def find_redis_binary() -> str | None:
    """``CLAUDE_TUI_REDIS_SERVER`` if set, else ``redis-server`` on PATH."""
    explicit = os.environ.get("CLAUDE_TUI_REDIS_SERVER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    import shutil

    return shutil.which("redis-server")


def _ping(socket_path: Path, timeout: float = 0.5) -> bool:
    import _socket  # the C module: importing ``socket`` builds its enums (3-4 ms)

    if not socket_path.exists():
        return False
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall(b"PING\r\n")
        return bool(sock.recv(16).startswith(b"+PONG"))
    except OSError:
        return False
    finally:
        sock.close()


def resolve(config: Config, *, start: bool = True) -> RedisEndpoint:
    """Decide where L2 is, starting the private server when needed and allowed."""
    if not config.redis_enabled:
        return RedisEndpoint(None, reason="disabled by configuration")
    if config.redis_url:
        return RedisEndpoint(config.redis_url)
    sock = socket_path_for(config.data_dir)
    url = f"unix://{sock}"
    if _ping(sock):
        return RedisEndpoint(url, private=True, socket_path=sock)
    if not start:
        return RedisEndpoint(
            None, private=True, socket_path=sock, reason="private server not running"
        )
    binary = find_redis_binary()
    if binary is None:
        return RedisEndpoint(
            None, reason="no redis-server on PATH and CLAUDE_TUI_REDIS_URL is not set"
        )
    import subprocess  # here: a process that finds the server running never needs it

    try:
        started = _start_private(binary, config.data_dir / "redis", sock)
    except (OSError, subprocess.SubprocessError) as exc:
        return RedisEndpoint(None, reason=f"could not start redis-server: {exc}")
    if not started:
        return RedisEndpoint(None, reason="redis-server did not answer after starting")
    return RedisEndpoint(url, private=True, socket_path=sock)


def _start_private(binary: str, run_dir: Path, sock: Path) -> bool:
    import fcntl
    import subprocess

    private_dir(run_dir)
    tighten_tree(run_dir)  # a log or pidfile an older version left 0644
    lock = open_private(run_dir / "start.lock")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ping(sock):
            return True  # another process started it while we waited
        sock.unlink(missing_ok=True)
        subprocess.run(
            [
                binary,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--maxmemory", "256mb",
                "--maxmemory-policy", "allkeys-lru",
                "--daemonize", "yes",
                "--pidfile", str(run_dir / "redis.pid"),
                "--logfile", str(run_dir / "redis.log"),
                "--dir", str(run_dir),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            umask=0o077,  # the server's files: the child's umask, never ours
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if _ping(sock):
                return True
            time.sleep(0.02)
    finally:
        os.close(lock)
    return False


def stop_private(config: Config) -> bool:
    """Shut the data dir's private server down; True if one was running."""
    sock = socket_path_for(config.data_dir)
    if not _ping(sock):
        return False
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2)
        conn.connect(str(sock))
        conn.sendall(b"SHUTDOWN NOSAVE\r\n")
        try:
            conn.recv(16)
        except OSError:
            pass
    return True
