"""Reading Claude Code transcript lines into typed records, tolerantly.

A transcript is JSON Lines, one record per line, appended while Claude Code
runs. Reading starts at a byte offset and stops before an incomplete last line
(no newline yet: Claude Code is mid-write). A line that is not JSON, or not a
JSON object, or has no record type, is reported as malformed, with its line
number and why, and skipped; the rest of the file still reads. A line holding
several whole records written back to back (two writers racing) reads as all
of them. A field of the wrong type never drops its record: it is coerced
(a numeric timestamp read as epoch seconds or milliseconds) or ignored, and
the record is kept with a note saying so. Record types this module does not
know (each Claude Code release adds some) are kept as plain records, never an
error.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Claude Code's bookkeeping records, with no conversation in them (the app hides them).
BOOKKEEPING_TYPES = frozenset(
    {
        "file-history-snapshot",
        "progress",
        "queue-operation",
        "last-prompt",
        "cost-state",
        "atis-latch",
        "api-request",
        "api-request-shape",
        "api-request-blob",
        "pr-link",
    }
)
# Record types of Claude Code versions 1.0 to 2.1 (others are read as plain records).
KNOWN_TYPES = BOOKKEEPING_TYPES | {"user", "assistant", "system", "summary", "attachment"}
_MESSAGE_TYPES = ("user", "assistant")
_MS_THRESHOLD = 1e11  # a numeric timestamp above this is in milliseconds (year 5138 in seconds)
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class Record:
    """One transcript line, with the fields the importer uses pulled out and checked."""

    line: int
    type: str
    raw: dict[str, Any]
    uuid: str | None = None
    parent_uuid: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    sidechain: bool = False
    meta: bool = False
    compact_summary: bool = False
    timestamp: float | None = None
    subtype: str | None = None
    # user/assistant only
    content: list[dict[str, Any]] = field(default_factory=list)
    text_only: bool = False  # content was a plain string
    message_id: str | None = None
    request_id: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # fields coerced or ignored


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that could not be read (or a field of it that was ignored), and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class Chunk:
    """The complete lines of a file read from an offset."""

    records: list[Record]
    malformed: list[Malformed]
    consumed: int  # bytes consumed (complete lines only)
    lines: int  # complete lines consumed
    tail: bytes  # an incomplete last line left for later (b"" when none)
    coerced: list[Malformed] = field(default_factory=list)  # records kept, a field ignored


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_ts(value: Any) -> float | None:
    """A timestamp as epoch seconds: ISO-8601 (``2025-09-03T00:52:31.217Z``) or a number.

    A number is read as epoch milliseconds when it is too large to be seconds.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        stamp = float(value)
        if stamp != stamp or stamp <= 0:  # NaN or not a time
            return None
        return stamp / 1000.0 if stamp > _MS_THRESHOLD else stamp
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _opt_str(obj: dict[str, Any], key: str, notes: list[str]) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        notes.append(f"{key}: a number, read as text")
        return str(value)
    notes.append(f"{key}: {_kind(value)}, not text (ignored)")
    return None


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0", "")


def _opt_bool(obj: dict[str, Any], key: str, notes: list[str]) -> bool:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        notes.append(f"{key}: text {value!r}, read as true/false")
        return value.strip().lower() in _TRUE
    if isinstance(value, int | float) and value in (0, 1):
        notes.append(f"{key}: a number, read as true/false")
        return bool(value)
    notes.append(f"{key}: {_kind(value)}, not true/false (ignored)")
    return False


def _build(obj: dict[str, Any], line: int) -> Record:
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("no record type" if kind is None else "type must be a string")
    rec = Record(line=line, type=kind, raw=obj)
    notes = rec.notes
    rec.uuid = _opt_str(obj, "uuid", notes)
    rec.parent_uuid = _opt_str(obj, "parentUuid", notes)
    rec.session_id = _opt_str(obj, "sessionId", notes)
    rec.agent_id = _opt_str(obj, "agentId", notes)
    rec.subtype = _opt_str(obj, "subtype", notes)
    rec.sidechain = _opt_bool(obj, "isSidechain", notes)
    rec.meta = _opt_bool(obj, "isMeta", notes)
    rec.compact_summary = _opt_bool(obj, "isCompactSummary", notes)
    stamp = obj.get("timestamp")
    if stamp is not None:
        rec.timestamp = parse_ts(stamp)
        if not isinstance(stamp, str):
            shown = f"{_kind(stamp)} {stamp!r}"[:60]
            notes.append(
                f"timestamp: {shown}, "
                + ("read as epoch time" if rec.timestamp is not None else "ignored")
            )
    if kind in _MESSAGE_TYPES:
        _message(rec, obj.get("message"), kind)
    return rec


