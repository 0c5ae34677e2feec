"""Backups: the manifest, the scheduled jobs, and backing up, verifying, restoring by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Label, Static

from claude_tui.app.dialogs.actions import ActionsDialog, Answer
from claude_tui.app.dialogs.choose import ChooseDialog
from claude_tui.app.formatting import cell, esc, one_line, plural, size, when
from claude_tui.app.messages import BackupRan, BackupsLoaded, BackupsVerified, RestorePlanned
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.measured_table import MeasuredTable
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    from claude_tui.core.durability.manifest import BackupRecord
    from claude_tui.core.durability.scheduler import JobStatus

COLUMNS = ("ID", "Kind", "Base", "Seq", "Created", "Size", "Status", "Verified")
JOB_COLUMNS = ("Job", "Last run", "Status", "Next run", "Message")
BACKUP_KINDS = ("full", "differential", "incremental")
RUN_KINDS = ["auto", *BACKUP_KINDS]
REFRESH_SECONDS = 2.0


@dataclass
class BackupsView:
    """What the screen shows: the backups (newest first), the jobs, where they live."""

    records: list[BackupRecord]
    jobs: list[JobStatus]
    scheduler_state: str
    holder: dict[str, object] | None
    directory: str
    manifest_error: str | None = None


class BackupsScreen(ModeScreen):
    """Every backup in the manifest and the scheduled jobs, refreshed live."""

    MODE = "backups"
    AUTO_FOCUS = "#backups-table"
    BINDINGS = [
        Binding("b", "backup", "Back up now", id="backups.run"),
        Binding("v", "verify", "Verify", id="backups.verify"),
        Binding("V", "verify_all", "Verify all", id="backups.verify_all"),
        Binding("R", "restore", "Restore", id="backups.restore"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[str, BackupRecord] = {}
        self._view: BackupsView | None = None
        self._poll: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("", id="backups-scope", classes="scope")
        with Horizontal(classes="body"):
            yield RecordTable(id="backups-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="detail", id="backup-detail-pane"):
                yield Static("", id="backup-detail")
        with Vertical(id="jobs-panel"):
            yield Label("Scheduled jobs", classes="panel-title")
            yield MeasuredTable(id="jobs-table", cursor_type="none")
        yield AppFooter()

    def on_mount(self) -> None:
        table = self.query_one("#backups-table", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        jobs = self.query_one("#jobs-table", DataTable)
        for label in JOB_COLUMNS:
            jobs.add_column(label, key=label)
        # The manifest and other processes' job runs are not in the change feed: poll,
        # while the screen shows (on_screen_suspend pauses the timer, resume restarts it).
        self._poll = self.set_interval(REFRESH_SECONDS, self.reload)

    def on_screen_suspend(self) -> None:
        if self._poll is not None:
            self._poll.pause()

    def on_screen_resume(self) -> None:
        if self._poll is not None:
            self._poll.resume()
        super().on_screen_resume()

    # -- loading --------------------------------------------------------------
    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="backups", exit_on_error=False)
    def load(self) -> None:
        backups, scheduler = self.tui.services.backups, self.tui.services.scheduler
        error = None
        try:
            records = sorted(backups.list(), key=lambda r: (r.created_at, r.id), reverse=True)
        except ClaudeTUIError as exc:
            records, error = [], exc.message
        view = BackupsView(
            records=records,
            jobs=scheduler.status(),
            scheduler_state=self.tui.services.scheduler_state(),
            holder=scheduler.holder(),
            directory=str(backups.dir),
            manifest_error=error,
        )
        self.post_message(BackupsLoaded(view))

    def on_backups_loaded(self, message: BackupsLoaded) -> None:
        self.show(message.view)

    def show(self, view: BackupsView) -> None:
        self._view = view
        self._records = {r.id: r for r in view.records}
        table = self.query_one("#backups-table", DataTable)
        self.fill_table(table, [(r.id, _cells(r)) for r in view.records])
        for record in view.records:  # a failure must be loud: red in the table
            if record.status == "failed":
                table.update_cell(record.id, "Status", Text("✖ FAILED", style="bold red"))
                table.update_cell(record.id, "ID", Text(record.id, style="red"))
        self._show_jobs(view.jobs)
        self._scope_line(view)
        self.refresh_detail()

    def _scope_line(self, view: BackupsView) -> None:
        failed = sum(1 for r in view.records if r.status == "failed")
        state = view.scheduler_state
        if state == "standby" and view.holder:
            state = (
                f"standby (jobs run by pid {view.holder.get('pid')} on {view.holder.get('host')})"
            )
        parts = [
            f"{plural(len(view.records), 'backup')} in {esc(view.directory)}",
            f"scheduler {esc(state)}",
        ]
        if failed:
            parts.insert(1, f"[b red]{failed} failed[/b red]")
        if view.manifest_error:
            parts.insert(0, f"[b red]manifest unreadable: {esc(view.manifest_error)}[/b red]")
        parts.append("b back up · v verify · V verify all · R restore")
        self.query_one("#backups-scope", Static).update(" · ".join(parts))

    def _show_jobs(self, jobs: list[JobStatus]) -> None:
        table = self.query_one("#jobs-table", DataTable)
        table.clear()
        for job in jobs:
            status = job.last_status or "never run"
            if job.running:
                status = "running…"
            style = {"failed": "bold red", "ok": "green", "skipped": "yellow"}.get(
                job.last_status or "", "dim"
            )
            table.add_row(
                cell(job.name),
                cell(when(job.last_run)),
                Text("✖ FAILED" if job.last_status == "failed" else status, style=style),
                cell(when(job.next_run)),
                cell(one_line(job.last_message or "", 80)),
                key=job.name,
            )

    def refresh_detail(self) -> None:
        detail = self.query_one("#backup-detail", Static)
        record = self._records.get(self.current_key() or "")
        if record is None:
            detail.update("No backups yet. Press b to take one.")
            return
        backups = self.tui.services.backups
        path = backups.path_of(record) if record.file and record.status == "ok" else None
        lines = [
            f"[b]{record.id}[/b]  {record.kind}",
            f"status    {_status_markup(record.status)}",
            f"created   {when(record.created_at)}",
            f"verified  {when(record.verified_at) if record.verified_at else 'no'}",
            f"base      {record.base or '-'}",
            f"seq       {record.seq_lo}–{record.seq_hi}",
            f"rows      {record.rows:,}",
            f"size      {size(record.size)}",
            f"took      {record.seconds:.2f} s",
            f"chain     {record.chain or '-'}",
            f"sha256    {record.sha256 or '-'}",
            f"file      {esc(path) if path else '-'}",
        ]
        if record.note:
            lines.append(f"note      {esc(record.note)}")
        if record.error:
            lines.append(f"[b red]error[/b red]     [red]{esc(record.error)}[/red]")
        detail.update("\n".join(lines))

    # -- actions ------------------------------------------------------------------
    def action_backup(self) -> None:
        def chosen(kind: str | None) -> None:
            if kind is not None:
                self.notify(f"Backing up ({kind})…", timeout=3)
                self.run_backup(kind)

        self.app.push_screen(
            ChooseDialog("Back up now: which kind? (auto: full if none yet)", RUN_KINDS, "auto"),
            chosen,
        )

    @work(thread=True, group="backup-run", exit_on_error=False)
    def run_backup(self, kind: str) -> None:
        """Take a backup of ``kind``; posts :class:`BackupRan`, even when it fails."""
        record = None
        try:
            record = self.tui.services.backups.run(kind)
        finally:
            self.post_message(BackupRan(kind, record))
            # The top bar's "backup FAILED" follows the manifest: read it again here (the
            # services post the new status snapshot to the app themselves).
            self.tui.services.check_backends()

    def on_backup_ran(self, message: BackupRan) -> None:
        self.reload()
        record = message.record
        if record is None:
            return  # the worker's error is said by the app
        if record.status == "skipped":
            text = f"{record.id} skipped: {record.note or 'nothing changed'}"
        else:
            note = f" ({record.note})" if record.note else ""
            text = f"{record.kind} backup {record.id}: {size(record.size)}, verified{note}"
        self.notify(text, title="Backup done")

    def action_verify(self) -> None:
        key = self.current_key()
        if key is not None:
            self.verify(key)

    def action_verify_all(self) -> None:
        self.verify(None)

    @work(thread=True, group="backup-run", exit_on_error=False)
    def verify(self, backup_id: str | None) -> None:
        """Verify one backup (None: all); posts :class:`BackupsVerified`, even when it fails."""
        results = None
        try:
            results = self.tui.services.backups.verify(backup_id)
        finally:
            self.post_message(BackupsVerified(backup_id, results))
            self.tui.services.check_backends()  # a failed verification shows in the top bar

    def on_backups_verified(self, message: BackupsVerified) -> None:
        self.reload()
        results = message.results
        if results is None:
            return  # the worker's error is said by the app
        bad = [(r.id, problem) for r, problem in results if problem]
        if bad:
            lines = "\n".join(f"{rid}: {problem}" for rid, problem in bad)
            self.notify(
                f"{len(bad)} of {len(results)} failed verification:\n{lines}",
                title="Backup verification FAILED",
                severity="error",
                timeout=15,
            )
        else:
            what = message.backup_id or f"all {len(results)} backups"
            self.notify(f"{what}: intact.", title="Verified")

    def action_restore(self) -> None:
        self.plan_restore(self.current_key())

    @work(thread=True, group="backup-run", exit_on_error=False)
    def plan_restore(self, selected: str | None) -> None:
        backups = self.tui.services.backups
        latest = backups.plan()
        chosen = None
        warning = ""
        if selected is not None and selected != latest[-1].id:
            try:
                chosen = backups.plan(selected)
            except ClaudeTUIError as exc:
                warning = f"{selected} cannot be restored ({exc.message}); the latest state can."
        self.post_message(RestorePlanned(latest, chosen, str(backups.config.data_dir), warning))

    def on_restore_planned(self, message: RestorePlanned) -> None:
        if message.warning:
            self.notify(message.warning, severity="warning")
        self.confirm_restore(message.latest, message.chosen, message.data_dir)

    def confirm_restore(
        self, latest: list[BackupRecord], chosen: list[BackupRecord] | None, data_dir: str
    ) -> None:
        detail = Text()
        detail.append("latest    ", style="bold")
        detail.append(_chain_text(latest) + "\n")
        answers = [Answer("latest", "Restore the latest", "l", "error")]
        if chosen is not None:
            detail.append("selected  ", style="bold")
            detail.append(_chain_text(chosen) + "\n")
            answers.append(Answer("selected", f"Restore {chosen[-1].id}", "s", "warning"))
        detail.append(
            f"\nThe current database is kept aside under {data_dir}/replaced/ (nothing is "
            "deleted). Everything written after that backup is not in it. The app closes "
            "and reopens on the restored data."
        )

        def answered(choice: str | None) -> None:
            if choice == "latest":
                self.tui.request_restore(latest[-1].id)
            elif choice == "selected" and chosen is not None:
                self.tui.request_restore(chosen[-1].id)

        self.app.push_screen(
            ActionsDialog("Replace the database with a backup?", detail, answers), answered
        )


def _cells(r: BackupRecord) -> tuple[str, ...]:
    status = {"ok": "ok", "skipped": "skipped", "failed": "✖ FAILED"}.get(r.status, r.status)
    kept = r.status == "ok" and r.file  # a failed backup's file is deleted
    return (
        r.id, r.kind, r.base or "-", f"{r.seq_lo}–{r.seq_hi}", _short_time(r.created_at),
        size(r.size) if kept else "-", status, "✔" if r.verified_at and kept else "-",
    )  # fmt: skip


def _short_time(stamp: float) -> str:
    """``11-20 12:00``: the table is narrow; the detail pane shows the year."""
    return dt.datetime.fromtimestamp(stamp).strftime("%m-%d %H:%M")


def _status_markup(status: str) -> str:
    if status == "failed":
        return "[b red]✖ FAILED[/b red]"
    return {"ok": "[green]ok[/green]"}.get(status, esc(status))


def _chain_text(chain: list[BackupRecord]) -> str:
    """``b_1 (full) + 2 incrementals → state of 2026-11-20 12:00``."""
    head, rest = chain[0], chain[1:]
    kinds: dict[str, int] = {}
    for record in rest:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    more = "".join(f" + {n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items())
    return f"{chain[-1].id}: {head.id} ({head.kind}){more} → state of {when(chain[-1].created_at)}"
