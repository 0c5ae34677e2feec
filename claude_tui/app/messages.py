"""Messages the app passes between the service feed and the screens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from claude_tui.core.events import ChangeEvent

if TYPE_CHECKING:
    from claude_tui.app.services import Notice, StatusSnapshot
    from claude_tui.core.transcripts.conversation import Conversation
    from claude_tui.core.transcripts.links import Extracted
    from claude_tui.core.transcripts.reader import Page
    from claude_tui.core.transcripts.search import Hit
    from claude_tui.core.transcripts.structure import Structure, ThreadRef


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
class Exported(Message, bubble=False):
    """An export was written to ``path`` (None: it could not be; ``error`` says why)."""

    path: Path | None
    what: str  # "3 rows", "1 entry"
    error: str = ""


@dataclass
class SessionChanged(Message, bubble=False):
    """The active session changed."""

    session_id: str | None


# -- the app: background services and the first run (workers post these; the app acts) --


@dataclass
class StatusChanged(Message, bubble=False):
    """What the top bar shows changed (the background services made a new snapshot)."""

    snapshot: StatusSnapshot

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot is worth drawing.
        return isinstance(message, StatusChanged)


@dataclass
class NoticePosted(Message, bubble=False):
    """Something for the user to read once (a toast)."""

    notice: Notice


@dataclass
class SessionMissing(Message, bubble=False):
    """The session restored on launch no longer exists."""

    session_id: str


@dataclass
class FirstRunFound(Message, bubble=False):
    """The first run found no sessions: offer to import ``transcripts`` (none: the demo)."""

    transcripts: list[Path]


@dataclass
class DemoLoaded(Message, bubble=False):
    """The demo swarm was loaded (``summary``: what it added; ``session_id``: one to open)."""

    summary: str
    session_id: str | None


# -- the conversation screen (workers post these; the screen draws) -----------


@dataclass
class ConversationOpened(Message, bubble=False):
    """A session's transcript was opened (``error``: why it could not be)."""

    conversation: Conversation | None
    error: str = ""
    origin: str = ""  # archive | file


@dataclass
class TurnsLoaded(Message, bubble=False):
    """A page of a thread's turns (``thread``: "" for the main thread, else its key).

    ``where``: ``append``, ``prepend`` or ``replace``; ``focus``: the line to
    put the cursor on (the nearest turn at or before it).
    """

    thread: str
    page: Page
    where: str
    focus: int | None = None
    focus_part: int = 0
    note: str = ""


@dataclass
class ThreadOpened(Message, bubble=False):
    """The subagent thread of an unfolded call was found (``ref`` None: it is not in the files)."""

    view_key: str  # the key of the turn that spawned it
    ref: ThreadRef | None
    page: Page | None
    focus: int | None = None
    error: str = ""


@dataclass
class StructureReady(Message, bubble=False):
    """The branch and the subagent links were worked out (one pass over the file)."""

    structure: Structure


@dataclass
class SearchDone(Message, bubble=False):
    """The turns that match a search, in order."""

    query: str
    hits: list[Hit]


@dataclass
class ExtractedFound(Message, bubble=False):
    """What the import made from one line."""

    line: int
    thread: str
    items: list[Extracted]
