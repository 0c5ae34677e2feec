"""The hook's front door: hand Claude Code's payload to the warm hook worker, or do it here.

Claude Code waits for every hook process, so this file is what it pays for on
every prompt and tool call. Installed hooks run it as a script with
``python -I -S …/client.py --data-dir DIR EVENT``: no ``site`` (the
interpreter floor without site-packages), stdlib only (``os``, ``sys``,
``socket``), nothing from the package. It passes the raw payload over a unix
socket in the data dir to the data dir's hook worker (``hooks/worker.py``),
which holds the database open and answers in milliseconds, and prints the
worker's answer.

When there is no worker (the first hook after a quiet spell), the worker is
started in the background for the next hooks and this process does the work
itself through ``hooks/command.py`` (the full, in-process path): nothing waits
for the worker to come up. The same happens when the worker cannot take the
request (it is stopping, it saw the store or the key replaced, it died
mid-request): every handler is idempotent on session id + record id, so a
request done twice is written once. ``CLAUDE_TUI_HOOK_WORKER=0`` turns the
worker off: every hook runs in-process.

Fails open like every hook: exit 0, and nothing on stdout but the answer.
"""

import os
import sys

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
SOCKET_NAME = "worker.sock"
PROTOCOL = b"CTH1"
FALLBACK = b"FALLBACK\n"
CONNECT_TIMEOUT_S = 0.25
ANSWER_TIMEOUT_S = 4.0  # then do it here: Claude Code's hook timeout is 10 s at least
ENV_DATA_DIR = "CLAUDE_TUI_DATA_DIR"
ENV_WORKER = "CLAUDE_TUI_HOOK_WORKER"


def worker_enabled() -> bool:
    """The warm worker is on unless ``CLAUDE_TUI_HOOK_WORKER`` is 0/false/off/no."""
    return os.environ.get(ENV_WORKER, "1").strip().lower() not in ("0", "false", "off", "no")


def hooks_dir(data_dir: str) -> str:
    """The hooks' own folder in the data dir (socket, lock, spool, status)."""
    return os.path.join(data_dir, "hooks")


def ask(data_dir: str, event: str, payload: bytes) -> bytes | None:
    """The worker's answer to one hook (b"" for none).

    None when no worker takes it; :data:`FALLBACK` when the worker declined it
    (it is exiting: the hook is done here and the next hook starts a new one).
    """
    import socket

    folder = hooks_dir(data_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            # A unix socket path is limited to 107 bytes, a data dir is not.
            sock.connect(_short_path(folder))
        except OSError:
            return None
        sock.settimeout(ANSWER_TIMEOUT_S)
        header = b"%s %s %d\n" % (PROTOCOL, event.encode("ascii", "replace"), len(payload))
        sock.sendall(header + payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:  # timed out or the worker died: do it here (idempotent)
        return None
    finally:
        sock.close()
    reply = b"".join(chunks)
    if reply == FALLBACK:
        return FALLBACK
    if not reply.startswith(b"OK\n"):
        return None  # cut off: the worker died with the request in hand
    return reply[3:]


def _short_path(folder: str) -> str:
    path = os.path.join(folder, SOCKET_NAME)
    if len(path.encode()) < 100:
        return path
    # /proc/self/fd/N names the open folder in a few bytes (Linux).
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    _KEEP.append(fd)
    return f"/proc/self/fd/{fd}/{SOCKET_NAME}"


_KEEP: list[int] = []


def start_worker(data_dir: str) -> None:
    """Start the data dir's worker in the background, detached; never raises."""
    try:
        python = sys.executable
        null = os.devnull
        os.posix_spawn(
            python,
            [python, "-m", "claude_tui.hooks.worker", "--data-dir", data_dir],
            dict(os.environ),
            setsid=True,  # its own session: Claude Code's signals and waits are not for it
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
                # Not Claude Code's pipes: Claude Code reads the hook's stdout to EOF.
                (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0),
            ],
        )
    except Exception:
        pass


def parse(argv: list[str], *, bare: bool = False) -> tuple[str, str | None] | None:
    """``[--data-dir DIR] hook EVENT`` → (EVENT, DIR); None for any other command line.

    ``bare`` also takes ``[--data-dir DIR] EVENT`` (this file run as a script).
    """
    data_dir = None
    rest = list(argv)
    if len(rest) >= 2 and rest[0] == "--data-dir":
        data_dir, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--data-dir="):
        data_dir, rest = rest[0].split("=", 1)[1], rest[1:]
    if len(rest) == 2 and rest[0] == "hook":
        rest = rest[1:]
    elif not bare:
        return None
    if len(rest) == 1 and rest[0] and not rest[0].startswith("-"):
        return rest[0], data_dir
    return None


def default_data_dir() -> str | None:
    """The per-user data dir as ``platformdirs`` names it, without importing it (None: ask it)."""
    home = os.path.expanduser("~")
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.join(home, ".local/share")
        return os.path.join(base, "claude-tui")
    if sys.platform == "darwin":
        return os.path.join(home, "Library/Application Support/claude-tui")
    return None


def serve_hook(event: str, data_dir: str | None, payload: bytes) -> int:
    """Through the worker when one answers; otherwise start one and do it here. Returns 0."""
    chosen = data_dir or os.environ.get(ENV_DATA_DIR) or default_data_dir()
    # An odd event name or payload is for the in-process path to refuse and count.
    usable = event.isascii() and event.isalnum() and len(payload) <= MAX_PAYLOAD_BYTES
    if chosen and usable and worker_enabled():
        chosen = os.path.abspath(os.path.expanduser(chosen))
        answer = ask(chosen, event, payload)
        if answer is None:
            start_worker(chosen)  # for the next hooks; this one is done here
        elif answer != FALLBACK:
            _write(answer)
            return 0
    return _in_process(event, data_dir, payload)


def _in_process(event: str, data_dir: str | None, payload: bytes) -> int:
    import io

    if sys.flags.no_site and "site" not in sys.modules:
        import site  # run as a bare script: now the package and its dependencies

        site.main()
    from claude_tui.hooks.command import run

    return run(event, data_dir, io.BytesIO(payload))


def _write(answer: bytes) -> None:
    if not answer:
        return
    try:
        sys.stdout.buffer.write(answer)
        sys.stdout.buffer.flush()
    except OSError:
        pass


def main(argv: list[str] | None = None, *, bare: bool = True) -> int:
    """Run one hook from the command line; always 0 (nothing at all for another command line)."""
    try:
        parsed = parse(sys.argv[1:] if argv is None else argv, bare=bare)
        if parsed is None:
            return 0
        payload = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1)
        return serve_hook(parsed[0], parsed[1], payload)
    except BaseException:  # fail open, whatever it was
        return 0


if __name__ == "__main__":
    sys.exit(main())
