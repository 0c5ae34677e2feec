"""The top bar: the active session, which backends are up, sync and the scheduler."""

from __future__ import annotations

from rich.text import Text
from textual.signal import Signal
from textual.widgets import Static

from claude_tui.app.services import StatusSnapshot
from claude_tui.app.sync_info import SyncSummary


class StatusBar(Static):
    """``claude-tui · session · SQLite ● Redis ● Chroma – Sync ● 2 peers Scheduler running``.

    It draws the newest :class:`StatusSnapshot` the app published (the app's
    ``status`` when it mounts, then each one on ``status_signal``); it reads
    nothing else. The backends, sync and the scheduler always show: a long
    session name (an imported session's name is its first prompt) is cut with
    an ellipsis to the room left, and on narrow terminals the labels shorten.
    """

    snapshot = StatusSnapshot()

    def on_mount(self) -> None:
        latest = getattr(self.app, "status", None)
        if isinstance(latest, StatusSnapshot):
            self.snapshot = latest
        signal = getattr(self.app, "status_signal", None)
        if isinstance(signal, Signal):  # every bar, on every screen, hears each snapshot
            signal.subscribe(self, self.show, immediate=True)

    def show(self, snapshot: StatusSnapshot) -> None:
        """Draw ``snapshot`` (when it differs from the one shown)."""
        if snapshot != self.snapshot:
            self.snapshot = snapshot
            self.refresh()

    def render(self) -> Text:
        source = self.snapshot
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
    def _indicators(source: StatusSnapshot, compact: bool) -> Text:
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
        sync_text(text, source.sync)
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
