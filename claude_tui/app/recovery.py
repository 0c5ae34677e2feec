"""The recovery app: the database is damaged; offer to restore the latest verified backup.

Its workers look for and restore backups and post the messages of
``app/messages.py`` to the app itself; the handlers draw (and exit).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static
from textual.worker import Worker, WorkerState

from claude_tui.app.formatting import esc, when
from claude_tui.app.messages import (
    RecoveryBackupFound,
    RecoveryNoBackup,
    RecoveryRestored,
    RecoveryRestoreFailed,
)
from claude_tui.core.config import Config
from claude_tui.core.errors import ClaudeTUIError, StoreCorrupt

if TYPE_CHECKING:
    from claude_tui.core.durability.backups import BackupService

STYLES = Path(__file__).resolve().parent.parent / "styles"


class RecoveryApp(App[Any]):
    """Says what is wrong and restores the latest verified backup, or quits.

    Returns the restore report (continue into the normal app), or None with
    return code 2 (quit; nothing was changed). ``outcome`` says why it quit.
    """

    TITLE = "claude-tui — recovery"
    CSS_PATH = STYLES / "app.tcss"
    BINDINGS = [
        Binding("r", "restore", "Restore the latest backup", id="recovery.restore"),
        Binding("q,escape", "quit_unrestored", "Quit", id="recovery.quit"),
    ]

    def __init__(self, config: Config, error: StoreCorrupt) -> None:
        super().__init__()
        self.config = config
        self.error = error
        self.outcome = "quit without restoring"
        self._restorable = False
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="recovery"):
            yield Label("The database is damaged", classes="dialog-title error")
            yield Static(esc(self.error.message), id="recovery-error")
            yield Static("Looking for backups…", id="recovery-backups", classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    "Restore the latest backup (r)", variant="error", id="restore", disabled=True
                )
                yield Button("Quit (q)", id="quit")

    def on_mount(self) -> None:
        self.find_backup()

    def service(self) -> BackupService:
        from claude_tui.core.durability.backups import BackupService

        return BackupService(self.config)  # no coordinator: the database cannot be opened

    @work(thread=True, exclusive=True, group="recovery", exit_on_error=False)
    def find_backup(self) -> None:
        service = self.service()
        try:
            chain = service.plan()
        except ClaudeTUIError as exc:
            self.post_message(RecoveryNoBackup(str(service.dir), exc.message))
            return
        last = chain[-1]
        more = f" on full {chain[0].id} + {len(chain) - 1} more" if len(chain) > 1 else ""
        self.post_message(
            RecoveryBackupFound(
                f"The latest verified backup is {last.id} ({last.kind}{more}), the state of "
                f"{when(last.created_at)}. Restoring it moves the damaged file aside (under "
                f"{self.config.data_dir / 'replaced'}); anything written after that backup "
                "is lost."
            )
        )

    def on_recovery_backup_found(self, message: RecoveryBackupFound) -> None:
        self._restorable = True
        self.query_one("#recovery-backups", Static).update(esc(message.text))
        button = self.query_one("#restore", Button)
        button.disabled = False
        button.focus()

    def on_recovery_no_backup(self, message: RecoveryNoBackup) -> None:
        directory, reason = message.directory, message.reason
        self.outcome = f"there is no backup to restore from in {directory} ({reason})"
        self.query_one("#recovery-backups", Static).update(
            esc(
                f"There is no verified backup to restore from in {directory} ({reason}). "
                f"The damaged file is left as it is at {self.config.db_path}: copy it somewhere "
                "safe, then move it away to start with an empty database. Press q to quit."
            )
        )
        self.query_one("#quit", Button).focus()

    @on(Button.Pressed, "#restore")
    def action_restore(self) -> None:
        if not self._restorable or self._busy:
            return
        self._busy = True
        self.query_one("#restore", Button).disabled = True
        self.query_one("#recovery-backups", Static).update("Restoring…")
        self.restore()

    @work(thread=True, exclusive=True, group="recovery", exit_on_error=False)
    def restore(self) -> None:
        try:
            report = self.service().restore()
        except ClaudeTUIError as exc:
            self.post_message(RecoveryRestoreFailed(exc.message))
            return
        self.post_message(RecoveryRestored(report))

    def on_recovery_restored(self, message: RecoveryRestored) -> None:
        self.exit(message.report)

    def on_recovery_restore_failed(self, message: RecoveryRestoreFailed) -> None:
        self._busy = False
        self.outcome = f"the restore failed: {message.error}"
        self.query_one("#recovery-backups", Static).update(
            f"[b red]The restore failed:[/b red] {esc(message.error)}\n"
            "The database was not changed."
        )
        self.query_one("#restore", Button).disabled = False

    @on(Button.Pressed, "#quit")
    def action_quit_unrestored(self) -> None:
        if not self._busy:
            self.exit(None, return_code=2)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self._busy = False
            self.outcome = f"{type(error).__name__}: {error}"
            self.query_one("#recovery-backups", Static).update(
                f"[b red]Something went wrong:[/b red] {esc(self.outcome)}"
            )
