"""The top bar: the active session, which backends are up, sync and the scheduler."""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widgets import Static

from claude_tui.app.sync_info import SyncSummary


class StatusSource(Protocol):
    """What the bar reads from the app."""

    def session_label(self) -> str: ...
    def backend_status(self) -> dict[str, bool | None]: ...
    def sync_summary(self) -> SyncSummary: ...
    def scheduler_status(self) -> tuple[str, str]: ...


class StatusBar(Static):
    """``claude-tui · session · SQLite ● Redis ● Chroma – Sync ● 2 peers Scheduler running``,
    each second.

    The backends, sync and the scheduler always show: a long session name (an
    imported session's name is its first prompt) is cut with an ellipsis to
    the room left, and on narrow terminals the labels shorten.
    """

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def render(self) -> Text:
        source: StatusSource = self.app  # type: ignore[assignment]
        width = self.content_size.width or self.app.size.width
        for compact in (False, True):
            right = self._indicators(source, compact)
            head = Text.assemble(("claude-tui", "bold"), "  ·  session: ")
            if compact:
                head = Text("session: ")
            room = width - right.cell_len - head.cell_len - 5  # "  ·  " between the parts
            if room >= 12 or compact:
                break
        label = Text(source.session_label(), style="bold")
        if label.cell_len > max(room, 1):
            label.truncate(max(room, 1), overflow="ellipsis")
        return Text.assemble(head, label, "  ·  ", right)

    @staticmethod
    def _indicators(source: StatusSource, compact: bool) -> Text:
        """The backends, sync and the scheduler (``compact``: fewer spaces and words)."""
        text = Text()
        gap = "  " if compact else "   "
        for name, up in source.backend_status().items():
            if up is None:
                text.append(f"{name} –", style="dim")
            else:
                text.append(f"{name} ")
                text.append("●" if up else "○ down", style="green" if up else "bold red")
            text.append(gap)
        sync_text(text, source.sync_summary())
        text.append(gap)
        state, style = source.scheduler_status()
        if state != "backup FAILED":  # that one says what it is about
            text.append("Jobs " if compact else "Scheduler ", style="dim" if state == "off" else "")
        text.append(state, style=style)
        return text


def sync_text(text: Text, sync: SyncSummary) -> None:
    """``Sync ● 2 peers`` / ``Sync ○ down`` / ``Sync –``, then open conflicts if any."""
    if sync.state == "off":
        text.append("Sync –", style="dim")
    elif sync.state == "checking":
        text.append("Sync …", style="dim")
    elif sync.state == "up":
        text.append("Sync ")
        text.append("●", style="green")
        text.append(f" {sync.peers} peer{'' if sync.peers == 1 else 's'}")
    else:
        text.append("Sync ")
        text.append("○ down", style="bold red")
    if sync.conflicts:
        plural = "" if sync.conflicts == 1 else "s"
        text.append(f"  ⚠ {sync.conflicts} conflict{plural}", style="bold yellow")
