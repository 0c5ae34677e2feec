"""Messages the app passes between the service feed and the screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from claude_tui.core.events import ChangeEvent


@dataclass
class DataChanged(Message):
    """Data changed (in this process or another); screens reload what they show."""

    events: list[ChangeEvent]

    def can_replace(self, message: Message) -> bool:
        # A burst of changes needs one reload, not one per change.
        return isinstance(message, DataChanged)


@dataclass
class SessionChanged(Message):
    """The active session changed."""

    session_id: str | None
