"""The real ``claude-tui`` CLI run in this process, through ``main(argv)``.

A child process costs the interpreter start and every import again (chromadb
alone is 0.7 s, the model another 0.3 s); most CLI tests are about what a
command prints, exits with and writes, not about being a separate process. This
runs the same ``main`` a shell would, with the environment, stdin, stdout,
stderr, umask and root log handlers it would have as a child, all put back
afterwards. Tests where the process is the point (kills, races, signals,
command lines, undecodable argv) keep using real subprocesses.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes, like a pipe's (no tty, UTF-8, with ``.buffer``)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="strict", newline=None)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    # What subprocess.run(text=True) gives: decoded, universal newlines.
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def run_in_process(
    argv: Sequence[str], env: Mapping[str, str], *, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``claude-tui argv`` here with ``env`` as its whole environment; its outcome.

    ``cwd``: the working directory during the run (put back after).

    Fails the test when the command leaves a thread of its own running: a child
    process would have ended it, so here it is a leak the CLI must not have.
    """
    from claude_tui.cli.main import main

    # The environment and the standard streams are the process's: one run at a time.
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise AssertionError("run_in_process runs one command at a time: use a subprocess")
    try:
        return _run(main, argv, env, stdin, cwd)
    finally:
        _ONE_AT_A_TIME.release()


_ONE_AT_A_TIME = threading.Lock()


def _run(
    main: Callable[[list[str]], int],
    argv: Sequence[str],
    env: Mapping[str, str],
    stdin: bytes,
    cwd: Path | None,
) -> subprocess.CompletedProcess[str]:
    saved_cwd = os.getcwd()
    saved_env = dict(os.environ)
    saved_umask = os.umask(0o022)
    os.umask(saved_umask)
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    before = set(threading.enumerate())
    out, err = _stream(), _stream()
    try:
        os.environ.clear()
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = _stream(stdin), out, err
        root.handlers = []  # main's basicConfig then logs to this run's stderr
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        root.handlers, root.level = saved_handlers, saved_level
        os.environ.clear()
        os.environ.update(saved_env)
        os.umask(saved_umask)
    left = [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]
    for thread in left:
        thread.join(10)  # one on its way out (a joined indexer) is not a leak
    stuck = [t.name for t in left if t.is_alive()]
    if stuck:
        raise AssertionError(f"claude-tui {list(argv)} left threads running: {stuck}")
    return subprocess.CompletedProcess(
        ["claude-tui", *argv], code, _text(out), _text(err)
    )  # fmt: skip
