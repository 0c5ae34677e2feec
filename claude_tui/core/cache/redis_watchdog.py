"""The private redis-server's keeper: it starts the server and ends it when it is not needed.

Redis itself never exits on its own, so every data dir ever used would keep a
server running. ``redis_server.py`` therefore starts this script (``python -I
-S redis_watchdog.py …``: stdlib only, nothing from the package), which

- detaches (the starter waits only until the server is ready or has failed),
- takes ``<run dir>/server.lock`` (an ``flock``, dropped by the kernel when the
  process dies; redis-server inherits it, so it is held while either lives):
  one server per data dir, and a starter that finds it held never starts a
  second one;
- runs redis-server in the foreground as its child, with ``PR_SET_PDEATHSIG``
  SIGKILL: if the keeper is killed, the server goes with it;
- waits for redis's own readiness message (``--supervised systemd`` over a
  private datagram socket), so nothing polls for the start;
- then wakes every ``poll`` seconds and ends the server
  - when its data dir (the run dir) is gone or replaced by another directory:
    with SIGKILL, because a graceful shutdown unlinks the socket and pidfile
    *paths*, which may by then belong to a newer server of a new data dir;
  - after ``idle`` seconds with no client connected and no connection made:
    with ``SHUTDOWN NOSAVE`` (its files are its own while it holds the lock);
- and exits as soon as the server exits, for whatever reason.

Arguments: ``RUN_DIR SOCKET IDLE_SECONDS -- REDIS_ARGV...``.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import time

LOCK_NAME = "server.lock"
READY_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In redis-server's child, before exec: get SIGKILL when the keeper dies."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the keeper died before prctl took effect
        os._exit(1)


def _command(conn: socket.socket, *words: str) -> bytes:
    """One command over RESP; the whole reply (a bulk string or a status line)."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    conn.sendall(b"".join(parts))
    reply = conn.recv(65536)
    if reply.startswith(b"$"):
        size = int(reply[1 : reply.index(b"\r\n")])
        head = len(str(size)) + 3
        while len(reply) < head + size + 2:
            more = conn.recv(65536)
            if not more:
                raise OSError("connection closed")
            reply += more
        return reply[head : head + size]
    if not reply:
        raise OSError("connection closed")
    return reply


def _fields(text: bytes) -> dict[str, str]:
    out = {}
    for line in text.decode("ascii", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name] = value.strip()
    return out


class Keeper:
    """One server's life (see the module docstring)."""

    def __init__(self, run_dir: str, sock_path: str, idle: float, argv: list[str]) -> None:
        self.run_dir = run_dir
        self.sock_path = sock_path
        self.idle = idle
        self.poll = max(0.05, min(1.0, idle / 4))
        self.argv = argv
        self.identity = self._dir_identity()
        self.proc: subprocess.Popen[bytes] | None = None

    def _dir_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.run_dir)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def dir_gone(self) -> bool:
        """The run dir no longer exists, or another directory now has its name."""
        return self._dir_identity() != self.identity

    def start(self, lock_fd: int) -> bool:
        """Run redis-server and wait for its readiness message; False if it never came."""
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"claude-tui-redis-{os.getpid()}-{os.urandom(6).hex()}"
        notify.bind("\0" + name)  # abstract: no path, no length limit, gone with us
        me = os.getpid()
        self.proc = subprocess.Popen(
            [*self.argv, "--supervised", "systemd", "--daemonize", "no"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"NOTIFY_SOCKET": "@" + name, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=self.run_dir,
            pass_fds=(lock_fd,),  # the lock is held while the server lives, keeper or not
            preexec_fn=lambda: _die_with_parent(me),
            umask=0o077,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        exited = os.pidfd_open(self.proc.pid)  # a server that fails to start ends the wait
        try:
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([notify.fileno(), exited], [], [], left)
                if not ready or exited in ready:
                    return False
                message = notify.recv(4096)
                if b"READY=1" in message or b"Ready to accept" in message:
                    return True
        finally:
            notify.close()
            os.close(exited)
        return False

    def watch(self) -> None:
        """Until the server exits: end it when its dir is gone or it has been idle."""
        proc = self.proc
        assert proc is not None
        pidfd = os.pidfd_open(proc.pid)
        conn: socket.socket | None = None
        last_busy = time.monotonic()
        seen_connections: str | None = None
        while True:
            exited, _, _ = select.select([pidfd], [], [], self.poll)
            if exited:
                proc.wait()
                return
            if self.dir_gone():
                proc.kill()  # never a graceful shutdown: the paths may be another server's
                proc.wait()
                return
            try:
                if conn is None:
                    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    conn.settimeout(2.0)
                    conn.connect(self.sock_path)
                info = _fields(_command(conn, "INFO", "server", "clients", "stats"))
                reachable = info.get("process_id") == str(proc.pid)
            except (OSError, ValueError):
                if conn is not None:
                    conn.close()
                conn, info, reachable = None, {}, False
            if reachable:
                clients = int(info.get("connected_clients", "1")) - 1  # less this connection
                made = info.get("total_connections_received")
                if clients > 0 or made != seen_connections:
                    seen_connections = made
                    last_busy = time.monotonic()
            # Unreachable (its socket removed, or another server's now): no client can
            # come, so the idle clock runs on.
            if time.monotonic() - last_busy < self.idle:
                continue
            if reachable and conn is not None:
                try:
                    conn.sendall(b"SHUTDOWN NOSAVE\r\n")  # its own files: it holds the lock
                    proc.wait(timeout=10)
                    return
                except (OSError, subprocess.TimeoutExpired):
                    pass
            proc.kill()  # not reachable by its path: leave the path's files alone
            proc.wait()
            return


def main(argv: list[str]) -> int:
    """Detach, take the lock, start the server, report readiness to the starter, keep it."""
    split = argv.index("--")
    run_dir, sock_path, idle_text = argv[:split]
    redis_argv = argv[split + 1 :]
    idle = float(idle_text)
    read_end, write_end = os.pipe()
    if os.fork() > 0:  # the starter waits for this process only: exit once the server is up
        os.close(write_end)
        answer = os.read(read_end, 1)
        return 0 if answer == b"1" else 3 if answer == b"2" else 1
    os.close(read_end)
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is not for us
    lock_fd = os.open(os.path.join(run_dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    import fcntl

    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.write(write_end, b"2")  # a server of this data dir is alive: never a second one
        return 3
    keeper = Keeper(run_dir, sock_path, idle, redis_argv)
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)  # who keeps it (``redis stop`` waits)
    ok = keeper.start(lock_fd)
    if keeper.proc is not None and ok:
        os.write(write_end, b"1")
        os.close(write_end)
        keeper.watch()
        return 0
    if keeper.proc is not None and keeper.proc.poll() is None:
        keeper.proc.kill()
        keeper.proc.wait()
    os.write(write_end, b"0")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
