"""Conversation turns from Claude Code's JSONL records (for export and the app's viewer).

A transcript line is one record. :func:`turns_of` turns one record into the
turns a reader cares about, in order — a user's prompt, the assistant's text
and thinking, each tool call with its input, each tool result (errors marked),
compaction boundaries and their summaries — and drops the bookkeeping records
(``progress``, ``file-history-snapshot``, ``queue-operation``, hook
attachments, ...). It works one record at a time, so a viewer can page
through a file and parse only the lines it shows; :func:`read_records`
yields ``(line number, record)`` from bytes or lines, skipping what is not a
JSON object.

:func:`conversation` puts a session together: the main thread, and each
subagent thread (sidechain records embedded in the main file before 2.1, or
separate ``agent-*.jsonl`` files) attached to the Task call that spawned it.
:func:`resume_chain` gives the records ``claude --resume`` would continue
from: the last record's ancestors (rewinds leave other branches behind), with
compaction boundaries crossed through their ``logicalParentUuid``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

PROMPT = "prompt"
COMMAND = "command"
META = "meta"
TEXT = "text"
THINKING = "thinking"
TOOL_CALL = "tool-call"
TOOL_RESULT = "tool-result"
IMAGE = "image"
COMPACT = "compact"
COMPACT_SUMMARY = "compact-summary"
SUMMARY = "summary"
SYSTEM = "system"
SKIPPED_SYSTEM = frozenset({"turn_duration", "stop_hook_summary"})
MAX_TEXT = 200_000  # a turn's text beyond this is cut (a 1 MB tool result stays readable)


@dataclass
class Turn:
    """One thing said or done in a conversation, with where it came from."""

    line: int  # 1-based line of its record in its file
    kind: str
    text: str
    uuid: str | None = None
    parent: str | None = None
    timestamp: str | None = None
    sidechain: bool = False
    agent: str | None = None
    tool: str | None = None  # the tool's name (calls; results once linked)
    tool_id: str | None = None
    is_error: bool = False
    input: Any = None  # a tool call's input
    model: str | None = None


@dataclass
class Thread:
    """A subagent's turns, and the Task call that spawned it (None when not found)."""

    agent: str
    turns: list[Turn]
    tool_id: str | None = None
    description: str | None = None


@dataclass
class Conversation:
    """A session's main thread, its subagent threads, and what names it."""

    session: str | None
    turns: list[Turn]
    threads: list[Thread] = field(default_factory=list)
    title: str | None = None
    cwd: str | None = None
    version: str | None = None
    started: str | None = None
    ended: str | None = None

    def thread_for(self, tool_id: str | None) -> list[Thread]:
        """The subagent threads a Task call spawned."""
        return [t for t in self.threads if tool_id is not None and t.tool_id == tool_id]


