"""Messages the app passes between the service feed and the screens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from claude_tui.core.events import ChangeEvent

if TYPE_CHECKING:
    from claude_tui.app.screens.backups import BackupsView
    from claude_tui.app.screens.memory import Filters
    from claude_tui.app.services import Notice, StatusSnapshot
    from claude_tui.app.sync_info import SyncView
    from claude_tui.core.durability.checkpoints import Checkpoint, RestorePlan, RestoreResult
    from claude_tui.core.durability.manifest import BackupRecord
    from claude_tui.core.durability.restore import Report
    from claude_tui.core.models import Agent, MemoryEntry, Pattern, Session, Task
    from claude_tui.core.sync.conflicts import ConflictRow
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


# -- sessions, agents, patterns, recovery (workers post these; the screen or app draws) --


@dataclass
class SessionsLoaded(Message, bubble=False):
    """The sessions, for the reload numbered ``generation``.

    ``counts`` (per session id) is None in the first message of a reload: the
    counts scan large tables, so a second message brings them after the first paint.
    """

    generation: int
    sessions: list[Session]
    counts: dict[str, dict[str, Any]] | None = None

    def can_replace(self, message: Message) -> bool:
        # A reload burst: only the newest list is worth drawing (never an older reload's).
        return isinstance(message, SessionsLoaded) and message.generation >= self.generation


@dataclass
class SessionDetailLoaded(Message, bubble=False):
    """A session's latest checkpoint (None: none yet) and what recall injected into it."""

    session_id: str
    checkpoint: Checkpoint | None
    injections: list[dict[str, Any]]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionDetailLoaded) and message.session_id == self.session_id


@dataclass
class SessionsWritten(Message, bubble=False):
    """A write to the sessions (create, rename, status, archive, delete) is done."""


@dataclass
class CheckpointTaken(Message, bubble=False):
    """A checkpoint of ``session_id`` was taken (c)."""

    session_id: str
    checkpoint: Checkpoint


@dataclass
class CheckpointsListed(Message, bubble=False):
    """The checkpoints of ``session_id`` to restore from, newest first (R)."""

    session_id: str
    checkpoints: list[Checkpoint]


@dataclass
class RestorePreviewed(Message, bubble=False):
    """What restoring a checkpoint would change (``keeping``: when the new rows are kept)."""

    plan: RestorePlan
    keeping: RestorePlan


@dataclass
class CheckpointRestored(Message, bubble=False):
    """``session_id`` was brought back to ``checkpoint_id``."""

    session_id: str
    checkpoint_id: str
    result: RestoreResult


@dataclass
class TasksLoaded(Message, bubble=False):
    """The load worker read the session's tasks; the screen draws the tree from them."""

    tasks: list[Task]
    session_id: str | None


@dataclass
class AgentsLoaded(Message, bubble=False):
    """The agents of ``session_id`` (None: of all sessions)."""

    agents: list[Agent]
    session_id: str | None

    def can_replace(self, message: Message) -> bool:
        # A reload burst of the same scope; an answer for another scope is dropped by the
        # screen, so it must not take the place of this one.
        return isinstance(message, AgentsLoaded) and message.session_id == self.session_id


@dataclass
class PatternsFound(Message, bubble=False):
    """The patterns the search ``asked`` (query, type) found; ``how`` says what they are."""

    how: str
    results: list[tuple[Pattern, float | None]]
    types: list[str]
    asked: tuple[str, str | None]

    def can_replace(self, message: Message) -> bool:
        # A reload burst of the same search (an older search's answer is dropped by the
        # screen, so it must not take the place of this one).
        return isinstance(message, PatternsFound) and message.asked == self.asked


@dataclass
class RecoveryBackupFound(Message, bubble=False):
    """The recovery app found a verified backup to restore (``text`` says which)."""

    text: str


@dataclass
class RecoveryNoBackup(Message, bubble=False):
    """The recovery app found no verified backup in ``directory`` (``reason``: why)."""

    directory: str
    reason: str


@dataclass
class RecoveryRestoreFailed(Message, bubble=False):
    """The recovery app's restore failed (``error`` says why); the database was not changed."""

    error: str


@dataclass
class RecoveryRestored(Message, bubble=False):
    """The recovery app restored the database (``report``: what the restore did)."""

    report: Report


# -- backups, sync, memory (workers post these; the screen draws) ------------------------


@dataclass
class BackupsLoaded(Message, bubble=False):
    """The manifest, the scheduled jobs and the scheduler's state, read once."""

    view: BackupsView

    def can_replace(self, message: Message) -> bool:
        # The screen polls: only the newest reading is worth drawing.
        return isinstance(message, BackupsLoaded)


@dataclass
class BackupRan(Message, bubble=False):
    """A backup asked for on the backups screen ended (``record`` None: it raised).

    The error itself reaches the user through the worker's failure, as before.
    """

    kind: str
    record: BackupRecord | None


@dataclass
class BackupsVerified(Message, bubble=False):
    """Backups were verified (``backup_id`` None: all of them; ``results`` None: it raised).

    ``results``: each record checked and its problem (None: intact).
    """

    backup_id: str | None
    results: list[tuple[BackupRecord, str | None]] | None


@dataclass
class RestorePlanned(Message, bubble=False):
    """The restore chains were worked out: the latest state's and the selected backup's.

    ``chosen`` None: no other backup was selected, or it cannot be restored
    (``warning`` says why).
    """

    latest: list[BackupRecord]
    chosen: list[BackupRecord] | None
    data_dir: str
    warning: str = ""


@dataclass
class SyncRead(Message, bubble=False):
    """A reading of the sync status, the peers and the conflicts ended (``view`` None: failed).

    One is posted for every reading started, so the screen knows when to start the next.
    """

    view: SyncView | None


@dataclass
class ConflictValueRead(Message, bubble=False):
    """The value a conflict's entry has on this host now (None: absent)."""

    conflict: ConflictRow
    value: str | None


@dataclass
class ConflictResolved(Message, bubble=False):
    """A conflict resolution ended (``row`` None: it raised); ``take``: winner or loser."""

    take: str
    row: ConflictRow | None


@dataclass
class ResyncDone(Message, bubble=False):
    """A resync asked for on the sync screen ended (``changed`` None: it raised)."""

    changed: int | None


@dataclass
class MemoryLoaded(Message, bubble=False):
    """A page of memory entries for ``filters``.

    ``total``: the number of entries matching (None: a search, which has no
    total; -1: still being counted, a :class:`MemoryCounted` follows);
    ``agents``: the session's agent ids, for the agent filter.
    """

    filters: Filters
    entries: list[MemoryEntry]
    total: int | None
    agents: list[str]

    def can_replace(self, message: Message) -> bool:
        # Only the newest page is worth drawing.
        return isinstance(message, MemoryLoaded)


@dataclass
class MemoryCounted(Message, bubble=False):
    """The entries matching ``filters`` were counted (``count``: how many the page shows)."""

    filters: Filters
    total: int
    count: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MemoryCounted)


@dataclass
class MemoryEntryRead(Message, bubble=False):
    """The selected entry, read through the tiers (``gone``: it is deleted or expired)."""

    entry: MemoryEntry
    gone: bool

    def can_replace(self, message: Message) -> bool:
        # The cursor moved on: only the newest selection's detail is worth drawing.
        return isinstance(message, MemoryEntryRead)


@dataclass
class MemoryWritten(Message, bubble=False):
    """An edit or a delete from the memory screen was written (``action``: saved or deleted)."""

    key: str
    action: str