def _message(rec: Record, message: Any, kind: str) -> None:
    notes = rec.notes
    if not isinstance(message, dict):
        notes.append(f"message: {_kind(message)}, not an object (ignored)")
        return
    content = message.get("content")
    if isinstance(content, str):
        rec.content = [{"type": "text", "text": content}]
        rec.text_only = True
    elif isinstance(content, list):
        blocks = [b for b in content if isinstance(b, dict)]
        if len(blocks) != len(content):
            notes.append(f"message content: {len(content) - len(blocks)} block(s) not objects "
                         "(ignored)")  # fmt: skip
        rec.content = blocks
    elif content is not None:
        notes.append(f"message content: {_kind(content)}, not text or a list (ignored)")
    if kind == "assistant":
        rec.message_id = _opt_str(message, "id", notes)
        rec.model = _opt_str(message, "model", notes)
        rec.request_id = _opt_str(rec.raw, "requestId", notes)
        usage = message.get("usage")
        if usage is not None and not isinstance(usage, dict):
            notes.append(f"message usage: {_kind(usage)}, not an object (ignored)")
            usage = None
        rec.usage = usage


def _objects(text: str) -> tuple[list[Any], str | None]:
    """Every JSON value of a line written back to back, and why the rest did not read."""
    values: list[Any] = []
    at, end = 0, len(text)
    while at < end:
        while at < end and text[at] in " \t\r\n":
            at += 1
        if at >= end:
            break
        try:
            value, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            return values, f"invalid JSON ({exc.msg} at column {exc.colno})"
        values.append(value)
    return values, None


def parse_line(data: bytes, path: str, line: int) -> tuple[list[Record], Malformed | None]:
    """The records of one line, and a Malformed when (part of) it cannot be read.

    A blank line gives neither. A line of several whole records gives all of them.
    """
    if not data.strip():
        return [], None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], Malformed(path, line, "not UTF-8 text")
    try:
        values: list[Any] = [json.loads(text)]
        why = None
    except json.JSONDecodeError as exc:
        values, why = _objects(text)
        if not values:
            return [], Malformed(path, line, f"invalid JSON ({exc.msg} at column {exc.colno})")
        if why is not None:
            why = f"{len(values)} whole record(s), then {why}"
    records: list[Record] = []
    for value in values:
        if not isinstance(value, dict):
            why = why or f"a JSON {type(value).__name__}, not an object"
            continue
        try:
            records.append(_build(value, line))
        except ValueError as exc:
            why = why or str(exc)
    if len(values) > 1 and records:
        records[0].notes.append(f"{len(values)} records on one line (each read)")
    return records, None if why is None else Malformed(path, line, why)


def _ends_line(path: Path, offset: int) -> bool:
    """Whether the byte before ``offset`` ends a line (or ``offset`` is the start)."""
    if offset <= 0:
        return True
    with open(path, "rb") as fh:
        fh.seek(offset - 1)
        return fh.read(1) in (b"\n", b"")


def read_chunk(
    path: Path, offset: int, first_line: int, *, final: bool, label: str | None = None
) -> Chunk:
    """Read the complete lines of ``path`` after byte ``offset``.

    ``first_line`` is the number of the line at ``offset`` (1 at the start).
    With ``final`` (a one-off import, not a watch), a last line without a
    newline that is a whole JSON object is taken too (a file that merely lacks
    its final newline); one that does not parse is left unconsumed, and the
    caller reports it. A read that starts just after such a line (taken
    without its newline) skips the newline that completes it.
    """
    shown = label or str(path)
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    skip = 0
    if data.startswith(b"\n") and not _ends_line(path, offset):
        skip = 1  # the newline of the line taken last time
    end = data.rfind(b"\n") + 1
    body, tail = data[skip:end] if end > skip else b"", data[max(end, skip) :]
    records: list[Record] = []
    malformed: list[Malformed] = []
    coerced: list[Malformed] = []
    lines = body.split(b"\n")
    lines.pop()  # after the last newline: empty
    number = first_line

    def take(found: list[Record], bad: Malformed | None, number: int) -> None:
        records.extend(found)
        for rec in found:
            coerced.extend(Malformed(shown, number, note) for note in rec.notes)
        if bad is not None:
            malformed.append(bad)

    for raw in lines:
        take(*parse_line(raw, shown, number), number)
        number += 1
    consumed, count = max(end, skip), len(lines)
    if final and tail.strip():
        found, bad = parse_line(tail, shown, number)
        if found and bad is None:
            take(found, bad, number)
            consumed, count, tail = len(data), count + 1, b""
    elif not tail.strip():
        consumed, tail = len(data), b""  # trailing blanks: nothing left to wait for
    return Chunk(records, malformed, consumed, count, tail, coerced)


def text_of(content: list[dict[str, Any]]) -> str:
    """The text blocks of a message joined by blank lines."""
    parts = [b.get("text") for b in content if b.get("type") == "text"]
    return "\n\n".join(p for p in parts if isinstance(p, str))


def result_text(block: dict[str, Any]) -> str:
    """The text of a ``tool_result`` block (its content is text or a list of blocks)."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return text_of([b for b in content if isinstance(b, dict)])
    return ""
