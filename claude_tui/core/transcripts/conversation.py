"""A session's conversation: its main transcript and its subagents' files, read on demand."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_tui.core.transcripts.lines import Source, TranscriptUnreadable
from claude_tui.core.transcripts.reader import Thread, Transcript
from claude_tui.core.transcripts.structure import (
    Structure,
    ThreadRef,
    build,
    line_at,
    timestamps,
)
from claude_tui.core.transcripts.turns import blocks_of


@dataclass
class TranscriptFiles:
    """Where one session's transcript is read from.

    ``main`` and each agent's source are a path, bytes or a binary file object
    (an archived copy); ``origin`` says which (``archive`` or ``file``).
    """

    main: Source
    label: str
    origin: str = "file"
    session_id: str | None = None
    agents: dict[str, Source] = field(default_factory=dict)  # agent id -> its file
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent id -> .meta.json


@dataclass(frozen=True)
class Location:
    """Where a record is: a line of the main thread, or of a subagent thread."""

    line: int  # the main thread's line to show (the spawning call for a subagent's line)
    thread: ThreadRef | None = None
    thread_line: int | None = None  # the line within the subagent's thread


class Conversation:
    """The conversation of one session, opened without reading it.

    Page the main thread with ``conversation.main.page(...)``; the structure
    (branch, subagent links) is worked out on first use of :meth:`structure`,
    once, and marks every page read after it.
    """

    def __init__(self, files: TranscriptFiles) -> None:
        self.files = files
        self.transcript = Transcript.open(files.main, files.label)
        self.main = Thread(self.transcript, sidechains=False, title=files.label)
        self._agents: dict[str, Transcript] = {}
        self._structure: Structure | None = None
        self._agent_stamps: dict[int, list[tuple[int, int]]] = {}
        self._lock = threading.Lock()

    @property
    def structure_ready(self) -> Structure | None:
        """The structure if it was worked out already (no I/O)."""
        return self._structure

    def structure(self) -> Structure:
        """The branch and subagent links (one pass over every line, the first time)."""
        with self._lock:
            if self._structure is None:
                self._structure = build(
                    self.transcript,
                    sorted(self.files.agents),
                    meta=self.files.meta,
                    first_prompt=self._first_prompt,
                )
                self.main.branches = self._structure.branches
            return self._structure

    def agent(self, agent_id: str) -> Transcript:
        """The transcript of a subagent file (opened on first use).

        Raises:
            TranscriptUnreadable: the file is gone or unreadable.
        """
        found = self._agents.get(agent_id)
        if found is None:
            source = self.files.agents.get(agent_id)
            if source is None:
                raise TranscriptUnreadable(f"no transcript of subagent {agent_id}")
            label = str(source) if isinstance(source, str | Path) else f"agent-{agent_id}.jsonl"
            found = self._agents[agent_id] = Transcript.open(source, label)
        return found

    def thread(self, ref: ThreadRef) -> Thread:
        """A subagent's conversation, to page like the main thread."""
        if ref.kind == "sidechain":
            return Thread(self.transcript, lines=ref.lines, sidechains=True, title=ref.title)
        assert ref.agent_id is not None
        return Thread(self.agent(ref.agent_id), sidechains=True, title=ref.title)

    def _first_prompt(self, agent_id: str) -> str | None:
        try:
            transcript = self.agent(agent_id)
        except TranscriptUnreadable:
            return None
        for index in range(5):
            rec = transcript.record(index)
            if rec is None:
                return None
            if isinstance(rec, dict) and rec.get("type") == "user":
                texts = [b["text"] for b in blocks_of(rec) if isinstance(b.get("text"), str)]
                return "\n\n".join(texts).strip() or None
        return None

    # -- finding records ----------------------------------------------------
    def locate_line(self, line: int) -> Location:
        """Where 1-based ``line`` of the main file shows (an embedded subagent's: at its call)."""
        structure = self.structure()
        for ref in structure.threads:
            if ref.kind == "sidechain" and line in ref.lines:
                return Location(ref.call_line or line, ref, line)
        return Location(line)

    def find_uuid(self, uuid: str) -> Location | None:
        """The record with this uuid, in the main file or a subagent's."""
        line = self.transcript.line_of_uuid(uuid)
        if line is not None:
            return self.locate_line(line)
        return self._in_agents(lambda tr: tr.line_of_uuid(uuid))

    def find_tool_use(self, tool_id: str) -> Location | None:
        """The record holding the tool call ``tool_id``."""
        line = self.transcript.line_of_tool_use(tool_id)
        if line is not None:
            return self.locate_line(line)
        return self._in_agents(lambda tr: tr.line_of_tool_use(tool_id))

    def find_time(self, epoch: float) -> Location | None:
        """The first record stamped at ``epoch`` (to the millisecond), main file first."""
        line = self.structure().line_at(epoch)
        if line is not None:
            return self.locate_line(line)
        return self._in_agents(lambda tr: line_at(self._stamps_of(tr), epoch))

    def _stamps_of(self, transcript: Transcript) -> list[tuple[int, int]]:
        key = id(transcript)
        if key not in self._agent_stamps:
            self._agent_stamps[key] = timestamps(transcript)
        return self._agent_stamps[key]

    def _in_agents(self, find: Any) -> Location | None:
        structure = self.structure()
        for ref in structure.threads:
            if ref.kind != "file" or ref.agent_id is None:
                continue
            try:
                line = find(self.agent(ref.agent_id))
            except TranscriptUnreadable:
                continue
            if line is not None:
                shown = ref.call_line or ref.boundary_line or structure.lines
                return Location(shown, ref, line)
        return None

    def refresh(self) -> bool:
        """Take in what Claude Code appended since (the structure is worked out again)."""
        grew = self.transcript.refresh()
        if grew:
            with self._lock:
                self._structure = None
        return grew

    def close(self) -> None:
        """Let go of every file."""
        self.transcript.close()
        for transcript in self._agents.values():
            transcript.close()
        self._agents.clear()


def read_meta(path: Path) -> dict[str, Any]:
    """A subagent's ``.meta.json`` (``{}`` when missing or unreadable)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
