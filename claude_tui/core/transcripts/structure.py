"""The one pass over every line: the branch ``--resume`` follows, and where subagents ran.

Records form a tree through ``parentUuid``. ``claude --resume`` continues the
newest leaf: the last message record in file order, followed back to the
root. A compaction boundary starts a new root (``parentUuid: null``); the
conversation it summarised is still this branch's history (``compacted``),
reached through ``logicalParentUuid``, or, when that record is not in the file,
from the last message before the boundary. Records of the branch's turns that
sit beside the chain are on it too: the other lines of a message split over
several lines (same ``message.id``) and the results of its parallel tool
calls. Any other message is ``off`` the branch (a rewind, an edit, a retried
request), and so is what hangs from one. A parent that is not in the file (a
partial copy) is a gap, not a branch: the chain goes on from the message
written before it.

Subagents are linked to the Task/Agent call that spawned them by the agent id
the call's result names (``toolUseResult.agentId``, the result text, progress
records), a ``.meta.json``'s ``toolUseId``, else by the prompt (a subagent's
first message is the call's prompt). The compaction summariser
(``agent-acompact-*``) belongs to a compaction boundary, not to a call.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.transcripts import turns as t
from claude_tui.core.transcripts.reader import Transcript

LIVE, COMPACTED, OFF = "live", "compacted", "off"
_MESSAGES = ("user", "assistant", "system")


@dataclass
class ThreadRef:
    """A subagent's conversation: embedded in the main file, or a file of its own."""

    key: str  # "sidechain:<root uuid>" or "agent:<agent id>"
    kind: str  # sidechain | file
    agent_id: str | None = None
    lines: list[int] = field(default_factory=list)  # 1-based lines of the main file (sidechain)
    call_id: str | None = None  # the Task/Agent call that spawned it
    call_line: int | None = None
    boundary_line: int | None = None  # for the compaction summariser: its boundary
    title: str = ""
    first_text: str = ""  # an embedded thread's first user text (to match a call's prompt)


@dataclass
class _Call:
    line: int
    prompt: str
    title: str
    agent_id: str | None = None


@dataclass
class Structure:
    """What only a pass over every line can tell."""

    lines: int
    branches: dict[int, str]  # 1-based line -> live | compacted | off
    leaf_line: int | None
    malformed: list[int]
    threads: list[ThreadRef]
    stamps: list[tuple[int, int]]  # (epoch milliseconds, line), sorted
    compactions: list[int]
    gaps: list[int] = field(default_factory=list)  # lines whose parent is not in the file

    def counts(self) -> dict[str, int]:
        """How many lines are live, compacted and off the branch."""
        out = {LIVE: 0, COMPACTED: 0, OFF: 0}
        for status in self.branches.values():
            out[status] += 1
        return out

    def thread_for_call(self, call_id: str) -> ThreadRef | None:
        """The subagent a Task/Agent call ran, if it is in the files."""
        for ref in self.threads:
            if ref.call_id == call_id:
                return ref
        return None

    def thread_for_boundary(self, line: int) -> ThreadRef | None:
        """The compaction summariser's run for the boundary at ``line``."""
        for ref in self.threads:
            if ref.boundary_line == line:
                return ref
        return None

    def unlinked(self) -> list[ThreadRef]:
        """Subagent threads no call or boundary claims (a warmup, a lost parent)."""
        return [r for r in self.threads if r.call_id is None and r.boundary_line is None]

    def line_at(self, epoch: float) -> int | None:
        """The first line stamped at ``epoch`` (to the millisecond), or None."""
        return line_at(self.stamps, epoch)


