"""Import Claude Code transcripts from inside the app, with a progress bar.

The import runs on a worker thread that only posts typed messages
(:class:`ImportDialog.Found`, :class:`ImportDialog.Progress`,
:class:`ImportDialog.Finished`, :class:`ImportDialog.Failed`); the dialog's
handlers draw them (harlequin's pattern). Nothing on the worker touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from claude_tui.app.formatting import plural
from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.importers.claude_code import ClaudeCodeImporter, ImportReport


@dataclass(frozen=True)
class ImportOutcome:
    """What an import from the app did (the dialog dismisses with it)."""

    sessions: int
    summary: str
    newest_session: str | None = None
    stopped: bool = False


class _Stopped(Exception):
    """The user closed the dialog while the import ran: stop between two sessions."""


def summarize(report: ImportReport) -> tuple[str, bool]:
    """``Imported 2 sessions: 150 memory, ...``, and whether lines were skipped."""
    data = report.to_dict()
    rows = ", ".join(f"{v['added']} {kind}" for kind, v in data["rows"].items() if v["added"])
    bad = len(data["malformed"])
    text = f"Imported {plural(len(report.sessions), 'session')}: {rows or 'nothing new'}"
    if bad:
        text += f"; {plural(bad, 'malformed line')} skipped"
    return text, bool(bad)


class ImportDialog(ModalScreen[ImportOutcome | None]):
    """Find the user's Claude Code transcripts (or take a path) and import them.

    Args:
        coordinator: where to import (the worker calls it; it does I/O).
        find: lists the transcripts to offer when no path is typed
            (``~/.claude/projects`` and the like; tests pass their own).
        paths: start with these instead of looking (the first-run offer).
        start: begin importing at once (the user already said yes).
        importer: the importer class (tests hold a session back to close mid-import).
    """

    BINDINGS = [Binding("escape", "close", "Close", id="import.close")]

    @dataclass
    class Found(Message, bubble=False):
        """The transcripts the import would read (``where``: the folders, for the text)."""

        paths: list[Path]
        where: list[str] = field(default_factory=list)

    @dataclass
    class Progress(Message, bubble=False):
        """``done`` of ``total`` sessions imported; ``name``: the one being read now."""

        done: int
        total: int
        name: str

    @dataclass
    class Finished(Message, bubble=False):
        """The import ended (``outcome.stopped``: the user closed the dialog first)."""

        outcome: ImportOutcome
        warn: bool = False

    @dataclass
    class Failed(Message, bubble=False):
        """The import could not run (a path that does not exist, a bad file, ...)."""

        message: str

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        find: Callable[[], list[Path]],
        *,
        paths: list[Path] | None = None,
        start: bool = False,
        importer: type[ClaudeCodeImporter] | None = None,
    ) -> None:
        super().__init__()
        self.coordinator = coordinator
        self.importer = importer  # None: ClaudeCodeImporter (imported when the import runs)
        self.find = find
        self.paths = paths
        self.start = start
        self.running = False
        self.closing = False  # escape while importing: close once the worker has stopped
        self.outcome: ImportOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Import Claude Code history", classes="dialog-title")
            yield Static("Looking for transcripts…", id="import-detail", classes="dialog-detail")
            yield Input(
                placeholder="a folder or .jsonl file (empty: the transcripts found)",
                id="import-path",
            )
            yield ProgressBar(total=None, show_eta=False, id="import-progress")
            yield Static("", id="import-status", classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Import (enter)", variant="primary", id="import-start")
                yield Button("Close (escape)", id="import-close")

    def on_mount(self) -> None:
        if self.paths is not None:
            self.post_message(self.Found(self.paths, _folders(self.paths)))
        else:
            self.discover()

    # -- workers: they post messages and nothing else ------------------------
    @work(thread=True, exclusive=True, group="import-find", exit_on_error=False)
    def discover(self) -> None:
        """List the user's transcripts (a walk of ~/.claude/projects: off the UI thread)."""
        found = self.find()
        self.post_message(self.Found(found, _folders(found)))

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def run_import(self, paths: list[Path]) -> None:
        """Import ``paths``; progress and the outcome come back as messages."""
        from claude_tui.core.importers.claude_code import ClaudeCodeImporter

        worker = get_current_worker()
        seen = {"done": 0, "total": 0}

        def progress(number: int, total: int, name: str) -> None:
            seen.update(done=number - 1, total=total)  # called before session ``number``
            if worker.is_cancelled:
                raise _Stopped
            self.post_message(self.Progress(number - 1, total, name))

        try:
            importer = self.importer or ClaudeCodeImporter
            report = importer(self.coordinator).run(paths, progress=progress)
        except _Stopped:
            done = seen["done"]
            text = f"Stopped after {done} of {plural(seen['total'], 'session')}"
            self.post_message(self.Finished(ImportOutcome(done, text, stopped=True)))
            return
        except ClaudeTUIError as exc:
            self.post_message(self.Failed(exc.message))
            return
        text, warn = summarize(report)
        newest = self.coordinator.sessions.list(limit=1)
        outcome = ImportOutcome(len(report.sessions), text, newest[0].id if newest else None)
        self.post_message(self.Finished(outcome, warn))

    # -- handlers: they draw --------------------------------------------------
    @on(Found)
    def _found(self, message: Found) -> None:
        self.paths = message.paths
        detail = self.query_one("#import-detail", Static)
        if message.paths:
            where = ", ".join(message.where[:3]) + (" …" if len(message.where) > 3 else "")
            detail.update(
                Text(
                    f"Found {plural(len(message.paths), 'Claude Code session')} in {where}. "
                    "Importing again later adds only what is new. Or type a folder or file below."
                )
            )
        else:
            detail.update(
                Text("No Claude Code transcripts found; type a folder or .jsonl file below.")
            )
        if self.start and message.paths:
            self.begin()
        else:
            self.query_one("#import-path", Input).focus()

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)
        self.query_one("#import-status", Static).update(
            Text(f"Importing {message.done + 1} of {message.total}: {message.name}")
        )

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.running = False
        self.outcome = message.outcome
        bar = self.query_one(ProgressBar)
        if not message.outcome.stopped:
            bar.update(total=max(bar.total or 1, 1), progress=max(bar.total or 1, 1))
        self.query_one("#import-status", Static).update(Text(message.outcome.summary))
        self.query_one("#import-start", Button).disabled = False
        self.app.notify(
            message.outcome.summary,
            title="Claude Code",
            severity="warning" if message.warn else "information",
            markup=False,
        )
        # The first-run offer (start) closes by itself; from the app it stays to be read.
        if message.outcome.stopped or self.closing or self.start:
            self.dismiss(message.outcome)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.running = False
        self.query_one("#import-start", Button).disabled = False
        self.query_one("#import-status", Static).update(Text(f"✖ {message.message}"))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.running = False
            self.query_one("#import-start", Button).disabled = False
            error = event.worker.error
            self.query_one("#import-status", Static).update(
                Text(f"✖ {type(error).__name__}: {error}")
            )

    # -- the user -------------------------------------------------------------
    def begin(self) -> None:
        """Start importing what was typed, or else the transcripts found."""
        if self.running:
            return
        typed = self.query_one("#import-path", Input).value.strip()
        paths = [Path(typed).expanduser()] if typed else list(self.paths or [])
        if not paths:
            self.query_one("#import-status", Static).update(
                Text("Nothing to import: type a folder or .jsonl file.")
            )
            return
        self.running = True
        self.query_one("#import-start", Button).disabled = True
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#import-status", Static).update(Text("Reading the transcripts…"))
        self.run_import(paths)

    @on(Input.Submitted, "#import-path")
    def _submitted(self) -> None:
        self.begin()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "import-start":
            self.begin()
        else:
            self.action_close()

    def action_close(self) -> None:
        """Close; a running import stops after the session it is reading."""
        if self.running:
            self.closing = True
            self.workers.cancel_group(self, "import")
            self.query_one("#import-status", Static).update(Text("Stopping…"))
            return  # the worker posts Finished(stopped) and the dialog closes then
        self.dismiss(self.outcome)


def _folders(paths: list[Path]) -> list[str]:
    """The project folders the transcripts sit in (``~/.claude/projects``), for the text."""
    return sorted({str(p.parent.parent if p.is_file() else p) for p in paths})
