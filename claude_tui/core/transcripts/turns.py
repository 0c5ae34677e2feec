"""One transcript line into the turns a reader sees, tolerantly.

A record may stand for several turns (an assistant message with thinking,
text and two tool calls) or for none a reader needs (progress ticks, file
snapshots, API request shapes: ``quiet`` records, shown only on request).
Nothing here rejects a record for a field of the wrong type: what cannot be
read is shown as it is, marked (``malformed``, ``other``), never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.importers.naming import input_summary
from claude_tui.core.importers.records import BOOKKEEPING_TYPES
from claude_tui.core.importers.transcript import (
    AGENT_ID_TEXT,
    COMMAND_ARGS,
    COMMAND_NAME,
    NOT_PROMPTS,
    SPAWN_TOOLS,
)

PROMPT = "prompt"  # what the user typed (or a slash command)
TEXT = "text"  # the assistant's words
THINKING = "thinking"
TOOL = "tool"  # a tool call, with its result when found
RESULT = "result"  # a tool result whose call is not in this file
ERROR = "error"  # an API error, a failed request, an error-level system record
COMPACTION = "compaction"  # a compaction boundary
SUMMARY = "summary"  # the summary that replaced the conversation before a boundary
META = "meta"  # expansions, command output, hook summaries, attachments, interruptions
TITLE = "title"  # a session title (``summary`` record)
QUIET = "quiet"  # progress, snapshots, request shapes, cost state: hidden unless asked for
OTHER = "other"  # a record type this reader does not know
MALFORMED = "malformed"  # a line that is not a JSON object
QUIET_TYPES = BOOKKEEPING_TYPES  # progress, snapshots, request shapes, cost state


@dataclass(slots=True)
class ToolResult:
    """What a tool call gave back."""

    text: str
    is_error: bool
    line: int  # 1-based line of the record holding it
    uuid: str | None = None
    agent_id: str | None = None  # the subagent a Task call ran (from the result)


@dataclass(slots=True)
class ToolCall:
    """One ``tool_use`` block."""

    id: str
    name: str
    input: Any
    result: ToolResult | None = None

    @property
    def summary(self) -> str:
        """The input in one short line (its command, path or query)."""
        return input_summary(self.name, self.input)

    @property
    def spawns(self) -> bool:
        """Whether the call ran a subagent (a Task or Agent call)."""
        return self.name in SPAWN_TOOLS


@dataclass(slots=True)
class Turn:
    """One thing a reader sees, and the line it came from."""

    line: int  # 1-based line number in its file
    part: int  # which turn of that line (0, 1, ...)
    kind: str
    text: str = ""
    role: str = ""  # user | assistant | system | the record type
    uuid: str | None = None
    timestamp: str | None = None
    tool: ToolCall | None = None
    note: str = ""  # a subtype, an error code, why a line is malformed
    branch: str = ""  # live | compacted | off | "" (not on any chain: not a message)

    @property
    def key(self) -> str:
        """A stable id of this turn within its file."""
        return f"{self.line}.{self.part}"

    @property
    def is_error(self) -> bool:
        """An error turn, or a tool call whose result is an error."""
        if self.kind == ERROR:
            return True
        return self.tool is not None and self.tool.result is not None and self.tool.result.is_error

    def search_text(self) -> str:
        """Everything of this turn a text search looks at."""
        parts = [self.text]
        if self.tool is not None:
            parts += [self.tool.name, dump(self.tool.input)]
            if self.tool.result is not None:
                parts.append(self.tool.result.text)
        return "\n".join(parts)


@dataclass(slots=True)
class Facts:
    """What one record is, for linking it to rows (no text)."""

    line: int
    type: str
    uuid: str | None = None
    timestamp: str | None = None
    tool_uses: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    tool_results: list[str] = field(default_factory=list)  # tool_use ids


def dump(value: Any) -> str:
    """A value as text: a string as it is, else indented JSON (else its repr)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=2)
    except (TypeError, ValueError):
        return repr(value)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse(data: bytes) -> dict[str, Any] | str:
    """A line as a JSON object, or why it is not one."""
    try:
        # Decoded first: json.loads would guess UTF-16 or -32 from the first bytes.
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return "JSON nested too deeply"
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    return obj


