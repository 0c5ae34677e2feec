"""The top bar: the active session and which backends are up."""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widgets import Static


class StatusSource(Protocol):
    """What the bar reads from the app."""

    def session_label(self) -> str: ...
    def backend_status(self) -> dict[str, bool | None]: ...
    def scheduler_status(self) -> tuple[str, str]: ...


class StatusBar(Static):
    """``claude-tui · session · SQLite ● Redis ● Chroma – Scheduler running``, each second."""

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
        state, style = source.scheduler_status()
        text.append("Scheduler ", style="dim" if state == "off" else "")
        text.append(state, style=style)
        return text