def stamp_ms(value: Any) -> int | None:
    """An ISO-8601 timestamp as epoch milliseconds."""
    if not isinstance(value, str):
        return None
    try:
        return round(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def line_at(stamps: list[tuple[int, int]], epoch: float) -> int | None:
    """The first line of ``stamps`` ((ms, line), sorted) stamped at ``epoch``, or None."""
    ms = round(epoch * 1000)
    at = bisect.bisect_left(stamps, (ms, 0))
    if at < len(stamps) and stamps[at][0] == ms:
        return stamps[at][1]
    return None


def timestamps(transcript: Transcript) -> list[tuple[int, int]]:
    """(epoch ms, 1-based line) of every stamped record of a file, sorted (reads every line)."""
    found = []
    for index in range(transcript.lines.count()):
        data = transcript.lines.get(index)
        rec = t.parse(data) if data and data.strip() else None
        if isinstance(rec, dict):
            ms = stamp_ms(rec.get("timestamp"))
            if ms is not None:
                found.append((ms, index + 1))
    return sorted(found)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def build(
    transcript: Transcript,
    agent_files: Iterable[str] = (),
    *,
    meta: dict[str, dict[str, Any]] | None = None,
    first_prompt: Callable[[str], str | None] | None = None,
) -> Structure:
    """Read every line of ``transcript`` once and work out its structure.

    ``agent_files``: the agent ids of the session's subagent files; ``meta``
    their ``.meta.json`` by agent id; ``first_prompt(agent_id)``: the first
    user text of an agent file (read only for files no id links).
    """
    lines = transcript.lines
    total = lines.count()
    n = total + 1  # 1-based arrays
    kinds: list[str] = [""] * n
    uuids: list[str | None] = [None] * n
    parents: list[str | None] = [None] * n
    logical: dict[int, str] = {}
    side = [False] * n
    message_ids: list[str | None] = [None] * n
    uses: dict[int, list[str]] = {}
    results: dict[int, list[str]] = {}
    stamps: list[tuple[int, int]] = []
    malformed: list[int] = []
    compactions: list[int] = []
    calls: dict[str, _Call] = {}
    progress_links: dict[str, str] = {}  # agent id -> call id
    side_agent: dict[int, str] = {}
    first_text: dict[int, str] = {}
    uuid_line: dict[str, int] = {}

    for line in range(1, n):
        data = lines.get(line - 1)
        if data is None or not data.strip():
            continue
        rec = t.parse(data)
        if isinstance(rec, str):
            malformed.append(line)
            continue
        kind = rec.get("type")
        kinds[line] = kind if isinstance(kind, str) else ""
        uuid = _str(rec.get("uuid"))
        uuids[line], parents[line] = uuid, _str(rec.get("parentUuid"))
        if uuid is not None:
            uuid_line.setdefault(uuid, line)
        side[line] = rec.get("isSidechain") is True
        ms = stamp_ms(rec.get("timestamp"))
        if ms is not None:
            stamps.append((ms, line))
        if kind == "system" and rec.get("subtype") == "compact_boundary":
            compactions.append(line)
            if _str(rec.get("logicalParentUuid")):
                logical[line] = rec["logicalParentUuid"]
        elif kind == "progress":
            _progress(rec, progress_links)
        agent = _str(rec.get("agentId"))
        if side[line] and agent:
            side_agent[line] = agent
        if kind not in ("user", "assistant"):
            continue
        message = rec.get("message")
        if kind == "assistant" and isinstance(message, dict):
            message_ids[line] = _str(message.get("id"))
        for block in t.blocks_of(rec):
            btype = block.get("type")
            if btype == "tool_use" and _str(block.get("id")):
                uses.setdefault(line, []).append(block["id"])
                data_in = block.get("input")
                if block.get("name") in t.SPAWN_TOOLS and not side[line]:
                    data_in = data_in if isinstance(data_in, dict) else {}
                    title = ": ".join(
                        x for x in (_str(data_in.get("subagent_type")),
                                    _str(data_in.get("description"))) if x
                    )  # fmt: skip
                    calls[block["id"]] = _Call(
                        line, str(data_in.get("prompt") or "").strip(), title
                    )
            elif btype == "tool_result" and _str(block.get("tool_use_id")):
                results.setdefault(line, []).append(block["tool_use_id"])
                call = calls.get(block["tool_use_id"])
                if call is not None and call.agent_id is None:
                    call.agent_id = t.tool_result(rec, block, line).agent_id
            elif btype == "text" and kind == "user" and line not in first_text:
                if isinstance(block.get("text"), str):
                    first_text[line] = block["text"].strip()

    stamps.sort()
    gaps: list[int] = []
    branches = _branches(
        n, kinds, uuids, parents, logical, set(compactions), side, message_ids, uses, results,
        uuid_line, gaps,
    )  # fmt: skip
    leaf = max((ln for ln, s in branches.items() if s == LIVE), default=None)
    files = [ThreadRef(f"agent:{a}", "file", a, title=f"agent {a}") for a in agent_files]
    in_files = {ref.key for ref in files}
    # A subagent both embedded and in a file of its own is read from its file.
    threads = [
        ref
        for ref in _sidechains(n, uuids, parents, side, side_agent, first_text, uuid_line)
        if ref.key not in in_files
    ] + files
    _link(threads, calls, progress_links, meta or {}, first_prompt, compactions)
    return Structure(total, branches, leaf, malformed, threads, stamps, compactions, sorted(gaps))


def _progress(rec: dict[str, Any], links: dict[str, str]) -> None:
    data = rec.get("data")
    parent = _str(rec.get("parentToolUseID"))
    if isinstance(data, dict) and parent:
        agent = _str(data.get("agentId"))
        if agent:
            links.setdefault(agent, parent)


def _branches(
    n: int,
    kinds: list[str],
    uuids: list[str | None],
    parents: list[str | None],
    logical: dict[int, str],
    boundaries: set[int],
    side: list[bool],
    message_ids: list[str | None],
    uses: dict[int, list[str]],
    results: dict[int, list[str]],
    uuid_line: dict[str, int],
    gaps: list[int],
) -> dict[int, str]:
    def is_message(line: int) -> bool:
        return kinds[line] in _MESSAGES and uuids[line] is not None and not side[line]

    leaf = next((ln for ln in range(n - 1, 0, -1) if is_message(ln)), None)
    status: dict[int, str] = {}
    if leaf is None:
        return status
    current: int | None = leaf
    state = LIVE
    while current is not None and current not in status:
        status[current] = state
        parent = parents[current]
        if parent is None and current in boundaries:
            state = COMPACTED
            target = uuid_line.get(logical.get(current, ""))
            if target is None:  # the summarised record is not in the file: the one before
                target = next((ln for ln in range(current - 1, 0, -1) if is_message(ln)), None)
            current = target
            continue
        if parent is not None and parent not in uuid_line:
            # The parent is not in the file (a lost or partial copy): the chain goes on
            # from the message written before, rather than calling the rest a branch.
            gaps.append(current)
            current = next((ln for ln in range(current - 1, 0, -1) if is_message(ln)), None)
            continue
        current = uuid_line.get(parent) if parent is not None else None

    by_message: dict[str, str] = {}
    by_call: dict[str, str] = {}
    for line, state in status.items():
        if message_ids[line]:
            by_message.setdefault(message_ids[line] or "", state)
        for call in uses.get(line, ()):
            by_call.setdefault(call, state)
    for line in range(1, n):
        if line in status or uuids[line] is None or side[line]:
            continue
        found = by_message.get(message_ids[line] or "\x00") or next(
            (by_call[c] for c in results.get(line, ()) if c in by_call), None
        )
        if found is None and kinds[line] not in ("user", "assistant"):
            # System lines and attachments beside the chain share their parent's fate.
            parent_line = uuid_line.get(parents[line] or "\x00")
            found = status.get(parent_line) if parent_line is not None else None
            if found is None:
                continue
        status[line] = found or OFF
        if found is not None:
            for call in uses.get(line, ()):
                by_call.setdefault(call, found)
    return {ln: s for ln, s in status.items() if kinds[ln] in (*_MESSAGES, "attachment")}


def _sidechains(
    n: int,
    uuids: list[str | None],
    parents: list[str | None],
    side: list[bool],
    side_agent: dict[int, str],
    first_text: dict[int, str],
    uuid_line: dict[str, int],
) -> list[ThreadRef]:
    """Sidechain records of the main file grouped into subagent threads."""
    groups: dict[str, ThreadRef] = {}
    key_of_line: dict[int, str] = {}
    for line in range(1, n):
        if not side[line]:
            continue
        agent = side_agent.get(line)
        parent_line = uuid_line.get(parents[line] or "\x00")
        if agent:
            key = f"agent:{agent}"
        elif parent_line is not None and parent_line in key_of_line:
            key = key_of_line[parent_line]
        else:
            key = f"sidechain:{uuids[line] or line}"
        key_of_line[line] = key
        ref = groups.get(key)
        if ref is None:
            ref = groups[key] = ThreadRef(key, "sidechain", agent, title=f"subagent {agent or ''}")
        ref.lines.append(line)
    for ref in groups.values():
        ref.title = ref.title.strip()
        ref.first_text = first_text.get(ref.lines[0], "")
    return list(groups.values())


def _link(
    threads: list[ThreadRef],
    calls: dict[str, _Call],
    progress_links: dict[str, str],
    meta: dict[str, dict[str, Any]],
    first_prompt: Callable[[str], str | None] | None,
    compactions: list[int],
) -> None:
    taken: set[str] = set()
    by_agent = {c.agent_id: cid for cid, c in calls.items() if c.agent_id}

    def claim(ref: ThreadRef, call_id: str | None) -> bool:
        if call_id is None or call_id not in calls or call_id in taken:
            return False
        taken.add(call_id)
        ref.call_id, ref.call_line = call_id, calls[call_id].line
        if calls[call_id].title:
            ref.title = calls[call_id].title
        return True

    boundaries = list(compactions)
    for ref in threads:
        agent = ref.agent_id
        if agent and agent.startswith("acompact"):
            if boundaries:
                ref.boundary_line = boundaries.pop(0)
                ref.title = "compaction summariser"
            continue
        if agent and (
            claim(ref, by_agent.get(agent))
            or claim(ref, progress_links.get(agent))
            or claim(ref, _str((meta.get(agent) or {}).get("toolUseId")))
        ):
            continue
        described = meta.get(agent or "") or {}
        if described.get("description") or described.get("agentType"):
            ref.title = ": ".join(
                str(x) for x in (described.get("agentType"), described.get("description")) if x
            )
    ordered = sorted(calls.items(), key=lambda item: item[1].line)
    for ref in threads:
        if ref.call_id is not None or ref.boundary_line is not None:
            continue
        prompt: str | None = ref.first_text
        if not prompt and ref.kind == "file" and ref.agent_id and first_prompt is not None:
            prompt = first_prompt(ref.agent_id)
        if not prompt:
            continue
        for call_id, call in ordered:
            if call_id not in taken and call.prompt and call.prompt == prompt.strip():
                claim(ref, call_id)
                break
