"""Reading Claude Code transcript lines into typed records, tolerantly.

A transcript is JSON Lines, one record per line, appended while Claude Code
runs. Reading starts at a byte offset and stops before an incomplete last line
(no newline yet: Claude Code is mid-write). A line that is not a JSON object or
whose fields have the wrong types is reported as malformed, with its line
number, and skipped; the rest of the file still reads. Record types this
module does not know are kept as plain records (their type is all anyone
looks at), never an error.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Record types of Claude Code versions 1.0 to 2.1 (others are read as "other").
KNOWN_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "file-history-snapshot",
        "progress",
        "queue-operation",
        "attachment",
    }
)
_MESSAGE_TYPES = ("user", "assistant")


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


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that could not be read, and why."""

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


class _Bad(Exception):
    pass


def parse_ts(value: Any) -> float | None:
    """An ISO-8601 timestamp (``2025-09-03T00:52:31.217Z``) as epoch seconds."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Bad(f"{key} must be a string, not {type(value).__name__}")


def _opt_bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise _Bad(f"{key} must be true or false, not {type(value).__name__}")


def _build(obj: dict[str, Any], line: int) -> Record:
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Bad("no record type" if kind is None else "type must be a string")
    rec = Record(line=line, type=kind, raw=obj)
    rec.uuid = _opt_str(obj, "uuid")
    rec.parent_uuid = _opt_str(obj, "parentUuid")
    rec.session_id = _opt_str(obj, "sessionId")
    rec.agent_id = _opt_str(obj, "agentId")
    rec.subtype = _opt_str(obj, "subtype")
    rec.sidechain = _opt_bool(obj, "isSidechain")
    rec.meta = _opt_bool(obj, "isMeta")
    rec.compact_summary = _opt_bool(obj, "isCompactSummary")
    if "timestamp" in obj:
        stamp = obj["timestamp"]
        if stamp is not None and not isinstance(stamp, str):
            raise _Bad(f"timestamp must be a string, not {type(stamp).__name__}")
        rec.timestamp = parse_ts(stamp)
    if kind in _MESSAGE_TYPES:
        message = obj.get("message")
        if not isinstance(message, dict):
            raise _Bad(f"{kind} record without a message object")
        content = message.get("content")
        if isinstance(content, str):
            rec.content = [{"type": "text", "text": content}]
            rec.text_only = True
        elif isinstance(content, list):
            if not all(isinstance(b, dict) for b in content):
                raise _Bad("message content blocks must be objects")
            rec.content = content
        elif content is not None:
            raise _Bad(f"message content must be text or a list, not {type(content).__name__}")
        if kind == "assistant":
            rec.message_id = _opt_str(message, "id")
            rec.model = _opt_str(message, "model")
            rec.request_id = _opt_str(obj, "requestId")
            usage = message.get("usage")
            if usage is not None and not isinstance(usage, dict):
                raise _Bad(f"message usage must be an object, not {type(usage).__name__}")
            rec.usage = usage
    return rec


def parse_line(data: bytes, path: str, line: int) -> Record | Malformed | None:
    """One line as a record; Malformed when it cannot be read; None when blank."""
    if not data.strip():
        return None
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        return Malformed(path, line, f"invalid JSON ({exc.msg} at column {exc.colno})")
    except ValueError:  # UnicodeDecodeError
        return Malformed(path, line, "not UTF-8 text")
    if not isinstance(obj, dict):
        return Malformed(path, line, f"a JSON {type(obj).__name__}, not an object")
    try:
        return _build(obj, line)
    except _Bad as exc:
        return Malformed(path, line, str(exc))


def read_chunk(
    path: Path, offset: int, first_line: int, *, final: bool, label: str | None = None
) -> Chunk:
    """Read the complete lines of ``path`` after byte ``offset``.

    ``first_line`` is the number of the line at ``offset`` (1 at the start).
    With ``final`` (a one-off import, not a watch), a last line without a
    newline that is a whole JSON object is taken too (a file that merely lacks
    its final newline); one that does not parse is left unconsumed, and the
    caller reports it.
    """
    shown = label or str(path)
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    records: list[Record] = []
    malformed: list[Malformed] = []
    lines = body.split(b"\n")
    lines.pop()  # after the last newline: empty
    number = first_line
    for raw in lines:
        parsed = parse_line(raw, shown, number)
        if isinstance(parsed, Record):
            records.append(parsed)
        elif isinstance(parsed, Malformed):
            malformed.append(parsed)
        number += 1
    consumed, count = end, len(lines)
    if final and tail.strip():
        parsed = parse_line(tail, shown, number)
        if isinstance(parsed, Record):
            records.append(parsed)
            consumed, count, tail = len(data), count + 1, b""
    elif not tail.strip():
        consumed, tail = len(data), b""  # trailing blanks: nothing left to wait for
    return Chunk(records, malformed, consumed, count, tail)


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
