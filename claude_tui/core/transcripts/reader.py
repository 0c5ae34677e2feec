"""A transcript file read on demand, and views of its lines as a conversation, page by page.

:class:`Transcript` parses a line only when it is asked for (a few hundred
parsed lines are kept) and pairs a tool call with its result by searching the
bytes for the call's id, so a page needs neither an index of every record nor
a parse of the file. :class:`Thread` is a conversation over some of a
transcript's lines: the main thread of a session file (sidechains left out), a
subagent file, or the sidechain records of one subagent embedded in the main
file.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_tui.core.transcripts import turns as t
from claude_tui.core.transcripts.lines import Lines, Source, open_buffer

PAGE = 40  # turns per page
_CACHE_LINES = 512  # parsed lines kept
_VERIFY_LIMIT = 64  # candidate lines checked when searching for an id without its key


@dataclass
class Page:
    """Turns of a thread, and where they start and end (positions in the thread)."""

    turns: list[t.Turn]
    start: int
    end: int
    at_start: bool
    at_end: bool


class Transcript:
    """One JSON Lines transcript, read line by line as it is needed."""

    def __init__(
        self, lines: Lines, label: str, close: Callable[[], None], path: Path | None
    ) -> None:
        self.lines = lines
        self.label = label
        self.path = path
        self._close = close
        self._cache: OrderedDict[int, dict[str, Any] | str] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, source: Source, label: str | None = None) -> Transcript:
        """Open ``source`` (a path, bytes or a binary file object) without reading it.

        Raises:
            TranscriptUnreadable: a missing, unreadable or directory path.
        """
        data, shown, close = open_buffer(source)
        path = Path(source) if isinstance(source, str | os.PathLike) else None
        return cls(Lines(data), label or shown, close, path)

    def close(self) -> None:
        """Let go of the file (its mapping)."""
        with self._lock:
            self._cache.clear()
        self._close()

    def refresh(self) -> bool:
        """Take in lines appended to the file since it was opened. Returns whether it grew."""
        if self.path is None:
            return False
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        if size <= self.lines.size:
            return False
        data, _, close = open_buffer(self.path)
        old_close = self._close
        last = self.lines.known() - 1
        self.lines.grow(data)
        self._close = close
        with self._lock:
            self._cache.pop(last, None)  # the old last line may have been half written
        old_close()
        return True

    # -- records ------------------------------------------------------------
    def record(self, index: int) -> dict[str, Any] | str | None:
        """Line ``index`` (0-based) parsed: an object, why it is malformed, None past the end."""
        with self._lock:
            found = self._cache.get(index)
            if found is not None:
                self._cache.move_to_end(index)
                return found
        data = self.lines.get(index)
        if data is None:
            return None
        rec: dict[str, Any] | str = t.parse(data) if data.strip() else "blank line"
        with self._lock:
            self._cache[index] = rec
            if len(self._cache) > _CACHE_LINES:
                self._cache.popitem(last=False)
        return rec

    def facts(self, line: int) -> t.Facts | None:
        """The linking facts of 1-based ``line`` (None past the end)."""
        rec = self.record(line - 1)
        return None if rec is None else t.facts(rec, line)

    def turns_at(self, index: int, *, quiet: bool = False) -> list[t.Turn]:
        """The turns of line ``index``, tool results folded into their calls.

        A result whose call is earlier in this file is shown with the call, so
        its own line yields nothing; a result with no call here stays a turn.
        Blank lines yield nothing; ``quiet`` records only when asked for.
        """
        rec = self.record(index)
        if rec is None or rec == "blank line":
            return []
        out = []
        start = (self.lines.span(index) or (0, 0))[0]
        if isinstance(rec, str) and rec.startswith("invalid JSON (Extra data"):
            found = t.joined_turns(self.lines.get(index) or b"", index + 1, rec)
        else:
            found = t.turns_of(rec, index + 1)
            if isinstance(rec, str) and self._unfinished(index):
                found[0].note = f"the last line is incomplete, still being written? ({rec})"
        for turn in found:
            if turn.kind == t.QUIET and not quiet:
                continue
            if turn.kind == t.RESULT and turn.tool is not None:
                if turn.tool.id and self._call_before(turn.tool.id, start):
                    continue
            elif turn.kind == t.TOOL and turn.tool is not None and turn.tool.id:
                turn.tool.result = self.find_result(turn.tool.id, index)
            out.append(turn)
        for i, turn in enumerate(out):
            turn.part = i
        return out

    def _unfinished(self, index: int) -> bool:
        """Whether line ``index`` is the last and has no newline yet (Claude Code mid-write)."""
        span = self.lines.span(index)
        data = self.lines.data
        return span is not None and span[1] == self.lines.size and data[-1:] != b"\n"

    def _call_before(self, tool_id: str, offset: int) -> bool:
        needle = f'"id":"{tool_id}"'.encode()
        if self.lines.rfind(needle, offset) >= 0:
            return True
        loose = f'"{tool_id}"'.encode()
        at = self.lines.rfind(loose, offset)
        checked = 0
        while at >= 0 and checked < _VERIFY_LIMIT:
            index = self.lines.line_of(at)
            rec = self.record(index)
            if isinstance(rec, dict) and any(
                tid == tool_id for tid, _ in t.facts(rec, 0).tool_uses
            ):
                return True
            span = self.lines.span(index)
            at = self.lines.rfind(loose, span[0]) if span else -1
            checked += 1
        return False

    def find_result(self, tool_id: str, after: int) -> t.ToolResult | None:
        """The result of call ``tool_id`` in a line after ``after``, or None."""
        span = self.lines.span(after)
        if span is None:
            return None
        for needle in (f'"tool_use_id":"{tool_id}"'.encode(), f'"{tool_id}"'.encode()):
            at = self.lines.find(needle, span[1])
            checked = 0
            while at >= 0 and checked < _VERIFY_LIMIT:
                index = self.lines.line_of(at)
                rec = self.record(index)
                if isinstance(rec, dict):
                    for block in t.blocks_of(rec):
                        if (
                            block.get("type") == "tool_result"
                            and block.get("tool_use_id") == tool_id
                        ):
                            return t.tool_result(rec, block, index + 1)
                found = self.lines.span(index)
                at = self.lines.find(needle, found[1]) if found else -1
                checked += 1
        return None

    def line_of_uuid(self, uuid: str) -> int | None:
        """The 1-based line of the record with this uuid (its own, not a parent's)."""
        for needle in (f'"uuid":"{uuid}"'.encode(), f'"uuid": "{uuid}"'.encode()):
            at = self.lines.find(needle)
            while at >= 0:
                index = self.lines.line_of(at)
                rec = self.record(index)
                if isinstance(rec, dict) and rec.get("uuid") == uuid:
                    return index + 1
                span = self.lines.span(index)
                at = self.lines.find(needle, span[1]) if span else -1
        return None

    def line_of_tool_use(self, tool_id: str) -> int | None:
        """The 1-based line of the record holding the call ``tool_id``."""
        needle = f'"{tool_id}"'.encode()
        at = self.lines.find(needle)
        while at >= 0:
            index = self.lines.line_of(at)
            rec = self.record(index)
            if isinstance(rec, dict) and any(
                tid == tool_id for tid, _ in t.facts(rec, 0).tool_uses
            ):
                return index + 1
            span = self.lines.span(index)
            at = self.lines.find(needle, span[1]) if span else -1
        return None


class Thread:
    """A conversation over lines of one transcript, read a page at a time.

    ``lines``: the 1-based lines it is made of (an embedded subagent), or None
    for the whole file; ``sidechains``: whether records marked ``isSidechain``
    belong to it (a subagent file: yes; a session's main thread: no, they are
    its subagents').
    """

    def __init__(
        self,
        transcript: Transcript,
        *,
        lines: Sequence[int] | None = None,
        sidechains: bool = True,
        title: str = "",
    ) -> None:
        self.transcript = transcript
        self.lines = list(lines) if lines is not None else None
        self.sidechains = sidechains
        self.title = title or transcript.label
        self.branches: dict[int, str] = {}  # 1-based line -> live | compacted | off

    def _index(self, position: int) -> int | None:
        if position < 0:
            return None
        if self.lines is None:
            return position if self.transcript.lines.span(position) is not None else None
        return self.lines[position] - 1 if position < len(self.lines) else None

    def position_of(self, line: int) -> int | None:
        """The position of 1-based ``line`` in this thread (None: not one of its lines)."""
        if self.lines is None:
            return line - 1 if self.transcript.lines.span(line - 1) is not None else None
        at = bisect.bisect_left(self.lines, line)
        return at if at < len(self.lines) and self.lines[at] == line else None

    def turns_at(self, position: int, *, quiet: bool = False) -> list[t.Turn] | None:
        """The turns of the line at ``position`` (None past the end)."""
        index = self._index(position)
        if index is None:
            return None
        if not self.sidechains:
            rec = self.transcript.record(index)
            if isinstance(rec, dict) and rec.get("isSidechain") is True:
                return []
        found = self.transcript.turns_at(index, quiet=quiet)
        for turn in found:
            turn.branch = self.branches.get(turn.line, "")
        return found

    def every_turn(self, *, quiet: bool = False) -> Iterator[t.Turn]:
        """Every turn of the thread in order (an export's read: each line parsed once)."""
        position = 0
        while (found := self.turns_at(position, quiet=quiet)) is not None:
            yield from found
            position += 1

    def page(self, start: int = 0, limit: int = PAGE, *, quiet: bool = False) -> Page:
        """At least ``limit`` turns from ``start`` on (fewer at the end)."""
        out: list[t.Turn] = []
        position = max(0, start)
        while len(out) < limit:
            found = self.turns_at(position, quiet=quiet)
            if found is None:
                return Page(out, start, position, start <= 0, True)
            out.extend(found)
            position += 1
        at_end = self.turns_at_end(position)
        return Page(out, start, position, start <= 0, at_end)

    def turns_at_end(self, position: int) -> bool:
        """Whether nothing is left at or after ``position``."""
        return self._index(position) is None

    def page_around(self, line: int | None, limit: int = PAGE, *, quiet: bool = False) -> Page:
        """A page holding 1-based ``line`` with a few turns before it (from the start: None).

        A line that shows nothing of its own (a result shown with its call, a
        progress tick) is preceded by the turn that shows it.
        """
        position = self.position_of(line) if line else None
        if position is None:
            return self.page(0, limit, quiet=quiet)
        start = self.page_before(position + 1, 3, quiet=quiet).start
        return self.page(start, limit, quiet=quiet)

    def page_before(self, end: int, limit: int = PAGE, *, quiet: bool = False) -> Page:
        """At least ``limit`` turns before position ``end`` (fewer at the start)."""
        chunks: list[list[t.Turn]] = []
        count = 0
        position = end
        while count < limit and position > 0:
            position -= 1
            found = self.turns_at(position, quiet=quiet) or []
            chunks.append(found)
            count += len(found)
        out = [turn for chunk in reversed(chunks) for turn in chunk]
        return Page(out, position, end, position <= 0, self.turns_at_end(end))
