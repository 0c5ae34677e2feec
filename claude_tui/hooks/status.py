"""Per-event counters of the hooks (fired, failed, spooled, last error), for doctor and the app.

Kept in a small JSON file beside the database rather than in it: a failure
is often the database itself being unusable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

EVENTS = (
    "SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure", "PreCompact",
    "Stop", "SubagentStop", "SessionEnd",
)  # fmt: skip


def status_path(data_dir: Path) -> Path:
    """Where the counters live."""
    return data_dir / "hooks" / "status.json"


def read_status(data_dir: Path) -> dict[str, Any]:
    """The counters ({} when no hook ever ran or the file is unreadable)."""
    try:
        data = json.loads(status_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def note(
    data_dir: Path,
    event: str,
    *,
    failed: str | None = None,
    spooled: int = 0,
    applied: int = 0,
    now: float | None = None,
) -> None:
    """Count one run of ``event`` (and its failure, with a one-line reason). Never raises."""
    with contextlib.suppress(Exception):
        _note(data_dir, event, failed, spooled, applied, time.time() if now is None else now)


def _note(
    data_dir: Path, event: str, failed: str | None, spooled: int, applied: int, now: float
) -> None:
    path = status_path(data_dir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read_status(data_dir)
        events = data.setdefault("events", {})
        slot = events.setdefault(event, {"fired": 0, "failed": 0})
        slot["fired"] = int(slot.get("fired", 0)) + 1
        slot["last_fired"] = now
        if failed is not None:
            slot["failed"] = int(slot.get("failed", 0)) + 1
            slot["last_failed"] = now
            slot["last_error"] = failed[:300]
        data["spooled"] = int(data.get("spooled", 0)) + spooled
        data["applied_from_spool"] = int(data.get("applied_from_spool", 0)) + applied
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)
    finally:
        os.close(lock)


def summary(data_dir: Path) -> dict[str, Any]:
    """What doctor shows: per event when it last fired and how many runs failed."""
    data = read_status(data_dir)
    events = data.get("events", {}) if isinstance(data.get("events"), dict) else {}
    failed = sum(int(v.get("failed", 0)) for v in events.values() if isinstance(v, dict))
    return {
        "events": events,
        "failed": failed,
        "spooled": int(data.get("spooled", 0) or 0),
        "applied_from_spool": int(data.get("applied_from_spool", 0) or 0),
    }
