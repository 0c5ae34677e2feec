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
    each second."""

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def render(self) -> Text:
        source: StatusSource = self.app  # type: ignore[assignment]
        text = Text.assemble(
            ("claude-tui", "bold"), "  ·  session: ", (source.session_label(), "bold"), "  ·  "
        )
        for name, up in source.backend_status().items():
            if up is None:
                text.append(f"{name} – ", style="dim")
            else:
                text.append(f"{name} ")
                text.append("●" if up else "○ down", style="green" if up else "bold red")
            text.append("   ")
        sync_text(text, source.sync_summary())
        text.append("   ")
        state, style = source.scheduler_status()
        text.append("Scheduler ", style="dim" if state == "off" else "")
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
