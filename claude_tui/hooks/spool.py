"""What a hook could not write: appended, sealed, and applied by the next hook in order.

Each line is one capture ``{"id", "event", "at", "sealed"}`` whose payload (the
prompt, the tool call: content that may hold a secret) is a Fernet token under
the data dir's key. A drain takes the whole file under ``flock``, renames it
aside, applies every line through the same handlers as a live hook (each is
idempotent on session id + record id), and removes it; a drain killed
halfway leaves the renamed file, which the next drain applies again —
harmlessly, being idempotent — before anything newer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from claude_tui.core.config import Config

SPOOL_NAME = "spool.jsonl"
MAX_SPOOL_BYTES = 256 * 1024 * 1024  # past this a capture is dropped (and counted), not spooled


def spool_dir(config: Config) -> Path:
    """The hooks' own directory in the data dir."""
    return config.data_dir / "hooks"


def _multi(config: Config) -> Any:
    from claude_tui.core.durability.encryption import _create_key_file, load_keys

    ring = load_keys(config)
    if not ring.keys:
        _create_key_file(config.key_path)
        ring = load_keys(config)
    return ring.multi()


def append(config: Config, event: str, payload: dict[str, Any], now: float) -> None:
    """Keep one capture for later (sealed). Raises OSError when even that is impossible."""
    folder = spool_dir(config)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / SPOOL_NAME
    with contextlib.suppress(OSError):
        if path.stat().st_size > MAX_SPOOL_BYTES:
            raise OSError("the hook spool is full")
    token = _multi(config).encrypt(json.dumps(payload, ensure_ascii=False).encode()).decode()
    line = json.dumps({"id": uuid.uuid4().hex, "event": event, "at": now, "sealed": token})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())  # one write: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def pending(config: Config) -> bool:
    """Whether anything waits in the spool (a stat: cheap on every hook)."""
    folder = spool_dir(config)
    try:
        return any(p.name.startswith(SPOOL_NAME) for p in folder.iterdir())
    except OSError:
        return False


def drain(config: Config, apply: Callable[[str, dict[str, Any], float], None]) -> int:
    """Apply every spooled capture in order; return how many applied.

    ``apply(event, payload, at)`` raising leaves that capture and every later
    one in the spool for the next drain.
    """
    folder = spool_dir(config)
    lock_fd = os.open(folder / "spool.lock", os.O_RDWR | os.O_CREAT, 0o600)
    applied = 0
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process is draining
        live = folder / SPOOL_NAME
        if live.exists():
            os.replace(live, folder / f"{SPOOL_NAME}.{time.time_ns():020d}")
        multi = None
        for path in sorted(p for p in folder.iterdir() if p.name.startswith(SPOOL_NAME + ".")):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in lines:
                try:
                    item = json.loads(line)
                    if multi is None:
                        multi = _multi(config)
                    payload = json.loads(multi.decrypt(item["sealed"].encode()))
                    event, at = str(item["event"]), float(item["at"])
                except Exception:  # a torn or foreign line: nothing can be made of it
                    continue
                apply(event, payload, at)  # raises: the file stays, applied again next time
                applied += 1
            path.unlink()
        return applied
    finally:
        os.close(lock_fd)


def rotate(config: Config, multi: Any) -> int:
    """Seal every spooled capture again under ``multi``'s primary key (``keys rotate``).

    A capture is sealed with the key file's first key when it is spooled: one
    spooled before a rotation would no longer open once ``--drop-old`` removed
    that key. Runs under the drain's lock (waiting for a drain to finish); the
    live file is renamed aside first, as a drain does, so a hook appending
    meanwhile starts a new one (sealed with the new key, already first in the
    file). Returns how many captures were sealed again.
    """
    from claude_tui.core.durability.files import write_atomic

    folder = spool_dir(config)
    if not folder.is_dir():
        return 0
    lock_fd = os.open(folder / "spool.lock", os.O_RDWR | os.O_CREAT, 0o600)
    done = 0
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        live = folder / SPOOL_NAME
        if live.exists():
            os.replace(live, folder / f"{SPOOL_NAME}.{time.time_ns():020d}")
        for path in sorted(p for p in folder.iterdir() if p.name.startswith(SPOOL_NAME + ".")):
            lines = []
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    item = json.loads(line)
                    item["sealed"] = multi.rotate(item["sealed"].encode()).decode()
                    line = json.dumps(item)
                    done += 1
                except Exception:  # a torn or foreign line stays as it is (a drain skips it)
                    pass
                lines.append(line)
            write_atomic(path, "".join(f"{line}\n" for line in lines).encode())
        return done
    finally:
        os.close(lock_fd)
