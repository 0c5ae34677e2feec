"""Finding L2: ``CLAUDE_TUI_REDIS_URL``, or a private redis-server for the data dir.

The private server listens only on a unix socket (mode 0700), keeps nothing
on disk, is capped in memory, runs with umask 077 in a 0700 directory (its
pidfile, log and any dump are the owner's only), and is shared by every process that opens the
same data dir: the first one starts it (under a file lock), the rest connect.

It is not a daemon to manage: a small keeper (``redis_watchdog.py``) ends it
after ``[redis] idle_seconds`` (``CLAUDE_TUI_REDIS_IDLE``, default 600) with no
client, and at once when its data dir is deleted; one server per data dir
(``server.lock``), and ``redis stop`` stops only the data dir's own.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from claude_tui.core.config import Config
from claude_tui.core.durability.files import open_private, private_dir, tighten_tree
from claude_tui.core.errors import ClaudeTUIError

# sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 100
SERVER_LOCK = "server.lock"  # held by the keeper and the server while either lives
_WATCHDOG = Path(__file__).with_name("redis_watchdog.py")


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
        problem = _start_private(binary, config.data_dir / "redis", sock, config.redis_idle_seconds)
    except (OSError, subprocess.SubprocessError) as exc:
        return RedisEndpoint(None, reason=f"could not start redis-server: {exc}")
    if problem is not None:
        return RedisEndpoint(None, private=True, socket_path=sock, reason=problem)
    return RedisEndpoint(url, private=True, socket_path=sock)


def _server_lock_held(run_dir: Path) -> bool:
    """Whether a server of this run dir (or its keeper) is alive: its lock is taken."""
    import fcntl

    try:
        fd = os.open(run_dir / SERVER_LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we took
    return False


def _start_private(binary: str, run_dir: Path, sock: Path, idle_seconds: float) -> str | None:
    """Start the data dir's server unless one is alive; None when it answers, else why not."""
    import fcntl
    import subprocess
    import sys

    private_dir(run_dir)
    tighten_tree(run_dir)  # a log or pidfile an older version left 0644
    lock = open_private(run_dir / "start.lock")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ping(sock):
            return None  # another process started it while we waited
        if _server_lock_held(run_dir):
            # Alive but not answering (busy, or shutting down after its idle period):
            # never a second server on the path; wait a little for it to answer or end.
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and _server_lock_held(run_dir):
                if _ping(sock):
                    return None
                time.sleep(0.05)
            if _server_lock_held(run_dir):
                return "this data dir's redis-server is running but does not answer"
        sock.unlink(missing_ok=True)  # a stale socket: no server holds the lock
        redis_argv = [
            binary,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--maxmemory", "256mb",
            "--maxmemory-policy", "allkeys-lru",
            "--pidfile", str(run_dir / "redis.pid"),
            "--logfile", str(run_dir / "redis.log"),
            "--dir", str(run_dir),
        ]  # fmt: skip
        # The keeper detaches and returns once the server is ready (exit 0) or not.
        subprocess.run(
            [sys.executable, "-I", "-S", str(_WATCHDOG), str(run_dir), str(sock),
             repr(float(idle_seconds)), "--", *redis_argv],
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=15,
            umask=0o077,  # the server's files: the child's umask, never ours
        )  # fmt: skip
        return None if _ping(sock) else "redis-server did not answer after starting"
    finally:
        os.close(lock)


class NotOurs(ClaudeTUIError):
    """The redis-server answering on the data dir's socket is not the data dir's own."""

    exit_code = 1
    title = "Not this data dir's server"


def _proc_dir_identity(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/cwd")  # redis-server runs in its --dir
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text[0]) if text and text[0].isdigit() else None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (on a pidfd, without polling) until process ``pid`` has exited."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def _server_pid(sock: Path) -> int | None:
    """``process_id`` of the server answering on ``sock`` (None when none answers)."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(str(sock))
            conn.sendall(b"INFO server\r\n")
            reply = b""
            while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                more = conn.recv(65536)
                if not more:
                    break
                reply += more
    except OSError:
        return None
    for line in reply.decode("ascii", "replace").splitlines():
        if line.startswith("process_id:"):
            value = line.partition(":")[2].strip()
            return int(value) if value.isdigit() else None
    return None


def stop_private(config: Config) -> bool:
    """Shut the data dir's private server down; True if one was running (and is now gone).

    Only its own: the server answering on the socket must be the one the
    pidfile names, running in this data dir's run dir (not a server of a data
    dir deleted and made again at the same path). It returns once the server
    and its keeper have exited.

    Raises:
        NotOurs: a server answers on the socket but is not this data dir's.
    """
    run_dir = config.data_dir / "redis"
    sock = socket_path_for(config.data_dir)
    if not _ping(sock):
        return False
    pid = _server_pid(sock)
    if pid is None:
        return False  # it went away meanwhile
    own = _read_pid(run_dir / "redis.pid")
    here = _dir_identity(run_dir)
    if pid != own or here is None or _proc_dir_identity(pid) != here:
        raise NotOurs(
            f"the redis-server answering on {sock} (pid {pid}) is not this data dir's "
            f"(its pidfile says {own if own is not None else 'nothing'}): left running"
        )
    keeper = _read_pid(run_dir / SERVER_LOCK)
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2)
        conn.connect(str(sock))
        conn.sendall(b"SHUTDOWN NOSAVE\r\n")
        try:
            conn.recv(16)
        except OSError:
            pass
    _wait_gone(pid, 10)
    if keeper is not None and keeper != pid:
        _wait_gone(keeper, 10)
    return True


def _dir_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