def blocks_of(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The content blocks of a user or assistant record (text content as one text block)."""
    message = rec.get("message")
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def result_text(block: dict[str, Any]) -> str:
    """The text of a ``tool_result`` block (text, or a list of text and image blocks)."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict):
                if isinstance(item.get("text"), str):
                    parts.append(item["text"])
                elif item.get("type") == "image":
                    parts.append("[image]")
        return "\n\n".join(parts)
    return "" if content is None else dump(content)


def tool_result(rec: dict[str, Any], block: dict[str, Any], line: int) -> ToolResult:
    """A ``tool_result`` block of record ``rec`` as a result."""
    text = result_text(block)
    extra = rec.get("toolUseResult")
    agent_id = _s(extra.get("agentId")) if isinstance(extra, dict) else None
    if agent_id is None:
        found = AGENT_ID_TEXT.search(text)
        agent_id = found.group(1) if found else None
    return ToolResult(
        text=text,
        is_error=block.get("is_error") is True,
        line=line,
        uuid=_s(rec.get("uuid")),
        agent_id=agent_id,
    )


def facts(rec: dict[str, Any] | str, line: int) -> Facts:
    """The linking facts of a parsed line (a malformed line has none)."""
    if isinstance(rec, str):
        return Facts(line, "malformed")
    found = Facts(line, str(rec.get("type")), _s(rec.get("uuid")), _s(rec.get("timestamp")))
    for block in blocks_of(rec):
        kind = block.get("type")
        if kind == "tool_use" and isinstance(block.get("id"), str):
            found.tool_uses.append((block["id"], str(block.get("name") or "")))
        elif kind == "tool_result" and isinstance(block.get("tool_use_id"), str):
            found.tool_results.append(block["tool_use_id"])
    return found


def _user_text(text: str) -> tuple[str, str]:
    """(kind, text) of a user's text block: a prompt, or something Claude Code injected."""
    stripped = text.strip()
    if stripped.startswith(NOT_PROMPTS):
        return META, stripped
    command = COMMAND_NAME.search(stripped)
    if command:
        args = COMMAND_ARGS.search(stripped)
        return PROMPT, f"{command.group(1).strip()} {args.group(1).strip() if args else ''}".strip()
    return PROMPT, stripped


def turns_of(rec: dict[str, Any] | str, line: int) -> list[Turn]:
    """The turns of one parsed line; tool results come back as ``RESULT`` turns.

    (The reader folds a result into its call when the call is in the same
    file; one it cannot find stays a turn of its own.)
    """
    if isinstance(rec, str):
        return [Turn(line, 0, MALFORMED, note=rec)]
    kind = rec.get("type")
    uuid, stamp = _s(rec.get("uuid")), _s(rec.get("timestamp"))
    if not isinstance(kind, str) or not kind:
        return [Turn(line, 0, MALFORMED, note="no record type", text=_preview(rec))]

    def turn(kind_: str, text: str = "", **extra: Any) -> Turn:
        return Turn(line, 0, kind_, text, extra.pop("role", kind), uuid, stamp, **extra)

    out: list[Turn]
    if kind == "user":
        out = _user(rec, line, turn)
    elif kind == "assistant":
        out = _assistant(rec, turn)
    elif kind == "system":
        out = [_system(rec, turn)]
    elif kind == "summary":
        out = [turn(TITLE, str(rec.get("summary") or ""))]
    elif kind == "attachment":
        out = [_attachment(rec, turn)]
    elif kind in QUIET_TYPES:
        out = [turn(QUIET, note=_quiet_note(rec))]
    else:
        out = [turn(OTHER, _preview(rec), note=f"unknown record type {kind!r}")]
    for i, t in enumerate(out):
        t.part = i
    return out


def joined_turns(data: bytes, line: int, reason: str) -> list[Turn]:
    """A malformed line, and the turns of the records it holds when they were only joined.

    (Two records written with no newline between them, seen in merged copies.)
    """
    marker = Turn(line, 0, MALFORMED, note=reason)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [marker]
    decoder = json.JSONDecoder()
    pieces: list[dict[str, Any]] = []
    at = 0
    while at < len(text):
        try:
            obj, end = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            return [marker]
        if not isinstance(obj, dict):
            return [marker]
        pieces.append(obj)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    if len(pieces) < 2:
        return [marker]
    marker.note = f"{len(pieces)} records joined on one line (no newline between them)"
    out = [marker]
    for piece in pieces:
        out += turns_of(piece, line)
    for i, turn in enumerate(out):
        turn.part = i
    return out


def _preview(rec: dict[str, Any]) -> str:
    text = json.dumps(rec, ensure_ascii=False)
    return text if len(text) <= 2000 else text[:2000] + "…"


def _user(rec: dict[str, Any], line: int, turn: Any) -> list[Turn]:
    blocks = blocks_of(rec)
    if rec.get("isCompactSummary") is True:
        text = "\n\n".join(b["text"] for b in blocks if isinstance(b.get("text"), str))
        return [turn(SUMMARY, text.strip())]
    meta = rec.get("isMeta") is True
    out: list[Turn] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            result = tool_result(rec, block, line)
            call = ToolCall(str(block.get("tool_use_id") or ""), "", None, result)
            out.append(turn(RESULT, result.text, tool=call))
        elif kind == "text" and isinstance(block.get("text"), str):
            what, text = _user_text(block["text"])
            if text:
                out.append(turn(META if meta else what, text))
        elif kind in ("image", "document"):
            out.append(turn(META if meta else PROMPT, f"[{kind}]"))
    if not out and not blocks and not isinstance(rec.get("message"), dict):
        out.append(turn(OTHER, _preview(rec), note="user record without a message"))
    return out


def _assistant(rec: dict[str, Any], turn: Any) -> list[Turn]:
    blocks = blocks_of(rec)
    message = rec.get("message") if isinstance(rec.get("message"), dict) else {}
    model = _s(message.get("model")) if isinstance(message, dict) else None
    text = "\n\n".join(b["text"] for b in blocks if isinstance(b.get("text"), str)).strip()
    error = rec.get("error")
    if rec.get("isApiErrorMessage") is True or (isinstance(error, str) and error):
        return [turn(ERROR, text or str(error), note=str(error or "API error"))]
    if model == "<synthetic>":
        return [turn(META, text, note="written by Claude Code, not the model")]
    out: list[Turn] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            if block["text"].strip():
                out.append(turn(TEXT, block["text"].strip()))
        elif kind == "thinking":
            out.append(turn(THINKING, str(block.get("thinking") or "").strip()))
        elif kind == "redacted_thinking":
            out.append(turn(THINKING, "", note="redacted"))
        elif kind in ("tool_use", "server_tool_use"):
            call = ToolCall(str(block.get("id") or ""), str(block.get("name") or "?"),
                            block.get("input"))  # fmt: skip
            out.append(turn(TOOL, tool=call))
        elif isinstance(kind, str) and kind.endswith("_tool_result"):
            out.append(turn(META, dump(block.get("content")), note=kind))
    if not out and not isinstance(rec.get("message"), dict):
        out.append(turn(OTHER, _preview(rec), note="assistant record without a message"))
    return out


def _system(rec: dict[str, Any], turn: Any) -> Turn:
    subtype = _s(rec.get("subtype")) or ""
    content = rec.get("content")
    text = content if isinstance(content, str) else ("" if content is None else dump(content))
    if subtype == "compact_boundary":
        meta = rec.get("compactMetadata")
        meta = meta if isinstance(meta, dict) else {}
        trigger = _s(meta.get("trigger")) or "?"
        tokens = meta.get("preTokens")
        note = f"{trigger}, {tokens:,} tokens before" if isinstance(tokens, int) else trigger
        return turn(COMPACTION, text, note=note)
    if subtype == "api_error" or rec.get("level") == "error":
        error = rec.get("error")
        detail = text or (dump(error) if error is not None else "")
        return turn(ERROR, detail, note=subtype or "error")
    if subtype == "turn_duration" and isinstance(rec.get("durationMs"), int | float):
        text = text or f"turn took {rec['durationMs'] / 1000:.1f} s"
    elif subtype == "stop_hook_summary":
        count = rec.get("hookCount")
        text = text or (f"{count} stop hook(s) ran" if isinstance(count, int) else "stop hooks ran")
    return turn(META, text, note=subtype)


def _attachment(rec: dict[str, Any], turn: Any) -> Turn:
    attachment = rec.get("attachment")
    kind = _s(attachment.get("type")) if isinstance(attachment, dict) else None
    rendered = rec.get("rendered")
    text = ""
    if isinstance(rendered, list):
        text = "\n".join(
            r["content"]
            for r in rendered
            if isinstance(r, dict) and isinstance(r.get("content"), str)
        )
    elif isinstance(attachment, dict):
        for name in ("content", "text", "stdout", "stderr"):
            if isinstance(attachment.get(name), str):
                text = attachment[name]
                break
    if kind and "error" in kind:
        return turn(ERROR, text, note=f"attachment {kind}")
    return turn(META, text, note=f"attachment {kind or '?'}")


def _quiet_note(rec: dict[str, Any]) -> str:
    data = rec.get("data")
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        return f"{rec.get('type')} {data['type']}"
    return str(rec.get("type"))
