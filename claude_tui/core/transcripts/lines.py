"""A transcript's bytes, and the offsets of its lines, found only as far as they are needed.

A file is memory-mapped (the OS pages it in from disk as lines are read), so a
100 MB transcript costs no memory up front and its first page is read without
touching the rest. Bytes (an archived copy already decompressed) and binary
file objects are read the same way.
"""

from __future__ import annotations

import bisect
import io
import mmap
import os
import threading
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from claude_tui.core.errors import NotFound

# What a transcript can be read from: a path, its bytes, or a binary file object.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
Buffer = bytes | mmap.mmap
_SCAN_STEP = 1 << 20  # bytes scanned for newlines per step when extending the index


class TranscriptUnreadable(NotFound):
    """A transcript that is gone or cannot be read (the message says which, and where)."""

    title = "Transcript unavailable"


def open_buffer(source: Source) -> tuple[Buffer, str, Callable[[], None]]:
    """(bytes, a label for messages, close) of ``source``.

    Raises:
        TranscriptUnreadable: the file is missing, a directory, or not readable.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "(transcript bytes)", _nothing
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with open(path, "rb") as handle:
                return _map(handle, str(path))
        except FileNotFoundError:
            raise TranscriptUnreadable(f"the transcript is gone: {path}") from None
        except IsADirectoryError:
            raise TranscriptUnreadable(f"not a transcript file but a directory: {path}") from None
        except PermissionError:
            raise TranscriptUnreadable(f"no permission to read the transcript {path}") from None
        except OSError as exc:
            raise TranscriptUnreadable(
                f"cannot read the transcript {path}: {exc.strerror or exc}"
            ) from None
    label = str(getattr(source, "name", "(transcript stream)"))
    try:
        return _map(source, label)
    except OSError as exc:
        raise TranscriptUnreadable(f"cannot read the transcript {label}: {exc}") from None


def _nothing() -> None:
    return None


def _map(handle: BinaryIO, label: str) -> tuple[Buffer, str, Callable[[], None]]:
    """A file object's contents: mapped when it is a real file, else read once."""
    try:
        fileno = handle.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        fileno = -1
    if fileno >= 0 and os.fstat(fileno).st_size > 0:
        try:
            mapped = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            pass  # a pipe or a special file: read it instead
        else:
            return mapped, label, mapped.close
    if hasattr(handle, "seek"):
        try:
            handle.seek(0)
        except (OSError, io.UnsupportedOperation):
            pass
    data = handle.read()
    if not isinstance(data, bytes):
        raise TranscriptUnreadable(f"not a binary transcript stream: {label}")
    return data, label, _nothing


class Lines:
    """The lines of one JSON Lines buffer, indexed lazily by scanning for newlines.

    Line ``i`` (0-based) is the bytes between the ``i``-th newline and the
    next, without the newline. A last line without a final newline is a line.
    Thread-safe: workers of the app page, search and index at the same time.
    """

    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.size = len(data)
        self._starts = array("q", [0] if self.size else [])
        self._scanned = 0  # bytes before this offset have been scanned
        self._lock = threading.Lock()

    @property
    def complete(self) -> bool:
        """Whether every line's offset is known."""
        return self._scanned >= self.size

    def known(self) -> int:
        """How many lines are indexed so far."""
        return len(self._starts)

    def count(self) -> int:
        """How many lines there are (indexes the whole buffer)."""
        self._scan(until_line=None, until_offset=None)
        return len(self._starts)

    def _scan(self, *, until_line: int | None, until_offset: int | None) -> None:
        if self._scanned >= self.size:
            return
        with self._lock:
            data, size, starts = self.data, self.size, self._starts
            pos = self._scanned
            while pos < size:
                if until_line is not None and len(starts) > until_line + 1:
                    break
                if until_offset is not None and pos > until_offset:
                    break
                stop = min(size, pos + _SCAN_STEP)
                found = data.find(b"\n", pos, stop)
                while found >= 0:
                    if found + 1 < size:
                        starts.append(found + 1)
                    found = data.find(b"\n", found + 1, stop)
                pos = stop
            self._scanned = pos

    def span(self, index: int) -> tuple[int, int] | None:
        """(start, end) byte offsets of line ``index``, newline excluded; None past the end."""
        if index < 0:
            return None
        self._scan(until_line=index, until_offset=None)
        starts = self._starts
        if index >= len(starts):
            return None
        start = starts[index]
        if index + 1 < len(starts):
            return start, starts[index + 1] - 1
        end = self.data.find(b"\n", start)
        return start, self.size if end < 0 else end

    def get(self, index: int) -> bytes | None:
        """The bytes of line ``index``; None past the end."""
        span = self.span(index)
        return None if span is None else self.data[span[0] : span[1]]

    def line_of(self, offset: int) -> int:
        """The index of the line holding byte ``offset``."""
        self._scan(until_line=None, until_offset=offset)
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """The offset of ``needle`` at or after ``start`` (before ``end``), or -1."""
        return self.data.find(needle, start, self.size if end is None else end)

    def rfind(self, needle: bytes, end: int) -> int:
        """The offset of the last ``needle`` before ``end``, or -1."""
        return self.data.rfind(needle, 0, end)

    def grow(self, data: Buffer) -> None:
        """Take a longer copy of the same buffer (Claude Code appended lines)."""
        with self._lock:
            if len(data) < self.size:
                raise ValueError("a transcript only grows")
            had_end = self.size
            self.data, self.size = data, len(data)
            if not self._starts and self.size:
                self._starts.append(0)
            elif had_end and data[had_end - 1 : had_end] == b"\n" and self._scanned >= had_end:
                # The old buffer ended with a newline: the next line starts there.
                self._starts.append(had_end)
            self._scanned = min(self._scanned, had_end)
