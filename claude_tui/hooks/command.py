"""``claude-tui hook EVENT``: read Claude Code's payload, capture it, maybe answer with context.

Fails open: whatever happens, the process exits 0, and prints nothing but the
hook's JSON answer (or nothing at all). A failure is counted in
``hooks/status.json`` (``doctor`` and the app show it); a capture that could
not be written because the database was busy, the disk full or the file
unusable is spooled, sealed, and applied by the next hook.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import IO, Any

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
HOOK_BUSY_TIMEOUT_MS = 750  # a hook waits this long for the write lock, then spools


def run(event: str, data_dir: str | None, stdin: IO[bytes] | None = None) -> int:
    """Handle one hook event in this process; always returns 0."""
    now = time.time()
    raw = (stdin or sys.stdin.buffer).read(MAX_PAYLOAD_BYTES + 1)
    # Nothing but the answer, ever: a notice a layer below would print (permissions
    # tightened, say) is not for Claude Code, whose hook output this is.
    saved = sys.stderr
    try:
        with open(os.devnull, "w") as quiet:
            sys.stderr = quiet
            printed = render(answer(event, data_dir, raw, now))
    except OSError:
        printed = ""
    finally:
        sys.stderr = saved
    if printed:
        try:
            sys.stdout.write(printed)
            sys.stdout.flush()
        except OSError:
            pass
    return 0


def render(result: dict[str, Any] | None) -> str:
    """What the hook prints for its answer ("" for none): one JSON line."""
    return "" if result is None else json.dumps(result, ensure_ascii=False) + "\n"


def answer(
    event: str, data_dir: str | None, raw: bytes, now: float, coordinator: Any = None
) -> dict[str, Any] | None:
    """The answer to one raw payload; failures are counted (and spooled), never raised.

    With ``coordinator`` (the hook worker's, kept open) it is used as it is;
    without, the data dir is opened for this one hook and closed after.
    """
    root = Path(coordinator.config.data_dir) if coordinator is not None else _data_root(data_dir)
    try:
        return _run(event, data_dir, raw, now, root, coordinator)
    except _Failed as failure:
        failed(root, event, failure, now)
    except BaseException as exc:  # fail open, whatever it was
        failed(root, event, _Failed(f"{type(exc).__name__}: {exc}"[:300]), now)
    return None


def failed(root: Path | None, event: str, failure: _Failed, now: float) -> None:
    """Count a failed hook run where doctor and the app see it."""
    if root is not None:
        from claude_tui.hooks import status

        status.note(root, event, failed=failure.reason, spooled=failure.spooled, now=now)


class _Failed(Exception):
    def __init__(self, reason: str, spooled: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.spooled = spooled


def _data_root(data_dir: str | None) -> Path | None:
    try:
        from claude_tui.core.config import ENV_PREFIX, default_data_dir

        chosen = data_dir or os.environ.get(ENV_PREFIX + "DATA_DIR") or default_data_dir()
        return Path(chosen).expanduser()
    except Exception:
        return None


def _run(
    event: str, data_dir: str | None, raw: bytes, now: float, root: Path | None, coordinator: Any
) -> dict[str, Any] | None:
    parsed = parse_payload(event, raw)
    if parsed is None:
        # SessionEnd: Claude Code is closing, and there is nothing to record that
        # the session does not hold already, so not even the database is opened.
        if root is not None:
            from claude_tui.hooks.status import note

            note(root, event, now=now)
        return None
    if coordinator is not None:
        return apply(coordinator, parsed, now)
    config = _config(data_dir)
    try:
        coordinator = _open(config)
    except Exception as exc:
        from claude_tui.core.errors import ClaudeTUIError

        if isinstance(exc, (ClaudeTUIError, sqlite3.Error, OSError)):
            raise _Failed(_reason(exc), _spool(config, event, parsed.data, now)) from None
        raise
    with coordinator as c:
        return apply(c, parsed, now)


def parse_payload(event: str, raw: bytes) -> Any:
    """The checked event of a raw payload; None for SessionEnd (nothing to do).

    Raises:
        _Failed: an unknown event, a payload over the limit, not JSON, or not usable.
    """
    from claude_tui.core.errors import ClaudeTUIError
    from claude_tui.hooks.handlers import HANDLERS, Event

    if event not in HANDLERS:
        raise _Failed(f"unknown hook event {event!r}")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _Failed(f"payload over {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Failed("payload is not JSON") from None
    try:
        ev = Event.parse(event, data)
    except ClaudeTUIError as exc:
        raise _Failed(exc.message) from None
    return None if event == "SessionEnd" else ev


def apply(c: Any, ev: Any, now: float) -> dict[str, Any] | None:
    """Run the event's handler on an open coordinator (after what the spool holds).

    Raises:
        _Failed: the handler failed; what could not be written is spooled.
    """
    from claude_tui.core.errors import ClaudeTUIError
    from claude_tui.hooks.handlers import HANDLERS
    from claude_tui.hooks.status import note

    config = c.config
    applied = _drain(c)
    try:
        answer = HANDLERS[ev.name](c, ev, now)
    except (sqlite3.OperationalError, OSError) as exc:
        # Busy past our patience, disk full: keep it for the next hook.
        raise _Failed(_reason(exc), _spool(config, ev.name, ev.data, now)) from None
    except ClaudeTUIError as exc:
        if exc.__class__.__name__ in ("StoreReplaced", "SecretUnavailable"):
            raise _Failed(exc.message, _spool(config, ev.name, ev.data, now)) from None
        raise _Failed(exc.message) from None
    note(config.data_dir, ev.name, applied=applied, now=now)
    return answer


def _config(data_dir: str | None) -> Any:
    from claude_tui.core.config import Config

    # No Redis, no sync, no watcher thread: a hook writes keys no cache holds
    # (new prompt and tool ids), and the next full process publishes to the swarm.
    return Config.load(
        data_dir,
        redis_enabled=False,
        sync_url=None,
        strict_coherence=True,
        busy_timeout_ms=HOOK_BUSY_TIMEOUT_MS,
        write_patience_seconds=HOOK_BUSY_TIMEOUT_MS / 1000,
    )


def _open(config: Any) -> Any:
    from claude_tui.core.coordinator import MemoryCoordinator

    return MemoryCoordinator.open(config, use_redis=False)


def _drain(c: Any) -> int:
    from claude_tui.hooks import spool
    from claude_tui.hooks.handlers import HANDLERS, Event

    if not spool.pending(c.config):
        return 0

    def apply(event: str, payload: dict[str, Any], at: float) -> None:
        handler = HANDLERS.get(event)
        if handler is not None:
            handler(c, Event.parse(event, payload), at)

    try:
        return spool.drain(c.config, apply)
    except Exception:  # the rest waits for the next hook; this one still runs
        return 0


def _spool(config: Any, event: str, data: dict[str, Any], now: float) -> int:
    from claude_tui.hooks import spool

    try:
        spool.append(config, event, data, now)
    except Exception:
        return 0
    return 1


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if "disk is full" in message or "No space left" in message:
        return "the disk is full"
    return f"{type(exc).__name__}: {message}"[:300]
