"""Where a session's transcript is read from: the archive when it keeps one, else the files.

The one place that answers it (the app's conversation screen and anything
else that shows a conversation call :func:`transcript_files`). The files on
disk come from the import ledger (every file the importer read for the
session) and from what the hooks recorded (``transcript_path`` in the
session's metadata); subagent files are also looked for where Claude Code puts
them, beside the main file or under ``<session>/subagents/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import NotFound, SecretUnavailable
from claude_tui.core.transcripts.conversation import TranscriptFiles, read_meta
from claude_tui.core.transcripts.lines import TranscriptUnreadable

if TYPE_CHECKING:
    from claude_tui.core.archive.store import TranscriptArchive
    from claude_tui.core.coordinator import MemoryCoordinator


def is_agent_file(path: Path) -> bool:
    """Whether a transcript file is a subagent's (by its name and place)."""
    return path.name.startswith("agent-") or path.parent.name == "subagents"


def agent_id_of(path: Path) -> str:
    """The agent id in a subagent file's name (``agent-a2898e3.jsonl`` -> ``a2898e3``)."""
    return path.stem.removeprefix("agent-")


def transcript_files(coordinator: MemoryCoordinator, session_id: str) -> TranscriptFiles:
    """The transcript of ``session_id``: its archived copy if the archive has it, else its files.

    Raises:
        NotFound: no such session, or it has no transcript (not from Claude Code).
        TranscriptUnreadable: it had one, but the file is gone and no archive holds it.
    """
    try:
        session = coordinator.sessions.get(session_id, reveal=True)
    except SecretUnavailable:
        session = coordinator.sessions.get(session_id)
    metadata = session.metadata if isinstance(session.metadata, dict) else {}
    claude_id = metadata.get("claude_session_id")
    archived = _from_archive(coordinator, session_id, claude_id)
    if archived is not None:
        return archived
    candidates = _ledger_paths(coordinator, session_id)
    for name in ("transcript_path", "agent_transcript_path"):
        if isinstance(metadata.get(name), str) and metadata[name]:
            candidates.append(Path(metadata[name]))
    if isinstance(metadata.get("files"), list):
        candidates += [Path(p) for p in metadata["files"] if isinstance(p, str) and p]
    mains = [p for p in dict.fromkeys(candidates) if not is_agent_file(p)]
    if not mains:
        raise NotFound(
            f"session {session_id} has no transcript: it was neither imported from Claude Code "
            "nor recorded by its hooks"
        )
    # The file named after the Claude session first, then the others as the ledger has them.
    mains.sort(key=lambda p: (p.stem != claude_id, not p.is_file()))
    main = mains[0]
    if main.is_dir():
        raise TranscriptUnreadable(
            f"the transcript of session {session_id} is not a file: {main} is a directory"
        )
    if not main.is_file():
        raise TranscriptUnreadable(
            f"the transcript of session {session_id} is gone: {main} (Claude Code deletes "
            "transcripts after cleanupPeriodDays; none is archived)"
        )
    agents: dict[str, Any] = {}
    meta: dict[str, dict[str, Any]] = {}
    for path in [*candidates, *_beside(main)]:
        if is_agent_file(path) and path.is_file() and path.suffix == ".jsonl":
            agent = agent_id_of(path)
            agents.setdefault(agent, path)
            found = read_meta(path.with_suffix(".meta.json"))
            if found:
                meta.setdefault(agent, found)
    return TranscriptFiles(main, str(main), "file", session_id, agents, meta)


def _ledger_paths(coordinator: MemoryCoordinator, session_id: str) -> list[Path]:
    from claude_tui.core.importers.state import marks_for

    return [Path(path) for path in sorted(marks_for(coordinator.store, session_id))]


def _beside(main: Path) -> list[Path]:
    """Subagent files where Claude Code writes them for ``main``."""
    found = sorted((main.parent / main.stem / "subagents").glob("agent-*.jsonl"))
    stem = main.stem
    for path in sorted(main.parent.glob("agent-*.jsonl")):
        # Older versions put every session's agents in the project folder: keep this one's.
        try:
            with open(path, "rb") as handle:
                head = handle.read(4096)
        except OSError:
            continue
        if stem.encode() in head:
            found.append(path)
    return found


def _from_archive(
    coordinator: MemoryCoordinator, session_id: str, claude_id: Any
) -> TranscriptFiles | None:
    """The archived copy of the session (None when the archive does not hold it).

    A file on disk at the archived path that is longer than the archived copy
    is newer (Claude Code appended since the archive took it): then the file is
    read instead. A damaged archived copy is skipped for the file, if any.
    """
    if not isinstance(claude_id, str) or not claude_id:
        return None
    from claude_tui.core.archive.codec import ChunkDamaged
    from claude_tui.core.archive.store import TranscriptArchive

    try:
        return archived_transcript(
            TranscriptArchive(coordinator), claude_id, session_id, prefer_disk=True
        )
    except ChunkDamaged:
        return None


def archived_transcript(
    archive: TranscriptArchive,
    claude_id: str,
    session_id: str | None = None,
    *,
    prefer_disk: bool = False,
) -> TranscriptFiles | None:
    """The archive's newest copy of a Claude Code session's files, to read as a conversation.

    The main transcript is the one named after the session (else the
    longest); subagent files and their ``.meta.json`` come with it (a damaged
    one is left out). None when the archive holds no main transcript of the
    session, or, with ``prefer_disk``, when the file at the archived path is
    longer than the copy (Claude Code appended since).

    Raises:
        ChunkDamaged: the main transcript's archived copy is damaged.
    """
    from claude_tui.core.archive import layout
    from claude_tui.core.archive.codec import ChunkDamaged

    files = [f for f in archive.session_files(claude_id) if f.latest is not None]
    mains = [f for f in files if f.role == layout.MAIN]
    if not mains:
        return None
    mains.sort(key=lambda f: (Path(f.rel).stem != claude_id, -(f.latest.size if f.latest else 0)))
    main = mains[0]
    assert main.latest is not None
    if prefer_disk and _newer_on_disk(Path(main.path), main.latest.size):
        return None
    data = archive.read_version(main.latest)
    agents: dict[str, Any] = {}
    meta: dict[str, dict[str, Any]] = {}
    for found in files:
        if found.latest is None or found.role not in (
            layout.AGENT,
            layout.SUBAGENT,
            layout.AGENT_META,
        ):
            continue
        name = Path(found.rel).name
        try:
            body = archive.read_version(found.latest)
        except ChunkDamaged:
            continue
        if found.role == layout.AGENT_META:
            try:
                parsed = json.loads(body)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                meta[name.removesuffix(".meta.json").removeprefix("agent-")] = parsed
        elif name.endswith(".jsonl"):
            agents.setdefault(agent_id_of(Path(name)), body)
    return TranscriptFiles(data, main.path, "archive", session_id, agents, meta)


def _newer_on_disk(path: Path, archived_size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size > archived_size
    except OSError:
        return False