def read_records(data: bytes | Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for every line that is a JSON object."""
    lines = data.split(b"\n") if isinstance(data, bytes | bytearray) else data
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            yield number, record


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT:,} more characters)"


def _text_of(content: Any) -> str:
    """The text of a tool result's content (a string, or a list of text/image blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") == "image":
                    parts.append("[image]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def turns_of(record: dict[str, Any], line: int) -> list[Turn]:
    """The turns of one record (none for bookkeeping records)."""
    kind = record.get("type")
    base: dict[str, Any] = {
        "line": line, "uuid": _str(record.get("uuid")), "parent": _str(record.get("parentUuid")),
        "timestamp": _str(record.get("timestamp")), "sidechain": record.get("isSidechain") is True,
        "agent": _str(record.get("agentId")),
    }  # fmt: skip
    if kind == "summary":
        return [Turn(kind=SUMMARY, text=_cut(str(record.get("summary") or "")), **base)]
    if kind == "system":
        subtype = record.get("subtype")
        if subtype == "compact_boundary":
            base["parent"] = base["parent"] or _str(record.get("logicalParentUuid"))
            meta = record.get("compactMetadata")
            detail = ""
            if isinstance(meta, dict):
                detail = ", ".join(f"{k} {v}" for k, v in meta.items() if isinstance(v, str | int))
            return [Turn(kind=COMPACT, text=detail or "conversation compacted", **base)]
        content = record.get("content")
        if subtype in SKIPPED_SYSTEM or not isinstance(content, str) or not content.strip():
            return []
        return [
            Turn(kind=SYSTEM, text=_cut(content), is_error=record.get("level") == "error", **base)
        ]
    if kind not in ("user", "assistant"):
        return []
    message = record.get("message")
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if kind == "assistant":
        return _assistant(content, _str(message.get("model")), base)
    return _user(record, content, base)


def _assistant(content: Any, model: str | None, base: dict[str, Any]) -> list[Turn]:
    if model == "<synthetic>":
        return []  # "No response requested.", limit notices: not the model speaking
    if isinstance(content, str):
        return [Turn(kind=TEXT, text=_cut(content), model=model, **base)] if content else []
    out: list[Turn] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and isinstance(block.get("text"), str) and block["text"].strip():
            out.append(Turn(kind=TEXT, text=_cut(block["text"]), model=model, **base))
        elif btype == "thinking" and isinstance(block.get("thinking"), str):
            out.append(Turn(kind=THINKING, text=_cut(block["thinking"]), model=model, **base))
        elif btype == "redacted_thinking":
            out.append(Turn(kind=THINKING, text="(redacted)", model=model, **base))
        elif btype == "tool_use":
            out.append(
                Turn(
                    kind=TOOL_CALL,
                    text=_str(block.get("name")) or "?",
                    tool=_str(block.get("name")),
                    tool_id=_str(block.get("id")),
                    input=block.get("input"),
                    model=model,
                    **base,
                )
            )
    return out


def _user(record: dict[str, Any], content: Any, base: dict[str, Any]) -> list[Turn]:
    if record.get("isCompactSummary"):
        return [Turn(kind=COMPACT_SUMMARY, text=_cut(_text_of(content)), **base)]
    meta = record.get("isMeta") is True
    if isinstance(content, str):
        return [Turn(kind=_prompt_kind(content, meta), text=_cut(content), **base)]
    out: list[Turn] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "tool_result":
            out.append(
                Turn(
                    kind=TOOL_RESULT,
                    text=_cut(_text_of(block.get("content"))),
                    tool_id=_str(block.get("tool_use_id")),
                    is_error=block.get("is_error") is True,
                    **base,
                )
            )
        elif btype == "text" and isinstance(block.get("text"), str):
            out.append(
                Turn(kind=_prompt_kind(block["text"], meta), text=_cut(block["text"]), **base)
            )
        elif btype == "image":
            out.append(Turn(kind=IMAGE, text="[image]", **base))
    return out


def _prompt_kind(text: str, meta: bool) -> str:
    if meta:
        return META
    stripped = text.lstrip()
    if stripped.startswith(("<command-name>", "<local-command-stdout>", "<command-message>")):
        return COMMAND
    return PROMPT


def _agent_links(records: list[tuple[int, dict[str, Any]]]) -> dict[str, str]:
    """Agent id -> the Task call that spawned it (from the tool result's ``agentId``)."""
    links: dict[str, str] = {}
    for _, record in records:
        result = record.get("toolUseResult")
        if not isinstance(result, dict) or not isinstance(result.get("agentId"), str):
            continue
        message = record.get("message")
        blocks = message.get("content") if isinstance(message, dict) else None
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                tool_id = _str(block.get("tool_use_id"))
                if tool_id:
                    links.setdefault(result["agentId"], tool_id)
    return links


def conversation(
    main: bytes | Iterable[bytes], agents: dict[str, bytes] | None = None
) -> Conversation:
    """A session from its main transcript and its subagent files (agent key -> bytes)."""
    records = list(read_records(main))
    conv = Conversation(session=None, turns=[])
    calls: dict[str, Turn] = {}
    embedded: dict[str, list[Turn]] = {}  # sidechain root uuid -> turns (files before 2.1)
    root_of = _sidechain_roots(records)
    for line, record in records:
        conv.session = conv.session or _str(record.get("sessionId"))
        conv.cwd = conv.cwd or _str(record.get("cwd"))
        conv.version = conv.version or _str(record.get("version"))
        stamp = _str(record.get("timestamp"))
        if stamp:
            conv.started = conv.started or stamp
            conv.ended = stamp
        for turn in turns_of(record, line):
            if turn.kind == SUMMARY and conv.title is None:
                conv.title = turn.text.strip()[:200] or None
            if turn.kind == TOOL_CALL and turn.tool_id:
                calls[turn.tool_id] = turn
            if turn.kind == TOOL_RESULT and turn.tool_id in calls:
                turn.tool = calls[turn.tool_id].tool
            if turn.sidechain and turn.agent is None and turn.uuid:
                embedded.setdefault(root_of.get(turn.uuid, turn.uuid), []).append(turn)
            else:
                conv.turns.append(turn)
    if conv.title is None:
        first = next((t for t in conv.turns if t.kind == PROMPT), None)
        conv.title = (
            first.text.strip().splitlines()[0][:120] if first and first.text.strip() else None
        )
    links = _agent_links(records)
    prompts = {
        str(t.input.get("prompt")).strip(): t.tool_id
        for t in calls.values()
        if t.tool in ("Task", "Agent") and isinstance(t.input, dict) and t.input.get("prompt")
    }
    for root, sub in embedded.items():
        first = next((t for t in sub if t.kind == PROMPT), None)
        tool_id = prompts.get(first.text.strip()) if first else None
        conv.threads.append(Thread(root, sub, tool_id, _description(calls, tool_id)))
    for key, data in (agents or {}).items():
        sub = [t for line, r in read_records(data) for t in turns_of(r, line)]
        agent = next((t.agent for t in sub if t.agent), key)
        tool_id = links.get(agent) or links.get(key)
        conv.threads.append(Thread(agent, sub, tool_id, _description(calls, tool_id)))
    return conv


def _sidechain_roots(records: list[tuple[int, dict[str, Any]]]) -> dict[str, str]:
    """Each embedded sidechain record's root (the record its chain of parents starts at)."""
    parent: dict[str, str | None] = {}
    for _, record in records:
        uuid = _str(record.get("uuid"))
        if uuid and record.get("isSidechain") is True and record.get("agentId") is None:
            parent[uuid] = _str(record.get("parentUuid"))
    roots: dict[str, str] = {}
    for uuid in parent:
        path = [uuid]
        on_path = {uuid}
        current = uuid
        while True:
            up = parent.get(current)
            if up is None or up not in parent or up in roots or up in on_path:
                break  # the root, an ancestor already resolved, or a cycle closing
            current = up
            path.append(current)
            on_path.add(current)
        up = parent.get(current)
        root = roots[up] if up is not None and up in roots else current
        for member in path:
            roots[member] = root
    return roots


def _description(calls: dict[str, Turn], tool_id: str | None) -> str | None:
    call = calls.get(tool_id or "")
    if call is None or not isinstance(call.input, dict):
        return None
    return _str(call.input.get("description")) or _str(call.input.get("subagent_type"))


def resume_chain(records: Iterable[dict[str, Any]]) -> list[str]:
    """The uuids ``claude --resume`` continues from, oldest first (the last leaf's ancestors)."""
    parent: dict[str, str | None] = {}
    leaf: str | None = None
    for record in records:
        uuid = _str(record.get("uuid"))
        if not uuid or record.get("isSidechain") is True:
            continue
        parent[uuid] = _str(record.get("parentUuid")) or _str(record.get("logicalParentUuid"))
        if record.get("type") in ("user", "assistant", "system"):
            leaf = uuid
    chain: list[str] = []
    seen: set[str] = set()
    while leaf is not None and leaf not in seen and leaf in parent:
        seen.add(leaf)
        chain.append(leaf)
        leaf = parent[leaf]
    chain.reverse()
    return chain
