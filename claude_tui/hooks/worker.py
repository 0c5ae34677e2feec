"""The hook worker: one warm process per data dir that answers hooks in milliseconds.

A hook process that imports the package and opens the database pays some 50
ms before doing anything; Claude Code pays it on every prompt and tool call.
The worker pays it once: ``hooks/client.py`` starts it in the background
the first time no worker answers, and passes it each hook's raw payload over
``hooks/worker.sock`` in the data dir (the folder is 0700 and the peer's uid
is checked). It runs the very handlers of the in-process path
(``hooks/command.py``: same checks, same spool, same status counters) on a
database it keeps open, one request at a time.

It is not a daemon to manage: it exits by itself after ``CLAUDE_TUI_HOOK_WORKER_IDLE``
seconds without a hook (default 600) and after an hour in any case (so an
upgrade is picked up), when the database file, the key file or the config
file is replaced or changed under it (a restore, a key rotation, an edit),
and when asked (``stop``). One worker per data dir: a second one finds the
lock taken and exits. Killed at any point, it loses nothing: a request it did
not answer is done by the hook process itself (handlers are idempotent).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from claude_tui.hooks.client import FALLBACK, PROTOCOL, SOCKET_NAME, hooks_dir

ENV_IDLE = "CLAUDE_TUI_HOOK_WORKER_IDLE"
DEFAULT_IDLE_S = 600.0
MAX_LIFETIME_S = 3600.0
LOCK_NAME = "worker.lock"
MAX_HEADER = 256


class Worker:
    """A bound, listening worker for one data dir (see the module docstring)."""

    def __init__(self, data_dir: str, idle_seconds: float, clock: Any = time.monotonic) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.folder = hooks_dir(self.data_dir)
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.started = clock()
        self.lock_fd: int | None = None
        self.sock: socket.socket | None = None
        self.coordinator: Any = None
        self.watched: dict[str, tuple[int, ...] | None] = {}
        self.stopping = False
        self.served = 0
        self.started_at = 0.0

    def _mark(self) -> None:
        """What ``info`` reads: pid, hooks served, start time (in the lock file)."""
        if self.lock_fd is not None:
            line = f"{os.getpid()} {self.served} {self.started_at:.0f}".ljust(63) + "\n"
            os.pwrite(self.lock_fd, line.encode(), 0)

    # -- life -----------------------------------------------------------------
    def claim(self) -> bool:
        """Take the data dir's worker lock and bind the socket; False when another worker runs."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.folder, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.lock_fd = fd
        self.served = 0
        self.started_at = time.time()
        self._mark()
        # Bind by a relative name from inside the folder: a unix socket path may
        # not exceed 107 bytes, a data dir may. The lock makes the stale-socket
        # unlink safe: no other worker can be using it.
        os.chdir(self.folder)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET_NAME)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(SOCKET_NAME)
        finally:
            os.umask(old)
        sock.listen(16)
        self.sock = sock
        return True

    def open(self) -> None:
        """Open the database as a hook does (no Redis, no sync, short busy wait)."""
        from claude_tui.hooks.command import _config, _open

        config = _config(self.data_dir)
        self.coordinator = _open(config)
        self.watched = self._identities(config)
        from claude_tui.core.search.memory_index import BUILT_META

        if config.recall_enabled and self.coordinator.store.meta(BUILT_META) is not None:
            from claude_tui.hooks.recall import warm_recall

            # In the background: until the model and the index are loaded, recall
            # answers by words (and says so), so no hook waits for them. Not the
            # indexer: embedding a backlog here would take the CPU and the
            # database from the hooks (the app and `claude-tui worker` index).
            warm_recall(self.coordinator, index=False)

    def close(self) -> None:
        """Stop listening, remove the socket, close the database (the lock goes at exit)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.folder, SOCKET_NAME))
        if self.coordinator is not None:
            with contextlib.suppress(Exception):
                self.coordinator.close()
            self.coordinator = None
        # The lock stays held until the process is gone (the kernel drops it at
        # exit): whoever waits on it (``stop``) then knows the worker is no more.

    def serve(self) -> None:
        """Answer hooks until idle, too old, stale or stopped."""
        assert self.sock is not None
        while not self.stopping:
            left = self.idle_seconds
            age = self.clock() - self.started
            if age >= MAX_LIFETIME_S:
                return
            self.sock.settimeout(max(0.05, min(left, MAX_LIFETIME_S - age)))
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                return  # idle: the next hook starts a fresh worker
            except InterruptedError:
                continue
            with conn:
                self._one(conn)

    # -- one request ------------------------------------------------------------
    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        try:
            if not _same_user(conn):
                return
            event, payload = _read_request(conn)
        except (OSError, ValueError):
            return
        if event == "stop":
            self.stopping = True
            _send(conn, b"OK\n")
            return
        if self.stale():
            self.stopping = True  # this one is done by the hook itself, on the new files
            _send(conn, FALLBACK)
            return
        _send(conn, b"OK\n" + self.answer(event, payload))
        self.served += 1
        self._mark()

    def answer(self, event: str, payload: bytes) -> bytes:
        """The hook's stdout for one payload (b"" for none); failures counted, never raised."""
        from claude_tui.hooks import command

        result = command.answer(event, self.data_dir, payload, time.time(), self.coordinator)
        return command.render(result).encode("utf-8")

    def stale(self) -> bool:
        """The database, key or config file is not the one this worker opened."""
        return self._identities(self.coordinator.config) != self.watched

    @staticmethod
    def _identities(config: Any) -> dict[str, tuple[int, ...] | None]:
        def ident(path: Path, whole: bool) -> tuple[int, ...] | None:
            try:
                st = os.stat(path)
            except OSError:
                return None
            # The database changes with every write: only a new file counts.
            return (
                (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                if whole
                else (
                    st.st_dev,
                    st.st_ino,
                )
            )

        return {
            "db": ident(config.db_path, False),
            "key": ident(config.key_path, True),
            "config": ident(config.data_dir / "config.toml", True),
        }


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _read_request(conn: socket.socket) -> tuple[str, bytes]:
    from claude_tui.hooks.client import MAX_PAYLOAD_BYTES

    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk or len(buf) > MAX_HEADER:
            raise ValueError("no header")
        buf += chunk
    header, rest = buf.split(b"\n", 1)
    parts = header.split(b" ")
    if len(parts) != 3 or parts[0] != PROTOCOL:
        raise ValueError("not a hook request")
    size = int(parts[2])
    if size < 0 or size > MAX_PAYLOAD_BYTES:
        raise ValueError("payload size")
    chunks = [rest]
    got = len(rest)
    while got < size:
        chunk = conn.recv(min(65536, size - got))
        if not chunk:
            raise ValueError("cut off")
        chunks.append(chunk)
        got += len(chunk)
    return parts[1].decode("ascii", "replace"), b"".join(chunks)[:size]


def _send(conn: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(data)


def info(data_dir: str) -> dict[str, int] | None:
    """The running worker of a data dir (pid, hooks served, start time); None when none runs."""
    path = os.path.join(hooks_dir(os.path.abspath(data_dir)), LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # held: a worker runs
            words = os.read(fd, 64).decode("ascii", "replace").split()
            if len(words) == 3 and all(w.isdigit() for w in words):
                return {"pid": int(words[0]), "served": int(words[1]), "since": int(words[2])}
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def pid_of(data_dir: str) -> int | None:
    """The running worker's pid for a data dir (None when none holds the lock)."""
    found = info(data_dir)
    return None if found is None else found["pid"]


def stop(data_dir: str, wait_seconds: float = 5.0) -> int | None:
    """Ask the data dir's worker to exit and wait until it has; its pid (None when none ran)."""
    from claude_tui.hooks.client import ask

    pid = pid_of(data_dir)
    if pid is None:
        return None
    if ask(os.path.abspath(data_dir), "stop", b"") is None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    _wait_released(data_dir, wait_seconds)
    return pid


def _wait_released(data_dir: str, wait_seconds: float) -> None:
    """Block until the worker lock is free (the worker exited) or the wait is over."""
    import threading

    path = os.path.join(hooks_dir(os.path.abspath(data_dir)), LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return

    def take() -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_SH)  # granted when the worker's exclusive lock goes

    waiter = threading.Thread(target=take, daemon=True)
    waiter.start()
    waiter.join(wait_seconds)
    if not waiter.is_alive():
        os.close(fd)  # else left to the blocked thread: closing under it is undefined


def _idle_seconds() -> float:
    try:
        value = float(os.environ.get(ENV_IDLE, DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S
    return value if 0 < value <= MAX_LIFETIME_S else DEFAULT_IDLE_S


def main(argv: list[str] | None = None) -> int:
    """``python -m claude_tui.hooks.worker --data-dir DIR``: serve until idle; exit 0."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--data-dir" or not args[1]:
        sys.stderr.write("usage: python -m claude_tui.hooks.worker --data-dir DIR\n")
        return 2
    worker = Worker(args[1], _idle_seconds())

    def on_term(_signum: int, _frame: Any) -> None:
        worker.stopping = True
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        if not worker.claim():
            return 0  # another worker serves this data dir
        try:
            worker.open()
        except Exception as exc:  # hooks do it in-process, and count why
            from claude_tui.hooks.status import note

            note(Path(worker.data_dir), "worker", failed=f"{type(exc).__name__}: {exc}"[:300])
            return 0
        with contextlib.suppress(OSError):  # for whoever waits on it (/dev/null from a hook)
            sys.stdout.write(f"ready {os.getpid()}\n")
            sys.stdout.flush()
        worker.serve()
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
