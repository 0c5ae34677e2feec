"""Start the terminal app on a data dir (and reopen it after a restore from a backup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claude_tui.core.config import Config
from claude_tui.core.errors import BadInput, ClaudeTUIError, StoreCorrupt

if TYPE_CHECKING:
    from claude_tui.app.services import Notice


def launch(config: Config, *, session_id: str | None = None, fresh: bool = False) -> int:
    """Open the coordinator and run the app until the user quits; return the exit code.

    When the app asks for a restore (it exits with ``RELAUNCH``), the backup
    is restored with the database closed and a new app opens on the same
    session and screen. A damaged database opens the recovery app first.

    Raises:
        ConfigError: ``[keys]`` names a binding the app does not have (exit code 2).
        StoreUnusable: the data dir or database cannot be used (exit code 2).
        StoreCorrupt: the database is damaged and the user chose not to restore.
        BadInput: ``--session`` names a session that does not exist.
    """
    from claude_tui.app.app import RELAUNCH, ClaudeTUIApp
    from claude_tui.app.keys import check_keymap
    from claude_tui.core.coordinator import MemoryCoordinator

    # A mistyped [keys] id is a start-up error (one line, exit 2) before anything opens.
    check_keymap(config.keys, where=str(config.data_dir / "config.toml"))
    notice: Notice | None = None
    while True:
        try:
            coordinator = MemoryCoordinator.open(config)
        except StoreCorrupt as exc:
            notice = recover(config, exc)
            coordinator = MemoryCoordinator.open(config)
        with coordinator:
            if session_id is not None:
                if not coordinator.session_exists(session_id):
                    raise BadInput(
                        f"unknown session {session_id!r} (see 'claude-tui session list')"
                    )
            app = ClaudeTUIApp(coordinator, session_id=session_id, fresh=fresh, notice=notice)
            app.run()
        if app.return_code != RELAUNCH or app.restore_backup_id is None:
            return app.return_code or 0
        # The new app comes back to where this one was (its UI state was saved at exit).
        session_id, fresh = None, False
        notice = restore_backup(config, app.restore_backup_id)


def restore_backup(config: Config, backup_id: str) -> Notice:
    """Restore ``backup_id`` over the (closed) database; say how it went."""
    from claude_tui.app.services import Notice
    from claude_tui.core.durability.backups import BackupService

    try:
        report = BackupService(config).restore(backup_id)
    except ClaudeTUIError as exc:
        return Notice(f"{exc.message}. The database was not changed.", "Restore failed", "error")
    return Notice(restored_message(report), "Restored from backup")


def restored_message(report: object) -> str:
    """``restored from backup b_x (full b_a + 2 more), state of …; old database kept at …``."""
    from claude_tui.app.formatting import when

    applied: list[str] = list(getattr(report, "applied", []) or [])
    last = applied[-1] if applied else "?"
    more = f" (on {applied[0]} + {len(applied) - 2} more)" if len(applied) > 2 else ""
    if len(applied) == 2:
        more = f" (on {applied[0]})"
    kept = getattr(report, "kept_aside", None)
    state_at = getattr(report, "state_at", None)
    text = f"restored from backup {last}{more}, state of {when(state_at)}"
    if kept:
        text += f"; the previous database is kept at {kept}"
    return text


def recover(config: Config, error: StoreCorrupt) -> Notice:
    """Run the recovery app for a damaged database; return what to tell the next app.

    Raises:
        StoreCorrupt: the user quit, or there was no backup to restore (exit code 2).
    """
    from claude_tui.app.recovery import RecoveryApp
    from claude_tui.app.services import Notice

    app = RecoveryApp(config, error)
    report = app.run()
    if report is None:
        if app.outcome.startswith("quit"):
            raise error
        raise StoreCorrupt(f"{config.db_path} is damaged and was not restored: {app.outcome}")
    return Notice(restored_message(report), "Recovered from a damaged database", "warning")
