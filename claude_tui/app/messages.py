"""Messages the app passes between the service feed and the screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from claude_tui.core.events import ChangeEvent


@dataclass
class DataChanged(Message, bubble=False):
    """Data changed (in this process or another); screens reload what they show.

    Not bubbling: the app forwards it to the active screen, which must not send
    it back up to the app.
    """

    events: list[ChangeEvent]

    def can_replace(self, message: Message) -> bool:
        # A burst of changes needs one reload, not one per change.
        return isinstance(message, DataChanged)


@dataclass
class SessionChanged(Message, bubble=False):
    """The active session changed."""

    session_id: str | None
