"""How the app tells the user things: toasts, notices and the errors of its workers."""

from __future__ import annotations

from textual import on
from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from claude_tui.app import messages as msg
from claude_tui.app.dialogs.error import ErrorDialog
from claude_tui.core.errors import ClaudeTUIError


class AppFeedback(App[int]):
    """Toasts that never parse markup, the services' notices, and one place for errors."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a toast; its text is always shown literally.

        Notifications carry user and config text (keys, names, paths, "[sync] url"),
        so they are never parsed as markup, whatever a caller passes.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_notice_posted(self, message: msg.NoticePosted) -> None:
        n = message.notice
        self.notify(n.message, title=n.title, severity=n.severity, timeout=n.timeout)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """One place where every worker's error becomes a message to the user."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, ClaudeTUIError):
            self.notify(error.message, title=error.title, severity="error", timeout=8)
        else:
            self.push_screen(
                ErrorDialog("Something went wrong", f"{type(error).__name__}: {error}")
            )
